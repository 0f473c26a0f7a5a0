package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;

/**
 * Parameter initialisations (as PyTorch's defaults for the same layers). Inside a
 * {@link #skip()} block they return uninitialised tensors instead: for building a model whose
 * weights are about to be loaded from a checkpoint (no time or memory spent on random values).
 */
public final class Init {
    private Init() {}

    private static final ThreadLocal<Boolean> SKIP = ThreadLocal.withInitial(() -> Boolean.FALSE);

    /** A block in which initialisation is skipped (close throws nothing). */
    public interface SkipBlock extends AutoCloseable {
        @Override
        void close();
    }

    /** Until closed, initialisations on this thread allocate without filling. */
    public static SkipBlock skip() {
        boolean prev = SKIP.get();
        SKIP.set(true);
        return () -> SKIP.set(prev);
    }

    public static boolean skipping() { return SKIP.get(); }

    /** U(-bound, bound). */
    public static Tensor uniform(Generator gen, double bound, DType dtype, Device device, int... shape) {
        if (SKIP.get()) return Tensor.empty(dtype, device, shape);
        // every intermediate is freed (u * 2b leaked before: 8 bytes per weight of every Linear)
        try (Scope s = Scope.open()) {
            Tensor u = Tensor.rand(gen, DType.F64, Device.CPU, shape);
            return s.keep(u.mul(2 * bound).sub(bound).to(dtype, device));
        }
    }

    public static Tensor normal(Generator gen, double std, DType dtype, Device device, int... shape) {
        if (SKIP.get()) return Tensor.empty(dtype, device, shape);
        return Tensor.normal(gen, 0, std, dtype, device, shape);
    }
}
