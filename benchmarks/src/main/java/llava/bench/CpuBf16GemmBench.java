package llava.bench;

import java.util.concurrent.TimeUnit;
import llava.core.DType;
import llava.core.Tensor;
import llava.core.cpu.CpuBackend;
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
 * A Linear layer with BF16 weights and activations, M x 2048 -> 2048 (BF16 output, F32
 * accumulation): through OpenBLAS (operands widened to F32 while copied into its native panels)
 * and through the Java kernel (widened while packing tiles). The F32 layer of the same shape is
 * there for comparison. GFLOP/s = 2 M 2048^2 / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CpuBf16GemmBench {
    static final int K = 2048, N = 2048;

    @Param({"128", "1024"})
    int m;

    private final CpuBackend backend = new CpuBackend();
    private Tensor x, w, wt, out, x32, w32, wt32, out32;

    @Setup(Level.Trial)
    public void setup() {
        x32 = CpuBenchSupport.randn(1, DType.F32, m, K);
        w32 = CpuBenchSupport.randn(2, DType.F32, N, K);
        wt32 = w32.t();
        out32 = Tensor.empty(DType.F32, m, N);
        x = x32.to(DType.BF16);
        w = w32.to(DType.BF16);
        wt = w.t();
        out = Tensor.empty(DType.BF16, m, N);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, w, wt, out, x32, w32, wt32, out32}) t.close();
    }

    @Benchmark
    public Tensor oursBf16() {
        backend.matmul(x, wt, null, out);
        return out;
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Dllava.cpu.blas=false"})
    public Tensor oursBf16JavaKernel() {
        backend.matmul(x, wt, null, out);
        return out;
    }

    @Benchmark
    public Tensor oursF32() {
        backend.matmul(x32, wt32, null, out32);
        return out32;
    }
}
