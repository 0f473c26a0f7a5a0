/*
 * Shared device/host helpers of the non-GEMM kernels (copy, elementwise, reduce, norms, rope,
 * activations, cross_entropy, indexing, adamw). Private to cuda-kernels/src; the public surface
 * stays llava_kernels.h.
 *
 * What lives here:
 *  - dtype <-> C++ storage type mapping and dispatch (DTypeTag, dispatch_*),
 *  - conversions with the CPU backend's semantics (Access.store / Half.java): half types round to
 *    nearest even from F32, F64 -> half goes through F32 (as Java does), float -> integer casts
 *    truncate and saturate with NaN -> 0 (Java (long)/(int) casts), U8 wraps after the int cast,
 *    BOOL stores "nonzero -> 1", integer -> integer conversions wrap (two's complement),
 *  - Divmod (32-bit multiply-shift division) and OffsetCalc: N-d strided offsets for up to
 *    NOPS operands, packed into a by-value kernel argument; plan_elementwise() drops size-1 dims
 *    and merges dims that are contiguous for every operand (as cpu/Strided.java does),
 *  - warp/block all-reduce with a fixed combination order (deterministic for a given launch),
 *  - launch/error helpers: entry() clears stale errors, finish() returns cudaGetLastError(),
 *  - stream-ordered scratch memory (cudaMallocAsync) and the index-error flag.
 *
 * Everything is inside namespace llava_k so nothing clashes with gemm/attention's helpers.
 */
#ifndef LLAVA_KERNELS_COMMON_CUH
#define LLAVA_KERNELS_COMMON_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <math.h>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "llava_kernels.h"

/* "#pragma unroll" for code that is also compiled for the host (where gcc would warn). */
#ifdef __CUDA_ARCH__
#define LLAVA_UNROLL _Pragma("unroll")
#else
#define LLAVA_UNROLL
#endif

namespace llava_k {

typedef __nv_bfloat16 bf16;
typedef __half f16;

/* BOOL storage: one byte, distinct from uint8_t so conversions can treat it as "nonzero -> 1". */
struct boolean_t {
    uint8_t v;
};

template <typename T> struct DTypeTag { typedef T type; };

// ---------------------------------------------------------------------------------------------
// type traits
// ---------------------------------------------------------------------------------------------

template <typename T> struct is_half_type : std::false_type {};
template <> struct is_half_type<bf16> : std::true_type {};
template <> struct is_half_type<f16> : std::true_type {};

template <typename T> struct is_float_type
    : std::integral_constant<bool, std::is_same<T, double>::value || std::is_same<T, float>::value ||
                                       is_half_type<T>::value> {};

/* Compute type of the float types: F64 in F64, everything else in F32. */
template <typename T> struct acc_of { typedef float type; };
template <> struct acc_of<double> { typedef double type; };
template <typename T> using acc_t = typename acc_of<T>::type;

// ---------------------------------------------------------------------------------------------
// conversions (Java semantics, see the file note)
// ---------------------------------------------------------------------------------------------

/* Java's (long) d: truncation, saturating, NaN -> 0. */
__host__ __device__ __forceinline__ int64_t java_d2l(double d) {
    if (d != d) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;   // 2^63 (the double nearest to it)
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

/* Java's (int) d. */
__host__ __device__ __forceinline__ int32_t java_d2i(double d) {
    if (d != d) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

/* Loading: every type widens exactly to double (I64 rounds to nearest, as Java's long->double). */
__host__ __device__ __forceinline__ double to_double(double v) { return v; }
__host__ __device__ __forceinline__ double to_double(float v) { return (double)v; }
__host__ __device__ __forceinline__ double to_double(bf16 v) { return (double)__bfloat162float(v); }
__host__ __device__ __forceinline__ double to_double(f16 v) { return (double)__half2float(v); }
__host__ __device__ __forceinline__ double to_double(int64_t v) { return (double)v; }
__host__ __device__ __forceinline__ double to_double(int32_t v) { return (double)v; }
__host__ __device__ __forceinline__ double to_double(uint8_t v) { return (double)v; }
__host__ __device__ __forceinline__ double to_double(boolean_t v) { return v.v != 0 ? 1.0 : 0.0; }

/* Float types to F32 (exact for the half types, rounding for F64). */
__host__ __device__ __forceinline__ float to_float(float v) { return v; }
__host__ __device__ __forceinline__ float to_float(double v) { return (float)v; }
__host__ __device__ __forceinline__ float to_float(bf16 v) { return __bfloat162float(v); }
__host__ __device__ __forceinline__ float to_float(f16 v) { return __half2float(v); }

/* Integer types (and BOOL as 0/1) to int64, exactly. */
__host__ __device__ __forceinline__ int64_t to_i64(int64_t v) { return v; }
__host__ __device__ __forceinline__ int64_t to_i64(int32_t v) { return v; }
__host__ __device__ __forceinline__ int64_t to_i64(uint8_t v) { return v; }
__host__ __device__ __forceinline__ int64_t to_i64(boolean_t v) { return v.v != 0 ? 1 : 0; }

/* Load a float-type value into its compute type (acc_t). */
template <typename T> __host__ __device__ __forceinline__ acc_t<T> load_acc(T v) { return to_float(v); }
template <> __host__ __device__ __forceinline__ double load_acc<double>(double v) { return v; }

/* Store from double (Access.store): half types via (float) then round-to-nearest-even. */
template <typename D> __host__ __device__ __forceinline__ D from_double(double v);
template <> __host__ __device__ __forceinline__ double from_double<double>(double v) { return v; }
template <> __host__ __device__ __forceinline__ float from_double<float>(double v) { return (float)v; }
template <> __host__ __device__ __forceinline__ bf16 from_double<bf16>(double v) { return __float2bfloat16_rn((float)v); }
template <> __host__ __device__ __forceinline__ f16 from_double<f16>(double v) { return __float2half_rn((float)v); }
template <> __host__ __device__ __forceinline__ int64_t from_double<int64_t>(double v) { return java_d2l(v); }
template <> __host__ __device__ __forceinline__ int32_t from_double<int32_t>(double v) { return java_d2i(v); }
template <> __host__ __device__ __forceinline__ uint8_t from_double<uint8_t>(double v) { return (uint8_t)(uint32_t)java_d2i(v); }
template <> __host__ __device__ __forceinline__ boolean_t from_double<boolean_t>(double v) {
    boolean_t b;
    b.v = (v != 0.0) ? 1 : 0;   // NaN != 0: true, as in Java
    return b;
}

/* Store an F32 compute value into a float type (exact for F32/F64, RNE for half types). */
template <typename D> __host__ __device__ __forceinline__ D from_float(float v);
template <> __host__ __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __host__ __device__ __forceinline__ double from_float<double>(float v) { return (double)v; }
template <> __host__ __device__ __forceinline__ bf16 from_float<bf16>(float v) { return __float2bfloat16_rn(v); }
template <> __host__ __device__ __forceinline__ f16 from_float<f16>(float v) { return __float2half_rn(v); }

/* Store a compute value (acc_t<D>) into D. */
template <typename D> __host__ __device__ __forceinline__ D store_acc(acc_t<D> v) { return from_float<D>(v); }
template <> __host__ __device__ __forceinline__ double store_acc<double>(double v) { return v; }

/* Store from int64 into an integer type (wraps, as Java's (int)/(byte) of a long), BOOL: != 0. */
template <typename D> __host__ __device__ __forceinline__ D from_i64(int64_t v);
template <> __host__ __device__ __forceinline__ int64_t from_i64<int64_t>(int64_t v) { return v; }
template <> __host__ __device__ __forceinline__ int32_t from_i64<int32_t>(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }
template <> __host__ __device__ __forceinline__ uint8_t from_i64<uint8_t>(int64_t v) { return (uint8_t)(uint64_t)v; }
template <> __host__ __device__ __forceinline__ boolean_t from_i64<boolean_t>(int64_t v) {
    boolean_t b;
    b.v = v != 0 ? 1 : 0;
    return b;
}

/*
 * cast<D>(S): the CPU backend's copy() conversion between any two dtypes.
 *  - same type: the value itself (bits preserved);
 *  - float -> float: through F32 when the target is a half type (as Java), else exact widening or
 *    one rounding;
 *  - integer/BOOL -> integer/BOOL: through int64 (wraps; BOOL target: nonzero -> 1);
 *  - everything else: through double with Java's store semantics.
 */
template <typename D, typename S> __host__ __device__ __forceinline__ D cast(S s) {
    if constexpr (std::is_same<D, S>::value) {
        return s;
    } else if constexpr (is_float_type<S>::value && is_float_type<D>::value) {
        if constexpr (std::is_same<D, double>::value) {
            return to_double(s);
        } else {
            return from_float<D>(to_float(s));
        }
    } else if constexpr (!is_float_type<S>::value && !is_float_type<D>::value) {
        return from_i64<D>(to_i64(s));
    } else {
        return from_double<D>(to_double(s));
    }
}

// ---------------------------------------------------------------------------------------------
// dtype dispatch (host)
// ---------------------------------------------------------------------------------------------

/* Calls f(DTypeTag<T>{}) for a float dtype (F64, F32, BF16, F16); LLAVA_ERR_UNSUPPORTED otherwise. */
template <typename F> int dispatch_float(int dtype, F&& f) {
    switch (dtype) {
        case LLAVA_DTYPE_F64: return f(DTypeTag<double>{});
        case LLAVA_DTYPE_F32: return f(DTypeTag<float>{});
        case LLAVA_DTYPE_BF16: return f(DTypeTag<bf16>{});
        case LLAVA_DTYPE_F16: return f(DTypeTag<f16>{});
        default: return LLAVA_ERR_UNSUPPORTED;
    }
}

/* The float dtypes computed in F32 (F32, BF16, F16): the fused ops whose contract says "F32 math". */
template <typename F> int dispatch_f32_math(int dtype, F&& f) {
    switch (dtype) {
        case LLAVA_DTYPE_F32: return f(DTypeTag<float>{});
        case LLAVA_DTYPE_BF16: return f(DTypeTag<bf16>{});
        case LLAVA_DTYPE_F16: return f(DTypeTag<f16>{});
        default: return LLAVA_ERR_UNSUPPORTED;
    }
}

/* Any of the eight dtypes. */
template <typename F> int dispatch_all(int dtype, F&& f) {
    switch (dtype) {
        case LLAVA_DTYPE_F64: return f(DTypeTag<double>{});
        case LLAVA_DTYPE_F32: return f(DTypeTag<float>{});
        case LLAVA_DTYPE_BF16: return f(DTypeTag<bf16>{});
        case LLAVA_DTYPE_F16: return f(DTypeTag<f16>{});
        case LLAVA_DTYPE_I64: return f(DTypeTag<int64_t>{});
        case LLAVA_DTYPE_I32: return f(DTypeTag<int32_t>{});
        case LLAVA_DTYPE_U8: return f(DTypeTag<uint8_t>{});
        case LLAVA_DTYPE_BOOL: return f(DTypeTag<boolean_t>{});
        default: return LLAVA_ERR_INVALID_ARGUMENT;
    }
}

inline int dtype_size(int dtype) {
    switch (dtype) {
        case LLAVA_DTYPE_F64: case LLAVA_DTYPE_I64: return 8;
        case LLAVA_DTYPE_F32: case LLAVA_DTYPE_I32: return 4;
        case LLAVA_DTYPE_BF16: case LLAVA_DTYPE_F16: return 2;
        case LLAVA_DTYPE_U8: case LLAVA_DTYPE_BOOL: return 1;
        default: return 0;
    }
}

// ---------------------------------------------------------------------------------------------
// integer division by a run-time constant
// ---------------------------------------------------------------------------------------------

/*
 * q = n / d, r = n % d for 32-bit n < 2^31 and 1 <= d < 2^31, with one multiply-high instead of
 * a division (Granlund-Montgomery): shift = ceil(log2 d), mul = floor(2^32 (2^shift - d) / d) + 1,
 * q = (mulhi(n, mul) + n) >> shift. mulhi(n, mul) < n, so the sum stays below 2^32 for n < 2^31.
 */
template <typename IndexT> struct Divmod;

template <> struct Divmod<uint32_t> {
    uint32_t divisor, mul, shift;
    Divmod() = default;
    __host__ explicit Divmod(uint32_t d) : divisor(d) {
        shift = 0;
        while (shift < 32 && (1ull << shift) < d) shift++;
        mul = (uint32_t)(((1ull << 32) * ((1ull << shift) - d)) / d + 1);
    }
    __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
        uint32_t t = __umulhi(n, mul);
#else
        uint32_t t = (uint32_t)(((uint64_t)n * mul) >> 32);
#endif
        return (t + n) >> shift;
    }
    __host__ __device__ __forceinline__ void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
        q = div(n);
        r = n - q * divisor;
    }
};

template <> struct Divmod<uint64_t> {
    uint64_t divisor;
    Divmod() = default;
    __host__ explicit Divmod(uint64_t d) : divisor(d) {}
    __host__ __device__ __forceinline__ uint64_t div(uint64_t n) const { return n / divisor; }
    __host__ __device__ __forceinline__ void divmod(uint64_t n, uint64_t& q, uint64_t& r) const {
        q = n / divisor;
        r = n - q * divisor;
    }
};

// ---------------------------------------------------------------------------------------------
// strided N-d offsets
// ---------------------------------------------------------------------------------------------

/* Host-side description of an N-d iteration over NOPS operands (sizes, strides in elements). */
template <int NOPS> struct Plan {
    int rank;                                  // >= 1 after planning
    int64_t sizes[LLAVA_MAX_DIMS];             // outermost first
    int64_t strides[NOPS][LLAVA_MAX_DIMS];
    int64_t numel;
};

/*
 * Builds a coalesced plan: drops size-1 dims and merges neighbours that are contiguous for every
 * operand (stride[d-1] == stride[d] * size[d]). A scalar or all-ones shape becomes rank 1, size 1.
 * Returns false on bad arguments (rank out of range, negative size or stride, null arrays).
 */
template <int NOPS>
bool plan_elementwise(int rank, const int64_t* shape, const int64_t* const* strides, Plan<NOPS>& p) {
    if (rank < 0 || rank > LLAVA_MAX_DIMS || (rank > 0 && shape == nullptr)) return false;
    p.numel = 1;
    p.rank = 0;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0) return false;
        for (int k = 0; k < NOPS; k++) {
            if (strides[k] == nullptr || strides[k][d] < 0) return false;
        }
        p.numel *= shape[d];
    }
    for (int d = 0; d < rank; d++) {
        if (shape[d] == 1) continue;
        if (p.rank > 0) {
            bool merge = true;
            for (int k = 0; k < NOPS; k++) {
                if (p.strides[k][p.rank - 1] != strides[k][d] * shape[d]) { merge = false; break; }
            }
            if (merge) {
                p.sizes[p.rank - 1] *= shape[d];
                for (int k = 0; k < NOPS; k++) p.strides[k][p.rank - 1] = strides[k][d];
                continue;
            }
        }
        p.sizes[p.rank] = shape[d];
        for (int k = 0; k < NOPS; k++) p.strides[k][p.rank] = strides[k][d];
        p.rank++;
    }
    if (p.rank == 0) {
        p.rank = 1;
        p.sizes[0] = 1;
        for (int k = 0; k < NOPS; k++) p.strides[k][0] = 1;
    }
    return true;
}

/* True when the plan is one run with unit stride for every operand. */
template <int NOPS> bool plan_is_contiguous(const Plan<NOPS>& p) {
    if (p.rank != 1) return false;
    for (int k = 0; k < NOPS; k++) {
        if (p.strides[k][0] != 1 && p.sizes[0] > 1) return false;
    }
    return true;
}

/* Largest element offset any operand reaches (for choosing 32-bit index math). */
template <int NOPS> int64_t plan_max_offset(const Plan<NOPS>& p) {
    int64_t m = 0;
    for (int k = 0; k < NOPS; k++) {
        int64_t o = 0;
        for (int d = 0; d < p.rank; d++) o += (p.sizes[d] - 1) * p.strides[k][d];
        if (o > m) m = o;
    }
    return m;
}

/* 32-bit index math is exact when every linear index and offset is below 2^31. */
template <int NOPS> bool plan_fits_32(const Plan<NOPS>& p) {
    return p.numel <= INT32_MAX && plan_max_offset(p) <= INT32_MAX;
}

struct ReducePlan {
    Plan<2> kept;   // operands: 0 = out, 1 = x
    Plan<1> red;    // operand: x
    int64_t M, K;
};

inline bool plan_reduce(int rank, const int64_t* shape, const int64_t* x_strides, const int64_t* out_shape,
                 const int64_t* out_strides, ReducePlan& rp) {
    if (rank < 0 || rank > LLAVA_MAX_DIMS) return false;
    if (rank > 0 && (shape == nullptr || x_strides == nullptr || out_shape == nullptr || out_strides == nullptr)) {
        return false;
    }
    int64_t ks[LLAVA_MAX_DIMS] = {}, kx[LLAVA_MAX_DIMS] = {}, ko[LLAVA_MAX_DIMS] = {};
    int64_t rs[LLAVA_MAX_DIMS] = {}, rx[LLAVA_MAX_DIMS] = {};
    int nk = 0, nr = 0;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0 || x_strides[d] < 0 || out_strides[d] < 0) return false;
        if (out_shape[d] != shape[d] && out_shape[d] != 1) return false;
        if (shape[d] == 1) continue;
        if (out_shape[d] == 1) {
            rs[nr] = shape[d];
            rx[nr] = x_strides[d];
            nr++;
        } else {
            ks[nk] = shape[d];
            kx[nk] = x_strides[d];
            ko[nk] = out_strides[d];
            nk++;
        }
    }
    // reduced dims: order does not change a reduction's meaning; largest stride first so the
    // innermost (fastest varying) dim has the smallest stride, then coalesce
    for (int i = 1; i < nr; i++) {
        for (int j = i; j > 0 && rx[j - 1] < rx[j]; j--) {
            std::swap(rx[j - 1], rx[j]);
            std::swap(rs[j - 1], rs[j]);
        }
    }
    const int64_t* kst[2] = {ko, kx};
    const int64_t* rst[1] = {rx};
    if (!plan_elementwise<2>(nk, ks, kst, rp.kept)) return false;
    if (!plan_elementwise<1>(nr, rs, rst, rp.red)) return false;
    rp.M = rp.kept.numel;
    rp.K = rp.red.numel;
    if (rp.K == 0) {   // empty reduction: loops run zero times; keep the divisors valid
        rp.red.rank = 1;
        rp.red.sizes[0] = 1;
        rp.red.strides[0][0] = 1;
    }
    return true;
}

/*
 * Plan for gather/scatter: the index shape, with the data tensor's contiguous strides except 0 at
 * dim. Checks rank, dim and that the index fits the data in every other dim.
 */
inline bool plan_indexed(int rank, const int64_t* index_shape, int dim, const int64_t* data_shape, Plan<1>& p,
                  int64_t& dim_stride, int64_t& dim_size) {
    if (rank < 1 || rank > LLAVA_MAX_DIMS || dim < 0 || dim >= rank || index_shape == nullptr || data_shape == nullptr) {
        return false;
    }
    int64_t strides[LLAVA_MAX_DIMS];
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        if (index_shape[d] < 0 || data_shape[d] < 0) return false;
        if (d != dim && index_shape[d] > data_shape[d]) return false;
        strides[d] = s;
        s *= data_shape[d];
    }
    dim_stride = strides[dim];
    dim_size = data_shape[dim];
    strides[dim] = 0;
    const int64_t* st[1] = {strides};
    return plan_elementwise<1>(rank, index_shape, st, p);
}

/*
 * Device-side offsets: linear index (row-major over the plan's sizes) -> element offset of each
 * operand. Dims are stored innermost first; the outermost dim needs no division.
 */
template <int NOPS, typename IndexT> struct OffsetCalc {
    int rank;
    Divmod<IndexT> div[LLAVA_MAX_DIMS];         // [0] = innermost dim
    IndexT strides[LLAVA_MAX_DIMS][NOPS];

    OffsetCalc() = default;
    __host__ explicit OffsetCalc(const Plan<NOPS>& p) {
        rank = p.rank;
        for (int i = 0; i < LLAVA_MAX_DIMS; i++) {
            int d = p.rank - 1 - i;
            div[i] = Divmod<IndexT>(d >= 0 ? (IndexT)p.sizes[d] : (IndexT)1);
            for (int k = 0; k < NOPS; k++) strides[i][k] = d >= 0 ? (IndexT)p.strides[k][d] : 0;
        }
    }

    __host__ __device__ __forceinline__ void get(IndexT linear, IndexT (&off)[NOPS]) const {
LLAVA_UNROLL
        for (int k = 0; k < NOPS; k++) off[k] = 0;
LLAVA_UNROLL
        for (int i = 0; i < LLAVA_MAX_DIMS; i++) {
            if (i == rank - 1) {
LLAVA_UNROLL
                for (int k = 0; k < NOPS; k++) off[k] += linear * strides[i][k];
                break;
            }
            IndexT q, r;
            div[i].divmod(linear, q, r);
            linear = q;
LLAVA_UNROLL
            for (int k = 0; k < NOPS; k++) off[k] += r * strides[i][k];
        }
    }
};

// ---------------------------------------------------------------------------------------------
// vector loads
// ---------------------------------------------------------------------------------------------

template <typename T, int V> struct alignas(sizeof(T) * V) Vec {
    T v[V];
};

template <typename T, int V> __device__ __forceinline__ Vec<T, V> load_vec(const T* p, int64_t i) {
    return *reinterpret_cast<const Vec<T, V>*>(p + i);
}

template <typename T, int V> __device__ __forceinline__ void store_vec(T* p, int64_t i, const Vec<T, V>& v) {
    *reinterpret_cast<Vec<T, V>*>(p + i) = v;
}

inline bool aligned_to(const void* p, size_t bytes) {
    return ((uintptr_t)p % bytes) == 0;
}

// ---------------------------------------------------------------------------------------------
// warp / block reductions
// ---------------------------------------------------------------------------------------------

__device__ __forceinline__ float shfl_xor(float v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
__device__ __forceinline__ double shfl_xor(double v, int m) { return __shfl_xor_sync(0xffffffffu, v, m); }
__device__ __forceinline__ int64_t shfl_xor(int64_t v, int m) {
    return (int64_t)__shfl_xor_sync(0xffffffffu, (long long)v, m);
}

/* Butterfly all-reduce over a full warp (every lane must hold a value; pad with the identity). */
template <typename T, typename Op> __device__ __forceinline__ T warp_allreduce(T v, Op op) {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v = op(v, shfl_xor(v, m));
    return v;
}

/*
 * All-reduce over a 1-D block whose size is a multiple of 32 (<= 1024): warps reduce, warp
 * results go to smem[32], then every thread folds them in warp order, so all threads get the
 * same, deterministic result. Starts with a barrier so smem can be reused by consecutive calls.
 * Must be reached by every thread of the block.
 */
template <typename T, typename Op> __device__ __forceinline__ T block_allreduce(T v, Op op, T* smem) {
    v = warp_allreduce(v, op);
    const int nw = blockDim.x >> 5;
    if (nw == 1) return v;
    __syncthreads();
    if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
    __syncthreads();
    T r = smem[0];
    for (int i = 1; i < nw; i++) r = op(r, smem[i]);
    return r;
}

struct SumOp {
    template <typename T> __host__ __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

/* NaN-propagating max/min (the CPU's (isNaN(b) || b > a) ? b : a). */
struct MaxOp {
    template <typename T> __host__ __device__ __forceinline__ T operator()(T a, T b) const {
        return (b != b || b > a) ? b : a;
    }
};
struct MinOp {
    template <typename T> __host__ __device__ __forceinline__ T operator()(T a, T b) const {
        return (b != b || b < a) ? b : a;
    }
};

/* Running (max, sum of exp(x - max)) for one-pass softmax statistics, in A = float or double. */
template <typename A> struct MaxSum {
    A m, s;
};
template <typename A> __device__ __forceinline__ MaxSum<A> shfl_xor(MaxSum<A> v, int m) {
    MaxSum<A> r;
    r.m = __shfl_xor_sync(0xffffffffu, v.m, m);
    r.s = __shfl_xor_sync(0xffffffffu, v.s, m);
    return r;
}

__host__ __device__ __forceinline__ float exp_a(float x) { return expf(x); }
__host__ __device__ __forceinline__ double exp_a(double x) { return exp(x); }
__host__ __device__ __forceinline__ float log_a(float x) { return logf(x); }
__host__ __device__ __forceinline__ double log_a(double x) { return log(x); }

/* exp(a - b) for a <= b (b a running max), with exp(-inf - -inf) taken as 0: an all -inf part
 * contributes nothing. +inf - +inf stays NaN, as in the CPU backend's exp(x - max). */
template <typename A> __host__ __device__ __forceinline__ A exp_diff(A a, A b) {
    return a == -(A)INFINITY ? A(0) : exp_a(a - b);
}

/* max that returns NaN when either input is NaN (fmax would drop it). */
template <typename A> __host__ __device__ __forceinline__ A nan_max(A a, A b) {
    return (a != a || b != b) ? (A)NAN : (a > b ? a : b);
}

struct MaxSumOp {
    template <typename A> __host__ __device__ __forceinline__ MaxSum<A> operator()(MaxSum<A> a, MaxSum<A> b) const {
        MaxSum<A> r;
        r.m = nan_max(a.m, b.m);
        r.s = a.s * exp_diff(a.m, r.m) + b.s * exp_diff(b.m, r.m);
        return r;
    }
};

template <typename A> __host__ __device__ __forceinline__ MaxSum<A> maxsum_identity() {
    MaxSum<A> r;
    r.m = -(A)INFINITY;
    r.s = A(0);
    return r;
}

/* Adds x to a running (max, sum). */
template <typename A> __host__ __device__ __forceinline__ void maxsum_add(MaxSum<A>& a, A x) {
    if (x <= a.m) {                 // the common case: one exp (false when either is NaN)
        a.s += exp_diff(x, a.m);
    } else {
        A m = nan_max(a.m, x);
        a.s = a.s * exp_diff(a.m, m) + exp_diff(x, m);
        a.m = m;
    }
}

// ---------------------------------------------------------------------------------------------
// reduce and arg-reduce algebra
// ---------------------------------------------------------------------------------------------

template <typename Acc> __host__ __device__ __forceinline__ Acc lowest() {
    if constexpr (std::is_same<Acc, int64_t>::value) return INT64_MIN;
    else return -(Acc)INFINITY;
}
template <typename Acc> __host__ __device__ __forceinline__ Acc highest() {
    if constexpr (std::is_same<Acc, int64_t>::value) return INT64_MAX;
    else return (Acc)INFINITY;
}

/* The reduce op as a value: SUM and MEAN accumulate the same way (MEAN divides at the end). */
struct ReduceFn {
    int op;
    template <typename Acc> __host__ __device__ __forceinline__ Acc identity() const {
        return op == LLAVA_REDUCE_MAX ? lowest<Acc>() : op == LLAVA_REDUCE_MIN ? highest<Acc>() : Acc(0);
    }
    template <typename Acc> __host__ __device__ __forceinline__ Acc operator()(Acc a, Acc b) const {
        if (op == LLAVA_REDUCE_MAX) return MaxOp()(a, b);
        if (op == LLAVA_REDUCE_MIN) return MinOp()(a, b);
        return a + b;
    }
};

template <typename Acc> struct ArgAcc {
    Acc v;
    int64_t i;   // INT64_MAX: no element yet
};

template <typename Acc> __device__ __forceinline__ ArgAcc<Acc> shfl_xor(ArgAcc<Acc> a, int m) {
    ArgAcc<Acc> r;
    r.v = shfl_xor(a.v, m);
    r.i = shfl_xor(a.i, m);
    return r;
}

/* The winner of two candidates: NaN beats numbers, then the larger (smaller) value, then the
 * smaller index, so the result is the CPU's "first max, first NaN" in any combination order. */
struct ArgFn {
    bool is_max;
    template <typename Acc> __host__ __device__ __forceinline__ ArgAcc<Acc> operator()(ArgAcc<Acc> a, ArgAcc<Acc> b) const {
        const bool an = a.v != a.v, bn = b.v != b.v;
        if (an || bn) {
            if (an && bn) return a.i <= b.i ? a : b;
            return an ? a : b;
        }
        if (a.v == b.v) return a.i <= b.i ? a : b;
        return (is_max ? a.v > b.v : a.v < b.v) ? a : b;
    }
    template <typename Acc> __host__ __device__ __forceinline__ ArgAcc<Acc> identity() const {
        ArgAcc<Acc> r;
        r.v = is_max ? lowest<Acc>() : highest<Acc>();
        r.i = INT64_MAX;
        return r;
    }
};

// ---------------------------------------------------------------------------------------------
// row iteration (rows layout kernels)
// ---------------------------------------------------------------------------------------------

/*
 * Calls f(value, col) for the columns tid, tid + nthreads, ... of one contiguous row, loading V
 * elements at a time (V > 1 requires the row to be aligned to V elements and cols % V == 0; the
 * host picks V). Values arrive in the compute type acc_t<T>.
 */
template <int V, typename T, typename F>
__device__ __forceinline__ void for_row(const T* row, int64_t cols, int tid, int nthreads, F&& f) {
    if (V > 1) {
        const int64_t nv = cols / V;
        for (int64_t i = tid; i < nv; i += nthreads) {
            Vec<T, V> v = load_vec<T, V>(row, i * V);
#pragma unroll
            for (int j = 0; j < V; j++) f(load_acc(v.v[j]), i * V + j);
        }
    } else {
        for (int64_t c = tid; c < cols; c += nthreads) f(load_acc(row[c]), c);
    }
}

/* for_row over two rows of the same dtype: f(a[c], b[c], c). */
template <int V, typename T, typename F>
__device__ __forceinline__ void for_row2(const T* a, const T* b, int64_t cols, int tid, int nthreads, F&& f) {
    if (V > 1) {
        const int64_t nv = cols / V;
        for (int64_t i = tid; i < nv; i += nthreads) {
            Vec<T, V> va = load_vec<T, V>(a, i * V), vb = load_vec<T, V>(b, i * V);
#pragma unroll
            for (int j = 0; j < V; j++) f(load_acc(va.v[j]), load_acc(vb.v[j]), i * V + j);
        }
    } else {
        for (int64_t c = tid; c < cols; c += nthreads) f(load_acc(a[c]), load_acc(b[c]), c);
    }
}

/* out[c] = f(in[c], c) over a row, with V-wide loads and stores (same conditions as for_row;
 * out may alias in: each thread reads its elements before writing them). */
template <int V, typename T, typename F>
__device__ __forceinline__ void map_row(const T* in, T* out, int64_t cols, int tid, int nthreads, F&& f) {
    if (V > 1) {
        const int64_t nv = cols / V;
        for (int64_t i = tid; i < nv; i += nthreads) {
            Vec<T, V> v = load_vec<T, V>(in, i * V), r;
#pragma unroll
            for (int j = 0; j < V; j++) r.v[j] = store_acc<T>(f(load_acc(v.v[j]), i * V + j));
            store_vec<T, V>(out, i * V, r);
        }
    } else {
        for (int64_t c = tid; c < cols; c += nthreads) out[c] = store_acc<T>(f(load_acc(in[c]), c));
    }
}

/* out[c] = f(a[c], b[c], c) over a row, V-wide. */
template <int V, typename T, typename F>
__device__ __forceinline__ void map_row2(const T* a, const T* b, T* out, int64_t cols, int tid, int nthreads, F&& f) {
    if (V > 1) {
        const int64_t nv = cols / V;
        for (int64_t i = tid; i < nv; i += nthreads) {
            Vec<T, V> va = load_vec<T, V>(a, i * V), vb = load_vec<T, V>(b, i * V), r;
#pragma unroll
            for (int j = 0; j < V; j++) r.v[j] = store_acc<T>(f(load_acc(va.v[j]), load_acc(vb.v[j]), i * V + j));
            store_vec<T, V>(out, i * V, r);
        }
    } else {
        for (int64_t c = tid; c < cols; c += nthreads) out[c] = store_acc<T>(f(load_acc(a[c]), load_acc(b[c]), c));
    }
}

// ---------------------------------------------------------------------------------------------
// launch and error helpers
// ---------------------------------------------------------------------------------------------

/* Clears an error left by someone else's failed (non-sticky) call so it is not reported as ours. */
inline void entry() { (void)cudaGetLastError(); }

/* The launch status: returns cudaGetLastError() (which also clears it). */
inline int finish() { return (int)cudaGetLastError(); }

/* Returns a CUDA status as our error code, clearing the runtime's last error. */
inline int status(cudaError_t e) {
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return (int)e;
    }
    return 0;
}

inline cudaStream_t as_stream(void* s) { return (cudaStream_t)s; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Blocks for a grid-stride loop over n items: enough to fill the device, within grid limits. */
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65536) {
    int64_t b = ceil_div(n, threads);
    if (b > max_blocks) b = max_blocks;
    if (b < 1) b = 1;
    return (unsigned)b;
}

/* Threads for a block that cooperates on one row of `cols` elements: a multiple of 32 in
 * [32, max_threads], about one thread per `per_thread` elements. */
inline int row_threads(int64_t cols, int per_thread, int max_threads) {
    int64_t t = ceil_div(cols, per_thread);
    t = ceil_div(t, 32) * 32;
    if (t < 32) t = 32;
    if (t > max_threads) t = max_threads;
    return (int)t;
}

/*
 * Stream-ordered device scratch (Scratch, below): cudaMallocAsync/cudaFreeAsync on the caller's
 * stream, for the few kernels that need temporary memory (split reductions, the index-error
 * flag); plain cudaMalloc/cudaFree where the device has no memory pools. The default pool of the
 * device gets a release threshold of 64 MiB once (never lowered), so freed blocks stay cached
 * between calls instead of going back to the driver at every synchronisation.
 *
 * Index-error reporting: kernels set *flag (device int) to 1 when they meet an out-of-range
 * index and skip that element. index_check_begin allocates and zeroes the flag on the stream;
 * index_check_end reads it back, which synchronises the stream: the cost of a checked index op
 * is one stream synchronisation (the host waits for the queued work, ~10 us plus lost overlap).
 * Returns LLAVA_ERR_INDEX when the flag was set, else launch_status.
 */
struct Scratch;
int index_check_begin(Scratch& flag, cudaStream_t stream);
int index_check_end(Scratch& flag, int launch_status, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------
// generic elementwise launcher
// ---------------------------------------------------------------------------------------------

/*
 * An elementwise functor F over NOPS operands (operand 0 is the output) provides
 *   static constexpr int NOPS, VEC;          // operand count, vector width of the fast path
 *   template <typename I> __device__ void apply(const I (&off)[NOPS]) const;  // one element
 *   template <int V> __device__ void vec(int64_t i) const;  // elements i..i+V-1, all contiguous
 * vec<V> may assume every operand pointer + i is aligned to V elements.
 */
template <int V, typename F> __global__ void __launch_bounds__(256) contig_kernel(int64_t n, F f) {
    const int64_t stride = (int64_t)gridDim.x * blockDim.x;
    const int64_t first = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t nvec = n / V;
    for (int64_t i = first; i < nvec; i += stride) f.template vec<V>(i * V);
    if (V > 1) {
        for (int64_t i = nvec * V + first; i < n; i += stride) f.template vec<1>(i);
    }
}

template <typename IndexT, typename F>
__global__ void __launch_bounds__(256) strided_kernel(OffsetCalc<F::NOPS, IndexT> calc, IndexT n, F f) {
    const IndexT stride = (IndexT)gridDim.x * blockDim.x;
    for (IndexT i = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        IndexT off[F::NOPS];
        calc.get(i, off);
        f.apply(off);
    }
}

/*
 * Runs f over the plan: a vectorised contiguous kernel when every operand is contiguous and
 * aligned to F::VEC elements, else the strided kernel (which also serves misaligned contiguous
 * operands: a rank-1 plan needs no division) with 32-bit index math when it fits, 64-bit
 * otherwise. ptrs/elem_bytes: each operand's pointer and element size, for the alignment check.
 */
template <typename F>
int run_elementwise(const Plan<F::NOPS>& p, const F& f, const void* const* ptrs, const int* elem_bytes,
                    cudaStream_t stream) {
    if (p.numel == 0) return 0;
    const int threads = 256;
    bool vectorised = F::VEC > 1 && plan_is_contiguous(p);
    for (int k = 0; k < F::NOPS && vectorised; k++) vectorised = aligned_to(ptrs[k], (size_t)F::VEC * elem_bytes[k]);
    if (vectorised) {
        contig_kernel<F::VEC, F><<<grid_for(ceil_div(p.numel, F::VEC), threads), threads, 0, stream>>>(p.numel, f);
    } else if (plan_fits_32(p)) {
        strided_kernel<uint32_t, F><<<grid_for(p.numel, threads), threads, 0, stream>>>(
            OffsetCalc<F::NOPS, uint32_t>(p), (uint32_t)p.numel, f);
    } else {
        strided_kernel<uint64_t, F><<<grid_for(p.numel, threads), threads, 0, stream>>>(
            OffsetCalc<F::NOPS, uint64_t>(p), (uint64_t)p.numel, f);
    }
    return finish();
}

/*
 * Runs f over n contiguous elements (the "contiguous, n elements" functions): only the contiguous
 * kernels, so F needs only vec<V>.
 */
template <typename F>
int run_contiguous(int64_t n, const F& f, const void* const* ptrs, const int* elem_bytes, cudaStream_t stream) {
    if (n == 0) return 0;
    const int threads = 256;
    bool aligned = F::VEC > 1;
    for (int k = 0; k < F::NOPS && aligned; k++) aligned = aligned_to(ptrs[k], (size_t)F::VEC * elem_bytes[k]);
    if (aligned) {
        contig_kernel<F::VEC, F><<<grid_for(ceil_div(n, F::VEC), threads), threads, 0, stream>>>(n, f);
    } else {
        contig_kernel<1, F><<<grid_for(n, threads), threads, 0, stream>>>(n, f);
    }
    return finish();
}

/* Vector width so that the widest operand moves 16 bytes per access. */
constexpr int vec_width(int max_elem_bytes) { return max_elem_bytes >= 16 ? 1 : 16 / max_elem_bytes; }

/* RAII stream-ordered scratch memory; see scratch_alloc. */
struct Scratch {
    void* ptr = nullptr;
    bool pooled = false;
    cudaStream_t stream = nullptr;
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    /* Returns 0 or an error code; zero bytes allocates nothing. */
    int alloc(size_t bytes, cudaStream_t s);
    ~Scratch();
};

// ---------------------------------------------------------------------------------------------
// rows layout launch helpers
// ---------------------------------------------------------------------------------------------

/* Threads per row: a warp (8 rows per block) up to 1024 columns, else a block of up to 512. */
inline dim3 row_block(int64_t cols) {
    return cols <= 1024 ? dim3(32, 8) : dim3((unsigned)row_threads(cols, 8, 512), 1);
}

/* Reduction across the threads that share a row (see row_block); all threads of the block call it. */
template <typename T, typename Op> __device__ __forceinline__ T row_allreduce(T v, Op op, T* smem) {
    if (blockDim.x > 32) return block_allreduce(v, op, smem);
    return warp_allreduce(v, op);
}

/* 16-byte loads when every row pointer is aligned (base aligned and cols a multiple of V). */
template <typename T> bool rows_vectorizable(int64_t cols, std::initializer_list<const void*> ptrs) {
    constexpr int V = vec_width((int)sizeof(T));
    if (V <= 1 || cols % V != 0) return false;
    for (const void* p : ptrs) {
        if (p != nullptr && !aligned_to(p, (size_t)V * sizeof(T))) return false;
    }
    return true;
}

}  // namespace llava_k

#endif
