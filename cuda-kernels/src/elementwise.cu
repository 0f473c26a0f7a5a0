/*
 * elementwise.cu: llava_unary, llava_unary_backward, llava_binary, llava_where.
 *
 * Numerics follow the CPU backend (cpu/MathFns.java, CpuBackend.binaryOp), computed in F32 for
 * F32/BF16/F16 and in F64 for F64 (the CPU computes in double, so F32 results agree to a few
 * ulp, not bit for bit, for the transcendental ops; formulas that cancel in F32, such as
 * 1 + erf(z) in GELU for negative x, use equivalent forms that do not: erfc(-z), sigmoids).
 * Exceptions chosen to match the CPU exactly:
 *  - AFFINE: F32 computes x * (float)a + (float)b in F32 without FMA (the CPU's F32 fast path);
 *    the other dtypes compute x * a + b in double;
 *  - CLAMP compares in double against the double bounds (NaN bound = unbounded);
 *  - I32/U8/BOOL binary ops compute in double like the CPU (exact for these types), I64 ones in
 *    int64 (exact; the CPU's double math loses precision beyond 2^53): ADD/SUB/MUL wrap, DIV is
 *    floor division with the CPU's results for y = 0 (x > 0: MAX, x < 0: MIN, 0: 0);
 *  - I32 unary ops compute in double (as the CPU), I64 NEG/ABS/SIGN/SQUARE in int64 (wrapping),
 *    I64 AFFINE/CLAMP in double.
 * The op code is a run-time switch inside the kernel (uniform across the grid, so no divergence);
 * one kernel per dtype keeps the instantiation count small.
 */
#include "common.cuh"

namespace llava_k {
namespace {

constexpr double INV_SQRT2 = 0.7071067811865476;
constexpr double INV_SQRT_2PI = 0.3989422804014327;
constexpr double SQRT_2_OVER_PI = 0.7978845608028654;

// ---- float math in the compute type (float or double) -----------------------------------------

__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double m_erfc(double x) { return erfc(x); }
__device__ __forceinline__ float m_sin(float x) { return sinf(x); }
__device__ __forceinline__ double m_sin(double x) { return sin(x); }
__device__ __forceinline__ float m_cos(float x) { return cosf(x); }
__device__ __forceinline__ double m_cos(double x) { return cos(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }

template <typename A> __device__ __forceinline__ A m_sigmoid(A x) { return A(1) / (A(1) + m_exp(-x)); }

/* op(x; a, b) for the float ops except AFFINE and CLAMP (handled by the caller). */
template <typename A> __device__ __forceinline__ A unary_float(int op, A x, double a) {
    switch (op) {
        case LLAVA_UNARY_NEG: return -x;
        case LLAVA_UNARY_EXP: return m_exp(x);
        case LLAVA_UNARY_LOG: return m_log(x);
        case LLAVA_UNARY_SQRT: return m_sqrt(x);
        case LLAVA_UNARY_RSQRT: return A(1) / m_sqrt(x);
        case LLAVA_UNARY_ABS: return m_abs(x);
        case LLAVA_UNARY_TANH: return m_tanh(x);
        case LLAVA_UNARY_SIGMOID: return m_sigmoid(x);
        case LLAVA_UNARY_RELU: return x > A(0) ? x : (x != x ? x : A(0));
        case LLAVA_UNARY_SILU: return x * m_sigmoid(x);
        // 1 + erf(z) = erfc(-z) and (1 + tanh(u)) / 2 = sigmoid(2u): the same functions as the
        // CPU's, without the cancellation 1 + erf/tanh suffers in F32 for negative x
        case LLAVA_UNARY_GELU: return A(0.5) * x * m_erfc(-x * A(INV_SQRT2));
        case LLAVA_UNARY_GELU_TANH:
            return x * m_sigmoid(A(2 * SQRT_2_OVER_PI) * (x + A(0.044715) * x * x * x));
        case LLAVA_UNARY_QUICK_GELU: return x * m_sigmoid(A(1.702) * x);
        case LLAVA_UNARY_SIN: return m_sin(x);
        case LLAVA_UNARY_COS: return m_cos(x);
        case LLAVA_UNARY_RECIPROCAL: return A(1) / x;
        case LLAVA_UNARY_SQUARE: return x * x;
        case LLAVA_UNARY_SIGN: return x > A(0) ? A(1) : x < A(0) ? A(-1) : (x != x ? x : A(0));
        case LLAVA_UNARY_POW_SCALAR:
            return a == 2 ? x * x : a == 1 ? x : a == 0.5 ? m_sqrt(x) : m_pow(x, A(a));
        default: return x;   // not reached: op codes are checked on the host
    }
}

/* CLAMP as the CPU: compare in double against the double bounds; a NaN bound is no bound. */
__device__ __forceinline__ double clamp_d(double x, double lo, double hi) {
    double r = x;
    if (lo == lo && r < lo) r = lo;
    if (hi == hi && r > hi) r = hi;
    return r;
}

template <typename T> __device__ __forceinline__ T unary_value(int op, T x, double a, double b) {
    if constexpr (std::is_same<T, float>::value) {
        if (op == LLAVA_UNARY_AFFINE) return __fadd_rn(__fmul_rn(x, (float)a), (float)b);
    }
    if constexpr (is_float_type<T>::value) {
        if (op == LLAVA_UNARY_AFFINE) return from_double<T>(__dadd_rn(__dmul_rn(to_double(x), a), b));
        if (op == LLAVA_UNARY_CLAMP) return from_double<T>(clamp_d(to_double(x), a, b));
        return store_acc<T>(unary_float<acc_t<T>>(op, load_acc(x), a));
    } else if constexpr (std::is_same<T, int64_t>::value) {
        const uint64_t u = (uint64_t)x;
        switch (op) {
            case LLAVA_UNARY_NEG: return (int64_t)(0 - u);
            case LLAVA_UNARY_ABS: return x < 0 ? (int64_t)(0 - u) : x;
            case LLAVA_UNARY_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
            case LLAVA_UNARY_SQUARE: return (int64_t)(u * u);
            case LLAVA_UNARY_AFFINE: return java_d2l(__dadd_rn(__dmul_rn((double)x, a), b));
            default: return java_d2l(clamp_d((double)x, a, b));   // CLAMP
        }
    } else {   // int32_t: double math, as the CPU (exact)
        double d = (double)x, r;
        switch (op) {
            case LLAVA_UNARY_NEG: r = -d; break;
            case LLAVA_UNARY_ABS: r = fabs(d); break;
            case LLAVA_UNARY_SIGN: r = d > 0 ? 1 : d < 0 ? -1 : 0; break;
            case LLAVA_UNARY_SQUARE: r = d * d; break;
            case LLAVA_UNARY_AFFINE: r = __dadd_rn(__dmul_rn(d, a), b); break;
            default: r = clamp_d(d, a, b); break;
        }
        return java_d2i(r);
    }
}

template <typename T> struct UnaryOpF {
    static constexpr int NOPS = 2;
    static constexpr int VEC = vec_width((int)sizeof(T));
    T* out;
    const T* x;
    int op;
    double a, b;
    template <typename I> __device__ __forceinline__ void apply(const I (&off)[2]) const {
        out[off[0]] = unary_value<T>(op, x[off[1]], a, b);
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> v = load_vec<T, V>(x, i);
#pragma unroll
        for (int j = 0; j < V; j++) v.v[j] = unary_value<T>(op, v.v[j], a, b);
        store_vec<T, V>(out, i, v);
    }
};

// ---- fused unary backward ---------------------------------------------------------------------

/* MathFns.derivative, rewritten without F32 cancellation: 1 - s = sigmoid(-x),
 * 1 - tanh^2 x = 4e / (1 + e)^2 with e = exp(-2|x|), 1 + erf(z) = erfc(-z), (1 + tanh u) / 2 =
 * sigmoid(2u) and (1 - tanh^2 u) / 4 = sigmoid(2u) sigmoid(-2u). */
template <typename A> __device__ __forceinline__ A unary_derivative(int op, A x) {
    switch (op) {
        case LLAVA_UNARY_TANH: {
            const A e = m_exp(A(-2) * m_abs(x)), d = A(1) + e;
            return A(4) * e / (d * d);
        }
        case LLAVA_UNARY_SIGMOID: return m_sigmoid(x) * m_sigmoid(-x);
        case LLAVA_UNARY_RELU: return x > A(0) ? A(1) : A(0);
        case LLAVA_UNARY_SILU: { A s = m_sigmoid(x); return s * (A(1) + x * m_sigmoid(-x)); }
        case LLAVA_UNARY_GELU:
            return A(0.5) * m_erfc(-x * A(INV_SQRT2)) + x * A(INV_SQRT_2PI) * m_exp(A(-0.5) * x * x);
        case LLAVA_UNARY_GELU_TANH: {
            const A u2 = A(2 * SQRT_2_OVER_PI) * (x + A(0.044715) * x * x * x);
            const A s = m_sigmoid(u2), sn = m_sigmoid(-u2);
            const A du = A(SQRT_2_OVER_PI) * (A(1) + A(3 * 0.044715) * x * x);
            return s + A(2) * x * s * sn * du;
        }
        case LLAVA_UNARY_QUICK_GELU: {
            const A s = m_sigmoid(A(1.702) * x), sn = m_sigmoid(A(-1.702) * x);
            return s + A(1.702) * x * s * sn;
        }
        default: return A(0);   // not reached
    }
}

template <typename T> struct UnaryBackwardOp {
    static constexpr int NOPS = 3;
    static constexpr int VEC = vec_width((int)sizeof(T));
    T* gx;
    const T* x;
    const T* gy;
    int op;
    __device__ __forceinline__ T one(T xv, T gv) const {
        typedef acc_t<T> A;
        return store_acc<T>(load_acc(gv) * unary_derivative<A>(op, load_acc(xv)));
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> xv = load_vec<T, V>(x, i), gv = load_vec<T, V>(gy, i), r;
#pragma unroll
        for (int j = 0; j < V; j++) r.v[j] = one(xv.v[j], gv.v[j]);
        store_vec<T, V>(gx, i, r);
    }
};

// ---- binary -----------------------------------------------------------------------------------

/* Float types in their compute type A; comparisons give 0/1. */
template <typename A> __device__ __forceinline__ A binary_float(int op, A x, A y) {
    switch (op) {
        case LLAVA_BINARY_ADD: return x + y;
        case LLAVA_BINARY_SUB: return x - y;
        case LLAVA_BINARY_MUL: return x * y;
        case LLAVA_BINARY_DIV: return x / y;
        case LLAVA_BINARY_POW: return m_pow(x, y);
        case LLAVA_BINARY_MAX: return (x != x || y != y) ? x + y : (x > y ? x : y);   // NaN if either is
        case LLAVA_BINARY_MIN: return (x != x || y != y) ? x + y : (x < y ? x : y);
        case LLAVA_BINARY_EQ: return x == y ? A(1) : A(0);
        case LLAVA_BINARY_NE: return x != y ? A(1) : A(0);
        case LLAVA_BINARY_LT: return x < y ? A(1) : A(0);
        case LLAVA_BINARY_LE: return x <= y ? A(1) : A(0);
        case LLAVA_BINARY_GT: return x > y ? A(1) : A(0);
        case LLAVA_BINARY_GE: return x >= y ? A(1) : A(0);
        case LLAVA_BINARY_LOGICAL_AND: return (x != A(0) && y != A(0)) ? A(1) : A(0);
        default: return (x != A(0) || y != A(0)) ? A(1) : A(0);   // LOGICAL_OR
    }
}

/* Floor division of int64 with the CPU's results where double math would overflow or divide by 0. */
__device__ __forceinline__ int64_t floor_div_i64(int64_t x, int64_t y) {
    if (y == 0) return x > 0 ? INT64_MAX : x < 0 ? INT64_MIN : 0;
    if (y == -1) return x == INT64_MIN ? INT64_MAX : -x;
    int64_t q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) q -= 1;
    return q;
}

__device__ __forceinline__ int64_t binary_i64(int op, int64_t x, int64_t y) {
    const uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
        case LLAVA_BINARY_ADD: return (int64_t)(ux + uy);
        case LLAVA_BINARY_SUB: return (int64_t)(ux - uy);
        case LLAVA_BINARY_MUL: return (int64_t)(ux * uy);
        case LLAVA_BINARY_DIV: return floor_div_i64(x, y);
        case LLAVA_BINARY_POW: return java_d2l(pow((double)x, (double)y));
        case LLAVA_BINARY_MAX: return x > y ? x : y;
        case LLAVA_BINARY_MIN: return x < y ? x : y;
        case LLAVA_BINARY_EQ: return x == y;
        case LLAVA_BINARY_NE: return x != y;
        case LLAVA_BINARY_LT: return x < y;
        case LLAVA_BINARY_LE: return x <= y;
        case LLAVA_BINARY_GT: return x > y;
        case LLAVA_BINARY_GE: return x >= y;
        case LLAVA_BINARY_LOGICAL_AND: return x != 0 && y != 0;
        default: return x != 0 || y != 0;
    }
}

/* I32, U8 and BOOL: the CPU's double math (CpuBackend.binaryOp with integral = true). */
__device__ __forceinline__ double binary_small_int(int op, double x, double y) {
    switch (op) {
        case LLAVA_BINARY_ADD: return x + y;
        case LLAVA_BINARY_SUB: return x - y;
        case LLAVA_BINARY_MUL: return x * y;
        case LLAVA_BINARY_DIV: return floor(x / y);
        case LLAVA_BINARY_POW: return pow(x, y);
        case LLAVA_BINARY_MAX: return x > y ? x : y;
        case LLAVA_BINARY_MIN: return x < y ? x : y;
        default: return binary_float<double>(op, x, y);   // comparisons and logical ops
    }
}

template <typename T, typename O> __device__ __forceinline__ O binary_value(int op, T x, T y) {
    if constexpr (is_float_type<T>::value) {
        acc_t<T> r = binary_float<acc_t<T>>(op, load_acc(x), load_acc(y));
        if constexpr (std::is_same<O, boolean_t>::value) {
            boolean_t bo;
            bo.v = r != acc_t<T>(0) ? 1 : 0;
            return bo;
        } else {
            return store_acc<O>(r);
        }
    } else if constexpr (std::is_same<T, int64_t>::value) {
        return from_i64<O>(binary_i64(op, x, y));
    } else {
        return from_double<O>(binary_small_int(op, to_double(x), to_double(y)));
    }
}

template <typename T, typename O> struct BinaryOpF {
    static constexpr int NOPS = 3;
    static constexpr int VEC = vec_width(sizeof(T) > sizeof(O) ? (int)sizeof(T) : (int)sizeof(O));
    O* out;
    const T* a;
    const T* b;
    int op;
    template <typename I> __device__ __forceinline__ void apply(const I (&off)[3]) const {
        out[off[0]] = binary_value<T, O>(op, a[off[1]], b[off[2]]);
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<T, V> x = load_vec<T, V>(a, i), y = load_vec<T, V>(b, i);
        Vec<O, V> r;
#pragma unroll
        for (int j = 0; j < V; j++) r.v[j] = binary_value<T, O>(op, x.v[j], y.v[j]);
        store_vec<O, V>(out, i, r);
    }
};

// ---- where ------------------------------------------------------------------------------------

/* out = cond ? a : b on the bits of the element (any dtype of this size). */
template <typename U> struct WhereOp {
    static constexpr int NOPS = 4;
    static constexpr int VEC = vec_width((int)sizeof(U));
    U* out;
    const uint8_t* cond;
    const U* a;
    const U* b;
    template <typename I> __device__ __forceinline__ void apply(const I (&off)[4]) const {
        out[off[0]] = cond[off[1]] != 0 ? a[off[2]] : b[off[3]];
    }
    template <int V> __device__ __forceinline__ void vec(int64_t i) const {
        Vec<uint8_t, V> c = load_vec<uint8_t, V>(cond, i);
        Vec<U, V> x = load_vec<U, V>(a, i), y = load_vec<U, V>(b, i), r;
#pragma unroll
        for (int j = 0; j < V; j++) r.v[j] = c.v[j] != 0 ? x.v[j] : y.v[j];
        store_vec<U, V>(out, i, r);
    }
};

template <typename U>
int launch_where(const Plan<4>& p, const uint8_t* cond, const void* a, const void* b, void* out, cudaStream_t st) {
    WhereOp<U> op;
    op.out = static_cast<U*>(out);
    op.cond = cond;
    op.a = static_cast<const U*>(a);
    op.b = static_cast<const U*>(b);
    const void* ptrs[4] = {out, cond, a, b};
    const int sizes[4] = {(int)sizeof(U), 1, (int)sizeof(U), (int)sizeof(U)};
    return run_elementwise(p, op, ptrs, sizes, st);
}

bool unary_int_op(int op) {
    return op == LLAVA_UNARY_NEG || op == LLAVA_UNARY_ABS || op == LLAVA_UNARY_SIGN || op == LLAVA_UNARY_SQUARE ||
           op == LLAVA_UNARY_AFFINE || op == LLAVA_UNARY_CLAMP;
}

bool has_fused_backward(int op) {
    return op == LLAVA_UNARY_TANH || op == LLAVA_UNARY_SIGMOID || op == LLAVA_UNARY_RELU || op == LLAVA_UNARY_SILU ||
           op == LLAVA_UNARY_GELU || op == LLAVA_UNARY_GELU_TANH || op == LLAVA_UNARY_QUICK_GELU;
}

}  // namespace
}  // namespace llava_k

using namespace llava_k;

extern "C" int llava_unary(void* stream, int op, int rank, const int64_t* shape, const void* x,
                           const int64_t* x_strides, void* out, const int64_t* out_strides, int dtype,
                           double a, double b) {
    entry();
    if (op < LLAVA_UNARY_NEG || op > LLAVA_UNARY_CLAMP) return LLAVA_ERR_INVALID_ARGUMENT;
    Plan<2> p;
    const int64_t* strides[2] = {out_strides, x_strides};
    if (!plan_elementwise<2>(rank, shape, strides, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (x == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    auto launch = [&](auto tag) {
        typedef typename decltype(tag)::type T;
        UnaryOpF<T> f;
        f.out = static_cast<T*>(out);
        f.x = static_cast<const T*>(x);
        f.op = op;
        f.a = a;
        f.b = b;
        const void* ptrs[2] = {out, x};
        const int sizes[2] = {(int)sizeof(T), (int)sizeof(T)};
        return run_elementwise(p, f, ptrs, sizes, as_stream(stream));
    };
    if (dtype == LLAVA_DTYPE_I64 || dtype == LLAVA_DTYPE_I32) {
        if (!unary_int_op(op)) return LLAVA_ERR_UNSUPPORTED;
        return dtype == LLAVA_DTYPE_I64 ? launch(DTypeTag<int64_t>{}) : launch(DTypeTag<int32_t>{});
    }
    return dispatch_float(dtype, launch);
}

extern "C" int llava_unary_backward(void* stream, int op, int64_t n, const void* x, const void* gy, void* gx,
                                    int dtype) {
    entry();
    if (!has_fused_backward(op) || n < 0) return LLAVA_ERR_INVALID_ARGUMENT;
    if (n == 0) return 0;
    if (x == nullptr || gy == nullptr || gx == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_float(dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        UnaryBackwardOp<T> f;
        f.gx = static_cast<T*>(gx);
        f.x = static_cast<const T*>(x);
        f.gy = static_cast<const T*>(gy);
        f.op = op;
        const void* ptrs[3] = {gx, x, gy};
        const int sizes[3] = {(int)sizeof(T), (int)sizeof(T), (int)sizeof(T)};
        return run_contiguous(n, f, ptrs, sizes, as_stream(stream));
    });
}

extern "C" int llava_binary(void* stream, int op, int rank, const int64_t* shape, const void* a,
                            const int64_t* a_strides, const void* b, const int64_t* b_strides, void* out,
                            const int64_t* out_strides, int in_dtype, int out_dtype) {
    entry();
    if (op < LLAVA_BINARY_ADD || op > LLAVA_BINARY_LOGICAL_OR) return LLAVA_ERR_INVALID_ARGUMENT;
    if (out_dtype != in_dtype && out_dtype != LLAVA_DTYPE_BOOL) return LLAVA_ERR_INVALID_ARGUMENT;
    Plan<3> p;
    const int64_t* strides[3] = {out_strides, a_strides, b_strides};
    if (!plan_elementwise<3>(rank, shape, strides, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (a == nullptr || b == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    return dispatch_all(in_dtype, [&](auto tag) {
        typedef typename decltype(tag)::type T;
        auto launch = [&](auto otag) {
            typedef typename decltype(otag)::type O;
            BinaryOpF<T, O> f;
            f.out = static_cast<O*>(out);
            f.a = static_cast<const T*>(a);
            f.b = static_cast<const T*>(b);
            f.op = op;
            const void* ptrs[3] = {out, a, b};
            const int sizes[3] = {(int)sizeof(O), (int)sizeof(T), (int)sizeof(T)};
            return run_elementwise(p, f, ptrs, sizes, as_stream(stream));
        };
        if constexpr (std::is_same<T, boolean_t>::value) {
            return launch(DTypeTag<boolean_t>{});
        } else {
            return out_dtype == LLAVA_DTYPE_BOOL ? launch(DTypeTag<boolean_t>{}) : launch(DTypeTag<T>{});
        }
    });
}

extern "C" int llava_where(void* stream, int rank, const int64_t* shape, const uint8_t* cond,
                           const int64_t* cond_strides, const void* a, const int64_t* a_strides, const void* b,
                           const int64_t* b_strides, void* out, const int64_t* out_strides, int dtype) {
    entry();
    Plan<4> p;
    const int64_t* strides[4] = {out_strides, cond_strides, a_strides, b_strides};
    if (!plan_elementwise<4>(rank, shape, strides, p)) return LLAVA_ERR_INVALID_ARGUMENT;
    if (p.numel == 0) return 0;
    if (cond == nullptr || a == nullptr || b == nullptr || out == nullptr) return LLAVA_ERR_INVALID_ARGUMENT;
    cudaStream_t st = as_stream(stream);
    switch (dtype_size(dtype)) {
        case 1: return launch_where<uint8_t>(p, cond, a, b, out, st);
        case 2: return launch_where<uint16_t>(p, cond, a, b, out, st);
        case 4: return launch_where<uint32_t>(p, cond, a, b, out, st);
        case 8: return launch_where<uint64_t>(p, cond, a, b, out, st);
        default: return LLAVA_ERR_INVALID_ARGUMENT;
    }
}
