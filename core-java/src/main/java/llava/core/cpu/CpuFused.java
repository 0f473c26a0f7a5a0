package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/**
 * CPU kernels of the fused ops (rows layout). F32/BF16/F16 tensors take the F32 paths built on
 * {@link FloatKernels} (vectorised; F32 math, long sums per block in F32 and across blocks in
 * double); F64 tensors keep exact double-precision loops (the gradcheck reference).
 */
final class CpuFused {
    private CpuFused() {}

    private static final FloatKernels FK = FloatKernels.get();

    private static boolean f64(Tensor t) { return t.dtype() == DType.F64; }

    private static Object arr(Tensor t) { return CpuBackend.arr(t); }

    private static int grain(int cols) { return Math.max(1, 16384 / Math.max(cols, 1)); }

    /** Loads a whole (contiguous) tensor as doubles; null stays null. */
    private static double[] all(Tensor t) {
        if (t == null) return null;
        double[] v = new double[t.numel()];
        Access.load(arr(t), t.dtype(), t.offset(), 1, v.length, v);
        return v;
    }

    /** acc += part (partial sums of one worker), under a lock on acc. */
    private static void addInto(double[] acc, float[] part) {
        synchronized (acc) {
            for (int i = 0; i < acc.length; i++) acc[i] += part[i];
        }
    }

    private static void addInto(double[] acc, double[] part) {
        synchronized (acc) {
            for (int i = 0; i < acc.length; i++) acc[i] += part[i];
        }
    }

    private static void storeAll(double[] v, Tensor t) {
        Access.store(v, v.length, arr(t), t.dtype(), t.offset(), 1);
    }

    static void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        if (!f64(x)) {
            float[] w = FloatRows.all(weight);
            float[] rs = (float[]) arr(rstd);
            int ro = rstd.offset();
            Parallel.forRange(rows, grain(cols), (s, e) -> {
                FloatRows xr = new FloatRows(x, cols), or = new FloatRows(out, cols);
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    double ss = FK.dot(xr.a, xr.off, xr.a, xr.off, cols);
                    float inv = (float) (1.0 / Math.sqrt(ss / cols + eps));
                    or.target(r);
                    // F32 model math as upstream: (x * rstd) rounded to float, then * weight
                    FK.rmsApply(xr.a, xr.off, inv, w, 0, or.a, or.off, cols);
                    or.store(r);
                    rs[ro + r] = inv;
                }
            });
            return;
        }
        double[] w = all(weight);
        Object xa = arr(x), oa = arr(out);
        float[] rs = (float[]) arr(rstd);
        int xo = x.offset(), oo = out.offset(), ro = rstd.offset();
        DType xd = x.dtype(), od = out.dtype();
        Parallel.forRange(rows, grain(cols), (s, e) -> {
            double[] buf = new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, buf);
                double ss = 0;
                for (int i = 0; i < cols; i++) ss += buf[i] * buf[i];
                double inv = 1.0 / Math.sqrt(ss / cols + eps);
                for (int i = 0; i < cols; i++) buf[i] = buf[i] * inv * (w == null ? 1 : w[i]);
                rs[ro + r] = (float) inv;
                Access.store(buf, cols, oa, od, oo + r * cols, 1);
            }
        });
    }

    static void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gw) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        if (!f64(x)) {
            float[] w = FloatRows.all(weight);
            double[] gwAcc = gw == null ? null : new double[cols];
            float[] rs = (float[]) arr(rstd);
            int ro = rstd.offset();
            Parallel.forRange(rows, grain(cols), (s, e) -> {
                FloatRows xr = new FloatRows(x, cols), gr = new FloatRows(gy, cols), or = new FloatRows(gx, cols);
                float[] local = gwAcc == null ? null : new float[cols];
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    gr.load(r);
                    float inv = rs[ro + r];
                    double dot = FK.dotWeighted(gr.a, gr.off, w, 0, xr.a, xr.off, cols);
                    float c = (float) (dot * inv * inv * inv / cols);
                    or.target(r);
                    FK.rmsBackwardRow(xr.a, xr.off, gr.a, gr.off, w, 0, inv, c, or.a, or.off, local, cols);
                    or.store(r);
                }
                if (local != null) addInto(gwAcc, local);
            });
            if (gw != null) storeAll(gwAcc, gw);
            return;
        }
        double[] w = all(weight);
        double[] gwAcc = gw == null ? null : new double[cols];
        Object xa = arr(x), ga = arr(gy), oa = arr(gx);
        float[] rs = (float[]) arr(rstd);
        DType xd = x.dtype(), gd = gy.dtype(), od = gx.dtype();
        int xo = x.offset(), go = gy.offset(), oo = gx.offset(), ro = rstd.offset();
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
            if (local != null) addInto(gwAcc, local);
        });
        if (gw != null) storeAll(gwAcc, gw);
    }

    static void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int cols = x.size(-1), rows = x.numel() / Math.max(cols, 1);
        if (!f64(x)) {
            float[] w = FloatRows.all(weight), b = FloatRows.all(bias);
            float[] ms = (float[]) arr(mean), rs = (float[]) arr(rstd);
            int mo = mean.offset(), ro = rstd.offset();
            Parallel.forRange(rows, grain(cols), (s, e) -> {
                FloatRows xr = new FloatRows(x, cols), or = new FloatRows(out, cols);
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    float m = (float) (FK.sum(xr.a, xr.off, cols) / cols);
                    double var = FK.sumSqDiff(xr.a, xr.off, cols, m) / cols;
                    float inv = (float) (1.0 / Math.sqrt(var + eps));
                    or.target(r);
                    FK.layerNormApply(xr.a, xr.off, m, inv, w, 0, b, 0, or.a, or.off, cols);
                    or.store(r);
                    ms[mo + r] = m;
                    rs[ro + r] = inv;
                }
            });
            return;
        }
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
        if (!f64(x)) {
            float[] w = FloatRows.all(weight);
            double[] gwAcc = gw == null ? null : new double[cols], gbAcc = gb == null ? null : new double[cols];
            float[] ms = (float[]) arr(mean), rs = (float[]) arr(rstd);
            int mo = mean.offset(), ro = rstd.offset();
            Parallel.forRange(rows, grain(cols), (s, e) -> {
                FloatRows xr = new FloatRows(x, cols), gr = new FloatRows(gy, cols), or = new FloatRows(gx, cols);
                float[] lw = gwAcc == null ? null : new float[cols], lb = gbAcc == null ? null : new float[cols];
                double[] sums = new double[2];
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    gr.load(r);
                    float m = ms[mo + r], inv = rs[ro + r];
                    FK.layerNormBackwardSums(xr.a, xr.off, gr.a, gr.off, w, 0, m, inv, lw, lb, cols, sums);
                    or.target(r);
                    FK.layerNormBackwardApply(xr.a, xr.off, gr.a, gr.off, w, 0, m, inv,
                        (float) (sums[0] / cols), (float) (sums[1] / cols), or.a, or.off, cols);
                    or.store(r);
                }
                if (lw != null) addInto(gwAcc, lw);
                if (lb != null) addInto(gbAcc, lb);
            });
            if (gw != null) storeAll(gwAcc, gw);
            if (gb != null) storeAll(gbAcc, gb);
            return;
        }
        double[] w = all(weight);
        double[] gwAcc = gw == null ? null : new double[cols], gbAcc = gb == null ? null : new double[cols];
        Object xa = arr(x), ga = arr(gy), oa = arr(gx);
        DType xd = x.dtype(), gd = gy.dtype(), od = gx.dtype();
        int xo = x.offset(), go = gy.offset(), oo = gx.offset();
        float[] ms = (float[]) arr(mean), rs = (float[]) arr(rstd);
        int mo = mean.offset(), ro = rstd.offset();
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
            if (lw != null) addInto(gwAcc, lw);
            if (lb != null) addInto(gbAcc, lb);
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
        int xo = x.offset(), oo = out.offset();
        if (!f64(x)) {
            // F32 in place on F32 storage with unit stride in D; otherwise through a widened row
            boolean direct = xd == DType.F32 && od == DType.F32 && xst[3] == 1 && ost[3] == 1;
            Parallel.forRange(B * T, Math.max(1, 4096 / Math.max(1, H * D)), (st, en) -> {
                float[] c = new float[half], sn = new float[half], buf = new float[D], res = new float[D];
                for (int bt = st; bt < en; bt++) {
                    int b = bt / T, t = bt % T;
                    float p = (float) pos[b * T + t];
                    for (int i = 0; i < half; i++) {
                        float ang = p * inv[i]; // F32 angle, as upstream's table
                        c[i] = (float) Math.cos(ang);
                        sn[i] = inverse ? -(float) Math.sin(ang) : (float) Math.sin(ang);
                    }
                    for (int h = 0; h < H; h++) {
                        int xoff = xo + b * xst[0] + t * xst[1] + h * xst[2];
                        int ooff = oo + b * ost[0] + t * ost[1] + h * ost[2];
                        if (direct) {
                            FK.rope((float[]) xa, xoff, xoff + half, c, sn, (float[]) oa, ooff, ooff + half, half);
                        } else {
                            Access.loadF(xa, xd, xoff, xst[3], D, buf, 0);
                            FK.rope(buf, 0, half, c, sn, res, 0, half, half);
                            Access.storeF(res, 0, D, oa, od, ooff, ost[3]);
                        }
                    }
                }
            });
            return;
        }
        Parallel.forRange(B * T, Math.max(1, 4096 / Math.max(1, H * D)), (st, en) -> {
            double[] c = new double[half], sn = new double[half], buf = new double[D], r = new double[D];
            for (int bt = st; bt < en; bt++) {
                int b = bt / T, t = bt % T;
                double p = pos[b * T + t];
                for (int i = 0; i < half; i++) {
                    double ang = p * inv[i];
                    c[i] = Math.cos(ang);
                    sn[i] = inverse ? -Math.sin(ang) : Math.sin(ang);
                }
                for (int h = 0; h < H; h++) {
                    int xoff = xo + b * xst[0] + t * xst[1] + h * xst[2];
                    int ooff = oo + b * ost[0] + t * ost[1] + h * ost[2];
                    Access.load(xa, xd, xoff, xst[3], D, buf);
                    for (int i = 0; i < half; i++) {
                        double x1 = buf[i], x2 = buf[i + half];
                        r[i] = x1 * c[i] - x2 * sn[i];
                        r[i + half] = x2 * c[i] + x1 * sn[i];
                    }
                    Access.store(r, D, oa, od, ooff, ost[3]);
                }
            }
        });
    }

    static void siluMul(Tensor gate, Tensor up, Tensor out) {
        int n = gate.numel();
        if (!f64(gate)) {
            Parallel.forRange(n, 1 << 14, (s, e) -> {
                int blk = Strided.BLOCK;
                FloatRows g = new FloatRows(gate, blk), u = new FloatRows(up, blk), o = new FloatRows(out, blk);
                for (int i0 = s; i0 < e; i0 += blk) {
                    int m = Math.min(blk, e - i0);
                    g.loadAt(i0, m);
                    u.loadAt(i0, m);
                    o.targetAt(i0);
                    FK.siluMul(g.a, g.off, u.a, u.off, o.a, o.off, m);
                    o.storeAt(i0, m);
                }
            });
            return;
        }
        Object ga = arr(gate), ua = arr(up), oa = arr(out);
        DType dt = gate.dtype(), od = out.dtype();
        int go = gate.offset(), uo = up.offset(), oo = out.offset();
        Parallel.forRange(n, 1 << 14, (s, e) -> {
            double[] g = new double[Strided.BLOCK], u = new double[Strided.BLOCK];
            for (int i0 = s; i0 < e; i0 += Strided.BLOCK) {
                int m = Math.min(Strided.BLOCK, e - i0);
                Access.load(ga, dt, go + i0, 1, m, g);
                Access.load(ua, up.dtype(), uo + i0, 1, m, u);
                for (int i = 0; i < m; i++) {
                    double a = g[i] * MathFns.sigmoid(g[i]);
                    g[i] = a * u[i];
                }
                Access.store(g, m, oa, od, oo + i0, 1);
            }
        });
    }

    static void siluMulBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp) {
        int n = gate.numel();
        if (!f64(gate)) {
            Parallel.forRange(n, 1 << 14, (s, e) -> {
                int blk = Strided.BLOCK;
                FloatRows g = new FloatRows(gate, blk), u = new FloatRows(up, blk), y = new FloatRows(gy, blk);
                FloatRows og = new FloatRows(gGate, blk), ou = new FloatRows(gUp, blk);
                for (int i0 = s; i0 < e; i0 += blk) {
                    int m = Math.min(blk, e - i0);
                    g.loadAt(i0, m);
                    u.loadAt(i0, m);
                    y.loadAt(i0, m);
                    og.targetAt(i0);
                    ou.targetAt(i0);
                    FK.siluMulBackward(g.a, g.off, u.a, u.off, y.a, y.off, og.a, og.off, ou.a, ou.off, m);
                    og.storeAt(i0, m);
                    ou.storeAt(i0, m);
                }
            });
            return;
        }
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
        if (dt != DType.F64) { // F32 math: max, vectorised exp-sum (per-block F32, across blocks double)
            float[] lossA = (float[]) lo, lseA = (float[]) ls;
            Parallel.forRange(N, Math.max(1, 8192 / Math.max(V, 1)), (s, e) -> {
                FloatRows xr = new FloatRows(logits, V);
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    float m = FK.max(xr.a, xr.off, V);
                    double sum = FK.expSum(xr.a, xr.off, V, m, null, 0);
                    float l = (float) (m + Math.log(sum));
                    lseA[lsf + r] = l;
                    lossA[lof + r] = tg[r] == ignoreIndex ? 0f : l - xr.a[xr.off + (int) tg[r]];
                }
            });
            return;
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
        if (dt != DType.F64) { // g * exp(x - lse), vectorised
            Parallel.forRange(N, Math.max(1, 8192 / Math.max(V, 1)), (s, e) -> {
                FloatRows xr = new FloatRows(logits, V), or = new FloatRows(gLogits, V);
                for (int r = s; r < e; r++) {
                    or.target(r);
                    if (tg[r] == ignoreIndex) {
                        java.util.Arrays.fill(or.a, or.off, or.off + V, 0f);
                    } else {
                        xr.load(r);
                        float g = (float) gl[r];
                        FK.expScale(xr.a, xr.off, V, (float) ls[r], g, or.a, or.off);
                        or.a[or.off + (int) tg[r]] -= g;
                    }
                    or.store(r);
                }
            });
            return;
        }
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
        int po = param.offset(), mo = expAvg.offset(), vo = expAvgSq.offset();
        // the order and precision of torch.optim.AdamW (single-tensor path): F32 tensors, scalars as floats
        float decay = (float) (1 - lr * weightDecay);
        float b1 = (float) beta1, b2 = (float) beta2, omb1 = (float) (1 - beta1), omb2 = (float) (1 - beta2);
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        float feps = (float) eps;
        boolean decayOn = weightDecay != 0;
        Parallel.forRange(n, 1 << 15, (s, e) -> {
            FloatRows gr = new FloatRows(grad, Strided.BLOCK);
            for (int i0 = s; i0 < e; i0 += Strided.BLOCK) {
                int k = Math.min(Strided.BLOCK, e - i0);
                gr.loadAt(i0, k);
                FK.adamw(p, po + i0, gr.a, gr.off, m, mo + i0, v, vo + i0, k,
                    decayOn, decay, b1, omb1, b2, omb2, stepSize, bc2Sqrt, feps);
            }
        });
        if (copyOut != null) CpuBackend.copyRaw(CpuBackend.Raw.of(param), CpuBackend.Raw.of(copyOut), true);
    }
}
