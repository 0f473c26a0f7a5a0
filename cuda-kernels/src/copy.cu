/*
 * copy.cu: llava_copy (strided copy with dtype conversion), llava_fill, llava_error_string, and
 * the library-wide helpers declared in common.cuh (stream-ordered scratch, index-error flag).
 *
 * Conversions follow the CPU backend (Access.store): see cast<D, S> in common.cuh. A same-dtype
 * copy moves bits (by element size, so NaN payloads survive). Both ops use run_elementwise: a
 * 16-byte vectorised kernel when every operand is contiguous and aligned, else the strided kernel
 * (32-bit index math whenever offsets fit).
 */
#include <string.h>

#include "common.cuh"

namespace llava_k {

// ---- scratch memory and index flag ------------------------------------------------------------

namespace {

/* Per device: 0 = not looked at, 1 = pools usable, 2 = no pools (use cudaMalloc). */
int g_pool_state[64];

bool pools_usable(int device) {
    if (device < 0 || device >= 64) return false;
    int st = __atomic_load_n(&g_pool_state[device], __ATOMIC_ACQUIRE);
    if (st != 0) return st == 1;
    int supported = 0;
    if (cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device) != cudaSuccess) {
        (void)cudaGetLastError();
        supported = 0;
    }
    if (supported) {
        cudaMemPool_t pool;
        if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
            uint64_t current = 0, wanted = 64ull << 20;
            if (cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &current) == cudaSuccess &&
                current < wanted) {
                (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &wanted);
            }
        }
        (void)cudaGetLastError();
    }
    __atomic_store_n(&g_pool_state[device], supported ? 1 : 2, __ATOMIC_RELEASE);
    return supported != 0;
}

}  // namespace

int Scratch::alloc(size_t bytes, cudaStream_t s) {
    stream = s;
    if (bytes == 0) return 0;
    int device = 0;
    cudaError_t e = cudaGetDevice(&device);
    if (e != cudaSuccess) return status(e);
    if (pools_usable(device)) {
        e = cudaMallocAsync(&ptr, bytes, s);
        if (e == cudaSuccess) {
            pooled = true;
            return 0;
        }
        (void)cudaGetLastError();
        ptr = nullptr;
    }
    e = cudaMalloc(&ptr, bytes);
    if (e != cudaSuccess) {
        ptr = nullptr;
        return status(e);
    }
    return 0;
}

Scratch::~Scratch() {
    if (ptr == nullptr) return;
    // errors here cannot be reported; clear them so they are not blamed on a later call
    if (pooled) {
        if (cudaFreeAsync(ptr, stream) != cudaSuccess) (void)cudaGetLastError();
    } else {
        if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
    }
}

int index_check_begin(Scratch& flag, cudaStream_t stream) {
    int rc = flag.alloc(sizeof(int), stream);
    if (rc != 0) return rc;
    return status(cudaMemsetAsync(flag.ptr, 0, sizeof(int), stream));
}

int index_check_end(Scratch& flag, int launch_status, cudaStream_t stream) {
    if (launch_status != 0) return launch_status;
    int host_flag = 0;
    cudaError_t e = cudaMemcpyAsync(&host_flag, flag.ptr, sizeof(int), cudaMemcpyDeviceToHost, stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) return status(e);
    return host_flag != 0 ? LLAVA_ERR_INDEX : 0;
}

// ---- copy and fill ----------------------------------------------------------------------------

namespace {

template <typename S, typename D> struct CopyOp {
    static constexpr int NOPS = 2;
    static constexpr int VEC = vec_width(sizeof(S) > sizeof(D) ? (int)sizeof(S) : (int)sizeof(D));
    D* dst;
    const S* src;
    template <typename I> __device__ __forceinline__ void apply(const I (&off)[2]) const {
        dst[off[0]] = cast<D>(src[off[1]]);
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<S, V> a = load_vec<S, V>(src, i);
        Vec<D, V> b;
#pragma unroll
        for (int j = 0; j < V; j++) b.v[j] = cast<D>(a.v[j]);
        store_vec<D, V>(dst, i, b);
    }
};

template <typename T> struct FillOp {
    static constexpr int NOPS = 1;
    static constexpr int VEC = vec_width((int)sizeof(T));
    T* dst;
    T value;
    template <typename I> __device__ __forceinline__ void apply(const I (&off)[1]) const { dst[off[0]] = value; }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> b;
#pragma unroll
        for (int j = 0; j < V; j++) b.v[j] = value;
        store_vec<T, V>(dst, i, b);
    }
};

/* Unsigned integer of the given byte size, for moving bits. */
template <int BYTES> struct Bits;
template <> struct Bits<1> { typedef uint8_t type; };
template <> struct Bits<2> { typedef uint16_t type; };
template <> struct Bits<4> { typedef uint32_t type; };
template <> struct Bits<8> { typedef uint64_t type; };

template <typename S, typename D>
int launch_copy(const Plan<2>& p, const void* src, void* dst, cudaStream_t stream) {
    CopyOp<S, D> op;
    op.dst = static_cast<D*>(dst);
    op.src = static_cast<const S*>(src);
    const void* ptrs[2] = {dst, src};
    const int sizes[2] = {(int)sizeof(D), (int)sizeof(S)};
    return run_elementwise(p, op, ptrs, sizes, stream);
}

int copy_same_dtype(const Plan<2>& p, const void* src, void* dst, int bytes, cudaStream_t stream) {
    switch (bytes) {
        case 1: return launch_copy<Bits<1>::type, Bits<1>::type>(p, src, dst, stream);
        case 2: return launch_copy<Bits<2>::type, Bits<2>::type>(p, src, dst, stream);
        case 4: return launch_copy<Bits<4>::type, Bits<4>::type>(p, src, dst, stream);
        case 8: return launch_copy<Bits<8>::type, Bits<8>::type>(p, src, dst, stream);
        default: return LLAVA_ERR_INVALID_ARGUMENT;
    }
}

}  // namespace

}  // namespace llava_k

using namespace llava_k;

extern "C" const char* llava_error_string(int code) {
    switch (code) {
        case 0: return "no error";
        case LLAVA_ERR_INVALID_ARGUMENT: return "llava kernels: invalid argument (rank, size, stride, dtype or null pointer)";
        case LLAVA_ERR_UNSUPPORTED: return "llava kernels: unsupported dtype or size for this kernel";
        case LLAVA_ERR_INDEX: return "llava kernels: index out of range";
        default: break;
    }
    if (code > 0 && code < LLAVA_ERR_INVALID_ARGUMENT) return cudaGetErrorString((cudaError_t)code);
    return "llava kernels: unknown error code";
}

extern "C" int llava_copy(void* stream, int rank, const int64_t* shape, const void* src, int src_dtype,
                          const int64_t* src_strides, void* dst, int dst_dtype, const int64_t* dst_strides) {
    entry();
    Plan<2> p;
    const int64_t* strides[2] = {dst_strides, src_strides};
    if (!plan_elementwise<2>(rank, shape, strides, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (src == nullptr || dst == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    if (src_dtype == dst_dtype) {
        int bytes = dtype_size(src_dtype);
        if (bytes == 0) return LLAVA_ERR_INVALID_ARGUMENT;
        return copy_same_dtype(p, src, dst, bytes, st);
    }
    return dispatch_all(src_dtype, [&](auto stag) {
        typedef typename decltype(stag)::type S;
        return dispatch_all(dst_dtype, [&](auto dtag) {
            typedef typename decltype(dtag)::type D;
            if constexpr (std::is_same<S, D>::value) {
                return LLAVA_ERR_INVALID_ARGUMENT;   // unreachable: equal dtypes moved bits above
            } else {
                return launch_copy<S, D>(p, src, dst, st);
            }
        });
    });
}

extern "C" int llava_fill(void* stream, int rank, const int64_t* shape, void* dst, int dtype,
                          const int64_t* strides, double value) {
    entry();
    Plan<1> p;
    const int64_t* st[1] = {strides};
    if (!plan_elementwise<1>(rank, shape, st, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (dst == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_all(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        // the value's bits, converted once on the host, are stored through an integer of T's size
        typedef typename Bits<sizeof(T)>::type U;
        T v = from_double<T>(value);
        FillOp<U> op;
        op.dst = static_cast<U*>(dst);
        memcpy(&op.value, &v, sizeof(U));
        const void* ptrs[1] = {dst};
        const int sizes[1] = {(int)sizeof(U)};
        return run_elementwise(p, op, ptrs, sizes, as_stream(stream));
    });
}
