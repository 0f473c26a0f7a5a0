/*
 * reduce.cu: llava_reduce, llava_arg_reduce, llava_softmax, llava_softmax_backward.
 *
 * llava_reduce plans on the host: kept dims (out_shape[d] == shape[d] != 1) are coalesced into
 * M outputs, reduced dims (out_shape[d] == 1 != shape[d]) are sorted by x stride (innermost =
 * smallest) and coalesced into K elements per output. Then one of:
 *  - "inner": a group of threads (a warp, 8 outputs per block; or a whole block of 256 when
 *    K >= 2048) per output, threads striding over the K elements (coalesced when the innermost
 *    reduced stride is 1);
 *  - "outer": one output per thread column (blockDim 32 x ty), ty threads splitting K, combined
 *    through shared memory in a fixed order (coalesced when adjacent outputs are adjacent in x);
 * and when there are too few outputs to fill the GPU, K is split over gridDim.y blocks whose
 * partial results go to stream-ordered scratch, folded in split order by a finalize kernel.
 * Every combination order depends only on the shapes, so results are deterministic.
 * Accumulation: F32 for F32/BF16/F16, F64 for F64, int64 for the integer types (exact sums);
 * stores follow the CPU (integers other than I64 via Java's saturating double cast; MEAN =
 * sum / K; MAX/MIN propagate NaN).
 *
 * llava_arg_reduce: a thread per output for short rows, else a warp (or block for >= 2048) per
 * output combining (value, index) pairs: first index on ties, the first NaN wins.
 *
 * Softmax: a warp per row (cols <= 1024) or a block per row; pass 1 computes (max, sum exp) in one
 * sweep (online rescaling), pass 2 writes. 16-byte loads when rows are aligned. F32 math for the
 * F32/BF16/F16 rows, F64 for F64. Rows of all -inf give NaN (as the CPU), log-softmax too.
 */
#include <algorithm>

#include "common.cuh"

namespace llava_k {
namespace {

// ---- reduce -----------------------------------------------------------------------------------

template <typename T> struct RAcc { typedef acc_t<T> type; };
template <> struct RAcc<int64_t> { typedef int64_t type; };
template <> struct RAcc<int32_t> { typedef int64_t type; };
template <> struct RAcc<uint8_t> { typedef int64_t type; };
template <> struct RAcc<boolean_t> { typedef int64_t type; };

template <typename T> __device__ __forceinline__ typename RAcc<T>::type racc_load(T v) {
    if constexpr (is_float_type<T>::value) return load_acc(v);
    else return to_i64(v);
}

/* The accumulated value as T (MEAN divides by count first). */
template <typename T, typename Acc> __device__ __forceinline__ T reduce_store(Acc v, int op, int64_t count) {
    if constexpr (std::is_same<Acc, int64_t>::value) {
        if (op == LLAVA_REDUCE_MEAN) return from_double<T>((double)v / (double)count);
        if constexpr (std::is_same<T, int64_t>::value) return v;
        else return from_double<T>((double)v);   // the CPU's (int)/(byte) of its double sum
    } else {
        if (op == LLAVA_REDUCE_MEAN) v = v / (Acc)count;
        return store_acc<T>(v);
    }
}

template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
reduce_inner_kernel(OffsetCalc<2, IndexT> kept, OffsetCalc<1, IndexT> red, IndexT M, IndexT K, IndexT kchunk,
                    T* out, const T* x, typename RAcc<T>::type* partial, int splits, ReduceFn fn) {
    typedef typename RAcc<T>::type Acc;
    __shared__ Acc smem[32];
    const IndexT m = (IndexT)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = m < M;   // uniform per warp (blockDim.x is 32) or per block (blockDim.y is 1)
    Acc v = fn.template identity<Acc>();
    IndexT off[2] = {0, 0};
    if (active) {
        kept.get(m, off);
        const T* xb = x + off[1];
        const IndexT k0 = (IndexT)blockIdx.y * kchunk;
        const IndexT k1 = K - k0 < kchunk ? K : k0 + kchunk;
        for (IndexT k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
            IndexT ro[1];
            red.get(k, ro);
            v = fn(v, racc_load(xb[ro[0]]));
        }
    }
    if (blockDim.x > 32) {
        v = block_allreduce(v, fn, smem);
    } else {
        v = warp_allreduce(v, fn);
    }
    if (active && threadIdx.x == 0) {
        if (splits == 1) out[off[0]] = reduce_store<T>(v, fn.op, (int64_t)K);
        else partial[(int64_t)m * splits + blockIdx.y] = v;
    }
}

template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
reduce_outer_kernel(OffsetCalc<2, IndexT> kept, OffsetCalc<1, IndexT> red, IndexT M, IndexT K, IndexT kchunk,
                    T* out, const T* x, typename RAcc<T>::type* partial, int splits, ReduceFn fn) {
    typedef typename RAcc<T>::type Acc;
    __shared__ Acc smem[8][33];   // blockDim = (32, ty <= 8)
    const IndexT m = (IndexT)blockIdx.x * 32 + threadIdx.x;
    Acc v = fn.template identity<Acc>();
    IndexT off[2] = {0, 0};
    if (m < M) {
        kept.get(m, off);
        const T* xb = x + off[1];
        const IndexT k0 = (IndexT)blockIdx.y * kchunk;
        const IndexT k1 = K - k0 < kchunk ? K : k0 + kchunk;
        for (IndexT k = k0 + threadIdx.y; k < k1; k += blockDim.y) {
            IndexT ro[1];
            red.get(k, ro);
            v = fn(v, racc_load(xb[ro[0]]));
        }
    }
    if (blockDim.y > 1) {
        smem[threadIdx.y][threadIdx.x] = v;
        __syncthreads();
        if (threadIdx.y == 0) {
            v = smem[0][threadIdx.x];
            for (unsigned y = 1; y < blockDim.y; y++) v = fn(v, smem[y][threadIdx.x]);
        }
    }
    if (threadIdx.y == 0 && m < M) {
        if (splits == 1) out[off[0]] = reduce_store<T>(v, fn.op, (int64_t)K);
        else partial[(int64_t)m * splits + blockIdx.y] = v;
    }
}

/* Folds the per-split partial results of each output in split order. */
template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
reduce_finalize_kernel(OffsetCalc<2, IndexT> kept, IndexT M, int64_t K, const typename RAcc<T>::type* partial,
                       int splits, T* out, ReduceFn fn) {
    typedef typename RAcc<T>::type Acc;
    for (IndexT m = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; m < M; m += (IndexT)gridDim.x * blockDim.x) {
        const Acc* p = partial + (int64_t)m * splits;
        Acc v = p[0];
        for (int s = 1; s < splits; s++) v = fn(v, p[s]);
        IndexT off[2];
        kept.get(m, off);
        out[off[0]] = reduce_store<T>(v, fn.op, K);
    }
}

template <typename T, typename IndexT>
int launch_reduce(const ReducePlan& rp, int op, const T* x, T* out, cudaStream_t stream) {
    typedef typename RAcc<T>::type Acc;
    ReduceFn fn;
    fn.op = op;
    OffsetCalc<2, IndexT> kept(rp.kept);
    OffsetCalc<1, IndexT> red(rp.red);
    const int64_t M = rp.M, K = rp.K;
    const int64_t red_inner_stride = rp.red.strides[0][rp.red.rank - 1];
    // below this many blocks the reduction is split over K as well
    const int64_t target_blocks = 256;
    const bool inner = K > 16 && (red_inner_stride == 1 || M < 128);
    dim3 block, grid;
    int64_t out_blocks, splits = 1;
    if (inner) {
        const bool block_per_output = K >= 2048;
        block = block_per_output ? dim3(256, 1) : dim3(32, 8);
        out_blocks = ceil_div(M, (int64_t)block.y);
        const int64_t per_block = block_per_output ? 8192 : 1024;   // min elements per split
        if (out_blocks < target_blocks && K >= 2 * per_block) {
            splits = std::min(ceil_div(K, per_block), ceil_div(target_blocks, out_blocks));
        }
    } else {
        int ty = K >= 8 ? 8 : K >= 4 ? 4 : K >= 2 ? 2 : 1;
        if (K <= 16) ty = 1;   // short rows: one thread per output, sequential
        block = dim3(32, ty);
        out_blocks = ceil_div(M, (int64_t)32);
        if (out_blocks < target_blocks && K >= 2048) {
            splits = std::min(ceil_div(K, (int64_t)1024), ceil_div(target_blocks, out_blocks));
        }
    }
    if (out_blocks > INT32_MAX) return LLAVA_ERR_UNSUPPORTED;
    const int64_t kchunk = ceil_div(K, splits);
    splits = K == 0 ? 1 : ceil_div(K, kchunk);   // no empty trailing split
    grid = dim3((unsigned)out_blocks, (unsigned)splits);
    Scratch scratch;
    Acc* partial = nullptr;
    if (splits > 1) {
        int rc = scratch.alloc((size_t)(M * splits) * sizeof(Acc), stream);
        if (rc != 0) return rc;
        partial = static_cast<Acc*>(scratch.ptr);
    }
    if (inner) {
        reduce_inner_kernel<T, IndexT><<<grid, block, 0, stream>>>(kept, red, (IndexT)M, (IndexT)K, (IndexT)kchunk, out,
                                                                   x, partial, (int)splits, fn);
    } else {
        reduce_outer_kernel<T, IndexT><<<grid, block, 0, stream>>>(kept, red, (IndexT)M, (IndexT)K, (IndexT)kchunk, out,
                                                                   x, partial, (int)splits, fn);
    }
    if (splits > 1) {
        int rc = finish();
        if (rc != 0) return rc;
        reduce_finalize_kernel<T, IndexT><<<grid_for(M, 256), 256, 0, stream>>>(kept, (IndexT)M, K, partial,
                                                                                 (int)splits, out, fn);
    }
    return finish();
}

// ---- arg reduce -------------------------------------------------------------------------------

template <typename T, typename Acc>
__device__ __forceinline__ void arg_store(const ArgAcc<Acc>& r, int64_t* indices, T* values, int64_t ioff, int64_t voff) {
    indices[ioff] = r.i;
    if (values != nullptr) {
        if constexpr (std::is_same<Acc, int64_t>::value) values[voff] = from_i64<T>(r.v);
        else values[voff] = store_acc<T>(r.v);
    }
}

/* Operands of the outer plan: 0 = x, 1 = indices, 2 = values (indices' strides when null). */
template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
arg_thread_kernel(OffsetCalc<3, IndexT> outer, IndexT n_out, int64_t len, int64_t step, const T* x,
                  int64_t* indices, T* values, ArgFn fn) {
    typedef typename RAcc<T>::type Acc;
    for (IndexT o = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; o < n_out; o += (IndexT)gridDim.x * blockDim.x) {
        IndexT off[3];
        outer.get(o, off);
        const T* row = x + off[0];
        ArgAcc<Acc> best = fn.template identity<Acc>();
        for (int64_t j = 0; j < len; j++) {
            ArgAcc<Acc> c;
            c.v = racc_load(row[j * step]);
            c.i = j;
            best = fn(best, c);
        }
        arg_store<T>(best, indices, values, (int64_t)off[1], (int64_t)off[2]);
    }
}

/* A group of blockDim.x threads per output (a warp with blockDim.y = 8, or the whole block). */
template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
arg_group_kernel(OffsetCalc<3, IndexT> outer, IndexT n_out, int64_t len, int64_t step, const T* x,
                 int64_t* indices, T* values, ArgFn fn) {
    typedef typename RAcc<T>::type Acc;
    __shared__ ArgAcc<Acc> smem[32];
    const IndexT o = (IndexT)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = o < n_out;
    ArgAcc<Acc> best = fn.template identity<Acc>();
    IndexT off[3] = {0, 0, 0};
    if (active) {
        outer.get(o, off);
        const T* row = x + off[0];
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
            ArgAcc<Acc> c;
            c.v = racc_load(row[j * step]);
            c.i = j;
            best = fn(best, c);
        }
    }
    if (blockDim.x > 32) {
        best = block_allreduce(best, fn, smem);
    } else {
        best = warp_allreduce(best, fn);
    }
    if (active && threadIdx.x == 0) arg_store<T>(best, indices, values, (int64_t)off[1], (int64_t)off[2]);
}

template <typename T, typename IndexT>
int launch_arg(const Plan<3>& p, int64_t len, int64_t step, const T* x, int64_t* indices, T* values, bool is_max,
               cudaStream_t stream) {
    ArgFn fn;
    fn.is_max = is_max;
    OffsetCalc<3, IndexT> outer(p);
    const int64_t n = p.numel;
    if (len < 64) {
        arg_thread_kernel<T, IndexT><<<grid_for(n, 256), 256, 0, stream>>>(outer, (IndexT)n, len, step, x, indices,
                                                                           values, fn);
    } else {
        dim3 block = len >= 2048 ? dim3(256, 1) : dim3(32, 8);
        int64_t blocks = ceil_div(n, (int64_t)block.y);
        if (blocks > INT32_MAX) return LLAVA_ERR_UNSUPPORTED;
        arg_group_kernel<T, IndexT><<<(unsigned)blocks, block, 0, stream>>>(outer, (IndexT)n, len, step, x, indices,
                                                                            values, fn);
    }
    return finish();
}

// ---- softmax ----------------------------------------------------------------------------------

template <int V, typename T>
__global__ void __launch_bounds__(512)
softmax_kernel(int64_t rows, int64_t cols, const T* x, T* out, bool log_softmax) {
    typedef acc_t<T> A;
    __shared__ MaxSum<A> smem[32];
    const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = r < rows;
    const T* row = x + (active ? r : 0) * cols;
    MaxSum<A> st = maxsum_identity<A>();
    if (active) for_row<V>(row, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { maxsum_add(st, v); });
    st = row_allreduce(st, MaxSumOp(), smem);
    if (!active) return;
    A m = st.m == -(A)INFINITY ? A(0) : st.m;   // the CPU's max reset for all -inf rows
    T* orow = out + r * cols;
    if (log_softmax) {
        const A lse = m + log_a(st.s);
        map_row<V>(row, orow, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { return v - lse; });
    } else {
        const A sum = st.s;   // divide (not multiply by a reciprocal), as the CPU does
        map_row<V>(row, orow, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { return exp_a(v - m) / sum; });
    }
}

template <int V, typename T>
__global__ void __launch_bounds__(512)
softmax_backward_kernel(int64_t rows, int64_t cols, const T* y, const T* gy, T* gx, bool log_softmax) {
    typedef acc_t<T> A;
    __shared__ A smem[32];
    const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = r < rows;
    const int64_t base = (active ? r : 0) * cols;
    const T* yrow = y + base;
    const T* grow = gy + base;
    A acc = A(0);
    if (active) {
        if (log_softmax) {
            for_row<V>(grow, cols, threadIdx.x, blockDim.x, [&](A g, int64_t) { acc += g; });
        } else {
            for_row2<V>(grow, yrow, cols, threadIdx.x, blockDim.x, [&](A g, A yv, int64_t) { acc += g * yv; });
        }
    }
    acc = row_allreduce(acc, SumOp(), smem);
    if (!active) return;
    T* orow = gx + base;
    if (log_softmax) {
        map_row2<V>(grow, yrow, orow, cols, threadIdx.x, blockDim.x, [&](A g, A yv, int64_t) { return g - exp_a(yv) * acc; });
    } else {
        map_row2<V>(grow, yrow, orow, cols, threadIdx.x, blockDim.x, [&](A g, A yv, int64_t) { return yv * (g - acc); });
    }
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_reduce(void* stream, int op, int rank, const int64_t* shape, const void* x,
                            const int64_t* x_strides, void* out, const int64_t* out_shape,
                            const int64_t* out_strides, int dtype) {
    entry();
    if (op < LLAVA_REDUCE_SUM || op > LLAVA_REDUCE_MIN) return LLAVA_ERR_INVALID_ARGUMENT;
    ReducePlan rp;
    if (!plan_reduce(rank, shape, x_strides, out_shape, out_strides, rp)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rp.M == 0) return 0;
    if (x == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    const bool fits32 = rp.M * std::max<int64_t>(rp.K, 1) <= INT32_MAX &&
                        plan_max_offset(rp.kept) + plan_max_offset(rp.red) <= INT32_MAX;
    return dispatch_all(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        const T* xp = static_cast<const T*>(x);
        T* op_ = static_cast<T*>(out);
        if (fits32) return launch_reduce<T, uint32_t>(rp, op, xp, op_, as_stream(stream));
        return launch_reduce<T, uint64_t>(rp, op, xp, op_, as_stream(stream));
    });
}

extern "C" int llava_arg_reduce(void* stream, int is_max, int rank, const int64_t* shape, const void* x,
                                const int64_t* x_strides, int dim, int64_t* indices, const int64_t* indices_strides,
                                void* values, const int64_t* values_strides, int dtype) {
    entry();
    if (rank < 1 || rank > LLAVA_MAX_DIMS || dim < 0 || dim >= rank || shape == nullptr || x_strides == nullptr ||
        indices_strides == nullptr || (values != nullptr && values_strides == nullptr)) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    const int64_t len = shape[dim], step = x_strides[dim];
    if (step < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    int64_t oshape[LLAVA_MAX_DIMS];
    for (int d = 0; d < rank; d++) oshape[d] = d == dim ? 1 : shape[d];
    Plan<3> p;
    const int64_t* strides[3] = {x_strides, indices_strides, values != nullptr ? values_strides : indices_strides};
    if (!plan_elementwise<3>(rank, oshape, strides, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (len <= 0) return LLAVA_ERR_INVALID_ARGUMENT;   // argmax of an empty dim is undefined
    if (x == nullptr || indices == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    const bool fits32 = plan_fits_32(p) && p.numel <= INT32_MAX;
    return dispatch_all(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        const T* xp = static_cast<const T*>(x);
        T* vp = static_cast<T*>(values);
        if (fits32) return launch_arg<T, uint32_t>(p, len, step, xp, indices, vp, is_max != 0, as_stream(stream));
        return launch_arg<T, uint64_t>(p, len, step, xp, indices, vp, is_max != 0, as_stream(stream));
    });
}

extern "C" int llava_softmax(void* stream, int64_t rows, int64_t cols, const void* x, void* out, int dtype, int log) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0 || cols == 0) return 0;
    if (x == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        constexpr int V = vec_width((int)sizeof(T));
        const dim3 block = row_block(cols);
        const int64_t blocks = ceil_div(rows, (int64_t)block.y);
        if (blocks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        const T* xp = static_cast<const T*>(x);
        T* op = static_cast<T*>(out);
        if (rows_vectorizable<T>(cols, {x, out})) {
            softmax_kernel<V, T><<<(unsigned)blocks, block, 0, as_stream(stream)>>>(rows, cols, xp, op, log != 0);
        } else {
            softmax_kernel<1, T><<<(unsigned)blocks, block, 0, as_stream(stream)>>>(rows, cols, xp, op, log != 0);
        }
        return finish();
    });
}

extern "C" int llava_softmax_backward(void* stream, int64_t rows, int64_t cols, const void* y, const void* gy,
                                      void* gx, int dtype, int log) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0 || cols == 0) return 0;
    if (y == nullptr || gy == nullptr || gx == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        constexpr int V = vec_width((int)sizeof(T));
        const dim3 block = row_block(cols);
        const int64_t blocks = ceil_div(rows, (int64_t)block.y);
        if (blocks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        const T* yp = static_cast<const T*>(y);
        const T* gp = static_cast<const T*>(gy);
        T* op = static_cast<T*>(gx);
        if (rows_vectorizable<T>(cols, {y, gy, gx})) {
            softmax_backward_kernel<V, T><<<(unsigned)blocks, block, 0, as_stream(stream)>>>(rows, cols, yp, gp, op, log != 0);
        } else {
            softmax_backward_kernel<1, T><<<(unsigned)blocks, block, 0, as_stream(stream)>>>(rows, cols, yp, gp, op, log != 0);
        }
        return finish();
    });
}
