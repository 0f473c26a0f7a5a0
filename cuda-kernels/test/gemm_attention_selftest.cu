/*
 * Standalone check of llava_gemm and the llava_attention_* kernels against a host F64 reference,
 * for the fast paths and the LLAVA_NAIVE_KERNELS=1 reference paths. Needs no JVM.
 *
 * Also a ctest target: cmake -DLLAVA_KERNEL_TESTS=ON builds llava_gemm_attention_test (linked
 * against libllavakernels) and registers it plus its --host-check run.
 * Build and run by hand (from the repository root; see run_selftest.sh beside this file):
 *   nvcc -std=c++17 -O2 -arch=sm_90 -Icuda-kernels/include cuda-kernels/test/gemm_attention_selftest.cu \
 *        cuda-kernels/src/gemm.cu cuda-kernels/src/attention.cu -o /tmp/ga_selftest
 *   /tmp/ga_selftest                # all correctness cases; exit code 1 if any fails, 77 without a GPU
 *   /tmp/ga_selftest --bench        # plus timings of the large bf16 GEMMs and attention
 *   /tmp/ga_selftest --host-check   # no GPU: checks the host attention reference by finite differences
 *   --gemm-only / --attention-only  # one family
 * The same source also runs on the CPU emulator (cuda-kernels/test/emulator/run_emulated.sh) with
 * smaller shapes.
 *
 * Tolerances (fixed from the precision of each path, not tuned to results):
 *   GEMM: |got - ref| <= tol * (|alpha| sum_k |a b| + |bias| + |beta c|), tol = 2^-7 for a BF16
 *   output, 2^-10 for F16 output, 1e-5 for F32 output (F32 accumulation of rounded inputs).
 *   Attention: max|got - ref| / max|ref| <= 2e-2 (BF16) / 5e-3 (F16) / 1e-4 (F32) for the output
 *   and 4e-2 / 1e-2 / 1e-4 for gradients; lse within 1e-3 absolute, -inf exactly where expected.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "llava_kernels.h"

namespace {

int g_failures = 0, g_cases = 0;
std::mt19937_64 g_rng(12345);

const char* dtype_name(int dt) {
  return dt == LLAVA_DTYPE_F32 ? "f32" : dt == LLAVA_DTYPE_BF16 ? "bf16" : "f16";
}
size_t dtype_size(int dt) { return dt == LLAVA_DTYPE_F32 ? 4 : 2; }

float round_to(float x, int dt) {
  if (dt == LLAVA_DTYPE_BF16) return __bfloat162float(__float2bfloat16_rn(x));
  if (dt == LLAVA_DTYPE_F16) return __half2float(__float2half_rn(x));
  return x;
}

std::vector<float> random_vec(size_t n, int dt, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = round_to(u(g_rng), dt);
  return v;
}

#define CUDA_OK(expr)                                                                  \
  do {                                                                                 \
    cudaError_t e_ = (expr);                                                           \
    if (e_ != cudaSuccess) {                                                           \
      fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, \
              __LINE__, #expr);                                                        \
      exit(2);                                                                         \
    }                                                                                  \
  } while (0)

// Device buffer holding `n` elements of dtype after `offset` leading elements (to test misaligned
// pointers); ptr() points at the first element.
struct DevBuf {
  char* base = nullptr;
  size_t offset = 0, n = 0;
  int dt = LLAVA_DTYPE_F32;
  DevBuf(size_t n_, int dt_, size_t offset_ = 0) : offset(offset_), n(n_), dt(dt_) {
    CUDA_OK(cudaMalloc(&base, (n + offset + 8) * dtype_size(dt)));
  }
  ~DevBuf() { cudaFree(base); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void* ptr() const { return base + offset * dtype_size(dt); }
  void upload(const std::vector<float>& v) {
    std::vector<char> bytes(n * dtype_size(dt));
    for (size_t i = 0; i < n; ++i) {
      if (dt == LLAVA_DTYPE_F32) memcpy(&bytes[i * 4], &v[i], 4);
      else if (dt == LLAVA_DTYPE_BF16) { __nv_bfloat16 h = __float2bfloat16_rn(v[i]); memcpy(&bytes[i * 2], &h, 2); }
      else { __half h = __float2half_rn(v[i]); memcpy(&bytes[i * 2], &h, 2); }
    }
    CUDA_OK(cudaMemcpy(ptr(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  }
  std::vector<float> download() const {
    std::vector<char> bytes(n * dtype_size(dt));
    CUDA_OK(cudaMemcpy(bytes.data(), ptr(), bytes.size(), cudaMemcpyDeviceToHost));
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
      if (dt == LLAVA_DTYPE_F32) memcpy(&v[i], &bytes[i * 4], 4);
      else if (dt == LLAVA_DTYPE_BF16) { __nv_bfloat16 h; memcpy(&h, &bytes[i * 2], 2); v[i] = __bfloat162float(h); }
      else { __half h; memcpy(&h, &bytes[i * 2], 2); v[i] = __half2float(h); }
    }
    return v;
  }
  void fill_nan() { CUDA_OK(cudaMemset(ptr(), 0xff, n * dtype_size(dt))); }  // all-ones bits = NaN
};

void set_naive(bool on) {
  if (on) setenv("LLAVA_NAIVE_KERNELS", "1", 1);
  else unsetenv("LLAVA_NAIVE_KERNELS");
}

void report(const std::string& name, bool ok, const char* detail) {
  ++g_cases;
  if (!ok) ++g_failures;
  printf("%-4s %s  %s\n", ok ? "ok" : "FAIL", name.c_str(), detail);
  fflush(stdout);
}

// ============================================================================================
// GEMM
// ============================================================================================

struct GemmCase {
  int batch, M, N, K;
  bool a_col, b_col;  // column-major A ([K][M] storage) / column-major B ([N][K] storage)
  int ab, c;          // dtypes
  bool bias;
  float alpha, beta;
  size_t a_off = 0;   // misalign A by this many elements
  int ld_pad = 0;     // extra elements per leading dimension of A and B
  bool ld_round8 = false;  // round leading dimensions up to a multiple of 8 (keeps the tensor-core
                           // path eligible for odd M, N, K)
  bool a_bcast = false, b_bcast = false;
};

void run_gemm_case(const GemmCase& gc, bool naive) {
  const int64_t M = gc.M, N = gc.N, K = gc.K;
  auto round = [&](int64_t x) { return gc.ld_round8 ? (x + 7) / 8 * 8 : x; };
  const int64_t lda = round((gc.a_col ? M : K) + gc.ld_pad), ldb = round((gc.b_col ? K : N) + gc.ld_pad);
  const int64_t a_mat = (gc.a_col ? K : M) * lda, b_mat = (gc.b_col ? N : K) * ldb;
  const int64_t na = (gc.a_bcast ? 1 : gc.batch) * a_mat, nb = (gc.b_bcast ? 1 : gc.batch) * b_mat;
  const int64_t ldc = N, c_mat = M * ldc, nc = gc.batch * c_mat;
  std::vector<float> a = random_vec(na, gc.ab), b = random_vec(nb, gc.ab), c0 = random_vec(nc, gc.c);
  std::vector<float> bias = gc.bias ? random_vec(N, gc.c) : std::vector<float>();
  const int64_t a_rs = gc.a_col ? 1 : lda, a_cs = gc.a_col ? lda : 1;
  const int64_t b_rs = gc.b_col ? 1 : ldb, b_cs = gc.b_col ? ldb : 1;
  const int64_t a_bs = gc.a_bcast ? 0 : a_mat, b_bs = gc.b_bcast ? 0 : b_mat;

  DevBuf da(na, gc.ab, gc.a_off), db(nb, gc.ab), dc(nc, gc.c), dbias(gc.bias ? N : 1, gc.c);
  da.upload(a);
  db.upload(b);
  if (gc.beta != 0.0f) dc.upload(c0);
  else dc.fill_nan();  // beta == 0 must not read C
  if (gc.bias) dbias.upload(bias);

  set_naive(naive);
  const int st = llava_gemm(nullptr, gc.batch, M, N, K, da.ptr(), a_bs, a_rs, a_cs, db.ptr(), b_bs, b_rs, b_cs,
                            gc.ab, gc.bias ? dbias.ptr() : nullptr, dc.ptr(), c_mat, ldc, gc.c, gc.alpha, gc.beta);
  set_naive(false);
  const cudaError_t sync = cudaDeviceSynchronize();
  char name[256];
  snprintf(name, sizeof name, "gemm %s%-4s->%-4s A=%s B=%s b=%d %dx%dx%d%s alpha=%g beta=%g%s%s%s%s%s",
           naive ? "naive " : "", dtype_name(gc.ab), dtype_name(gc.c), gc.a_col ? "col" : "row",
           gc.b_col ? "col" : "row", gc.batch, gc.M, gc.N, gc.K, gc.bias ? " bias" : "", gc.alpha, gc.beta,
           gc.a_off ? " misaligned-A" : "", gc.ld_pad ? " padded-ld" : "", gc.ld_round8 ? " ld%8=0" : "",
           gc.a_bcast ? " bcast-A" : "", gc.b_bcast ? " bcast-B" : "");
  if (st != 0 || sync != cudaSuccess) {
    char d[128];
    snprintf(d, sizeof d, "status %d (%s), sync %s", st, st > 0 && st < 10000 ? cudaGetErrorString((cudaError_t)st) : "",
             cudaGetErrorString(sync));
    report(name, false, d);
    return;
  }
  const std::vector<float> got = dc.download();
  const double tol = gc.c == LLAVA_DTYPE_F32 ? 1e-5 : gc.c == LLAVA_DTYPE_BF16 ? 1.0 / 128 : 1.0 / 1024;
  double worst = 0.0;
  int64_t bad = 0;
  for (int64_t bz = 0; bz < gc.batch; ++bz) {
    const float* A = a.data() + bz * a_bs;
    const float* B = b.data() + bz * b_bs;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        double s = 0, mag = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double x = (double)A[m * a_rs + k * a_cs] * B[k * b_rs + n * b_cs];
          s += x;
          mag += fabs(x);
        }
        double ref = gc.alpha * s, bound = fabs(gc.alpha) * mag;
        if (gc.bias) { ref += bias[n]; bound += fabs(bias[n]); }
        const int64_t ci = bz * c_mat + m * ldc + n;
        if (gc.beta != 0.0f) { ref += gc.beta * c0[ci]; bound += fabs(gc.beta * c0[ci]); }
        const double err = fabs((double)got[ci] - ref);
        const double ratio = err / (tol * bound + 1e-30);
        if (!(ratio <= 1.0)) ++bad;  // NaN counts as bad
        if (ratio > worst || ratio != ratio) worst = ratio;
      }
    }
  }
  char d[128];
  snprintf(d, sizeof d, "worst err/tol %.3g, %lld bad", worst, (long long)bad);
  report(name, bad == 0, d);
}

void gemm_tests() {
  const int types[3][2] = {{LLAVA_DTYPE_BF16, LLAVA_DTYPE_BF16}, {LLAVA_DTYPE_F16, LLAVA_DTYPE_F32},
                           {LLAVA_DTYPE_F32, LLAVA_DTYPE_F32}};
  struct Shape { int batch, M, N, K; };
#ifdef GA_EMULATION  // the CPU emulator runs one std::thread per CUDA thread: keep shapes small
  const Shape shapes[] = {{1, 1, 1, 1},    {1, 128, 128, 32}, {1, 130, 257, 75}, {3, 33, 17, 200},
                          {1, 1, 300, 64}, {2, 150, 1, 64},   {1, 64, 96, 0},    {1, 7, 9, 8},
                          {1, 129, 129, 136}, {2, 5, 70, 203}, {1, 8, 33, 520}};
#else
  const Shape shapes[] = {{1, 1, 1, 1},      {1, 128, 128, 32},  {1, 130, 257, 75}, {3, 33, 17, 200},
                          {1, 1, 4096, 512}, {2, 300, 1, 64},    {1, 64, 96, 0},    {1, 256, 384, 1000},
                          {1, 7, 9, 8},      {1, 129, 129, 136}, {2, 5, 70, 203},   {1, 8, 33, 520}};
#endif
  // Each shape twice: with tight leading dimensions (odd ones take the SIMT fallback for half
  // types) and with leading dimensions rounded up to 8 (the tensor-core path with its tails).
  for (auto& ty : types)
    for (int layout = 0; layout < 4; ++layout)
      for (const Shape& s : shapes)
        for (int round8 = 0; round8 < 2; ++round8) {
          GemmCase gc{s.batch, s.M, s.N, s.K, (layout & 1) != 0, (layout & 2) != 0, ty[0], ty[1], false, 1.0f, 0.0f};
          gc.ld_round8 = round8 != 0;
          if (gc.ld_round8 && ty[0] == LLAVA_DTYPE_F32) continue;  // F32 has one path
          run_gemm_case(gc, false);
        }
  // epilogue variants, strides, alignment, broadcast, and the naive path
  for (auto& ty : types) {
    run_gemm_case({2, 70, 150, 48, false, true, ty[0], ty[1], true, 0.5f, 0.0f}, false);
    run_gemm_case({2, 70, 150, 48, false, true, ty[0], ty[1], true, 1.0f, 0.75f}, false);
    run_gemm_case({2, 70, 150, 48, true, false, ty[0], ty[1], false, -2.0f, 1.0f}, false);
    GemmCase odd{2, 70, 151, 48, false, true, ty[0], ty[1], true, 1.0f, 0.5f};
    odd.ld_round8 = true;  // tensor cores with an odd N: scalar (unpaired) epilogue stores
    run_gemm_case(odd, false);
    GemmCase mis{1, 100, 72, 64, false, true, ty[0], ty[1], true, 1.0f, 0.0f};
    mis.a_off = 1;  // not 16-byte aligned -> slow path
    run_gemm_case(mis, false);
    GemmCase pad{2, 104, 72, 64, true, true, ty[0], ty[1], false, 1.0f, 0.0f};
    pad.ld_pad = 8;  // still aligned, padded leading dimension
    run_gemm_case(pad, false);
    pad.ld_pad = 3;  // misaligned leading dimension -> slow path
    run_gemm_case(pad, false);
    GemmCase bc{4, 65, 130, 40, false, true, ty[0], ty[1], true, 1.0f, 0.0f};
    bc.b_bcast = true;  // one weight for every batch (Linear over a batch)
    run_gemm_case(bc, false);
    bc.b_bcast = false;
    bc.a_bcast = true;
    run_gemm_case(bc, false);
    for (int layout = 0; layout < 4; ++layout)
      run_gemm_case({2, 130, 257, 75, (layout & 1) != 0, (layout & 2) != 0, ty[0], ty[1], true, 1.0f, 0.5f}, true);
  }
}

// ============================================================================================
// attention: host F64 reference (mirrors llava.core.cpu.CpuAttention)
// ============================================================================================

struct AttnShape {
  int B, Hq, Hkv, Tq, Tk, D;
  bool causal;
  bool mask;
};

struct AttnData {
  AttnShape s;
  int64_t qs[4], ks[4], vs[4];  // element strides of the stored layouts
  std::vector<float> q, k, v;   // stored with those strides
  std::vector<uint8_t> mask;    // [B, Tk]
  float scale;
};

bool visible(const AttnData& a, int b, int i, int j) {
  if (a.s.causal && j > i + (a.s.Tk - a.s.Tq)) return false;
  return !a.s.mask || a.mask[(size_t)b * a.s.Tk + j] != 0;
}

double qk(const AttnData& a, int b, int h, int i, int j) {
  const int hk = h / (a.s.Hq / a.s.Hkv);
  double s = 0;
  for (int d = 0; d < a.s.D; ++d)
    s += (double)a.q[b * a.qs[0] + h * a.qs[1] + i * a.qs[2] + d * a.qs[3]] *
         a.k[b * a.ks[0] + hk * a.ks[1] + j * a.ks[2] + d * a.ks[3]];
  return s * a.scale;
}

float vval(const AttnData& a, int b, int hk, int j, int d) { return a.v[b * a.vs[0] + hk * a.vs[1] + j * a.vs[2] + d * a.vs[3]]; }

// out [B,Hq,Tq,D] and lse [B,Hq,Tq] in double.
void attn_ref_forward(const AttnData& a, std::vector<double>& out, std::vector<double>& lse) {
  const AttnShape& s = a.s;
  out.assign((size_t)s.B * s.Hq * s.Tq * s.D, 0.0);
  lse.assign((size_t)s.B * s.Hq * s.Tq, -INFINITY);
  std::vector<double> sc(s.Tk);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.Hq; ++h)
      for (int i = 0; i < s.Tq; ++i) {
        const size_t row = ((size_t)b * s.Hq + h) * s.Tq + i;
        double m = -INFINITY;
        for (int j = 0; j < s.Tk; ++j) {
          sc[j] = visible(a, b, i, j) ? qk(a, b, h, i, j) : -INFINITY;
          m = fmax(m, sc[j]);
        }
        if (m == -INFINITY) continue;
        double l = 0;
        for (int j = 0; j < s.Tk; ++j) l += sc[j] == -INFINITY ? 0.0 : exp(sc[j] - m);
        lse[row] = m + log(l);
        for (int j = 0; j < s.Tk; ++j) {
          if (sc[j] == -INFINITY) continue;
          const double p = exp(sc[j] - lse[row]);
          for (int d = 0; d < s.D; ++d) out[row * s.D + d] += p * vval(a, b, h / (s.Hq / s.Hkv), j, d);
        }
      }
}

// Gradients given gout, out and lse (as the kernel receives them). gq [B,Hq,Tq,D], gk/gv [B,Hkv,Tk,D].
void attn_ref_backward(const AttnData& a, const std::vector<float>& out, const std::vector<float>& lse,
                       const std::vector<float>& gout, std::vector<double>& gq, std::vector<double>& gk,
                       std::vector<double>& gv) {
  const AttnShape& s = a.s;
  const int group = s.Hq / s.Hkv;
  gq.assign((size_t)s.B * s.Hq * s.Tq * s.D, 0.0);
  gk.assign((size_t)s.B * s.Hkv * s.Tk * s.D, 0.0);
  gv.assign(gk.size(), 0.0);
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.Hq; ++h) {
      const int hk = h / group;
      for (int i = 0; i < s.Tq; ++i) {
        const size_t row = ((size_t)b * s.Hq + h) * s.Tq + i;
        const double L = lse[row];
        if (L == -INFINITY) continue;
        double Di = 0;
        for (int d = 0; d < s.D; ++d) Di += (double)gout[row * s.D + d] * out[row * s.D + d];
        for (int j = 0; j < s.Tk; ++j) {
          if (!visible(a, b, i, j)) continue;
          const double p = exp(qk(a, b, h, i, j) - L);
          double dp = 0;
          for (int d = 0; d < s.D; ++d) dp += (double)gout[row * s.D + d] * vval(a, b, hk, j, d);
          const double ds = p * (dp - Di) * a.scale;
          const size_t krow = ((size_t)b * s.Hkv + hk) * s.Tk + j;
          for (int d = 0; d < s.D; ++d) {
            gq[row * s.D + d] += ds * a.k[b * a.ks[0] + hk * a.ks[1] + j * a.ks[2] + d * a.ks[3]];
            gk[krow * s.D + d] += ds * a.q[b * a.qs[0] + h * a.qs[1] + i * a.qs[2] + d * a.qs[3]];
            gv[krow * s.D + d] += p * gout[row * s.D + d];
          }
        }
      }
    }
}

// Strides of a [B, H, T, D] tensor stored contiguously as [B, H, T, D] or as [B, T, H, D].
void layout_strides(int H, int T, int D, bool bthd, int64_t* st) {
  if (bthd) { st[0] = (int64_t)T * H * D; st[1] = D; st[2] = (int64_t)H * D; st[3] = 1; }
  else { st[0] = (int64_t)H * T * D; st[1] = (int64_t)T * D; st[2] = D; st[3] = 1; }
}

AttnData make_attn(const AttnShape& s, int dt, bool bthd) {
  AttnData a;
  a.s = s;
  layout_strides(s.Hq, s.Tq, s.D, bthd, a.qs);
  layout_strides(s.Hkv, s.Tk, s.D, bthd, a.ks);
  layout_strides(s.Hkv, s.Tk, s.D, bthd, a.vs);
  a.q = random_vec((size_t)s.B * s.Hq * s.Tq * s.D, dt, -2.0f, 2.0f);
  a.k = random_vec((size_t)s.B * s.Hkv * s.Tk * s.D, dt, -2.0f, 2.0f);
  a.v = random_vec((size_t)s.B * s.Hkv * s.Tk * s.D, dt);
  a.mask.assign((size_t)s.B * s.Tk, 1);
  if (s.mask) {
    std::uniform_int_distribution<int> u(0, 4);
    for (auto& m : a.mask) m = u(g_rng) != 0;  // ~20 % padding
    if (s.B > 1)
      for (int j = 0; j < s.Tk; ++j) a.mask[(size_t)(s.B - 1) * s.Tk + j] = 0;  // a batch that sees nothing
  }
  a.scale = 1.0f / sqrtf((float)s.D);
  return a;
}

double norm_err(const std::vector<float>& got, const std::vector<double>& ref) {
  double e = 0, r = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = fabs((double)got[i] - ref[i]);
    if (d != d) return INFINITY;
    e = fmax(e, d);
    r = fmax(r, fabs(ref[i]));
  }
  return e / fmax(r, 1e-6);
}

void run_attn_case(const AttnShape& s, int dt, bool bthd, size_t misalign, bool naive) {
  AttnData a = make_attn(s, dt, bthd);
  const size_t nq = a.q.size(), nkv = a.k.size(), rows = (size_t)s.B * s.Hq * s.Tq;
  DevBuf dq(nq, dt, misalign), dk(nkv, dt), dv(nkv, dt), dout(nq, dt), dlse(rows, LLAVA_DTYPE_F32);
  DevBuf dmask(s.B * (size_t)s.Tk, LLAVA_DTYPE_F32);  // bytes; sized generously
  dq.upload(a.q);
  dk.upload(a.k);
  dv.upload(a.v);
  CUDA_OK(cudaMemcpy(dmask.ptr(), a.mask.data(), a.mask.size(), cudaMemcpyHostToDevice));
  dout.fill_nan();
  dlse.fill_nan();

  char name[256];
  snprintf(name, sizeof name, "attn %s%-4s B=%d Hq=%d Hkv=%d Tq=%d Tk=%d D=%d%s%s%s%s", naive ? "naive " : "",
           dtype_name(dt), s.B, s.Hq, s.Hkv, s.Tq, s.Tk, s.D, s.causal ? " causal" : "", s.mask ? " mask" : "",
           bthd ? " bthd" : "", misalign ? " misaligned-q" : "");
  const uint8_t* mask_ptr = s.mask ? static_cast<const uint8_t*>(dmask.ptr()) : nullptr;

  set_naive(naive);
  int st = llava_attention_forward(nullptr, dt, s.B, s.Hq, s.Hkv, s.Tq, s.Tk, s.D, dq.ptr(), a.qs, dk.ptr(), a.ks,
                                   dv.ptr(), a.vs, mask_ptr, s.causal, a.scale, dout.ptr(), (float*)dlse.ptr());
  cudaError_t sync = cudaDeviceSynchronize();
  if (st != 0 || sync != cudaSuccess) {
    set_naive(false);
    char d[96];
    snprintf(d, sizeof d, "forward status %d, sync %s", st, cudaGetErrorString(sync));
    report(std::string(name) + " fwd", false, d);
    return;
  }
  std::vector<double> ref_out, ref_lse;
  attn_ref_forward(a, ref_out, ref_lse);
  const std::vector<float> out = dout.download(), lse = dlse.download();
  double lse_err = 0;
  bool lse_inf_ok = true;
  for (size_t i = 0; i < rows; ++i) {
    if (ref_lse[i] == -INFINITY) lse_inf_ok &= lse[i] == -INFINITY;
    else lse_err = fmax(lse_err, fabs(lse[i] - ref_lse[i]) + (lse[i] != lse[i] ? INFINITY : 0.0));
  }
  const double out_tol = dt == LLAVA_DTYPE_F32 ? 1e-4 : dt == LLAVA_DTYPE_BF16 ? 2e-2 : 5e-3;
  const double out_err = norm_err(out, ref_out);
  char d[160];
  snprintf(d, sizeof d, "out err %.3g (tol %.g), lse err %.3g%s", out_err, out_tol, lse_err,
           lse_inf_ok ? "" : ", -inf rows wrong");
  report(std::string(name) + " fwd", out_err <= out_tol && lse_err <= 1e-3 && lse_inf_ok, d);

  // backward on the kernel's own out/lse (what the autograd tape hands it)
  const std::vector<float> gout = random_vec(nq, dt);
  DevBuf dgout(nq, dt), dgq(nq, dt), dgk(nkv, dt), dgv(nkv, dt);
  dgout.upload(gout);
  dgq.fill_nan();
  dgk.fill_nan();
  dgv.fill_nan();
  const int64_t ws = llava_attention_backward_workspace_size(dt, s.B, s.Hq, s.Hkv, s.Tq, s.Tk, s.D);
  void* dws = nullptr;
  if (ws > 0) CUDA_OK(cudaMalloc(&dws, ws));
  st = llava_attention_backward(nullptr, dt, s.B, s.Hq, s.Hkv, s.Tq, s.Tk, s.D, dq.ptr(), a.qs, dk.ptr(), a.ks,
                                dv.ptr(), a.vs, dout.ptr(), (const float*)dlse.ptr(), dgout.ptr(), mask_ptr, s.causal,
                                a.scale, dgq.ptr(), dgk.ptr(), dgv.ptr(), dws);
  sync = cudaDeviceSynchronize();
  set_naive(false);
  if (dws) cudaFree(dws);
  if (st != 0 || sync != cudaSuccess) {
    snprintf(d, sizeof d, "backward status %d, sync %s", st, cudaGetErrorString(sync));
    report(std::string(name) + " bwd", false, d);
    return;
  }
  std::vector<double> rgq, rgk, rgv;
  attn_ref_backward(a, out, lse, gout, rgq, rgk, rgv);
  const double g_tol = dt == LLAVA_DTYPE_F32 ? 1e-4 : dt == LLAVA_DTYPE_BF16 ? 4e-2 : 1e-2;
  const double eq = norm_err(dgq.download(), rgq), ek = norm_err(dgk.download(), rgk), ev = norm_err(dgv.download(), rgv);
  snprintf(d, sizeof d, "gq %.3g gk %.3g gv %.3g (tol %.g)", eq, ek, ev, g_tol);
  report(std::string(name) + " bwd", eq <= g_tol && ek <= g_tol && ev <= g_tol, d);
}

void attention_tests() {
  const int dts[3] = {LLAVA_DTYPE_BF16, LLAVA_DTYPE_F16, LLAVA_DTYPE_F32};
  const int dims[5] = {64, 80, 96, 128, 40};  // 40: no tensor-core instantiation -> SIMT path
  for (int dt : dts)
    for (int D : dims) {
#ifdef GA_EMULATION
      run_attn_case({1, 2, 2, 70, 70, D, false, false}, dt, false, 0, false);
      run_attn_case({1, 2, 2, 70, 70, D, true, false}, dt, false, 0, false);
      run_attn_case({2, 2, 1, 37, 90, D, true, true}, dt, false, 0, false);    // GQA, Tq < Tk, padding
      run_attn_case({1, 4, 2, 1, 93, D, true, false}, dt, false, 0, false);    // decode step
      run_attn_case({1, 2, 1, 70, 33, D, true, false}, dt, false, 0, false);   // Tq > Tk: early rows see nothing
      run_attn_case({2, 2, 1, 65, 40, D, false, true}, dt, true, 0, false);    // [B, T, H, D] layout
#else
      run_attn_case({2, 4, 4, 100, 100, D, false, false}, dt, false, 0, false);
      run_attn_case({2, 4, 4, 100, 100, D, true, false}, dt, false, 0, false);
      run_attn_case({2, 4, 2, 77, 130, D, true, true}, dt, false, 0, false);   // GQA, Tq < Tk, padding
      run_attn_case({1, 8, 2, 1, 93, D, true, false}, dt, false, 0, false);    // decode step
      run_attn_case({1, 2, 1, 70, 33, D, true, false}, dt, false, 0, false);   // Tq > Tk: early rows see nothing
      run_attn_case({2, 4, 2, 65, 65, D, false, true}, dt, true, 0, false);    // [B, T, H, D] layout
#endif
    }
  for (int dt : dts) {
    run_attn_case({1, 2, 2, 64, 64, 128, true, false}, dt, false, 1, false);  // misaligned q -> SIMT
    run_attn_case({2, 4, 2, 77, 130, 128, true, true}, dt, false, 0, true);   // naive path
    run_attn_case({1, 3, 1, 0, 50, 64, true, false}, dt, false, 0, false);    // empty query side
    run_attn_case({1, 3, 1, 20, 0, 64, false, false}, dt, false, 0, false);   // no keys at all
  }
  run_attn_case({1, 2, 2, 40, 40, 200, true, true}, LLAVA_DTYPE_BF16, false, 0, false);  // D > 128, SIMT
#ifndef GA_EMULATION
  run_attn_case({1, 2, 1, 300, 300, 64, true, true}, LLAVA_DTYPE_BF16, true, 0, true);
  run_attn_case({1, 4, 4, 513, 513, 128, true, false}, LLAVA_DTYPE_BF16, false, 0, false);
#endif
}

// ============================================================================================
// benchmarks
// ============================================================================================

template <typename F>
float time_ms(F&& fn, int iters) {
  fn();
  CUDA_OK(cudaDeviceSynchronize());
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaEventRecord(e0);
  for (int i = 0; i < iters; ++i) fn();
  cudaEventRecord(e1);
  CUDA_OK(cudaEventSynchronize(e1));
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return ms / iters;
}

void bench() {
  struct G { int M, N, K; bool b_col; };
  const G gs[] = {{4096, 4096, 4096, true}, {4096, 4096, 4096, false}, {8192, 4096, 11008, true},
                  {8192, 11008, 4096, true}, {1, 4096, 4096, true}, {16, 11008, 4096, true}};
  for (const G& g : gs) {
    DevBuf a((size_t)g.M * g.K, LLAVA_DTYPE_BF16), b((size_t)g.K * g.N, LLAVA_DTYPE_BF16), c((size_t)g.M * g.N, LLAVA_DTYPE_BF16);
    CUDA_OK(cudaMemset(a.ptr(), 0x3c, a.n * 2));
    CUDA_OK(cudaMemset(b.ptr(), 0x3c, b.n * 2));
    const int64_t b_rs = g.b_col ? 1 : g.N, b_cs = g.b_col ? g.K : 1;
    int st = 0;
    const float ms = time_ms([&] {
      st |= llava_gemm(nullptr, 1, g.M, g.N, g.K, a.ptr(), 0, g.K, 1, b.ptr(), 0, b_rs, b_cs, LLAVA_DTYPE_BF16, nullptr,
                       c.ptr(), 0, g.N, LLAVA_DTYPE_BF16, 1.0f, 0.0f);
    }, 10);
    printf("bench gemm bf16 %dx%dx%d B=%s: %.3f ms, %.1f TFLOP/s, %.0f GB/s%s\n", g.M, g.N, g.K, g.b_col ? "col" : "row",
           ms, 2.0 * g.M * g.N * g.K / (ms * 1e-3) / 1e12,
           2.0 * ((double)g.M * g.K + (double)g.K * g.N + (double)g.M * g.N) / (ms * 1e-3) / 1e9, st ? " (ERROR)" : "");
  }
  struct A { int B, H, T, D; bool causal; };
  const A as[] = {{4, 32, 2048, 128, true}, {4, 32, 2048, 128, false}, {8, 16, 577, 64, false}, {2, 32, 4096, 128, true}};
  for (const A& t : as) {
    const size_t n = (size_t)t.B * t.H * t.T * t.D, rows = (size_t)t.B * t.H * t.T;
    DevBuf q(n, LLAVA_DTYPE_BF16), k(n, LLAVA_DTYPE_BF16), v(n, LLAVA_DTYPE_BF16), o(n, LLAVA_DTYPE_BF16),
        lse(rows, LLAVA_DTYPE_F32), go(n, LLAVA_DTYPE_BF16), gq(n, LLAVA_DTYPE_BF16), gk(n, LLAVA_DTYPE_BF16),
        gv(n, LLAVA_DTYPE_BF16);
    CUDA_OK(cudaMemset(q.ptr(), 0x3c, n * 2));
    CUDA_OK(cudaMemset(k.ptr(), 0x3c, n * 2));
    CUDA_OK(cudaMemset(v.ptr(), 0x3c, n * 2));
    CUDA_OK(cudaMemset(go.ptr(), 0x3c, n * 2));
    int64_t st4[4];
    layout_strides(t.H, t.T, t.D, false, st4);
    const float scale = 1.0f / sqrtf((float)t.D);
    void* ws = nullptr;
    CUDA_OK(cudaMalloc(&ws, llava_attention_backward_workspace_size(LLAVA_DTYPE_BF16, t.B, t.H, t.H, t.T, t.T, t.D)));
    int st = 0;
    const float fwd = time_ms([&] {
      st |= llava_attention_forward(nullptr, LLAVA_DTYPE_BF16, t.B, t.H, t.H, t.T, t.T, t.D, q.ptr(), st4, k.ptr(), st4,
                                    v.ptr(), st4, nullptr, t.causal, scale, o.ptr(), (float*)lse.ptr());
    }, 5);
    const float bwd = time_ms([&] {
      st |= llava_attention_backward(nullptr, LLAVA_DTYPE_BF16, t.B, t.H, t.H, t.T, t.T, t.D, q.ptr(), st4, k.ptr(), st4,
                                     v.ptr(), st4, o.ptr(), (const float*)lse.ptr(), go.ptr(), nullptr, t.causal, scale,
                                     gq.ptr(), gk.ptr(), gv.ptr(), ws);
    }, 5);
    cudaFree(ws);
    const double flops = 4.0 * t.B * t.H * (double)t.T * t.T * t.D / (t.causal ? 2 : 1);
    printf("bench attn bf16 B=%d H=%d T=%d D=%d%s: fwd %.3f ms %.1f TFLOP/s, bwd %.3f ms %.1f TFLOP/s (2.5x fwd flops)%s\n",
           t.B, t.H, t.T, t.D, t.causal ? " causal" : "", fwd, flops / (fwd * 1e-3) / 1e12, bwd,
           2.5 * flops / (bwd * 1e-3) / 1e12, st ? " (ERROR)" : "");
  }
}

// ============================================================================================
// host-only check of the attention reference (finite differences of sum(gout * out))
// ============================================================================================

int host_check() {
  const AttnShape shapes[] = {{2, 4, 2, 5, 7, 6, true, true}, {1, 2, 1, 6, 4, 3, true, false}, {1, 2, 2, 3, 5, 4, false, false}};
  int fails = 0;
  for (const AttnShape& s : shapes) {
    AttnData a = make_attn(s, LLAVA_DTYPE_F32, true);
    std::vector<double> out, lse;
    attn_ref_forward(a, out, lse);
    std::vector<float> gout = random_vec(out.size(), LLAVA_DTYPE_F32);
    std::vector<float> outf(out.begin(), out.end()), lsef(lse.begin(), lse.end());
    std::vector<double> gq, gk, gv;
    // (out and lse pass through float, as they do from the GPU; that error is far below 1e-3)
    attn_ref_backward(a, outf, lsef, gout, gq, gk, gv);
    auto loss = [&](AttnData& x) {
      std::vector<double> o, l;
      attn_ref_forward(x, o, l);
      double sum = 0;
      for (size_t i = 0; i < o.size(); ++i) sum += o[i] * gout[i];
      return sum;
    };
    double worst = 0;
    auto check = [&](std::vector<float>& param, const int64_t* st, int H, int T, const std::vector<double>& grad) {
      for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < H; ++h)
          for (int t = 0; t < T; ++t)
            for (int d = 0; d < s.D; ++d) {
              const int64_t idx = b * st[0] + h * st[1] + t * st[2] + d * st[3];
              const float keep = param[idx];
              const float eps = 1e-3f;
              param[idx] = keep + eps;
              const double lp = loss(a);
              param[idx] = keep - eps;
              const double lm = loss(a);
              param[idx] = keep;
              const double num = (lp - lm) / (2.0 * ((double)(keep + eps) - (double)keep));
              const double ana = grad[(((size_t)b * H + h) * T + t) * s.D + d];
              worst = fmax(worst, fabs(num - ana) / (fabs(num) + 1e-2));
            }
    };
    check(a.q, a.qs, s.Hq, s.Tq, gq);
    check(a.k, a.ks, s.Hkv, s.Tk, gk);
    check(a.v, a.vs, s.Hkv, s.Tk, gv);
    const bool ok = worst < 1e-3;
    fails += !ok;
    printf("%-4s host reference B=%d Hq=%d Hkv=%d Tq=%d Tk=%d D=%d%s%s: worst finite-difference mismatch %.3g\n",
           ok ? "ok" : "FAIL", s.B, s.Hq, s.Hkv, s.Tq, s.Tk, s.D, s.causal ? " causal" : "", s.mask ? " mask" : "", worst);
  }
  return fails;
}

}  // namespace

int main(int argc, char** argv) {
  bool do_bench = false, do_gemm = true, do_attn = true;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--host-check")) return host_check() == 0 ? 0 : 1;
    if (!strcmp(argv[i], "--bench")) do_bench = true;
    if (!strcmp(argv[i], "--gemm-only")) do_attn = false;
    if (!strcmp(argv[i], "--attention-only")) do_gemm = false;
  }
  int dev = 0, count = 0;
  const cudaError_t probe = cudaGetDeviceCount(&count);
  if (probe != cudaSuccess || count == 0) {  // 77 = "skipped" for ctest
    printf("skipped: no usable GPU (%s)\n", probe != cudaSuccess ? cudaGetErrorString(probe) : "no device");
    return 77;
  }
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDevice(&dev));
  CUDA_OK(cudaGetDeviceProperties(&prop, dev));
  printf("device %d: %s, sm_%d%d, %d SMs\n", dev, prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  if (host_check() != 0) ++g_failures;
  if (do_gemm) gemm_tests();
  if (do_attn) attention_tests();
  printf("%d of %d cases failed\n", g_failures, g_cases);
  if (do_bench) bench();
  return g_failures == 0 ? 0 : 1;
}
