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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Row-wise fused ops in F32 through the backend, each next to a naive single-threaded loop in
 * double (the style of the previous CPU kernels): softmax over [512, 4096], RMSNorm over
 * [1024, 4096], cross-entropy over [256, 32000] (a LLaMA vocabulary) forward and backward.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class CpuRowOpsBench {
    static final int SM_ROWS = 512, SM_COLS = 4096, RMS_ROWS = 1024, RMS_COLS = 4096, CE_ROWS = 256, VOCAB = 32000;

    private final CpuBackend backend = new CpuBackend();
    private Tensor smX, smOut, rmsX, rmsW, rmsOut, rstd, logits, targets, loss, lse, gLoss, gLogits;
    private float[] smArr, rmsArr, rmsWArr, logitArr;
    private long[] targetArr;

    @Setup(Level.Trial)
    public void setup() {
        smX = CpuBenchSupport.randn(1, DType.F32, SM_ROWS, SM_COLS);
        smOut = Tensor.empty(DType.F32, SM_ROWS, SM_COLS);
        rmsX = CpuBenchSupport.randn(2, DType.F32, RMS_ROWS, RMS_COLS);
        rmsW = CpuBenchSupport.randn(3, DType.F32, RMS_COLS);
        rmsOut = Tensor.empty(DType.F32, RMS_ROWS, RMS_COLS);
        rstd = Tensor.empty(DType.F32, RMS_ROWS);
        logits = CpuBenchSupport.randn(4, DType.F32, CE_ROWS, VOCAB);
        targetArr = new long[CE_ROWS];
        for (int i = 0; i < CE_ROWS; i++) targetArr[i] = (i * 7919L) % VOCAB;
        targets = Tensor.of(targetArr, CE_ROWS);
        loss = Tensor.empty(DType.F32, CE_ROWS);
        lse = Tensor.empty(DType.F32, CE_ROWS);
        gLoss = Tensor.full(1.0 / CE_ROWS, DType.F32, llava.core.Device.CPU, CE_ROWS);
        gLogits = Tensor.empty(DType.F32, CE_ROWS, VOCAB);
        backend.crossEntropy(logits, targets, -100, loss, lse);
        smArr = smX.toFloatArray();
        rmsArr = rmsX.toFloatArray();
        rmsWArr = rmsW.toFloatArray();
        logitArr = logits.toFloatArray();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {smX, smOut, rmsX, rmsW, rmsOut, rstd, logits, targets, loss, lse, gLoss, gLogits}) t.close();
    }

    @Benchmark
    public Tensor softmax() {
        backend.softmax(smX, smOut, false);
        return smOut;
    }

    @Benchmark
    public float[] softmaxNaive() {
        float[] out = new float[smArr.length];
        for (int r = 0; r < SM_ROWS; r++) {
            int o = r * SM_COLS;
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int i = 0; i < SM_COLS; i++) m = Math.max(m, smArr[o + i]);
            for (int i = 0; i < SM_COLS; i++) s += Math.exp(smArr[o + i] - m);
            for (int i = 0; i < SM_COLS; i++) out[o + i] = (float) (Math.exp(smArr[o + i] - m) / s);
        }
        return out;
    }

    @Benchmark
    public Tensor rmsNorm() {
        backend.rmsNorm(rmsX, rmsW, 1e-6, rmsOut, rstd);
        return rmsOut;
    }

    @Benchmark
    public float[] rmsNormNaive() {
        float[] out = new float[rmsArr.length];
        for (int r = 0; r < RMS_ROWS; r++) {
            int o = r * RMS_COLS;
            double ss = 0;
            for (int i = 0; i < RMS_COLS; i++) ss += (double) rmsArr[o + i] * rmsArr[o + i];
            double inv = 1 / Math.sqrt(ss / RMS_COLS + 1e-6);
            for (int i = 0; i < RMS_COLS; i++) out[o + i] = (float) (rmsArr[o + i] * inv * rmsWArr[i]);
        }
        return out;
    }

    @Benchmark
    public Tensor crossEntropy() {
        backend.crossEntropy(logits, targets, -100, loss, lse);
        return loss;
    }

    @Benchmark
    public Tensor crossEntropyBackward() {
        backend.crossEntropyBackward(logits, targets, lse, gLoss, -100, gLogits);
        return gLogits;
    }

    @Benchmark
    public double crossEntropyNaive() {
        double total = 0;
        for (int r = 0; r < CE_ROWS; r++) {
            int o = r * VOCAB;
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int i = 0; i < VOCAB; i++) m = Math.max(m, logitArr[o + i]);
            for (int i = 0; i < VOCAB; i++) s += Math.exp(logitArr[o + i] - m);
            total += m + Math.log(s) - logitArr[o + (int) targetArr[r]];
        }
        return total;
    }
}
