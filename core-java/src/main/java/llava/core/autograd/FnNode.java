package llava.core.autograd;

import llava.core.Tensor;

/** A node whose backward is a {@link BackwardFn} with saved tensors. */
final class FnNode extends Node implements SavedContext {
    private final BackwardFn fn;
    private Tensor[] saved;

    FnNode(String name, Tensor[] inputs, Tensor[] toSave, BackwardFn fn) {
        super(name, inputs);
        this.fn = fn;
        if (toSave != null && toSave.length > 0) {
            saved = new Tensor[toSave.length];
            for (int i = 0; i < toSave.length; i++) {
                saved[i] = toSave[i] == null ? null : toSave[i].savedView();
            }
        }
    }

    @Override
    protected Tensor[] apply(Tensor gradOutput) {
        if (isReleased()) {
            throw new IllegalStateException("Trying to backward through " + name()
                + " a second time, after its saved tensors were freed. Pass retainGraph=true to the first backward.");
        }
        return fn.apply(this, gradOutput);
    }

    @Override
    public Tensor saved(int i) {
        if (saved == null || saved[i] == null) throw new IllegalStateException(name() + ": no saved tensor " + i);
        return saved[i];
    }

    @Override
    public boolean needs(int i) { return needsInputGrad(i); }

    @Override
    public int[] inputShape(int i) { return inputShapes[i].clone(); }

    @Override
    protected void releaseSaved() {
        if (saved != null) {
            for (Tensor t : saved) if (t != null) t.close();
            saved = null;
        }
    }
}
