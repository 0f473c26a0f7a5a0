/*
 * The whole public surface of the llava CUDA kernels: plain C functions over device pointers.
 *
 * Conventions (every function):
 *  - returns 0 on success, otherwise a positive cudaError_t value (or a LLAVA_ERR_* code below);
 *    after a CUDA failure cudaGetLastError() has been called so the error is not sticky;
 *  - never aborts, never prints; validation of shapes and dtypes is done by the Java caller, but
 *    kernels still guard against out-of-range indices (returning LLAVA_ERR_INDEX);
 *  - takes the stream as `void* stream` (a cudaStream_t; NULL = legacy default stream) and
 *    launches asynchronously on it;
 *  - sizes and strides are in elements (int64_t), dtypes are LLAVA_DTYPE_* codes.
 */
#ifndef LLAVA_KERNELS_H
#define LLAVA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* dtype codes (match llava.core.DType ordinal names, not ordinals) */
#define LLAVA_DTYPE_F64  0
#define LLAVA_DTYPE_F32  1
#define LLAVA_DTYPE_BF16 2
#define LLAVA_DTYPE_F16  3
#define LLAVA_DTYPE_I64  4
#define LLAVA_DTYPE_I32  5
#define LLAVA_DTYPE_U8   6
#define LLAVA_DTYPE_BOOL 7

/* error codes beyond cudaError_t's range */
#define LLAVA_ERR_INVALID_ARGUMENT 10001
#define LLAVA_ERR_UNSUPPORTED      10002
#define LLAVA_ERR_INDEX            10003

/* Human-readable name of an error code returned by any function here (static string). */
const char* llava_error_string(int code);

/* op codes: same order as the Java enums llava.core.UnaryOp / BinaryOp / ReduceOp */
enum llava_unary_op {
  LLAVA_UNARY_NEG, LLAVA_UNARY_EXP, LLAVA_UNARY_LOG, LLAVA_UNARY_SQRT, LLAVA_UNARY_RSQRT, LLAVA_UNARY_ABS,
  LLAVA_UNARY_TANH, LLAVA_UNARY_SIGMOID, LLAVA_UNARY_RELU, LLAVA_UNARY_SILU, LLAVA_UNARY_GELU,
  LLAVA_UNARY_GELU_TANH, LLAVA_UNARY_QUICK_GELU, LLAVA_UNARY_SIN, LLAVA_UNARY_COS, LLAVA_UNARY_RECIPROCAL,
  LLAVA_UNARY_SQUARE, LLAVA_UNARY_SIGN, LLAVA_UNARY_AFFINE, LLAVA_UNARY_POW_SCALAR, LLAVA_UNARY_CLAMP
};
enum llava_binary_op {
  LLAVA_BINARY_ADD, LLAVA_BINARY_SUB, LLAVA_BINARY_MUL, LLAVA_BINARY_DIV, LLAVA_BINARY_POW, LLAVA_BINARY_MAX,
  LLAVA_BINARY_MIN, LLAVA_BINARY_EQ, LLAVA_BINARY_NE, LLAVA_BINARY_LT, LLAVA_BINARY_LE, LLAVA_BINARY_GT,
  LLAVA_BINARY_GE, LLAVA_BINARY_LOGICAL_AND, LLAVA_BINARY_LOGICAL_OR
};
enum llava_reduce_op { LLAVA_REDUCE_SUM, LLAVA_REDUCE_MEAN, LLAVA_REDUCE_MAX, LLAVA_REDUCE_MIN };

#define LLAVA_MAX_DIMS 8

/*
 * Pointers passed in are already offset to the tensor's first element. Strided functions take
 * `rank` (<= LLAVA_MAX_DIMS) and host arrays shape[rank], *_strides[rank] (elements, >= 0;
 * stride 0 = broadcast on inputs). "rows" functions take contiguous [rows, cols] data.
 * Half types (BF16, F16) compute in F32; F64 computes in F64 where listed.
 */

/* ---- gemm (gemm.cu) ------------------------------------------------------------------- */

/*
 * C[b] = alpha * A[b] @ B[b] (+ bias) + beta * C[b] for b < batch, with
 * A[b][m][k] = A + b*a_bs + m*a_rs + k*a_cs, B[b][k][n] = B + b*b_bs + k*b_rs + n*b_cs,
 * C[b][m][n] = C + b*c_bs + m*ldc + n (C row-major). For each of A and B one of its two inner
 * strides is 1 (row- or column-major); batch strides may be 0 (broadcast).
 * ab_dtype: BF16 or F16 (tensor cores, F32 accumulation) or F32 (exact F32 FMA path).
 * c_dtype: ab_dtype or F32. bias: nullable, [N] contiguous, of c_dtype, added before beta*C.
 * Any M, N, K >= 0 (tails handled).
 */
int llava_gemm(void* stream, int64_t batch, int64_t M, int64_t N, int64_t K,
               const void* A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
               const void* B, int64_t b_bs, int64_t b_rs, int64_t b_cs, int ab_dtype,
               const void* bias, void* C, int64_t c_bs, int64_t ldc, int c_dtype,
               float alpha, float beta);

/* ---- attention (attention.cu) --------------------------------------------------------- */

/*
 * Flash-style fused attention. q: [B, Hq, Tq, D], k and v: [B, Hkv, Tk, D] with strides given as
 * 4-element arrays (the last stride is 1). Hq % Hkv == 0; query head h reads kv head h/(Hq/Hkv).
 * key_mask: nullable, [B, Tk] contiguous bytes, 0 = padding key. causal: query i sees key j iff
 * j <= i + (Tk - Tq). Rows that see no key get out = 0 and lse = -inf.
 * out: contiguous [B, Hq, Tq, D] of dtype; lse: contiguous F32 [B, Hq, Tq] (natural log).
 * dtype: BF16, F16 or F32. D: 64, 80, 96, 128 (fast paths); any D <= 256 may be supported by a
 * slower path, otherwise LLAVA_ERR_UNSUPPORTED. Never materialises Tq x Tk in global memory.
 */
int llava_attention_forward(void* stream, int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                            int64_t Tq, int64_t Tk, int64_t D,
                            const void* q, const int64_t* q_strides,
                            const void* k, const int64_t* k_strides,
                            const void* v, const int64_t* v_strides,
                            const uint8_t* key_mask, int causal, float scale,
                            void* out, float* lse);

/* Bytes of device workspace llava_attention_backward needs for these sizes (may be 0). */
int64_t llava_attention_backward_workspace_size(int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                                                int64_t Tq, int64_t Tk, int64_t D);

/*
 * Gradients of llava_attention_forward. out, lse from the forward; gout contiguous like out.
 * gq: contiguous like q's shape; gk, gv: contiguous [B, Hkv, Tk, D] (summed over the query
 * heads sharing a kv head). workspace: device memory of the size above (nullable if 0).
 */
int llava_attention_backward(void* stream, int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                             int64_t Tq, int64_t Tk, int64_t D,
                             const void* q, const int64_t* q_strides,
                             const void* k, const int64_t* k_strides,
                             const void* v, const int64_t* v_strides,
                             const void* out, const float* lse, const void* gout,
                             const uint8_t* key_mask, int causal, float scale,
                             void* gq, void* gk, void* gv, void* workspace);

/* ---- copy and cast (copy.cu) ---------------------------------------------------------- */

/* dst = (dst_dtype) src, elementwise over shape; any dtypes (bool: nonzero -> 1). */
int llava_copy(void* stream, int rank, const int64_t* shape,
               const void* src, int src_dtype, const int64_t* src_strides,
               void* dst, int dst_dtype, const int64_t* dst_strides);

/* Every element of dst = value converted to dtype. */
int llava_fill(void* stream, int rank, const int64_t* shape, void* dst, int dtype,
               const int64_t* strides, double value);

/* ---- elementwise (elementwise.cu) ----------------------------------------------------- */

/* out = op(x; a, b) (see llava.core.UnaryOp for a, b); x and out share dtype (float types; NEG,
 * ABS, SIGN, SQUARE, AFFINE, CLAMP also for I64/I32). */
int llava_unary(void* stream, int op, int rank, const int64_t* shape,
                const void* x, const int64_t* x_strides, void* out, const int64_t* out_strides,
                int dtype, double a, double b);

/* gx = gy * op'(x) for TANH, SIGMOID, RELU, SILU, GELU, GELU_TANH, QUICK_GELU; contiguous, n
 * elements, one dtype for all three. */
int llava_unary_backward(void* stream, int op, int64_t n, const void* x, const void* gy, void* gx, int dtype);

/* out = a op b; a and b have in_dtype; out has in_dtype, or BOOL for comparisons/logical ops. */
int llava_binary(void* stream, int op, int rank, const int64_t* shape,
                 const void* a, const int64_t* a_strides, const void* b, const int64_t* b_strides,
                 void* out, const int64_t* out_strides, int in_dtype, int out_dtype);

/* out = cond ? a : b; cond BOOL; a, b, out share dtype. */
int llava_where(void* stream, int rank, const int64_t* shape,
                const uint8_t* cond, const int64_t* cond_strides,
                const void* a, const int64_t* a_strides, const void* b, const int64_t* b_strides,
                void* out, const int64_t* out_strides, int dtype);

/* ---- reductions (reduce.cu) ----------------------------------------------------------- */

/* Reduces x (shape, x_strides) into out, which has the same rank with out_shape[d] equal to
 * shape[d] or 1 (reduced). One dtype (SUM/MEAN of half types accumulate in F32; I64 SUM exact). */
int llava_reduce(void* stream, int op, int rank, const int64_t* shape,
                 const void* x, const int64_t* x_strides,
                 void* out, const int64_t* out_shape, const int64_t* out_strides, int dtype);

/* Index (I64) of the max (is_max) or min along dim; first on ties; NaN wins. indices and
 * (nullable) values have x's rank with size 1 at dim. */
int llava_arg_reduce(void* stream, int is_max, int rank, const int64_t* shape,
                     const void* x, const int64_t* x_strides, int dim,
                     int64_t* indices, const int64_t* indices_strides,
                     void* values, const int64_t* values_strides, int dtype);

/* Softmax / log-softmax over rows of contiguous [rows, cols]; F32 math. */
int llava_softmax(void* stream, int64_t rows, int64_t cols, const void* x, void* out, int dtype, int log);
int llava_softmax_backward(void* stream, int64_t rows, int64_t cols, const void* y, const void* gy,
                           void* gx, int dtype, int log);

/* ---- norms (norms.cu) ----------------------------------------------------------------- */

/* out = x * rsqrt(mean(x^2) + eps) * w over rows; rstd F32 [rows]; w nullable ([cols], dtype). */
int llava_rms_norm_forward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                           double eps, void* out, float* rstd, int dtype);

/* Bytes of F32 workspace the backward needs for the weight gradient (deterministic two-stage sum). */
int64_t llava_norm_backward_workspace_size(int64_t rows, int64_t cols);

/* gx (dtype) and gw (nullable, dtype, [cols]). */
int llava_rms_norm_backward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                            const float* rstd, const void* gy, void* gx, void* gw,
                            void* workspace, int dtype);

/* out = (x - mean) * rstd * w + b; mean, rstd F32 [rows]; w, b nullable. */
int llava_layer_norm_forward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                             const void* b, double eps, void* out, float* mean, float* rstd, int dtype);

/* gx; gw and gb nullable ([cols], dtype). workspace: 2x llava_norm_backward_workspace_size. */
int llava_layer_norm_backward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                              const float* mean, const float* rstd, const void* gy,
                              void* gx, void* gw, void* gb, void* workspace, int dtype);

/* ---- rotary embedding (rope.cu) ------------------------------------------------------- */

/* x, out: [B, T, H, D] with 4 strides each (last 1; out may equal x: in place).
 * angle = (float) positions[b*T + t] * inv_freq[i] in F32 (i < D/2);
 * out[i] = x[i] cos - x[i+D/2] sin, out[i+D/2] = x[i+D/2] cos + x[i] sin; inverse negates sin. */
int llava_rope(void* stream, int dtype, int64_t B, int64_t T, int64_t H, int64_t D,
               const void* x, const int64_t* x_strides, const int64_t* positions,
               const float* inv_freq, int inverse, void* out, const int64_t* out_strides);

/* ---- activations (activations.cu) ----------------------------------------------------- */

/* out = silu(gate) * up, contiguous, n elements. */
int llava_silu_mul_forward(void* stream, int64_t n, const void* gate, const void* up, void* out, int dtype);
int llava_silu_mul_backward(void* stream, int64_t n, const void* gate, const void* up, const void* gy,
                            void* g_gate, void* g_up, int dtype);

/* ---- cross-entropy (cross_entropy.cu) ------------------------------------------------- */

/* Per row of logits [rows, vocab] (contiguous, dtype; F32 math): lse, and loss = lse - x[t]
 * (0 where targets[r] == ignore_index). Targets out of range give LLAVA_ERR_INDEX. */
int llava_cross_entropy_forward(void* stream, int64_t rows, int64_t vocab, const void* logits, int dtype,
                                const int64_t* targets, int64_t ignore_index, float* loss, float* lse);

/* g_logits[r] = g_loss[r] * (softmax(x[r]) - onehot(t[r])); 0 rows where ignored. */
int llava_cross_entropy_backward(void* stream, int64_t rows, int64_t vocab, const void* logits, int dtype,
                                 const int64_t* targets, const float* lse, const float* g_loss,
                                 int64_t ignore_index, void* g_logits);

/* ---- indexing (indexing.cu) ----------------------------------------------------------- */

/* x: contiguous [outer, dim_size, inner]; out: contiguous [outer, n_index, inner];
 * out[o, i, :] = x[o, index[i], :]. Index out of [0, dim_size) gives LLAVA_ERR_INDEX. */
int llava_index_select(void* stream, int dtype, int64_t outer, int64_t dim_size, int64_t inner,
                       const void* x, const int64_t* index, int64_t n_index, void* out);

/* target[o, index[i], :] += src[o, i, :] (atomic; embedding backward). */
int llava_index_add(void* stream, int dtype, int64_t outer, int64_t dim_size, int64_t inner,
                    void* target, const int64_t* index, int64_t n_index, const void* src);

/* Contiguous tensors of rank `rank`: out[p] = x[p with p[dim] = index[p]], index shaped like out. */
int llava_gather(void* stream, int dtype, int rank, const int64_t* index_shape, int dim,
                 const void* x, const int64_t* x_shape, const int64_t* index, void* out);

/* target[p with p[dim] = index[p]] += src[p] (atomic), index shaped like src. */
int llava_scatter_add(void* stream, int dtype, int rank, const int64_t* index_shape, int dim,
                      void* target, const int64_t* target_shape, const int64_t* index, const void* src);

/* ---- optimizer (adamw.cu) ------------------------------------------------------------- */

/* One AdamW step (torch.optim.AdamW order of operations, F32 state) over n elements:
 * param, exp_avg, exp_avg_sq F32; grad F32/BF16/F16; copy_out nullable (BF16/F16/F32). */
int llava_adamw(void* stream, int64_t n, float* param, const void* grad, int grad_dtype,
                float* exp_avg, float* exp_avg_sq, double lr, double beta1, double beta2,
                double eps, double weight_decay, int64_t step, void* copy_out, int copy_dtype);

#ifdef __cplusplus
}
#endif

#endif
