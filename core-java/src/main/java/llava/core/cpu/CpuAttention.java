package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/**
 * Attention on the CPU with an online softmax over blocks of keys, so memory stays linear in the
 * sequence length (no Tq x Tk matrix is ever built).
 *
 * <p>F32/BF16/F16 (F32 math): queries are processed in blocks of {@link #BQ} rows against key
 * blocks of {@link #BK}: scores = Q K^T and the output update P V are small GEMMs on
 * {@link FloatKernels#gemm} (K is transposed once per head into an F32 buffer), exponentials are
 * vectorised, and tasks (batch, head, query block) are spread over the cores with dynamic
 * scheduling, which balances causal rows of uneven length. Few query rows (decode) skip the
 * transposition and take dot products against the key rows directly. The backward pass
 * recomputes the probabilities from the saved logsumexp (FlashAttention-2 style), keeps dK/dV
 * partial sums per worker and adds them up at the end.
 *
 * <p>F64 (gradchecks): one query row at a time in double, with the logsumexp recomputed exactly.
 */
final class CpuAttention {
    private CpuAttention() {}

    /** Query rows and keys per block. */
    static final int BQ = 48, BK = 64;
    /** Below this many query rows the forward pass works row by row (decode). */
    static final int ROW_MODE_MAX_TQ = 8;

    static void forward(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale, Tensor out, Tensor lse) {
        Call c = Call.of(q, k, v, out, mask, lse);
        if (q.dtype() == DType.F64) forwardF64(c, causal, scale);
        else if (c.g.Tq <= ROW_MODE_MAX_TQ) forwardRows(c, causal, (float) scale);
        else forwardBlocked(c, causal, (float) scale);
    }

    static void backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, Tensor mask, boolean causal,
                         double scale, Tensor gq, Tensor gk, Tensor gv) {
        Call c = Call.of(q, k, v, out, mask, lse);
        Op go = Op.of(gOut), gqo = Op.of(gq), gko = Op.of(gk), gvo = Op.of(gv);
        if (q.dtype() == DType.F64) backwardF64(c, go, causal, scale, gqo, gko, gvo);
        else backwardBlocked(c, go, causal, (float) scale, gqo, gko, gvo);
    }

    /** Geometry shared by the passes (nqb: query blocks of the F32 passes). */
    private record Dims(int B, int Hq, int Hkv, int group, int Tq, int Tk, int D, int shift, int nqb) {
        static Dims of(Tensor q, Tensor k) {
            int B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
            return new Dims(B, Hq, Hkv, Hq / Hkv, Tq, Tk, D, Tk - Tq, (Tq + BQ - 1) / BQ);
        }

        /** Keys [0, end) visible to query row i (causal), or all keys. */
        int keyEnd(boolean causal, int i) { return causal ? Math.max(0, Math.min(Tk, i + shift + 1)) : Tk; }

        /**
         * Keys to compute scores for when a block needs keys below kEnd: kEnd rounded up to whole
         * register tiles (the extra scores are masked to -inf, i.e. probability 0), so that the
         * diagonal blocks of a causal mask do not fall back to the narrow edge loops.
         */
        int computeEnd(int kEnd, FloatKernels fk) {
            int nr = fk.nr();
            return Math.min(Tk, (kEnd + nr - 1) / nr * nr);
        }
    }

    /** One call's operands, key mask and logsumexp, with its geometry (what every pass starts from). */
    private record Call(Dims g, Op q, Op k, Op v, Op out, boolean[] km, float[] lse, int lseOff) {
        static Call of(Tensor q, Tensor k, Tensor v, Tensor out, Tensor mask, Tensor lse) {
            return new Call(Dims.of(q, k), Op.of(q), Op.of(k), Op.of(v), Op.of(out), mask == null ? null : mask.toBooleanArray(),
                (float[]) CpuBackend.arr(lse), lse.offset());
        }

        /** Where the logsumexp of query row i of head (b, h) is kept. */
        int lseAt(int b, int h, int i) { return lseOff + (b * g.Hq + h) * g.Tq + i; }
    }

    /**
     * Rows [0, T) of head (b, h) of op as floats: dst[dOff + j * D + d] (row-major), or
     * dst[dOff + d * T + j] (transposed).
     */
    private static void loadHead(Op op, int b, int h, int T, int D, float[] dst, int dOff, boolean transposed, float[] row) {
        for (int j = 0; j < T; j++) {
            if (!transposed) {
                Access.loadF(op.arr, op.dt, op.at(b, h, j), op.sd, D, dst, dOff + j * D);
            } else {
                Access.loadF(op.arr, op.dt, op.at(b, h, j), op.sd, D, row, 0);
                for (int d = 0; d < D; d++) dst[dOff + d * T + j] = row[d];
            }
        }
    }

    /** Scores row (already scaled): -inf for keys that are masked out or at or beyond end. */
    private static void maskRow(float[] s, int off, int nk, int j0, int end, boolean[] km, int kmOff) {
        int vis = Math.max(0, Math.min(nk, end - j0));
        for (int jj = vis; jj < nk; jj++) s[off + jj] = Float.NEGATIVE_INFINITY;
        if (km != null) {
            for (int jj = 0; jj < vis; jj++) if (!km[kmOff + j0 + jj]) s[off + jj] = Float.NEGATIVE_INFINITY;
        }
    }

    /** Query row i of head (b, h) into dst[off..off + D), times scale (so that Q K^T comes out scaled). */
    private static void loadQuery(Op qo, int b, int h, int i, int D, float scale, float[] dst, int off, FloatKernels fk) {
        Access.loadF(qo.arr, qo.dt, qo.at(b, h, i), qo.sd, D, dst, off);
        fk.scale(dst, off, D, scale, dst, off);
    }

    /**
     * Online-softmax update of one query row with a block of scaled scores s[off..off + nk):
     * p = exp(s - m_new) written in place, l and the accumulator row rescaled by exp(m - m_new).
     */
    private static void onlineUpdate(float[] s, int off, int nk, float[] m, float[] l, int i, float[] acc, int accOff, int D,
                                     FloatKernels fk) {
        float bm = fk.max(s, off, nk);
        if (bm == Float.NEGATIVE_INFINITY) { // nothing visible in this block
            java.util.Arrays.fill(s, off, off + nk, 0f);
            return;
        }
        float mNew = Math.max(m[i], bm);
        float alpha = m[i] == Float.NEGATIVE_INFINITY ? 0f : fk.exp(m[i] - mNew);
        double sum = fk.expSum(s, off, nk, mNew, s, off);
        l[i] = (float) (l[i] * alpha + sum);
        if (alpha != 1f) fk.scale(acc, accOff, D, alpha, acc, accOff);
        m[i] = mNew;
    }

    /** Output row i of head (b, h) = acc / l (0 when no key was visible), its lse = m + log l. */
    private static void finishRow(Call c, int b, int h, int i, float[] acc, int accOff, float m, float l, FloatKernels fk) {
        int D = c.g.D;
        if (l == 0) {
            java.util.Arrays.fill(acc, accOff, accOff + D, 0f);
            c.lse[c.lseAt(b, h, i)] = Float.NEGATIVE_INFINITY;
        } else {
            fk.scale(acc, accOff, D, 1f / l, acc, accOff);
            c.lse[c.lseAt(b, h, i)] = (float) (m + Math.log(l));
        }
        Access.storeF(acc, accOff, D, c.out.arr, c.out.dt, c.out.at(b, h, i), c.out.sd);
    }

    /** Per-worker buffers of the forward pass. */
    private static final class FwdScratch {
        final float[] q, s, acc, m, l, row;

        FwdScratch(int rows, int D) {
            q = new float[rows * D];
            s = new float[rows * BK];
            acc = new float[rows * D];
            m = new float[rows];
            l = new float[rows];
            row = new float[D];
        }
    }

    private static void forwardBlocked(Call c, boolean causal, float scale) {
        Dims g = c.g;
        int D = g.D, Tk = g.Tk;
        FloatKernels fk = FloatKernels.get();
        int heads = g.B * g.Hkv;
        // K transposed to [D, Tk] and V as [Tk, D], in F32, per kv head
        float[] kt = new float[heads * D * Tk], vf = new float[heads * Tk * D];
        Parallel.forRange(heads, 1, (s, e) -> {
            float[] row = new float[D];
            for (int bh = s; bh < e; bh++) {
                loadHead(c.k, bh / g.Hkv, bh % g.Hkv, Tk, D, kt, bh * D * Tk, true, row);
                loadHead(c.v, bh / g.Hkv, bh % g.Hkv, Tk, D, vf, bh * Tk * D, false, row);
            }
        });
        Parallel.forDynamic(g.B * g.Hq * g.nqb, () -> new FwdScratch(BQ, D), (w, task) -> {
            int qb = task % g.nqb, h = (task / g.nqb) % g.Hq, b = task / (g.nqb * g.Hq);
            int bh = b * g.Hkv + h / g.group;
            int i0 = qb * BQ, mq = Math.min(BQ, g.Tq - i0);
            for (int i = 0; i < mq; i++) loadQuery(c.q, b, h, i0 + i, D, scale, w.q, i * D, fk);
            java.util.Arrays.fill(w.acc, 0, mq * D, 0f);
            java.util.Arrays.fill(w.m, 0, mq, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(w.l, 0, mq, 0f);
            int kEnd = g.keyEnd(causal, i0 + mq - 1), kLimit = g.computeEnd(kEnd, fk);
            for (int j0 = 0; j0 < kEnd; j0 += BK) {
                int nk = Math.min(BK, kLimit - j0);
                fk.gemm(mq, nk, D, w.q, 0, D, 1, kt, bh * D * Tk + j0, Tk, w.s, 0, BK, false);   // S = (scale Q) K^T
                for (int i = 0; i < mq; i++) {
                    maskRow(w.s, i * BK, nk, j0, g.keyEnd(causal, i0 + i), c.km, b * Tk);
                    onlineUpdate(w.s, i * BK, nk, w.m, w.l, i, w.acc, i * D, D, fk);
                }
                fk.gemm(mq, D, nk, w.s, 0, BK, vf, bh * Tk * D + j0 * D, D, w.acc, 0, D);
            }
            for (int i = 0; i < mq; i++) {
                finishRow(c, b, h, i0 + i, w.acc, i * D, w.m[i], w.l[i], fk);
            }
        }, null);
    }

    /** Decode-style forward: each query row takes dot products with the key rows directly. */
    private static void forwardRows(Call c, boolean causal, float scale) {
        Dims g = c.g;
        int D = g.D, Tk = g.Tk;
        Op ko = c.k, vo = c.v;
        FloatKernels fk = FloatKernels.get();
        boolean kDirect = ko.dt == DType.F32 && ko.sd == 1, vDirect = vo.dt == DType.F32 && vo.sd == 1;
        int tasks = g.B * g.Hq * g.Tq;
        Parallel.forDynamic(tasks, () -> new FwdScratch(1, D), (w, task) -> {
            int i = task % g.Tq, h = (task / g.Tq) % g.Hq, b = task / (g.Tq * g.Hq), hk = h / g.group;
            loadQuery(c.q, b, h, i, D, scale, w.q, 0, fk);
            java.util.Arrays.fill(w.acc, 0, D, 0f);
            w.m[0] = Float.NEGATIVE_INFINITY;
            w.l[0] = 0;
            int end = g.keyEnd(causal, i);
            for (int j0 = 0; j0 < end; j0 += BK) {
                int nk = Math.min(BK, end - j0);
                for (int jj = 0; jj < nk; jj++) {
                    int at = ko.at(b, hk, j0 + jj);
                    if (kDirect) {
                        w.s[jj] = (float) fk.dot(w.q, 0, (float[]) ko.arr, at, D);
                    } else {
                        Access.loadF(ko.arr, ko.dt, at, ko.sd, D, w.row, 0);
                        w.s[jj] = (float) fk.dot(w.q, 0, w.row, 0, D);
                    }
                }
                maskRow(w.s, 0, nk, j0, end, c.km, b * Tk);
                onlineUpdate(w.s, 0, nk, w.m, w.l, 0, w.acc, 0, D, fk);
                for (int jj = 0; jj < nk; jj++) {
                    float p = w.s[jj];
                    int at = vo.at(b, hk, j0 + jj);
                    if (vDirect) {
                        fk.axpy(p, (float[]) vo.arr, at, w.acc, 0, D);
                    } else {
                        Access.loadF(vo.arr, vo.dt, at, vo.sd, D, w.row, 0);
                        fk.axpy(p, w.row, 0, w.acc, 0, D);
                    }
                }
            }
            finishRow(c, b, h, i, w.acc, 0, w.m[0], w.l[0], fk);
        }, null);
    }

    /** Per-worker buffers of the backward pass, with dK/dV partial sums for one kv head. */
    private static final class BwdScratch {
        final float[] q, qs, dout, dq, s, dp, lse, di, row;
        final float[] dk, dv;
        int head = -1, touched;

        BwdScratch(int D, int Tk) {
            q = new float[BQ * D];
            qs = new float[BQ * D];
            dout = new float[BQ * D];
            dq = new float[BQ * D];
            s = new float[BQ * BK];
            dp = new float[BQ * BK];
            lse = new float[BQ];
            di = new float[BQ];
            row = new float[D];
            dk = new float[Tk * D];
            dv = new float[Tk * D];
        }
    }

    private static void backwardBlocked(Call c, Op go, boolean causal, float scale, Op gqo, Op gko, Op gvo) {
        Dims g = c.g;
        int D = g.D, Tk = g.Tk;
        Op qo = c.q, oo = c.out;
        FloatKernels fk = FloatKernels.get();
        int heads = g.B * g.Hkv, hs = Tk * D;
        // per kv head, in F32: K as [Tk, D], K^T and V^T as [D, Tk]
        float[] kf = new float[heads * hs], kt = new float[heads * hs], vt = new float[heads * hs];
        Parallel.forRange(heads, 1, (s, e) -> {
            float[] row = new float[D];
            for (int bh = s; bh < e; bh++) {
                int b = bh / g.Hkv, hk = bh % g.Hkv;
                loadHead(c.k, b, hk, Tk, D, kf, bh * hs, false, row);
                loadHead(c.k, b, hk, Tk, D, kt, bh * hs, true, row);
                loadHead(c.v, b, hk, Tk, D, vt, bh * hs, true, row);
            }
        });
        float[] dkAll = new float[heads * hs], dvAll = new float[heads * hs];
        java.util.function.Consumer<BwdScratch> flush = w -> {
            if (w.head < 0) return;
            int n = w.touched * D, base = w.head * hs;
            synchronized (dkAll) {
                fk.binary(FloatKernels.Bin.ADD, dkAll, base, 1, w.dk, 0, 1, dkAll, base, n);
                fk.binary(FloatKernels.Bin.ADD, dvAll, base, 1, w.dv, 0, 1, dvAll, base, n);
            }
            java.util.Arrays.fill(w.dk, 0, n, 0f);
            java.util.Arrays.fill(w.dv, 0, n, 0f);
            w.head = -1;
            w.touched = 0;
        };
        // tasks ordered by kv head, so that a worker's consecutive tasks mostly share dK/dV partials
        int perHead = g.group * g.nqb;
        Parallel.forDynamic(heads * perHead, () -> new BwdScratch(D, Tk), (w, task) -> {
            int bh = task / perHead, r = task % perHead;
            int b = bh / g.Hkv, h = (bh % g.Hkv) * g.group + r / g.nqb, qb = r % g.nqb;
            if (w.head != bh) {
                flush.accept(w);
                w.head = bh;
            }
            int i0 = qb * BQ, mq = Math.min(BQ, g.Tq - i0);
            for (int i = 0; i < mq; i++) {
                int row = i0 + i;
                Access.loadF(qo.arr, qo.dt, qo.at(b, h, row), qo.sd, D, w.q, i * D);
                fk.scale(w.q, i * D, D, scale, w.qs, i * D);
                Access.loadF(go.arr, go.dt, go.at(b, h, row), go.sd, D, w.dout, i * D);
                Access.loadF(oo.arr, oo.dt, oo.at(b, h, row), oo.sd, D, w.row, 0);
                w.di[i] = (float) fk.dot(w.dout, i * D, w.row, 0, D);
                w.lse[i] = c.lse[c.lseAt(b, h, row)];
            }
            java.util.Arrays.fill(w.dq, 0, mq * D, 0f);
            int kEnd = g.keyEnd(causal, i0 + mq - 1), kLimit = g.computeEnd(kEnd, fk);
            w.touched = Math.max(w.touched, kLimit);
            for (int j0 = 0; j0 < kEnd; j0 += BK) {
                int nk = Math.min(BK, kLimit - j0);
                fk.gemm(mq, nk, D, w.qs, 0, D, 1, kt, bh * hs + j0, Tk, w.s, 0, BK, false);      // S = (scale Q) K^T
                fk.gemm(mq, nk, D, w.dout, 0, D, 1, vt, bh * hs + j0, Tk, w.dp, 0, BK, false);   // dP = dO V^T
                for (int i = 0; i < mq; i++) {
                    int off = i * BK;
                    if (w.lse[i] == Float.NEGATIVE_INFINITY) { // row saw no key: no gradient
                        java.util.Arrays.fill(w.s, off, off + nk, 0f);
                        java.util.Arrays.fill(w.dp, off, off + nk, 0f);
                        continue;
                    }
                    maskRow(w.s, off, nk, j0, g.keyEnd(causal, i0 + i), c.km, b * Tk);
                    fk.attentionGradRow(w.s, off, w.dp, off, nk, w.lse[i], w.di[i], scale); // P, and dS = P (dP - Di) scale
                }
                fk.gemm(mq, D, nk, w.dp, 0, BK, 1, kf, bh * hs + j0 * D, D, w.dq, 0, D, true);      // dQ += dS K
                fk.gemm(nk, D, mq, w.dp, 0, 1, BK, w.q, 0, D, w.dk, j0 * D, D, true);              // dK += dS^T Q
                fk.gemm(nk, D, mq, w.s, 0, 1, BK, w.dout, 0, D, w.dv, j0 * D, D, true);            // dV += P^T dO
            }
            for (int i = 0; i < mq; i++) Access.storeF(w.dq, i * D, D, gqo.arr, gqo.dt, gqo.at(b, h, i0 + i), gqo.sd);
        }, flush);
        Parallel.forRange(heads, 1, (s, e) -> {
            for (int bh = s; bh < e; bh++) {
                int b = bh / g.Hkv, hk = bh % g.Hkv;
                for (int j = 0; j < Tk; j++) {
                    Access.storeF(dkAll, bh * hs + j * D, D, gko.arr, gko.dt, gko.at(b, hk, j), gko.sd);
                    Access.storeF(dvAll, bh * hs + j * D, D, gvo.arr, gvo.dt, gvo.at(b, hk, j), gvo.sd);
                }
            }
        });
    }


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

    private static void forwardF64(Call c, boolean causal, double scale) {
        Dims g = c.g;
        int Hq = g.Hq, Tq = g.Tq, D = g.D, Tk = g.Tk;
        boolean[] km = c.km;
        Parallel.forRange(g.B * Hq * Tq, Math.max(1, 65536 / Math.max(1, Tk * D)), (s, e) -> {
            double[] qr = new double[D], kr = new double[D], acc = new double[D];
            for (int idx = s; idx < e; idx++) {
                int b = idx / (Hq * Tq), h = (idx / Tq) % Hq, i = idx % Tq;
                int hk = h / g.group;
                c.q.row(b, h, i, D, qr);
                double m = Double.NEGATIVE_INFINITY, l = 0;
                java.util.Arrays.fill(acc, 0);
                int jEnd = g.keyEnd(causal, i);
                for (int j = 0; j < jEnd; j++) {
                    if (km != null && !km[b * Tk + j]) continue;
                    c.k.row(b, hk, j, D, kr);
                    double sc = 0;
                    for (int d = 0; d < D; d++) sc += qr[d] * kr[d];
                    sc *= scale;
                    if (sc > m) {
                        double r = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(m - sc);
                        l *= r;
                        for (int d = 0; d < D; d++) acc[d] *= r;
                        m = sc;
                    }
                    double p = Math.exp(sc - m);
                    l += p;
                    c.v.row(b, hk, j, D, kr);
                    for (int d = 0; d < D; d++) acc[d] += p * kr[d];
                }
                if (l == 0) {
                    java.util.Arrays.fill(acc, 0);
                    c.lse[c.lseAt(b, h, i)] = Float.NEGATIVE_INFINITY;
                } else {
                    for (int d = 0; d < D; d++) acc[d] /= l;
                    c.lse[c.lseAt(b, h, i)] = (float) (m + Math.log(l));
                }
                Access.store(acc, D, c.out.arr, c.out.dt, c.out.at(b, h, i), c.out.sd);
            }
        });
    }

    private static void backwardF64(Call c, Op go, boolean causal, double scale, Op gqo, Op gko, Op gvo) {
        Dims g = c.g;
        int Hkv = g.Hkv, Tq = g.Tq, D = g.D, Tk = g.Tk, group = g.group;
        boolean[] km = c.km;
        // one task per (batch, kv head): it owns gk/gv rows of that head, so no races
        Parallel.forRange(g.B * Hkv, 1, (s, e) -> {
            double[] qr = new double[D], gor = new double[D], orow = new double[D], gqr = new double[D];
            double[][] gkAcc = new double[Tk][D], gvAcc = new double[Tk][D];
            double[][] kc = new double[Tk][D], vc = new double[Tk][D];
            for (int task = s; task < e; task++) {
                int b = task / Hkv, hk = task % Hkv;
                for (int j = 0; j < Tk; j++) {
                    c.k.row(b, hk, j, D, kc[j]);
                    c.v.row(b, hk, j, D, vc[j]);
                    java.util.Arrays.fill(gkAcc[j], 0);
                    java.util.Arrays.fill(gvAcc[j], 0);
                }
                for (int h = hk * group; h < (hk + 1) * group; h++) {
                    for (int i = 0; i < Tq; i++) {
                        c.q.row(b, h, i, D, qr);
                        go.row(b, h, i, D, gor);
                        c.out.row(b, h, i, D, orow);
                        java.util.Arrays.fill(gqr, 0);
                        double L = c.lse[c.lseAt(b, h, i)];
                        int jEnd = g.keyEnd(causal, i);
                        if (L == Double.NEGATIVE_INFINITY) {
                            Access.store(gqr, D, gqo.arr, gqo.dt, gqo.at(b, h, i), gqo.sd);
                            continue;
                        }
                        { // float64 gradchecks: recompute the logsumexp exactly
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
