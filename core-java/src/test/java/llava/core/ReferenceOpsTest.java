package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** F32 (and BF16) results of the ops against independent float64 loops written here. */
class ReferenceOpsTest {
    private final Generator gen = new Generator(7);

    static void close(double[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Math.abs(e - a) > atol + rtol * Math.abs(e)) {
                throw new AssertionError(what + ": element " + i + " expected " + e + " got " + a);
            }
        }
    }

    private double[] rnd(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = gen.nextGaussian();
        return v;
    }

    private static Tensor f32(double[] v, int... shape) {
        return Tensor.fromDoubles(v, DType.F32, Device.CPU, shape);
    }

    /** The reference sees the same F32-rounded inputs as the op under test. */
    private static double[] rounded(double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) r[i] = (float) v[i];
        return r;
    }

    @Test void matmulBatchedAndTransposed() {
        int B = 3, M = 17, K = 33, N = 9;
        double[] a = rounded(rnd(B * M * K)), b = rounded(rnd(K * N));
        double[] ref = new double[B * M * N];
        for (int bb = 0; bb < B; bb++)
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) s += a[(bb * M + i) * K + k] * b[k * N + j];
                    ref[(bb * M + i) * N + j] = s;
                }
        try (Scope s = Scope.open()) {
            Tensor ta = f32(a, B, M, K), tb = f32(b, K, N);
            close(ref, ta.matmul(tb).toFloatArray(), 1e-4, 1e-5, "matmul");
            // same product with B stored transposed ([N, K] viewed as [K, N]) and A permuted
            Tensor tbT = tb.t().contiguous().t();
            close(ref, ta.matmul(tbT).toFloatArray(), 1e-4, 1e-5, "matmul with transposed B");
            Tensor taP = ta.permute(1, 0, 2).contiguous().permute(1, 0, 2);
            close(ref, taP.matmul(tb).toFloatArray(), 1e-4, 1e-5, "matmul with permuted A");
            // bf16 inputs, F32 accumulation: compare with the reference on bf16-rounded inputs
            Tensor ab = ta.to(DType.BF16), bb16 = tb.to(DType.BF16);
            float[] abf = ab.toFloatArray(), bbf = bb16.toFloatArray();
            double[] ref16 = new double[B * M * N];
            for (int x = 0; x < B; x++)
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double sum = 0;
                        for (int k = 0; k < K; k++) sum += abf[(x * M + i) * K + k] * (double) bbf[k * N + j];
                        ref16[(x * M + i) * N + j] = sum;
                    }
            close(ref16, ab.matmul(bb16).toFloatArray(), 0.02, 8e-3, "bf16 matmul (output rounded to bf16)");
        }
    }

    @Test void softmaxAndLogSoftmax() {
        int R = 5, C = 37;
        double[] x = rounded(rnd(R * C));
        double[] sm = new double[R * C], lsm = new double[R * C];
        for (int r = 0; r < R; r++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int c = 0; c < C; c++) m = Math.max(m, x[r * C + c]);
            for (int c = 0; c < C; c++) s += Math.exp(x[r * C + c] - m);
            for (int c = 0; c < C; c++) {
                sm[r * C + c] = Math.exp(x[r * C + c] - m) / s;
                lsm[r * C + c] = x[r * C + c] - m - Math.log(s);
            }
        }
        try (Tensor t = f32(x, R, C); Tensor a = t.softmax(-1); Tensor b = t.logSoftmax(1)) {
            close(sm, a.toFloatArray(), 1e-7, 1e-6, "softmax");
            close(lsm, b.toFloatArray(), 1e-6, 1e-6, "log_softmax");
        }
    }

    @Test void rmsNormAndLayerNorm() {
        int R = 6, C = 64;
        double eps = 1e-6;
        double[] x = rounded(rnd(R * C)), w = rounded(rnd(C)), b = rounded(rnd(C));
        double[] rms = new double[R * C], ln = new double[R * C];
        for (int r = 0; r < R; r++) {
            double ss = 0, m = 0, v = 0;
            for (int c = 0; c < C; c++) { ss += x[r * C + c] * x[r * C + c]; m += x[r * C + c]; }
            m /= C;
            for (int c = 0; c < C; c++) v += (x[r * C + c] - m) * (x[r * C + c] - m);
            v /= C;
            for (int c = 0; c < C; c++) {
                rms[r * C + c] = w[c] * x[r * C + c] / Math.sqrt(ss / C + eps);
                ln[r * C + c] = (x[r * C + c] - m) / Math.sqrt(v + 1e-5) * w[c] + b[c];
            }
        }
        try (Scope s = Scope.open()) {
            Tensor tx = f32(x, 2, 3, C), tw = f32(w, C), tb = f32(b, C);
            close(rms, F.rmsNorm(tx, tw, eps).toFloatArray(), 1e-5, 1e-5, "rms_norm");
            close(ln, F.layerNorm(tx, tw, tb, 1e-5).toFloatArray(), 1e-5, 1e-5, "layer_norm");
        }
    }

    @Test void ropeRotateHalf() {
        int B = 2, T = 5, H = 3, D = 8;
        double[] x = rounded(rnd(B * T * H * D));
        long[] pos = {0, 1, 2, 3, 4, 7, 9, 11, 13, 100};
        float[] inv = new float[D / 2];
        for (int i = 0; i < D / 2; i++) inv[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / D));
        double[] ref = new double[x.length];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < D / 2; i++) {
                        int base = ((b * T + t) * H + h) * D;
                        double ang = (double) (float) ((float) pos[b * T + t] * inv[i]);
                        double c = Math.cos(ang), sn = Math.sin(ang);
                        ref[base + i] = x[base + i] * c - x[base + i + D / 2] * sn;
                        ref[base + i + D / 2] = x[base + i + D / 2] * c + x[base + i] * sn;
                    }
        try (Scope s = Scope.open()) {
            Tensor out = F.rope(f32(x, B, T, H, D), Tensor.of(pos, B, T), Tensor.of(inv, D / 2));
            close(ref, out.toFloatArray(), 1e-5, 1e-5, "rope");
        }
    }

    /** Naive attention with the full score matrix, in double. */
    static double[] naiveAttention(double[] q, double[] k, double[] v, boolean[] mask, boolean causal, double scale,
                                   int B, int Hq, int Hkv, int Tq, int Tk, int D) {
        double[] out = new double[B * Hq * Tq * D];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < Hq; h++) {
                int hk = h / (Hq / Hkv);
                for (int i = 0; i < Tq; i++) {
                    double[] s = new double[Tk];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < Tk; j++) {
                        boolean ok = (mask == null || mask[b * Tk + j]) && (!causal || j <= i + Tk - Tq);
                        if (!ok) { s[j] = Double.NEGATIVE_INFINITY; continue; }
                        double d = 0;
                        for (int c = 0; c < D; c++) d += q[((b * Hq + h) * Tq + i) * D + c] * k[((b * Hkv + hk) * Tk + j) * D + c];
                        s[j] = d * scale;
                        m = Math.max(m, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j < Tk; j++) z += s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m);
                    for (int c = 0; c < D; c++) {
                        double acc = 0;
                        for (int j = 0; j < Tk; j++) {
                            if (s[j] == Double.NEGATIVE_INFINITY) continue;
                            acc += Math.exp(s[j] - m) / z * v[((b * Hkv + hk) * Tk + j) * D + c];
                        }
                        out[((b * Hq + h) * Tq + i) * D + c] = z == 0 ? 0 : acc;
                    }
                }
            }
        return out;
    }

    @Test void attentionAgainstNaive() {
        int B = 2, Hq = 4, Hkv = 2, Tq = 3, Tk = 7, D = 16;
        double[] q = rounded(rnd(B * Hq * Tq * D)), k = rounded(rnd(B * Hkv * Tk * D)), v = rounded(rnd(B * Hkv * Tk * D));
        boolean[] mask = {true, true, true, true, true, false, false, true, true, true, true, true, true, true};
        for (boolean causal : new boolean[] {false, true}) {
            double[] ref = naiveAttention(q, k, v, mask, causal, 0.25, B, Hq, Hkv, Tq, Tk, D);
            try (Scope s = Scope.open()) {
                Tensor out = F.scaledDotProductAttention(f32(q, B, Hq, Tq, D), f32(k, B, Hkv, Tk, D), f32(v, B, Hkv, Tk, D),
                    Tensor.of(mask, B, Tk), causal, 0.25);
                close(ref, out.toFloatArray(), 1e-5, 1e-5, "attention causal=" + causal);
            }
        }
    }

    @Test void crossEntropyMeanOverCountedRows() {
        int N = 5, V = 11;
        double[] x = rounded(rnd(N * V));
        long[] t = {3, -100, 10, 0, -100};
        double sum = 0;
        int n = 0;
        for (int r = 0; r < N; r++) {
            if (t[r] == -100) continue;
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int c = 0; c < V; c++) m = Math.max(m, x[r * V + c]);
            for (int c = 0; c < V; c++) z += Math.exp(x[r * V + c] - m);
            sum += m + Math.log(z) - x[r * V + (int) t[r]];
            n++;
        }
        try (Scope s = Scope.open()) {
            Tensor loss = F.crossEntropy(f32(x, N, V), Tensor.of(t, N), -100);
            assertEquals(DType.F32, loss.dtype());
            assertEquals(sum / n, loss.item(), 1e-6);
            // bf16 logits: F32 math on the widened values
            Tensor lb = f32(x, N, V).to(DType.BF16);
            float[] xb = lb.toFloatArray();
            double sb = 0;
            for (int r = 0; r < N; r++) {
                if (t[r] == -100) continue;
                double m = Double.NEGATIVE_INFINITY, z = 0;
                for (int c = 0; c < V; c++) m = Math.max(m, xb[r * V + c]);
                for (int c = 0; c < V; c++) z += Math.exp(xb[r * V + c] - m);
                sb += m + Math.log(z) - xb[r * V + (int) t[r]];
            }
            assertEquals(sb / n, F.crossEntropy(lb, Tensor.of(t, N), -100).item(), 1e-5);
        }
    }

    @Test void activationsAndSiluMul() {
        double[] x = rounded(rnd(50)), u = rounded(rnd(50));
        double[] silu = new double[50], gelu = new double[50], geluT = new double[50], qg = new double[50], sm = new double[50];
        for (int i = 0; i < 50; i++) {
            double s = 1 / (1 + Math.exp(-x[i]));
            silu[i] = x[i] * s;
            sm[i] = x[i] * s * u[i];
            qg[i] = x[i] / (1 + Math.exp(-1.702 * x[i]));
            geluT[i] = 0.5 * x[i] * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x[i] + 0.044715 * Math.pow(x[i], 3))));
            // erf by numerical integration (Simpson) as an independent reference
            double a = x[i] / Math.sqrt(2), steps = 2000, h = a / steps, acc = 0;
            for (int k = 0; k <= steps; k++) {
                double w = (k == 0 || k == steps) ? 1 : (k % 2 == 1 ? 4 : 2);
                acc += w * Math.exp(-(k * h) * (k * h));
            }
            double erf = 2 / Math.sqrt(Math.PI) * acc * h / 3;
            gelu[i] = 0.5 * x[i] * (1 + erf);
        }
        try (Scope s = Scope.open()) {
            Tensor tx = f32(x, 50), tu = f32(u, 50);
            close(silu, tx.silu().toFloatArray(), 1e-6, 1e-6, "silu");
            close(gelu, tx.gelu().toFloatArray(), 1e-6, 1e-6, "gelu");
            close(geluT, tx.geluTanh().toFloatArray(), 1e-6, 1e-6, "gelu_tanh");
            close(qg, tx.quickGelu().toFloatArray(), 1e-6, 1e-6, "quick_gelu");
            close(sm, F.siluMul(tx, tu).toFloatArray(), 1e-6, 1e-6, "silu_mul");
        }
    }

    @Test void reductionsOverDims() {
        int A = 3, Bd = 4, C = 5;
        double[] x = rounded(rnd(A * Bd * C));
        double[] sum02 = new double[Bd], max1 = new double[A * C], mean = {0};
        java.util.Arrays.fill(max1, Double.NEGATIVE_INFINITY);
        for (int a = 0; a < A; a++)
            for (int b = 0; b < Bd; b++)
                for (int c = 0; c < C; c++) {
                    double v = x[(a * Bd + b) * C + c];
                    sum02[b] += v;
                    max1[a * C + c] = Math.max(max1[a * C + c], v);
                    mean[0] += v / (A * Bd * C);
                }
        try (Scope s = Scope.open()) {
            Tensor t = f32(x, A, Bd, C);
            close(sum02, t.sum(new int[] {0, 2}, false).toFloatArray(), 1e-5, 1e-6, "sum over dims 0,2");
            close(max1, t.max(1, false).toFloatArray(), 0, 0, "max over dim 1");
            close(mean, new float[] {(float) t.mean().item()}, 1e-6, 1e-6, "mean");
            long[] am = t.argmax(1, false).toLongArray();
            for (int a = 0; a < A; a++)
                for (int c = 0; c < C; c++)
                    assertEquals(max1[a * C + c], x[(a * Bd + (int) am[a * C + c]) * C + c], 0, "argmax");
            Tensor v = t.var(2, false, 1);
            double[] var = new double[A * Bd];
            for (int r = 0; r < A * Bd; r++) {
                double m = 0, q = 0;
                for (int c = 0; c < C; c++) m += x[r * C + c] / C;
                for (int c = 0; c < C; c++) q += (x[r * C + c] - m) * (x[r * C + c] - m);
                var[r] = q / (C - 1);
            }
            close(var, v.toFloatArray(), 1e-5, 1e-5, "var");
            // exact int64 sums beyond 2^53
            Tensor big = Tensor.of(new long[] {1L << 60, 1, 3}, 3);
            assertEquals((1L << 60) + 4, big.sum().toLongArray()[0]);
            // and along a dim of a strided view: [[2^60, 1], [3, 2^60]] transposed, summed over dim 0
            Tensor grid = Tensor.of(new long[] {1L << 60, 1, 3, 1L << 60}, 2, 2).transpose(0, 1);
            assertArrayEquals(new long[] {(1L << 60) + 1, (1L << 60) + 3}, grid.sum(0, false).toLongArray());
            // max and min too: 2^60 + 1 and 2^60 are the same double
            Tensor near = Tensor.of(new long[] {1L << 60, (1L << 60) + 1, (1L << 60) - 1, 1L << 60}, 2, 2);
            assertEquals((1L << 60) + 1, near.max().toLongArray()[0]);
            assertEquals((1L << 60) - 1, near.min().toLongArray()[0]);
            assertArrayEquals(new long[] {(1L << 60) + 1, 1L << 60}, near.max(1, false).toLongArray());
        }
    }

    @Test void halfPrecisionConversionsRoundToNearestEven() {
        // bf16: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1); 1 + 3*2^-9 rounds up
        assertEquals(1.0f, Half.bf16ToFloat(Half.floatToBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-7f, Half.bf16ToFloat(Half.floatToBf16(1f + 3 * 0x1p-9f)));
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))));
        // f16: all 65536 bit patterns survive f16 -> f32 -> f16 (NaNs stay NaN)
        for (int b = 0; b < 65536; b++) {
            float f = Half.f16ToFloat((short) b);
            short back = Half.floatToF16(f);
            if (Float.isNaN(f)) assertTrue(Float.isNaN(Half.f16ToFloat(back)));
            else assertEquals((short) b, back, "f16 pattern " + b);
        }
        assertEquals(65504f, Half.f16ToFloat(Half.floatToF16(65519f)));
        assertEquals(Float.POSITIVE_INFINITY, Half.f16ToFloat(Half.floatToF16(65520f)));
        assertEquals(0x1p-24f, Half.f16ToFloat(Half.floatToF16(0x1.8p-25f)));
        assertEquals(0f, Half.f16ToFloat(Half.floatToF16(0x1p-25f)));
        // tensor casts use the same rounding
        try (Tensor t = Tensor.of(new float[] {1f + 0x1p-8f, -2.5f}, 2); Tensor b = t.to(DType.BF16)) {
            assertArrayEquals(new float[] {1f, -2.5f}, b.toFloatArray());
        }
    }
}
