package llava.core.autograd;

import llava.core.Tensor;

/** The backward formula of one op: gradients of its inputs from the gradient of its output. */
@FunctionalInterface
public interface BackwardFn {
    /** Returns one gradient per input (null where {@code ctx.needs(i)} is false or the input
     *  is not differentiable). Runs with grad mode off. */
    Tensor[] apply(SavedContext ctx, Tensor grad);
}
