/*
 * GPU self-test of the kernels in copy/elementwise/reduce/norms/rope/activations/cross_entropy/
 * indexing/adamw.cu, through the public C API only, against host references written from the CPU
 * backend's definitions (core-java cpu/MathFns.java, CpuBackend.java, CpuFused.java) in double.
 * Inputs are random (never zeros), over several shapes with odd tails, strided/broadcast/
 * misaligned layouts (every path: vectorised, strided 32-bit, strided 64-bit, split reductions),
 * every dtype the header lists; outputs are poisoned (0xFF bytes) before each run. Exact ops
 * (copy, where, integer math, index ops, arg-reduce, AdamW) are compared bit for bit; float ops
 * within per-dtype bounds.
 *
 * Without a usable GPU it prints the reason and exits 77 (ctest's "skipped"). With one it prints a
 * line per group and exits 1 on any failure. Build: cmake -DLLAVA_KERNEL_TESTS=ON (target
 * llava_kernels_gpu_test), or
 *   nvcc -std=c++17 -O2 --expt-relaxed-constexpr -Xcompiler=-ffp-contract=off -arch=sm_90 \
 *        -I cuda-kernels/include cuda-kernels/test/gpu_test.cu -L<dir of libllavakernels.so> \
 *        -lllavakernels -o gpu_test
 * Options: --no-big skips the > 2^31-element cases (they need ~5 GB of device memory).
 */
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../src/common.cuh"

using namespace llava_k;

static int g_fail = 0, g_checks = 0;
static std::string g_ctx;

#define EXPECT(cond, ...)                                                            \
    do {                                                                             \
        g_checks++;                                                                  \
        if (!(cond)) {                                                               \
            if (++g_fail <= 60) {                                                    \
                fprintf(stderr, "FAIL [%s] %s:%d: ", g_ctx.c_str(), __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                                        \
                fprintf(stderr, "\n");                                               \
            }                                                                        \
        }                                                                            \
    } while (0)

static std::mt19937_64 rng(20240607);
static double urand(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
static int64_t irand(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

static const int kAllTypes[] = {LLAVA_DTYPE_F64, LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16,
                                LLAVA_DTYPE_I64, LLAVA_DTYPE_I32, LLAVA_DTYPE_U8, LLAVA_DTYPE_BOOL};
static const int kFloatTypes[] = {LLAVA_DTYPE_F64, LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16};
static const char* dname(int dt) {
    static const char* n[] = {"F64", "F32", "BF16", "F16", "I64", "I32", "U8", "BOOL"};
    return dt >= 0 && dt < 8 ? n[dt] : "?";
}
static bool is_float(int dt) { return dt <= LLAVA_DTYPE_F16; }

/* Relative bound of one output rounding in the dtype (a 1-ulp difference at a rounding boundary
 * between the device's F32 result and the double reference); F32 allows for a few ulp of F32 math,
 * F64 for a few ulp of F64 math. Callers scale it for compound computations. */
static double dtype_rtol(int dt) {
    switch (dt) {
        case LLAVA_DTYPE_F64: return 1e-12;
        case LLAVA_DTYPE_F32: return 4e-6;
        case LLAVA_DTYPE_BF16: return 8e-3;
        case LLAVA_DTYPE_F16: return 1e-3;
        default: return 0;
    }
}

static bool close(double got, double want, double rtol, double atol) {
    if (want != want) return got != got;
    if (std::isinf(want)) return got == want;
    return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

#define CU(call)                                                                      \
    do {                                                                              \
        cudaError_t e_ = (call);                                                      \
        if (e_ != cudaSuccess) {                                                      \
            fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

// ---- host tensors -----------------------------------------------------------------------------

/* A strided host tensor of any dtype over a raw byte buffer (span elements). */
struct HostT {
    int dtype = LLAVA_DTYPE_F32;
    std::vector<int64_t> shape, strides;
    int64_t span = 0;
    std::vector<unsigned char> bytes;

    int esize() const { return dtype_size(dtype); }
    int rank() const { return (int)shape.size(); }
    int64_t numel() const {
        int64_t n = 1;
        for (int64_t s : shape) n *= s;
        return n;
    }
    int64_t offset(int64_t linear) const {
        int64_t off = 0;
        for (int d = rank() - 1; d >= 0; d--) {
            off += (linear % shape[d]) * strides[d];
            linear /= shape[d];
        }
        return off;
    }
    double get(int64_t off) const {
        double r = 0;
        dispatch_all(dtype, [&](auto tag) {
            typedef typename decltype(tag)::type T;
            T v;
            memcpy(&v, &bytes[off * sizeof(T)], sizeof(T));
            r = to_double(v);
            return 0;
        });
        return r;
    }
    void set(int64_t off, double v) {
        dispatch_all(dtype, [&](auto tag) {
            typedef typename decltype(tag)::type T;
            T t = from_double<T>(v);
            memcpy(&bytes[off * sizeof(T)], &t, sizeof(T));
            return 0;
        });
    }
    uint64_t bits(int64_t off) const {
        uint64_t b = 0;
        memcpy(&b, &bytes[off * esize()], esize());
        return b;
    }
};

static std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> st(shape.size());
    int64_t s = 1;
    for (int d = (int)shape.size() - 1; d >= 0; d--) {
        st[d] = s;
        s *= std::max<int64_t>(shape[d], 1);
    }
    return st;
}

enum Layout { CONTIG, PERMUTED, SLICED, BROADCAST };

/* A tensor of shape in one of the layouts (BROADCAST only for inputs: stride 0 in random dims). */
static HostT make(int dtype, const std::vector<int64_t>& shape, Layout layout) {
    HostT t;
    t.dtype = dtype;
    t.shape = shape;
    const int r = (int)shape.size();
    std::vector<int> perm(r);
    for (int i = 0; i < r; i++) perm[i] = i;
    if (layout == PERMUTED) std::shuffle(perm.begin(), perm.end(), rng);
    t.strides.assign(r, 0);
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        t.strides[perm[i]] = s;
        s *= std::max<int64_t>(shape[perm[i]], 1) * (layout == SLICED ? 2 : 1);
    }
    if (layout == BROADCAST) {
        for (int d = 0; d < r; d++) if (irand(0, 1) == 0) t.strides[d] = 0;
    }
    t.span = 1;
    for (int d = 0; d < r; d++) t.span += (shape[d] - 1) * t.strides[d];
    if (t.numel() == 0) t.span = 1;
    t.bytes.assign(t.span * t.esize(), 0xFF);
    return t;
}

static HostT contiguous(int dtype, const std::vector<int64_t>& shape) { return make(dtype, shape, CONTIG); }

/* Random values, never 0 for floats: +-[0.1, 2]; integers in [-50, 50] (with zeros), U8 any. */
static void fill_random(HostT& t, double lo = 0.1, double hi = 2.0) {
    for (int64_t i = 0; i < t.span; i++) {
        switch (t.dtype) {
            case LLAVA_DTYPE_I64: case LLAVA_DTYPE_I32: t.set(i, (double)irand(-50, 50)); break;
            case LLAVA_DTYPE_U8: t.set(i, (double)irand(0, 255)); break;
            case LLAVA_DTYPE_BOOL: t.set(i, (double)irand(0, 1)); break;
            default: t.set(i, (irand(0, 1) ? 1 : -1) * urand(lo, hi)); break;
        }
    }
}

/* Device copy of a host tensor, optionally one element past a 16-byte boundary (misaligned). */
struct Dev {
    void* base = nullptr;
    void* p = nullptr;
    size_t bytes = 0;
    Dev() = default;
    explicit Dev(const HostT& t, bool misalign = false) { upload(t, misalign); }
    Dev(size_t n) { alloc(n, false); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    void alloc(size_t n, bool misalign) {
        bytes = n;
        CU(cudaMalloc(&base, n + 64));
        p = static_cast<char*>(base) + (misalign ? 8 : 0);
    }
    void upload(const HostT& t, bool misalign) {
        alloc(t.bytes.size(), misalign);
        CU(cudaMemcpy(p, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice));
    }
    void download(HostT& t) const {
        CU(cudaDeviceSynchronize());
        CU(cudaMemcpy(t.bytes.data(), p, t.bytes.size(), cudaMemcpyDeviceToHost));
    }
    ~Dev() { if (base) cudaFree(base); }
};

/* Whether an 8-byte shift keeps natural alignment (it always breaks the 16-byte alignment of the vector paths). */
static bool misalign_ok(int dtype) { return dtype_size(dtype) < 16 && 8 % dtype_size(dtype) == 0; }

static std::vector<int64_t> random_shape(int max_rank, int64_t max_size) {
    int r = (int)irand(1, max_rank);
    std::vector<int64_t> s(r);
    for (auto& v : s) v = irand(1, max_size);
    return s;
}

static bool same_bits_or_nan(const HostT& a, int64_t ao, const HostT& b, int64_t bo) {
    if (a.bits(ao) == b.bits(bo)) return true;
    if (is_float(a.dtype)) {
        double x = a.get(ao), y = b.get(bo);
        return x != x && y != y;
    }
    return false;
}

// ---- copy / fill ------------------------------------------------------------------------------

static void test_copy() {
    int cases = 0;
    for (int src_dt : kAllTypes) {
        for (int dst_dt : kAllTypes) {
            for (int rep = 0; rep < 4; rep++) {
                g_ctx = std::string("copy ") + dname(src_dt) + "->" + dname(dst_dt);
                std::vector<int64_t> shape = rep == 0 ? std::vector<int64_t>{irand(1, 3000)} : random_shape(4, 9);
                Layout sl = (Layout)irand(0, 3), dl = rep == 0 ? CONTIG : (Layout)irand(0, 2);
                if (rep == 0) sl = CONTIG;
                HostT src = make(src_dt, shape, sl), dst = make(dst_dt, shape, dl);
                fill_random(src, 0.1, 300.0);
                if (is_float(src_dt) && src.span > 3) {   // specials
                    src.set(0, NAN);
                    src.set(1, INFINITY);
                    src.set(2, -1e30);
                }
                bool mis = rep == 1 && misalign_ok(src_dt);
                Dev ds(src, mis), dd(dst, rep == 2 && misalign_ok(dst_dt));
                int rc = llava_copy(nullptr, src.rank(), shape.data(), ds.p, src_dt, src.strides.data(), dd.p, dst_dt,
                                    dst.strides.data());
                EXPECT(rc == 0, "rc %d (%s)", rc, llava_error_string(rc));
                HostT got = dst;
                dd.download(got);
                HostT want = dst;
                for (int64_t i = 0; i < src.numel(); i++) {
                    int64_t so = src.offset(i), doff = dst.offset(i);
                    dispatch_all(src_dt, [&](auto st) {
                        typedef typename decltype(st)::type S;
                        return dispatch_all(dst_dt, [&](auto dtg) {
                            typedef typename decltype(dtg)::type D;
                            S s;
                            memcpy(&s, &src.bytes[so * sizeof(S)], sizeof(S));
                            D d = cast<D>(s);
                            memcpy(&want.bytes[doff * sizeof(D)], &d, sizeof(D));
                            return 0;
                        });
                    });
                    EXPECT(same_bits_or_nan(got, doff, want, doff), "element %lld: %g, want %g", (long long)i,
                           got.get(doff), want.get(doff));
                }
                cases++;
            }
        }
    }
    for (int dt : kAllTypes) {
        g_ctx = std::string("fill ") + dname(dt);
        std::vector<int64_t> shape = random_shape(3, 40);
        HostT t = make(dt, shape, (Layout)irand(0, 2));
        Dev d(t);
        const double v = -3.75;
        int rc = llava_fill(nullptr, t.rank(), shape.data(), d.p, dt, t.strides.data(), v);
        EXPECT(rc == 0, "rc %d", rc);
        HostT got = t;
        d.download(got);
        HostT one = contiguous(dt, {1});
        one.set(0, v);
        for (int64_t i = 0; i < t.numel(); i++) EXPECT(got.bits(t.offset(i)) == one.bits(0), "fill element %lld", (long long)i);
        cases++;
    }
    printf("copy/fill: %d cases\n", cases);
}

// ---- unary / binary / where -------------------------------------------------------------------

static double ref_erf(double x) { return std::erf(x); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/* MathFns.apply */
static double ref_unary(int op, double x, double a, double b) {
    switch (op) {
        case LLAVA_UNARY_NEG: return -x;
        case LLAVA_UNARY_EXP: return std::exp(x);
        case LLAVA_UNARY_LOG: return std::log(x);
        case LLAVA_UNARY_SQRT: return std::sqrt(x);
        case LLAVA_UNARY_RSQRT: return 1.0 / std::sqrt(x);
        case LLAVA_UNARY_ABS: return std::fabs(x);
        case LLAVA_UNARY_TANH: return std::tanh(x);
        case LLAVA_UNARY_SIGMOID: return ref_sigmoid(x);
        case LLAVA_UNARY_RELU: return x > 0 ? x : (x != x ? x : 0.0);
        case LLAVA_UNARY_SILU: return x * ref_sigmoid(x);
        case LLAVA_UNARY_GELU: return 0.5 * x * (1 + ref_erf(x * 0.7071067811865476));
        case LLAVA_UNARY_GELU_TANH: return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        case LLAVA_UNARY_QUICK_GELU: return x * ref_sigmoid(1.702 * x);
        case LLAVA_UNARY_SIN: return std::sin(x);
        case LLAVA_UNARY_COS: return std::cos(x);
        case LLAVA_UNARY_RECIPROCAL: return 1.0 / x;
        case LLAVA_UNARY_SQUARE: return x * x;
        case LLAVA_UNARY_SIGN: return x > 0 ? 1 : x < 0 ? -1 : (x != x ? x : 0);
        case LLAVA_UNARY_AFFINE: return x * a + b;
        case LLAVA_UNARY_POW_SCALAR: return a == 2 ? x * x : a == 1 ? x : a == 0.5 ? std::sqrt(x) : std::pow(x, a);
        default: {
            double r = x;
            if (a == a && r < a) r = a;
            if (b == b && r > b) r = b;
            return r;
        }
    }
}

/* MathFns.derivative */
static double ref_derivative(int op, double x) {
    switch (op) {
        case LLAVA_UNARY_TANH: { double t = std::tanh(x); return 1 - t * t; }
        case LLAVA_UNARY_SIGMOID: { double s = ref_sigmoid(x); return s * (1 - s); }
        case LLAVA_UNARY_RELU: return x > 0 ? 1 : 0;
        case LLAVA_UNARY_SILU: { double s = ref_sigmoid(x); return s * (1 + x * (1 - s)); }
        case LLAVA_UNARY_GELU: return 0.5 * (1 + ref_erf(x * 0.7071067811865476)) + x * 0.3989422804014327 * std::exp(-0.5 * x * x);
        case LLAVA_UNARY_GELU_TANH: {
            double u = 0.7978845608028654 * (x + 0.044715 * x * x * x), t = std::tanh(u);
            double du = 0.7978845608028654 * (1 + 3 * 0.044715 * x * x);
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
        }
        default: { double s = ref_sigmoid(1.702 * x); return s + 1.702 * x * s * (1 - s); }
    }
}

static void test_unary() {
    int cases = 0;
    for (int op = LLAVA_UNARY_NEG; op <= LLAVA_UNARY_CLAMP; op++) {
        std::vector<int> dts(std::begin(kFloatTypes), std::end(kFloatTypes));
        const bool int_ok = op == LLAVA_UNARY_NEG || op == LLAVA_UNARY_ABS || op == LLAVA_UNARY_SIGN ||
                            op == LLAVA_UNARY_SQUARE || op == LLAVA_UNARY_AFFINE || op == LLAVA_UNARY_CLAMP;
        if (int_ok) { dts.push_back(LLAVA_DTYPE_I64); dts.push_back(LLAVA_DTYPE_I32); }
        for (int dt : dts) {
            for (int rep = 0; rep < 3; rep++) {
                g_ctx = "unary op " + std::to_string(op) + " " + dname(dt) + " rep " + std::to_string(rep);
                std::vector<int64_t> shape = rep == 0 ? std::vector<int64_t>{irand(1, 5000)} : random_shape(4, 12);
                HostT x = make(dt, shape, rep == 0 ? CONTIG : (Layout)irand(0, 3));
                HostT out = make(dt, shape, rep == 0 ? CONTIG : (Layout)irand(0, 2));
                fill_random(x, 0.05, 3.0);
                const double a = op == LLAVA_UNARY_CLAMP ? -0.5 : op == LLAVA_UNARY_POW_SCALAR ? (rep == 2 ? 0.5 : 1.7) : 1.25;
                const double b = op == LLAVA_UNARY_CLAMP ? (rep == 1 ? NAN : 0.75) : -0.375;
                Dev dx(x, rep == 0 && misalign_ok(dt)), dout(out);
                int rc = llava_unary(nullptr, op, x.rank(), shape.data(), dx.p, x.strides.data(), dout.p,
                                     out.strides.data(), dt, a, b);
                EXPECT(rc == 0, "rc %d", rc);
                HostT got = out;
                dout.download(got);
                for (int64_t i = 0; i < x.numel(); i++) {
                    double xv = x.get(x.offset(i));
                    double want;
                    if (op == LLAVA_UNARY_AFFINE && dt == LLAVA_DTYPE_F32) {   // the CPU's F32 fast path
                        want = (double)((float)xv * (float)a + (float)b);
                    } else {
                        want = ref_unary(op, xv, a, b);
                    }
                    HostT w1 = contiguous(dt, {1});
                    w1.set(0, want);
                    double g = got.get(out.offset(i));
                    double tol = is_float(dt) ? dtype_rtol(dt) : 0;
                    EXPECT(close(g, w1.get(0), tol * 4, tol * 1e-3), "x %.9g: %.9g, want %.9g", xv, g, w1.get(0));
                }
                cases++;
            }
        }
    }
    // fused backward
    const int bops[] = {LLAVA_UNARY_TANH, LLAVA_UNARY_SIGMOID, LLAVA_UNARY_RELU, LLAVA_UNARY_SILU, LLAVA_UNARY_GELU,
                        LLAVA_UNARY_GELU_TANH, LLAVA_UNARY_QUICK_GELU};
    for (int op : bops) {
        for (int dt : kFloatTypes) {
            g_ctx = "unary_backward op " + std::to_string(op) + " " + dname(dt);
            const int64_t n = irand(1, 7000);
            HostT x = contiguous(dt, {n}), gy = contiguous(dt, {n}), gx = contiguous(dt, {n});
            fill_random(x, 0.05, 4.0);
            fill_random(gy);
            Dev dx(x), dg(gy), dgx(gx, misalign_ok(dt));
            int rc = llava_unary_backward(nullptr, op, n, dx.p, dg.p, dgx.p, dt);
            EXPECT(rc == 0, "rc %d", rc);
            HostT got = gx;
            dgx.download(got);
            for (int64_t i = 0; i < n; i++) {
                double want = gy.get(i) * ref_derivative(op, x.get(i));
                EXPECT(close(got.get(i), want, dtype_rtol(dt) * 4, dtype_rtol(dt) * 1e-2), "x %.9g: %.9g, want %.9g",
                       x.get(i), got.get(i), want);
            }
            cases++;
        }
    }
    printf("unary: %d cases\n", cases);
}

/* CpuBackend.binaryOp */
static double ref_binary(int op, double x, double y, bool integral) {
    switch (op) {
        case LLAVA_BINARY_ADD: return x + y;
        case LLAVA_BINARY_SUB: return x - y;
        case LLAVA_BINARY_MUL: return x * y;
        case LLAVA_BINARY_DIV: return integral ? std::floor(x / y) : x / y;
        case LLAVA_BINARY_POW: return std::pow(x, y);
        case LLAVA_BINARY_MAX: return x != x || y != y ? NAN : std::max(x, y);
        case LLAVA_BINARY_MIN: return x != x || y != y ? NAN : std::min(x, y);
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

static void test_binary_where() {
    int cases = 0;
    for (int op = LLAVA_BINARY_ADD; op <= LLAVA_BINARY_LOGICAL_OR; op++) {
        const bool cmp = op >= LLAVA_BINARY_EQ;
        for (int dt : kAllTypes) {
            if (op == LLAVA_BINARY_POW && !is_float(dt)) continue;   // the front end rejects integer pow
            for (int rep = 0; rep < 3; rep++) {
                g_ctx = "binary op " + std::to_string(op) + " " + dname(dt) + " rep " + std::to_string(rep);
                std::vector<int64_t> shape = rep == 0 ? std::vector<int64_t>{irand(1, 5000)} : random_shape(4, 10);
                const int odt = cmp ? LLAVA_DTYPE_BOOL : dt;
                HostT a = make(dt, shape, rep == 0 ? CONTIG : (Layout)irand(0, 3));
                HostT b = make(dt, shape, rep == 0 ? CONTIG : (Layout)irand(0, 3));
                HostT out = make(odt, shape, rep == 0 ? CONTIG : (Layout)irand(0, 2));
                fill_random(a, 0.25, 3.0);
                fill_random(b, 0.25, 3.0);
                if (cmp && b.span > 2) for (int64_t i = 0; i < std::min<int64_t>(a.span, b.span); i += 3) b.set(i, a.get(i));   // ties
                Dev da(a), db(b), dout(out, rep == 0 && misalign_ok(odt));
                int rc = llava_binary(nullptr, op, a.rank(), shape.data(), da.p, a.strides.data(), db.p, b.strides.data(),
                                      dout.p, out.strides.data(), dt, odt);
                EXPECT(rc == 0, "rc %d", rc);
                HostT got = out;
                dout.download(got);
                for (int64_t i = 0; i < a.numel(); i++) {
                    double x = a.get(a.offset(i)), y = b.get(b.offset(i));
                    HostT w1 = contiguous(odt, {1});
                    w1.set(0, ref_binary(op, x, y, !is_float(dt)));
                    double g = got.get(out.offset(i)), w = w1.get(0);
                    double tol = is_float(odt) ? dtype_rtol(odt) * 4 : 0;
                    EXPECT(close(g, w, tol, tol * 1e-3), "%.9g op %.9g: %.9g, want %.9g", x, y, g, w);
                }
                cases++;
            }
        }
    }
    for (int dt : kAllTypes) {
        g_ctx = std::string("where ") + dname(dt);
        std::vector<int64_t> shape = random_shape(4, 10);
        HostT c = make(LLAVA_DTYPE_BOOL, shape, (Layout)irand(0, 3)), a = make(dt, shape, (Layout)irand(0, 3));
        HostT b = make(dt, shape, (Layout)irand(0, 3)), out = make(dt, shape, (Layout)irand(0, 2));
        fill_random(c);
        fill_random(a);
        fill_random(b);
        Dev dc(c), da(a), db(b), dout(out);
        int rc = llava_where(nullptr, c.rank(), shape.data(), (const uint8_t*)dc.p, c.strides.data(), da.p,
                             a.strides.data(), db.p, b.strides.data(), dout.p, out.strides.data(), dt);
        EXPECT(rc == 0, "rc %d", rc);
        HostT got = out;
        dout.download(got);
        for (int64_t i = 0; i < c.numel(); i++) {
            bool cv = c.get(c.offset(i)) != 0;
            EXPECT(cv ? got.bits(out.offset(i)) == a.bits(a.offset(i)) : got.bits(out.offset(i)) == b.bits(b.offset(i)),
                   "where element %lld", (long long)i);
        }
        cases++;
    }
    printf("binary/where: %d cases\n", cases);
}

// ---- reductions -------------------------------------------------------------------------------

static void check_reduce(int op, int dt, const std::vector<int64_t>& shape, const std::vector<int>& reduced, Layout xl,
                         Layout ol) {
    std::vector<int64_t> oshape = shape;
    for (int d : reduced) oshape[d] = 1;
    HostT x = make(dt, shape, xl), out = make(dt, oshape, ol);
    fill_random(x);
    Dev dx(x), dout(out);
    int rc = llava_reduce(nullptr, op, x.rank(), shape.data(), dx.p, x.strides.data(), dout.p, oshape.data(),
                          out.strides.data(), dt);
    EXPECT(rc == 0, "rc %d", rc);
    HostT got = out;
    dout.download(got);
    const int64_t on = out.numel();
    std::vector<double> acc(on, op == LLAVA_REDUCE_MAX ? -INFINITY : op == LLAVA_REDUCE_MIN ? INFINITY : 0), mag(on, 0);
    int64_t count = x.numel() / std::max<int64_t>(on, 1);
    for (int64_t i = 0; i < x.numel(); i++) {
        int64_t rem = i, o = 0, ostride = 1;
        std::vector<int64_t> c(shape.size());
        for (int d = (int)shape.size() - 1; d >= 0; d--) { c[d] = rem % shape[d]; rem /= shape[d]; }
        for (int d = (int)shape.size() - 1; d >= 0; d--) { o += (oshape[d] == 1 ? 0 : c[d]) * ostride; ostride *= oshape[d]; }
        double v = x.get(x.offset(i));
        if (op == LLAVA_REDUCE_MAX) acc[o] = std::max(acc[o], v);
        else if (op == LLAVA_REDUCE_MIN) acc[o] = std::min(acc[o], v);
        else acc[o] += v;
        mag[o] += std::fabs(v);
    }
    for (int64_t o = 0; o < on; o++) {
        double want = op == LLAVA_REDUCE_MEAN ? acc[o] / count : acc[o];
        double m = op == LLAVA_REDUCE_MEAN ? mag[o] / count : mag[o];
        HostT w1 = contiguous(dt, {1});
        w1.set(0, want);
        double g = got.get(out.offset(o));
        // F32 accumulation: error grows with the sum of magnitudes; integer sums are exact
        double atol = is_float(dt) ? (dt == LLAVA_DTYPE_F64 ? 1e-12 : 4e-6) * m : 0;
        EXPECT(close(g, w1.get(0), dtype_rtol(dt) * 2, atol), "output %lld of %lld: %.9g, want %.9g (K %lld)", (long long)o,
               (long long)on, g, w1.get(0), (long long)count);
    }
}

static void test_reduce() {
    int cases = 0;
    const int dts[] = {LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F64, LLAVA_DTYPE_I64, LLAVA_DTYPE_I32, LLAVA_DTYPE_F16};
    for (int op = LLAVA_REDUCE_SUM; op <= LLAVA_REDUCE_MIN; op++) {
        for (int dt : dts) {
            if (op == LLAVA_REDUCE_MEAN && !is_float(dt)) continue;
            g_ctx = "reduce op " + std::to_string(op) + " " + dname(dt);
            for (int rep = 0; rep < 6; rep++) {
                std::vector<int64_t> shape = random_shape(5, 9);
                std::vector<int> red;
                for (int d = 0; d < (int)shape.size(); d++) if (irand(0, 1)) red.push_back(d);
                check_reduce(op, dt, shape, red, (Layout)irand(0, 2), (Layout)irand(0, 1));
                cases++;
            }
            // the planned paths: rows (block and warp per output), columns, split K, full reductions
            check_reduce(op, dt, {37, 3001}, {1}, CONTIG, CONTIG);
            check_reduce(op, dt, {300, 100}, {1}, CONTIG, CONTIG);
            check_reduce(op, dt, {4099, 129}, {0}, CONTIG, CONTIG);
            check_reduce(op, dt, {3, 200000}, {1}, CONTIG, CONTIG);
            check_reduce(op, dt, {1000001}, {0}, CONTIG, CONTIG);
            check_reduce(op, dt, {20000, 5}, {0}, CONTIG, CONTIG);
            check_reduce(op, dt, {64, 33, 65}, {0, 2}, PERMUTED, CONTIG);
            check_reduce(op, dt, {7, 5, 3}, {}, SLICED, CONTIG);
            cases += 8;
        }
    }
    // arg max/min with ties and NaN
    for (int dt : kAllTypes) {
        for (int is_max = 0; is_max < 2; is_max++) {
            g_ctx = std::string("arg_reduce ") + dname(dt) + (is_max ? " max" : " min");
            for (int rep = 0; rep < 6; rep++) {
                std::vector<int64_t> shape = rep == 0 ? std::vector<int64_t>{3, 5000} : rep == 1 ? std::vector<int64_t>{40, 300} : random_shape(4, 8);
                int dim = rep < 2 ? 1 : (int)irand(0, (int64_t)shape.size() - 1);
                HostT x = make(dt, shape, (Layout)irand(0, 2));
                for (int64_t i = 0; i < x.span; i++) x.set(i, is_float(dt) ? (double)irand(-3, 3) * 0.5 : (double)irand(0, 3));
                if (is_float(dt) && rep == 3) x.set(irand(0, x.span - 1), NAN);
                std::vector<int64_t> ishape = shape;
                ishape[dim] = 1;
                HostT idx = make(LLAVA_DTYPE_I64, ishape, CONTIG), val = make(dt, ishape, CONTIG);
                Dev dx(x), di(idx), dv(val);
                int rc = llava_arg_reduce(nullptr, is_max, x.rank(), shape.data(), dx.p, x.strides.data(), dim,
                                          (int64_t*)di.p, idx.strides.data(), dv.p, val.strides.data(), dt);
                EXPECT(rc == 0, "rc %d", rc);
                HostT gi = idx, gv = val;
                di.download(gi);
                dv.download(gv);
                for (int64_t o = 0; o < idx.numel(); o++) {
                    // walk the row as the CPU does: first strictly better, stop at the first NaN
                    int64_t rem = o, base = 0;
                    for (int d = (int)shape.size() - 1; d >= 0; d--) { base += (rem % ishape[d]) * x.strides[d]; rem /= ishape[d]; }
                    int64_t best = 0;
                    double bv = x.get(base);
                    for (int64_t j = 1; j < shape[dim] && bv == bv; j++) {
                        double v = x.get(base + j * x.strides[dim]);
                        if (v != v || (is_max ? v > bv : v < bv)) { bv = v; best = j; }
                    }
                    EXPECT((int64_t)gi.get(o) == best, "row %lld: %lld, want %lld", (long long)o, (long long)gi.get(o), (long long)best);
                    EXPECT(same_bits_or_nan(gv, o, x, base + best * x.strides[dim]), "value of row %lld", (long long)o);
                }
                cases++;
            }
        }
    }
    printf("reduce/arg_reduce: %d cases\n", cases);
}

static void test_softmax() {
    int cases = 0;
    for (int dt : kFloatTypes) {
        for (int log = 0; log < 2; log++) {
            for (int64_t cols : {1LL, 7LL, 64LL, 1000LL, 1025LL, 4096LL, 32003LL}) {
                g_ctx = std::string("softmax ") + dname(dt) + (log ? " log" : "") + " cols " + std::to_string(cols);
                const int64_t rows = irand(1, 40);
                HostT x = contiguous(dt, {rows, cols}), y = contiguous(dt, {rows, cols}), gy = contiguous(dt, {rows, cols});
                fill_random(x, 0.1, 8.0);
                if (cols > 3) x.set(1, -INFINITY);   // a masked entry
                fill_random(gy);
                Dev dx(x), dy(y), dg(gy), dgx(y);
                int rc = llava_softmax(nullptr, rows, cols, dx.p, dy.p, dt, log);
                EXPECT(rc == 0, "rc %d", rc);
                HostT got = y;
                dy.download(got);
                std::vector<double> ref(rows * cols);
                for (int64_t r = 0; r < rows; r++) {
                    double m = -INFINITY, s = 0;
                    for (int64_t c = 0; c < cols; c++) m = std::max(m, x.get(r * cols + c));
                    for (int64_t c = 0; c < cols; c++) s += std::exp(x.get(r * cols + c) - m);
                    for (int64_t c = 0; c < cols; c++) {
                        double v = x.get(r * cols + c);
                        ref[r * cols + c] = log ? v - (m + std::log(s)) : std::exp(v - m) / s;
                        double g = got.get(r * cols + c);
                        // log-softmax: the F32 log-sum-exp carries an absolute error of a few 1e-6
                        const double atol = log ? (dt == LLAVA_DTYPE_F64 ? 1e-12 : 4e-6) : 1e-7;
                        EXPECT(close(g, ref[r * cols + c], dtype_rtol(dt) * 2, atol), "(%lld, %lld): %.9g, want %.9g",
                               (long long)r, (long long)c, g, ref[r * cols + c]);
                    }
                }
                // backward from the device's y
                rc = llava_softmax_backward(nullptr, rows, cols, dy.p, dg.p, dgx.p, dt, log);
                EXPECT(rc == 0, "backward rc %d", rc);
                HostT gx = y;
                dgx.download(gx);
                for (int64_t r = 0; r < rows; r++) {
                    double dot = 0, sg = 0, mag = 0;
                    for (int64_t c = 0; c < cols; c++) {
                        dot += gy.get(r * cols + c) * got.get(r * cols + c);
                        sg += gy.get(r * cols + c);
                        mag += std::fabs(gy.get(r * cols + c));
                    }
                    for (int64_t c = 0; c < cols; c++) {
                        double yv = got.get(r * cols + c), g = gy.get(r * cols + c);
                        double want = log ? g - std::exp(yv) * sg : yv * (g - dot);
                        double tolabs = (dt == LLAVA_DTYPE_F64 ? 1e-12 : 1e-5) * mag * (log ? 1 : std::fabs(yv)) + 1e-7;
                        EXPECT(close(gx.get(r * cols + c), want, dtype_rtol(dt) * 2, tolabs), "grad (%lld, %lld): %.9g, want %.9g",
                               (long long)r, (long long)c, gx.get(r * cols + c), want);
                    }
                }
                cases++;
            }
        }
    }
    printf("softmax: %d cases\n", cases);
}

// ---- norms ------------------------------------------------------------------------------------

static void test_norms() {
    int cases = 0;
    for (int dt : kFloatTypes) {
        for (int64_t cols : {5LL, 64LL, 1000LL, 1030LL, 4096LL, 13000LL}) {
            for (int rms = 0; rms < 2; rms++) {
                for (int with_w = 0; with_w < 2; with_w++) {
                    g_ctx = std::string(rms ? "rms_norm " : "layer_norm ") + dname(dt) + " cols " + std::to_string(cols) +
                            (with_w ? " w" : "");
                    const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(irand(1, 600), 500000 / cols));   // host reference time
                    const double eps = 1e-5;
                    HostT x = contiguous(dt, {rows, cols}), w = contiguous(dt, {cols}), b = contiguous(dt, {cols});
                    HostT out = contiguous(dt, {rows, cols}), gy = contiguous(dt, {rows, cols}), gx = contiguous(dt, {rows, cols});
                    HostT gw = contiguous(dt, {cols}), gb = contiguous(dt, {cols});
                    HostT mean = contiguous(LLAVA_DTYPE_F32, {rows}), rstd = contiguous(LLAVA_DTYPE_F32, {rows});
                    fill_random(x, 0.1, 3.0);
                    for (int64_t i = 0; i < x.span; i++) x.set(i, x.get(i) + 0.7);   // a mean to subtract
                    fill_random(w);
                    fill_random(b);
                    fill_random(gy);
                    Dev dx(x), dw(w), db(b), dout(out), dgy(gy), dgx(gx), dgw(gw), dgb(gb), dmean(mean), drstd(rstd);
                    Dev ws((size_t)llava_norm_backward_workspace_size(rows, cols) * 2 + 16);
                    const void* wp = with_w ? dw.p : nullptr;
                    const void* bp = with_w ? db.p : nullptr;
                    int rc = rms ? llava_rms_norm_forward(nullptr, rows, cols, dx.p, wp, eps, dout.p, (float*)drstd.p, dt)
                                 : llava_layer_norm_forward(nullptr, rows, cols, dx.p, wp, bp, eps, dout.p, (float*)dmean.p,
                                                            (float*)drstd.p, dt);
                    EXPECT(rc == 0, "forward rc %d", rc);
                    rc = rms ? llava_rms_norm_backward(nullptr, rows, cols, dx.p, wp, (float*)drstd.p, dgy.p, dgx.p,
                                                       with_w ? dgw.p : nullptr, ws.p, dt)
                             : llava_layer_norm_backward(nullptr, rows, cols, dx.p, wp, (float*)dmean.p, (float*)drstd.p, dgy.p,
                                                         dgx.p, with_w ? dgw.p : nullptr, with_w ? dgb.p : nullptr, ws.p, dt);
                    EXPECT(rc == 0, "backward rc %d", rc);
                    HostT go = out, ggx = gx, ggw = gw, ggb = gb, grs = rstd, gm = mean;
                    dout.download(go);
                    dgx.download(ggx);
                    dgw.download(ggw);
                    dgb.download(ggb);
                    drstd.download(grs);
                    dmean.download(gm);
                    // forward: one rounding plus F32 statistics; backward also uses the F32 rstd
                    const double tol = dtype_rtol(dt) * 2, btol = std::max(tol, 4e-7);
                    std::vector<double> rgw(cols, 0), rgb(cols, 0), mw(cols, 0);
                    for (int64_t r = 0; r < rows; r++) {
                        double m = 0, v = 0;
                        for (int64_t c = 0; c < cols; c++) m += x.get(r * cols + c);
                        m = rms ? 0 : m / cols;
                        for (int64_t c = 0; c < cols; c++) v += (x.get(r * cols + c) - m) * (x.get(r * cols + c) - m);
                        double inv = 1.0 / std::sqrt(v / cols + eps);
                        EXPECT(close(grs.get(r), inv, 1e-5, 0), "rstd row %lld: %.9g, want %.9g", (long long)r, grs.get(r), inv);
                        if (!rms) EXPECT(close(gm.get(r), m, 1e-5, 1e-6), "mean row %lld", (long long)r);
                        // x - mean with an F32 mean: an absolute error of a few 1e-6 of |mean| + 1
                        const double fatol = (dt == LLAVA_DTYPE_F64 ? 1e-12 : 4e-6) * inv * (std::fabs(m) + 1) * 2;
                        double sg = 0, sgx = 0, dot = 0;
                        for (int64_t c = 0; c < cols; c++) {
                            double xv = x.get(r * cols + c), wv = with_w ? w.get(c) : 1, g = gy.get(r * cols + c);
                            double xh = (xv - m) * inv;
                            double want = xh * wv + (with_w && !rms ? b.get(c) : 0);
                            EXPECT(close(go.get(r * cols + c), want, tol, fatol), "out (%lld, %lld): %.9g, want %.9g",
                                   (long long)r, (long long)c, go.get(r * cols + c), want);
                            sg += g * wv;
                            sgx += g * wv * xh;
                            dot += g * wv * xv;
                            rgw[c] += g * xh;
                            rgb[c] += g;
                            mw[c] += std::fabs(g * xh);
                        }
                        double mag = 0;
                        for (int64_t c = 0; c < cols; c++) mag = std::max(mag, std::fabs(gy.get(r * cols + c)));
                        for (int64_t c = 0; c < cols; c++) {
                            double xv = x.get(r * cols + c), wv = with_w ? w.get(c) : 1, g = gy.get(r * cols + c);
                            double want = rms ? g * wv * inv - xv * dot * inv * inv * inv / cols
                                              : inv * (g * wv - sg / cols - (xv - m) * inv * sgx / cols);
                            EXPECT(close(ggx.get(r * cols + c), want, btol * 2, btol * inv * mag * 4),
                                   "gx (%lld, %lld): %.9g, want %.9g", (long long)r, (long long)c, ggx.get(r * cols + c), want);
                        }
                    }
                    if (with_w) {
                        for (int64_t c = 0; c < cols; c++) {
                            EXPECT(close(ggw.get(c), rgw[c], btol * 2, 4e-6 * mw[c] + btol * 1e-2), "gw[%lld]: %.9g, want %.9g",
                                   (long long)c, ggw.get(c), rgw[c]);
                            if (!rms) EXPECT(close(ggb.get(c), rgb[c], btol * 2, 4e-6 * rows * 2 + btol * 1e-2), "gb[%lld]", (long long)c);
                        }
                    }
                    cases++;
                }
            }
        }
    }
    printf("norms: %d cases\n", cases);
}

// ---- rope, silu_mul ---------------------------------------------------------------------------

static void test_rope_silu() {
    int cases = 0;
    for (int dt : kFloatTypes) {
        for (int inverse = 0; inverse < 2; inverse++) {
            for (int in_place = 0; in_place < 2; in_place++) {
                g_ctx = std::string("rope ") + dname(dt) + (inverse ? " inverse" : "") + (in_place ? " in place" : "");
                const int64_t B = irand(1, 3), T = irand(1, 70), H = irand(1, 6), D = 2 * irand(1, 64);
                HostT x = make(dt, {B, T, H, D}, CONTIG);
                if (!in_place && irand(0, 1)) {   // a transposed view [B, H, T, D] -> strides of [B, T, H, D]
                    HostT t = make(dt, {B, H, T, D}, CONTIG);
                    x.strides = {t.strides[0], t.strides[2], t.strides[1], t.strides[3]};
                }
                fill_random(x);
                HostT out = make(dt, {B, T, H, D}, CONTIG);
                HostT pos = contiguous(LLAVA_DTYPE_I64, {B, T}), inv = contiguous(LLAVA_DTYPE_F32, {D / 2});
                for (int64_t i = 0; i < B * T; i++) pos.set(i, (double)irand(0, 40000));
                for (int64_t i = 0; i < D / 2; i++) inv.set(i, std::pow(10000.0, -2.0 * i / D));
                Dev dx(x), dout(out), dp(pos), di(inv);
                void* op = in_place ? dx.p : dout.p;
                const int64_t* ost = in_place ? x.strides.data() : out.strides.data();
                int rc = llava_rope(nullptr, dt, B, T, H, D, dx.p, x.strides.data(), (const int64_t*)dp.p,
                                    (const float*)di.p, inverse, op, ost);
                EXPECT(rc == 0, "rc %d", rc);
                HostT got = in_place ? x : out;
                (in_place ? dx : dout).download(got);
                for (int64_t b = 0; b < B; b++) for (int64_t t = 0; t < T; t++) for (int64_t h = 0; h < H; h++) {
                    for (int64_t i = 0; i < D / 2; i++) {
                        const int64_t p = (int64_t)pos.get(b * T + t);
                        double c, s;
                        if (dt == LLAVA_DTYPE_F64) {
                            double ang = (double)p * (double)(float)inv.get(i);
                            c = std::cos(ang);
                            s = std::sin(ang);
                        } else {
                            float ang = (float)p * (float)inv.get(i);
                            c = (float)std::cos((double)ang);
                            s = (float)std::sin((double)ang);
                        }
                        if (inverse) s = -s;
                        const int64_t xo = b * x.strides[0] + t * x.strides[1] + h * x.strides[2];
                        const HostT& ref = got;
                        const int64_t oo = in_place ? xo : b * out.strides[0] + t * out.strides[1] + h * out.strides[2];
                        double x1 = x.get(xo + i * x.strides[3]), x2 = x.get(xo + (i + D / 2) * x.strides[3]);
                        double w1 = x1 * c - x2 * s, w2 = x2 * c + x1 * s;
                        const int64_t s3 = in_place ? x.strides[3] : 1;
                        double tol = dtype_rtol(dt) * 4;
                        EXPECT(close(ref.get(oo + i * s3), w1, tol, tol * 0.1), "(%lld,%lld,%lld,%lld): %.9g, want %.9g", (long long)b,
                               (long long)t, (long long)h, (long long)i, ref.get(oo + i * s3), w1);
                        EXPECT(close(ref.get(oo + (i + D / 2) * s3), w2, tol, tol * 0.1), "second half");
                    }
                }
                cases++;
            }
        }
        g_ctx = std::string("silu_mul ") + dname(dt);
        const int64_t n = irand(1, 9000);
        HostT g = contiguous(dt, {n}), u = contiguous(dt, {n}), gy = contiguous(dt, {n}), o = contiguous(dt, {n});
        fill_random(g, 0.05, 6.0);
        fill_random(u);
        fill_random(gy);
        Dev dg(g), du(u), dgy(gy), dout(o, misalign_ok(dt)), dgg(o), dgu(o);
        EXPECT(llava_silu_mul_forward(nullptr, n, dg.p, du.p, dout.p, dt) == 0, "forward rc");
        EXPECT(llava_silu_mul_backward(nullptr, n, dg.p, du.p, dgy.p, dgg.p, dgu.p, dt) == 0, "backward rc");
        HostT go = o, ggg = o, ggu = o;
        dout.download(go);
        dgg.download(ggg);
        dgu.download(ggu);
        const double tol = dtype_rtol(dt) * 4;
        for (int64_t i = 0; i < n; i++) {
            double gv = g.get(i), uv = u.get(i), yv = gy.get(i), sg = ref_sigmoid(gv);
            EXPECT(close(go.get(i), gv * sg * uv, tol, tol * 1e-2), "out %lld", (long long)i);
            EXPECT(close(ggu.get(i), yv * gv * sg, tol, tol * 1e-2), "g_up %lld", (long long)i);
            EXPECT(close(ggg.get(i), yv * uv * sg * (1 + gv * (1 - sg)), tol, tol * 1e-2), "g_gate %lld: %.9g, want %.9g",
                   (long long)i, ggg.get(i), yv * uv * sg * (1 + gv * (1 - sg)));
        }
        cases++;
    }
    printf("rope/silu_mul: %d cases\n", cases);
}

// ---- cross-entropy ----------------------------------------------------------------------------

static void test_cross_entropy() {
    int cases = 0;
    const int dts[] = {LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16};
    for (int dt : dts) {
        for (int64_t V : {3LL, 100LL, 1024LL, 4097LL, 32000LL}) {
            g_ctx = std::string("cross_entropy ") + dname(dt) + " V " + std::to_string(V);
            const int64_t rows = irand(1, 70), ignore = -100;
            HostT x = contiguous(dt, {rows, V}), gx = contiguous(dt, {rows, V});
            HostT tg = contiguous(LLAVA_DTYPE_I64, {rows}), loss = contiguous(LLAVA_DTYPE_F32, {rows});
            HostT lse = contiguous(LLAVA_DTYPE_F32, {rows}), gl = contiguous(LLAVA_DTYPE_F32, {rows});
            fill_random(x, 0.1, 6.0);
            fill_random(gl);
            for (int64_t r = 0; r < rows; r++) tg.set(r, irand(0, 4) == 0 ? ignore : irand(0, V - 1));
            Dev dx(x), dgx(gx), dt_(tg), dl(loss), dlse(lse), dgl(gl);
            int rc = llava_cross_entropy_forward(nullptr, rows, V, dx.p, dt, (const int64_t*)dt_.p, ignore, (float*)dl.p,
                                                 (float*)dlse.p);
            EXPECT(rc == 0, "forward rc %d", rc);
            rc = llava_cross_entropy_backward(nullptr, rows, V, dx.p, dt, (const int64_t*)dt_.p, (const float*)dlse.p,
                                              (const float*)dgl.p, ignore, dgx.p);
            EXPECT(rc == 0, "backward rc %d", rc);
            HostT gloss = loss, glse = lse, ggx = gx;
            dl.download(gloss);
            dlse.download(glse);
            dgx.download(ggx);
            for (int64_t r = 0; r < rows; r++) {
                double m = -INFINITY, s = 0;
                for (int64_t c = 0; c < V; c++) m = std::max(m, x.get(r * V + c));
                for (int64_t c = 0; c < V; c++) s += std::exp(x.get(r * V + c) - m);
                const double l = m + std::log(s);
                const int64_t t = (int64_t)tg.get(r);
                EXPECT(close(glse.get(r), l, 2e-6, 0), "lse row %lld: %.9g, want %.9g", (long long)r, glse.get(r), l);
                double wl = t == ignore ? 0 : l - x.get(r * V + t);
                EXPECT(close(gloss.get(r), wl, 2e-6, 2e-6 * std::fabs(l)), "loss row %lld: %.9g, want %.9g", (long long)r,
                       gloss.get(r), wl);
                for (int64_t c = 0; c < V; c++) {
                    double g = gl.get(r), p = std::exp(x.get(r * V + c) - l);
                    double want = t == ignore ? 0 : g * p - (c == t ? g : 0);
                    EXPECT(close(ggx.get(r * V + c), want, dtype_rtol(dt) * 2, 1e-6 * std::fabs(g)), "grad (%lld, %lld): %.9g, want %.9g",
                           (long long)r, (long long)c, ggx.get(r * V + c), want);
                }
            }
            cases++;
        }
    }
    // an out-of-range target is an error, and the next call is clean again
    {
        g_ctx = "cross_entropy bad target";
        HostT x = contiguous(LLAVA_DTYPE_F32, {2, 10}), tg = contiguous(LLAVA_DTYPE_I64, {2});
        HostT loss = contiguous(LLAVA_DTYPE_F32, {2});
        fill_random(x);
        tg.set(0, 3);
        tg.set(1, 10);
        Dev dx(x), dtg(tg), dl(loss), dlse(loss);
        int rc = llava_cross_entropy_forward(nullptr, 2, 10, dx.p, LLAVA_DTYPE_F32, (const int64_t*)dtg.p, -100,
                                             (float*)dl.p, (float*)dlse.p);
        EXPECT(rc == LLAVA_ERR_INDEX, "rc %d, want LLAVA_ERR_INDEX", rc);
        tg.set(1, 9);
        Dev dtg2(tg);
        rc = llava_cross_entropy_forward(nullptr, 2, 10, dx.p, LLAVA_DTYPE_F32, (const int64_t*)dtg2.p, -100, (float*)dl.p,
                                         (float*)dlse.p);
        EXPECT(rc == 0, "rc %d after a good call", rc);
        rc = llava_cross_entropy_forward(nullptr, 2, 10, dx.p, LLAVA_DTYPE_F64, (const int64_t*)dtg2.p, -100, (float*)dl.p,
                                         (float*)dlse.p);
        EXPECT(rc == LLAVA_ERR_UNSUPPORTED, "F64 logits: rc %d", rc);
        cases++;
    }
    printf("cross_entropy: %d cases\n", cases);
}

// ---- indexing ---------------------------------------------------------------------------------

static void test_indexing() {
    int cases = 0;
    for (int dt : kAllTypes) {
        for (int rep = 0; rep < 3; rep++) {
            g_ctx = std::string("index_select/add ") + dname(dt);
            const int64_t outer = irand(1, 4), dim = irand(1, 50), inner = rep == 0 ? 4096 : irand(1, 37), ni = irand(1, 60);
            HostT x = contiguous(dt, {outer, dim, inner}), out = contiguous(dt, {outer, ni, inner});
            HostT idx = contiguous(LLAVA_DTYPE_I64, {ni});
            fill_random(x);
            for (int64_t i = 0; i < ni; i++) idx.set(i, (double)irand(0, dim - 1));
            Dev dx(x), dout(out), di(idx);
            int rc = llava_index_select(nullptr, dt, outer, dim, inner, dx.p, (const int64_t*)di.p, ni, dout.p);
            EXPECT(rc == 0, "rc %d", rc);
            HostT got = out;
            dout.download(got);
            for (int64_t o = 0; o < outer; o++) for (int64_t i = 0; i < ni; i++) for (int64_t j = 0; j < inner; j++) {
                int64_t k = (int64_t)idx.get(i);
                EXPECT(got.bits((o * ni + i) * inner + j) == x.bits((o * dim + k) * inner + j), "select (%lld,%lld,%lld)",
                       (long long)o, (long long)i, (long long)j);
            }
            if (dt == LLAVA_DTYPE_U8 || dt == LLAVA_DTYPE_BOOL) continue;
            // index_add of out back into a copy of x: repeated indices accumulate
            HostT src = out;
            fill_random(src);
            Dev dt2(x), ds(src);
            rc = llava_index_add(nullptr, dt, outer, dim, inner, dt2.p, (const int64_t*)di.p, ni, ds.p);
            EXPECT(rc == 0, "index_add rc %d", rc);
            HostT sum = x;
            dt2.download(sum);
            std::vector<double> want(x.span);
            for (int64_t e = 0; e < x.span; e++) want[e] = x.get(e);
            for (int64_t o = 0; o < outer; o++) for (int64_t i = 0; i < ni; i++) for (int64_t j = 0; j < inner; j++) {
                want[(o * dim + (int64_t)idx.get(i)) * inner + j] += src.get((o * ni + i) * inner + j);
            }
            for (int64_t e = 0; e < x.span; e++) {
                EXPECT(close(sum.get(e), want[e], dtype_rtol(dt) * 16, dtype_rtol(dt) * 16), "index_add element %lld: %.9g, want %.9g",
                       (long long)e, sum.get(e), want[e]);
            }
            cases++;
        }
        for (int rep = 0; rep < 4; rep++) {
            g_ctx = std::string("gather/scatter_add ") + dname(dt);
            std::vector<int64_t> xs = random_shape(4, 7);
            const int r = (int)xs.size(), dim = (int)irand(0, r - 1);
            std::vector<int64_t> is(r);
            for (int d = 0; d < r; d++) is[d] = d == dim ? irand(1, 9) : irand(1, xs[d]);
            HostT x = contiguous(dt, xs), idx = contiguous(LLAVA_DTYPE_I64, is), out = contiguous(dt, is);
            fill_random(x);
            for (int64_t i = 0; i < idx.numel(); i++) idx.set(i, (double)irand(0, xs[dim] - 1));
            Dev dx(x), di(idx), dout(out);
            int rc = llava_gather(nullptr, dt, r, is.data(), dim, dx.p, xs.data(), (const int64_t*)di.p, dout.p);
            EXPECT(rc == 0, "gather rc %d", rc);
            HostT got = out;
            dout.download(got);
            std::vector<int64_t> xst = contiguous_strides(xs);
            std::vector<double> want(x.span);
            for (int64_t e = 0; e < x.span; e++) want[e] = x.get(e);
            HostT src = out;
            fill_random(src);
            for (int64_t p = 0; p < idx.numel(); p++) {
                int64_t rem = p, xo = 0;
                for (int d = r - 1; d >= 0; d--) {
                    int64_t c = rem % is[d];
                    rem /= is[d];
                    xo += (d == dim ? (int64_t)idx.get(p) : c) * xst[d];
                }
                EXPECT(got.bits(p) == x.bits(xo), "gather element %lld", (long long)p);
                want[xo] += src.get(p);
            }
            if (dt != LLAVA_DTYPE_U8 && dt != LLAVA_DTYPE_BOOL) {
                Dev dtgt(x), ds(src);
                rc = llava_scatter_add(nullptr, dt, r, is.data(), dim, dtgt.p, xs.data(), (const int64_t*)di.p, ds.p);
                EXPECT(rc == 0, "scatter_add rc %d", rc);
                HostT sum = x;
                dtgt.download(sum);
                for (int64_t e = 0; e < x.span; e++) {
                    EXPECT(close(sum.get(e), want[e], dtype_rtol(dt) * 16, dtype_rtol(dt) * 16), "scatter_add element %lld", (long long)e);
                }
            }
            cases++;
        }
    }
    {   // out-of-range indices: LLAVA_ERR_INDEX, no crash, the next call is clean
        g_ctx = "index errors";
        HostT x = contiguous(LLAVA_DTYPE_F32, {5, 3}), out = contiguous(LLAVA_DTYPE_F32, {2, 3}), idx = contiguous(LLAVA_DTYPE_I64, {2});
        fill_random(x);
        idx.set(0, 1);
        idx.set(1, 5);
        Dev dx(x), dout(out), di(idx);
        EXPECT(llava_index_select(nullptr, LLAVA_DTYPE_F32, 1, 5, 3, dx.p, (const int64_t*)di.p, 2, dout.p) == LLAVA_ERR_INDEX,
               "index_select");
        EXPECT(llava_index_add(nullptr, LLAVA_DTYPE_F32, 1, 5, 3, dx.p, (const int64_t*)di.p, 2, dout.p) == LLAVA_ERR_INDEX,
               "index_add");
        int64_t is[2] = {2, 3}, xs[2] = {5, 3};
        HostT gidx = contiguous(LLAVA_DTYPE_I64, {2, 3});
        for (int i = 0; i < 6; i++) gidx.set(i, i == 4 ? -1 : 0);
        Dev dgi(gidx);
        EXPECT(llava_gather(nullptr, LLAVA_DTYPE_F32, 2, is, 0, dx.p, xs, (const int64_t*)dgi.p, dout.p) == LLAVA_ERR_INDEX, "gather");
        EXPECT(llava_scatter_add(nullptr, LLAVA_DTYPE_F32, 2, is, 0, dx.p, xs, (const int64_t*)dgi.p, dout.p) == LLAVA_ERR_INDEX,
               "scatter_add");
        idx.set(1, 4);
        Dev di2(idx);
        EXPECT(llava_index_select(nullptr, LLAVA_DTYPE_F32, 1, 5, 3, dx.p, (const int64_t*)di2.p, 2, dout.p) == 0, "clean call");
        cases++;
    }
    printf("indexing: %d cases\n", cases);
}

// ---- adamw ------------------------------------------------------------------------------------

static void test_adamw() {
    int cases = 0;
    const int gdts[] = {LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16};
    const int cdts[] = {-1, LLAVA_DTYPE_F32, LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16};
    for (int gd : gdts) {
        for (int cd : cdts) {
            g_ctx = std::string("adamw grad ") + dname(gd) + " copy " + (cd < 0 ? "none" : dname(cd));
            const int64_t n = irand(1, 10000);
            HostT p = contiguous(LLAVA_DTYPE_F32, {n}), m = p, v = p, g = contiguous(gd, {n});
            HostT c = contiguous(cd < 0 ? LLAVA_DTYPE_F32 : cd, {n});
            fill_random(p);
            fill_random(m, 0.001, 0.1);
            for (int64_t i = 0; i < n; i++) v.set(i, urand(1e-6, 1e-2));
            fill_random(g);
            const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = cases % 2 ? 0.0 : 0.01;
            const int64_t step = irand(1, 100);
            Dev dp(p, irand(0, 1) == 1), dm(m), dv(v), dg(g), dc(c);
            int rc = llava_adamw(nullptr, n, (float*)dp.p, dg.p, gd, (float*)dm.p, (float*)dv.p, lr, b1, b2, eps, wd, step,
                                 cd < 0 ? nullptr : dc.p, cd < 0 ? LLAVA_DTYPE_F32 : cd);
            EXPECT(rc == 0, "rc %d", rc);
            HostT gp = p, gm = m, gv = v, gc = c;
            dp.download(gp);
            dm.download(gm);
            dv.download(gv);
            dc.download(gc);
            // CpuFused.adamw, F32 operations one at a time (host code is built without FMA contraction)
            const float decay = (float)(1 - lr * wd), fb1 = (float)b1, fb2 = (float)b2, omb1 = (float)(1 - b1), omb2 = (float)(1 - b2);
            const float step_size = (float)(lr / (1 - std::pow(b1, (double)step)));
            const float bc2s = (float)std::sqrt(1 - std::pow(b2, (double)step)), feps = (float)eps;
            for (int64_t i = 0; i < n; i++) {
                float pi = (float)p.get(i), gi = (float)g.get(i);
                if (wd != 0) pi = pi * decay;
                volatile float t1 = (float)m.get(i) * fb1, t2 = omb1 * gi;
                float mi = t1 + t2;
                volatile float t3 = (float)v.get(i) * fb2, t4 = omb2 * gi;
                volatile float t5 = t4 * gi;
                float vi = t3 + t5;
                volatile float t6 = std::sqrt(vi) / bc2s;
                float denom = t6 + feps;
                volatile float t7 = -step_size * (mi / denom);
                pi = pi + t7;
                EXPECT((float)gp.get(i) == pi && (float)gm.get(i) == mi && (float)gv.get(i) == vi,
                       "element %lld: p %.9g m %.9g v %.9g, want %.9g %.9g %.9g", (long long)i, gp.get(i), gm.get(i), gv.get(i), pi,
                       mi, vi);
                if (cd >= 0) {
                    HostT one = contiguous(cd, {1});
                    one.set(0, pi);
                    EXPECT(gc.bits(i) == one.bits(0), "copy element %lld", (long long)i);
                }
            }
            cases++;
        }
    }
    printf("adamw: %d cases (bitwise)\n", cases);
}

// ---- large tensors (64-bit index paths), streams, argument errors ------------------------------

static void test_big_and_errors(bool big) {
    int cases = 0;
    g_ctx = "argument errors";
    int64_t shape[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2}, st[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    EXPECT(llava_fill(nullptr, 9, shape, nullptr, LLAVA_DTYPE_F32, st, 0) == LLAVA_ERR_INVALID_ARGUMENT, "rank 9");
    EXPECT(llava_unary(nullptr, 99, 1, shape, nullptr, st, nullptr, st, LLAVA_DTYPE_F32, 0, 0) == LLAVA_ERR_INVALID_ARGUMENT, "op 99");
    EXPECT(llava_unary(nullptr, LLAVA_UNARY_EXP, 1, shape, (void*)16, st, (void*)16, st, LLAVA_DTYPE_I32, 0, 0) ==
               LLAVA_ERR_UNSUPPORTED, "exp of I32");
    EXPECT(llava_index_add(nullptr, LLAVA_DTYPE_U8, 1, 1, 1, (void*)16, (const int64_t*)16, 1, (void*)16) == LLAVA_ERR_UNSUPPORTED,
           "index_add of U8");
    EXPECT(strlen(llava_error_string(LLAVA_ERR_INDEX)) > 0 && strlen(llava_error_string(2)) > 0, "error strings");
    cases++;

    g_ctx = "stream";
    {
        cudaStream_t s;
        CU(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        HostT x = contiguous(LLAVA_DTYPE_F32, {1000, 1000}), out = contiguous(LLAVA_DTYPE_F32, {1, 1});
        for (int64_t i = 0; i < x.span; i++) x.set(i, 1.0);
        Dev dx(x), dout(out);
        int64_t xs[2] = {1000, 1000}, os[2] = {1, 1}, xst[2] = {1000, 1}, ost[2] = {1, 1};
        EXPECT(llava_reduce(s, LLAVA_REDUCE_SUM, 2, xs, dx.p, xst, dout.p, os, ost, LLAVA_DTYPE_F32) == 0, "reduce on a stream");
        CU(cudaStreamSynchronize(s));
        HostT got = out;
        dout.download(got);
        EXPECT(got.get(0) == 1e6, "sum on a stream: %.9g", got.get(0));
        CU(cudaStreamDestroy(s));
        cases++;
    }
    if (!big) return;
    size_t free_b = 0, total_b = 0;
    CU(cudaMemGetInfo(&free_b, &total_b));
    const int64_t R = 65536, C = 32769;   // 2^31 + 2^16 elements of U8
    if (free_b < (size_t)(2.5 * R * C)) {
        printf("big cases skipped: %zu bytes free\n", free_b);
        return;
    }
    g_ctx = "big strided copy and reduce (64-bit indices)";
    void *src = nullptr, *dst = nullptr, *o8 = nullptr;
    CU(cudaMalloc(&src, (size_t)R * C));
    CU(cudaMalloc(&dst, (size_t)R * C));
    CU(cudaMalloc(&o8, 2));
    {
        // src all ones, dst zeros; dst[j, i] = src[i, j] through a transposed (strided) view; then the
        // min and max over all of dst (a split reduction with 64-bit offsets) must both be 1
        const int64_t n = R * C, one = 1;
        int64_t shape[2] = {C, R}, sst[2] = {1, C}, dstt[2] = {R, 1}, oshape[2] = {1, 1}, ost[2] = {1, 1};
        EXPECT(llava_fill(nullptr, 1, &n, src, LLAVA_DTYPE_U8, &one, 1.0) == 0, "fill 1");
        EXPECT(llava_fill(nullptr, 1, &n, dst, LLAVA_DTYPE_U8, &one, 0.0) == 0, "fill 0");
        EXPECT(llava_copy(nullptr, 2, shape, src, LLAVA_DTYPE_U8, sst, dst, LLAVA_DTYPE_U8, dstt) == 0, "transposed copy");
        EXPECT(llava_reduce(nullptr, LLAVA_REDUCE_MIN, 2, shape, dst, dstt, o8, oshape, ost, LLAVA_DTYPE_U8) == 0, "min");
        EXPECT(llava_reduce(nullptr, LLAVA_REDUCE_MAX, 2, shape, dst, dstt, (char*)o8 + 1, oshape, ost, LLAVA_DTYPE_U8) == 0, "max");
        uint8_t mm[2] = {0, 0};
        CU(cudaDeviceSynchronize());
        CU(cudaMemcpy(mm, o8, 2, cudaMemcpyDeviceToHost));
        EXPECT(mm[0] == 1 && mm[1] == 1, "every element copied: min %u max %u", mm[0], mm[1]);
    }
    cudaFree(o8);
    cudaFree(src);
    cudaFree(dst);
    cases++;
    printf("errors/streams/big: %d cases\n", cases);
}

int main(int argc, char** argv) {
    bool big = true;
    for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--no-big") == 0) big = false;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        printf("no usable GPU (%s): GPU kernel tests skipped\n", e != cudaSuccess ? cudaGetErrorString(e) : "no device");
        return 77;
    }
    cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    test_copy();
    test_unary();
    test_binary_where();
    test_reduce();
    test_softmax();
    test_norms();
    test_rope_silu();
    test_cross_entropy();
    test_indexing();
    test_adamw();
    test_big_and_errors(big);
    cudaError_t last = cudaDeviceSynchronize();
    EXPECT(last == cudaSuccess, "device error at the end: %s", cudaGetErrorString(last));
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail == 0 ? 0 : 1;
}
