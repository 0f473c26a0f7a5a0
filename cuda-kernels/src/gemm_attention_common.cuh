// Device helpers private to gemm.cu and attention.cu: half-type traits, error handling, the
// LLAVA_NAIVE_KERNELS switch, and thin wrappers over the sm_80 instructions both files use
// (cp.async, ldmatrix, mma.sync m16n8k16). Everything is static/inline: each .cu gets its own copy.
#ifndef LLAVA_GEMM_ATTENTION_COMMON_CUH
#define LLAVA_GEMM_ATTENTION_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llava_kernels.h"

// Kernel launch and dynamic shared memory, spelled as macros so that the CPU emulator under
// cuda-kernels/test/emulator (which compiles these files as plain C++ with GA_EMULATION defined)
// can run the same kernel code.
#ifndef GA_EMULATION
#define GA_LAUNCH(kernel, ...) kernel<<<__VA_ARGS__>>>
#define GA_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

namespace llava_ga {

// ---- host side -------------------------------------------------------------------------

// Turns a CUDA status into the API's return value and clears the (non-sticky) error state.
static inline int cuda_status(cudaError_t err) {
  if (err == cudaSuccess) return 0;
  cudaGetLastError();
  return (int)err;
}

// Status of the launch just made (configuration errors show up here, not at the call).
static inline int launch_status() { return cuda_status(cudaGetLastError()); }

// LLAVA_NAIVE_KERNELS=1 selects the simple reference kernels (read on every call, so a test
// can flip it between calls with setenv).
static inline bool naive_kernels_requested() {
  const char* v = getenv("LLAVA_NAIVE_KERNELS");
  return v != nullptr && v[0] != '\0' && strcmp(v, "0") != 0;
}

static inline bool aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

// Largest dynamic shared memory a block may opt into on the current device (bytes).
static inline int max_dynamic_smem() {
  int dev = 0, bytes = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) { cudaGetLastError(); return 48 * 1024; }
  if (cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    cudaGetLastError();
    return 48 * 1024;
  }
  return bytes;
}

// ---- element types ---------------------------------------------------------------------

template <typename T> struct Elem;

template <> struct Elem<float> {
  static __device__ __forceinline__ float to_float(float x) { return x; }
  static __device__ __forceinline__ float from_float(float x) { return x; }
};

template <> struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
  // Two floats as one 32-bit register, `lo` in the low half (the lower column of an mma fragment).
  static __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &v, 4);
    return r;
  }
};

template <> struct Elem<__half> {
  static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
  static __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &v, 4);
    return r;
  }
};

template <typename T>
__device__ __forceinline__ float load_float(const T* p, int64_t i) { return Elem<T>::to_float(p[i]); }

// ---- sm_80 instructions (the emulator supplies its own versions) ------------------------------
#ifndef GA_EMULATION

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

// 16-byte async copy global -> shared; bytes beyond src_bytes (0..16) are zero-filled and not read.
// Both addresses must be 16-byte aligned.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)),
               "l"(__cvta_generic_to_global(gmem)), "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, register i receives
// matrix i (thread: row lane/4, columns 2*(lane%4), +1; with .trans the transposed element pair).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem_row)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem_row)));
}

// D = A(16x16, row) * B(16x8, col) + D with F32 accumulators (PTX fragment layouts).
template <typename T> struct Mma;

template <> struct Mma<__nv_bfloat16> {
  static __device__ __forceinline__ void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

template <> struct Mma<__half> {
  static __device__ __forceinline__ void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

#endif  // GA_EMULATION

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace llava_ga

#endif
