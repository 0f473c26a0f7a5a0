package llava.bench;

import java.util.concurrent.TimeUnit;
import llava.core.DType;
import llava.core.Tensor;
import llava.core.cpu.CpuBackend;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * F32 GEMM n x n x n: the backend (OpenBLAS through native panels, A @ B and A @ W^T as a
 * Linear layer calls it), the backend's Java kernel (OpenBLAS switched off), and raw OpenBLAS
 * sgemm on native buffers holding the same data (with its own threads and with one thread), and
 * through JavaCPP's float[] overload.
 * GFLOP/s = 2 n^3 / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CpuGemmBench {
    @Param({"256", "1024", "2048"})
    int n;

    private final CpuBackend backend = new CpuBackend();
    private Tensor a, b, w, out;
    private FloatPointer pa, pb, pc;
    private float[] fa, fb, fc;

    @Setup(Level.Trial)
    public void setup() {
        a = CpuBenchSupport.randn(1, DType.F32, n, n);
        b = CpuBenchSupport.randn(2, DType.F32, n, n);
        w = CpuBenchSupport.randn(3, DType.F32, n, n);
        out = Tensor.empty(DType.F32, n, n);
        CpuBenchSupport.loadOpenBlas();
        pa = CpuBenchSupport.nativeCopy(a);
        pb = CpuBenchSupport.nativeCopy(b);
        pc = new FloatPointer((long) n * n);
        fa = a.toFloatArray();
        fb = b.toFloatArray();
        fc = new float[n * n];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        w.close();
        out.close();
        pa.close();
        pb.close();
        pc.close();
    }

    /** out = a @ b through the backend. */
    @Benchmark
    public Tensor ours() {
        backend.matmul(a, b, null, out);
        return out;
    }

    /** out = a @ w^T (w viewed transposed, as F.linear passes its weight). */
    @Benchmark
    public Tensor oursLinear() {
        try (Tensor wt = w.t()) {
            backend.matmul(a, wt, null, out);
        }
        return out;
    }

    /** The backend's Java kernel (Vector API 6 x 2L tiles): the path used when OpenBLAS cannot load. */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Dllava.cpu.blas=false"})
    public Tensor oursJavaKernel() {
        backend.matmul(a, b, null, out);
        return out;
    }

    /** cblas_sgemm on native buffers with OpenBLAS's own threads (one per core): no copies. */
    @Benchmark
    public FloatPointer openblasNative() {
        CpuBenchSupport.openBlasThreads(CpuBenchSupport.THREADS);
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
            openblas_nolapack.CblasNoTrans, n, n, n, 1f, pa, n, pb, n, 0f, pc, n);
        return pc;
    }

    /** The same with one OpenBLAS thread (what the backend runs per block). */
    @Benchmark
    public FloatPointer openblasNative1Thread() {
        CpuBenchSupport.openBlasThreads(1);
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
            openblas_nolapack.CblasNoTrans, n, n, n, 1f, pa, n, pb, n, 0f, pc, n);
        return pc;
    }

    /** cblas_sgemm with Java arrays (OpenBLAS's own threads): JavaCPP copies every array in and out on each call. */
    @Benchmark
    public float[] openblasJavaArrays() {
        CpuBenchSupport.openBlasThreads(CpuBenchSupport.THREADS);
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans,
            openblas_nolapack.CblasNoTrans, n, n, n, 1f, fa, n, fb, n, 0f, fc, n);
        return fc;
    }
}
