package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/**
 * Attention on the CPU, one query row at a time with an online softmax over key blocks, so
 * memory stays linear in the sequence length. Math in double; results stored in the output dtype.
 */
final class CpuAttention {
    private CpuAttention() {}

    /** Operand layout of a [B, H, T, D] tensor. */
    private record Op(Object arr, DType dt, int off, int sb, int sh, int st, int sd) {
        static Op of(Tensor t) {
            int[] s = t.strides();
            return new Op(CpuBackend.arr(t), t.dtype(), t.offset(), s[0], s[1], s[2], s[3]);
        }

        int at(int b, int h, int t) { return off + b * sb + h * sh + t * st; }

        void row(int b, int h, int t, int D, double[] dst) {
            Access.load(arr, dt, at(b, h, t), sd, D, dst);
        }
    }

    private static boolean[] keyMask(Tensor mask) {
        if (mask == null) return null;
        boolean[] m = mask.toBooleanArray();
        return m;
    }

    static void forward(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale, Tensor out, Tensor lse) {
        int B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
        int Hkv = k.size(1), Tk = k.size(2);
        int group = Hq / Hkv;
        Op qo = Op.of(q), ko = Op.of(k), vo = Op.of(v), oo = Op.of(out);
        boolean[] km = keyMask(mask);
        float[] lseArr = (float[]) CpuBackend.arr(lse);
        int lseOff = lse.offset();
        int shift = Tk - Tq;
        Parallel.forRange(B * Hq * Tq, Math.max(1, 65536 / Math.max(1, Tk * D)), (s, e) -> {
            double[] qr = new double[D], kr = new double[D], acc = new double[D];
            for (int idx = s; idx < e; idx++) {
                int b = idx / (Hq * Tq), h = (idx / Tq) % Hq, i = idx % Tq;
                int hk = h / group;
                qo.row(b, h, i, D, qr);
                double m = Double.NEGATIVE_INFINITY, l = 0;
                java.util.Arrays.fill(acc, 0);
                int jEnd = causal ? Math.min(Tk, i + shift + 1) : Tk;
                for (int j = 0; j < jEnd; j++) {
                    if (km != null && !km[b * Tk + j]) continue;
                    ko.row(b, hk, j, D, kr);
                    double sc = 0;
                    for (int d = 0; d < D; d++) sc += qr[d] * kr[d];
                    sc *= scale;
                    if (sc > m) {
                        double c = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - sc);
                        l *= c;
                        for (int d = 0; d < D; d++) acc[d] *= c;
                        m = sc;
                    }
                    double p = Math.exp(sc - m);
                    l += p;
                    vo.row(b, hk, j, D, kr);
                    for (int d = 0; d < D; d++) acc[d] += p * kr[d];
                }
                if (l == 0) {
                    java.util.Arrays.fill(acc, 0);
                    lseArr[lseOff + (b * Hq + h) * Tq + i] = Float.NEGATIVE_INFINITY;
                } else {
                    for (int d = 0; d < D; d++) acc[d] /= l;
                    lseArr[lseOff + (b * Hq + h) * Tq + i] = (float) (m + Math.log(l));
                }
                Access.store(acc, D, oo.arr, oo.dt, oo.at(b, h, i), oo.sd);
            }
        });
    }

    static void backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, Tensor mask, boolean causal,
                         double scale, Tensor gq, Tensor gk, Tensor gv) {
        int B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3);
        int Hkv = k.size(1), Tk = k.size(2);
        int group = Hq / Hkv;
        Op qo = Op.of(q), ko = Op.of(k), vo = Op.of(v), oo = Op.of(out), go = Op.of(gOut);
        Op gqo = Op.of(gq), gko = Op.of(gk), gvo = Op.of(gv);
        boolean[] km = keyMask(mask);
        float[] lseArr = (float[]) CpuBackend.arr(lse);
        int lseOff = lse.offset();
        int shift = Tk - Tq;
        boolean exactLse = q.dtype() == DType.F64;
        // one task per (batch, kv head): it owns gk/gv rows of that head, so no races
        Parallel.forRange(B * Hkv, 1, (s, e) -> {
            double[] qr = new double[D], kr = new double[D], vr = new double[D], gor = new double[D], orow = new double[D];
            double[] gqr = new double[D];
            double[][] gkAcc = new double[Tk][D], gvAcc = new double[Tk][D];
            double[][] kc = new double[Tk][D], vc = new double[Tk][D];
            for (int task = s; task < e; task++) {
                int b = task / Hkv, hk = task % Hkv;
                for (int j = 0; j < Tk; j++) {
                    ko.row(b, hk, j, D, kc[j]);
                    vo.row(b, hk, j, D, vc[j]);
                    java.util.Arrays.fill(gkAcc[j], 0);
                    java.util.Arrays.fill(gvAcc[j], 0);
                }
                for (int h = hk * group; h < (hk + 1) * group; h++) {
                    for (int i = 0; i < Tq; i++) {
                        qo.row(b, h, i, D, qr);
                        go.row(b, h, i, D, gor);
                        oo.row(b, h, i, D, orow);
                        java.util.Arrays.fill(gqr, 0);
                        double L = lseArr[lseOff + (b * Hq + h) * Tq + i];
                        int jEnd = causal ? Math.min(Tk, i + shift + 1) : Tk;
                        if (L == Double.NEGATIVE_INFINITY) {
                            Access.store(gqr, D, gqo.arr, gqo.dt, gqo.at(b, h, i), gqo.sd);
                            continue;
                        }
                        if (exactLse) { // float64 gradchecks: recompute the logsumexp exactly
                            double m = Double.NEGATIVE_INFINITY, l = 0;
                            for (int j = 0; j < jEnd; j++) {
                                if (km != null && !km[b * Tk + j]) continue;
                                double sc = 0;
                                for (int d = 0; d < D; d++) sc += qr[d] * kc[j][d];
                                sc *= scale;
                                if (sc > m) { l = l * Math.exp(m - sc); m = sc; }
                                l += Math.exp(sc - m);
                            }
                            L = m + Math.log(l);
                        }
                        double Di = 0;
                        for (int d = 0; d < D; d++) Di += gor[d] * orow[d];
                        for (int j = 0; j < jEnd; j++) {
                            if (km != null && !km[b * Tk + j]) continue;
                            double sc = 0;
                            for (int d = 0; d < D; d++) sc += qr[d] * kc[j][d];
                            double p = Math.exp(sc * scale - L);
                            double dp = 0;
                            for (int d = 0; d < D; d++) dp += gor[d] * vc[j][d];
                            double ds = p * (dp - Di) * scale;
                            double[] gkj = gkAcc[j], gvj = gvAcc[j], kj = kc[j];
                            for (int d = 0; d < D; d++) {
                                gqr[d] += ds * kj[d];
                                gkj[d] += ds * qr[d];
                                gvj[d] += p * gor[d];
                            }
                        }
                        Access.store(gqr, D, gqo.arr, gqo.dt, gqo.at(b, h, i), gqo.sd);
                    }
                }
                for (int j = 0; j < Tk; j++) {
                    Access.store(gkAcc[j], D, gko.arr, gko.dt, gko.at(b, hk, j), gko.sd);
                    Access.store(gvAcc[j], D, gvo.arr, gvo.dt, gvo.at(b, hk, j), gvo.sd);
                }
            }
        });
    }
}
