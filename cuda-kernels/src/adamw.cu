/*
 * adamw.cu: llava_adamw, one AdamW step over n contiguous elements (F32 param and state; grad
 * F32/BF16/F16; optional BF16/F16/F32 copy of the updated param).
 *
 * The order and precision of torch.optim.AdamW's single-tensor path, exactly as CpuFused.adamw:
 * the scalars are computed on the host in double and rounded to F32 once
 * (decay = 1 - lr*wd, beta1, beta2, 1 - beta1, 1 - beta2, step_size = lr / (1 - beta1^step),
 * sqrt(1 - beta2^step), eps); per element, in F32 with every operation rounded separately (the
 * _rn intrinsics keep the compiler from contracting into FMAs, which the CPU does not do):
 *   p = p * decay (if wd != 0); m = m*b1 + (1-b1)*g; v = v*b2 + ((1-b2)*g)*g;
 *   denom = sqrt(v) / sqrt(bc2) + eps; p = p + (-step_size) * (m / denom).
 * So the CUDA result equals the CPU's bit for bit. 16-byte vectorised when every pointer is
 * aligned.
 */
#include "common.cuh"

namespace llava_k {
namespace {

struct AdamScalars {
    float decay, b1, b2, omb1, omb2, step_size, bc2_sqrt, eps;
    bool decay_on;
};

/* C = void: no copy_out. */
template <typename G, typename C> struct AdamOp {
    static constexpr int NOPS = 5;
    static constexpr int VEC = 4;   // 4 floats = 16 bytes for param and state
    float* param;
    float* m;
    float* v;
    const G* grad;
    C* copy;
    AdamScalars s;

    __device__ __forceinline__ void step(float& p, float& mi, float& vi, float g) const {
        if (s.decay_on) p = __fmul_rn(p, s.decay);
        mi = __fadd_rn(__fmul_rn(mi, s.b1), __fmul_rn(s.omb1, g));
        vi = __fadd_rn(__fmul_rn(vi, s.b2), __fmul_rn(__fmul_rn(s.omb2, g), g));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
        p = __fadd_rn(p, __fmul_rn(-s.step_size, __fdiv_rn(mi, denom)));
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<float, V> p = load_vec<float, V>(param, i), mv = load_vec<float, V>(m, i), vv = load_vec<float, V>(v, i);
        Vec<G, V> g = load_vec<G, V>(grad, i);
#pragma unroll
        for (int j = 0; j < V; j++) step(p.v[j], mv.v[j], vv.v[j], to_float(g.v[j]));
        store_vec<float, V>(param, i, p);
        store_vec<float, V>(m, i, mv);
        store_vec<float, V>(v, i, vv);
        if constexpr (!std::is_same<C, void>::value) {
            Vec<C, V> c;
#pragma unroll
            for (int j = 0; j < V; j++) c.v[j] = from_float<C>(p.v[j]);
            store_vec<C, V>(copy, i, c);
        }
    }
};

template <typename C> constexpr int copy_bytes() {
    if constexpr (std::is_same<C, void>::value) return 4;
    else return (int)sizeof(C);
}

template <typename G, typename C>
int launch_adamw(int64_t n, float* param, const void* grad, float* m, float* v, void* copy, const AdamScalars& s,
                 cudaStream_t st) {
    AdamOp<G, C> f;
    f.param = param;
    f.m = m;
    f.v = v;
    f.grad = static_cast<const G*>(grad);
    f.copy = static_cast<C*>(copy);
    f.s = s;
    // without a copy, param stands in for it in the alignment check
    const void* ptrs[5] = {param, m, v, grad, copy != nullptr ? copy : param};
    const int sizes[5] = {4, 4, 4, (int)sizeof(G), copy_bytes<C>()};
    return run_contiguous(n, f, ptrs, sizes, st);
}

template <typename G>
int adamw_copy_dispatch(int64_t n, float* param, const void* grad, float* m, float* v, void* copy, int copy_dtype,
                        const AdamScalars& s, cudaStream_t st) {
    if (copy == nullptr) return launch_adamw<G, void>(n, param, grad, m, v, copy, s, st);
    switch (copy_dtype) {
        case LLAVA_DTYPE_F32: return launch_adamw<G, float>(n, param, grad, m, v, copy, s, st);
        case LLAVA_DTYPE_BF16: return launch_adamw<G, bf16>(n, param, grad, m, v, copy, s, st);
        case LLAVA_DTYPE_F16: return launch_adamw<G, f16>(n, param, grad, m, v, copy, s, st);
        default: return LLAVA_ERR_UNSUPPORTED;
    }
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_adamw(void* stream, int64_t n, float* param, const void* grad, int grad_dtype, float* exp_avg,
                           float* exp_avg_sq, double lr, double beta1, double beta2, double eps, double weight_decay,
                           int64_t step, void* copy_out, int copy_dtype) {
    entry();
    if (n < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (n == 0) return 0;
    if (param == nullptr || grad == nullptr || exp_avg == nullptr || exp_avg_sq == nullptr) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    AdamScalars s;
    s.decay_on = weight_decay != 0;
    s.decay = (float)(1 - lr * weight_decay);
    s.b1 = (float)beta1;
    s.b2 = (float)beta2;
    s.omb1 = (float)(1 - beta1);
    s.omb2 = (float)(1 - beta2);
    const double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
    s.step_size = (float)(lr / bc1);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.eps = (float)eps;
    cudaStream_t st = as_stream(stream);
    switch (grad_dtype) {
        case LLAVA_DTYPE_F32: return adamw_copy_dispatch<float>(n, param, grad, exp_avg, exp_avg_sq, copy_out, copy_dtype, s, st);
        case LLAVA_DTYPE_BF16: return adamw_copy_dispatch<bf16>(n, param, grad, exp_avg, exp_avg_sq, copy_out, copy_dtype, s, st);
        case LLAVA_DTYPE_F16: return adamw_copy_dispatch<f16>(n, param, grad, exp_avg, exp_avg_sq, copy_out, copy_dtype, s, st);
        default: return LLAVA_ERR_UNSUPPORTED;
    }
}
