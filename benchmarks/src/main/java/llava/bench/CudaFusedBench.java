package llava.bench;

import java.util.concurrent.TimeUnit;
import llava.core.Backend;
import llava.core.DType;
import llava.core.Tensor;
import llava.models.llama.LlamaModel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The memory-bound fused kernels at LLaMA-7B training sizes (8 sequences x 2048 tokens, hidden
 * 4096, vocabulary 32000), bf16: RMSNorm and LayerNorm (forward, backward), RoPE, SwiGLU,
 * cross-entropy (forward, backward). Time per call; bytes moved / time gives the bandwidth.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CudaFusedBench {
    static final int ROWS = 16384, HIDDEN = 4096, FF = 11008, VOCAB = 32000, CE_ROWS = 4096;
    static final int B = 8, T = 2048, H = 32, D = 128;

    private Backend backend;
    private Tensor x, w, b, out, mean, rstd, gy, gx, gw, gb;
    private Tensor rx, rout, pos, invFreq;
    private Tensor gate, up, act;
    private Tensor logits, target, loss, lse, gLoss, gLogits;

    @Setup(Level.Trial)
    public void setup() {
        backend = CudaBenchSupport.backend();
        DType dt = DType.BF16;
        var gpu = CudaBenchSupport.GPU;
        x = CudaBenchSupport.random(1, dt, ROWS, HIDDEN);
        w = CudaBenchSupport.random(2, dt, HIDDEN);
        b = CudaBenchSupport.random(3, dt, HIDDEN);
        gy = CudaBenchSupport.random(4, dt, ROWS, HIDDEN);
        out = Tensor.empty(dt, gpu, ROWS, HIDDEN);
        gx = Tensor.empty(dt, gpu, ROWS, HIDDEN);
        gw = Tensor.empty(dt, gpu, HIDDEN);
        gb = Tensor.empty(dt, gpu, HIDDEN);
        mean = Tensor.empty(DType.F32, gpu, ROWS);
        rstd = Tensor.empty(DType.F32, gpu, ROWS);
        rx = CudaBenchSupport.random(5, dt, B, T, H, D);
        rout = Tensor.empty(dt, gpu, B, T, H, D);
        long[] p = new long[B * T];
        for (int i = 0; i < p.length; i++) p[i] = i % T;
        try (Tensor ph = Tensor.of(p, B, T)) {
            pos = ph.to(gpu);
        }
        invFreq = LlamaModel.inverseFrequencies(D, 10000, gpu);
        gate = CudaBenchSupport.random(6, dt, ROWS, FF);
        up = CudaBenchSupport.random(7, dt, ROWS, FF);
        act = Tensor.empty(dt, gpu, ROWS, FF);
        logits = CudaBenchSupport.random(8, dt, CE_ROWS, VOCAB);
        long[] t = new long[CE_ROWS];
        for (int i = 0; i < t.length; i++) t[i] = (i * 7919L) % VOCAB;
        try (Tensor th = Tensor.of(t, CE_ROWS)) {
            target = th.to(gpu);
        }
        loss = Tensor.empty(DType.F32, gpu, CE_ROWS);
        lse = Tensor.empty(DType.F32, gpu, CE_ROWS);
        gLoss = Tensor.ones(DType.F32, gpu, CE_ROWS);
        gLogits = Tensor.empty(dt, gpu, CE_ROWS, VOCAB);
        backend.rmsNorm(x, w, 1e-6, out, rstd);
        backend.crossEntropy(logits, target, -100, loss, lse);
    }

    private void sync() { backend.synchronize(CudaBenchSupport.GPU); }

    @Benchmark @OperationsPerInvocation(10)
    public void rmsNormForward() { for (int i = 0; i < 10; i++) backend.rmsNorm(x, w, 1e-6, out, rstd); sync(); }

    @Benchmark @OperationsPerInvocation(10)
    public void rmsNormBackward() { for (int i = 0; i < 10; i++) backend.rmsNormBackward(x, w, rstd, gy, gx, gw); sync(); }

    @Benchmark @OperationsPerInvocation(10)
    public void layerNormForward() { for (int i = 0; i < 10; i++) backend.layerNorm(x, w, b, 1e-5, out, mean, rstd); sync(); }

    @Benchmark @OperationsPerInvocation(10)
    public void layerNormBackward() {
        for (int i = 0; i < 10; i++) backend.layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb);
        sync();
    }

    @Benchmark @OperationsPerInvocation(10)
    public void rope() { for (int i = 0; i < 10; i++) backend.rope(rx, pos, invFreq, false, rout); sync(); }

    @Benchmark @OperationsPerInvocation(10)
    public void siluMul() { for (int i = 0; i < 10; i++) backend.siluMul(gate, up, act); sync(); }

    @Benchmark @OperationsPerInvocation(10)
    public void crossEntropyForward() {
        for (int i = 0; i < 10; i++) backend.crossEntropy(logits, target, -100, loss, lse);
        sync();
    }

    @Benchmark @OperationsPerInvocation(10)
    public void crossEntropyBackward() {
        for (int i = 0; i < 10; i++) backend.crossEntropyBackward(logits, target, lse, gLoss, -100, gLogits);
        sync();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        CudaBenchSupport.closeAll(x, w, b, out, mean, rstd, gy, gx, gw, gb, rx, rout, pos, invFreq, gate, up, act,
            logits, target, loss, lse, gLoss, gLogits);
    }
}
