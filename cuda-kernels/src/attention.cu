/*
 * Fused attention (llava_attention_forward / _backward_workspace_size / _backward; semantics in
 * llava_kernels.h and llava.core.Backend#attention).
 *
 * Paths, chosen per call on the host:
 *
 * 1. Tensor-core path, FlashAttention-2 style, for BF16/F16 with D in {64, 80, 96, 128}, unit
 *    stride in D, 16-byte aligned pointers and batch/head/time strides that are multiples of 8.
 *    Every tile row in shared memory is padded by 8 elements (D+8 = an odd number of 16-byte
 *    chunks), so the 8 row addresses of an ldmatrix phase fall into 8 different bank groups.
 *    All tiles are filled with cp.async (rows past the end are zero-filled); 4 warps per CTA.
 *    - Forward: one CTA per (batch, head, 64 queries), 16 query rows per warp. K/V tiles of 64 keys
 *      are double-buffered. S = Q K^T (ldmatrix on K as the col-major B operand), scale, masks
 *      (key tail, causal j <= i + Tk - Tq, key padding), online softmax in F32 registers in the
 *      log2 domain, P re-packed from the S accumulators into A fragments, O += P V (ldmatrix.trans
 *      on V). Causal: key blocks past the last visible key are skipped; blocks wholly before the
 *      diagonal skip the mask test. Writes O / l (0 where l == 0) and lse = ln(l) + m (-inf where
 *      the row sees no key). Query blocks are scheduled last-first (causal: heaviest first).
 *      Shared memory: (64 + 4*64) * (D+8) * 2 bytes = 85 KiB for D = 128.
 *    - Backward, deterministic (no atomics):
 *      a) delta_i = rowsum(dO_i * O_i) in F32 into the workspace (B*Hq*Tq floats);
 *      b) dK/dV kernel: one CTA per (batch, kv head, 64 keys), 16 keys per warp; loops over the
 *         query heads that share the kv head (GQA sum stays in registers) and over the query
 *         blocks of 32 that can see these keys, double-buffering Q, dO, lse and delta. Recomputes
 *         P^T = exp(K Q^T * scale - lse), dV += P^T dO, dP^T = V dO^T, dS^T = P^T (dP^T - delta),
 *         dK += dS^T Q. Shared memory: (2*64 + 4*32) * (D+8) * 2 + 512 bytes = 69 KiB for D = 128;
 *      c) dQ kernel: one CTA per (batch, head, 64 queries), key blocks of 32 double-buffered;
 *         recomputes P and dP = dO V^T, dQ += dS K. Same shared memory as (b).
 *      This recomputes Q K^T and dO V^T twice (7 instead of 5 matmuls) in exchange for
 *      determinism and no F32 dQ accumulator.
 * 2. SIMT path (any dtype, any D <= 256, any strides): one warp per query row (forward, dQ) or per
 *    key row (dK/dV), the dot products reduced with warp shuffles, F32 math. It is the F32 path,
 *    the fallback for unaligned/odd shapes and, with LLAVA_NAIVE_KERNELS=1, the reference path for
 *    every call. It evaluates exactly the CPU backend's loops (CpuAttention), in F32.
 *
 * Verification status: compiled for sm_80/sm_90 without warnings, no register spills
 * (-Xptxas -v: at most 241 registers, the D = 128 dK/dV kernel). Written on a machine without a
 * GPU: the kernel code was executed on the CPU emulator in cuda-kernels/test/emulator, where all
 * 206 attention cases of cuda-kernels/test/gemm_attention_selftest.cu pass against a host F64
 * reference (itself checked by finite differences): BF16/F16/F32, D = 64/80/96/128 (tensor
 * cores) and 40/200 (SIMT), causal and not, key padding incl. a batch with every key masked,
 * GQA, Tq = 1, Tq < Tk, Tq > Tk, Tq = 0, Tk = 0, [B,T,H,D] strides, misaligned q, the naive
 * path. Still to do on a GPU: run that self-test (cuda-kernels/test/run_selftest.sh) and time it.
 * Not done: split-K "flash decoding" for Tq = 1 with long caches (one CTA per head today).
 */
#include "gemm_attention_common.cuh"

#include <math.h>

namespace {
using namespace llava_ga;

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;
constexpr int NUM_WARPS = 4, THREADS = 128;

struct AttnArgs {
  int B, Hq, Hkv, Tq, Tk, D, group, shift;  // group = Hq / Hkv, shift = Tk - Tq
  const void* q;
  const void* k;
  const void* v;
  int64_t qs[4], ks[4], vs[4];
  const uint8_t* key_mask;
  int causal;
  float scale, scale_log2;
  void* out;         // forward output / backward: the forward output O
  float* lse;        // forward: written; backward: read
  const void* gout;  // backward only
  float* delta;      // backward workspace [B, Hq, Tq]
  void* gq;
  void* gk;
  void* gv;
};

__device__ __forceinline__ bool key_visible(const AttnArgs& p, int b, int row, int key) {
  return key < p.Tk && (!p.causal || key <= row + p.shift) && (p.key_mask == nullptr || p.key_mask[(int64_t)b * p.Tk + key] != 0);
}

// ============================================================================================
// 1. Tensor-core kernels
// ============================================================================================

constexpr int FWD_BM = 64, FWD_BN = 64;  // queries per CTA, keys per tile
constexpr int BWD_KN = 64, BWD_KQ = 32;  // dK/dV: keys per CTA, queries per step
constexpr int BWD_QM = 64, BWD_QN = 32;  // dQ: queries per CTA, keys per step

template <typename T, int D>
constexpr size_t fwd_smem_bytes() { return (size_t)(FWD_BM + 4 * FWD_BN) * (D + 8) * sizeof(T); }
template <typename T, int D>
constexpr size_t dkdv_smem_bytes() { return (size_t)(2 * BWD_KN + 4 * BWD_KQ) * (D + 8) * sizeof(T) + 4 * BWD_KQ * sizeof(float); }
template <typename T, int D>
constexpr size_t dq_smem_bytes() { return (size_t)(2 * BWD_QM + 4 * BWD_QN) * (D + 8) * sizeof(T); }

// Copies `rows` rows of D elements (row r at src + (row0 + r) * row_stride) into a padded smem
// tile; rows at or past `limit` are zero-filled.
template <typename T, int D>
__device__ __forceinline__ void load_rows(T* dst, const T* src, int64_t row_stride, int row0, int rows, int limit) {
  constexpr int CH = D / 8, LD = D + 8;
  for (int c = threadIdx.x; c < rows * CH; c += THREADS) {
    const int r = c / CH, ch = c % CH;
    const bool ok = row0 + r < limit;
    cp_async16(dst + r * LD + ch * 8, ok ? src + (int64_t)(row0 + r) * row_stride + ch * 8 : src, ok ? 16 : 0);
  }
}

// A fragments (16 rows x 16 columns at (row0, col0)) of a row-major padded smem tile.
template <int LD>
__device__ __forceinline__ void load_a_frag(uint32_t (&f)[4], const void* tile_base, int row0, int col0, int elem_size) {
  const int lane = threadIdx.x & 31;
  const int r = row0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int c = col0 + (lane >> 4) * 8;
  ldmatrix_x4(f, static_cast<const char*>(tile_base) + ((int64_t)r * LD + c) * elem_size);
}

// B fragments of two n8 tiles where the smem tile holds B^T row-major (rows = n, cols = k):
// r[0], r[1] for n0..n0+7 and r[2], r[3] for n0+8..n0+15, k in k0..k0+15.
template <int LD>
__device__ __forceinline__ void load_bt_frag(uint32_t (&f)[4], const void* tile_base, int n0, int k0, int elem_size) {
  const int lane = threadIdx.x & 31;
  const int r = n0 + (lane & 7) + (lane >> 4) * 8;
  const int c = k0 + ((lane >> 3) & 1) * 8;
  ldmatrix_x4(f, static_cast<const char*>(tile_base) + ((int64_t)r * LD + c) * elem_size);
}

// B fragments of two n8 tiles where the smem tile holds B row-major (rows = k, cols = n).
template <int LD>
__device__ __forceinline__ void load_b_frag_trans(uint32_t (&f)[4], const void* tile_base, int k0, int n0, int elem_size) {
  const int lane = threadIdx.x & 31;
  const int r = k0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  const int c = n0 + (lane >> 4) * 8;
  ldmatrix_x4_trans(f, static_cast<const char*>(tile_base) + ((int64_t)r * LD + c) * elem_size);
}

// A fragments for a k16 step kk from C accumulators c[2kk], c[2kk+1] (16 rows x 8 columns each).
template <typename T>
__device__ __forceinline__ void c_to_a_frag(uint32_t (&a)[4], const float (&c0)[4], const float (&c1)[4]) {
  a[0] = Elem<T>::pack2(c0[0], c0[1]);
  a[1] = Elem<T>::pack2(c0[2], c0[3]);
  a[2] = Elem<T>::pack2(c1[0], c1[1]);
  a[3] = Elem<T>::pack2(c1[2], c1[3]);
}

template <typename T, int D>
__global__ void __launch_bounds__(THREADS) attn_fwd_tc_kernel(AttnArgs p) {
  constexpr int LD = D + 8, ES = sizeof(T), NT_D = D / 8, NT_S = FWD_BN / 8;
  GA_DYNAMIC_SMEM(smem_raw);
  T* Qs = reinterpret_cast<T*>(smem_raw);
  T* Ks = Qs + FWD_BM * LD;       // [2][FWD_BN][LD]
  T* Vs = Ks + 2 * FWD_BN * LD;   // [2][FWD_BN][LD]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int nqb = (p.Tq + FWD_BM - 1) / FWD_BM;
  int idx = blockIdx.x;
  const int qb = nqb - 1 - idx % nqb;
  idx /= nqb;
  const int h = idx % p.Hq, b = idx / p.Hq, hk = h / p.group;
  const int q0 = qb * FWD_BM;

  const T* qg = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* kg = reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1];
  const T* vg = reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1];

  const int last_row = min(q0 + FWD_BM, p.Tq) - 1;
  const int n_end = p.causal ? max(0, min(p.Tk, last_row + p.shift + 1)) : p.Tk;
  const int nkb = (n_end + FWD_BN - 1) / FWD_BN;

  load_rows<T, D>(Qs, qg, p.qs[2], q0, FWD_BM, p.Tq);
  if (nkb > 0) {
    load_rows<T, D>(Ks, kg, p.ks[2], 0, FWD_BN, p.Tk);
    load_rows<T, D>(Vs, vg, p.vs[2], 0, FWD_BN, p.Tk);
  }
  cp_async_commit();

  const int row_lo = q0 + warp * 16 + g, row_hi = row_lo + 8;
  float o[NT_D][4];
#pragma unroll
  for (int i = 0; i < NT_D; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;  // l: this thread's partial sums
  uint32_t qf[D / 16][4];

  for (int kb = 0; kb < nkb; ++kb) {
    if (kb + 1 < nkb) {
      const int buf = (kb + 1) & 1;
      load_rows<T, D>(Ks + buf * FWD_BN * LD, kg, p.ks[2], (kb + 1) * FWD_BN, FWD_BN, p.Tk);
      load_rows<T, D>(Vs + buf * FWD_BN * LD, vg, p.vs[2], (kb + 1) * FWD_BN, FWD_BN, p.Tk);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (kb == 0) {
#pragma unroll
      for (int kd = 0; kd < D / 16; ++kd) load_a_frag<LD>(qf[kd], Qs, warp * 16, kd * 16, ES);
    }
    const T* ks = Ks + (kb & 1) * FWD_BN * LD;
    const T* vs = Vs + (kb & 1) * FWD_BN * LD;

    float s[NT_S][4];
#pragma unroll
    for (int i = 0; i < NT_S; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
#pragma unroll
      for (int np = 0; np < NT_S / 2; ++np) {
        uint32_t r4[4];
        load_bt_frag<LD>(r4, ks, np * 16, kd * 16, ES);
        Mma<T>::run(s[2 * np], qf[kd], r4[0], r4[1]);
        Mma<T>::run(s[2 * np + 1], qf[kd], r4[2], r4[3]);
      }
    }

    // Scale into the log2 domain and mask. Blocks wholly inside the visible region skip the tests.
    const int key0 = kb * FWD_BN;
    const bool need_mask = p.key_mask != nullptr || key0 + FWD_BN > p.Tk ||
                           (p.causal && key0 + FWD_BN - 1 > q0 + p.shift);
    float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < NT_S; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[nt][e] * p.scale_log2;
        if (need_mask) {
          const int key = key0 + nt * 8 + 2 * t + (e & 1);
          if (!key_visible(p, b, e < 2 ? row_lo : row_hi, key)) x = -INFINITY;
        }
        s[nt][e] = x;
      }
      mx_lo = fmaxf(mx_lo, fmaxf(s[nt][0], s[nt][1]));
      mx_hi = fmaxf(mx_hi, fmaxf(s[nt][2], s[nt][3]));
    }
    // The four threads of a quad hold one row between them.
#pragma unroll
    for (int o2 = 1; o2 <= 2; o2 <<= 1) {
      mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, o2));
      mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, o2));
    }
    const float mn_lo = fmaxf(m_lo, mx_lo), mn_hi = fmaxf(m_hi, mx_hi);
    // A row with nothing visible yet keeps m = -inf; use 0 as its reference so exp2 gives 0, not NaN.
    const float ref_lo = mn_lo == -INFINITY ? 0.0f : mn_lo;
    const float ref_hi = mn_hi == -INFINITY ? 0.0f : mn_hi;
    const float corr_lo = exp2f(m_lo - ref_lo), corr_hi = exp2f(m_hi - ref_hi);
    m_lo = mn_lo;
    m_hi = mn_hi;
    float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
    for (int nt = 0; nt < NT_S; ++nt) {
      s[nt][0] = exp2f(s[nt][0] - ref_lo);
      s[nt][1] = exp2f(s[nt][1] - ref_lo);
      s[nt][2] = exp2f(s[nt][2] - ref_hi);
      s[nt][3] = exp2f(s[nt][3] - ref_hi);
      sum_lo += s[nt][0] + s[nt][1];
      sum_hi += s[nt][2] + s[nt][3];
    }
    l_lo = l_lo * corr_lo + sum_lo;
    l_hi = l_hi * corr_hi + sum_hi;
#pragma unroll
    for (int i = 0; i < NT_D; ++i) {
      o[i][0] *= corr_lo;
      o[i][1] *= corr_lo;
      o[i][2] *= corr_hi;
      o[i][3] *= corr_hi;
    }

#pragma unroll
    for (int kk = 0; kk < FWD_BN / 16; ++kk) {
      uint32_t pa[4];
      c_to_a_frag<T>(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t r4[4];
        load_b_frag_trans<LD>(r4, vs, kk * 16, dp * 16, ES);
        Mma<T>::run(o[2 * dp], pa, r4[0], r4[1]);
        Mma<T>::run(o[2 * dp + 1], pa, r4[2], r4[3]);
      }
    }
    __syncthreads();  // the next iteration refills the buffer read here
  }
  cp_async_wait<0>();

#pragma unroll
  for (int o2 = 1; o2 <= 2; o2 <<= 1) {
    l_lo += __shfl_xor_sync(0xffffffffu, l_lo, o2);
    l_hi += __shfl_xor_sync(0xffffffffu, l_hi, o2);
  }
  T* out = reinterpret_cast<T*>(p.out);
  const int64_t head_row0 = ((int64_t)b * p.Hq + h) * p.Tq;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = half ? row_hi : row_lo;
    if (row >= p.Tq) continue;
    const float l = half ? l_hi : l_lo, m = half ? m_hi : m_lo;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    T* orow = out + (head_row0 + row) * D;
#pragma unroll
    for (int nt = 0; nt < NT_D; ++nt) {
      *reinterpret_cast<uint32_t*>(orow + nt * 8 + 2 * t) =
          Elem<T>::pack2(o[nt][2 * half] * inv, o[nt][2 * half + 1] * inv);
    }
    if (t == 0) p.lse[head_row0 + row] = l > 0.0f ? (m + log2f(l)) * LN2 : -INFINITY;
  }
}

// dK, dV for 64 keys of one kv head (see the design note).
template <typename T, int D>
__global__ void __launch_bounds__(THREADS) attn_bwd_dkdv_tc_kernel(AttnArgs p) {
  constexpr int LD = D + 8, ES = sizeof(T), NT_D = D / 8, NT_S = BWD_KQ / 8;
  GA_DYNAMIC_SMEM(smem_raw);
  T* Ks = reinterpret_cast<T*>(smem_raw);
  T* Vs = Ks + BWD_KN * LD;
  T* Qs = Vs + BWD_KN * LD;       // [2][BWD_KQ][LD]
  T* dOs = Qs + 2 * BWD_KQ * LD;  // [2][BWD_KQ][LD]
  float* lse_s = reinterpret_cast<float*>(dOs + 2 * BWD_KQ * LD);  // [2][BWD_KQ], log2 domain
  float* dl_s = lse_s + 2 * BWD_KQ;                                 // [2][BWD_KQ]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int nkb = (p.Tk + BWD_KN - 1) / BWD_KN;
  int idx = blockIdx.x;
  const int kb = idx % nkb;
  idx /= nkb;
  const int hk = idx % p.Hkv, b = idx / p.Hkv;
  const int k0 = kb * BWD_KN;

  const T* kg = reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1];
  const T* vg = reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1];

  // Queries below k0 - shift see none of these keys (causal).
  const int q_begin = p.causal ? max(0, min(p.Tq, k0 - p.shift)) : 0;
  const int qb_begin = q_begin / BWD_KQ;
  const int nq = q_begin >= p.Tq ? 0 : (p.Tq + BWD_KQ - 1) / BWD_KQ - qb_begin;
  const int steps = p.group * nq;

  auto load_step = [&](int buf, int step) {
    const int h = hk * p.group + step / nq;
    const int qr0 = (qb_begin + step % nq) * BWD_KQ;
    const T* qg = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
    const int64_t head_row0 = ((int64_t)b * p.Hq + h) * p.Tq;
    const T* dog = reinterpret_cast<const T*>(p.gout) + head_row0 * D;
    load_rows<T, D>(Qs + buf * BWD_KQ * LD, qg, p.qs[2], qr0, BWD_KQ, p.Tq);
    load_rows<T, D>(dOs + buf * BWD_KQ * LD, dog, D, qr0, BWD_KQ, p.Tq);
    if (threadIdx.x < BWD_KQ) {
      const int q = qr0 + threadIdx.x;
      const bool ok = q < p.Tq;
      // lse = -inf marks rows that see nothing (and rows past Tq): their P is 0.
      lse_s[buf * BWD_KQ + threadIdx.x] = ok ? p.lse[head_row0 + q] * LOG2E : -INFINITY;
      dl_s[buf * BWD_KQ + threadIdx.x] = ok ? p.delta[head_row0 + q] : 0.0f;
    }
  };

  load_rows<T, D>(Ks, kg, p.ks[2], k0, BWD_KN, p.Tk);
  load_rows<T, D>(Vs, vg, p.vs[2], k0, BWD_KN, p.Tk);
  if (steps > 0) load_step(0, 0);
  cp_async_commit();

  const int key_lo = k0 + warp * 16 + g, key_hi = key_lo + 8;
  const bool kv_lo = key_lo < p.Tk && (p.key_mask == nullptr || p.key_mask[(int64_t)b * p.Tk + key_lo] != 0);
  const bool kv_hi = key_hi < p.Tk && (p.key_mask == nullptr || p.key_mask[(int64_t)b * p.Tk + key_hi] != 0);

  float dk[NT_D][4], dv[NT_D][4];
#pragma unroll
  for (int i = 0; i < NT_D; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.0f;

  for (int step = 0; step < steps; ++step) {
    if (step + 1 < steps) {
      load_step((step + 1) & 1, step + 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int buf = step & 1;
    const T* qs = Qs + buf * BWD_KQ * LD;
    const T* dos = dOs + buf * BWD_KQ * LD;
    const float* lse_b = lse_s + buf * BWD_KQ;
    const float* dl_b = dl_s + buf * BWD_KQ;
    const int qr0 = (qb_begin + step % nq) * BWD_KQ;

    // S^T = K Q^T and dP^T = V dO^T for this warp's 16 keys x 32 queries.
    float st[NT_S][4], dpt[NT_S][4];
#pragma unroll
    for (int i = 0; i < NT_S; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[i][e] = dpt[i][e] = 0.0f;
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      uint32_t kf[4], vf[4];
      load_a_frag<LD>(kf, Ks, warp * 16, kd * 16, ES);
      load_a_frag<LD>(vf, Vs, warp * 16, kd * 16, ES);
#pragma unroll
      for (int np = 0; np < NT_S / 2; ++np) {
        uint32_t r4[4];
        load_bt_frag<LD>(r4, qs, np * 16, kd * 16, ES);
        Mma<T>::run(st[2 * np], kf, r4[0], r4[1]);
        Mma<T>::run(st[2 * np + 1], kf, r4[2], r4[3]);
        load_bt_frag<LD>(r4, dos, np * 16, kd * 16, ES);
        Mma<T>::run(dpt[2 * np], vf, r4[0], r4[1]);
        Mma<T>::run(dpt[2 * np + 1], vf, r4[2], r4[3]);
      }
    }

    // P^T (into st) and dS^T (into dpt); element e: key = e < 2 ? key_lo : key_hi,
    // query = qr0 + nt*8 + 2t + (e & 1).
#pragma unroll
    for (int nt = 0; nt < NT_S; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int qi = nt * 8 + 2 * t + (e & 1);
        const int key = e < 2 ? key_lo : key_hi;
        const float L = lse_b[qi];
        const bool ok = (e < 2 ? kv_lo : kv_hi) && L != -INFINITY && (!p.causal || key <= qr0 + qi + p.shift);
        const float pr = ok ? exp2f(st[nt][e] * p.scale_log2 - L) : 0.0f;
        st[nt][e] = pr;
        dpt[nt][e] = pr * (dpt[nt][e] - dl_b[qi]);
      }
    }

    // dV += P^T dO, dK += dS^T Q (dO and Q as row-major B operands: ldmatrix.trans).
#pragma unroll
    for (int kk = 0; kk < BWD_KQ / 16; ++kk) {
      uint32_t pa[4], da[4];
      c_to_a_frag<T>(pa, st[2 * kk], st[2 * kk + 1]);
      c_to_a_frag<T>(da, dpt[2 * kk], dpt[2 * kk + 1]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t r4[4];
        load_b_frag_trans<LD>(r4, dos, kk * 16, dp * 16, ES);
        Mma<T>::run(dv[2 * dp], pa, r4[0], r4[1]);
        Mma<T>::run(dv[2 * dp + 1], pa, r4[2], r4[3]);
        load_b_frag_trans<LD>(r4, qs, kk * 16, dp * 16, ES);
        Mma<T>::run(dk[2 * dp], da, r4[0], r4[1]);
        Mma<T>::run(dk[2 * dp + 1], da, r4[2], r4[3]);
      }
    }
    __syncthreads();  // the next iteration refills the buffers read here
  }
  cp_async_wait<0>();

  T* gk = reinterpret_cast<T*>(p.gk) + ((int64_t)b * p.Hkv + hk) * p.Tk * D;
  T* gv = reinterpret_cast<T*>(p.gv) + ((int64_t)b * p.Hkv + hk) * p.Tk * D;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int key = half ? key_hi : key_lo;
    if (key >= p.Tk) continue;
#pragma unroll
    for (int nt = 0; nt < NT_D; ++nt) {
      const int64_t off = (int64_t)key * D + nt * 8 + 2 * t;
      *reinterpret_cast<uint32_t*>(gk + off) =
          Elem<T>::pack2(dk[nt][2 * half] * p.scale, dk[nt][2 * half + 1] * p.scale);
      *reinterpret_cast<uint32_t*>(gv + off) = Elem<T>::pack2(dv[nt][2 * half], dv[nt][2 * half + 1]);
    }
  }
}

// dQ for 64 queries of one head (see the design note).
template <typename T, int D>
__global__ void __launch_bounds__(THREADS) attn_bwd_dq_tc_kernel(AttnArgs p) {
  constexpr int LD = D + 8, ES = sizeof(T), NT_D = D / 8, NT_S = BWD_QN / 8;
  GA_DYNAMIC_SMEM(smem_raw);
  T* Qs = reinterpret_cast<T*>(smem_raw);
  T* dOs = Qs + BWD_QM * LD;
  T* Ks = dOs + BWD_QM * LD;      // [2][BWD_QN][LD]
  T* Vs = Ks + 2 * BWD_QN * LD;   // [2][BWD_QN][LD]

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const int nqb = (p.Tq + BWD_QM - 1) / BWD_QM;
  int idx = blockIdx.x;
  const int qb = nqb - 1 - idx % nqb;
  idx /= nqb;
  const int h = idx % p.Hq, b = idx / p.Hq, hk = h / p.group;
  const int q0 = qb * BWD_QM;
  const int64_t head_row0 = ((int64_t)b * p.Hq + h) * p.Tq;

  const T* qg = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
  const T* dog = reinterpret_cast<const T*>(p.gout) + head_row0 * D;
  const T* kg = reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1];
  const T* vg = reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1];

  const int last_row = min(q0 + BWD_QM, p.Tq) - 1;
  const int n_end = p.causal ? max(0, min(p.Tk, last_row + p.shift + 1)) : p.Tk;
  const int nsteps = (n_end + BWD_QN - 1) / BWD_QN;

  load_rows<T, D>(Qs, qg, p.qs[2], q0, BWD_QM, p.Tq);
  load_rows<T, D>(dOs, dog, D, q0, BWD_QM, p.Tq);
  if (nsteps > 0) {
    load_rows<T, D>(Ks, kg, p.ks[2], 0, BWD_QN, p.Tk);
    load_rows<T, D>(Vs, vg, p.vs[2], 0, BWD_QN, p.Tk);
  }
  cp_async_commit();

  const int row_lo = q0 + warp * 16 + g, row_hi = row_lo + 8;
  const float L_lo = row_lo < p.Tq ? p.lse[head_row0 + row_lo] * LOG2E : -INFINITY;
  const float L_hi = row_hi < p.Tq ? p.lse[head_row0 + row_hi] * LOG2E : -INFINITY;
  const float dl_lo = row_lo < p.Tq ? p.delta[head_row0 + row_lo] : 0.0f;
  const float dl_hi = row_hi < p.Tq ? p.delta[head_row0 + row_hi] : 0.0f;

  float dq[NT_D][4];
#pragma unroll
  for (int i = 0; i < NT_D; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.0f;

  for (int step = 0; step < nsteps; ++step) {
    if (step + 1 < nsteps) {
      const int buf = (step + 1) & 1;
      load_rows<T, D>(Ks + buf * BWD_QN * LD, kg, p.ks[2], (step + 1) * BWD_QN, BWD_QN, p.Tk);
      load_rows<T, D>(Vs + buf * BWD_QN * LD, vg, p.vs[2], (step + 1) * BWD_QN, BWD_QN, p.Tk);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const T* ks = Ks + (step & 1) * BWD_QN * LD;
    const T* vs = Vs + (step & 1) * BWD_QN * LD;

    // S = Q K^T and dP = dO V^T for this warp's 16 queries x 32 keys.
    float s[NT_S][4], dp[NT_S][4];
#pragma unroll
    for (int i = 0; i < NT_S; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[i][e] = dp[i][e] = 0.0f;
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      uint32_t qf[4], df[4];
      load_a_frag<LD>(qf, Qs, warp * 16, kd * 16, ES);
      load_a_frag<LD>(df, dOs, warp * 16, kd * 16, ES);
#pragma unroll
      for (int np = 0; np < NT_S / 2; ++np) {
        uint32_t r4[4];
        load_bt_frag<LD>(r4, ks, np * 16, kd * 16, ES);
        Mma<T>::run(s[2 * np], qf, r4[0], r4[1]);
        Mma<T>::run(s[2 * np + 1], qf, r4[2], r4[3]);
        load_bt_frag<LD>(r4, vs, np * 16, kd * 16, ES);
        Mma<T>::run(dp[2 * np], df, r4[0], r4[1]);
        Mma<T>::run(dp[2 * np + 1], df, r4[2], r4[3]);
      }
    }

    // dS (into dp); element e: row = e < 2 ? row_lo : row_hi, key = step*32 + nt*8 + 2t + (e & 1).
#pragma unroll
    for (int nt = 0; nt < NT_S; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = step * BWD_QN + nt * 8 + 2 * t + (e & 1);
        const float L = e < 2 ? L_lo : L_hi;
        const bool ok = L != -INFINITY && key_visible(p, b, e < 2 ? row_lo : row_hi, key);
        const float pr = ok ? exp2f(s[nt][e] * p.scale_log2 - L) : 0.0f;
        dp[nt][e] = pr * (dp[nt][e] - (e < 2 ? dl_lo : dl_hi));
      }
    }

    // dQ += dS K (K as a row-major B operand: ldmatrix.trans).
#pragma unroll
    for (int kk = 0; kk < BWD_QN / 16; ++kk) {
      uint32_t da[4];
      c_to_a_frag<T>(da, dp[2 * kk], dp[2 * kk + 1]);
#pragma unroll
      for (int dpi = 0; dpi < D / 16; ++dpi) {
        uint32_t r4[4];
        load_b_frag_trans<LD>(r4, ks, kk * 16, dpi * 16, ES);
        Mma<T>::run(dq[2 * dpi], da, r4[0], r4[1]);
        Mma<T>::run(dq[2 * dpi + 1], da, r4[2], r4[3]);
      }
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  T* gq = reinterpret_cast<T*>(p.gq);
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = half ? row_hi : row_lo;
    if (row >= p.Tq) continue;
    T* grow = gq + (head_row0 + row) * D;
#pragma unroll
    for (int nt = 0; nt < NT_D; ++nt) {
      *reinterpret_cast<uint32_t*>(grow + nt * 8 + 2 * t) =
          Elem<T>::pack2(dq[nt][2 * half] * p.scale, dq[nt][2 * half + 1] * p.scale);
    }
  }
}

// ============================================================================================
// 2. SIMT kernels (one warp per row; lane owns dims lane, lane+32, ...)
// ============================================================================================

template <typename T, int DPL>
__device__ __forceinline__ void load_row(float (&dst)[DPL], const T* row, int64_t d_stride, int D) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int r = 0; r < DPL; ++r) {
    const int d = lane + 32 * r;
    dst[r] = d < D ? load_float(row, d * d_stride) : 0.0f;
  }
}

template <typename T, int DPL>
__device__ __forceinline__ void store_row(T* row, const float (&src)[DPL], float mul, int D) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int r = 0; r < DPL; ++r) {
    const int d = lane + 32 * r;
    if (d < D) row[d] = Elem<T>::from_float(src[r] * mul);
  }
}

template <int DPL>
__device__ __forceinline__ float dot_partial(const float (&a)[DPL], const float (&b)[DPL]) {
  float s = 0.0f;
#pragma unroll
  for (int r = 0; r < DPL; ++r) s = fmaf(a[r], b[r], s);
  return s;
}

__device__ __forceinline__ int64_t global_warp() { return ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; }

template <typename T, int DPL>
__global__ void __launch_bounds__(THREADS) attn_fwd_simt_kernel(AttnArgs p) {
  const int64_t row_id = global_warp();
  if (row_id >= (int64_t)p.B * p.Hq * p.Tq) return;
  const int i = (int)(row_id % p.Tq);
  const int h = (int)((row_id / p.Tq) % p.Hq);
  const int b = (int)(row_id / ((int64_t)p.Tq * p.Hq));
  const int hk = h / p.group;
  const T* q = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1] + i * p.qs[2];
  const T* k = reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1];
  const T* v = reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1];

  float qv[DPL], kv[DPL], acc[DPL];
  load_row<T, DPL>(qv, q, p.qs[3], p.D);
#pragma unroll
  for (int r = 0; r < DPL; ++r) acc[r] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  const int j_end = p.causal ? max(0, min(p.Tk, i + p.shift + 1)) : p.Tk;
  for (int j = 0; j < j_end; ++j) {
    if (p.key_mask != nullptr && p.key_mask[(int64_t)b * p.Tk + j] == 0) continue;
    load_row<T, DPL>(kv, k + j * p.ks[2], p.ks[3], p.D);
    const float sc = warp_sum(dot_partial(qv, kv)) * p.scale;
    if (sc > m) {
      const float c = m == -INFINITY ? 0.0f : expf(m - sc);
      l *= c;
#pragma unroll
      for (int r = 0; r < DPL; ++r) acc[r] *= c;
      m = sc;
    }
    const float pr = expf(sc - m);
    l += pr;
    load_row<T, DPL>(kv, v + j * p.vs[2], p.vs[3], p.D);
#pragma unroll
    for (int r = 0; r < DPL; ++r) acc[r] = fmaf(pr, kv[r], acc[r]);
  }
  store_row<T, DPL>(reinterpret_cast<T*>(p.out) + row_id * p.D, acc, l > 0.0f ? 1.0f / l : 0.0f, p.D);
  if ((threadIdx.x & 31) == 0) p.lse[row_id] = l > 0.0f ? m + logf(l) : -INFINITY;
}

// delta[row] = sum_d gout[row, d] * out[row, d] (both contiguous [rows, D]).
template <typename T>
__global__ void __launch_bounds__(THREADS) attn_bwd_delta_kernel(AttnArgs p) {
  const int64_t row = global_warp();
  if (row >= (int64_t)p.B * p.Hq * p.Tq) return;
  const T* o = reinterpret_cast<const T*>(p.out) + row * p.D;
  const T* go = reinterpret_cast<const T*>(p.gout) + row * p.D;
  float s = 0.0f;
  for (int d = threadIdx.x & 31; d < p.D; d += 32) s = fmaf(load_float(go, d), load_float(o, d), s);
  s = warp_sum(s);
  if ((threadIdx.x & 31) == 0) p.delta[row] = s;
}

template <typename T, int DPL>
__global__ void __launch_bounds__(THREADS) attn_bwd_dq_simt_kernel(AttnArgs p) {
  const int64_t row_id = global_warp();
  if (row_id >= (int64_t)p.B * p.Hq * p.Tq) return;
  const int i = (int)(row_id % p.Tq);
  const int h = (int)((row_id / p.Tq) % p.Hq);
  const int b = (int)(row_id / ((int64_t)p.Tq * p.Hq));
  const int hk = h / p.group;
  const T* q = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1] + i * p.qs[2];
  const T* k = reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1];
  const T* v = reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1];

  float qv[DPL], gov[DPL], kv[DPL], vv[DPL], dq[DPL];
#pragma unroll
  for (int r = 0; r < DPL; ++r) dq[r] = 0.0f;
  const float L = p.lse[row_id];
  if (L != -INFINITY) {  // a row that saw no key has zero gradient
    load_row<T, DPL>(qv, q, p.qs[3], p.D);
    load_row<T, DPL>(gov, reinterpret_cast<const T*>(p.gout) + row_id * p.D, 1, p.D);
    const float dl = p.delta[row_id];
    const int j_end = p.causal ? max(0, min(p.Tk, i + p.shift + 1)) : p.Tk;
    for (int j = 0; j < j_end; ++j) {
      if (p.key_mask != nullptr && p.key_mask[(int64_t)b * p.Tk + j] == 0) continue;
      load_row<T, DPL>(kv, k + j * p.ks[2], p.ks[3], p.D);
      load_row<T, DPL>(vv, v + j * p.vs[2], p.vs[3], p.D);
      const float pr = expf(warp_sum(dot_partial(qv, kv)) * p.scale - L);
      const float dpv = warp_sum(dot_partial(gov, vv));
      const float ds = pr * (dpv - dl) * p.scale;
#pragma unroll
      for (int r = 0; r < DPL; ++r) dq[r] = fmaf(ds, kv[r], dq[r]);
    }
  }
  store_row<T, DPL>(reinterpret_cast<T*>(p.gq) + row_id * p.D, dq, 1.0f, p.D);
}

// One warp per key row of a kv head: sums over the query heads of its group and their queries.
template <typename T, int DPL>
__global__ void __launch_bounds__(THREADS) attn_bwd_dkdv_simt_kernel(AttnArgs p) {
  const int64_t row_id = global_warp();
  if (row_id >= (int64_t)p.B * p.Hkv * p.Tk) return;
  const int j = (int)(row_id % p.Tk);
  const int hk = (int)((row_id / p.Tk) % p.Hkv);
  const int b = (int)(row_id / ((int64_t)p.Tk * p.Hkv));

  float kv[DPL], vv[DPL], qv[DPL], gov[DPL], dk[DPL], dv[DPL];
#pragma unroll
  for (int r = 0; r < DPL; ++r) dk[r] = dv[r] = 0.0f;
  if (p.key_mask == nullptr || p.key_mask[(int64_t)b * p.Tk + j] != 0) {
    load_row<T, DPL>(kv, reinterpret_cast<const T*>(p.k) + b * p.ks[0] + hk * p.ks[1] + j * p.ks[2], p.ks[3], p.D);
    load_row<T, DPL>(vv, reinterpret_cast<const T*>(p.v) + b * p.vs[0] + hk * p.vs[1] + j * p.vs[2], p.vs[3], p.D);
    const int i_begin = p.causal ? max(0, j - p.shift) : 0;  // query i sees key j iff j <= i + shift
    for (int h = hk * p.group; h < (hk + 1) * p.group; ++h) {
      const int64_t head_row0 = ((int64_t)b * p.Hq + h) * p.Tq;
      const T* q = reinterpret_cast<const T*>(p.q) + b * p.qs[0] + h * p.qs[1];
      for (int i = i_begin; i < p.Tq; ++i) {
        const float L = p.lse[head_row0 + i];
        if (L == -INFINITY) continue;
        load_row<T, DPL>(qv, q + i * p.qs[2], p.qs[3], p.D);
        load_row<T, DPL>(gov, reinterpret_cast<const T*>(p.gout) + (head_row0 + i) * p.D, 1, p.D);
        const float pr = expf(warp_sum(dot_partial(qv, kv)) * p.scale - L);
        const float dpv = warp_sum(dot_partial(gov, vv));
        const float ds = pr * (dpv - p.delta[head_row0 + i]) * p.scale;
#pragma unroll
        for (int r = 0; r < DPL; ++r) {
          dv[r] = fmaf(pr, gov[r], dv[r]);
          dk[r] = fmaf(ds, qv[r], dk[r]);
        }
      }
    }
  }
  store_row<T, DPL>(reinterpret_cast<T*>(p.gk) + row_id * p.D, dk, 1.0f, p.D);
  store_row<T, DPL>(reinterpret_cast<T*>(p.gv) + row_id * p.D, dv, 1.0f, p.D);
}

// ============================================================================================
// host side
// ============================================================================================

constexpr int64_t MAX_BLOCKS = 0x7fffffff;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One warp per row, four rows per block.
template <typename Kernel>
int launch_rows(Kernel kernel, const AttnArgs& p, int64_t rows, cudaStream_t s) {
  const int64_t blocks = ceil_div(rows, NUM_WARPS);
  if (blocks == 0) return 0;
  if (blocks > MAX_BLOCKS) return LLAVA_ERR_UNSUPPORTED;
  GA_LAUNCH(kernel, (unsigned)blocks, THREADS, 0, s)(p);
  return launch_status();
}

template <typename Kernel>
int launch_tc(Kernel kernel, const AttnArgs& p, int64_t blocks, size_t smem, cudaStream_t s) {
  if (blocks == 0) return 0;
  if (blocks > MAX_BLOCKS) return LLAVA_ERR_UNSUPPORTED;
  const int st = cuda_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  if (st != 0) return st;
  GA_LAUNCH(kernel, (unsigned)blocks, THREADS, smem, s)(p);
  return launch_status();
}

template <typename T, int DPL>
int simt_forward(const AttnArgs& p, cudaStream_t s) {
  return launch_rows(attn_fwd_simt_kernel<T, DPL>, p, (int64_t)p.B * p.Hq * p.Tq, s);
}

template <typename T>
int simt_forward(const AttnArgs& p, cudaStream_t s) {
  if (p.D <= 64) return simt_forward<T, 2>(p, s);
  if (p.D <= 128) return simt_forward<T, 4>(p, s);
  return simt_forward<T, 8>(p, s);
}

template <typename T, int DPL>
int simt_backward(const AttnArgs& p, cudaStream_t s) {
  int st = launch_rows(attn_bwd_dq_simt_kernel<T, DPL>, p, (int64_t)p.B * p.Hq * p.Tq, s);
  if (st == 0) st = launch_rows(attn_bwd_dkdv_simt_kernel<T, DPL>, p, (int64_t)p.B * p.Hkv * p.Tk, s);
  return st;
}

template <typename T>
int simt_backward(const AttnArgs& p, cudaStream_t s) {
  if (p.D <= 64) return simt_backward<T, 2>(p, s);
  if (p.D <= 128) return simt_backward<T, 4>(p, s);
  return simt_backward<T, 8>(p, s);
}

template <typename T, int D>
int tc_forward(const AttnArgs& p, cudaStream_t s) {
  const int64_t blocks = ceil_div(p.Tq, FWD_BM) * p.Hq * p.B;
  return launch_tc(attn_fwd_tc_kernel<T, D>, p, blocks, fwd_smem_bytes<T, D>(), s);
}

template <typename T, int D>
int tc_backward(const AttnArgs& p, cudaStream_t s) {
  int st = launch_tc(attn_bwd_dq_tc_kernel<T, D>, p, ceil_div(p.Tq, BWD_QM) * p.Hq * p.B, dq_smem_bytes<T, D>(), s);
  if (st == 0)
    st = launch_tc(attn_bwd_dkdv_tc_kernel<T, D>, p, ceil_div(p.Tk, BWD_KN) * p.Hkv * p.B, dkdv_smem_bytes<T, D>(), s);
  return st;
}

// Returns -1 when D has no tensor-core instantiation.
template <typename T>
int tc_dispatch(const AttnArgs& p, bool backward, cudaStream_t s) {
  switch (p.D) {
    case 64: return backward ? tc_backward<T, 64>(p, s) : tc_forward<T, 64>(p, s);
    case 80: return backward ? tc_backward<T, 80>(p, s) : tc_forward<T, 80>(p, s);
    case 96: return backward ? tc_backward<T, 96>(p, s) : tc_forward<T, 96>(p, s);
    case 128: return backward ? tc_backward<T, 128>(p, s) : tc_forward<T, 128>(p, s);
    default: return -1;
  }
}

// Largest shared memory the tensor-core kernels need (D = 128, forward).
constexpr size_t TC_MAX_SMEM = fwd_smem_bytes<__nv_bfloat16, 128>();

// The operand checks the tensor-core path needs for one [B, H, T, D] input (strides of size-1
// dimensions are zeroed beforehand so they cannot fail the test).
bool tc_input_ok(const void* ptr, const int64_t* st) {
  return aligned16(ptr) && st[3] == 1 && st[0] % 8 == 0 && st[1] % 8 == 0 && st[2] % 8 == 0;
}

int check_common(int dtype, int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D,
                 const int64_t* q_strides, const int64_t* k_strides, const int64_t* v_strides) {
  if (dtype != LLAVA_DTYPE_F32 && dtype != LLAVA_DTYPE_BF16 && dtype != LLAVA_DTYPE_F16) return LLAVA_ERR_UNSUPPORTED;
  if (B < 0 || Hq < 0 || Hkv < 1 || Tq < 0 || Tk < 0 || D < 1 || Hq % Hkv != 0) return LLAVA_ERR_INVALID_ARGUMENT;
  if (D > 256) return LLAVA_ERR_UNSUPPORTED;
  if (B > 0x7fffffff || Hq > 0x7fffffff || Tq > 0x7fffffff || Tk > 0x7fffffff || B * Hq > 0x7fffffff)
    return LLAVA_ERR_UNSUPPORTED;
  if (q_strides == nullptr || k_strides == nullptr || v_strides == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
  for (int i = 0; i < 4; ++i)
    if (q_strides[i] < 0 || k_strides[i] < 0 || v_strides[i] < 0) return LLAVA_ERR_INVALID_ARGUMENT;
  return 0;
}

AttnArgs make_args(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D,
                   const void* q, const int64_t* q_strides, const void* k, const int64_t* k_strides,
                   const void* v, const int64_t* v_strides, const uint8_t* key_mask, int causal, float scale) {
  AttnArgs p{};
  p.B = (int)B;
  p.Hq = (int)Hq;
  p.Hkv = (int)Hkv;
  p.Tq = (int)Tq;
  p.Tk = (int)Tk;
  p.D = (int)D;
  p.group = (int)(Hq / Hkv);
  p.shift = (int)(Tk - Tq);
  p.q = q;
  p.k = k;
  p.v = v;
  // Zero the strides of size-1 dimensions: they are never multiplied by a non-zero index.
  const int64_t q_dims[4] = {B, Hq, Tq, D}, kv_dims[4] = {B, Hkv, Tk, D};
  for (int i = 0; i < 4; ++i) {
    p.qs[i] = q_dims[i] == 1 && i < 3 ? 0 : q_strides[i];
    p.ks[i] = kv_dims[i] == 1 && i < 3 ? 0 : k_strides[i];
    p.vs[i] = kv_dims[i] == 1 && i < 3 ? 0 : v_strides[i];
  }
  p.key_mask = key_mask;
  p.causal = causal != 0;
  p.scale = scale;
  p.scale_log2 = scale * LOG2E;
  return p;
}

bool use_tensor_cores(int dtype, const AttnArgs& p) {
  return dtype != LLAVA_DTYPE_F32 && !naive_kernels_requested() &&
         (p.D == 64 || p.D == 80 || p.D == 96 || p.D == 128) && tc_input_ok(p.q, p.qs) &&
         tc_input_ok(p.k, p.ks) && tc_input_ok(p.v, p.vs) && (int64_t)TC_MAX_SMEM <= max_dynamic_smem();
}

}  // namespace

extern "C" int llava_attention_forward(void* stream, int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                                       int64_t Tq, int64_t Tk, int64_t D,
                                       const void* q, const int64_t* q_strides,
                                       const void* k, const int64_t* k_strides,
                                       const void* v, const int64_t* v_strides,
                                       const uint8_t* key_mask, int causal, float scale,
                                       void* out, float* lse) {
  int st = check_common(dtype, B, Hq, Hkv, Tq, Tk, D, q_strides, k_strides, v_strides);
  if (st != 0) return st;
  if (B == 0 || Hq == 0 || Tq == 0) return 0;
  if (q == nullptr || out == nullptr || lse == nullptr || (Tk > 0 && (k == nullptr || v == nullptr)))
    return LLAVA_ERR_INVALID_ARGUMENT;
  AttnArgs p = make_args(B, Hq, Hkv, Tq, Tk, D, q, q_strides, k, k_strides, v, v_strides, key_mask, causal, scale);
  p.out = out;
  p.lse = lse;
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  if (use_tensor_cores(dtype, p) && aligned16(out)) {
    st = dtype == LLAVA_DTYPE_BF16 ? tc_dispatch<__nv_bfloat16>(p, false, s) : tc_dispatch<__half>(p, false, s);
    if (st >= 0) return st;
  }
  switch (dtype) {
    case LLAVA_DTYPE_F32: return simt_forward<float>(p, s);
    case LLAVA_DTYPE_BF16: return simt_forward<__nv_bfloat16>(p, s);
    default: return simt_forward<__half>(p, s);
  }
}

extern "C" int64_t llava_attention_backward_workspace_size(int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                                                           int64_t Tq, int64_t Tk, int64_t D) {
  (void)dtype;
  (void)Hkv;
  (void)Tk;
  (void)D;
  if (B <= 0 || Hq <= 0 || Tq <= 0) return 0;
  // delta: one F32 per query row, rounded up to 256 bytes.
  return (B * Hq * Tq * (int64_t)sizeof(float) + 255) / 256 * 256;
}

extern "C" int llava_attention_backward(void* stream, int dtype, int64_t B, int64_t Hq, int64_t Hkv,
                                        int64_t Tq, int64_t Tk, int64_t D,
                                        const void* q, const int64_t* q_strides,
                                        const void* k, const int64_t* k_strides,
                                        const void* v, const int64_t* v_strides,
                                        const void* out, const float* lse, const void* gout,
                                        const uint8_t* key_mask, int causal, float scale,
                                        void* gq, void* gk, void* gv, void* workspace) {
  int st = check_common(dtype, B, Hq, Hkv, Tq, Tk, D, q_strides, k_strides, v_strides);
  if (st != 0) return st;
  if (B == 0 || ((Hq == 0 || Tq == 0) && Tk == 0)) return 0;
  if (Tq > 0 && (q == nullptr || out == nullptr || lse == nullptr || gout == nullptr || gq == nullptr ||
                 workspace == nullptr))
    return LLAVA_ERR_INVALID_ARGUMENT;
  if (Tk > 0 && (k == nullptr || v == nullptr || gk == nullptr || gv == nullptr)) return LLAVA_ERR_INVALID_ARGUMENT;
  if (((uintptr_t)workspace & (sizeof(float) - 1)) != 0) return LLAVA_ERR_INVALID_ARGUMENT;  // F32 delta rows
  AttnArgs p = make_args(B, Hq, Hkv, Tq, Tk, D, q, q_strides, k, k_strides, v, v_strides, key_mask, causal, scale);
  p.out = const_cast<void*>(out);
  p.lse = const_cast<float*>(lse);
  p.gout = gout;
  p.delta = static_cast<float*>(workspace);
  p.gq = gq;
  p.gk = gk;
  p.gv = gv;
  cudaStream_t s = static_cast<cudaStream_t>(stream);

  const int64_t q_rows = B * Hq * Tq;
  switch (dtype) {
    case LLAVA_DTYPE_F32: st = launch_rows(attn_bwd_delta_kernel<float>, p, q_rows, s); break;
    case LLAVA_DTYPE_BF16: st = launch_rows(attn_bwd_delta_kernel<__nv_bfloat16>, p, q_rows, s); break;
    default: st = launch_rows(attn_bwd_delta_kernel<__half>, p, q_rows, s); break;
  }
  if (st != 0) return st;

  if (use_tensor_cores(dtype, p) && aligned16(out) && aligned16(gout) && aligned16(gq) && aligned16(gk) &&
      aligned16(gv)) {
    st = dtype == LLAVA_DTYPE_BF16 ? tc_dispatch<__nv_bfloat16>(p, true, s) : tc_dispatch<__half>(p, true, s);
    if (st >= 0) return st;
  }
  switch (dtype) {
    case LLAVA_DTYPE_F32: return simt_backward<float>(p, s);
    case LLAVA_DTYPE_BF16: return simt_backward<__nv_bfloat16>(p, s);
    default: return simt_backward<__half>(p, s);
  }
}
