/*
 * llava_gemm: C[b] = alpha * A[b] @ B[b] (+ bias) + beta * C[b]  (see llava_kernels.h).
 *
 * Three kernels, chosen per call on the host:
 *
 * 1. Tensor-core path (BF16/F16 operands, F32 accumulation), used when both operands have a unit
 *    inner stride, a 16-byte aligned base pointer, and leading/batch strides that are multiples of
 *    8 elements (so every 16-byte cp.async chunk is aligned). Templated on the two operand layouts:
 *    "K-major" (contiguous along K: row-major A, column-major B such as a Linear weight W^T) or
 *    "MN-major" (contiguous along M resp. N). The shared-memory tile keeps the global layout and
 *    ldmatrix (.trans for the layouts that need it) builds the mma fragments.
 *    - CTA tile 128x128x32, 4 warps in a 2x2 grid, warp tile 64x64 = 4 x 8 mma.sync m16n8k16 per
 *      k16 step, 128 F32 accumulators per thread.
 *    - 4-stage cp.async pipeline. Rows are padded by 16 bytes instead of swizzled: a K-major row is
 *      32+8 elements (80 B = 5 chunks), an MN-major row 128+8 (272 B = 17 chunks); both are odd
 *      numbers of 16-byte chunks, so the 8 row addresses of one ldmatrix phase hit 8 different
 *      bank groups. Per stage A and B take 10240 B (K-major) or 8704 B (MN-major):
 *      at most 4 * 20480 = 80 KiB dynamic shared memory per CTA (2 CTAs per SM on A100/H100).
 *    - Tails: chunks past M, N or K are zero-filled by cp.async's src-size operand (a chunk that
 *      straddles the end of K copies only the valid elements), so partial tiles need no masking in
 *      the main loop; the epilogue guards rows and columns.
 *    - Tiles are rasterised in groups of 8 M-tiles so CTAs that run together share A and B in L2.
 *    - Epilogue straight from the accumulator registers: alpha, bias, beta (C is not read when
 *      beta == 0, so it may hold garbage), paired stores when C's alignment allows.
 * 1b. GEMV kernel for decode-sized problems (M <= 8, both operands K-major and aligned as above,
 *    i.e. x @ W^T of a Linear layer): one warp per output column streams that row of W with
 *    16-byte loads and keeps M F32 dot products; warp-shuffle reduction, same epilogue. The
 *    128x128 tensor-core tile would give only N/128 CTAs and leave most SMs idle there.
 * 2. SIMT tile kernel (64x64x16, 256 threads, 4x4 outputs per thread, F32 FMA): the exact F32 path
 *    and the fallback for half operands with arbitrary strides or misaligned pointers. Reads every
 *    element through its two strides with bounds checks.
 * 3. Naive kernel (one thread per output, F64 accumulation): the trusted reference, used for every
 *    call when the environment variable LLAVA_NAIVE_KERNELS=1 is set.
 *
 * Batches go on grid.y (launched in chunks of 65535); a batch stride of 0 broadcasts.
 *
 * Verification status: compiled for sm_80/sm_90 without warnings, no register spills
 * (-Xptxas -v: ~235 registers for the tensor-core kernel, 2 CTAs/SM). Written on a machine
 * without a GPU: the kernel code was executed on the CPU emulator in cuda-kernels/test/emulator
 * (real kernel source, emulated warps/ldmatrix/mma/cp.async, AddressSanitizer), where all 259
 * GEMM cases of cuda-kernels/test/gemm_attention_selftest.cu pass against a host F64 reference:
 * every layout, dtype and path, M/N/K tails, K = 0, misaligned and padded operands, broadcast
 * batches, bias/alpha/beta, NaN-poisoned C with beta = 0. Still to do on a GPU: run that
 * self-test (cuda-kernels/test/run_selftest.sh) and time it (--bench); the emulator follows
 * the PTX fragment layouts as the author read them and says nothing about speed.
 * No wgmma (sm_90a) path: it would need a GPU to validate, so it waits for the mma.sync path.
 */
#include "gemm_attention_common.cuh"

namespace {
using namespace llava_ga;

// ---- shared parameters and epilogue --------------------------------------------------------

struct GemmArgs {
  int M, N, K;
  const void* A;
  int64_t a_bs, a_rs, a_cs;
  const void* B;
  int64_t b_bs, b_rs, b_cs;
  int64_t a_ld, b_ld;  // tensor-core path: the non-unit stride of A and B in the chosen layout
  const void* bias;
  void* C;
  int64_t c_bs, ldc;
  float alpha, beta;
  int c_f32;      // C (and bias) are F32, else the operand type
  int c_pair_ok;  // two adjacent C elements at an even column can be stored as one aligned vector
  int grid_m, grid_n;
};

template <typename T>
__device__ __forceinline__ float load_c(const void* p, int64_t i, int c_f32) {
  return c_f32 ? ((const float*)p)[i] : Elem<T>::to_float(((const T*)p)[i]);
}

// alpha * acc + bias[col] + beta * C[idx]; C is only read when beta != 0.
template <typename T>
__device__ __forceinline__ float epilogue_value(const GemmArgs& p, const void* C, int64_t idx, int col, float acc) {
  float v = p.alpha * acc;
  if (p.bias != nullptr) v += load_c<T>(p.bias, col, p.c_f32);
  if (p.beta != 0.0f) v += p.beta * load_c<T>(C, idx, p.c_f32);
  return v;
}

template <typename T>
__device__ __forceinline__ void store_c(void* C, int64_t i, float v, int c_f32) {
  if (c_f32) ((float*)C)[i] = v;
  else ((T*)C)[i] = Elem<T>::from_float(v);
}

// Stores the results for columns col and col+1 (col+1 may be past N) of one row.
template <typename T>
__device__ __forceinline__ void store_pair(const GemmArgs& p, void* C, int64_t row_off, int col, float a0, float a1) {
  if (col >= p.N) return;
  const int64_t idx = row_off + col;
  if (col + 1 < p.N && p.c_pair_ok) {
    const float v0 = epilogue_value<T>(p, C, idx, col, a0);
    const float v1 = epilogue_value<T>(p, C, idx + 1, col + 1, a1);
    if (p.c_f32) {
      *reinterpret_cast<float2*>((float*)C + idx) = make_float2(v0, v1);
    } else {
      *reinterpret_cast<uint32_t*>((T*)C + idx) = Elem<T>::pack2(v0, v1);
    }
    return;
  }
  store_c<T>(C, idx, epilogue_value<T>(p, C, idx, col, a0), p.c_f32);
  if (col + 1 < p.N) store_c<T>(C, idx + 1, epilogue_value<T>(p, C, idx + 1, col + 1, a1), p.c_f32);
}

// ---- 1. tensor-core kernel -------------------------------------------------------------------

constexpr int TC_BM = 128, TC_BN = 128, TC_BK = 32, TC_STAGES = 4, TC_THREADS = 128;

// Shared-memory tile of one operand for one stage, in the operand's global layout.
template <bool K_MAJOR>
struct TcTile {
  static constexpr int ROWS = K_MAJOR ? 128 : TC_BK;          // m/n rows, or k rows
  static constexpr int LD = (K_MAJOR ? TC_BK : 128) + 8;      // padded row length (elements)
  static constexpr int CHUNKS_PER_ROW = (K_MAJOR ? TC_BK : 128) / 8;
  static constexpr int CHUNKS = ROWS * CHUNKS_PER_ROW;        // 16-byte chunks of data per stage
  static constexpr int ELEMS = ROWS * LD;
  static_assert(CHUNKS % TC_THREADS == 0, "every thread copies the same number of chunks");
  static_assert((LD * 2 / 16) % 2 == 1, "odd number of 16-byte chunks per row: conflict-free ldmatrix");
};

template <typename T, bool A_K_MAJOR, bool B_K_MAJOR>
constexpr size_t tc_smem_bytes() {
  return (size_t)TC_STAGES * (TcTile<A_K_MAJOR>::ELEMS + TcTile<B_K_MAJOR>::ELEMS) * sizeof(T);
}

// Copies the 128 x 32 (K-major) or 32 x 128 (MN-major) tile whose outer corner is (mn0, k0) of a
// operand with `rows` = M or N extent. ld is the operand's non-unit stride.
template <typename T, bool K_MAJOR>
__device__ __forceinline__ void tc_load_tile(T* dst, const T* src, int64_t ld, int mn0, int mn_extent, int k0, int K) {
  using G = TcTile<K_MAJOR>;
#pragma unroll
  for (int i = 0; i < G::CHUNKS / TC_THREADS; ++i) {
    const int c = threadIdx.x + i * TC_THREADS;
    const int r = c / G::CHUNKS_PER_ROW, ch = c % G::CHUNKS_PER_ROW;
    const T* g = src;  // a valid, aligned address for zero-byte copies
    int bytes = 0;
    if (K_MAJOR) {
      const int mn = mn0 + r, k = k0 + ch * 8;
      if (mn < mn_extent && k < K) {
        bytes = min(K - k, 8) * (int)sizeof(T);
        g = src + (int64_t)mn * ld + k;
      }
    } else {
      const int k = k0 + r, mn = mn0 + ch * 8;
      if (k < K && mn < mn_extent) {
        bytes = min(mn_extent - mn, 8) * (int)sizeof(T);
        g = src + (int64_t)k * ld + mn;
      }
    }
    cp_async16(dst + r * G::LD + ch * 8, g, bytes);
  }
}

template <typename T, bool A_K_MAJOR, bool B_K_MAJOR>
__global__ void __launch_bounds__(TC_THREADS) gemm_tc_kernel(GemmArgs p) {
  using GA = TcTile<A_K_MAJOR>;
  using GB = TcTile<B_K_MAJOR>;
  GA_DYNAMIC_SMEM(smem_raw);
  T* As = reinterpret_cast<T*>(smem_raw);
  T* Bs = As + TC_STAGES * GA::ELEMS;

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warp_m = warp >> 1, warp_n = warp & 1;

  // Grouped rasterisation: 8 consecutive M-tiles per group, N-tiles advance within a group.
  constexpr int GROUP_M = 8;
  const int pid = blockIdx.x;
  const int per_group = GROUP_M * p.grid_n;
  const int first_m = (pid / per_group) * GROUP_M;
  const int group_rows = min(p.grid_m - first_m, GROUP_M);
  const int tm = first_m + (pid % per_group) % group_rows;
  const int tn = (pid % per_group) / group_rows;
  const int m0 = tm * TC_BM, n0 = tn * TC_BN;

  const int64_t bz = blockIdx.y;
  const T* A = reinterpret_cast<const T*>(p.A) + bz * p.a_bs;
  const T* B = reinterpret_cast<const T*>(p.B) + bz * p.b_bs;

  float acc[4][8][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  const int KT = (p.K + TC_BK - 1) / TC_BK;
  auto load_stage = [&](int stage, int kt) {
    tc_load_tile<T, A_K_MAJOR>(As + stage * GA::ELEMS, A, p.a_ld, m0, p.M, kt * TC_BK, p.K);
    tc_load_tile<T, B_K_MAJOR>(Bs + stage * GB::ELEMS, B, p.b_ld, n0, p.N, kt * TC_BK, p.K);
  };

#pragma unroll
  for (int s = 0; s < TC_STAGES - 1; ++s) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();  // empty groups keep the group count uniform
  }

  for (int kt = 0; kt < KT; ++kt) {
    // Groups committed so far: STAGES-1+kt; at most STAGES-2 pending => tile kt has landed.
    cp_async_wait<TC_STAGES - 2>();
    __syncthreads();  // everyone's copies visible; everyone done with the stage refilled below
    const int next = kt + TC_STAGES - 1;
    if (next < KT) load_stage(next % TC_STAGES, next);
    cp_async_commit();

    const T* as = As + (kt % TC_STAGES) * GA::ELEMS;
    const T* bs = Bs + (kt % TC_STAGES) * GB::ELEMS;
#pragma unroll
    for (int kk = 0; kk < TC_BK / 16; ++kk) {
      uint32_t af[4][4];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const int mrow = warp_m * 64 + mi * 16;
        if (A_K_MAJOR) {
          // matrices: (m+0,k+0) (m+8,k+0) (m+0,k+8) (m+8,k+8) -> a0..a3
          const int r = mrow + (lane & 7) + ((lane >> 3) & 1) * 8;
          const int c = kk * 16 + (lane >> 4) * 8;
          ldmatrix_x4(af[mi], as + r * GA::LD + c);
        } else {
          // smem rows are k; transposed load gives the same four fragments
          const int r = kk * 16 + (lane & 7) + (lane >> 4) * 8;
          const int c = mrow + ((lane >> 3) & 1) * 8;
          ldmatrix_x4_trans(af[mi], as + r * GA::LD + c);
        }
      }
      uint32_t bf[8][2];
#pragma unroll
      for (int nj = 0; nj < 4; ++nj) {
        const int ncol = warp_n * 64 + nj * 16;
        uint32_t r4[4];
        if (B_K_MAJOR) {
          // matrices: (n+0,k+0) (n+0,k+8) (n+8,k+0) (n+8,k+8) -> b0,b1 of n-tile 2nj, b0,b1 of 2nj+1
          const int r = ncol + (lane & 7) + (lane >> 4) * 8;
          const int c = kk * 16 + ((lane >> 3) & 1) * 8;
          ldmatrix_x4(r4, bs + r * GB::LD + c);
        } else {
          // smem rows are k: matrices (k+0,n+0) (k+8,n+0) (k+0,n+8) (k+8,n+8), transposed
          const int r = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
          const int c = ncol + (lane >> 4) * 8;
          ldmatrix_x4_trans(r4, bs + r * GB::LD + c);
        }
        bf[2 * nj][0] = r4[0];
        bf[2 * nj][1] = r4[1];
        bf[2 * nj + 1][0] = r4[2];
        bf[2 * nj + 1][1] = r4[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 8; ++ni) Mma<T>::run(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  }
  cp_async_wait<0>();

  void* C = p.c_f32 ? (void*)((float*)p.C + bz * p.c_bs) : (void*)((T*)p.C + bz * p.c_bs);
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = m0 + warp_m * 64 + mi * 16 + g + half * 8;
      if (row >= p.M) continue;
      const int64_t row_off = (int64_t)row * p.ldc;
#pragma unroll
      for (int ni = 0; ni < 8; ++ni) {
        const int col = n0 + warp_n * 64 + ni * 8 + 2 * t;
        store_pair<T>(p, C, row_off, col, acc[mi][ni][half * 2], acc[mi][ni][half * 2 + 1]);
      }
    }
  }
}

// ---- 2. SIMT tile kernel ---------------------------------------------------------------------

constexpr int ST_BM = 64, ST_BN = 64, ST_BK = 16, ST_THREADS = 256;

template <typename T>
__global__ void __launch_bounds__(ST_THREADS) gemm_simt_kernel(GemmArgs p) {
  __shared__ float As[ST_BK][ST_BM + 1];
  __shared__ float Bs[ST_BK][ST_BN + 1];
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int tiles_n = p.grid_n;
  const int m0 = (blockIdx.x / tiles_n) * ST_BM, n0 = (blockIdx.x % tiles_n) * ST_BN;
  const int64_t bz = blockIdx.y;
  const T* A = reinterpret_cast<const T*>(p.A) + bz * p.a_bs;
  const T* B = reinterpret_cast<const T*>(p.B) + bz * p.b_bs;
  // Map consecutive threads along the operand's contiguous dimension for coalesced reads.
  const bool a_k_fast = p.a_cs == 1, b_n_fast = p.b_cs == 1;

  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < p.K; k0 += ST_BK) {
#pragma unroll
    for (int i = 0; i < ST_BM * ST_BK / ST_THREADS; ++i) {
      const int e = tid + i * ST_THREADS;
      const int mm = a_k_fast ? e / ST_BK : e % ST_BM;
      const int kk = a_k_fast ? e % ST_BK : e / ST_BM;
      const int m = m0 + mm, k = k0 + kk;
      As[kk][mm] = (m < p.M && k < p.K) ? load_float(A, (int64_t)m * p.a_rs + (int64_t)k * p.a_cs) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < ST_BN * ST_BK / ST_THREADS; ++i) {
      const int e = tid + i * ST_THREADS;
      const int nn = b_n_fast ? e % ST_BN : e / ST_BK;
      const int kk = b_n_fast ? e / ST_BN : e % ST_BK;
      const int n = n0 + nn, k = k0 + kk;
      Bs[kk][nn] = (n < p.N && k < p.K) ? load_float(B, (int64_t)k * p.b_rs + (int64_t)n * p.b_cs) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < ST_BK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  void* C = p.c_f32 ? (void*)((float*)p.C + bz * p.c_bs) : (void*)((T*)p.C + bz * p.c_bs);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int row = m0 + ty + 16 * i;
    if (row >= p.M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = n0 + tx + 16 * j;
      if (col >= p.N) continue;
      const int64_t idx = (int64_t)row * p.ldc + col;
      store_c<T>(C, idx, epilogue_value<T>(p, C, idx, col, acc[i][j]), p.c_f32);
    }
  }
}

// ---- 2b. GEMV kernel (decode: M <= 8, both operands K-major) -------------------------------

constexpr int GEMV_MAX_M = 8, GEMV_WARPS = 8;

// Eight consecutive K elements starting at k (a multiple of 8) as floats; one 16-byte load when
// they are all inside K, scalar loads for the tail.
template <typename T>
__device__ __forceinline__ void load8(float (&x)[8], const T* row, int k, int K) {
  if (k + 8 <= K) {
    const uint4 raw = *reinterpret_cast<const uint4*>(row + k);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = Elem<T>::to_float(e[i]);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = k + i < K ? Elem<T>::to_float(row[k + i]) : 0.0f;
  }
}

// One warp per output column n: streams row n of B^T (contiguous in K, 16-byte loads) once and
// dots it with the M <= 8 rows of A (which stay in L1/L2). Memory-bound, like the decode step it
// serves, so plain FMA is enough; every SM gets work even when N / 128 is small.
template <typename T>
__global__ void __launch_bounds__(GEMV_WARPS * 32) gemm_gemv_kernel(GemmArgs p) {
  const int lane = threadIdx.x & 31;
  const int n = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
  if (n >= p.N) return;  // whole warp
  const int64_t bz = blockIdx.y;
  const T* A = reinterpret_cast<const T*>(p.A) + bz * p.a_bs;
  const T* brow = reinterpret_cast<const T*>(p.B) + bz * p.b_bs + (int64_t)n * p.b_ld;
  float acc[GEMV_MAX_M];
#pragma unroll
  for (int m = 0; m < GEMV_MAX_M; ++m) acc[m] = 0.0f;
  for (int k = lane * 8; k < p.K; k += 32 * 8) {
    float b[8], a[8];
    load8(b, brow, k, p.K);
#pragma unroll
    for (int m = 0; m < GEMV_MAX_M; ++m) {
      if (m < p.M) {
        load8(a, A + (int64_t)m * p.a_ld, k, p.K);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[m] = fmaf(a[i], b[i], acc[m]);
      }
    }
  }
  void* C = p.c_f32 ? (void*)((float*)p.C + bz * p.c_bs) : (void*)((T*)p.C + bz * p.c_bs);
#pragma unroll
  for (int m = 0; m < GEMV_MAX_M; ++m) {
    if (m < p.M) {
      const float v = warp_sum(acc[m]);
      if (lane == 0) {
        const int64_t idx = (int64_t)m * p.ldc + n;
        store_c<T>(C, idx, epilogue_value<T>(p, C, idx, n, v), p.c_f32);
      }
    }
  }
}

// ---- 3. naive reference kernel ---------------------------------------------------------------

template <typename T>
__global__ void gemm_naive_kernel(GemmArgs p, int64_t batch) {
  const int64_t total = batch * p.M * p.N;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int col = (int)(e % p.N);
    const int row = (int)((e / p.N) % p.M);
    const int64_t bz = e / ((int64_t)p.N * p.M);
    const T* A = reinterpret_cast<const T*>(p.A) + bz * p.a_bs + (int64_t)row * p.a_rs;
    const T* B = reinterpret_cast<const T*>(p.B) + bz * p.b_bs + (int64_t)col * p.b_cs;
    double sum = 0.0;
    for (int k = 0; k < p.K; ++k) sum += (double)load_float(A, k * p.a_cs) * (double)load_float(B, k * p.b_rs);
    void* C = p.c_f32 ? (void*)((float*)p.C + bz * p.c_bs) : (void*)((T*)p.C + bz * p.c_bs);
    const int64_t idx = (int64_t)row * p.ldc + col;
    store_c<T>(C, idx, epilogue_value<T>(p, C, idx, col, (float)sum), p.c_f32);
  }
}

// ---- host side -------------------------------------------------------------------------------

constexpr int64_t MAX_GRID_Y = 65535;

// Launches `kernel` over the batch in chunks of at most 65535 (grid.y), offsetting A, B and C.
template <typename T, typename Kernel>
int launch_batched(Kernel kernel, GemmArgs p, int64_t batch, unsigned grid_x, unsigned threads, size_t smem,
                   cudaStream_t stream) {
  const size_t c_size = p.c_f32 ? sizeof(float) : sizeof(T);
  for (int64_t b0 = 0; b0 < batch; b0 += MAX_GRID_Y) {
    GemmArgs q = p;
    q.A = reinterpret_cast<const T*>(p.A) + b0 * p.a_bs;
    q.B = reinterpret_cast<const T*>(p.B) + b0 * p.b_bs;
    q.C = static_cast<char*>(p.C) + b0 * p.c_bs * (int64_t)c_size;
    const unsigned chunk = (unsigned)(batch - b0 < MAX_GRID_Y ? batch - b0 : MAX_GRID_Y);
    GA_LAUNCH(kernel, dim3(grid_x, chunk), threads, smem, stream)(q);
    const int st = launch_status();
    if (st != 0) return st;
  }
  return 0;
}

template <typename T, bool AK, bool BK>
int launch_tc(GemmArgs p, int64_t batch, cudaStream_t stream) {
  constexpr size_t smem = tc_smem_bytes<T, AK, BK>();
  if ((int64_t)smem > max_dynamic_smem()) return -1;  // caller falls back to the SIMT kernel
  int st = cuda_status(cudaFuncSetAttribute(gemm_tc_kernel<T, AK, BK>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  if (st != 0) return st;
  p.grid_m = (p.M + TC_BM - 1) / TC_BM;
  p.grid_n = (p.N + TC_BN - 1) / TC_BN;
  const int64_t tiles = (int64_t)p.grid_m * p.grid_n;
  if (tiles > 0x7fffffff) return LLAVA_ERR_UNSUPPORTED;
  return launch_batched<T>(gemm_tc_kernel<T, AK, BK>, p, batch, (unsigned)tiles, TC_THREADS, smem, stream);
}

template <typename T>
int launch_simt(GemmArgs p, int64_t batch, cudaStream_t stream) {
  p.grid_m = (p.M + ST_BM - 1) / ST_BM;
  p.grid_n = (p.N + ST_BN - 1) / ST_BN;
  const int64_t tiles = (int64_t)p.grid_m * p.grid_n;
  if (tiles > 0x7fffffff) return LLAVA_ERR_UNSUPPORTED;
  return launch_batched<T>(gemm_simt_kernel<T>, p, batch, (unsigned)tiles, ST_THREADS, 0, stream);
}

template <typename T>
int launch_gemv(const GemmArgs& p, int64_t batch, cudaStream_t stream) {
  const unsigned blocks = (unsigned)((p.N + GEMV_WARPS - 1) / GEMV_WARPS);
  return launch_batched<T>(gemm_gemv_kernel<T>, p, batch, blocks, GEMV_WARPS * 32, 0, stream);
}

template <typename T>
int launch_naive(const GemmArgs& p, int64_t batch, cudaStream_t stream) {
  const int64_t total = batch * p.M * p.N;
  const int threads = 256;
  const int64_t blocks = (total + threads - 1) / threads;
  GA_LAUNCH(gemm_naive_kernel<T>, (unsigned)(blocks < 65535 * 16 ? blocks : 65535 * 16), threads, 0, stream)(p, batch);
  return launch_status();
}

// Tensor-core eligibility of one operand (16-byte chunks must be aligned). An operand is
// K-major when its K stride is 1 (or K == 1), MN-major when its M/N stride is 1 (or that extent
// is 1); *ld receives the other stride, the one the kernel multiplies row indices with.
bool tc_operand_ok(const void* base, int64_t bs, bool k_unit, int64_t ld_k_major, bool mn_unit,
                   int64_t ld_mn_major, bool* k_major, int64_t* ld) {
  if (!aligned16(base) || bs % 8 != 0) return false;
  if (k_unit && ld_k_major % 8 == 0) {
    *k_major = true;
    *ld = ld_k_major;
    return true;
  }
  if (mn_unit && ld_mn_major % 8 == 0) {
    *k_major = false;
    *ld = ld_mn_major;
    return true;
  }
  return false;
}

template <typename T>
int run_half(GemmArgs p, int64_t batch, cudaStream_t stream) {
  bool a_k = true, b_k = true;
  const bool ok =
      tc_operand_ok(p.A, p.a_bs, p.a_cs == 1 || p.K == 1, p.a_rs, p.a_rs == 1 || p.M == 1, p.a_cs, &a_k, &p.a_ld) &&
      tc_operand_ok(p.B, p.b_bs, p.b_rs == 1 || p.K == 1, p.b_cs, p.b_cs == 1 || p.N == 1, p.b_rs, &b_k, &p.b_ld);
  int st = -1;
  if (ok && a_k && b_k && p.M <= GEMV_MAX_M) return launch_gemv<T>(p, batch, stream);
  if (ok) {
    if (a_k && b_k) st = launch_tc<T, true, true>(p, batch, stream);
    else if (a_k) st = launch_tc<T, true, false>(p, batch, stream);
    else if (b_k) st = launch_tc<T, false, true>(p, batch, stream);
    else st = launch_tc<T, false, false>(p, batch, stream);
  }
  return st >= 0 ? st : launch_simt<T>(p, batch, stream);
}

bool is_float_type(int dt) { return dt == LLAVA_DTYPE_F32 || dt == LLAVA_DTYPE_BF16 || dt == LLAVA_DTYPE_F16; }

}  // namespace

extern "C" int llava_gemm(void* stream, int64_t batch, int64_t M, int64_t N, int64_t K,
                          const void* A, int64_t a_bs, int64_t a_rs, int64_t a_cs,
                          const void* B, int64_t b_bs, int64_t b_rs, int64_t b_cs, int ab_dtype,
                          const void* bias, void* C, int64_t c_bs, int64_t ldc, int c_dtype,
                          float alpha, float beta) {
  if (batch < 0 || M < 0 || N < 0 || K < 0) return LLAVA_ERR_INVALID_ARGUMENT;
  if (a_bs < 0 || a_rs < 0 || a_cs < 0 || b_bs < 0 || b_rs < 0 || b_cs < 0 || c_bs < 0 || ldc < 0)
    return LLAVA_ERR_INVALID_ARGUMENT;
  if (!is_float_type(ab_dtype) || (c_dtype != ab_dtype && c_dtype != LLAVA_DTYPE_F32)) return LLAVA_ERR_UNSUPPORTED;
  if (batch == 0 || M == 0 || N == 0) return 0;
  if (C == nullptr || (K > 0 && (A == nullptr || B == nullptr))) return LLAVA_ERR_INVALID_ARGUMENT;
  if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return LLAVA_ERR_UNSUPPORTED;

  GemmArgs p{};
  p.M = (int)M;
  p.N = (int)N;
  p.K = (int)K;
  // Strides of size-1 dimensions are never multiplied by a non-zero index: zero them so that
  // they cannot block the tensor-core path's alignment checks.
  p.A = A;
  p.a_bs = batch == 1 ? 0 : a_bs;
  p.a_rs = M == 1 ? 0 : a_rs;
  p.a_cs = K == 1 ? 0 : a_cs;
  p.B = B;
  p.b_bs = batch == 1 ? 0 : b_bs;
  p.b_rs = K == 1 ? 0 : b_rs;
  p.b_cs = N == 1 ? 0 : b_cs;
  p.bias = bias;
  p.C = C;
  p.c_bs = batch == 1 ? 0 : c_bs;
  p.ldc = M == 1 ? 0 : ldc;
  p.alpha = alpha;
  p.beta = beta;
  p.c_f32 = c_dtype == LLAVA_DTYPE_F32;
  const uintptr_t c_size = p.c_f32 ? 4 : 2;
  p.c_pair_ok = p.ldc % 2 == 0 && p.c_bs % 2 == 0 && ((uintptr_t)C % (2 * c_size)) == 0;

  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const bool naive = naive_kernels_requested();
  switch (ab_dtype) {
    case LLAVA_DTYPE_F32:
      return naive ? launch_naive<float>(p, batch, s) : launch_simt<float>(p, batch, s);
    case LLAVA_DTYPE_BF16:
      return naive ? launch_naive<__nv_bfloat16>(p, batch, s) : run_half<__nv_bfloat16>(p, batch, s);
    default:
      return naive ? launch_naive<__half>(p, batch, s) : run_half<__half>(p, batch, s);
  }
}
