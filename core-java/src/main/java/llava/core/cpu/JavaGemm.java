package llava.core.cpu;

import java.util.Arrays;
import llava.core.DType;

/**
 * GEMM in Java for any float operand dtypes and strides: B is packed per (KC x NC) block into
 * strips of {@link FloatKernels#nr()} columns, A per (MC x KC) block into strips of
 * {@link FloatKernels#mr()} rows, both converted to F32 on the fly (so BF16/F16 weights are never
 * held as whole F32 copies), and {@link FloatKernels#tile} runs the register tile. Row blocks, and
 * column groups when there are few row blocks, are spread over the cores. M == 1 (decode) with a
 * unit-stride B runs as dot products or row updates straight from the storage array.
 */
final class JavaGemm {
    private JavaGemm() {}

    static final int KC = 256, NC = 512, MC_STRIPS = 16;

    private static final ThreadLocal<float[]> A_PANEL = ThreadLocal.withInitial(() -> new float[0]);

    /** c[cOff + i * ldc + j] += sum_k A(i, k) B(k, j) for i < M, j < N. */
    static void gemm(int M, int N, int K, Operand a, Operand b, float[] c, int cOff, int ldc) {
        if (M == 0 || N == 0 || K == 0) return;
        if (M == 1 && gemv(N, K, a, b, c, cOff)) return;
        FloatKernels fk = FloatKernels.get();
        int mr = fk.mr(), nr = fk.nr();
        int mc = mr * MC_STRIPS;
        int ncMax = (NC + nr - 1) / nr * nr;
        int kcMax = Math.min(KC, K);
        int stripsMax = (Math.min(ncMax, N) + nr - 1) / nr;
        float[] bp = new float[stripsMax * nr * kcMax];
        int threads = Parallel.threads();
        for (int jc = 0; jc < N; jc += ncMax) {
            int nc = Math.min(ncMax, N - jc);
            int strips = (nc + nr - 1) / nr;
            for (int pc = 0; pc < K; pc += KC) {
                int kc = Math.min(KC, K - pc);
                int j0 = jc, p0 = pc;
                boolean big = (long) M * nc * kc >= 1 << 18;
                Parallel.forRange(strips, big ? 1 : strips, (s, e) -> {
                    for (int st = s; st < e; st++) packB(b, p0, kc, j0 + st * nr, Math.min(nr, N - j0 - st * nr), nr, bp, st * kc * nr);
                });
                int rowBlocks = (M + mc - 1) / mc;
                int groups = rowBlocks >= 2 * threads ? 1 : Math.min(strips, (2 * threads + rowBlocks - 1) / rowBlocks);
                int tasks = rowBlocks * groups;
                Parallel.forRange(tasks, big ? 1 : tasks, (s, e) -> {
                    float[] ap = aPanel(mc * kc);
                    int packed = -1;
                    for (int t = s; t < e; t++) {
                        int rb = t / groups, g = t % groups;
                        int i0 = rb * mc, m = Math.min(mc, M - i0);
                        if (packed != rb) {
                            packA(a, i0, m, p0, kc, mr, ap);
                            packed = rb;
                        }
                        int sEnd = (int) ((long) strips * (g + 1) / groups);
                        for (int st = (int) ((long) strips * g / groups); st < sEnd; st++) {
                            int j = j0 + st * nr, n = Math.min(nr, N - j);
                            for (int ir = 0; ir < m; ir += mr) {
                                fk.tile(ap, ir * kc, bp, st * kc * nr, kc, c, cOff + (i0 + ir) * ldc + j, ldc,
                                    Math.min(mr, m - ir), n);
                            }
                        }
                    }
                });
            }
        }
    }

    private static float[] aPanel(int n) {
        float[] p = A_PANEL.get();
        if (p.length < n) {
            p = new float[n];
            A_PANEL.set(p);
        }
        return p;
    }

    /** Strip of B: dst[dOff + k * nr + jj] = B(p0 + k, j + jj), zero beyond w columns. */
    private static void packB(Operand b, int p0, int kc, int j, int w, int nr, float[] dst, int dOff) {
        if (w < nr) Arrays.fill(dst, dOff, dOff + kc * nr, 0f);
        b.loadBlock(p0, kc, j, w, dst, dOff, nr, 1);
    }

    /** Rows [i0, i0 + m) of A, columns [p0, p0 + kc), as strips of mr rows: dst[s * kc * mr + k * mr + ii]. */
    private static void packA(Operand a, int i0, int m, int p0, int kc, int mr, float[] dst) {
        for (int s = 0; s * mr < m; s++) {
            int h = Math.min(mr, m - s * mr);
            int d = s * kc * mr;
            if (h < mr) Arrays.fill(dst, d, d + kc * mr, 0f);
            a.loadBlock(i0 + s * mr, h, p0, kc, dst, d, 1, mr);
        }
    }

    /**
     * c[cOff + j] += sum_k a(0, k) B(k, j) when B has a unit stride and an F32 or BF16 dtype:
     * dot products over contiguous columns, or row updates over contiguous rows. False when not
     * applicable (the caller then runs the packed path).
     */
    static boolean gemv(int N, int K, Operand a, Operand b, float[] c, int cOff) {
        if (b.dt() != DType.F32 && b.dt() != DType.BF16) return false;
        boolean columns = b.rs() == 1 && (b.cs() != 1 || N == 1);
        if (!columns && b.cs() != 1) return false;
        FloatKernels fk = FloatKernels.get();
        float[] av = new float[K];
        a.loadRow(0, 0, K, av, 0);
        int grain = Math.max(16, (1 << 15) / K);
        Object barr = b.arr();
        int R = FloatKernels.GEMV_ROWS;
        if (b.dt() == DType.F32) {
            float[] bf = (float[]) barr;
            if (columns) { // c[j] += dot(a, B[:, j]), B[:, j] contiguous (a transposed weight row)
                Parallel.forRange(N, grain, (s, e) -> {
                    int j = s;
                    for (; j + R <= e; j += R) fk.dot4(av, 0, bf, b.off() + j * b.cs(), b.cs(), K, c, cOff + j);
                    for (; j < e; j++) c[cOff + j] += (float) fk.dot(av, 0, bf, b.off() + j * b.cs(), K);
                });
            } else { // c[s..e) += a[k] * B[k, s..e), four rows of B per pass
                Parallel.forRange(N, Math.max(grain, 64), (s, e) -> {
                    int k = 0;
                    for (; k + R <= K; k += R) fk.axpy4(av, k, bf, b.off() + k * b.rs() + s, b.rs(), c, cOff + s, e - s);
                    for (; k < K; k++) fk.axpy(av[k], bf, b.off() + k * b.rs() + s, c, cOff + s, e - s);
                });
            }
            return true;
        }
        short[] bh = (short[]) barr;
        if (columns) { // a split into even and odd elements once, for the pairwise bf16 widening
            float[] ae = new float[(K + 1) / 2], ao = new float[(K + 1) / 2];
            for (int k = 0; k < K; k++) {
                if ((k & 1) == 0) ae[k >> 1] = av[k];
                else ao[k >> 1] = av[k];
            }
            Parallel.forRange(N, grain, (s, e) -> {
                int j = s;
                for (; j + R <= e; j += R) fk.dot4Bf16(ae, ao, bh, b.off() + j * b.cs(), b.cs(), K, c, cOff + j);
                for (; j < e; j++) c[cOff + j] += (float) fk.dotBf16(ae, ao, bh, b.off() + j * b.cs(), K);
            });
        } else { // the output chunk accumulated as even and odd elements, interleaved at the end
            Parallel.forRange(N, Math.max(grain, 64), (s, e) -> {
                int w = e - s;
                float[] ye = new float[(w + 1) / 2], yo = new float[(w + 1) / 2];
                int k = 0;
                for (; k + R <= K; k += R) fk.axpy4Bf16(av, k, bh, b.off() + k * b.rs() + s, b.rs(), ye, yo, w);
                for (; k < K; k++) fk.axpyBf16(av[k], bh, b.off() + k * b.rs() + s, ye, yo, w);
                for (int i = 0; i < w; i++) c[cOff + s + i] += (i & 1) == 0 ? ye[i >> 1] : yo[i >> 1];
            });
        }
        return true;
    }
}
