package llava.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;
import static org.bytedeco.cuda.global.cudart.CUDA_R_64F;

import llava.core.DType;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * cuBLAS through the org.bytedeco preset: the alternative GEMM (system property
 * {@code llava.cuda.gemm=cublas}), the F64 GEMM, and the baseline of the benchmarks. One handle per
 * device, bound to the device's compute stream. Loaded on first use; when libcublas is missing the
 * first use throws an IllegalStateException that says so.
 */
public final class Cublas {
    private static String loadError;
    private static boolean loaded;

    private static synchronized void ensureLoaded() {
        if (loaded) return;
        if (loadError == null) {
            try {
                Loader.load(org.bytedeco.cuda.global.cublas.class);
                loaded = true;
                return;
            } catch (Throwable t) {
                loadError = Cuda.describe(t);
            }
        }
        throw new IllegalStateException("cuBLAS is not available (libcublas.so.13 / libcublasLt.so.13 must be on the"
            + " library path): " + loadError);
    }

    private final cublasContext handle = new cublasContext();
    private final FloatPointer oneF = new FloatPointer(1f), zeroF = new FloatPointer(0f);
    private final DoublePointer oneD = new DoublePointer(1d), zeroD = new DoublePointer(0d);

    Cublas(CudaDevice device) {
        ensureLoaded();
        check(cublasCreate_v2(handle), "cublasCreate");
        check(cublasSetStream_v2(handle, device.stream()), "cublasSetStream");
    }

    private static void check(int status, String op) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            String name;
            try {
                name = cublasGetStatusString(status).getString();
            } catch (Throwable t) {
                name = "status " + status;
            }
            throw new CudaException(op + ": cuBLAS error " + status + " (" + name + ")");
        }
    }

    static int dataType(DType dt) {
        return switch (dt) {
            case F32 -> CUDA_R_32F;
            case BF16 -> CUDA_R_16BF;
            case F16 -> CUDA_R_16F;
            case F64 -> CUDA_R_64F;
            default -> throw new IllegalArgumentException("cuBLAS GEMM does not take " + dt);
        };
    }

    /** Whether a row-major-or-column-major operand can be handed to cuBLAS (leading dimension big enough). */
    static boolean acceptsOperand(long rows, long cols, long rs, long cs) {
        if (cs == 1) return rs >= Math.max(cols, 1) && rs <= Integer.MAX_VALUE;
        if (rs == 1) return cs >= Math.max(rows, 1) && cs <= Integer.MAX_VALUE;
        return false;
    }

    /**
     * Row-major batched C[b] = A[b] @ B[b] (+ C[b] when accumulate), with A [M, K] and B [K, N]
     * given by their strides (one inner stride 1 each, see {@link #acceptsOperand}) and C [M, N]
     * with row stride ldc. cuBLAS is column-major, so this computes C^T = B^T A^T: a row-major
     * matrix read column-major is its transpose.
     */
    void gemm(long batch, long M, long N, long K,
              long a, long aBs, long aRs, long aCs,
              long b, long bBs, long bRs, long bCs, DType abType,
              long c, long cBs, long ldc, DType cType, boolean accumulate) {
        if (M > Integer.MAX_VALUE || N > Integer.MAX_VALUE || K > Integer.MAX_VALUE || batch > Integer.MAX_VALUE
            || ldc > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cuBLAS GEMM sizes exceed int range: batch " + batch + ", M " + M + ", N " + N
                + ", K " + K);
        }
        // first cuBLAS operand = our B as [N, K]^T-or-not; second = our A
        boolean bRowMajor = bCs == 1;
        int transA = bRowMajor ? CUBLAS_OP_N : CUBLAS_OP_T;
        long lda = bRowMajor ? bRs : bCs;
        boolean aRowMajor = aCs == 1;
        int transB = aRowMajor ? CUBLAS_OP_N : CUBLAS_OP_T;
        long ldb = aRowMajor ? aRs : aCs;
        boolean f64 = abType == DType.F64;
        Pointer alpha = f64 ? oneD : oneF;
        Pointer beta = accumulate ? (f64 ? oneD : oneF) : (f64 ? zeroD : zeroF);
        int compute = f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
        check(cublasGemmStridedBatchedEx(handle, transA, transB, (int) N, (int) M, (int) K,
            alpha, new Cuda.Raw(b), dataType(abType), (int) lda, bBs,
            new Cuda.Raw(a), dataType(abType), (int) ldb, aBs,
            beta, new Cuda.Raw(c), dataType(cType), (int) ldc, cBs,
            (int) batch, compute, CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
    }
}
