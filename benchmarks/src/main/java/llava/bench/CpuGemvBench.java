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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Decode-step GEMV, 1 x 4096 x 4096 (GFLOP/s = 2 * 4096^2 / time; 64 MiB of F32 weights, so it is
 * bound by memory bandwidth): the backend with the weight as a Linear layer holds it ([N, K],
 * used transposed), with a row-major [K, N] operand, and with BF16 weights; OpenBLAS sgemv on a
 * native copy of the weight, and sgemv after copying the weight in (what the backend would pay
 * per call, since its tensors live in Java arrays); a naive dot-product loop.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CpuGemvBench {
    static final int K = 4096, N = 4096;

    private final CpuBackend backend = new CpuBackend();
    private Tensor x, w, wt, bRowMajor, out, xb, wb, wbt, outB;
    private FloatPointer px, pw, py;
    private float[] wArr, xArr;

    @Setup(Level.Trial)
    public void setup() {
        x = CpuBenchSupport.randn(1, DType.F32, 1, K);
        w = CpuBenchSupport.randn(2, DType.F32, N, K);
        wt = w.t();
        bRowMajor = CpuBenchSupport.randn(3, DType.F32, K, N);
        out = Tensor.empty(DType.F32, 1, N);
        xb = x.to(DType.BF16);
        wb = w.to(DType.BF16);
        wbt = wb.t();
        outB = Tensor.empty(DType.BF16, 1, N);
        CpuBenchSupport.loadOpenBlas();
        px = CpuBenchSupport.nativeCopy(x);
        pw = CpuBenchSupport.nativeCopy(w);
        py = new FloatPointer(N);
        wArr = w.toFloatArray();
        xArr = x.toFloatArray();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, w, wt, bRowMajor, out, xb, wb, wbt, outB}) t.close();
        px.close();
        pw.close();
        py.close();
    }

    @Benchmark
    public Tensor oursLinear() {
        backend.matmul(x, wt, null, out);
        return out;
    }

    @Benchmark
    public Tensor oursRowMajor() {
        backend.matmul(x, bRowMajor, null, out);
        return out;
    }

    @Benchmark
    public Tensor oursLinearBf16() {
        backend.matmul(xb, wbt, null, outB);
        return outB;
    }

    @Benchmark
    public FloatPointer openblasSgemvNative() {
        CpuBenchSupport.openBlasThreads(CpuBenchSupport.THREADS);
        openblas_nolapack.cblas_sgemv(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, N, K, 1f, pw, K, px, 1,
            0f, py, 1);
        return py;
    }

    @Benchmark
    public FloatPointer openblasSgemvNative1Thread() {
        CpuBenchSupport.openBlasThreads(1);
        openblas_nolapack.cblas_sgemv(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, N, K, 1f, pw, K, px, 1,
            0f, py, 1);
        return py;
    }

    @Benchmark
    public FloatPointer openblasSgemvCopyingWeights() {
        CpuBenchSupport.openBlasThreads(CpuBenchSupport.THREADS);
        pw.position(0).put(wArr, 0, wArr.length);
        pw.position(0);
        openblas_nolapack.cblas_sgemv(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, N, K, 1f, pw, K, px, 1,
            0f, py, 1);
        return py;
    }

    @Benchmark
    public float[] naive() {
        float[] y = new float[N];
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) s += xArr[k] * wArr[j * K + k];
            y[j] = s;
        }
        return y;
    }
}
