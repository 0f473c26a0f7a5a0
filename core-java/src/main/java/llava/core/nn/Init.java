package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Tensor;

/** Parameter initialisations (as PyTorch's defaults for the same layers). */
public final class Init {
    private Init() {}

    /** U(-bound, bound). */
    public static Tensor uniform(Generator gen, double bound, DType dtype, Device device, int... shape) {
        try (Tensor u = Tensor.rand(gen, DType.F64, Device.CPU, shape)) {
            try (Tensor s = u.mul(2 * bound).sub(bound)) {
                return s.to(dtype, device);
            }
        }
    }

    public static Tensor normal(Generator gen, double std, DType dtype, Device device, int... shape) {
        return Tensor.normal(gen, 0, std, dtype, device, shape);
    }
}
