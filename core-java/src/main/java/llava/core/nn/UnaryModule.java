package llava.core.nn;

import llava.core.Tensor;

/** A module whose forward maps one tensor to one tensor (usable in {@link Sequential}). */
public interface UnaryModule {
    Tensor forward(Tensor x);
}
