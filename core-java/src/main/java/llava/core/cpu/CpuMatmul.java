package llava.core.cpu;

import java.util.Arrays;
import llava.core.DType;
import llava.core.Tensor;

/**
 * Batched matmul on the CPU: out[..., M, N] = a[..., M, K] @ b[..., K, N] (+ bias). Operands of
 * any strides. Paths:
 * <ul>
 * <li>F64: a plain loop in double (exact reference for gradchecks);
 * <li>M &gt; 1: OpenBLAS sgemm (see {@link Blas}; half types widened to F32 while copied into
 *     its bounded native panels) when it loaded and the product is not tiny, else {@link JavaGemm}
 *     (half types widened tile by tile while packing);
 * <li>M == 1 (decode): {@link JavaGemm#gemv}, straight from the storage arrays (copying a weight
 *     matrix into native memory for one sgemv costs more than the product itself).
 * </ul>
 * A batch whose B is shared (stride 0) and whose A rows are evenly spaced is folded into one
 * GEMM with batch * M rows; batches of small products run in parallel over the batch.
 */
final class CpuMatmul {
    private CpuMatmul() {}

    /** Below this many multiply-adds per product the Java kernel is used (copy-in overhead). */
    static final long BLAS_MIN_MACS = 1L << 15;
    /** Below this many multiply-adds per product, batches are spread over the cores by item. */
    static final long SMALL_ITEM_MACS = 1L << 18;

    static void matmul(Tensor a, Tensor b, Tensor bias, Tensor out) {
        int r = out.dim();
        int M = out.size(-2), N = out.size(-1), K = a.size(-1);
        int[] batchShape = Arrays.copyOf(out.shape(), r - 2);
        int[] ast = a.strides(), bst = b.strides();
        int batch = 1;
        for (int s : batchShape) batch *= s;
        if (batch == 0 || M == 0 || N == 0) return;
        int[] aOff = new int[batch], bOff = new int[batch];
        int[] idx = new int[r - 2];
        for (int i = 0; i < batch; i++) {
            int ao = a.offset(), bo = b.offset();
            for (int d = 0; d < r - 2; d++) {
                ao += idx[d] * ast[d];
                bo += idx[d] * bst[d];
            }
            aOff[i] = ao;
            bOff[i] = bo;
            for (int d = r - 3; d >= 0; d--) {
                if (++idx[d] < batchShape[d]) break;
                idx[d] = 0;
            }
        }
        Operand am = new Operand(CpuBackend.arr(a), a.dtype(), 0, ast[r - 2], ast[r - 1]);
        Operand bm = new Operand(CpuBackend.arr(b), b.dtype(), 0, bst[r - 2], bst[r - 1]);
        Object oa = CpuBackend.arr(out);
        int oBase = out.offset(); // out is contiguous: item i starts at oBase + i * M * N
        if (a.dtype() == DType.F64) {
            double[] biasV = null;
            if (bias != null) {
                biasV = new double[N];
                Access.load(CpuBackend.arr(bias), bias.dtype(), bias.offset(), 1, N, biasV);
            }
            matmulF64(batch, M, N, K, am, aOff, bm, bOff, biasV, oa, out.dtype(), oBase);
            return;
        }
        if (batch > 1 && foldable(aOff, bOff, M, am.rs())) { // one GEMM of batch * M rows
            M *= batch;
            batch = 1;
        }
        float[] fb = null;
        if (bias != null) {
            fb = new float[N];
            Access.loadF(CpuBackend.arr(bias), bias.dtype(), bias.offset(), 1, N, fb, 0);
        }
        // F32 output is written in place; other output dtypes go through an F32 buffer
        boolean direct = out.dtype() == DType.F32;
        float[] c = direct ? (float[]) oa : new float[batch * M * N];
        int cBase = direct ? oBase : 0;
        int items = batch, rows = M;
        long macs = (long) M * N * K;
        float[] biasF = fb;
        // small items in parallel, each on one core (and never two OpenBLAS calls at once)
        boolean byItem = items > 1 && macs < SMALL_ITEM_MACS;
        Parallel.RangeBody body = (s, e) -> {
            for (int i = s; i < e; i++) {
                product(rows, N, K, am.at(aOff[i]), bm.at(bOff[i]), biasF, c, cBase + i * rows * N, !byItem);
            }
        };
        if (byItem) Parallel.forRange(items, (int) Math.max(1, SMALL_ITEM_MACS / Math.max(1, macs)), body);
        else body.run(0, items);
        if (!direct) Access.storeF(c, 0, c.length, oa, out.dtype(), oBase, 1);
    }

    /** One product into the dense [M, N] block of c at cOff. */
    private static void product(int M, int N, int K, Operand a, Operand b, float[] bias, float[] c, int cOff, boolean allowBlas) {
        long macs = (long) M * N * K;
        if (allowBlas && M > 1 && K > 0 && macs >= BLAS_MIN_MACS && Blas.accepts(a, b)) {
            Blas.sgemm(M, N, K, a, b, c, cOff, N);
            if (bias != null) {
                FloatKernels fk = FloatKernels.get();
                for (int i = 0; i < M; i++) fk.binary(FloatKernels.Bin.ADD, c, cOff + i * N, 1, bias, 0, 1, c, cOff + i * N, N);
            }
            return;
        }
        for (int i = 0; i < M; i++) {
            if (bias != null) System.arraycopy(bias, 0, c, cOff + i * N, N);
            else Arrays.fill(c, cOff + i * N, cOff + (i + 1) * N, 0f);
        }
        JavaGemm.gemm(M, N, K, a, b, c, cOff, N);
    }

    /** True when every item shares B and A's rows continue evenly from one item to the next. */
    private static boolean foldable(int[] aOff, int[] bOff, int M, int aRowStride) {
        for (int i = 1; i < aOff.length; i++) {
            if (bOff[i] != bOff[0] || aOff[i] != aOff[0] + (long) i * M * aRowStride) return false;
        }
        return true;
    }

    /** The exact path: double accumulation, one output row per task. */
    private static void matmulF64(int batch, int M, int N, int K, Operand am, int[] aOff, Operand bm, int[] bOff,
                                  double[] bias, Object oa, DType od, int oBase) {
        Parallel.forRange(batch * M, Math.max(1, 65536 / Math.max(1, N * K)), (s, e) -> {
            double[] arow = new double[K], acc = new double[N], col = new double[K];
            for (int bi = s; bi < e; bi++) {
                int bt = bi / M, i = bi % M;
                Access.load(am.arr(), DType.F64, aOff[bt] + i * am.rs(), am.cs(), K, arow);
                for (int j = 0; j < N; j++) {
                    Access.load(bm.arr(), DType.F64, bOff[bt] + j * bm.cs(), bm.rs(), K, col);
                    double sum = bias == null ? 0 : bias[j];
                    for (int k = 0; k < K; k++) sum += arow[k] * col[k];
                    acc[j] = sum;
                }
                Access.store(acc, N, oa, od, oBase + bi * N, 1);
            }
        });
    }
}
