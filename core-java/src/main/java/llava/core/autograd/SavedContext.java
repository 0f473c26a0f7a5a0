package llava.core.autograd;

import llava.core.Tensor;

/** What a backward formula can read: the tensors saved in forward and which inputs need grads. */
public interface SavedContext {
    /** The i-th tensor saved in forward (a detached view sharing the forward's storage). */
    Tensor saved(int i);

    /** Whether input i needs a gradient. */
    boolean needs(int i);

    /** Shape of input i in forward. */
    int[] inputShape(int i);
}
