package llava.core.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import llava.core.Half;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Vector API kernels against the plain-Java ones (and against double references), on lengths
 * that exercise the vector loops, the block sums and the scalar tails.
 */
class FloatKernelsTest {
    private static final int[] LENGTHS = {0, 1, 7, 16, 33, 255, 256, 257, 1000, 2049};
    private final Random rnd = new Random(11);
    private final FloatKernels scalar = FloatKernels.scalar();
    private FloatKernels vec;

    @BeforeEach
    void vectorKernels() {
        Assumptions.assumeTrue(FloatKernels.vectorized(), "Vector API not enabled in this JVM");
        vec = FloatKernels.get();
    }

    private float[] rand(int n) {
        float[] v = new float[n + 3]; // room for an offset of 3
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }

    private static void near(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[i]) <= tol * (1 + Math.abs(expected[i])))) {
                throw new AssertionError(what + " at " + i + ": expected " + expected[i] + " got " + actual[i]);
            }
        }
    }

    @Test void expWithinTwoUlpAndSpecialValues() {
        int n = 200001;
        float[] xs = new float[n], es = new float[n];
        for (int i = 0; i < n; i++) xs[i] = -87f + i * (175f / (n - 1));
        vec.expScale(xs, 0, n, 0f, 1f, es, 0);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp(xs[i]);
            if (e > Float.MAX_VALUE / 2) continue;
            worst = Math.max(worst, Math.abs(es[i] - e) / Math.ulp((float) e));
        }
        assertTrue(worst <= 2, "exp max error " + worst + " ulp");
        assertEquals(1f, vec.exp(0f));
        assertEquals(0f, vec.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, vec.exp(-200f));
        assertEquals(Float.POSITIVE_INFINITY, vec.exp(Float.POSITIVE_INFINITY));
        assertEquals(Float.POSITIVE_INFINITY, vec.exp(100f));
        assertTrue(Float.isNaN(vec.exp(Float.NaN)));
        // the whole-array path agrees with the scalar function lane by lane
        float[] x = {Float.NEGATIVE_INFINITY, -100, -87.5f, -10, -1, 0, 1e-8f, 0.5f, 3, 20, 80, 88, 88.5f, 100, Float.NaN,
            Float.POSITIVE_INFINITY, -0f};
        float[] out = new float[x.length];
        vec.expScale(x, 0, x.length, 0f, 1f, out, 0);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(vec.exp(x[i])), Float.floatToIntBits(out[i]), "lane " + i + " x=" + x[i]);
        }
    }

    @Test void reductionsAndRowPasses() {
        for (int n : LENGTHS) {
            float[] a = rand(n), b = rand(n), w = rand(n);
            double ref = 0, refSum = 0;
            for (int i = 0; i < n; i++) {
                ref += (double) a[i + 3] * b[i + 1];
                refSum += a[i + 3];
            }
            double tol = 1e-6 * (1 + n);
            assertEquals(ref, vec.dot(a, 3, b, 1, n), tol, "dot n=" + n);
            assertEquals(ref, scalar.dot(a, 3, b, 1, n), tol, "scalar dot n=" + n);
            assertEquals(refSum, vec.sum(a, 3, n), tol, "sum n=" + n);
            assertEquals(scalar.max(a, 3, n), vec.max(a, 3, n), "max n=" + n);
            double refExp = 0;
            for (int i = 0; i < n; i++) refExp += Math.exp(a[i + 3] - 0.5);
            float[] ev = new float[n], es = new float[n];
            assertEquals(refExp, vec.expSum(a, 3, n, 0.5f, ev, 0), 1e-6 * (1 + refExp), "expSum n=" + n);
            scalar.expSum(a, 3, n, 0.5f, es, 0);
            near(es, ev, 3e-7, "exp values n=" + n);
            assertEquals(vec.expSum(a, 3, n, 0.5f, null, 0), vec.expSum(a, 3, n, 0.5f, ev, 0), 0, "expSum without output");
            double refSq = 0;
            for (int i = 0; i < n; i++) refSq += (a[i + 3] - 0.25) * (a[i + 3] - 0.25);
            assertEquals(refSq, vec.sumSqDiff(a, 3, n, 0.25f), tol * 4, "sumSqDiff n=" + n);
            double refW = 0;
            for (int i = 0; i < n; i++) refW += (double) a[i] * w[i] * b[i];
            assertEquals(refW, vec.dotWeighted(a, 0, w, 0, b, 0, n), tol * 4, "dotWeighted n=" + n);
            assertEquals(vec.dot(a, 0, b, 0, n), vec.dotWeighted(a, 0, null, 0, b, 0, n), 0, "dotWeighted without weight");

            float[][] outs = new float[2][];
            for (int k = 0; k < 2; k++) {
                FloatKernels f = k == 0 ? scalar : vec;
                float[] o = new float[n * 12];
                f.scale(a, 3, n, 1.5f, o, 0);
                f.addScalar(a, 3, n, -0.75f, o, n);
                f.mulSub(a, 3, b, 1, 0.3f, o, 2 * n, n);
                f.subExpScaled(b, 1, a, 3, 0.7f, o, 3 * n, n);
                f.rmsApply(a, 3, 0.9f, w, 0, o, 4 * n, n);
                f.rmsApply(a, 3, 0.9f, null, 0, o, 5 * n, n);
                f.layerNormApply(a, 3, 0.1f, 1.3f, w, 0, b, 0, o, 6 * n, n);
                f.siluMul(a, 3, b, 0, o, 7 * n, n);
                f.expScale(a, 3, n, 1.5f, 2f, o, 8 * n);
                System.arraycopy(b, 0, o, 9 * n, n);
                f.axpy(0.37f, a, 3, o, 9 * n, n);
                f.siluMulBackward(a, 3, b, 0, w, 1, o, 10 * n, o, 11 * n, n);
                outs[k] = o;
            }
            near(outs[0], outs[1], 1e-6, "row passes n=" + n);
        }
    }

    @Test void normBackwardRows() {
        for (int n : LENGTHS) {
            float[] x = rand(n), g = rand(n), w = rand(n);
            float[][] gx = new float[2][n + 1], gw = new float[2][n], gb = new float[2][n];
            double[][] sums = new double[2][2];
            float[][] lx = new float[2][n];
            for (int k = 0; k < 2; k++) {
                FloatKernels f = k == 0 ? scalar : vec;
                java.util.Arrays.fill(gw[k], 0.5f);
                f.rmsBackwardRow(x, 2, g, 1, w, 0, 1.25f, 0.3f, gx[k], 1, gw[k], n);
                f.layerNormBackwardSums(x, 2, g, 1, w, 0, 0.2f, 1.1f, gw[k], gb[k], n, sums[k]);
                f.layerNormBackwardApply(x, 2, g, 1, null, 0, 0.2f, 1.1f, 0.05f, -0.4f, lx[k], 0, n);
            }
            near(gx[0], gx[1], 1e-6, "rms backward n=" + n);
            near(gw[0], gw[1], 1e-6, "weight grads n=" + n);
            near(gb[0], gb[1], 1e-6, "bias grads n=" + n);
            near(lx[0], lx[1], 1e-6, "layer norm backward n=" + n);
            assertEquals(sums[0][0], sums[1][0], 1e-5 * (1 + n));
            assertEquals(sums[0][1], sums[1][1], 1e-5 * (1 + n));
        }
    }

    @Test void bf16PairsMatchScalarConversion() {
        for (int n : LENGTHS) {
            float[] a = rand(n);
            short[] b = new short[n + 5];
            for (int i = 0; i < b.length; i++) b[i] = Half.floatToBf16((float) rnd.nextGaussian());
            float[] ae = new float[(n + 1) / 2], ao = new float[(n + 1) / 2];
            double ref = 0;
            for (int i = 0; i < n; i++) {
                if ((i & 1) == 0) ae[i >> 1] = a[i];
                else ao[i >> 1] = a[i];
                ref += (double) a[i] * Half.bf16ToFloat(b[i + 3]);
            }
            assertEquals(ref, vec.dotBf16(ae, ao, b, 3, n), 1e-6 * (1 + n), "dotBf16 n=" + n);
            assertEquals(ref, scalar.dotBf16(ae, ao, b, 3, n), 1e-6 * (1 + n), "scalar dotBf16 n=" + n);
            float[][] ye = new float[2][(n + 1) / 2], yo = new float[2][(n + 1) / 2];
            scalar.axpyBf16(0.7f, b, 1, ye[0], yo[0], n);
            vec.axpyBf16(0.7f, b, 1, ye[1], yo[1], n);
            for (int i = 0; i < n; i++) {
                float want = 0.7f * Half.bf16ToFloat(b[1 + i]);
                assertEquals(want, (i & 1) == 0 ? ye[1][i >> 1] : yo[1][i >> 1], 1e-6f, "axpyBf16 n=" + n + " i=" + i);
            }
            near(ye[0], ye[1], 1e-7, "axpyBf16 even");
            near(yo[0], yo[1], 1e-7, "axpyBf16 odd");
        }
    }

    @Test void multiRowGemvKernels() {
        for (int n : LENGTHS) {
            int ld = n + 5;
            float[] a = rand(n), w = rand(4 * ld), alpha = rand(4);
            short[] wb = new short[4 * ld];
            for (int i = 0; i < wb.length; i++) wb[i] = Half.floatToBf16(w[i]);
            float[] ae = new float[(n + 1) / 2], ao = new float[(n + 1) / 2];
            for (int i = 0; i < n; i++) {
                if ((i & 1) == 0) ae[i >> 1] = a[i];
                else ao[i >> 1] = a[i];
            }
            float[][] d = new float[2][5], db = new float[2][5];
            float[][] y = new float[2][], ye = new float[2][(n + 1) / 2], yo = new float[2][(n + 1) / 2];
            float[] y0 = rand(n);
            int ny = Math.max(0, n - 3);
            for (int k = 0; k < 2; k++) {
                FloatKernels f = k == 0 ? scalar : vec;
                d[k][0] = 1f;
                f.dot4(a, 0, w, 2, ld, n, d[k], 1);
                f.dot4Bf16(ae, ao, wb, 2, ld, n, db[k], 1);
                y[k] = y0.clone();
                f.axpy4(alpha, 0, w, 1, ld, y[k], 3, ny);
                f.axpy4Bf16(alpha, 0, wb, 1, ld, ye[k], yo[k], n);
            }
            for (int r = 0; r < 4; r++) {
                double ref = 0, refB = 0;
                for (int i = 0; i < n; i++) {
                    ref += (double) a[i] * w[2 + r * ld + i];
                    refB += (double) a[i] * Half.bf16ToFloat(wb[2 + r * ld + i]);
                }
                assertEquals(ref, d[1][1 + r], 1e-5 * (1 + n), "dot4 n=" + n + " row " + r);
                assertEquals(ref, d[0][1 + r], 1e-5 * (1 + n), "scalar dot4 n=" + n + " row " + r);
                assertEquals(refB, db[1][1 + r], 1e-5 * (1 + n), "dot4Bf16 n=" + n + " row " + r);
            }
            assertEquals(1f, d[1][0], "dot4 writes only its four outputs");
            for (int i = 0; i < ny; i++) {
                double ref = y0[3 + i];
                for (int r = 0; r < 4; r++) ref += (double) alpha[r] * w[1 + r * ld + i];
                assertEquals(ref, y[1][3 + i], 1e-5, "axpy4 n=" + n + " i=" + i);
            }
            near(y[0], y[1], 1e-6, "axpy4 n=" + n);
            near(ye[0], ye[1], 1e-6, "axpy4Bf16 even n=" + n);
            near(yo[0], yo[1], 1e-6, "axpy4Bf16 odd n=" + n);
        }
    }

    @Test void adamwIsBitIdenticalToTheScalarOrder() {
        for (int n : LENGTHS) {
            float[][] p = new float[2][], m = new float[2][], v = new float[2][];
            float[] g = rand(n);
            float[] p0 = rand(n), m0 = rand(n), v0 = rand(n);
            for (int i = 0; i < v0.length; i++) v0[i] = Math.abs(v0[i]);
            for (int k = 0; k < 2; k++) {
                p[k] = p0.clone();
                m[k] = m0.clone();
                v[k] = v0.clone();
                (k == 0 ? scalar : vec).adamw(p[k], 1, g, 2, m[k], 0, v[k], 3, n, true, 0.999f, 0.9f, 0.1f, 0.95f, 0.05f,
                    1e-3f, 0.3f, 1e-8f);
            }
            assertArrayEquals(p[0], p[1], "param n=" + n);
            assertArrayEquals(m[0], m[1], "exp_avg n=" + n);
            assertArrayEquals(v[0], v[1], "exp_avg_sq n=" + n);
        }
    }

    @Test void ropeAndBinaryAreExact() {
        for (int half : new int[] {1, 4, 16, 17, 64, 100}) {
            float[] x = rand(2 * half), c = rand(half), s = rand(half);
            float[] o1 = new float[2 * half], o2 = new float[2 * half];
            scalar.rope(x, 0, half, c, s, o1, 0, half, half);
            vec.rope(x, 0, half, c, s, o2, 0, half, half);
            assertArrayEquals(o1, o2, "rope half=" + half);
        }
        for (int n : LENGTHS) {
            float[] a = rand(n), b = rand(n);
            if (n > 5) {
                a[3] = Float.NaN;
                b[5] = Float.NaN;
                b[4] = -0f;
                a[4 + 3] = 0f;
            }
            for (FloatKernels.Bin op : FloatKernels.Bin.values()) {
                for (int ai = 0; ai <= 1; ai++)
                    for (int bi = 0; bi <= 1; bi++) {
                        float[] o1 = new float[n], o2 = new float[n];
                        scalar.binary(op, a, 3, ai, b, 0, bi, o1, 0, n);
                        vec.binary(op, a, 3, ai, b, 0, bi, o2, 0, n);
                        for (int i = 0; i < n; i++) {
                            float want = FloatKernels.apply(op, a[3 + i * ai], b[i * bi]);
                            if (Float.isNaN(want)) assertTrue(Float.isNaN(o2[i]), op + " NaN at " + i);
                            else assertEquals(want, o2[i], 0f, op + " n=" + n + " i=" + i);
                            assertEquals(Float.isNaN(o1[i]), Float.isNaN(o2[i]));
                        }
                    }
            }
        }
    }

    @Test void gemmTilesAgainstDouble() {
        int[][] shapes = {{1, 1, 1}, {6, 32, 7}, {13, 37, 29}, {48, 64, 64}, {5, 70, 3}, {12, 16, 0}};
        for (int[] sh : shapes) {
            int m = sh[0], n = sh[1], k = sh[2];
            int lda = k + 2, ldb = n + 3, ldc = n + 1;
            float[] a = rand(m * lda), b = rand(k * ldb);
            for (FloatKernels f : new FloatKernels[] {scalar, vec}) {
                float[] c = rand(m * ldc);
                float[] c0 = c.clone();
                f.gemm(m, n, k, a, 1, lda, b, 2, ldb, c, 0, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double ref = c0[i * ldc + j];
                        double mag = Math.abs(ref);
                        for (int p = 0; p < k; p++) {
                            ref += (double) a[1 + i * lda + p] * b[2 + p * ldb + j];
                            mag += Math.abs((double) a[1 + i * lda + p] * b[2 + p * ldb + j]);
                        }
                        assertEquals(ref, c[i * ldc + j], (k + 2) * 0x1p-23 * mag + 1e-30, "gemm " + java.util.Arrays.toString(sh));
                    }
                // padding columns of C stay untouched
                for (int i = 0; i < m; i++) assertEquals(c0[i * ldc + n], c[i * ldc + n]);
            }
        }
    }

    @Test void packedTileHandlesPartialTiles() {
        for (FloatKernels f : new FloatKernels[] {scalar, vec}) {
            int mr = f.mr(), nr = f.nr(), kc = 37;
            float[] ap = rand(mr * kc), bp = rand(nr * kc);
            for (int m = 1; m <= mr; m += mr - 1) {
                for (int n : new int[] {1, nr / 2 + 1, nr}) {
                    int ldc = nr + 2;
                    float[] c = new float[mr * ldc];
                    f.tile(ap, 0, bp, 0, kc, c, 0, ldc, m, n);
                    for (int i = 0; i < mr; i++)
                        for (int j = 0; j < ldc; j++) {
                            double ref = 0, mag = 0;
                            if (i < m && j < n) {
                                for (int p = 0; p < kc; p++) {
                                    ref += (double) ap[p * mr + i] * bp[p * nr + j];
                                    mag += Math.abs((double) ap[p * mr + i] * bp[p * nr + j]);
                                }
                            }
                            assertEquals(ref, c[i * ldc + j], (kc + 2) * 0x1p-23 * mag, "tile m=" + m + " n=" + n);
                        }
                }
            }
        }
    }
}
