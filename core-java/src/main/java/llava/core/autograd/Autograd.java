package llava.core.autograd;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import llava.core.Scope;
import llava.core.Tensor;

/**
 * Recording ops and running backward. Every differentiable op calls {@link #record} with its
 * backward formula right after computing its forward; {@link #backward} walks the recorded graph
 * from a tensor in reverse topological order.
 */
public final class Autograd {
    private Autograd() {}

    /** True when grad mode is on and some input requires grad. */
    public static boolean needsRecording(Tensor... inputs) {
        if (!GradMode.isEnabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    /**
     * Makes {@code out} the result of a differentiable op: if any input requires grad (and grad
     * mode is on), attaches a node that computes input gradients with {@code fn}, saving
     * {@code toSave} for it. Returns out.
     */
    public static Tensor record(String name, Tensor out, Tensor[] inputs, Tensor[] toSave, BackwardFn fn) {
        if (needsRecording(inputs)) {
            out.attachGradFn(new FnNode(name, inputs, toSave, fn));
        }
        return out;
    }

    /** Shorthand of {@link #record} with no saved tensors. */
    public static Tensor record(String name, Tensor out, Tensor[] inputs, BackwardFn fn) {
        return record(name, out, inputs, null, fn);
    }

    /**
     * Accumulates d(root)/d(leaf) into the .grad of every leaf that requires grad. grad is the
     * gradient of root (null means 1 for a one-element root). Without retainGraph the saved
     * tensors of the graph are freed as backward passes them.
     */
    public static void backward(Tensor root, Tensor grad, boolean retainGraph) {
        Node start = startNode(root);
        Tensor g = initialGrad(root, grad);
        run(start, g, retainGraph, null);
    }

    /**
     * Gradients of root with respect to {@code inputs} (which require grad), returned instead of
     * accumulated into .grad (like torch.autograd.grad). Inputs that root does not depend on get
     * a zero gradient.
     */
    public static Tensor[] grad(Tensor root, Tensor[] inputs, Tensor grad, boolean retainGraph) {
        Node start = startNode(root);
        Map<Node, Tensor> capture = new IdentityHashMap<>();
        Node[] targets = new Node[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            if (!inputs[i].requiresGrad()) {
                throw new IllegalArgumentException("autograd.grad: input " + i + " does not require grad");
            }
            targets[i] = inputs[i].isLeaf() ? inputs[i].gradAccumulator() : inputs[i].gradFn();
            capture.put(targets[i], null);
        }
        run(start, initialGrad(root, grad), retainGraph, capture);
        Tensor[] out = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            Tensor c = capture.get(targets[i]);
            out[i] = c != null ? c.alias() : Tensor.zeros(inputs[i].dtype(), inputs[i].device(), inputs[i].shape());
        }
        for (Tensor c : capture.values()) if (c != null) c.close();
        return out;
    }

    private static Node startNode(Tensor root) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: the tensor does not require grad and has no grad_fn");
        }
        return root.isLeaf() ? root.gradAccumulator() : root.gradFn();
    }

    private static Tensor initialGrad(Tensor root, Tensor grad) {
        if (grad == null) {
            if (root.numel() != 1) {
                throw new IllegalArgumentException("backward: grad can be implicitly created only for one-element outputs, got shape "
                    + Arrays.toString(root.shape()));
            }
            return Scope.detach(Tensor.onesLike(root));
        }
        if (!Arrays.equals(grad.shape(), root.shape())) {
            throw new IllegalArgumentException("backward: grad of shape " + Arrays.toString(grad.shape())
                + " does not match the tensor's shape " + Arrays.toString(root.shape()));
        }
        return grad.alias();
    }

    private static void run(Node root, Tensor rootGrad, boolean retain, Map<Node, Tensor> capture) {
        // 1. count, for every reachable node, how many edges lead into it
        IdentityHashMap<Node, int[]> deps = new IdentityHashMap<>();
        ArrayDeque<Node> stack = new ArrayDeque<>();
        deps.put(root, new int[] {0});
        stack.push(root);
        while (!stack.isEmpty()) {
            Node n = stack.pop();
            for (Node m : n.next) {
                if (m == null) continue;
                int[] d = deps.get(m);
                if (d == null) {
                    deps.put(m, new int[] {1});
                    stack.push(m);
                } else {
                    d[0]++;
                }
            }
        }
        // 2. run nodes once all their consumers delivered gradients
        IdentityHashMap<Node, Tensor> buffers = new IdentityHashMap<>();
        buffers.put(root, rootGrad);
        ArrayDeque<Node> ready = new ArrayDeque<>();
        ready.push(root);
        try (GradMode ng = GradMode.noGrad()) {
            while (!ready.isEmpty()) {
                Node node = ready.pop();
                Tensor g = buffers.remove(node);
                Tensor[] gi = null;
                if (g != null) {
                    List<UnaryOperator<Tensor>> hooks = node.hooks();
                    if (hooks != null) {
                        for (UnaryOperator<Tensor> h : hooks) {
                            Tensor r = h.apply(g);
                            if (r != null && r != g) {
                                g.close();
                                g = own(r);
                            }
                        }
                    }
                    if (capture != null && capture.containsKey(node)) {
                        capture.put(node, g.alias());
                    }
                    // autograd.grad() returns gradients instead of accumulating into any leaf
                    if (!(capture != null && node instanceof AccumulateGrad)) {
                        gi = applyNode(node, g);
                    }
                    g.close();
                }
                if (!retain) node.markBackwardDone();
                for (int k = 0; k < node.next.length; k++) {
                    Node n = node.next[k];
                    Tensor gk = gi != null && k < gi.length ? gi[k] : null;
                    if (n == null) {
                        if (gk != null) gk.close();
                        continue;
                    }
                    if (gk != null) {
                        if (!Arrays.equals(gk.shape(), node.inputShapes[k])) {
                            throw new IllegalStateException("autograd: " + node.name() + " returned a gradient of shape "
                                + Arrays.toString(gk.shape()) + " for input " + k + " of shape "
                                + Arrays.toString(node.inputShapes[k]));
                        }
                        Tensor prev = buffers.get(n);
                        if (prev == null) {
                            buffers.put(n, gk);
                        } else {
                            buffers.put(n, accumulate(prev, gk));
                        }
                    }
                    int[] d = deps.get(n);
                    if (--d[0] == 0) ready.push(n);
                }
            }
        } finally {
            for (Tensor t : buffers.values()) if (t != null) t.close();
        }
    }

    /** Runs node.apply in its own scope; returns gradients as handles owned by the engine. */
    private static Tensor[] applyNode(Node node, Tensor g) {
        Tensor[] gi;
        try (Scope s = Scope.open()) {
            Tensor[] raw = node.apply(g);
            gi = new Tensor[raw.length];
            for (int k = 0; k < raw.length; k++) {
                Tensor t = raw[k];
                if (t == null) continue;
                boolean claimed = false;
                for (int j = 0; j < k; j++) if (raw[j] == t) claimed = true;
                if (!claimed && t.owner() == s) {
                    gi[k] = Scope.detach(t);
                } else {
                    gi[k] = Scope.detach(t.alias());
                }
            }
        }
        return gi;
    }

    /** An engine-owned handle on t's data (a hook's result may belong to a scope or to the hook). */
    private static Tensor own(Tensor t) {
        return Scope.detach(t.alias());
    }

    private static Tensor accumulate(Tensor prev, Tensor g) {
        if (prev.isExclusivelyOwned() && prev.isContiguous() && prev.dtype() == g.dtype()) {
            prev.add_(g);
            g.close();
            return prev;
        }
        Tensor sum = Scope.detach(prev.add(g));
        prev.close();
        g.close();
        return sum;
    }
}
