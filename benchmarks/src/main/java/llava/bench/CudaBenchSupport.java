package llava.bench;

import java.util.SplittableRandom;
import llava.core.Backend;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;

/** Shared setup of the CUDA kernel benchmarks: the device, random device tensors, the skip message. */
final class CudaBenchSupport {
    private CudaBenchSupport() {}

    static final Device GPU = Device.cuda(0);

    /** The CUDA backend, or an exception naming why there is none (JMH reports it and goes on). */
    static Backend backend() {
        if (!Backends.cudaAvailable()) {
            throw new IllegalStateException("CUDA benchmarks skipped: no usable GPU: " + Backends.cudaStatus());
        }
        return Backends.get(GPU);
    }

    /** Uniform values in [-1, 1), generated on the host with a fixed seed, as dt on the GPU. */
    static Tensor random(long seed, DType dt, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 1;
        for (int s : shape) n = Math.multiplyExact(n, s);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        try (Tensor h = Tensor.of(v, shape); Tensor d = h.to(GPU)) {
            return d.to(dt);
        }
    }

    static void closeAll(Tensor... ts) {
        for (Tensor t : ts) if (t != null) t.close();
    }
}
