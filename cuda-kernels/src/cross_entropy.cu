/*
 * cross_entropy.cu: fused softmax cross-entropy over logits [rows, vocab] (F32/BF16/F16, F32
 * math); no probability tensor is ever stored.
 *
 * Forward: a block per row (a warp per row, 8 rows per block, when vocab <= 1024); each thread
 * sweeps its columns once keeping a running (max, sum exp(x - max)) pair (online rescaling), the
 * pairs are combined in a fixed order, then lse = max + log(sum) and loss = lse - x[target]
 * (0 for ignore_index). 16-byte loads when rows are aligned. A row of all -inf gives lse = NaN,
 * as the CPU (exp(-inf - -inf)).
 * Backward: elementwise over the whole [rows, vocab] grid (2-D launch: column blocks x rows), so
 * even a few rows fill the GPU: g = g_loss[r] * exp(x - lse[r]) - (c == target ? g_loss[r] : 0),
 * zero rows where ignored.
 * Targets outside [0, vocab) (other than ignore_index) are reported as LLAVA_ERR_INDEX through the
 * device flag of index_check_* (one stream synchronisation per call; see common.cuh); such rows
 * get loss NaN (forward) or zero gradients (backward), and nothing is read out of bounds.
 */
#include <algorithm>

#include "common.cuh"

namespace llava_k {
namespace {

__device__ __forceinline__ bool bad_target(int64_t t, int64_t vocab, int64_t ignore_index) {
    return t != ignore_index && (t < 0 || t >= vocab);
}

template <int V, typename T>
__global__ void __launch_bounds__(512)
ce_forward_kernel(int64_t rows, int64_t vocab, const T* logits, const int64_t* targets, int64_t ignore_index,
                  float* loss, float* lse, int* bad) {
    __shared__ MaxSum<float> smem[32];
    const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    const bool active = r < rows;
    const T* row = logits + (active ? r : 0) * vocab;
    MaxSum<float> st = maxsum_identity<float>();
    if (active) for_row<V>(row, vocab, threadIdx.x, blockDim.x, [&](float v, int64_t) { maxsum_add(st, v); });
    st = row_allreduce(st, MaxSumOp(), smem);
    if (!active || threadIdx.x != 0) return;
    const float l = st.m == -INFINITY ? NAN : st.m + logf(st.s);
    lse[r] = l;
    const int64_t t = targets[r];
    if (t == ignore_index) {
        loss[r] = 0.0f;
    } else if (bad_target(t, vocab, ignore_index)) {
        loss[r] = NAN;
        *bad = 1;
    } else {
        loss[r] = l - to_float(row[t]);
    }
}

/* grid = (column blocks, min(rows, 65535)); each thread handles V consecutive columns per row. */
template <int V, typename T>
__global__ void __launch_bounds__(256)
ce_backward_kernel(int64_t rows, int64_t vocab, const T* logits, const int64_t* targets, const float* lse,
                   const float* g_loss, int64_t ignore_index, T* g_logits, int* bad) {
    const int64_t c0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * V;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const int64_t t = targets[r];
        const bool skip = t == ignore_index || bad_target(t, vocab, ignore_index);
        if (c0 == 0 && t != ignore_index && skip) *bad = 1;
        if (c0 >= vocab) continue;
        const T* xr = logits + r * vocab;
        T* gr = g_logits + r * vocab;
        const float l = lse[r], g = g_loss[r];
        auto grad = [&](float x, int64_t c) -> T {
            if (skip) return from_float<T>(0.0f);
            const float p = g * expf(x - l);
            return from_float<T>(c == t ? p - g : p);
        };
        if (V > 1 && c0 + V <= vocab) {
            Vec<T, V> xv = load_vec<T, V>(xr, c0), out;
#pragma unroll
            for (int j = 0; j < V; j++) out.v[j] = grad(to_float(xv.v[j]), c0 + j);
            store_vec<T, V>(gr, c0, out);
        } else {
            for (int64_t c = c0; c < c0 + V && c < vocab; c++) gr[c] = grad(to_float(xr[c]), c);
        }
    }
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_cross_entropy_forward(void* stream, int64_t rows, int64_t vocab, const void* logits, int dtype,
                                           const int64_t* targets, int64_t ignore_index, float* loss, float* lse) {
    entry();
    if (rows < 0 || vocab < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0) return 0;
    if (logits == nullptr || targets == nullptr || loss == nullptr || lse == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_f32_math(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        const dim3 block = row_block(vocab);
        const int64_t blocks = ceil_div(rows, (int64_t)block.y);
        if (blocks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        cudaStream_t st = as_stream(stream);
        Scratch flag;
        int rc = index_check_begin(flag, st);
        if (rc != 0) return rc;
        int* bad = static_cast<int*>(flag.ptr);
        const T* xp = static_cast<const T*>(logits);
        if (rows_vectorizable<T>(vocab, {logits})) {
            ce_forward_kernel<vec_width(sizeof(T)), T><<<(unsigned)blocks, block, 0, st>>>(rows, vocab, xp, targets,
                                                                                            ignore_index, loss, lse, bad);
        } else {
            ce_forward_kernel<1, T><<<(unsigned)blocks, block, 0, st>>>(rows, vocab, xp, targets, ignore_index, loss,
                                                                        lse, bad);
        }
        return index_check_end(flag, finish(), st);
    });
}

extern "C" int llava_cross_entropy_backward(void* stream, int64_t rows, int64_t vocab, const void* logits, int dtype,
                                            const int64_t* targets, const float* lse, const float* g_loss,
                                            int64_t ignore_index, void* g_logits) {
    entry();
    if (rows < 0 || vocab < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (rows == 0 || vocab == 0) return 0;
    if (logits == nullptr || targets == nullptr || lse == nullptr || g_loss == nullptr || g_logits == nullptr) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    return dispatch_f32_math(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        constexpr int VW = vec_width(sizeof(T));
        const bool vec = rows_vectorizable<T>(vocab, {logits, g_logits});
        const int per_thread = vec ? VW : 1;
        const int threads = 256;
        const int64_t col_blocks = ceil_div(vocab, (int64_t)threads * per_thread);
        if (col_blocks > INT32_MAX) return (int)LLAVA_ERR_UNSUPPORTED;
        const dim3 grid((unsigned)col_blocks, (unsigned)std::min<int64_t>(rows, 65535));
        cudaStream_t st = as_stream(stream);
        Scratch flag;
        int rc = index_check_begin(flag, st);
        if (rc != 0) return rc;
        int* bad = static_cast<int*>(flag.ptr);
        const T* xp = static_cast<const T*>(logits);
        T* gp = static_cast<T*>(g_logits);
        if (vec) {
            ce_backward_kernel<VW, T><<<grid, threads, 0, st>>>(rows, vocab, xp, targets, lse, g_loss, ignore_index, gp, bad);
        } else {
            ce_backward_kernel<1, T><<<grid, threads, 0, st>>>(rows, vocab, xp, targets, lse, g_loss, ignore_index, gp, bad);
        }
        return index_check_end(flag, finish(), st);
    });
}
