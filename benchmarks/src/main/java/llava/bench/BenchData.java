package llava.bench;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/** Inputs for the benchmarks and the raw OpenBLAS baseline. */
final class BenchData {
    private BenchData() {}

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

    /** Loads OpenBLAS with as many threads as the backend gives it. */
    static void loadOpenBlas() {
        Loader.load(openblas_nolapack.class);
        org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(Integer.getInteger("llava.blas.threads", THREADS));
    }
}
