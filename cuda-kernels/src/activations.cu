/*
 * activations.cu: llava_silu_mul_forward / _backward, the SwiGLU of LLaMA's MLP, over n
 * contiguous elements (16-byte vectorised when aligned, see run_contiguous).
 *
 * F32 math for F32/BF16/F16 (F64 for F64): silu(g) = g * sigmoid(g), out = silu(g) * up
 * (the CPU's F32 order: the activation is rounded to F32 before the product).
 * Backward (sg = sigmoid(g)): g_up = gy * g * sg, g_gate = gy * up * sg * (1 + g * (1 - sg)), with
 * 1 - sg evaluated as sigmoid(-g).
 */
#include "common.cuh"

namespace llava_k {
namespace {

__device__ __forceinline__ float sigmoid_a(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ double sigmoid_a(double x) { return 1.0 / (1.0 + exp(-x)); }

template <typename T> struct SiluMulOp {
    static constexpr int NOPS = 3;
    static constexpr int VEC = vec_width((int)sizeof(T));
    T* out;
    const T* gate;
    const T* up;
    __device__ __forceinline__ T one(T g, T u) const {
        typedef acc_t<T> A;
        const A gv = load_acc(g);
        const A silu = gv * sigmoid_a(gv);
        return store_acc<T>(silu * load_acc(u));
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> g = load_vec<T, V>(gate, i), u = load_vec<T, V>(up, i), r;
#pragma unroll
        for (int j = 0; j < V; j++) r.v[j] = one(g.v[j], u.v[j]);
        store_vec<T, V>(out, i, r);
    }
};

template <typename T> struct SiluMulBackwardOp {
    static constexpr int NOPS = 5;
    static constexpr int VEC = vec_width((int)sizeof(T));
    T* g_gate;
    T* g_up;
    const T* gate;
    const T* up;
    const T* gy;
    __device__ __forceinline__ void one(T g, T u, T y, T& dg, T& du) const {
        typedef acc_t<T> A;
        const A gv = load_acc(g), uv = load_acc(u), yv = load_acc(y);
        const A sg = sigmoid_a(gv), sgn = sigmoid_a(-gv);   // sgn = 1 - sg without cancellation
        du = store_acc<T>(yv * gv * sg);
        dg = store_acc<T>(yv * uv * sg * (A(1) + gv * sgn));
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> g = load_vec<T, V>(gate, i), u = load_vec<T, V>(up, i), y = load_vec<T, V>(gy, i), dg, du;
#pragma unroll
        for (int j = 0; j < V; j++) one(g.v[j], u.v[j], y.v[j], dg.v[j], du.v[j]);
        store_vec<T, V>(g_gate, i, dg);
        store_vec<T, V>(g_up, i, du);
    }
};

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_silu_mul_forward(void* stream, int64_t n, const void* gate, const void* up, void* out, int dtype) {
    entry();
    if (n < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (n == 0) return 0;
    if (gate == nullptr || up == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        SiluMulOp<T> f;
        f.out = static_cast<T*>(out);
        f.gate = static_cast<const T*>(gate);
        f.up = static_cast<const T*>(up);
        const void* ptrs[3] = {out, gate, up};
        const int sizes[3] = {(int)sizeof(T), (int)sizeof(T), (int)sizeof(T)};
        return run_contiguous(n, f, ptrs, sizes, as_stream(stream));
    });
}

extern "C" int llava_silu_mul_backward(void* stream, int64_t n, const void* gate, const void* up, const void* gy,
                                       void* g_gate, void* g_up, int dtype) {
    entry();
    if (n < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (n == 0) return 0;
    if (gate == nullptr || up == nullptr || gy == nullptr || g_gate == nullptr || g_up == nullptr) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        SiluMulBackwardOp<T> f;
        f.g_gate = static_cast<T*>(g_gate);
        f.g_up = static_cast<T*>(g_up);
        f.gate = static_cast<const T*>(gate);
        f.up = static_cast<const T*>(up);
        f.gy = static_cast<const T*>(gy);
        const void* ptrs[5] = {g_gate, g_up, gate, up, gy};
        const int sizes[5] = {(int)sizeof(T), (int)sizeof(T), (int)sizeof(T), (int)sizeof(T), (int)sizeof(T)};
        return run_contiguous(n, f, ptrs, sizes, as_stream(stream));
    });
}
