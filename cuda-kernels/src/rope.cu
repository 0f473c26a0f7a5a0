/*
 * rope.cu: llava_rope, rotary position embedding in the rotate-half layout on x [B, T, H, D].
 *
 * One thread per (b, t, i < D/2): it computes the angle once and rotates the pair (i, i + D/2) of
 * every head h, so cos/sin are shared by the H heads and consecutive threads touch consecutive
 * elements of each head row (coalesced). Numerics are the CPU's (CpuFused.rope) bit for bit up to
 * the cos/sin themselves:
 *  - F32/BF16/F16: angle = (float) pos * inv_freq[i] in F32; cos and sin of that F32 angle are
 *    evaluated in double and rounded to F32 (the CPU's (float) Math.cos(angle)); then
 *    out_i = x_i*c - x_{i+D/2}*s and out_{i+D/2} = x_{i+D/2}*c + x_i*s as separately rounded F32
 *    products and sums (no FMA contraction, like the CPU);
 *  - F64: angle = (double) pos * inv_freq[i], double products, no FMA.
 * inverse = 1 negates sin (the backward). out may alias x (in place): every element is read and
 * written by the same thread.
 */
#include "common.cuh"

namespace llava_k {
namespace {

struct RopeGeometry {
    int64_t B, T, H, D, half;
    int64_t xs[4], os[4];
};

template <typename T>
__global__ void __launch_bounds__(256)
rope_kernel(RopeGeometry g, const T* x, const int64_t* positions, const float* inv_freq, bool inverse, T* out) {
    const int64_t n = g.B * g.T * g.half;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = idx % g.half;
        const int64_t bt = idx / g.half;
        const int64_t t = bt % g.T, b = bt / g.T;
        const int64_t pos = positions[bt];
        const int64_t xo = b * g.xs[0] + t * g.xs[1], oo = b * g.os[0] + t * g.os[1];
        if constexpr (std::is_same<T, double>::value) {
            const double ang = (double)pos * (double)inv_freq[i];
            double s, c;
            sincos(ang, &s, &c);
            if (inverse) s = -s;
            for (int64_t h = 0; h < g.H; h++) {
                const T* xp = x + xo + h * g.xs[2];
                T* op = out + oo + h * g.os[2];
                const double x1 = xp[i * g.xs[3]], x2 = xp[(i + g.half) * g.xs[3]];
                op[i * g.os[3]] = __dsub_rn(__dmul_rn(x1, c), __dmul_rn(x2, s));
                op[(i + g.half) * g.os[3]] = __dadd_rn(__dmul_rn(x2, c), __dmul_rn(x1, s));
            }
        } else {
            const float ang = __fmul_rn((float)pos, inv_freq[i]);
            double sd, cd;
            sincos((double)ang, &sd, &cd);
            const float c = (float)cd;
            const float s = inverse ? -(float)sd : (float)sd;
            for (int64_t h = 0; h < g.H; h++) {
                const T* xp = x + xo + h * g.xs[2];
                T* op = out + oo + h * g.os[2];
                const float x1 = to_float(xp[i * g.xs[3]]), x2 = to_float(xp[(i + g.half) * g.xs[3]]);
                op[i * g.os[3]] = from_float<T>(__fadd_rn(__fmul_rn(x1, c), __fmul_rn(-x2, s)));
                op[(i + g.half) * g.os[3]] = from_float<T>(__fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s)));
            }
        }
    }
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_rope(void* stream, int dtype, int64_t B, int64_t T, int64_t H, int64_t D, const void* x,
                          const int64_t* x_strides, const int64_t* positions, const float* inv_freq, int inverse,
                          void* out, const int64_t* out_strides) {
    entry();
    if (B < 0 || T < 0 || H < 0 || D < 0 || D % 2 != 0 || x_strides == nullptr || out_strides == nullptr) {
        return LLAVA_ERR_INVALID_ARGUMENT;
    }
    RopeGeometry g;
    g.B = B;
    g.T = T;
    g.H = H;
    g.D = D;
    g.half = D / 2;
    for (int k = 0; k < 4; k++) {
        if (x_strides[k] < 0 || out_strides[k] < 0) return LLAVA_ERR_INVALID_ARGUMENT;
        g.xs[k] = x_strides[k];
        g.os[k] = out_strides[k];
    }
    const int64_t n = B * T * g.half;
    if (n == 0 || H == 0) return 0;
    if (x == nullptr || out == nullptr || positions == nullptr || inv_freq == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type Tp;
        rope_kernel<Tp><<<grid_for(n, 256), 256, 0, as_stream(stream)>>>(g, static_cast<const Tp*>(x), positions,
                                                                          inv_freq, inverse != 0, static_cast<Tp*>(out));
        return finish();
    });
}
