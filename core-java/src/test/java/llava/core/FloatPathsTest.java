package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Function;
import llava.core.cpu.CpuBackend;
import llava.core.cpu.MathFns;
import org.junit.jupiter.api.Test;

/**
 * The F32 (and BF16) CPU paths of the fused ops, attention and elementwise ops against the exact
 * F64 paths (themselves checked by gradcheck), forward and backward, on sizes that cross the
 * vector widths, the sum blocks and the attention blocks. Both runs see the same inputs (rounded
 * to the low precision first), so the differences are the low-precision arithmetic alone.
 */
class FloatPathsTest {
    private final Generator gen = new Generator(3);

    /** F32: sums of up to a few thousand terms in F32, relative to the largest reference value. */
    private static final double F32_TOL = 2e-5;
    /** BF16 outputs and gradients are rounded to 8 significant bits (2^-8 = 3.9e-3). */
    private static final double BF16_TOL = 1e-2;

    private Tensor randn(int... shape) { return Tensor.randn(gen, DType.F64, Device.CPU, shape); }

    private static void near(double[] ref, double[] got, double tol, String what) {
        assertEquals(ref.length, got.length, what);
        double max = 0;
        for (double r : ref) max = Math.max(max, Math.abs(r));
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(ref[i] - got[i]) <= tol * max + 1e-300)) {
                throw new AssertionError(what + ": element " + i + " expected " + ref[i] + " got " + got[i] + " (max " + max + ")");
            }
        }
    }

    /**
     * Runs f on F64 and on dt copies of the same dt-rounded inputs, then backward with the same
     * random upstream gradient; compares outputs and all input gradients.
     */
    private void compare(String what, DType dt, double tol, Function<Tensor[], Tensor> f, Tensor... inputs) {
        try (Scope s = Scope.open()) {
            Tensor[] hi = new Tensor[inputs.length], lo = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                Tensor r = inputs[i].to(dt);
                lo[i] = r.detach().requiresGrad(true);
                hi[i] = r.to(DType.F64).requiresGrad(true);
            }
            Tensor outHi = f.apply(hi), outLo = f.apply(lo);
            assertEquals(dt, outLo.dtype(), what + ": output dtype");
            near(outHi.toDoubleArray(), outLo.toDoubleArray(), tol, what + " output");
            Tensor up = randn(outHi.shape()).to(dt);
            outHi.mul(up.to(DType.F64)).sum().backward();
            outLo.mul(up).sum().backward();
            for (int i = 0; i < inputs.length; i++) {
                near(hi[i].grad().toDoubleArray(), lo[i].grad().toDoubleArray(), tol, what + " grad of input " + i);
            }
        }
    }

    @Test void attentionBlockedPath() {
        // Tq = 100 and Tk = 150 span three query and three key blocks; D = 40 has vector tails
        boolean[] mask = new boolean[2 * 150];
        for (int j = 0; j < 150; j++) {
            mask[j] = j % 7 != 3;
            mask[150 + j] = j >= 20 && j < 140;
        }
        Tensor m = Tensor.of(mask, 2, 150);
        for (boolean causal : new boolean[] {false, true}) {
            compare("attention causal=" + causal, DType.F32, F32_TOL,
                t -> F.scaledDotProductAttention(t[0], t[1], t[2], m, causal, 0.17),
                randn(2, 2, 100, 40), randn(2, 1, 150, 40), randn(2, 1, 150, 40));
        }
        compare("attention BF16", DType.BF16, BF16_TOL,
            t -> F.scaledDotProductAttention(t[0], t[1], t[2], m, true, 0.17),
            randn(2, 2, 100, 40), randn(2, 1, 150, 40), randn(2, 1, 150, 40));
        // strided inputs ([B, T, H, D] storage viewed as [B, H, T, D]), no mask, 1/sqrt(D)
        compare("attention strided", DType.F32, F32_TOL,
            t -> F.scaledDotProductAttention(t[0].transpose(1, 2), t[1].transpose(1, 2), t[2].transpose(1, 2), null, true, 0),
            randn(1, 64, 3, 32), randn(1, 64, 3, 32), randn(1, 64, 3, 32));
    }

    @Test void attentionRowModeForDecode() {
        Tensor m = Tensor.of(new boolean[] {true, false, true, true, true, true, true, true, true, false, true}, 1, 11);
        for (int tq : new int[] {1, 5}) {
            compare("attention Tq=" + tq, DType.F32, F32_TOL,
                t -> F.scaledDotProductAttention(t[0], t[1], t[2], m, true, 0),
                randn(1, 6, tq, 72), randn(1, 2, 11, 72), randn(1, 2, 11, 72));
            compare("attention BF16 Tq=" + tq, DType.BF16, BF16_TOL,
                t -> F.scaledDotProductAttention(t[0], t[1], t[2], null, false, 0),
                randn(2, 2, tq, 64), randn(2, 2, 200, 64), randn(2, 2, 200, 64));
        }
    }

    @Test void attentionRowsThatSeeNoKey() {
        // batch 1 has every key masked; with causal and Tq > Tk the first query rows see nothing either
        boolean[] mask = new boolean[2 * 30];
        for (int j = 0; j < 30; j++) mask[j] = true;
        Tensor m = Tensor.of(mask, 2, 30);
        for (int tq : new int[] {3, 60}) { // row mode and blocked mode
            try (Scope s = Scope.open()) {
                Tensor q = randn(2, 2, tq, 16).to(DType.F32).requiresGrad(true);
                Tensor k = randn(2, 2, 30, 16).to(DType.F32).requiresGrad(true);
                Tensor v = randn(2, 2, 30, 16).to(DType.F32).requiresGrad(true);
                Tensor out = F.scaledDotProductAttention(q, k, v, m, true, 0);
                out.sum().backward();
                float[] o = out.toFloatArray(), gq = q.grad().toFloatArray();
                int rows = 2 * 2 * tq;
                for (int r = 0; r < rows; r++) {
                    int b = r / (2 * tq), i = r % tq;
                    boolean sees = b == 0 && i + 30 - tq >= 0;
                    for (int d = 0; d < 16; d++) {
                        assertTrue(!Float.isNaN(o[r * 16 + d]) && !Float.isNaN(gq[r * 16 + d]), "no NaN");
                        if (!sees) {
                            assertEquals(0f, o[r * 16 + d], "row " + r + " sees no key: output 0");
                            assertEquals(0f, gq[r * 16 + d], "row " + r + " sees no key: no gradient");
                        }
                    }
                }
                for (float g : k.grad().toFloatArray()) assertTrue(!Float.isNaN(g));
            }
        }
    }

    @Test void normsSoftmaxAndCrossEntropy() {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            double tol = dt == DType.F32 ? F32_TOL : BF16_TOL;
            compare("rms_norm " + dt, dt, tol, t -> F.rmsNorm(t[0], t[1], 1e-6), randn(5, 1000), randn(1000));
            compare("rms_norm no weight " + dt, dt, tol, t -> F.rmsNorm(t[0], null, 1e-5), randn(3, 2, 77));
            compare("layer_norm " + dt, dt, tol, t -> F.layerNorm(t[0], t[1], t[2], 1e-5), randn(5, 1000), randn(1000), randn(1000));
            compare("softmax " + dt, dt, tol, t -> t[0].softmax(-1), randn(7, 1000));
            compare("log_softmax " + dt, dt, tol, t -> t[0].logSoftmax(-1), randn(7, 1000));
            compare("silu_mul " + dt, dt, tol, t -> F.siluMul(t[0], t[1]), randn(20, 1003), randn(20, 1003));
        }
        // cross-entropy over a large vocabulary: the loss is F32 for F32 and BF16 logits
        Tensor targets = Tensor.of(new long[] {17, -100, 4999, 0, 2500, 31}, 6);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            try (Scope s = Scope.open()) {
                Tensor x = randn(6, 5000).mul(3).to(dt);
                Tensor lo = x.detach().requiresGrad(true), hi = x.to(DType.F64).requiresGrad(true);
                Tensor lLo = F.crossEntropy(lo, targets, -100), lHi = F.crossEntropy(hi, targets, -100);
                assertEquals(lHi.item(), lLo.item(), 2e-6 * Math.abs(lHi.item()), "cross_entropy " + dt);
                lLo.backward();
                lHi.backward();
                near(hi.grad().toDoubleArray(), lo.grad().toDoubleArray(), dt == DType.F32 ? F32_TOL : BF16_TOL,
                    "cross_entropy grad " + dt);
            }
        }
    }

    /** Rotate-half RoPE in double with the F32 angle of the contract, [B, T, H, D] row-major; sign -1 inverts. */
    private static double[] ropeRef(double[] x, int B, int T, int H, int D, long[] pos, float[] inv, int sign) {
        double[] r = new double[x.length];
        int half = D / 2;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < half; i++) {
                        int o = ((b * T + t) * H + h) * D;
                        double ang = (float) ((float) pos[b * T + t] * inv[i]);
                        double c = Math.cos(ang), sn = sign * Math.sin(ang);
                        r[o + i] = x[o + i] * c - x[o + i + half] * sn;
                        r[o + i + half] = x[o + i + half] * c + x[o + i] * sn;
                    }
        return r;
    }

    @Test void ropeInPlaceLayoutsAndHalves() {
        long[] p = {0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 200, 300, 400, 500, 600, 700, 800, 4000};
        Tensor pos = Tensor.of(p, 2, 9);
        float[] inv = new float[32];
        for (int i = 0; i < 32; i++) inv[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / 64));
        Tensor invFreq = Tensor.of(inv, 32);
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            double tol = dt == DType.F32 ? 1e-6 : BF16_TOL;
            for (boolean strided : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Tensor base = strided ? randn(2, 3, 9, 64).to(dt).transpose(1, 2) : randn(2, 9, 3, 64).to(dt);
                    Tensor x = base.detach().requiresGrad(true);
                    Tensor out = F.rope(x, pos, invFreq);
                    String what = "rope " + dt + (strided ? " strided" : "");
                    near(ropeRef(x.toDoubleArray(), 2, 9, 3, 64, p, inv, 1), out.toDoubleArray(), tol, what);
                    Tensor up = randn(2, 9, 3, 64).to(dt);
                    out.mul(up).sum().backward();
                    near(ropeRef(up.toDoubleArray(), 2, 9, 3, 64, p, inv, -1), x.grad().toDoubleArray(), tol, what + " backward");
                }
            }
        }
    }

    @Test void floatElementwiseOpsEqualRoundedDoubleMath() {
        try (Scope s = Scope.open()) {
            Tensor a = randn(37, 41).to(DType.F32).t(), b = randn(1, 37).add(3).to(DType.F32); // strided and broadcast
            float[] x = a.toFloatArray(), y = b.toFloatArray();
            float[] div = a.div(b).toFloatArray(), max = a.maximum(b).toFloatArray(), sub = a.sub(b).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                double yi = y[i % 37];
                assertEquals((float) (x[i] / yi), div[i], 0f);
                assertEquals((float) Math.max(x[i], yi), max[i], 0f);
                assertEquals((float) (x[i] - yi), sub[i], 0f);
            }
            float[] exp = a.exp().toFloatArray(), gelu = a.gelu().toFloatArray();
            for (int i = 0; i < x.length; i++) {
                assertEquals((float) Math.exp(x[i]), exp[i], 0f);
                assertEquals((float) MathFns.apply(UnaryOp.GELU, x[i], 0, 0), gelu[i], 0f);
            }
            Tensor rows = randn(4, 3001).to(DType.F32);
            double[] r = rows.toDoubleArray(), sums = rows.sum(1, false).toDoubleArray();
            for (int i = 0; i < 4; i++) {
                double ref = 0, mag = 0;
                for (int j = 0; j < 3001; j++) {
                    ref += r[i * 3001 + j];
                    mag += Math.abs(r[i * 3001 + j]);
                }
                assertEquals(ref, sums[i], 3001 * 0x1p-24 * mag, "row sum " + i);
            }
        }
    }

    @Test void adamwMatchesTorchOrderBitForBit() {
        int n = 5000;
        float[] p0 = new float[n], g = new float[n], m0 = new float[n], v0 = new float[n];
        java.util.Random rnd = new java.util.Random(9);
        for (int i = 0; i < n; i++) {
            p0[i] = (float) rnd.nextGaussian();
            g[i] = (float) rnd.nextGaussian();
            m0[i] = (float) rnd.nextGaussian() * 0.1f;
            v0[i] = (float) Math.abs(rnd.nextGaussian()) * 0.01f;
        }
        double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
        long step = 7;
        // torch.optim.AdamW, single-tensor path, in F32
        float[] p = p0.clone(), m = m0.clone(), v = v0.clone();
        float decay = (float) (1 - lr * wd), stepSize = (float) (lr / (1 - Math.pow(b1, step)));
        float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(b2, step));
        for (int i = 0; i < n; i++) {
            p[i] = p[i] * decay;
            m[i] = m[i] * (float) b1 + (float) (1 - b1) * g[i];
            v[i] = v[i] * (float) b2 + (float) (1 - b2) * g[i] * g[i];
            float denom = (float) Math.sqrt(v[i]) / bc2Sqrt + (float) eps;
            p[i] = p[i] + (-stepSize) * (m[i] / denom);
        }
        try (Scope s = Scope.open()) {
            Tensor tp = Tensor.of(p0.clone(), n), tm = Tensor.of(m0.clone(), n), tv = Tensor.of(v0.clone(), n);
            Tensor copy = Tensor.empty(DType.BF16, n);
            new CpuBackend().adamw(tp, Tensor.of(g, n), tm, tv, lr, b1, b2, eps, wd, step, copy);
            assertArrayEquals(p, tp.toFloatArray(), "param");
            assertArrayEquals(m, tm.toFloatArray(), "exp_avg");
            assertArrayEquals(v, tv.toFloatArray(), "exp_avg_sq");
            float[] c = copy.toFloatArray();
            for (int i = 0; i < n; i++) assertEquals(Half.bf16ToFloat(Half.floatToBf16(p[i])), c[i], 0f, "bf16 copy");
        }
    }
}
