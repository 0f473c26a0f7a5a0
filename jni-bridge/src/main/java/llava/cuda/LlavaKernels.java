package llava.cuda;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * Hand-written JavaCPP mapping of cuda-kernels/include/llava_kernels.h, one Java method per C
 * function, same order and names. The JNI glue (libjniLlavaKernels.so) is generated from this
 * class at build time and links libllavakernels.so.
 *
 * <p>Pointers are passed as raw addresses ({@code long}): device memory comes from our own
 * allocator, never from JavaCPP objects, so no Pointer is created per call. Host arrays of sizes
 * and strides are {@code long[]} (copied in by JNI for the call). Every function returns 0 or an
 * error code ({@link #llava_error_string}); see the header for the contract of each one.
 *
 * <p>Do not call these directly from model code: {@link CudaBackend} validates every argument
 * first (the kernels trust their caller).
 */
@Platform(include = "llava_kernels.h", link = "llavakernels")
public final class LlavaKernels {
    static {
        Loader.load();
    }

    private LlavaKernels() {}

    // dtype codes (LLAVA_DTYPE_*)
    public static final int LLAVA_DTYPE_F64 = 0, LLAVA_DTYPE_F32 = 1, LLAVA_DTYPE_BF16 = 2, LLAVA_DTYPE_F16 = 3,
        LLAVA_DTYPE_I64 = 4, LLAVA_DTYPE_I32 = 5, LLAVA_DTYPE_U8 = 6, LLAVA_DTYPE_BOOL = 7;

    // error codes beyond cudaError_t's range
    public static final int LLAVA_ERR_INVALID_ARGUMENT = 10001, LLAVA_ERR_UNSUPPORTED = 10002, LLAVA_ERR_INDEX = 10003;

    public static final int LLAVA_MAX_DIMS = 8;

    public static native @Cast("const char*") String llava_error_string(int code);

    // ---- gemm ----------------------------------------------------------------------------

    public static native int llava_gemm(@Cast("void*") long stream, @Cast("int64_t") long batch,
                                        @Cast("int64_t") long M, @Cast("int64_t") long N, @Cast("int64_t") long K,
                                        @Cast("const void*") long A, @Cast("int64_t") long a_bs,
                                        @Cast("int64_t") long a_rs, @Cast("int64_t") long a_cs,
                                        @Cast("const void*") long B, @Cast("int64_t") long b_bs,
                                        @Cast("int64_t") long b_rs, @Cast("int64_t") long b_cs, int ab_dtype,
                                        @Cast("const void*") long bias, @Cast("void*") long C,
                                        @Cast("int64_t") long c_bs, @Cast("int64_t") long ldc, int c_dtype,
                                        float alpha, float beta);

    // ---- attention -----------------------------------------------------------------------

    public static native int llava_attention_forward(@Cast("void*") long stream, int dtype, @Cast("int64_t") long B,
                                                     @Cast("int64_t") long Hq, @Cast("int64_t") long Hkv,
                                                     @Cast("int64_t") long Tq, @Cast("int64_t") long Tk,
                                                     @Cast("int64_t") long D,
                                                     @Cast("const void*") long q, @Cast("const int64_t*") long[] q_strides,
                                                     @Cast("const void*") long k, @Cast("const int64_t*") long[] k_strides,
                                                     @Cast("const void*") long v, @Cast("const int64_t*") long[] v_strides,
                                                     @Cast("const uint8_t*") long key_mask, int causal, float scale,
                                                     @Cast("void*") long out, @Cast("float*") long lse);

    public static native @Cast("int64_t") long llava_attention_backward_workspace_size(
        int dtype, @Cast("int64_t") long B, @Cast("int64_t") long Hq, @Cast("int64_t") long Hkv,
        @Cast("int64_t") long Tq, @Cast("int64_t") long Tk, @Cast("int64_t") long D);

    public static native int llava_attention_backward(@Cast("void*") long stream, int dtype, @Cast("int64_t") long B,
                                                      @Cast("int64_t") long Hq, @Cast("int64_t") long Hkv,
                                                      @Cast("int64_t") long Tq, @Cast("int64_t") long Tk,
                                                      @Cast("int64_t") long D,
                                                      @Cast("const void*") long q, @Cast("const int64_t*") long[] q_strides,
                                                      @Cast("const void*") long k, @Cast("const int64_t*") long[] k_strides,
                                                      @Cast("const void*") long v, @Cast("const int64_t*") long[] v_strides,
                                                      @Cast("const void*") long out, @Cast("const float*") long lse,
                                                      @Cast("const void*") long gout,
                                                      @Cast("const uint8_t*") long key_mask, int causal, float scale,
                                                      @Cast("void*") long gq, @Cast("void*") long gk,
                                                      @Cast("void*") long gv, @Cast("void*") long workspace);

    // ---- copy and cast -------------------------------------------------------------------

    public static native int llava_copy(@Cast("void*") long stream, int rank, @Cast("const int64_t*") long[] shape,
                                        @Cast("const void*") long src, int src_dtype,
                                        @Cast("const int64_t*") long[] src_strides,
                                        @Cast("void*") long dst, int dst_dtype,
                                        @Cast("const int64_t*") long[] dst_strides);

    public static native int llava_fill(@Cast("void*") long stream, int rank, @Cast("const int64_t*") long[] shape,
                                        @Cast("void*") long dst, int dtype, @Cast("const int64_t*") long[] strides,
                                        double value);

    // ---- elementwise ---------------------------------------------------------------------

    public static native int llava_unary(@Cast("void*") long stream, int op, int rank,
                                         @Cast("const int64_t*") long[] shape,
                                         @Cast("const void*") long x, @Cast("const int64_t*") long[] x_strides,
                                         @Cast("void*") long out, @Cast("const int64_t*") long[] out_strides,
                                         int dtype, double a, double b);

    public static native int llava_unary_backward(@Cast("void*") long stream, int op, @Cast("int64_t") long n,
                                                  @Cast("const void*") long x, @Cast("const void*") long gy,
                                                  @Cast("void*") long gx, int dtype);

    public static native int llava_binary(@Cast("void*") long stream, int op, int rank,
                                          @Cast("const int64_t*") long[] shape,
                                          @Cast("const void*") long a, @Cast("const int64_t*") long[] a_strides,
                                          @Cast("const void*") long b, @Cast("const int64_t*") long[] b_strides,
                                          @Cast("void*") long out, @Cast("const int64_t*") long[] out_strides,
                                          int in_dtype, int out_dtype);

    public static native int llava_where(@Cast("void*") long stream, int rank, @Cast("const int64_t*") long[] shape,
                                         @Cast("const uint8_t*") long cond, @Cast("const int64_t*") long[] cond_strides,
                                         @Cast("const void*") long a, @Cast("const int64_t*") long[] a_strides,
                                         @Cast("const void*") long b, @Cast("const int64_t*") long[] b_strides,
                                         @Cast("void*") long out, @Cast("const int64_t*") long[] out_strides, int dtype);

    // ---- reductions ----------------------------------------------------------------------

    public static native int llava_reduce(@Cast("void*") long stream, int op, int rank,
                                          @Cast("const int64_t*") long[] shape,
                                          @Cast("const void*") long x, @Cast("const int64_t*") long[] x_strides,
                                          @Cast("void*") long out, @Cast("const int64_t*") long[] out_shape,
                                          @Cast("const int64_t*") long[] out_strides, int dtype);

    public static native int llava_arg_reduce(@Cast("void*") long stream, int is_max, int rank,
                                              @Cast("const int64_t*") long[] shape,
                                              @Cast("const void*") long x, @Cast("const int64_t*") long[] x_strides,
                                              int dim, @Cast("int64_t*") long indices,
                                              @Cast("const int64_t*") long[] indices_strides,
                                              @Cast("void*") long values, @Cast("const int64_t*") long[] values_strides,
                                              int dtype);

    public static native int llava_softmax(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                           @Cast("int64_t") long cols, @Cast("const void*") long x,
                                           @Cast("void*") long out, int dtype, int log);

    public static native int llava_softmax_backward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                    @Cast("int64_t") long cols, @Cast("const void*") long y,
                                                    @Cast("const void*") long gy, @Cast("void*") long gx,
                                                    int dtype, int log);

    // ---- norms ---------------------------------------------------------------------------

    public static native int llava_rms_norm_forward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                    @Cast("int64_t") long cols, @Cast("const void*") long x,
                                                    @Cast("const void*") long w, double eps, @Cast("void*") long out,
                                                    @Cast("float*") long rstd, int dtype);

    public static native @Cast("int64_t") long llava_norm_backward_workspace_size(@Cast("int64_t") long rows,
                                                                                   @Cast("int64_t") long cols);

    public static native int llava_rms_norm_backward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                     @Cast("int64_t") long cols, @Cast("const void*") long x,
                                                     @Cast("const void*") long w, @Cast("const float*") long rstd,
                                                     @Cast("const void*") long gy, @Cast("void*") long gx,
                                                     @Cast("void*") long gw, @Cast("void*") long workspace, int dtype);

    public static native int llava_layer_norm_forward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                      @Cast("int64_t") long cols, @Cast("const void*") long x,
                                                      @Cast("const void*") long w, @Cast("const void*") long b,
                                                      double eps, @Cast("void*") long out, @Cast("float*") long mean,
                                                      @Cast("float*") long rstd, int dtype);

    public static native int llava_layer_norm_backward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                       @Cast("int64_t") long cols, @Cast("const void*") long x,
                                                       @Cast("const void*") long w, @Cast("const float*") long mean,
                                                       @Cast("const float*") long rstd, @Cast("const void*") long gy,
                                                       @Cast("void*") long gx, @Cast("void*") long gw,
                                                       @Cast("void*") long gb, @Cast("void*") long workspace, int dtype);

    // ---- rotary embedding ----------------------------------------------------------------

    public static native int llava_rope(@Cast("void*") long stream, int dtype, @Cast("int64_t") long B,
                                        @Cast("int64_t") long T, @Cast("int64_t") long H, @Cast("int64_t") long D,
                                        @Cast("const void*") long x, @Cast("const int64_t*") long[] x_strides,
                                        @Cast("const int64_t*") long positions, @Cast("const float*") long inv_freq,
                                        int inverse, @Cast("void*") long out, @Cast("const int64_t*") long[] out_strides);

    // ---- activations ---------------------------------------------------------------------

    public static native int llava_silu_mul_forward(@Cast("void*") long stream, @Cast("int64_t") long n,
                                                    @Cast("const void*") long gate, @Cast("const void*") long up,
                                                    @Cast("void*") long out, int dtype);

    public static native int llava_silu_mul_backward(@Cast("void*") long stream, @Cast("int64_t") long n,
                                                     @Cast("const void*") long gate, @Cast("const void*") long up,
                                                     @Cast("const void*") long gy, @Cast("void*") long g_gate,
                                                     @Cast("void*") long g_up, int dtype);

    // ---- cross-entropy -------------------------------------------------------------------

    public static native int llava_cross_entropy_forward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                         @Cast("int64_t") long vocab, @Cast("const void*") long logits,
                                                         int dtype, @Cast("const int64_t*") long targets,
                                                         @Cast("int64_t") long ignore_index, @Cast("float*") long loss,
                                                         @Cast("float*") long lse);

    public static native int llava_cross_entropy_backward(@Cast("void*") long stream, @Cast("int64_t") long rows,
                                                          @Cast("int64_t") long vocab, @Cast("const void*") long logits,
                                                          int dtype, @Cast("const int64_t*") long targets,
                                                          @Cast("const float*") long lse,
                                                          @Cast("const float*") long g_loss,
                                                          @Cast("int64_t") long ignore_index,
                                                          @Cast("void*") long g_logits);

    // ---- indexing ------------------------------------------------------------------------

    public static native int llava_index_select(@Cast("void*") long stream, int dtype, @Cast("int64_t") long outer,
                                                @Cast("int64_t") long dim_size, @Cast("int64_t") long inner,
                                                @Cast("const void*") long x, @Cast("const int64_t*") long index,
                                                @Cast("int64_t") long n_index, @Cast("void*") long out);

    public static native int llava_index_add(@Cast("void*") long stream, int dtype, @Cast("int64_t") long outer,
                                             @Cast("int64_t") long dim_size, @Cast("int64_t") long inner,
                                             @Cast("void*") long target, @Cast("const int64_t*") long index,
                                             @Cast("int64_t") long n_index, @Cast("const void*") long src);

    public static native int llava_gather(@Cast("void*") long stream, int dtype, int rank,
                                          @Cast("const int64_t*") long[] index_shape, int dim,
                                          @Cast("const void*") long x, @Cast("const int64_t*") long[] x_shape,
                                          @Cast("const int64_t*") long index, @Cast("void*") long out);

    public static native int llava_scatter_add(@Cast("void*") long stream, int dtype, int rank,
                                               @Cast("const int64_t*") long[] index_shape, int dim,
                                               @Cast("void*") long target, @Cast("const int64_t*") long[] target_shape,
                                               @Cast("const int64_t*") long index, @Cast("const void*") long src);

    // ---- optimizer -----------------------------------------------------------------------

    public static native int llava_adamw(@Cast("void*") long stream, @Cast("int64_t") long n, @Cast("float*") long param,
                                         @Cast("const void*") long grad, int grad_dtype,
                                         @Cast("float*") long exp_avg, @Cast("float*") long exp_avg_sq,
                                         double lr, double beta1, double beta2, double eps, double weight_decay,
                                         @Cast("int64_t") long step, @Cast("void*") long copy_out, int copy_dtype);
}
