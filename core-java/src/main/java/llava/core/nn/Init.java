package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;

/** Parameter initialisations (as PyTorch's defaults for the same layers). */
public final class Init {
    private Init() {}

    /** U(-bound, bound). */
    public static Tensor uniform(Generator gen, double bound, DType dtype, Device device, int... shape) {
        // every intermediate is freed (u * 2b leaked before: 8 bytes per weight of every Linear)
        try (Scope s = Scope.open()) {
            Tensor u = Tensor.rand(gen, DType.F64, Device.CPU, shape);
            return s.keep(u.mul(2 * bound).sub(bound).to(dtype, device));
        }
    }

    public static Tensor normal(Generator gen, double std, DType dtype, Device device, int... shape) {
        return Tensor.normal(gen, 0, std, dtype, device, shape);
    }
}
