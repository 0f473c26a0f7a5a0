/*
 * norms.cu: RMSNorm and LayerNorm, forward and backward, over contiguous [rows, cols].
 *
 * Forward: a warp per row (8 rows per block) up to 1024 columns, else a block per row; the row is
 * read once for the statistics and again (from L1/L2) for the output; 16-byte loads and stores
 * when rows are aligned (the backward too). Statistics accumulate in F32 (F64 for F64); rstd = 1 / sqrt(var + eps) is
 * evaluated in double from the F32 sum, as the CPU does in double. RMSNorm's output is
 * w * (x * rstd), the CPU's F32 order; LayerNorm's ((x - mean) * rstd) * w + b. LayerNorm computes
 * the variance in a second pass over (x - mean) (no cancellation).
 *
 * Backward, deterministic weight gradients in two stages (no atomics):
 *  1. grid = C chunks of consecutive rows (C = min(rows, 512), C/2 for F64); a block walks its
 *     rows: per row a block reduction gives the dot products, then gx is written and each thread
 *     adds gy*xhat (and gy) of the columns it owns into the chunk's partial sums, kept in shared
 *     memory when they fit in 40 KiB, else in the chunk's slice of the workspace (each column has
 *     a single owning thread, so there are no races);
 *  2. one thread per column sums the C partials in chunk order and stores gw (gb).
 * Workspace: llava_norm_backward_workspace_size(rows, cols) = max(C, 2) * cols * 4 bytes (rounded
 * up to 16), enough for C F32 partial rows or C/2 F64 ones; LayerNorm takes twice that (gw
 * partials, then gb's).
 */
#include <algorithm>

#include "common.cuh"

namespace llava_k {
namespace {

constexpr int64_t kMaxChunks = 512;
// dynamic shared memory for the partial sums; static + dynamic must stay within the 48 KiB a
// block gets without an opt-in, and the kernels use up to 256 bytes of static shared memory
constexpr size_t kMaxSmemAcc = 40 * 1024;

int64_t norm_chunks(int64_t rows) { return std::min(rows, kMaxChunks); }

/* Chunks of rows the backward uses for compute type A (F64 partials take twice the bytes). */
template <typename A> int64_t chunks_for(int64_t rows) {
    int64_t c = norm_chunks(rows);
    return sizeof(A) == 8 ? std::max<int64_t>(1, c / 2) : c;
}

/* 1 / sqrt(mean + eps), in double as the CPU, rounded to the compute type. */
template <typename A> __device__ __forceinline__ A inv_std(A sum, int64_t cols, double eps) {
    return (A)(1.0 / sqrt((double)sum / (double)cols + eps));
}

template <typename T> __device__ __forceinline__ acc_t<T> load_or_one(const T* w, int64_t c) {
    return w != nullptr ? load_acc(w[c]) : acc_t<T>(1);
}

// ---- forward ----------------------------------------------------------------------------------

template <int V, typename T>
__global__ void __launch_bounds__(512)
rms_norm_forward_kernel(int64_t rows, int64_t cols, const T* x, const T* w, double eps, T* out, float* rstd) {
    typedef acc_t<T> A;
    __shared__ A smem[32];
    const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = r < rows;
    const T* row = x + (active ? r : 0) * cols;
    A ss = A(0);
    if (active) for_row<V>(row, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { ss += v * v; });
    ss = row_allreduce(ss, SumOp(), smem);
    if (!active) return;
    const A inv = inv_std(ss, cols, eps);
    map_row<V>(row, out + r * cols, cols, threadIdx.x, blockDim.x, [&](A v, int64_t c) {
        const A h = v * inv;
        return w != nullptr ? load_acc(w[c]) * h : h;
    });
    if (threadIdx.x == 0) rstd[r] = (float)inv;
}

template <int V, typename T>
__global__ void __launch_bounds__(512)
layer_norm_forward_kernel(int64_t rows, int64_t cols, const T* x, const T* w, const T* b, double eps, T* out,
                          float* mean_out, float* rstd) {
    typedef acc_t<T> A;
    __shared__ A smem[32];
    const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = r < rows;
    const T* row = x + (active ? r : 0) * cols;
    A s = A(0);
    if (active) for_row<V>(row, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { s += v; });
    s = row_allreduce(s, SumOp(), smem);
    const A mean = s / (A)cols;
    A q = A(0);
    if (active) for_row<V>(row, cols, threadIdx.x, blockDim.x, [&](A v, int64_t) { A d = v - mean; q += d * d; });
    q = row_allreduce(q, SumOp(), smem);
    if (!active) return;
    const A inv = inv_std(q, cols, eps);
    map_row<V>(row, out + r * cols, cols, threadIdx.x, blockDim.x, [&](A v, int64_t c) {
        A h = (v - mean) * inv;
        if (w != nullptr) h = h * load_acc(w[c]);
        if (b != nullptr) h = h + load_acc(b[c]);
        return h;
    });
    if (threadIdx.x == 0) {
        mean_out[r] = (float)mean;
        rstd[r] = (float)inv;
    }
}

// ---- backward, stage 1 ------------------------------------------------------------------------

/*
 * Partial sums of one chunk: in dynamic shared memory (smem_acc) or directly in the chunk's
 * workspace slice. Null when the gradient is not wanted.
 */
template <typename A>
__device__ __forceinline__ A* chunk_acc(A* ws, int64_t cols, bool smem_acc, A* dyn, int slot) {
    if (ws == nullptr) return nullptr;
    return smem_acc ? dyn + slot * cols : ws + (int64_t)blockIdx.x * cols;
}

template <typename A>
__device__ __forceinline__ void zero_cols(A* acc, int64_t cols) {
    if (acc != nullptr) for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) acc[c] = A(0);
}

template <typename A>
__device__ __forceinline__ void flush_cols(const A* acc, A* ws, int64_t cols, bool smem_acc) {
    if (acc != nullptr && smem_acc) {
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) ws[(int64_t)blockIdx.x * cols + c] = acc[c];
    }
}

/* ws_w: nullable [chunks, cols] partials of gw. One 1-D block (multiple of 32 threads) per chunk. */
template <int V, typename T>
__global__ void __launch_bounds__(512)
rms_norm_backward_kernel(int64_t rows, int64_t cols, int64_t rows_per_chunk, const T* x, const T* w,
                         const float* rstd, const T* gy, T* gx, acc_t<T>* ws_w, bool smem_acc) {
    typedef acc_t<T> A;
    extern __shared__ __align__(16) unsigned char dyn_raw[];
    __shared__ A smem[32];
    A* acc_w = chunk_acc(ws_w, cols, smem_acc, reinterpret_cast<A*>(dyn_raw), 0);
    zero_cols(acc_w, cols);
    __syncthreads();
    const int64_t r0 = (int64_t)blockIdx.x * rows_per_chunk;
    const int64_t r1 = std::min(rows, r0 + rows_per_chunk);
    for (int64_t r = r0; r < r1; r++) {
        const T* xr = x + r * cols;
        const T* gr = gy + r * cols;
        const A inv = (A)rstd[r];
        A dot = A(0);
        for_row2<V>(gr, xr, cols, threadIdx.x, blockDim.x, [&](A g, A xv, int64_t c) { dot += g * load_or_one(w, c) * xv; });
        dot = block_allreduce(dot, SumOp(), smem);
        const A k = dot * inv * inv * inv / (A)cols;
        map_row2<V>(gr, xr, gx + r * cols, cols, threadIdx.x, blockDim.x, [&](A g, A xv, int64_t c) {
            if (acc_w != nullptr) acc_w[c] += g * xv * inv;
            return g * load_or_one(w, c) * inv - xv * k;
        });
    }
    __syncthreads();
    flush_cols(acc_w, ws_w, cols, smem_acc);
}

template <int V, typename T>
__global__ void __launch_bounds__(512)
layer_norm_backward_kernel(int64_t rows, int64_t cols, int64_t rows_per_chunk, const T* x, const T* w,
                           const float* mean, const float* rstd, const T* gy, T* gx, acc_t<T>* ws_w,
                           acc_t<T>* ws_b, bool smem_acc) {
    typedef acc_t<T> A;
    extern __shared__ __align__(16) unsigned char dyn_raw[];
    __shared__ A smem[32];
    A* dyn = reinterpret_cast<A*>(dyn_raw);
    A* acc_w = chunk_acc(ws_w, cols, smem_acc, dyn, 0);
    A* acc_b = chunk_acc(ws_b, cols, smem_acc, dyn, ws_w != nullptr ? 1 : 0);
    zero_cols(acc_w, cols);
    zero_cols(acc_b, cols);
    __syncthreads();
    const int64_t r0 = (int64_t)blockIdx.x * rows_per_chunk;
    const int64_t r1 = std::min(rows, r0 + rows_per_chunk);
    for (int64_t r = r0; r < r1; r++) {
        const T* xr = x + r * cols;
        const T* gr = gy + r * cols;
        const A m = (A)mean[r], inv = (A)rstd[r];
        A sg = A(0), sgx = A(0);
        for_row2<V>(gr, xr, cols, threadIdx.x, blockDim.x, [&](A g, A xv, int64_t c) {
            const A xh = (xv - m) * inv;
            const A gw = g * load_or_one(w, c);
            sg += gw;
            sgx += gw * xh;
        });
        sg = block_allreduce(sg, SumOp(), smem) / (A)cols;
        sgx = block_allreduce(sgx, SumOp(), smem) / (A)cols;
        map_row2<V>(gr, xr, gx + r * cols, cols, threadIdx.x, blockDim.x, [&](A g, A xv, int64_t c) {
            const A xh = (xv - m) * inv;
            if (acc_w != nullptr) acc_w[c] += g * xh;
            if (acc_b != nullptr) acc_b[c] += g;
            return inv * (g * load_or_one(w, c) - sg - xh * sgx);
        });
    }
    __syncthreads();
    flush_cols(acc_w, ws_w, cols, smem_acc);
    flush_cols(acc_b, ws_b, cols, smem_acc);
}

// ---- backward, stage 2 ------------------------------------------------------------------------

template <typename T>
__global__ void __launch_bounds__(256)
sum_chunks_kernel(int64_t cols, int64_t chunks, const acc_t<T>* ws, T* g) {
    typedef acc_t<T> A;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
        A s = A(0);
        for (int64_t k = 0; k < chunks; k++) s += ws[k * cols + c];
        g[c] = store_acc<T>(s);
    }
}

// ---- launchers --------------------------------------------------------------------------------

template <typename T> int forward_blocks(int64_t rows, int64_t cols, dim3& block, unsigned& blocks) {
    block = row_block(cols);
    int64_t b = ceil_div(rows, (int64_t)block.y);
    if (b > INT32_MAX) return LLAVA_ERR_UNSUPPORTED;
    blocks = (unsigned)b;
    return 0;
}

/* Stage-1 geometry shared by both norms. */
struct BackwardGeometry {
    int64_t chunks, rows_per_chunk;
    int threads;
    size_t smem_bytes;
    bool smem_acc;
};

template <typename A> BackwardGeometry backward_geometry(int64_t rows, int64_t cols, int n_acc) {
    BackwardGeometry g;
    const int64_t c = chunks_for<A>(rows);
    g.rows_per_chunk = ceil_div(rows, c);
    g.chunks = ceil_div(rows, g.rows_per_chunk);   // chunks actually holding rows
    g.threads = row_threads(cols, 8, 512);
    const size_t bytes = (size_t)n_acc * (size_t)cols * sizeof(A);
    g.smem_acc = n_acc > 0 && bytes <= kMaxSmemAcc;
    g.smem_bytes = g.smem_acc ? bytes : 0;
    return g;
}

template <typename T> int launch_sum_chunks(int64_t cols, int64_t chunks, const acc_t<T>* ws, void* g, cudaStream_t st) {
    sum_chunks_kernel<T><<<grid_for(cols, 256), 256, 0, st>>>(cols, chunks, ws, static_cast<T*>(g));
    return finish();
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_rms_norm_forward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                                      double eps, void* out, float* rstd, int dtype) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0) return 0;
    if (x == nullptr || out == nullptr || rstd == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        dim3 block;
        unsigned blocks;
        int rc = forward_blocks<T>(rows, cols, block, blocks);
        if (rc != 0) return rc;
        const T* xp = static_cast<const T*>(x);
        const T* wp = static_cast<const T*>(w);
        T* op = static_cast<T*>(out);
        cudaStream_t st = as_stream(stream);
        if (rows_vectorizable<T>(cols, {x, w, out})) {
            rms_norm_forward_kernel<vec_width(sizeof(T)), T><<<blocks, block, 0, st>>>(rows, cols, xp, wp, eps, op, rstd);
        } else {
            rms_norm_forward_kernel<1, T><<<blocks, block, 0, st>>>(rows, cols, xp, wp, eps, op, rstd);
        }
        return finish();
    });
}

extern "C" int64_t llava_norm_backward_workspace_size(int64_t rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return 0;
    // rounded to 16 bytes so LayerNorm's second half (gb partials) stays aligned for F64
    return ceil_div(std::max<int64_t>(norm_chunks(rows), 2) * cols * (int64_t)sizeof(float), 16) * 16;
}

extern "C" int llava_rms_norm_backward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                                       const float* rstd, const void* gy, void* gx, void* gw, void* workspace,
                                       int dtype) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (gw != nullptr && w == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0 || cols == 0) {   // no rows: the weight gradient is zero
        const int64_t one = 1;
        if (gw != nullptr && cols > 0) return llava_fill(stream, 1, &cols, gw, dtype, &one, 0.0);
        return 0;
    }
    if (x == nullptr || rstd == nullptr || gy == nullptr || gx == nullptr || (gw != nullptr && workspace == nullptr)) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        typedef acc_t<T> A;
        const BackwardGeometry g = backward_geometry<A>(rows, cols, gw != nullptr ? 1 : 0);
        if (g.chunks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        A* ws = gw != nullptr ? static_cast<A*>(workspace) : nullptr;
        const T* xp = static_cast<const T*>(x);
        const T* wp = static_cast<const T*>(w);
        const T* gp = static_cast<const T*>(gy);
        T* gxp = static_cast<T*>(gx);
        cudaStream_t st = as_stream(stream);
        if (rows_vectorizable<T>(cols, {x, w, gy, gx})) {
            rms_norm_backward_kernel<vec_width(sizeof(T)), T><<<(unsigned)g.chunks, g.threads, g.smem_bytes, st>>>(
                rows, cols, g.rows_per_chunk, xp, wp, rstd, gp, gxp, ws, g.smem_acc);
        } else {
            rms_norm_backward_kernel<1, T><<<(unsigned)g.chunks, g.threads, g.smem_bytes, st>>>(
                rows, cols, g.rows_per_chunk, xp, wp, rstd, gp, gxp, ws, g.smem_acc);
        }
        int rc = finish();
        if (rc != 0 || gw == nullptr) return rc;
        return launch_sum_chunks<T>(cols, g.chunks, ws, gw, st);
    });
}

extern "C" int llava_layer_norm_forward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                                        const void* b, double eps, void* out, float* mean, float* rstd, int dtype) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0) return 0;
    if (x == nullptr || out == nullptr || mean == nullptr || rstd == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        dim3 block;
        unsigned blocks;
        int rc = forward_blocks<T>(rows, cols, block, blocks);
        if (rc != 0) return rc;
        const T* xp = static_cast<const T*>(x);
        const T* wp = static_cast<const T*>(w);
        const T* bp = static_cast<const T*>(b);
        T* op = static_cast<T*>(out);
        cudaStream_t st = as_stream(stream);
        if (rows_vectorizable<T>(cols, {x, w, b, out})) {
            layer_norm_forward_kernel<vec_width(sizeof(T)), T><<<blocks, block, 0, st>>>(rows, cols, xp, wp, bp, eps, op,
                                                                                          mean, rstd);
        } else {
            layer_norm_forward_kernel<1, T><<<blocks, block, 0, st>>>(rows, cols, xp, wp, bp, eps, op, mean, rstd);
        }
        return finish();
    });
}

extern "C" int llava_layer_norm_backward(void* stream, int64_t rows, int64_t cols, const void* x, const void* w,
                                         const float* mean, const float* rstd, const void* gy, void* gx, void* gw,
                                         void* gb, void* workspace, int dtype) {
    entry();
    if (rows < 0 || cols < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (gw != nullptr && w == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0 || cols == 0) {
        const int64_t one = 1;
        int rc = 0;
        if (gw != nullptr && cols > 0) rc = llava_fill(stream, 1, &cols, gw, dtype, &one, 0.0);
        if (rc == 0 && gb != nullptr && cols > 0) rc = llava_fill(stream, 1, &cols, gb, dtype, &one, 0.0);
        return rc;
    }
    if (x == nullptr || mean == nullptr || rstd == nullptr || gy == nullptr || gx == nullptr ||
        ((gw != nullptr || gb != nullptr) && workspace == nullptr)) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        typedef acc_t<T> A;
        const int n_acc = (gw != nullptr ? 1 : 0) + (gb != nullptr ? 1 : 0);
        const BackwardGeometry g = backward_geometry<A>(rows, cols, n_acc);
        if (g.chunks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        // gw partials in the first half of the workspace, gb partials in the second
        const int64_t half_bytes = llava_norm_backward_workspace_size(rows, cols);
        A* ws_w = gw != nullptr ? static_cast<A*>(workspace) : nullptr;
        A* ws_b = gb != nullptr ? reinterpret_cast<A*>(static_cast<char*>(workspace) + half_bytes) : nullptr;
        const T* xp = static_cast<const T*>(x);
        const T* wp = static_cast<const T*>(w);
        const T* gp = static_cast<const T*>(gy);
        T* gxp = static_cast<T*>(gx);
        cudaStream_t st = as_stream(stream);
        if (rows_vectorizable<T>(cols, {x, w, gy, gx})) {
            layer_norm_backward_kernel<vec_width(sizeof(T)), T><<<(unsigned)g.chunks, g.threads, g.smem_bytes, st>>>(
                rows, cols, g.rows_per_chunk, xp, wp, mean, rstd, gp, gxp, ws_w, ws_b, g.smem_acc);
        } else {
            layer_norm_backward_kernel<1, T><<<(unsigned)g.chunks, g.threads, g.smem_bytes, st>>>(
                rows, cols, g.rows_per_chunk, xp, wp, mean, rstd, gp, gxp, ws_w, ws_b, g.smem_acc);
        }
        int rc = finish();
        if (rc == 0 && gw != nullptr) rc = launch_sum_chunks<T>(cols, g.chunks, ws_w, gw, st);
        if (rc == 0 && gb != nullptr) rc = launch_sum_chunks<T>(cols, g.chunks, ws_b, gb, st);
        return rc;
    });
}
