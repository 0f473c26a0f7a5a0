package llava.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Half;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The GEMM paths (OpenBLAS with native panels, the Java packed kernel, the M == 1 kernels) against
 * a float64 reference, on odd shapes with row-major, transposed and doubly strided operands in
 * F32, BF16 and F16, and the dispatch through the backend (batch folding, batches of small items,
 * bias, half outputs, empty dimensions).
 */
class MatmulPathsTest {
    private final Random rnd = new Random(5);

    enum Layout { ROW_MAJOR, TRANSPOSED, STRIDED }

    /** A logical rows x cols matrix stored with the given layout (padding around it). */
    private Operand matrix(int rows, int cols, Layout layout, DType dt) {
        int off, rs, cs, size;
        switch (layout) {
            case ROW_MAJOR -> { off = 1; rs = cols + 1; cs = 1; size = 1 + rows * rs + 1; }
            case TRANSPOSED -> { off = 2; rs = 1; cs = rows + 2; size = 2 + cols * cs + 1; }
            default -> { off = 3; cs = 2; rs = 2 * cols + 1; size = 3 + rows * rs + 1; }
        }
        Object arr;
        if (dt == DType.F32) {
            float[] a = new float[size];
            for (int i = 0; i < size; i++) a[i] = rnd.nextFloat() * 2 - 1;
            arr = a;
        } else {
            short[] a = new short[size];
            for (int i = 0; i < size; i++) a[i] = Half.fromFloat(rnd.nextFloat() * 2 - 1, dt);
            arr = a;
        }
        return new Operand(arr, dt, off, rs, cs);
    }

    private static double get(Operand m, int i, int j) {
        int at = m.off() + i * m.rs() + j * m.cs();
        return m.dt() == DType.F32 ? ((float[]) m.arr())[at] : Half.toFloat(((short[]) m.arr())[at], m.dt());
    }

    /** The logical matrix as doubles, [rows][cols]. */
    private static double[][] dense(Operand m, int rows, int cols) {
        double[][] d = new double[rows][cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) d[i][j] = get(m, i, j);
        return d;
    }

    /** Checks c[cOff + i * ldc + j] == init + A B within the worst-case F32 summation bound. */
    private static void check(int M, int N, int K, Operand a, Operand b, float[] c, int cOff, int ldc, float init, String what) {
        double[][] ad = dense(a, M, K), bt = dense(b.t(), N, K);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = init, mag = Math.abs(init);
                double[] ar = ad[i], br = bt[j];
                for (int k = 0; k < K; k++) {
                    double p = ar[k] * br[k];
                    ref += p;
                    mag += Math.abs(p);
                }
                double got = c[cOff + i * ldc + j];
                if (!(Math.abs(got - ref) <= (K + 2) * 0x1p-23 * mag + 1e-30)) {
                    throw new AssertionError(what + ": (" + i + ", " + j + ") expected " + ref + " got " + got);
                }
            }
    }

    /** Every layout pair runs on these; BIG (crossing the KC, MC and NC blocks) on three pairs. */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {1, 37, 53}, {1, 300, 1}, {2, 3, 1}, {7, 1, 40}, {37, 29, 53}, {0, 5, 3}, {5, 0, 3}, {4, 6, 0},
    };
    // the last two are split over the pool by OpenBLAS's caller (>= Blas.SPLIT_MIN_MACS): by
    // columns, and by rows (M > 2 N)
    private static final int[][] BIG = {{97, 131, 67}, {64, 600, 40}, {200, 300, 600}, {1200, 100, 300}};
    private static final Layout[][] BIG_LAYOUTS = {
        {Layout.ROW_MAJOR, Layout.TRANSPOSED}, {Layout.TRANSPOSED, Layout.ROW_MAJOR}, {Layout.STRIDED, Layout.STRIDED},
    };

    /** Runs body on every (shape, layout of A, layout of B) combination described above. */
    private static void forCases(CaseBody body) {
        for (int[] s : SHAPES)
            for (Layout la : Layout.values())
                for (Layout lb : Layout.values()) body.run(s, la, lb);
        for (int[] s : BIG)
            for (Layout[] l : BIG_LAYOUTS) body.run(s, l[0], l[1]);
    }

    private interface CaseBody {
        void run(int[] shape, Layout la, Layout lb);
    }

    @Test void javaKernelAllLayoutsAndDtypes() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            forCases((s, la, lb) -> {
                int M = s[0], N = s[1], K = s[2];
                Operand a = matrix(M, K, la, dt), b = matrix(K, N, lb, dt);
                int ldc = N + 3;
                float[] c = new float[2 + M * ldc];
                java.util.Arrays.fill(c, 0.5f);
                JavaGemm.gemm(M, N, K, a, b, c, 2, ldc);
                check(M, N, K, a, b, c, 2, ldc, 0.5f, "java " + dt + " " + java.util.Arrays.toString(s) + " " + la + " x " + lb);
                // the padding between rows is not written
                for (int i = 0; i < M; i++) assertEquals(0.5f, c[2 + i * ldc + N]);
            });
        }
    }

    @Test void openBlasAllLayoutsAndDtypes() {
        Assumptions.assumeTrue(Blas.available(), "OpenBLAS not loadable here");
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            forCases((s, la, lb) -> {
                int M = s[0], N = s[1], K = s[2];
                if (K == 0) return; // the dispatcher never sends K == 0 to OpenBLAS
                Operand a = matrix(M, K, la, dt), b = matrix(K, N, lb, dt);
                assertTrue(Blas.accepts(a, b));
                int ldc = N + 3;
                float[] c = new float[2 + M * ldc];
                java.util.Arrays.fill(c, Float.NaN); // overwritten, not accumulated
                for (int i = 0; i < M; i++) c[2 + i * ldc + N] = 0.5f;
                Blas.sgemm(M, N, K, a, b, c, 2, ldc);
                check(M, N, K, a, b, c, 2, ldc, 0f, "openblas " + dt + " " + java.util.Arrays.toString(s) + " " + la + " x " + lb);
                for (int i = 0; i < M; i++) assertEquals(0.5f, c[2 + i * ldc + N]);
            });
        }
    }

    @Test void openBlasPanelsBeyondTheScratchBound() {
        Assumptions.assumeTrue(Blas.available(), "OpenBLAS not loadable here");
        int saved = Blas.scratchFloats;
        Blas.scratchFloats = 1024; // blocks of 64 rows / columns here (and single-threaded OpenBLAS calls)
        try {
            // K * N and M * K each exceed the bound, so both operands go through in pieces
            int K = 40, big = 700;
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                for (Layout lb : Layout.values()) {
                    Operand a = matrix(3, K, Layout.ROW_MAJOR, dt), b = matrix(K, big, lb, dt);
                    float[] c = new float[3 * big];
                    Blas.sgemm(3, big, K, a, b, c, 0, big);
                    check(3, big, K, a, b, c, 0, big, 0f, "column panels, B " + lb + " " + dt);
                }
                for (Layout la : Layout.values()) {
                    Operand a = matrix(big, K, la, dt), b = matrix(K, 300, Layout.TRANSPOSED, dt);
                    float[] c = new float[big * 300];
                    Blas.sgemm(big, 300, K, a, b, c, 0, 300);
                    check(big, 300, K, a, b, c, 0, 300, 0f, "row blocks and column panels, A " + la + " " + dt);
                }
            }
        } finally {
            Blas.scratchFloats = saved;
        }
    }

    // ---- through the backend -------------------------------------------------------------

    /** Reference products in double: [0] the values, [1] sum |a b| + |bias| (for the error bound). */
    private static double[][] reference(float[] a, float[] b, float[] bias, int batch, int M, int N, int K, boolean bShared) {
        double[] out = new double[batch * M * N], mag = new double[out.length];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = bias == null ? 0 : bias[j], m = Math.abs(s);
                    for (int k = 0; k < K; k++) {
                        double p = (double) a[(t * M + i) * K + k] * b[(bShared ? 0 : t * K * N) + k * N + j];
                        s += p;
                        m += Math.abs(p);
                    }
                    out[(t * M + i) * N + j] = s;
                    mag[(t * M + i) * N + j] = m;
                }
        return new double[][] {out, mag};
    }

    /**
     * got within the worst-case bound of an F32 sum of K + 1 terms, (K + 2) 2^-23 sum |a b|, plus
     * the rounding of the output to its dtype (outUlp: 2^-8 for BF16, 2^-11 for F16, 0 for F32).
     */
    private static void close(double[][] ref, int K, float[] got, double outUlp, String what) {
        assertEquals(ref[0].length, got.length, what);
        for (int i = 0; i < got.length; i++) {
            double r = ref[0][i], bound = (K + 2) * 0x1p-23 * ref[1][i];
            if (!(Math.abs(r - got[i]) <= bound + outUlp * (Math.abs(r) + bound) + 1e-30)) {
                throw new AssertionError(what + ": element " + i + " expected " + r + " got " + got[i] + " (bound " + bound + ")");
            }
        }
    }

    private static final double BF16_ULP = 0x1p-8, F16_ULP = 0x1p-11;

    private Tensor randn(DType dt, int... shape) {
        return Tensor.randn(new llava.core.Generator(rnd.nextLong()), dt, Device.CPU, shape);
    }

    @Test void linearFoldsTheBatchAndAddsBias() {
        try (Scope s = Scope.open()) {
            int B = 3, M = 50, K = 70, N = 90;
            Tensor x = randn(DType.F32, B, M, K), w = randn(DType.F32, N, K), bias = randn(DType.F32, N);
            float[] wt = w.t().contiguous().toFloatArray();
            double[][] ref = reference(x.toFloatArray(), wt, bias.toFloatArray(), B, M, N, K, true);
            close(ref, K, F.linear(x, w, bias).toFloatArray(), 0, "linear F32");
            // the same through a transposed (non-contiguous) input: not foldable, one GEMM per item
            Tensor xt = x.transpose(0, 1).contiguous().transpose(0, 1);
            close(ref, K, F.linear(xt, w, bias).toFloatArray(), 0, "linear F32, permuted input");
            // bf16 weights and activations, bf16 output: reference on the bf16 values
            Tensor xb = x.to(DType.BF16), wb = w.to(DType.BF16), bb = bias.to(DType.BF16);
            double[][] refB = reference(xb.toFloatArray(), wb.t().contiguous().toFloatArray(), bb.toFloatArray(), B, M, N, K, true);
            close(refB, K, F.linear(xb, wb, bb).toFloatArray(), BF16_ULP, "linear BF16");
            Tensor xh = x.to(DType.F16), wh = w.to(DType.F16);
            double[][] refH = reference(xh.toFloatArray(), wh.t().contiguous().toFloatArray(), null, B, M, N, K, true);
            close(refH, K, F.linear(xh, wh, null).toFloatArray(), F16_ULP, "linear F16");
        }
    }

    @Test void batchedSmallAndLargeItems() {
        try (Scope s = Scope.open()) {
            for (int n : new int[] {20, 80}) { // 8000 multiply-adds per item: by item; 512000: sequential
                int B = 5;
                Tensor a = randn(DType.F32, B, n, n + 1), b = randn(DType.F32, B, n + 1, n - 3);
                double[][] ref = reference(a.toFloatArray(), b.toFloatArray(), null, B, n, n - 3, n + 1, false);
                close(ref, n + 1, a.matmul(b).toFloatArray(), 0, "bmm n=" + n);
                // B stored transposed per item
                Tensor bt = b.mT().contiguous().mT();
                close(ref, n + 1, a.matmul(bt).toFloatArray(), 0, "bmm with transposed B n=" + n);
                Tensor ab = a.to(DType.BF16), b16 = b.to(DType.BF16);
                double[][] refB = reference(ab.toFloatArray(), b16.toFloatArray(), null, B, n, n - 3, n + 1, false);
                close(refB, n + 1, ab.matmul(b16).toFloatArray(), BF16_ULP, "bmm BF16 n=" + n);
            }
        }
    }

    @Test void decodeRowAgainstWeightsInBothLayouts() {
        try (Scope s = Scope.open()) {
            int K = 333, N = 517;
            Tensor x = randn(DType.F32, 1, K), w = randn(DType.F32, N, K), wr = randn(DType.F32, K, N);
            double[][] ref = reference(x.toFloatArray(), w.t().contiguous().toFloatArray(), null, 1, 1, N, K, true);
            close(ref, K, F.linear(x, w, null).toFloatArray(), 0, "decode, W^T");
            close(reference(x.toFloatArray(), wr.toFloatArray(), null, 1, 1, N, K, true), K, x.matmul(wr).toFloatArray(), 0,
                "decode, row-major B");
            Tensor xb = x.to(DType.BF16), wb = w.to(DType.BF16), wrb = wr.to(DType.BF16);
            double[][] refB = reference(xb.toFloatArray(), wb.t().contiguous().toFloatArray(), null, 1, 1, N, K, true);
            close(refB, K, F.linear(xb, wb, null).toFloatArray(), BF16_ULP, "decode BF16, W^T");
            close(reference(xb.toFloatArray(), wrb.toFloatArray(), null, 1, 1, N, K, true), K, xb.matmul(wrb).toFloatArray(),
                BF16_ULP, "decode BF16, row-major B");
            Tensor xh = x.to(DType.F16), wh = w.to(DType.F16);
            double[][] refH = reference(xh.toFloatArray(), wh.t().contiguous().toFloatArray(), null, 1, 1, N, K, true);
            close(refH, K, F.linear(xh, wh, null).toFloatArray(), F16_ULP, "decode F16 (packed path)");
        }
    }

    @Test void emptyDimensions() {
        try (Scope s = Scope.open()) {
            Tensor bias = Tensor.of(new float[] {1, 2, 3}, 3), out4 = Tensor.empty(DType.F32, 4, 3);
            new CpuBackend().matmul(Tensor.zeros(4, 0), Tensor.zeros(0, 3), bias, out4);
            float[] out = out4.toFloatArray();
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++) assertEquals(j + 1f, out[i * 3 + j], "K = 0 leaves the bias");
            assertEquals(0, Tensor.zeros(0, 5).matmul(Tensor.zeros(5, 7)).numel());
            assertEquals(0, Tensor.zeros(4, 5).matmul(Tensor.zeros(5, 0)).numel());
            float[] z = Tensor.ones(2, 0).matmul(Tensor.ones(0, 3)).toFloatArray();
            for (float v : z) assertEquals(0f, v);
        }
    }
}
