package llava.core.autograd;

import llava.core.Tensor;

/** The node at a leaf tensor that requires grad: adds the incoming gradient into leaf.grad. */
public final class AccumulateGrad extends Node {
    private final Tensor leaf;

    public AccumulateGrad(Tensor leaf) {
        super("AccumulateGrad", new Tensor[0]);
        this.leaf = leaf;
    }

    public Tensor leaf() { return leaf; }

    @Override
    protected Tensor[] apply(Tensor grad) {
        if (!leaf.isClosed()) leaf.accumulateGrad(grad);
        return new Tensor[0];
    }

    /** Leaves live as long as their tensor; the count only tracks consumers. */
    @Override
    public synchronized void release() {}
}
