package llava.bench;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/** Shared setup of the CPU benchmarks: random inputs, native copies for the raw OpenBLAS baselines. */
final class CpuBenchSupport {
    private CpuBenchSupport() {}

    static final int THREADS = Runtime.getRuntime().availableProcessors();

    static Tensor randn(long seed, DType dt, int... shape) {
        return Tensor.randn(new Generator(seed), dt, Device.CPU, shape);
    }

    /** A native copy of the tensor's values (real data: fresh pages would all map to the zero page). */
    static FloatPointer nativeCopy(Tensor t) {
        float[] v = t.toFloatArray();
        FloatPointer p = new FloatPointer(v.length);
        p.put(v, 0, v.length);
        return p;
    }

    private static int openBlasThreads = -1;

    /** Loads OpenBLAS. */
    static void loadOpenBlas() {
        Loader.load(openblas_nolapack.class);
    }

    /**
     * Sets OpenBLAS's thread count for a raw-OpenBLAS benchmark (a process-wide setting: JMH runs
     * each benchmark method in its own JVM, so the backend's setting of 1 does not interfere).
     */
    static void openBlasThreads(int n) {
        if (openBlasThreads != n) {
            org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(n);
            openBlasThreads = n;
        }
    }
}
