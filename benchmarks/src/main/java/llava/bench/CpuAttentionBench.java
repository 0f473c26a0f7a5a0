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
 * Causal self-attention in F32, batch 1, 8 heads, seq x seq, through the backend: forward,
 * backward (from a saved forward), and one decode step (1 query against seq cached keys).
 * Useful work: forward 2 matmuls, backward 5, each 2 seq^2 D flops per head, halved by the causal
 * mask; decode 4 seq D flops per head.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CpuAttentionBench {
    static final int HEADS = 8;

    @Param({"256", "1024"})
    int seq;

    @Param({"64", "128"})
    int headDim;

    private final CpuBackend backend = new CpuBackend();
    private Tensor q, k, v, out, lse, gOut, gq, gk, gv, q1, out1, lse1;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        q = CpuBenchSupport.randn(1, DType.F32, 1, HEADS, seq, headDim);
        k = CpuBenchSupport.randn(2, DType.F32, 1, HEADS, seq, headDim);
        v = CpuBenchSupport.randn(3, DType.F32, 1, HEADS, seq, headDim);
        out = Tensor.empty(DType.F32, 1, HEADS, seq, headDim);
        lse = Tensor.empty(DType.F32, 1, HEADS, seq);
        gOut = CpuBenchSupport.randn(4, DType.F32, 1, HEADS, seq, headDim);
        gq = Tensor.empty(DType.F32, 1, HEADS, seq, headDim);
        gk = Tensor.empty(DType.F32, 1, HEADS, seq, headDim);
        gv = Tensor.empty(DType.F32, 1, HEADS, seq, headDim);
        q1 = CpuBenchSupport.randn(5, DType.F32, 1, HEADS, 1, headDim);
        out1 = Tensor.empty(DType.F32, 1, HEADS, 1, headDim);
        lse1 = Tensor.empty(DType.F32, 1, HEADS, 1);
        scale = 1 / Math.sqrt(headDim);
        backend.attention(q, k, v, null, true, scale, out, lse);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, k, v, out, lse, gOut, gq, gk, gv, q1, out1, lse1}) t.close();
    }

    @Benchmark
    public Tensor forward() {
        backend.attention(q, k, v, null, true, scale, out, lse);
        return out;
    }

    @Benchmark
    public Tensor backward() {
        backend.attentionBackward(q, k, v, out, lse, gOut, null, true, scale, gq, gk, gv);
        return gq;
    }

    @Benchmark
    public Tensor decodeStep() {
        backend.attention(q1, k, v, null, true, scale, out1, lse1);
        return out1;
    }
}
