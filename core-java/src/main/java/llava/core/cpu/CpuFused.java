package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/** CPU kernels of the fused ops (rows layout, double-precision math, stored in each tensor's dtype). */
final class CpuFused {
    private CpuFused() {}

    private static Object arr(Tensor t) { return CpuBackend.arr(t); }

    private static int grain(int cols) { return Math.max(1, 16384 / Math.max(cols, 1)); }

    /** Loads a whole (contiguous) tensor as doubles; null stays null. */
    private static double[] all(Tensor t) {
        if (t == null) return null;
        double[] v = new double[t.numel()];
        Access.load(arr(t), t.dtype(), t.offset(), 1, v.length, v);
        return v;
    }

    private static void storeAll(double[] v, Tensor t) {
        Access.store(v, v.length, arr(t), t.dtype(), t.offset(), 1);
    }

    static void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        double[] w = all(weight);
        Object xa = arr(x), oa = arr(out);
        float[] rs = (float[]) arr(rstd);
        int xo = x.offset(), oo = out.offset(), ro = rstd.offset();
        DType xd = x.dtype(), od = out.dtype();
        boolean f32 = xd == DType.F32 && od == DType.F32;
        Parallel.forRange(rows, grain(cols), (s, e) -> {
            double[] buf = new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, buf);
                double ss = 0;
                for (int i = 0; i < cols; i++) ss += buf[i] * buf[i];
                double inv = 1.0 / Math.sqrt(ss / cols + eps);
                if (f32) {
                    // F32 model math as upstream: (x * rstd) rounded to float, then * weight
                    float fi = (float) inv;
                    for (int i = 0; i < cols; i++) {
                        float h = (float) buf[i] * fi;
                        buf[i] = w == null ? h : (float) w[i] * h;
                    }
                } else {
                    for (int i = 0; i < cols; i++) buf[i] = buf[i] * inv * (w == null ? 1 : w[i]);
                }
                rs[ro + r] = (float) inv;
                Access.store(buf, cols, oa, od, oo + r * cols, 1);
            }
        });
    }

    static void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gw) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        double[] w = all(weight);
        double[] gwAcc = gw == null ? null : new double[cols];
        Object xa = arr(x), ga = arr(gy), oa = arr(gx);
        float[] rs = (float[]) arr(rstd);
        DType xd = x.dtype(), gd = gy.dtype(), od = gx.dtype();
        int xo = x.offset(), go = gy.offset(), oo = gx.offset(), ro = rstd.offset();
        Object lock = new Object();
        Parallel.forRange(rows, grain(cols), (s, e) -> {
            double[] xb = new double[cols], gb = new double[cols];
            double[] local = gwAcc == null ? null : new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, xb);
                Access.load(ga, gd, go + r * cols, 1, cols, gb);
                double inv = rs[ro + r];
                double dot = 0;
                for (int i = 0; i < cols; i++) {
                    double gwv = gb[i] * (w == null ? 1 : w[i]);
                    dot += gwv * xb[i];
                    if (local != null) local[i] += gb[i] * xb[i] * inv;
                }
                double c = dot * inv * inv * inv / cols;
                for (int i = 0; i < cols; i++) gb[i] = gb[i] * (w == null ? 1 : w[i]) * inv - xb[i] * c;
                Access.store(gb, cols, oa, od, oo + r * cols, 1);
            }
            if (local != null) synchronized (lock) { for (int i = 0; i < cols; i++) gwAcc[i] += local[i]; }
        });
        if (gw != null) storeAll(gwAcc, gw);
    }

    static void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        double[] w = all(weight), b = all(bias);
        Object xa = arr(x), oa = arr(out);
        float[] ms = (float[]) arr(mean), rs = (float[]) arr(rstd);
        int xo = x.offset(), oo = out.offset(), mo = mean.offset(), ro = rstd.offset();
        DType xd = x.dtype(), od = out.dtype();
        Parallel.forRange(rows, grain(cols), (s, e) -> {
            double[] buf = new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, buf);
                double m = 0;
                for (int i = 0; i < cols; i++) m += buf[i];
                m /= cols;
                double v = 0;
                for (int i = 0; i < cols; i++) v += (buf[i] - m) * (buf[i] - m);
                v /= cols;
                double inv = 1.0 / Math.sqrt(v + eps);
                for (int i = 0; i < cols; i++) {
                    double h = (buf[i] - m) * inv;
                    if (w != null) h *= w[i];
                    if (b != null) h += b[i];
                    buf[i] = h;
                }
                ms[mo + r] = (float) m;
                rs[ro + r] = (float) inv;
                Access.store(buf, cols, oa, od, oo + r * cols, 1);
            }
        });
    }

    static void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                  Tensor gx, Tensor gw, Tensor gb) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        double[] w = all(weight);
        double[] gwAcc = gw == null ? null : new double[cols], gbAcc = gb == null ? null : new double[cols];
        Object xa = arr(x), ga = arr(gy), oa = arr(gx);
        DType xd = x.dtype(), gd = gy.dtype(), od = gx.dtype();
        int xo = x.offset(), go = gy.offset(), oo = gx.offset();
        float[] ms = (float[]) arr(mean), rs = (float[]) arr(rstd);
        int mo = mean.offset(), ro = rstd.offset();
        Object lock = new Object();
        Parallel.forRange(rows, grain(cols), (s, e) -> {
            double[] xb = new double[cols], gbuf = new double[cols], xhat = new double[cols];
            double[] lw = gwAcc == null ? null : new double[cols], lb = gbAcc == null ? null : new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, xb);
                Access.load(ga, gd, go + r * cols, 1, cols, gbuf);
                double m = ms[mo + r], inv = rs[ro + r];
                double sg = 0, sgx = 0;
                for (int i = 0; i < cols; i++) {
                    xhat[i] = (xb[i] - m) * inv;
                    double g = gbuf[i] * (w == null ? 1 : w[i]);
                    sg += g;
                    sgx += g * xhat[i];
                    if (lw != null) lw[i] += gbuf[i] * xhat[i];
                    if (lb != null) lb[i] += gbuf[i];
                }
                sg /= cols;
                sgx /= cols;
                for (int i = 0; i < cols; i++) {
                    double g = gbuf[i] * (w == null ? 1 : w[i]);
                    gbuf[i] = inv * (g - sg - xhat[i] * sgx);
                }
                Access.store(gbuf, cols, oa, od, oo + r * cols, 1);
            }
            synchronized (lock) {
                if (lw != null) for (int i = 0; i < cols; i++) gwAcc[i] += lw[i];
                if (lb != null) for (int i = 0; i < cols; i++) gbAcc[i] += lb[i];
            }
        });
        if (gw != null) storeAll(gwAcc, gw);
        if (gb != null) storeAll(gbAcc, gb);
    }

    static void rope(Tensor x, Tensor positions, Tensor invFreq, boolean inverse, Tensor out) {
        int[] s = x.shape();
        int B = s[0], T = s[1], H = s[2], D = s[3], half = D / 2;
        int[] xst = x.strides(), ost = out.strides();
        long[] pos = positions.toLongArray();
        float[] inv = invFreq.toFloatArray();
        Object xa = arr(x), oa = arr(out);
        DType xd = x.dtype(), od = out.dtype();
        boolean f64 = xd == DType.F64;
        int xo = x.offset(), oo = out.offset();
        Parallel.forRange(B * T, Math.max(1, 4096 / Math.max(1, H * D)), (st, en) -> {
            double[] c = new double[half], sn = new double[half], buf = new double[D];
            for (int bt = st; bt < en; bt++) {
                int b = bt / T, t = bt % T;
                long p = pos[b * T + t];
                for (int i = 0; i < half; i++) {
                    if (f64) {
                        double ang = (double) p * inv[i];
                        c[i] = Math.cos(ang);
                        sn[i] = Math.sin(ang);
                    } else {
                        float ang = (float) p * inv[i]; // F32 angle, as upstream's table
                        c[i] = (float) Math.cos(ang);
                        sn[i] = (float) Math.sin(ang);
                    }
                    if (inverse) sn[i] = -sn[i];
                }
                for (int h = 0; h < H; h++) {
                    int xoff = xo + b * xst[0] + t * xst[1] + h * xst[2];
                    int ooff = oo + b * ost[0] + t * ost[1] + h * ost[2];
                    Access.load(xa, xd, xoff, xst[3], D, buf);
                    double[] r = new double[D];
                    for (int i = 0; i < half; i++) {
                        double x1 = buf[i], x2 = buf[i + half];
                        if (f64) {
                            r[i] = x1 * c[i] - x2 * sn[i];
                            r[i + half] = x2 * c[i] + x1 * sn[i];
                        } else { // float products and sum, like q*cos + rotate_half(q)*sin in F32
                            r[i] = (float) ((float) (x1 * c[i]) + (float) (-x2 * sn[i]));
                            r[i + half] = (float) ((float) (x2 * c[i]) + (float) (x1 * sn[i]));
                        }
                    }
                    Access.store(r, D, oa, od, ooff, ost[3]);
                }
            }
        });
    }

    static void siluMul(Tensor gate, Tensor up, Tensor out) {
        int n = gate.numel();
        Object ga = arr(gate), ua = arr(up), oa = arr(out);
        DType dt = gate.dtype(), od = out.dtype();
        boolean f32 = dt == DType.F32;
        int go = gate.offset(), uo = up.offset(), oo = out.offset();
        Parallel.forRange(n, 1 << 14, (s, e) -> {
            double[] g = new double[Strided.BLOCK], u = new double[Strided.BLOCK];
            for (int i0 = s; i0 < e; i0 += Strided.BLOCK) {
                int m = Math.min(Strided.BLOCK, e - i0);
                Access.load(ga, dt, go + i0, 1, m, g);
                Access.load(ua, up.dtype(), uo + i0, 1, m, u);
                for (int i = 0; i < m; i++) {
                    double a = g[i] * MathFns.sigmoid(g[i]);
                    g[i] = f32 ? (float) a * (float) u[i] : a * u[i];
                }
                Access.store(g, m, oa, od, oo + i0, 1);
            }
        });
    }

    static void siluMulBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp) {
        int n = gate.numel();
        Object ga = arr(gate), ua = arr(up), ya = arr(gy), gga = arr(gGate), gua = arr(gUp);
        int go = gate.offset(), uo = up.offset(), yo = gy.offset(), ggo = gGate.offset(), guo = gUp.offset();
        Parallel.forRange(n, 1 << 14, (s, e) -> {
            int B = Strided.BLOCK;
            double[] g = new double[B], u = new double[B], y = new double[B], r1 = new double[B], r2 = new double[B];
            for (int i0 = s; i0 < e; i0 += B) {
                int m = Math.min(B, e - i0);
                Access.load(ga, gate.dtype(), go + i0, 1, m, g);
                Access.load(ua, up.dtype(), uo + i0, 1, m, u);
                Access.load(ya, gy.dtype(), yo + i0, 1, m, y);
                for (int i = 0; i < m; i++) {
                    double sg = MathFns.sigmoid(g[i]);
                    r2[i] = y[i] * g[i] * sg;                      // d/d up
                    r1[i] = y[i] * u[i] * sg * (1 + g[i] * (1 - sg)); // d/d gate
                }
                Access.store(r1, m, gga, gGate.dtype(), ggo + i0, 1);
                Access.store(r2, m, gua, gUp.dtype(), guo + i0, 1);
            }
        });
    }

    static void crossEntropy(Tensor logits, Tensor target, long ignoreIndex, Tensor loss, Tensor lse) {
        int V = logits.size(-1), N = logits.numel() / Math.max(V, 1);
        long[] tg = target.toLongArray();
        Object la = arr(logits), lo = arr(loss), ls = arr(lse);
        int lof = loss.offset(), lsf = lse.offset(), xo = logits.offset();
        DType statType = loss.dtype();
        DType dt = logits.dtype();
        for (int i = 0; i < N; i++) {
            if (tg[i] != ignoreIndex && (tg[i] < 0 || tg[i] >= V)) {
                throw new IndexOutOfBoundsException("cross_entropy: target " + tg[i] + " at row " + i + " is out of range [0, " + V + ")");
            }
        }
        Parallel.forRange(N, Math.max(1, 8192 / Math.max(V, 1)), (s, e) -> {
            double[] buf = new double[V];
            for (int r = s; r < e; r++) {
                Access.load(la, dt, xo + r * V, 1, V, buf);
                double m = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < V; i++) m = Math.max(m, buf[i]);
                double sum = 0;
                for (int i = 0; i < V; i++) sum += Math.exp(buf[i] - m);
                double l = m + Math.log(sum);
                double rowLoss = tg[r] == ignoreIndex ? 0 : l - buf[(int) tg[r]];
                Access.store(new double[] {l}, 1, ls, statType, lsf + r, 1);
                Access.store(new double[] {rowLoss}, 1, lo, statType, lof + r, 1);
            }
        });
    }

    static void crossEntropyBackward(Tensor logits, Tensor target, Tensor lse, Tensor gLoss, long ignoreIndex, Tensor gLogits) {
        int V = logits.size(-1), N = logits.numel() / Math.max(V, 1);
        long[] tg = target.toLongArray();
        double[] ls = new double[N], gl = new double[N];
        Access.load(arr(lse), lse.dtype(), lse.offset(), 1, N, ls);
        Access.load(arr(gLoss), gLoss.dtype(), gLoss.offset(), 1, N, gl);
        Object la = arr(logits), oa = arr(gLogits);
        int xo = logits.offset(), oo = gLogits.offset();
        DType dt = logits.dtype(), od = gLogits.dtype();
        Parallel.forRange(N, Math.max(1, 8192 / Math.max(V, 1)), (s, e) -> {
            double[] buf = new double[V];
            for (int r = s; r < e; r++) {
                if (tg[r] == ignoreIndex) {
                    java.util.Arrays.fill(buf, 0);
                } else {
                    Access.load(la, dt, xo + r * V, 1, V, buf);
                    double l = ls[r];
                    double g = gl[r];
                    for (int i = 0; i < V; i++) buf[i] = g * Math.exp(buf[i] - l);
                    buf[(int) tg[r]] -= g;
                }
                Access.store(buf, V, oa, od, oo + r * V, 1);
            }
        });
    }

    static void adamw(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                      double eps, double weightDecay, long step, Tensor copyOut) {
        int n = param.numel();
        float[] p = (float[]) arr(param), m = (float[]) arr(expAvg), v = (float[]) arr(expAvgSq);
        int po = param.offset(), mo = expAvg.offset(), vo = expAvgSq.offset(), go = grad.offset();
        Object ga = arr(grad);
        DType gd = grad.dtype();
        // the order and precision of torch.optim.AdamW (single-tensor path): F32 tensors, scalars as floats
        float decay = (float) (1 - lr * weightDecay);
        float b1 = (float) beta1, b2 = (float) beta2, omb1 = (float) (1 - beta1), omb2 = (float) (1 - beta2);
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        float feps = (float) eps;
        Parallel.forRange(n, 1 << 15, (s, e) -> {
            float[] g = new float[Strided.BLOCK];
            for (int i0 = s; i0 < e; i0 += Strided.BLOCK) {
                int k = Math.min(Strided.BLOCK, e - i0);
                Access.loadF(ga, gd, go + i0, 1, k, g, 0);
                for (int j = 0; j < k; j++) {
                    int i = i0 + j;
                    float gi = g[j];
                    float pi = p[po + i];
                    if (weightDecay != 0) pi = pi * decay;
                    float mi = m[mo + i] * b1 + omb1 * gi;
                    float vi = v[vo + i] * b2 + omb2 * gi * gi;
                    float denom = (float) Math.sqrt(vi) / bc2Sqrt + feps;
                    pi = pi + (-stepSize) * (mi / denom);
                    p[po + i] = pi;
                    m[mo + i] = mi;
                    v[vo + i] = vi;
                }
            }
        });
        if (copyOut != null) CpuBackend.copyRaw(CpuBackend.Raw.of(param), CpuBackend.Raw.of(copyOut), true);
    }
}
