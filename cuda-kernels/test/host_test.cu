/*
 * Host-side checks of the kernel library's logic that does not need a GPU: the planning code
 * that every launch depends on (dimension coalescing, strided offsets, 32-bit division, the
 * reduce and gather plans), the dtype conversions (against ports of the CPU backend's Java rules),
 * and the reduction algebra the kernels combine in warp/block trees (online softmax statistics,
 * arg-max pairs), driven here through an emulation of the same butterfly/fold order.
 *
 * Build and run (also `cmake -DLLAVA_KERNEL_TESTS=ON` + `ctest`):
 *   nvcc -std=c++17 -O2 --expt-relaxed-constexpr -I cuda-kernels/include \
 *        cuda-kernels/test/host_test.cu -o /tmp/llava_host_test && /tmp/llava_host_test
 * Prints one line per group and exits 1 on any failure.
 */
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "../src/common.cuh"

using namespace llava_k;

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        g_checks++;                                                       \
        if (!(cond)) {                                                    \
            if (++g_failures <= 40) {                                     \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
                fprintf(stderr, __VA_ARGS__);                             \
                fprintf(stderr, "\n");                                    \
            }                                                             \
        }                                                                 \
    } while (0)

static std::mt19937_64 rng(12345);

static int64_t rand_int(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint16_t h2u(bf16 h) { uint16_t u; memcpy(&u, &h, 2); return u; }
static uint16_t h2u(f16 h) { uint16_t u; memcpy(&u, &h, 2); return u; }

// ---- ports of llava.core.Half (the CPU backend's conversions) -------------------------------------

static uint16_t java_float_to_bf16(float f) {
    uint32_t bits = f2u(f);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x40);
    uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

static float java_f16_to_float(uint16_t h) {
    uint32_t bits = h;
    uint32_t sign = (bits & 0x8000u) << 16;
    uint32_t exp = (bits >> 10) & 0x1Fu;
    uint32_t mant = bits & 0x3FFu;
    if (exp == 0x1F) return u2f(sign | 0x7F800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return u2f(sign);
        float v = (float)mant * 0x1.0p-24f;
        return sign != 0 ? -v : v;
    }
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

static uint16_t java_float_to_f16(float f) {
    uint32_t bits = f2u(f);
    uint32_t sign = (bits >> 16) & 0x8000u;
    uint32_t abs = bits & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);
    if (abs >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
    if (abs < 0x38800000u) {
        if (abs < 0x33000000u) return (uint16_t)sign;
        int exp = (int)(abs >> 23);
        uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
        int shift = 126 - exp;
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (q & 1u) == 1u)) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t exp = ((abs >> 23) - 112) << 10;
    uint32_t mant = abs & 0x7FFFFFu;
    uint32_t q = exp | (mant >> 13);
    uint32_t rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u) == 1u)) q++;
    return (uint16_t)(sign | q);
}

// ---- Divmod ---------------------------------------------------------------------------------------

static void test_divmod() {
    std::vector<uint32_t> divisors;
    for (uint32_t d = 1; d <= 3000; d++) divisors.push_back(d);
    for (int s = 1; s < 31; s++) {
        uint32_t p = 1u << s;
        divisors.push_back(p - 1);
        divisors.push_back(p);
        divisors.push_back(p + 1);
    }
    divisors.push_back(INT32_MAX);
    for (int i = 0; i < 20000; i++) divisors.push_back((uint32_t)rand_int(1, INT32_MAX));
    for (uint32_t d : divisors) {
        Divmod<uint32_t> dm(d);
        std::vector<uint32_t> ns = {0, 1, 2, d - 1, d, d + 1, (uint32_t)INT32_MAX, (uint32_t)INT32_MAX - 1};
        for (int k = 2; k < 5; k++) {
            uint64_t m = (uint64_t)d * k;
            if (m <= INT32_MAX) {
                ns.push_back((uint32_t)m - 1);
                ns.push_back((uint32_t)m);
            }
        }
        for (int i = 0; i < 40; i++) ns.push_back((uint32_t)rand_int(0, INT32_MAX));
        for (uint32_t n : ns) {
            if (n > (uint32_t)INT32_MAX) continue;
            uint32_t q, r;
            dm.divmod(n, q, r);
            CHECK(q == n / d && r == n % d, "divmod %u / %u gave %u rem %u", n, d, q, r);
        }
    }
    printf("divmod: %zu divisors checked\n", divisors.size());
}

// ---- plan_elementwise + OffsetCalc ----------------------------------------------------------------

/* Row-major strides of shape, laid out in the dim order perm (perm[0] outermost in memory). */
static std::vector<int64_t> permuted_strides(const std::vector<int64_t>& shape, const std::vector<int>& perm) {
    std::vector<int64_t> st(shape.size());
    int64_t s = 1;
    for (int i = (int)perm.size() - 1; i >= 0; i--) {
        st[perm[i]] = s;
        s *= std::max<int64_t>(shape[perm[i]], 1);
    }
    return st;
}

static std::vector<int> random_perm(int n) {
    std::vector<int> p(n);
    for (int i = 0; i < n; i++) p[i] = i;
    std::shuffle(p.begin(), p.end(), rng);
    return p;
}

static int64_t naive_offset(int64_t linear, const std::vector<int64_t>& shape, const std::vector<int64_t>& st) {
    int64_t off = 0;
    for (int d = (int)shape.size() - 1; d >= 0; d--) {
        off += (linear % shape[d]) * st[d];
        linear /= shape[d];
    }
    return off;
}

template <typename IndexT>
static void check_offsets(const Plan<3>& p, const std::vector<int64_t>& shape, const std::vector<int64_t>* st, int64_t numel) {
    OffsetCalc<3, IndexT> calc(p);
    for (int64_t i = 0; i < numel; i++) {
        IndexT off[3];
        calc.get((IndexT)i, off);
        for (int k = 0; k < 3; k++) {
            int64_t want = naive_offset(i, shape, st[k]);
            CHECK((int64_t)off[k] == want, "offset of element %lld operand %d: %lld, want %lld", (long long)i, k,
                  (long long)off[k], (long long)want);
        }
    }
}

static void test_offsets() {
    int cases = 0;
    for (int iter = 0; iter < 3000; iter++) {
        const int rank = (int)rand_int(0, LLAVA_MAX_DIMS);
        std::vector<int64_t> shape(rank);
        int64_t numel = 1;
        for (int d = 0; d < rank; d++) {
            shape[d] = rand_int(1, rank > 5 ? 3 : 5);
            numel *= shape[d];
        }
        std::vector<int64_t> st[3];
        st[0] = permuted_strides(shape, [&] { std::vector<int> p(rank); for (int i = 0; i < rank; i++) p[i] = i; return p; }());
        st[1] = permuted_strides(shape, random_perm(rank));
        st[2] = permuted_strides(shape, random_perm(rank));
        for (int d = 0; d < rank; d++) {
            if (rand_int(0, 3) == 0) st[2][d] = 0;           // broadcast
            else if (rand_int(0, 5) == 0) st[2][d] *= 3;      // gaps (a sliced view)
        }
        const int64_t* sp[3] = {st[0].data(), st[1].data(), st[2].data()};
        Plan<3> p;
        bool ok = plan_elementwise<3>(rank, shape.data(), sp, p);
        CHECK(ok, "plan_elementwise refused a valid shape");
        if (!ok) continue;
        CHECK(p.numel == numel, "numel %lld, want %lld", (long long)p.numel, (long long)numel);
        CHECK(p.rank >= 1 && p.rank <= std::max(rank, 1), "rank %d from %d", p.rank, rank);
        for (int d = 0; d < p.rank; d++) CHECK(p.sizes[d] > 1 || p.rank == 1, "size-1 dim kept");
        check_offsets<uint32_t>(p, shape, st, numel);
        check_offsets<uint64_t>(p, shape, st, numel);
        // all operands contiguous -> one run
        const int64_t* cp[3] = {st[0].data(), st[0].data(), st[0].data()};
        Plan<3> pc;
        plan_elementwise<3>(rank, shape.data(), cp, pc);
        CHECK(plan_is_contiguous(pc), "contiguous operands not detected as contiguous (rank %d)", rank);
        cases++;
    }
    // bad arguments
    int64_t shape[2] = {2, -1}, st[2] = {1, 1};
    const int64_t* sp[1] = {st};
    Plan<1> p;
    CHECK(!plan_elementwise<1>(2, shape, sp, p), "negative size accepted");
    CHECK(!plan_elementwise<1>(9, shape, sp, p), "rank 9 accepted");
    int64_t shape2[2] = {2, 2}, neg[2] = {1, -1};
    const int64_t* np[1] = {neg};
    CHECK(!plan_elementwise<1>(2, shape2, np, p), "negative stride accepted");
    // 32-bit eligibility
    int64_t big[1] = {(int64_t)1 << 31}, one[1] = {1};
    const int64_t* op[1] = {one};
    plan_elementwise<1>(1, big, op, p);
    CHECK(!plan_fits_32(p), "2^31 elements judged 32-bit safe");
    printf("offsets: %d random layouts checked element by element\n", cases);
}

// ---- plan_reduce --------------------------------------------------------------------------------

static void test_reduce_plan() {
    int cases = 0;
    for (int iter = 0; iter < 3000; iter++) {
        const int rank = (int)rand_int(0, 6);
        std::vector<int64_t> shape(rank), out_shape(rank);
        for (int d = 0; d < rank; d++) {
            shape[d] = rand_int(1, 4);
            out_shape[d] = rand_int(0, 1) ? 1 : shape[d];
        }
        std::vector<int64_t> xs = permuted_strides(shape, random_perm(rank));
        for (int d = 0; d < rank; d++) if (rand_int(0, 6) == 0) xs[d] = 0;
        std::vector<int64_t> os = permuted_strides(out_shape, random_perm(rank));
        int64_t xspan = 1, ospan = 1, numel = 1, out_numel = 1;
        for (int d = 0; d < rank; d++) {
            xspan += (shape[d] - 1) * xs[d];
            ospan += (out_shape[d] - 1) * os[d];
            numel *= shape[d];
            out_numel *= out_shape[d];
        }
        std::vector<int64_t> x(xspan);
        for (auto& v : x) v = rand_int(-1000, 1000);
        // naive: every element adds into its output
        std::vector<int64_t> want(ospan, 0);
        std::vector<int> hit(ospan, 0);
        for (int64_t i = 0; i < numel; i++) {
            int64_t rem = i, xo = 0, oo = 0;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t c = rem % shape[d];
                rem /= shape[d];
                xo += c * xs[d];
                oo += (out_shape[d] == 1 ? 0 : c) * os[d];
            }
            want[oo] += x[xo];
            hit[oo] = 1;
        }
        ReducePlan rp;
        bool ok = plan_reduce(rank, shape.data(), xs.data(), out_shape.data(), os.data(), rp);
        CHECK(ok, "plan_reduce refused a valid reduction");
        if (!ok) continue;
        CHECK(rp.M == out_numel && rp.M * rp.K == numel, "M %lld K %lld for %lld -> %lld", (long long)rp.M,
              (long long)rp.K, (long long)numel, (long long)out_numel);
        OffsetCalc<2, uint32_t> kept(rp.kept);
        OffsetCalc<1, uint32_t> red(rp.red);
        std::vector<int64_t> got(ospan, 0);
        for (int64_t m = 0; m < rp.M; m++) {
            uint32_t off[2];
            kept.get((uint32_t)m, off);
            int64_t s = 0;
            for (int64_t k = 0; k < rp.K; k++) {
                uint32_t ro[1];
                red.get((uint32_t)k, ro);
                s += x[off[1] + ro[0]];
            }
            CHECK(hit[off[0]] == 1, "output offset %u is not an output position", off[0]);
            got[off[0]] += s;
        }
        for (int64_t o = 0; o < ospan; o++) {
            if (hit[o]) CHECK(got[o] == want[o], "sum at %lld: %lld, want %lld", (long long)o, (long long)got[o], (long long)want[o]);
        }
        // the innermost reduced dim has the smallest stride
        for (int d = 0; d + 1 < rp.red.rank; d++) {
            CHECK(rp.red.strides[0][d] >= rp.red.strides[0][d + 1], "reduced dims not sorted by stride");
        }
        cases++;
    }
    int64_t shape[2] = {3, 4}, bad_out[2] = {3, 2}, st[2] = {4, 1};
    ReducePlan rp;
    CHECK(!plan_reduce(2, shape, st, bad_out, st, rp), "out_shape neither 1 nor the size accepted");
    printf("reduce plans: %d random reductions checked\n", cases);
}

// ---- plan_indexed (gather / scatter) ------------------------------------------------------------

static void test_gather_plan() {
    int cases = 0;
    for (int iter = 0; iter < 2000; iter++) {
        const int rank = (int)rand_int(1, 5);
        const int dim = (int)rand_int(0, rank - 1);
        std::vector<int64_t> xshape(rank), ishape(rank);
        for (int d = 0; d < rank; d++) {
            xshape[d] = rand_int(1, 4);
            ishape[d] = d == dim ? rand_int(1, 5) : rand_int(1, xshape[d]);
        }
        int64_t xn = 1, n = 1;
        for (int d = 0; d < rank; d++) { xn *= xshape[d]; n *= ishape[d]; }
        std::vector<int64_t> x(xn), idx(n);
        for (int64_t i = 0; i < xn; i++) x[i] = i * 7 + 3;
        for (auto& v : idx) v = rand_int(0, xshape[dim] - 1);
        Plan<1> p;
        int64_t dim_stride, dim_size;
        bool ok = plan_indexed(rank, ishape.data(), dim, xshape.data(), p, dim_stride, dim_size);
        CHECK(ok, "plan_indexed refused a valid gather");
        if (!ok) continue;
        CHECK(dim_size == xshape[dim], "dim size");
        OffsetCalc<1, uint32_t> calc(p);
        std::vector<int64_t> xst = permuted_strides(xshape, [&] { std::vector<int> q(rank); for (int i = 0; i < rank; i++) q[i] = i; return q; }());
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, want_off = 0;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t c = rem % ishape[d];
                rem /= ishape[d];
                want_off += (d == dim ? idx[i] : c) * xst[d];
            }
            uint32_t off[1];
            calc.get((uint32_t)i, off);
            int64_t got_off = (int64_t)off[0] + idx[i] * dim_stride;
            CHECK(got_off == want_off, "gather offset %lld, want %lld", (long long)got_off, (long long)want_off);
        }
        cases++;
    }
    int64_t xshape[2] = {2, 3}, ishape[2] = {3, 3};
    Plan<1> p;
    int64_t a, b;
    CHECK(!plan_indexed(2, ishape, 1, xshape, p, a, b), "index larger than the data outside dim accepted");
    CHECK(!plan_indexed(2, ishape, 2, xshape, p, a, b), "dim out of range accepted");
    printf("gather plans: %d random gathers checked\n", cases);
}

// ---- conversions ----------------------------------------------------------------------------------

static void test_conversions() {
    // half types <-> float against the Java rules: every f16/bf16 value, and many floats
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t hb = (uint16_t)h;
        __half_raw hr;
        hr.x = hb;
        f16 hv(hr);
        float want = java_f16_to_float(hb), got = to_float(hv);
        CHECK((want != want && got != got) || f2u(want) == f2u(got), "f16 %04x -> %g, want %g", h, got, want);
        __nv_bfloat16_raw br;
        br.x = hb;
        bf16 bv(br);
        float bwant = u2f((uint32_t)hb << 16), bgot = to_float(bv);
        CHECK((bwant != bwant && bgot != bgot) || f2u(bwant) == f2u(bgot), "bf16 %04x -> %g", h, bgot);
    }
    std::vector<float> fs = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 5.96e-8f, 2.98e-8f,
                             6.1e-5f, 3.0e38f, INFINITY, -INFINITY, NAN, 1.0f + 0x1.0p-8f, 1.0f + 0x1.8p-8f,
                             1.0f + 0x1.0p-11f, 1.0f + 0x1.8p-11f, 0x1.0p-25f, 0x1.0p-24f, 0x1.8p-25f};
    for (int i = 0; i < 2000000; i++) fs.push_back(u2f((uint32_t)rng()));
    for (int i = 0; i < 500000; i++) fs.push_back(std::uniform_real_distribution<float>(-70000.f, 70000.f)(rng));
    for (int i = 0; i < 500000; i++) fs.push_back(std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng), (int)rand_int(-30, 0)));
    for (float f : fs) {
        uint16_t bw = java_float_to_bf16(f), bg = h2u(from_float<bf16>(f));
        bool bnan = (bw & 0x7F80) == 0x7F80 && (bw & 0x7F) != 0;
        CHECK(bw == bg || (bnan && (bg & 0x7F80) == 0x7F80 && (bg & 0x7F) != 0), "bf16(%a) = %04x, want %04x", f, bg, bw);
        uint16_t hw = java_float_to_f16(f), hg = h2u(from_float<f16>(f));
        bool hnan = (hw & 0x7C00) == 0x7C00 && (hw & 0x3FF) != 0;
        CHECK(hw == hg || (hnan && (hg & 0x7C00) == 0x7C00 && (hg & 0x3FF) != 0), "f16(%a) = %04x, want %04x", f, hg, hw);
    }
    // Java's float -> integer casts: truncation, saturation, NaN -> 0
    struct { double d; int64_t l; int32_t i; uint8_t b; } casts[] = {
        {NAN, 0, 0, 0}, {INFINITY, INT64_MAX, INT32_MAX, 0xFF}, {-INFINITY, INT64_MIN, INT32_MIN, 0},
        {9.3e18, INT64_MAX, INT32_MAX, 0xFF}, {-9.3e18, INT64_MIN, INT32_MIN, 0}, {-1.5, -1, -1, 0xFF},
        {1.99, 1, 1, 1}, {2147483647.5, 2147483647, INT32_MAX, 0xFF}, {-2147483648.9, -2147483648LL, INT32_MIN, 0},
        {3e9, 3000000000LL, INT32_MAX, 0xFF}, {300.7, 300, 300, 44}, {-0.0, 0, 0, 0}};
    for (auto& c : casts) {
        CHECK(java_d2l(c.d) == c.l, "(long) %g = %lld", c.d, (long long)java_d2l(c.d));
        CHECK(java_d2i(c.d) == c.i, "(int) %g = %d", c.d, java_d2i(c.d));
        CHECK(from_double<uint8_t>(c.d) == c.b, "(byte) %g = %u", c.d, from_double<uint8_t>(c.d));
    }
    // copy() semantics between dtypes
    CHECK(cast<int32_t>((int64_t)((1LL << 32) + 5)) == 5, "I64 -> I32 wraps");
    CHECK(cast<uint8_t>((int64_t)-1) == 255, "I64 -> U8 wraps");
    CHECK(cast<boolean_t>((int64_t)256).v == 1, "I64 -> BOOL is nonzero");
    CHECK(cast<boolean_t>(NAN).v == 1 && cast<boolean_t>(-0.0f).v == 0, "float -> BOOL");
    CHECK(cast<float>(boolean_t{7}) == 1.0f, "BOOL -> float is 0/1");
    CHECK(cast<int64_t>(boolean_t{7}) == 1, "BOOL -> I64 is 0/1");
    // F64 -> BF16 rounds through F32 like Java: 1 + 2^-8 + 2^-30 -> 1 + 2^-8 (F32) -> 1 (tie to even)
    CHECK(h2u(cast<bf16>(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30))) == 0x3F80, "F64 -> BF16 via F32");
    // I64 -> F32 through double like Java: 2^60 + 2^36 + 1 -> 2^60 + 2^36 (double) -> 2^60 (tie to even)
    CHECK(cast<float>((int64_t)((1LL << 60) + (1LL << 36) + 1)) == std::ldexp(1.0f, 60), "I64 -> F32 via F64");
    CHECK(cast<double>((int64_t)((1LL << 53) + 1)) == std::ldexp(1.0, 53), "I64 -> F64 rounds to even");
    CHECK(h2u(cast<f16>(cast<bf16>(1.0f + 0x1.0p-7f))) == java_float_to_f16(1.0f + 0x1.0p-7f), "BF16 -> F16 via F32");
    printf("conversions: f16/bf16 exhaustive, %zu floats, Java casts\n", fs.size());
}

// ---- reduction algebra under the kernels' combination order --------------------------------------

/* The order of block_allreduce: lane j of warp w takes elements j + 32w, j + 32w + G, ...; warp
 * butterflies (xor 16..1), then warps fold in order. G = lanes * warps threads per row. */
template <typename T, typename Add, typename Op>
static T tree_reduce(int n, int warps, T identity, Add add_elem, Op op) {
    const int G = 32 * warps;
    std::vector<T> lane(G, identity);
    for (int t = 0; t < G; t++) {
        for (int c = t; c < n; c += G) add_elem(lane[t], c);
    }
    for (int w = 0; w < warps; w++) {
        T* v = &lane[32 * w];
        for (int m = 16; m > 0; m >>= 1) {
            std::vector<T> next(32);
            for (int l = 0; l < 32; l++) next[l] = op(v[l], v[l ^ m]);
            std::copy(next.begin(), next.end(), v);
        }
    }
    T r = lane[0];
    for (int w = 1; w < warps; w++) r = op(r, lane[32 * w]);
    return r;
}

static void test_softmax_stats() {
    int cases = 0;
    for (int iter = 0; iter < 600; iter++) {
        const int n = (int)rand_int(1, 3000);
        const int warps = (int)(1 << rand_int(0, 4));
        std::vector<float> x(n);
        for (auto& v : x) v = std::uniform_real_distribution<float>(-30.f, 30.f)(rng);
        const int kind = (int)rand_int(0, 9);
        if (kind == 1) for (auto& v : x) if (rand_int(0, 2) == 0) v = -INFINITY;   // masked entries
        if (kind == 2) for (auto& v : x) v = -INFINITY;
        if (kind == 3) x[rand_int(0, n - 1)] = INFINITY;
        if (kind == 4) x[rand_int(0, n - 1)] = NAN;
        MaxSum<float> st = tree_reduce<MaxSum<float>>(
            n, warps, maxsum_identity<float>(), [&](MaxSum<float>& a, int c) { maxsum_add(a, x[c]); }, MaxSumOp());
        // reference: the CPU backend's softmax statistics in double
        double m = -INFINITY;
        bool nan = false;
        for (float v : x) { if (v != v) nan = true; else m = std::max(m, (double)v); }
        if (nan) {
            CHECK(st.m != st.m && st.s != st.s, "NaN row: (%g, %g)", st.m, st.s);
        } else if (kind == 3) {
            CHECK(st.s != st.s, "+inf row gives a NaN sum (the CPU's exp(inf - inf)), got %g", st.s);
        } else if (m == -INFINITY) {
            CHECK(st.m == -INFINITY && st.s == 0.0f, "all -inf row: (%g, %g), want (-inf, 0)", st.m, st.s);
        } else {
            double s = 0;
            for (float v : x) s += std::exp((double)v - m);
            double lse = m + std::log(s), got = (double)st.m + std::log((double)st.s);
            CHECK(st.m == (float)m, "max %g, want %g", st.m, m);
            CHECK(std::fabs(got - lse) <= 1e-5 * std::max(1.0, std::fabs(lse)), "lse %.9g, want %.9g (n %d)", got, lse, n);
        }
        cases++;
    }
    printf("softmax statistics: %d rows through the warp/block order\n", cases);
}

static void test_arg_reduce_order() {
    int cases = 0;
    for (int iter = 0; iter < 1500; iter++) {
        const int n = (int)rand_int(1, 2500);
        const int warps = (int)(1 << rand_int(0, 3));
        const bool is_max = rand_int(0, 1) == 1;
        std::vector<float> x(n);
        for (auto& v : x) v = (float)rand_int(-5, 5);   // many ties
        if (rand_int(0, 3) == 0) x[rand_int(0, n - 1)] = NAN;
        if (rand_int(0, 3) == 0) x[rand_int(0, n - 1)] = NAN;
        if (rand_int(0, 4) == 0) for (auto& v : x) v = is_max ? -INFINITY : INFINITY;
        ArgFn fn;
        fn.is_max = is_max;
        ArgAcc<float> r = tree_reduce<ArgAcc<float>>(
            n, warps, fn.identity<float>(),
            [&](ArgAcc<float>& a, int c) { ArgAcc<float> e; e.v = x[c]; e.i = c; a = fn(a, e); }, fn);
        // the CPU's scan: first strictly better, stop at the first NaN
        int best = 0;
        float bv = x[0];
        for (int j = 1; j < n && bv == bv; j++) {
            float v = x[j];
            if (v != v || (is_max ? v > bv : v < bv)) { bv = v; best = j; }
        }
        CHECK(r.i == best, "arg%s of %d values: %lld, want %d", is_max ? "max" : "min", n, (long long)r.i, best);
        // sum/max/min of the reduce op under the same order
        ReduceFn sum{LLAVA_REDUCE_SUM}, mx{LLAVA_REDUCE_MAX};
        int64_t s = tree_reduce<int64_t>(n, warps, sum.identity<int64_t>(), [&](int64_t& a, int c) { a = sum(a, (int64_t)c); }, sum);
        CHECK(s == (int64_t)n * (n - 1) / 2, "int64 sum");
        float mv = tree_reduce<float>(n, warps, mx.identity<float>(), [&](float& a, int c) { a = mx(a, x[c]); }, mx);
        bool has_nan = false;
        float want = -INFINITY;
        for (float v : x) { if (v != v) has_nan = true; else want = std::max(want, v); }
        CHECK(has_nan ? mv != mv : mv == want, "max %g", mv);
        cases++;
    }
    printf("arg-reduce order: %d rows (ties, NaN, all -inf)\n", cases);
}

// ---- launch geometry ------------------------------------------------------------------------------

static void test_geometry() {
    for (int64_t cols : {0LL, 1LL, 31LL, 32LL, 33LL, 1000LL, 1024LL, 1025LL, 4096LL, 32000LL, 1LL << 20}) {
        dim3 b = row_block(cols);
        CHECK(b.x % 32 == 0 && b.x * b.y <= 512 && (b.x == 32 || b.y == 1), "row_block(%lld) = (%u, %u)", (long long)cols, b.x, b.y);
        int t = row_threads(cols, 8, 512);
        CHECK(t % 32 == 0 && t >= 32 && t <= 512, "row_threads(%lld) = %d", (long long)cols, t);
    }
    CHECK(grid_for(0, 256) == 1 && grid_for(1LL << 40, 256) == 65536, "grid_for bounds");
    printf("launch geometry checked\n");
}

int main() {
    test_divmod();
    test_offsets();
    test_reduce_plan();
    test_gather_plan();
    test_conversions();
    test_softmax_stats();
    test_arg_reduce_order();
    test_geometry();
    printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
