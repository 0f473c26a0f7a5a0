package llava.core.autograd;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import llava.core.Tensor;

/**
 * One recorded op in the autograd graph: it knows where the gradient of each of its inputs goes
 * ({@link #next}) and how to compute those gradients from the gradient of its output.
 *
 * <p>Nodes are reference counted: each tensor whose grad_fn is this node and each consumer node
 * holds one reference. When the count reaches zero the node releases its saved tensors and its
 * references to the next nodes, so a graph is freed as soon as the tensors that reach it are
 * closed (by a {@link llava.core.Scope} or by hand), whether or not backward ran.
 */
public abstract class Node {
    private final String name;
    final Node[] next;
    private final boolean[] needsGrad;
    final int[][] inputShapes;
    private int refs;
    private boolean released;
    private List<UnaryOperator<Tensor>> hooks;

    protected Node(String name, Tensor[] inputs) {
        this.name = name;
        this.next = new Node[inputs.length];
        this.needsGrad = new boolean[inputs.length];
        this.inputShapes = new int[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            Tensor t = inputs[i];
            if (t == null) continue;
            inputShapes[i] = t.shape();
            if (t.requiresGrad()) {
                Node n = t.isLeaf() ? t.gradAccumulator() : t.gradFn();
                next[i] = n;
                needsGrad[i] = true;
                n.retain();
            }
        }
    }

    /** The op's name, as grad_fn prints it (e.g. "MulBackward"). */
    public String name() { return name; }

    public int numInputs() { return next.length; }

    /** Whether input i needs a gradient (a backward formula may skip the others). */
    public boolean needsInputGrad(int i) { return needsGrad[i]; }

    /** Gradients for each input given the gradient of the output; null where not needed. */
    protected abstract Tensor[] apply(Tensor gradOutput);

    /** Frees tensors saved for backward. Called once, after backward or when the node dies. */
    protected void releaseSaved() {}

    public final boolean isReleased() { return released; }

    /** Registers a hook called with this node's output gradient before {@link #apply}; it may
     *  return a replacement gradient or its input. */
    public synchronized void addHook(UnaryOperator<Tensor> hook) {
        if (hooks == null) hooks = new ArrayList<>();
        hooks.add(hook);
    }

    List<UnaryOperator<Tensor>> hooks() { return hooks; }

    public synchronized void retain() {
        refs++;
    }

    public synchronized void release() {
        if (--refs == 0) destroy();
    }

    final void markBackwardDone() {
        if (!released) {
            released = true;
            releaseSaved();
        }
    }

    private void destroy() {
        markBackwardDone();
        for (int i = 0; i < next.length; i++) {
            if (next[i] != null) {
                Node n = next[i];
                next[i] = null;
                n.release();
            }
        }
    }

    @Override
    public String toString() { return "<" + name + ">"; }
}
