package llava.bench;

import java.util.concurrent.TimeUnit;
import llava.core.Backend;
import llava.core.DType;
import llava.core.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Fused attention forward and backward, bf16, batch 1, 4096 / D heads (LLaMA-7B width), sequence
 * 256 to 4096. FLOPs as FlashAttention counts them: 4 * seq^2 * D * heads forward, 2.5x backward,
 * halved when causal.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CudaAttentionBench {
    @Param({"256", "1024", "2048", "4096"})
    public int seq;

    @Param({"64", "128"})
    public int headDim;

    @Param({"true", "false"})
    public boolean causal;

    private Backend backend;
    private Tensor q, k, v, out, lse, gout, gq, gk, gv;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        backend = CudaBenchSupport.backend();
        int heads = 4096 / headDim;
        DType dt = DType.BF16;
        q = CudaBenchSupport.random(1, dt, 1, heads, seq, headDim);
        k = CudaBenchSupport.random(2, dt, 1, heads, seq, headDim);
        v = CudaBenchSupport.random(3, dt, 1, heads, seq, headDim);
        gout = CudaBenchSupport.random(4, dt, 1, heads, seq, headDim);
        out = Tensor.empty(dt, CudaBenchSupport.GPU, 1, heads, seq, headDim);
        lse = Tensor.empty(DType.F32, CudaBenchSupport.GPU, 1, heads, seq);
        gq = Tensor.empty(dt, CudaBenchSupport.GPU, 1, heads, seq, headDim);
        gk = Tensor.empty(dt, CudaBenchSupport.GPU, 1, heads, seq, headDim);
        gv = Tensor.empty(dt, CudaBenchSupport.GPU, 1, heads, seq, headDim);
        scale = 1 / Math.sqrt(headDim);
        backend.attention(q, k, v, null, causal, scale, out, lse);
    }

    @Benchmark
    @OperationsPerInvocation(10)
    public void forward() {
        for (int i = 0; i < 10; i++) backend.attention(q, k, v, null, causal, scale, out, lse);
        backend.synchronize(CudaBenchSupport.GPU);
    }

    @Benchmark
    @OperationsPerInvocation(10)
    public void backward() {
        for (int i = 0; i < 10; i++) backend.attentionBackward(q, k, v, out, lse, gout, null, causal, scale, gq, gk, gv);
        backend.synchronize(CudaBenchSupport.GPU);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        CudaBenchSupport.closeAll(q, k, v, out, lse, gout, gq, gk, gv);
    }
}
