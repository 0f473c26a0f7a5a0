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

/* ---- gemm (gemm.cu) ------------------------------------------------------------------- */

/* ---- attention (attention.cu) --------------------------------------------------------- */

/* ---- everything else: copy/cast, elementwise, reductions, norms, rope, activations,
 *      cross-entropy, embedding, adamw (one .cu per family) ----------------------------- */

#ifdef __cplusplus
}
#endif

#endif
