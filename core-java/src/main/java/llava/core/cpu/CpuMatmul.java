package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/**
 * Batched matmul on the CPU: out[..., M, N] = a[..., M, K] @ b[..., K, N] (+ bias). Operands of
 * any strides; half types are widened to F32 tile by tile; F32 accumulation (F64 for F64).
 */
final class CpuMatmul {
    private CpuMatmul() {}

    static void matmul(Tensor a, Tensor b, Tensor bias, Tensor out) {
        int r = out.dim();
        int M = out.size(-2), N = out.size(-1), K = a.size(-1);
        int[] os = out.shape();
        int[] batchShape = java.util.Arrays.copyOf(os, r - 2);
        int[] ast = a.strides(), bst = b.strides(), ost = out.strides();
        int batch = 1;
        for (int s : batchShape) batch *= s;
        int[] aOff = new int[batch], bOff = new int[batch], oOff = new int[batch];
        int[] idx = new int[r - 2];
        for (int i = 0; i < batch; i++) {
            int ao = a.offset(), bo = b.offset(), oo = out.offset();
            for (int d = 0; d < r - 2; d++) {
                ao += idx[d] * ast[d];
                bo += idx[d] * bst[d];
                oo += idx[d] * ost[d];
            }
            aOff[i] = ao;
            bOff[i] = bo;
            oOff[i] = oo;
            for (int d = r - 3; d >= 0; d--) {
                if (++idx[d] < batchShape[d]) break;
                idx[d] = 0;
            }
        }
        Mat am = new Mat(CpuBackend.arr(a), a.dtype(), ast[r - 2], ast[r - 1]);
        Mat bm = new Mat(CpuBackend.arr(b), b.dtype(), bst[r - 2], bst[r - 1]);
        double[] biasV = null;
        if (bias != null) {
            biasV = new double[N];
            Access.load(CpuBackend.arr(bias), bias.dtype(), bias.offset(), 1, N, biasV);
        }
        Object oa = CpuBackend.arr(out);
        DType od = out.dtype();
        int orow = ost[r - 2];
        if (a.dtype() == DType.F64) {
            double[] bv = biasV;
            Parallel.forRange(batch * M, Math.max(1, 65536 / Math.max(1, N * K)), (s, e) -> {
                double[] arow = new double[K], acc = new double[N], col = new double[K];
                for (int bi = s; bi < e; bi++) {
                    int bt = bi / M, i = bi % M;
                    Access.load(am.arr, DType.F64, aOff[bt] + i * am.rs, am.cs, K, arow);
                    for (int j = 0; j < N; j++) {
                        Access.load(bm.arr, DType.F64, bOff[bt] + j * bm.cs, bm.rs, K, col);
                        double sum = bv == null ? 0 : bv[j];
                        for (int k = 0; k < K; k++) sum += arow[k] * col[k];
                        acc[j] = sum;
                    }
                    Access.store(acc, N, oa, od, oOff[bt] + i * orow, 1);
                }
            });
            return;
        }
        float[] fb = null;
        if (biasV != null) {
            fb = new float[N];
            for (int j = 0; j < N; j++) fb[j] = (float) biasV[j];
        }
        for (int bt = 0; bt < batch; bt++) {
            // B as a row-major [K, N] float panel or, when it is stored transposed, as [N, K]
            boolean bTransposed = bm.rs == 1 && bm.cs != 1;
            float[] bp = pack(bm, bOff[bt], K, N, bTransposed);
            float[] ap = pack(am, aOff[bt], M, K, false);
            float[] fbias = fb;
            int oBase = oOff[bt];
            float[] direct = od == DType.F32 ? (float[]) oa : null;
            Parallel.forRange(M, Math.max(1, 32768 / Math.max(1, N * Math.max(K, 1) / 64)), (s, e) -> {
                float[] acc = new float[N];
                for (int i = s; i < e; i++) {
                    if (fbias != null) System.arraycopy(fbias, 0, acc, 0, N);
                    else java.util.Arrays.fill(acc, 0f);
                    int ai = i * K;
                    if (bTransposed) {
                        for (int j = 0; j < N; j++) {
                            int bj = j * K;
                            float sum = 0;
                            for (int k = 0; k < K; k++) sum += ap[ai + k] * bp[bj + k];
                            acc[j] += sum;
                        }
                    } else {
                        for (int k = 0; k < K; k++) {
                            float av = ap[ai + k];
                            int bk = k * N;
                            for (int j = 0; j < N; j++) acc[j] += av * bp[bk + j];
                        }
                    }
                    if (direct != null) System.arraycopy(acc, 0, direct, oBase + i * orow, N);
                    else Access.storeF(acc, 0, N, oa, od, oBase + i * orow, 1);
                }
            });
        }
    }

    /** A 2-D operand: array, dtype, row stride, column stride. */
    record Mat(Object arr, DType dt, int rs, int cs) {}

    /** Copies a rows x cols matrix into a dense float array, row-major, or transposed when asked. */
    private static float[] pack(Mat m, int off, int rows, int cols, boolean transposed) {
        float[] p = new float[rows * cols];
        if (transposed) { // p[c * rows + r] = m[r, c]; m.rs == 1, so each column of m is contiguous
            for (int c = 0; c < cols; c++) Access.loadF(m.arr, m.dt, off + c * m.cs, m.rs, rows, p, c * rows);
        } else {
            for (int r = 0; r < rows; r++) Access.loadF(m.arr, m.dt, off + r * m.rs, m.cs, cols, p, r * cols);
        }
        return p;
    }
}
