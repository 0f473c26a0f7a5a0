/*
 * A CPU emulator of the CUDA execution model, just large enough to run gemm.cu and attention.cu
 * as plain C++ (force-included with -include, GA_EMULATION defined). It exists because the
 * machine these kernels were written on has no GPU: it executes the real kernel code, so index
 * arithmetic, tails, masks, pipelines and shared-memory bounds are exercised; it cannot say
 * anything about speed, and its mma/ldmatrix follow the PTX ISA fragment layouts as understood by
 * the author (the same understanding the kernels were written with).
 *
 * Model: each CUDA thread is a std::thread; blocks of a grid run one after another. __syncthreads
 * is a barrier over the block's live threads; warp-collective instructions (shfl, ldmatrix, mma)
 * exchange operands through a per-warp barrier and fail unless all 32 lanes take part.
 * cp.async poisons its 16 destination bytes (0xFF, a NaN in every float type) at issue and copies
 * at the matching cp.async.wait_group, so a read before the wait, or a refill of a buffer another
 * warp still reads, shows up as NaN. Every shared-memory address is bounds- and alignment-checked;
 * global-memory bounds are left to AddressSanitizer (build with -fsanitize=address).
 */
#ifndef GA_EMU_H
#define GA_EMU_H

#define GA_EMULATION 1

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <type_traits>

#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __forceinline__
#define __forceinline__ inline
#undef __launch_bounds__
#define __launch_bounds__(...)
#undef __shared__
#define __shared__ static  // blocks run one at a time, so a static array is the block's shared memory

namespace ga_emu {

struct ThreadState {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};

ThreadState& state();  // of the calling emulated thread
[[noreturn]] void fail(const char* fmt, ...);
void syncthreads();
// Warp collective: every lane contributes `bytes` bytes (<= 64) under the same tag; `all` receives
// the 32 contributions, lane-major.
void warp_exchange(const char* tag, const void* in, size_t bytes, void* all);
int lane_id();
unsigned char* dynamic_smem();
void check_smem(const void* p, size_t bytes, const char* what);
void cp_async(void* dst, const void* src, int src_bytes);
void cp_commit();
void cp_wait(int pending_allowed);
void launch(const void* kernel_id, dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);

template <typename F>
struct Launcher {
  F* kernel;
  dim3 grid, block;
  size_t smem;
  Launcher(F* k, dim3 g, dim3 b, size_t s = 0, cudaStream_t = nullptr) : kernel(k), grid(g), block(b), smem(s) {}
  template <typename... Args>
  void operator()(Args... args) const {
    F* k = kernel;
    launch((const void*)k, grid, block, smem, [&] { k(args...); });
  }
};

inline float b16_to_float(uint16_t bits, bool bf16) {
  if (bf16) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}

}  // namespace ga_emu

#define threadIdx (ga_emu::state().thread_idx)
#define blockIdx (ga_emu::state().block_idx)
#define blockDim (ga_emu::state().block_dim)
#define gridDim (ga_emu::state().grid_dim)

#define GA_LAUNCH(kernel, ...) ga_emu::Launcher<std::remove_pointer_t<std::decay_t<decltype(kernel)>>>(kernel, __VA_ARGS__)
#define GA_DYNAMIC_SMEM(name) unsigned char* name = ga_emu::dynamic_smem()

// nvcc's cuda_runtime.h offers this template for kernel pointers; the host compiler sees only the C API.
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F* kernel, enum cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute((const void*)kernel, attr, value);
}

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline void __syncthreads() { ga_emu::syncthreads(); }

inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
  if (mask != 0xffffffffu) ga_emu::fail("__shfl_xor_sync with a partial mask");
  float all[32];
  ga_emu::warp_exchange("shfl.xor", &v, sizeof v, all);
  return all[ga_emu::lane_id() ^ lane_mask];
}

// The sm_80 instruction wrappers of gemm_attention_common.cuh.
namespace llava_ga {

inline void cp_async16(void* smem, const void* gmem, int src_bytes) { ga_emu::cp_async(smem, gmem, src_bytes); }
inline void cp_async_commit() { ga_emu::cp_commit(); }
template <int N>
inline void cp_async_wait() { ga_emu::cp_wait(N); }

inline void ldmatrix_emu(uint32_t (&r)[4], const void* row, bool trans) {
  ga_emu::check_smem(row, 16, trans ? "ldmatrix.trans" : "ldmatrix");
  if (((uintptr_t)row & 15) != 0) ga_emu::fail("ldmatrix row address %p not 16-byte aligned", row);
  const void* rows[32];
  ga_emu::warp_exchange(trans ? "ldmatrix.x4.trans" : "ldmatrix.x4", &row, sizeof row, rows);
  const int lane = ga_emu::lane_id(), g = lane >> 2, t = lane & 3;
  for (int i = 0; i < 4; ++i) {
    uint16_t e0, e1;
    if (!trans) {  // thread gets row g, columns 2t and 2t+1 of matrix i
      const uint16_t* rp = static_cast<const uint16_t*>(rows[8 * i + g]);
      e0 = rp[2 * t];
      e1 = rp[2 * t + 1];
    } else {  // transposed: rows 2t and 2t+1, column g
      e0 = static_cast<const uint16_t*>(rows[8 * i + 2 * t])[g];
      e1 = static_cast<const uint16_t*>(rows[8 * i + 2 * t + 1])[g];
    }
    r[i] = (uint32_t)e0 | ((uint32_t)e1 << 16);
  }
}
inline void ldmatrix_x4(uint32_t (&r)[4], const void* row) { ldmatrix_emu(r, row, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) { ldmatrix_emu(r, row, true); }

// mma.sync.m16n8k16.row.col.f32.{bf16,f16}: gathers the fragments of all lanes into A (16x16),
// B (16x8), C (16x8) per the PTX layouts, then each lane computes its own four outputs.
template <typename T>
struct Mma {
  static void run(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    struct In {
      uint32_t a[4], b[2];
      float c[4];
    } in = {{a[0], a[1], a[2], a[3]}, {b0, b1}, {d[0], d[1], d[2], d[3]}}, all[32];
    ga_emu::warp_exchange(std::is_same<T, __nv_bfloat16>::value ? "mma.bf16" : "mma.f16", &in, sizeof in, all);
    const bool bf16 = std::is_same<T, __nv_bfloat16>::value;
    float A[16][16], B[16][8], C[16][8];
    auto lo = [&](uint32_t x) { return ga_emu::b16_to_float((uint16_t)(x & 0xffff), bf16); };
    auto hi = [&](uint32_t x) { return ga_emu::b16_to_float((uint16_t)(x >> 16), bf16); };
    for (int l = 0; l < 32; ++l) {
      const int g = l >> 2, t = l & 3;
      const In& f = all[l];
      A[g][2 * t] = lo(f.a[0]);
      A[g][2 * t + 1] = hi(f.a[0]);
      A[g + 8][2 * t] = lo(f.a[1]);
      A[g + 8][2 * t + 1] = hi(f.a[1]);
      A[g][2 * t + 8] = lo(f.a[2]);
      A[g][2 * t + 9] = hi(f.a[2]);
      A[g + 8][2 * t + 8] = lo(f.a[3]);
      A[g + 8][2 * t + 9] = hi(f.a[3]);
      B[2 * t][g] = lo(f.b[0]);
      B[2 * t + 1][g] = hi(f.b[0]);
      B[2 * t + 8][g] = lo(f.b[1]);
      B[2 * t + 9][g] = hi(f.b[1]);
      C[g][2 * t] = f.c[0];
      C[g][2 * t + 1] = f.c[1];
      C[g + 8][2 * t] = f.c[2];
      C[g + 8][2 * t + 1] = f.c[3];
    }
    const int lane = ga_emu::lane_id(), g = lane >> 2, t = lane & 3;
    const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
    for (int e = 0; e < 4; ++e) {
      double s = C[rows[e]][cols[e]];
      for (int k = 0; k < 16; ++k) s += (double)A[rows[e]][k] * B[k][cols[e]];
      d[e] = (float)s;
    }
  }
};

}  // namespace llava_ga

#endif
