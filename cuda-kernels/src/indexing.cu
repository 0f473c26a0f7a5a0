/*
 * indexing.cu: llava_index_select, llava_index_add, llava_gather, llava_scatter_add.
 *
 * - index_select moves bits, in the widest unit (16/8/4/2/1 bytes) that divides a slab of
 *   `inner` elements and the pointers' alignment: an embedding row of 4096 bf16 moves as 512
 *   16-byte units. One thread per unit of the output.
 * - index_add / scatter_add: one thread per source element, atomicAdd into the target (F32, F64,
 *   BF16, F16, I64, I32; the half types add in their own precision, as the CPU rounds after every
 *   add; the order of the adds, and so F32 rounding, varies between runs). U8/BOOL: unsupported.
 * - gather / scatter_add on contiguous tensors: the index tensor's shape is walked with an
 *   OffsetCalc whose data stride at `dim` is 0; the index value times the data's stride at dim is
 *   added.
 * Every index is checked against its dimension: an out-of-range index skips its element (gather
 * and index_select write 0 there) and sets the device flag, which index_check_end turns into
 * LLAVA_ERR_INDEX. Reading the flag back costs one stream synchronisation per call (see
 * common.cuh): the price of reporting the error from the call that met it.
 */
#include "common.cuh"

namespace llava_k {
namespace {

// ---- atomics ----------------------------------------------------------------------------------

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(bf16* p, bf16 v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(f16* p, f16 v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int32_t* p, int32_t v) { atomicAdd(reinterpret_cast<int*>(p), (int)v); }
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
    // two's complement: unsigned addition is signed addition
    atomicAdd(reinterpret_cast<unsigned long long*>(p), (unsigned long long)v);
}

/* Calls f(DTypeTag<T>{}) for the dtypes with an atomic add. */
template <typename F> int dispatch_atomic(int dtype, F&& f) {
    switch (dtype) {
        case LLAVA_DTYPE_F64: return f(DTypeTag<double>{});
        case LLAVA_DTYPE_F32: return f(DTypeTag<float>{});
        case LLAVA_DTYPE_BF16: return f(DTypeTag<bf16>{});
        case LLAVA_DTYPE_F16: return f(DTypeTag<f16>{});
        case LLAVA_DTYPE_I64: return f(DTypeTag<int64_t>{});
        case LLAVA_DTYPE_I32: return f(DTypeTag<int32_t>{});
        case LLAVA_DTYPE_U8: case LLAVA_DTYPE_BOOL: return LLAVA_ERR_UNSUPPORTED;
        default: return LLAVA_ERR_INVALID_ARGUMENT;
    }
}

__device__ __forceinline__ bool out_of_range(int64_t i, int64_t size) { return i < 0 || i >= size; }

// ---- index_select / index_add -----------------------------------------------------------------

/* [outer, n_index, inner] walked by linear index: inner_div by inner, nidx_div by n_index. */
template <typename U, typename IndexT>
__global__ void __launch_bounds__(256)
index_select_kernel(IndexT n, Divmod<IndexT> inner_div, Divmod<IndexT> nidx_div, int64_t dim_size, const U* x,
                    const int64_t* index, U* out, int* bad) {
    const int64_t inner = (int64_t)inner_div.divisor;
    for (IndexT u = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; u < n; u += (IndexT)gridDim.x * blockDim.x) {
        IndexT q, j, o, i;
        inner_div.divmod(u, q, j);
        nidx_div.divmod(q, o, i);
        const int64_t idx = index[i];
        if (out_of_range(idx, dim_size)) {
            *bad = 1;
            out[u] = U{};
            continue;
        }
        out[u] = x[((int64_t)o * dim_size + idx) * inner + (int64_t)j];
    }
}

template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
index_add_kernel(IndexT n, Divmod<IndexT> inner_div, Divmod<IndexT> nidx_div, int64_t dim_size, T* target,
                 const int64_t* index, const T* src, int* bad) {
    const int64_t inner = (int64_t)inner_div.divisor;
    for (IndexT e = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (IndexT)gridDim.x * blockDim.x) {
        IndexT q, j, o, i;
        inner_div.divmod(e, q, j);
        nidx_div.divmod(q, o, i);
        const int64_t idx = index[i];
        if (out_of_range(idx, dim_size)) {
            *bad = 1;
            continue;
        }
        atomic_add(&target[((int64_t)o * dim_size + idx) * inner + (int64_t)j], src[e]);
    }
}

template <typename U, typename IndexT>
int launch_index_select(int64_t outer, int64_t dim_size, int64_t inner_units, int64_t n_index, const void* x,
                        const int64_t* index, void* out, int* bad, cudaStream_t st) {
    const int64_t n = outer * n_index * inner_units;
    index_select_kernel<U, IndexT><<<grid_for(n, 256), 256, 0, st>>>(
        (IndexT)n, Divmod<IndexT>((IndexT)inner_units), Divmod<IndexT>((IndexT)n_index), dim_size,
        static_cast<const U*>(x), index, static_cast<U*>(out), bad);
    return finish();
}

template <typename U>
int index_select_units(int64_t outer, int64_t dim_size, int64_t inner_units, int64_t n_index, const void* x,
                       const int64_t* index, void* out, int* bad, cudaStream_t st) {
    if (outer * n_index * inner_units <= INT32_MAX) {
        return launch_index_select<U, uint32_t>(outer, dim_size, inner_units, n_index, x, index, out, bad, st);
    }
    return launch_index_select<U, uint64_t>(outer, dim_size, inner_units, n_index, x, index, out, bad, st);
}

// ---- gather / scatter_add ---------------------------------------------------------------------

template <typename U, typename IndexT>
__global__ void __launch_bounds__(256)
gather_kernel(OffsetCalc<1, IndexT> calc, IndexT n, int64_t dim_stride, int64_t dim_size, const U* x,
              const int64_t* index, U* out, int* bad) {
    for (IndexT p = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; p < n; p += (IndexT)gridDim.x * blockDim.x) {
        const int64_t idx = index[p];
        if (out_of_range(idx, dim_size)) {
            *bad = 1;
            out[p] = U{};
            continue;
        }
        IndexT off[1];
        calc.get(p, off);
        out[p] = x[(int64_t)off[0] + idx * dim_stride];
    }
}

template <typename T, typename IndexT>
__global__ void __launch_bounds__(256)
scatter_add_kernel(OffsetCalc<1, IndexT> calc, IndexT n, int64_t dim_stride, int64_t dim_size, T* target,
                   const int64_t* index, const T* src, int* bad) {
    for (IndexT p = (IndexT)blockIdx.x * blockDim.x + threadIdx.x; p < n; p += (IndexT)gridDim.x * blockDim.x) {
        const int64_t idx = index[p];
        if (out_of_range(idx, dim_size)) {
            *bad = 1;
            continue;
        }
        IndexT off[1];
        calc.get(p, off);
        atomic_add(&target[(int64_t)off[0] + idx * dim_stride], src[p]);
    }
}

template <typename U, typename IndexT>
int launch_gather(const Plan<1>& p, int64_t dim_stride, int64_t dim_size, const void* x, const int64_t* index,
                  void* out, int* bad, cudaStream_t st) {
    gather_kernel<U, IndexT><<<grid_for(p.numel, 256), 256, 0, st>>>(OffsetCalc<1, IndexT>(p), (IndexT)p.numel,
                                                                     dim_stride, dim_size, static_cast<const U*>(x),
                                                                     index, static_cast<U*>(out), bad);
    return finish();
}

template <typename U>
int gather_units(const Plan<1>& p, int64_t dim_stride, int64_t dim_size, const void* x, const int64_t* index, void* out,
                 int* bad, cudaStream_t st) {
    if (plan_fits_32(p)) return launch_gather<U, uint32_t>(p, dim_stride, dim_size, x, index, out, bad, st);
    return launch_gather<U, uint64_t>(p, dim_stride, dim_size, x, index, out, bad, st);
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_index_select(void* stream, int dtype, int64_t outer, int64_t dim_size, int64_t inner,
                                  const void* x, const int64_t* index, int64_t n_index, void* out) {
    entry();
    const int esize = dtype_size(dtype);
    if (esize == 0 || outer < 0 || dim_size < 0 || inner < 0 || n_index < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (outer == 0 || inner == 0 || n_index == 0) return 0;
    if (x == nullptr || index == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    Scratch flag;
    int rc = index_check_begin(flag, st);
    if (rc != 0) return rc;
    int* bad = static_cast<int*>(flag.ptr);
    // the widest unit that divides a slab and the pointers' alignment
    const int64_t slab = inner * esize;
    int unit = 16;
    while (unit > esize && (slab % unit != 0 || !aligned_to(x, unit) || !aligned_to(out, unit))) unit /= 2;
    const int64_t units = slab / unit;
    switch (unit) {
        case 16: rc = index_select_units<uint4>(outer, dim_size, units, n_index, x, index, out, bad, st); break;
        case 8: rc = index_select_units<uint2>(outer, dim_size, units, n_index, x, index, out, bad, st); break;
        case 4: rc = index_select_units<uint32_t>(outer, dim_size, units, n_index, x, index, out, bad, st); break;
        case 2: rc = index_select_units<uint16_t>(outer, dim_size, units, n_index, x, index, out, bad, st); break;
        default: rc = index_select_units<uint8_t>(outer, dim_size, units, n_index, x, index, out, bad, st); break;
    }
    return index_check_end(flag, rc, st);
}

extern "C" int llava_index_add(void* stream, int dtype, int64_t outer, int64_t dim_size, int64_t inner, void* target,
                               const int64_t* index, int64_t n_index, const void* src) {
    entry();
    if (outer < 0 || dim_size < 0 || inner < 0 || n_index < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (outer == 0 || inner == 0 || n_index == 0) return 0;
    if (target == nullptr || index == nullptr || src == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    return dispatch_atomic(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        Scratch flag;
        int rc = index_check_begin(flag, st);
        if (rc != 0) return rc;
        int* bad = static_cast<int*>(flag.ptr);
        const int64_t n = outer * n_index * inner;
        T* tp = static_cast<T*>(target);
        const T* sp = static_cast<const T*>(src);
        if (n <= INT32_MAX) {
            index_add_kernel<T, uint32_t><<<grid_for(n, 256), 256, 0, st>>>(
                (uint32_t)n, Divmod<uint32_t>((uint32_t)inner), Divmod<uint32_t>((uint32_t)n_index), dim_size, tp, index,
                sp, bad);
        } else {
            index_add_kernel<T, uint64_t><<<grid_for(n, 256), 256, 0, st>>>(
                (uint64_t)n, Divmod<uint64_t>((uint64_t)inner), Divmod<uint64_t>((uint64_t)n_index), dim_size, tp, index,
                sp, bad);
        }
        return index_check_end(flag, finish(), st);
    });
}

extern "C" int llava_gather(void* stream, int dtype, int rank, const int64_t* index_shape, int dim, const void* x,
                            const int64_t* x_shape, const int64_t* index, void* out) {
    entry();
    Plan<1> p;
    int64_t dim_stride = 0, dim_size = 0;
    const int esize = dtype_size(dtype);
    if (esize == 0 || !plan_indexed(rank, index_shape, dim, x_shape, p, dim_stride, dim_size)) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    if (p.numel == 0) return 0;
    if (x == nullptr || index == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    Scratch flag;
    int rc = index_check_begin(flag, st);
    if (rc != 0) return rc;
    int* bad = static_cast<int*>(flag.ptr);
    switch (esize) {
        case 8: rc = gather_units<uint64_t>(p, dim_stride, dim_size, x, index, out, bad, st); break;
        case 4: rc = gather_units<uint32_t>(p, dim_stride, dim_size, x, index, out, bad, st); break;
        case 2: rc = gather_units<uint16_t>(p, dim_stride, dim_size, x, index, out, bad, st); break;
        default: rc = gather_units<uint8_t>(p, dim_stride, dim_size, x, index, out, bad, st); break;
    }
    return index_check_end(flag, rc, st);
}

extern "C" int llava_scatter_add(void* stream, int dtype, int rank, const int64_t* index_shape, int dim, void* target,
                                 const int64_t* target_shape, const int64_t* index, const void* src) {
    entry();
    Plan<1> p;
    int64_t dim_stride = 0, dim_size = 0;
    if (!plan_indexed(rank, index_shape, dim, target_shape, p, dim_stride, dim_size)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (target == nullptr || index == nullptr || src == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    return dispatch_atomic(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        Scratch flag;
        int rc = index_check_begin(flag, st);
        if (rc != 0) return rc;
        int* bad = static_cast<int*>(flag.ptr);
        T* tp = static_cast<T*>(target);
        const T* sp = static_cast<const T*>(src);
        if (plan_fits_32(p)) {
            scatter_add_kernel<T, uint32_t><<<grid_for(p.numel, 256), 256, 0, st>>>(
                OffsetCalc<1, uint32_t>(p), (uint32_t)p.numel, dim_stride, dim_size, tp, index, sp, bad);
        } else {
            scatter_add_kernel<T, uint64_t><<<grid_for(p.numel, 256), 256, 0, st>>>(
                OffsetCalc<1, uint64_t>(p), (uint64_t)p.numel, dim_stride, dim_size, tp, index, sp, bad);
        }
        return index_check_end(flag, finish(), st);
    });
}
