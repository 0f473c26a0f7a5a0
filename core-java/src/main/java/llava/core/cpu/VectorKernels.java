package llava.core.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link FloatKernels} on the Vector API (the platform's preferred width: 8 floats with AVX2, 16
 * with AVX-512). Loaded by name only when jdk.incubator.vector is in the boot layer. Loop tails
 * shorter than a vector run the scalar code of the base class.
 */
final class VectorKernels extends FloatKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    private static final int MR = 6, NR = 2 * L;

    VectorKernels() {
        if (SI.length() != L) throw new IllegalStateException("int and float vectors differ in length");
    }

    // ---- GEMM ----------------------------------------------------------------------------

    @Override int mr() { return MR; }
    @Override int nr() { return NR; }

    /** 6 x 2L register tile: 12 accumulators, two B vectors and one broadcast A per step. */
    @Override
    void tile(float[] ap, int apOff, float[] bp, int bpOff, int kc, float[] c, int cOff, int ldc, int m, int n) {
        // one zero for all accumulators: twelve separate FloatVector.zero(S) calls made C2 (JDK 17)
        // generate a loop four times slower
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int k = 0; k < kc; k++) {
            int ak = apOff + k * MR, bk = bpOff + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk), b1 = FloatVector.fromArray(S, bp, bk + L);
            FloatVector a = FloatVector.broadcast(S, ap[ak]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, ap[ak + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51);
        }
        if (m == MR && n == NR) {
            addRow(c, cOff, c00, c01);
            addRow(c, cOff + ldc, c10, c11);
            addRow(c, cOff + 2 * ldc, c20, c21);
            addRow(c, cOff + 3 * ldc, c30, c31);
            addRow(c, cOff + 4 * ldc, c40, c41);
            addRow(c, cOff + 5 * ldc, c50, c51);
            return;
        }
        float[] t = new float[MR * NR];
        c00.intoArray(t, 0); c01.intoArray(t, L);
        c10.intoArray(t, NR); c11.intoArray(t, NR + L);
        c20.intoArray(t, 2 * NR); c21.intoArray(t, 2 * NR + L);
        c30.intoArray(t, 3 * NR); c31.intoArray(t, 3 * NR + L);
        c40.intoArray(t, 4 * NR); c41.intoArray(t, 4 * NR + L);
        c50.intoArray(t, 5 * NR); c51.intoArray(t, 5 * NR + L);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[cOff + i * ldc + j] += t[i * NR + j];
    }

    private static void addRow(float[] c, int off, FloatVector v0, FloatVector v1) {
        FloatVector.fromArray(S, c, off).add(v0).intoArray(c, off);
        FloatVector.fromArray(S, c, off + L).add(v1).intoArray(c, off + L);
    }

    /** Unpacked C (+)= A B: 6 x 2L tiles read straight from the operands; edges below. */
    @Override
    void gemm(int m, int n, int k, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
              float[] c, int co, int ldc, boolean accumulate) {
        // the tile always accumulates: a tile with both an accumulating and an overwriting ending
        // made C2 (JDK 17) box its accumulators (20x slower), so C is cleared first instead
        if (!accumulate) for (int i = 0; i < m; i++) java.util.Arrays.fill(c, co + i * ldc, co + i * ldc + n, 0f);
        int nFull = n - n % NR, mFull = m - m % MR;
        for (int j0 = 0; j0 < nFull; j0 += NR) {
            for (int i0 = 0; i0 < mFull; i0 += MR) denseTile(k, a, ao + i0 * ars, ars, acs, b, bo + j0, ldb, c, co + i0 * ldc + j0, ldc);
            for (int i = mFull; i < m; i++) rowTimesPanel(k, a, ao + i * ars, acs, b, bo + j0, ldb, c, co + i * ldc + j0, NR);
        }
        if (nFull < n) {
            for (int i = 0; i < m; i++) rowTimesPanel(k, a, ao + i * ars, acs, b, bo + nFull, ldb, c, co + i * ldc + nFull, n - nFull);
        }
    }

    private static void denseTile(int k, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        // one zero for all accumulators: twelve separate FloatVector.zero(S) calls made C2 (JDK 17)
        // generate a loop four times slower
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        int a0 = ao, a1 = ao + ars, a2 = ao + 2 * ars, a3 = ao + 3 * ars, a4 = ao + 4 * ars, a5 = ao + 5 * ars;
        for (int p = 0, bp = bo, pa = 0; p < k; p++, bp += ldb, pa += acs) {
            FloatVector b0 = FloatVector.fromArray(S, b, bp), b1 = FloatVector.fromArray(S, b, bp + L);
            FloatVector av = FloatVector.broadcast(S, a[a0 + pa]);
            c00 = av.fma(b0, c00); c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(S, a[a1 + pa]);
            c10 = av.fma(b0, c10); c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(S, a[a2 + pa]);
            c20 = av.fma(b0, c20); c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(S, a[a3 + pa]);
            c30 = av.fma(b0, c30); c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(S, a[a4 + pa]);
            c40 = av.fma(b0, c40); c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(S, a[a5 + pa]);
            c50 = av.fma(b0, c50); c51 = av.fma(b1, c51);
        }
        addRow(c, co, c00, c01);
        addRow(c, co + ldc, c10, c11);
        addRow(c, co + 2 * ldc, c20, c21);
        addRow(c, co + 3 * ldc, c30, c31);
        addRow(c, co + 4 * ldc, c40, c41);
        addRow(c, co + 5 * ldc, c50, c51);
    }

    /** c[0..w) += sum_p a[ao + p * acs] * b[bo + p * ldb + 0..w), w <= NR. */
    private void rowTimesPanel(int k, float[] a, int ao, int acs, float[] b, int bo, int ldb, float[] c, int co, int w) {
        for (int p = 0; p < k; p++) axpy(a[ao + p * acs], b, bo + p * ldb, c, co, w);
    }

    // ---- vector primitives ---------------------------------------------------------------

    @Override
    double dot(float[] a, int ao, float[] b, int bo, int n) {
        double total = 0;
        int i = 0;
        int bound = n - n % (4 * L);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (; i < e; i += 4 * L) {
                s0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), s0);
                s1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), s1);
                s2 = FloatVector.fromArray(S, a, ao + i + 2 * L).fma(FloatVector.fromArray(S, b, bo + i + 2 * L), s2);
                s3 = FloatVector.fromArray(S, a, ao + i + 3 * L).fma(FloatVector.fromArray(S, b, bo + i + 3 * L), s3);
            }
            total += s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        }
        return i < n ? total + super.dot(a, ao + i, b, bo + i, n - i) : total;
    }

    // A vector of 2L bf16 values read as L ints holds pairs (low half: even element, high half:
    // odd element, in the platform's little-endian lane order); shifting or masking each int gives
    // the even or the odd values as floats, so no shuffles are needed.
    private static final VectorSpecies<Short> SS2 =
        VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));

    private static IntVector pairs(short[] x, int off) {
        return (IntVector) ShortVector.fromArray(SS2, x, off).reinterpretAsInts();
    }

    private static FloatVector evens(IntVector p) { return p.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(); }

    private static FloatVector odds(IntVector p) { return p.and(0xFFFF0000).reinterpretAsFloats(); }

    @Override
    double dotBf16(float[] ae, float[] ao, short[] b, int bo, int n) {
        double total = 0;
        int i = 0; // element index, a multiple of 2L inside the loop
        int bound = n - n % (2 * L);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector s0 = FloatVector.zero(S), s1 = s0;
            for (; i < e; i += 2 * L) {
                IntVector p = pairs(b, bo + i);
                s0 = FloatVector.fromArray(S, ae, i >> 1).fma(evens(p), s0);
                s1 = FloatVector.fromArray(S, ao, i >> 1).fma(odds(p), s1);
            }
            total += s0.add(s1).reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) total += ((i & 1) == 0 ? ae[i >> 1] : ao[i >> 1]) * llava.core.Half.bf16ToFloat(b[bo + i]);
        return total;
    }

    @Override
    void axpyBf16(float alpha, short[] x, int xo, float[] ye, float[] yo, int n) {
        FloatVector av = FloatVector.broadcast(S, alpha);
        int i = 0;
        for (int bound = n - n % (2 * L); i < bound; i += 2 * L) {
            IntVector p = pairs(x, xo + i);
            int q = i >> 1;
            av.fma(evens(p), FloatVector.fromArray(S, ye, q)).intoArray(ye, q);
            av.fma(odds(p), FloatVector.fromArray(S, yo, q)).intoArray(yo, q);
        }
        for (; i < n; i++) {
            float v = alpha * llava.core.Half.bf16ToFloat(x[xo + i]);
            if ((i & 1) == 0) ye[i >> 1] += v;
            else yo[i >> 1] += v;
        }
    }

    /** Elements per lane summed in F32 by the multi-row GEMV kernels before the double total. */
    private static final int GEMV_BLOCK = 1024;

    @Override
    void dot4(float[] a, int ao, float[] w, int wo, int ld, int n, float[] out, int oo) {
        int w1 = wo + ld, w2 = w1 + ld, w3 = w2 + ld;
        double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        int i = 0, bound = S.loopBound(n);
        while (i < bound) {
            int e = Math.min(bound, i + GEMV_BLOCK);
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (; i < e; i += L) {
                FloatVector av = FloatVector.fromArray(S, a, ao + i);
                s0 = av.fma(FloatVector.fromArray(S, w, wo + i), s0);
                s1 = av.fma(FloatVector.fromArray(S, w, w1 + i), s1);
                s2 = av.fma(FloatVector.fromArray(S, w, w2 + i), s2);
                s3 = av.fma(FloatVector.fromArray(S, w, w3 + i), s3);
            }
            t0 += s0.reduceLanes(VectorOperators.ADD);
            t1 += s1.reduceLanes(VectorOperators.ADD);
            t2 += s2.reduceLanes(VectorOperators.ADD);
            t3 += s3.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            float av = a[ao + i];
            t0 += av * w[wo + i];
            t1 += av * w[w1 + i];
            t2 += av * w[w2 + i];
            t3 += av * w[w3 + i];
        }
        out[oo] += (float) t0;
        out[oo + 1] += (float) t1;
        out[oo + 2] += (float) t2;
        out[oo + 3] += (float) t3;
    }

    @Override
    void dot4Bf16(float[] ae, float[] ao, short[] w, int wo, int ld, int n, float[] out, int oo) {
        int w1 = wo + ld, w2 = w1 + ld, w3 = w2 + ld;
        double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        int i = 0, bound = n - n % (2 * L); // element index; pairs q = i / 2
        while (i < bound) {
            int e = Math.min(bound, i + 2 * GEMV_BLOCK);
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (; i < e; i += 2 * L) {
                FloatVector ev = FloatVector.fromArray(S, ae, i >> 1), od = FloatVector.fromArray(S, ao, i >> 1);
                IntVector p0 = pairs(w, wo + i), p1 = pairs(w, w1 + i), p2 = pairs(w, w2 + i), p3 = pairs(w, w3 + i);
                s0 = ev.fma(evens(p0), od.fma(odds(p0), s0));
                s1 = ev.fma(evens(p1), od.fma(odds(p1), s1));
                s2 = ev.fma(evens(p2), od.fma(odds(p2), s2));
                s3 = ev.fma(evens(p3), od.fma(odds(p3), s3));
            }
            t0 += s0.reduceLanes(VectorOperators.ADD);
            t1 += s1.reduceLanes(VectorOperators.ADD);
            t2 += s2.reduceLanes(VectorOperators.ADD);
            t3 += s3.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            float av = (i & 1) == 0 ? ae[i >> 1] : ao[i >> 1];
            t0 += av * llava.core.Half.bf16ToFloat(w[wo + i]);
            t1 += av * llava.core.Half.bf16ToFloat(w[w1 + i]);
            t2 += av * llava.core.Half.bf16ToFloat(w[w2 + i]);
            t3 += av * llava.core.Half.bf16ToFloat(w[w3 + i]);
        }
        out[oo] += (float) t0;
        out[oo + 1] += (float) t1;
        out[oo + 2] += (float) t2;
        out[oo + 3] += (float) t3;
    }

    @Override
    void axpy4(float[] alpha, int ai, float[] x, int xo, int ld, float[] y, int yo, int n) {
        FloatVector a0 = FloatVector.broadcast(S, alpha[ai]), a1 = FloatVector.broadcast(S, alpha[ai + 1]);
        FloatVector a2 = FloatVector.broadcast(S, alpha[ai + 2]), a3 = FloatVector.broadcast(S, alpha[ai + 3]);
        int x1 = xo + ld, x2 = x1 + ld, x3 = x2 + ld;
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector acc = FloatVector.fromArray(S, y, yo + i);
            acc = a0.fma(FloatVector.fromArray(S, x, xo + i), acc);
            acc = a1.fma(FloatVector.fromArray(S, x, x1 + i), acc);
            acc = a2.fma(FloatVector.fromArray(S, x, x2 + i), acc);
            acc = a3.fma(FloatVector.fromArray(S, x, x3 + i), acc);
            acc.intoArray(y, yo + i);
        }
        if (i < n) super.axpy4(alpha, ai, x, xo + i, ld, y, yo + i, n - i);
    }

    @Override
    void axpy4Bf16(float[] alpha, int ai, short[] x, int xo, int ld, float[] ye, float[] yo, int n) {
        FloatVector a0 = FloatVector.broadcast(S, alpha[ai]), a1 = FloatVector.broadcast(S, alpha[ai + 1]);
        FloatVector a2 = FloatVector.broadcast(S, alpha[ai + 2]), a3 = FloatVector.broadcast(S, alpha[ai + 3]);
        int x1 = xo + ld, x2 = x1 + ld, x3 = x2 + ld;
        int i = 0;
        for (int bound = n - n % (2 * L); i < bound; i += 2 * L) {
            int q = i >> 1;
            IntVector p0 = pairs(x, xo + i), p1 = pairs(x, x1 + i), p2 = pairs(x, x2 + i), p3 = pairs(x, x3 + i);
            FloatVector e = FloatVector.fromArray(S, ye, q), o = FloatVector.fromArray(S, yo, q);
            e = a3.fma(evens(p3), a2.fma(evens(p2), a1.fma(evens(p1), a0.fma(evens(p0), e))));
            o = a3.fma(odds(p3), a2.fma(odds(p2), a1.fma(odds(p1), a0.fma(odds(p0), o))));
            e.intoArray(ye, q);
            o.intoArray(yo, q);
        }
        for (; i < n; i++) {
            float v = alpha[ai] * llava.core.Half.bf16ToFloat(x[xo + i]) + alpha[ai + 1] * llava.core.Half.bf16ToFloat(x[x1 + i])
                + alpha[ai + 2] * llava.core.Half.bf16ToFloat(x[x2 + i]) + alpha[ai + 3] * llava.core.Half.bf16ToFloat(x[x3 + i]);
            if ((i & 1) == 0) ye[i >> 1] += v;
            else yo[i >> 1] += v;
        }
    }

    @Override
    void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector av = FloatVector.broadcast(S, alpha);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            av.fma(FloatVector.fromArray(S, x, xo + i), FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        if (i < n) super.axpy(alpha, x, xo + i, y, yo + i, n - i);
    }

    @Override
    double sum(float[] x, int xo, int n) {
        double total = 0;
        int i = 0;
        int bound = n - n % (2 * L);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector s0 = FloatVector.zero(S), s1 = s0;
            for (; i < e; i += 2 * L) {
                s0 = s0.add(FloatVector.fromArray(S, x, xo + i));
                s1 = s1.add(FloatVector.fromArray(S, x, xo + i + L));
            }
            total += s0.add(s1).reduceLanes(VectorOperators.ADD);
        }
        return i < n ? total + super.sum(x, xo + i, n - i) : total;
    }

    @Override
    float max(float[] x, int xo, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        int bound = S.loopBound(n);
        if (bound > 0) {
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += L) mv = mv.max(FloatVector.fromArray(S, x, xo + i));
            m = mv.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, x[xo + i]);
        return m;
    }

    // e^x = 2^n e^r with n = round(x log2 e), r = x - n ln2 (two-part ln2), e^r by its Taylor
    // polynomial of degree 7 (|r| <= ln2/2: truncation error < 6e-9 relative).
    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND_MAGIC = 0x1.8p23f; // adding it rounds to an integer in the low mantissa bits
    private static final int ROUND_MAGIC_BITS = Float.floatToRawIntBits(ROUND_MAGIC);
    private static final float EXP_LO = -87.33654f, EXP_HI = 88.37626f; // e^x stays a normal float with n <= 127

    /** e^x per lane; 0 below EXP_LO, +inf above EXP_HI, NaN stays NaN. */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = xc.fma(LOG2E, ROUND_MAGIC);
        FloatVector nf = t.sub(ROUND_MAGIC);
        IntVector ni = ((IntVector) t.reinterpretAsInts()).sub(ROUND_MAGIC_BITS);
        FloatVector r = nf.fma(FloatVector.broadcast(S, -LN2_HI), xc);
        r = nf.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, 1f / 5040), FloatVector.broadcast(S, 1f / 720));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        FloatVector scale = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector res = p.mul(scale);
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
        VectorMask<Float> over = x.compare(VectorOperators.GT, EXP_HI);
        return res.blend(0f, under).blend(Float.POSITIVE_INFINITY, over);
    }

    @Override
    float exp(float x) {
        return exp(FloatVector.broadcast(S, x)).lane(0);
    }

    @Override
    double expSum(float[] x, int xo, int n, float shift, float[] out, int oo) {
        double total = 0;
        int i = 0;
        int bound = S.loopBound(n);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector acc = FloatVector.zero(S);
            for (; i < e; i += L) {
                FloatVector p = exp(FloatVector.fromArray(S, x, xo + i).sub(shift));
                if (out != null) p.intoArray(out, oo + i);
                acc = acc.add(p);
            }
            total += acc.reduceLanes(VectorOperators.ADD);
        }
        return i < n ? total + super.expSum(x, xo + i, n - i, shift, out, out == null ? 0 : oo + i) : total;
    }

    @Override
    void expScale(float[] x, int xo, int n, float shift, float scale, float[] out, int oo) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            exp(FloatVector.fromArray(S, x, xo + i).sub(shift)).mul(scale).intoArray(out, oo + i);
        }
        if (i < n) super.expScale(x, xo + i, n - i, shift, scale, out, oo + i);
    }

    @Override
    void scale(float[] x, int xo, int n, float s, float[] out, int oo) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) FloatVector.fromArray(S, x, xo + i).mul(s).intoArray(out, oo + i);
        if (i < n) super.scale(x, xo + i, n - i, s, out, oo + i);
    }

    @Override
    void addScalar(float[] x, int xo, int n, float s, float[] out, int oo) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) FloatVector.fromArray(S, x, xo + i).add(s).intoArray(out, oo + i);
        if (i < n) super.addScalar(x, xo + i, n - i, s, out, oo + i);
    }

    @Override
    void mulSub(float[] y, int yo, float[] g, int go, float d, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, y, yo + i).mul(FloatVector.fromArray(S, g, go + i).sub(d)).intoArray(out, oo + i);
        }
        if (i < n) super.mulSub(y, yo + i, g, go + i, d, out, oo + i, n - i);
    }

    @Override
    void subExpScaled(float[] g, int go, float[] y, int yo, float sg, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector e = exp(FloatVector.fromArray(S, y, yo + i)).mul(sg);
            FloatVector.fromArray(S, g, go + i).sub(e).intoArray(out, oo + i);
        }
        if (i < n) super.subExpScaled(g, go + i, y, yo + i, sg, out, oo + i, n - i);
    }

    @Override
    void attentionGradRow(float[] s, int so, float[] dp, int dpo, int n, float lse, float di, float scale) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector p = exp(FloatVector.fromArray(S, s, so + i).sub(lse));
            p.intoArray(s, so + i);
            p.mul(FloatVector.fromArray(S, dp, dpo + i).sub(di)).mul(scale).intoArray(dp, dpo + i);
        }
        if (i < n) super.attentionGradRow(s, so + i, dp, dpo + i, n - i, lse, di, scale);
    }

    // ---- norms ---------------------------------------------------------------------------

    @Override
    void rmsApply(float[] x, int xo, float inv, float[] w, int wo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector h = FloatVector.fromArray(S, x, xo + i).mul(inv);
            if (w != null) h = FloatVector.fromArray(S, w, wo + i).mul(h);
            h.intoArray(out, oo + i);
        }
        if (i < n) super.rmsApply(x, xo + i, inv, w, wo + i, out, oo + i, n - i);
    }

    @Override
    double dotWeighted(float[] g, int go, float[] w, int wo, float[] x, int xo, int n) {
        if (w == null) return dot(g, go, x, xo, n);
        double total = 0;
        int i = 0;
        int bound = S.loopBound(n);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector acc = FloatVector.zero(S);
            for (; i < e; i += L) {
                FloatVector gw = FloatVector.fromArray(S, g, go + i).mul(FloatVector.fromArray(S, w, wo + i));
                acc = gw.fma(FloatVector.fromArray(S, x, xo + i), acc);
            }
            total += acc.reduceLanes(VectorOperators.ADD);
        }
        return i < n ? total + super.dotWeighted(g, go + i, w, wo + i, x, xo + i, n - i) : total;
    }

    @Override
    void rmsBackwardRow(float[] x, int xo, float[] g, int go, float[] w, int wo, float inv, float c,
                        float[] gx, int gxo, float[] gwAcc, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector gi = FloatVector.fromArray(S, g, go + i), xi = FloatVector.fromArray(S, x, xo + i);
            FloatVector gw = w == null ? gi : gi.mul(FloatVector.fromArray(S, w, wo + i));
            if (gwAcc != null) gi.mul(xi).mul(inv).add(FloatVector.fromArray(S, gwAcc, i)).intoArray(gwAcc, i);
            gw.mul(inv).sub(xi.mul(c)).intoArray(gx, gxo + i);
        }
        if (i < n) {
            float[] tail = gwAcc == null ? null : new float[n - i];
            super.rmsBackwardRow(x, xo + i, g, go + i, w, wo + i, inv, c, gx, gxo + i, tail, n - i);
            if (tail != null) for (int j = 0; j < tail.length; j++) gwAcc[i + j] += tail[j];
        }
    }

    @Override
    double sumSqDiff(float[] x, int xo, int n, float mean) {
        double total = 0;
        int i = 0;
        int bound = S.loopBound(n);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector acc = FloatVector.zero(S);
            for (; i < e; i += L) {
                FloatVector d = FloatVector.fromArray(S, x, xo + i).sub(mean);
                acc = d.fma(d, acc);
            }
            total += acc.reduceLanes(VectorOperators.ADD);
        }
        return i < n ? total + super.sumSqDiff(x, xo + i, n - i, mean) : total;
    }

    @Override
    void layerNormApply(float[] x, int xo, float mean, float inv, float[] w, int wo, float[] b, int bo,
                        float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector h = FloatVector.fromArray(S, x, xo + i).sub(mean).mul(inv);
            if (w != null) h = h.mul(FloatVector.fromArray(S, w, wo + i));
            if (b != null) h = h.add(FloatVector.fromArray(S, b, bo + i));
            h.intoArray(out, oo + i);
        }
        if (i < n) super.layerNormApply(x, xo + i, mean, inv, w, wo + i, b, bo + i, out, oo + i, n - i);
    }

    @Override
    void layerNormBackwardSums(float[] x, int xo, float[] g, int go, float[] w, int wo, float mean, float inv,
                               float[] gwAcc, float[] gbAcc, int n, double[] sums) {
        double sg = 0, sgx = 0;
        int i = 0;
        int bound = S.loopBound(n);
        while (i < bound) {
            int e = Math.min(bound, i + SUM_BLOCK);
            FloatVector a = FloatVector.zero(S), b = a;
            for (; i < e; i += L) {
                FloatVector xh = FloatVector.fromArray(S, x, xo + i).sub(mean).mul(inv);
                FloatVector gi = FloatVector.fromArray(S, g, go + i);
                FloatVector gw = w == null ? gi : gi.mul(FloatVector.fromArray(S, w, wo + i));
                a = a.add(gw);
                b = gw.fma(xh, b);
                if (gwAcc != null) gi.fma(xh, FloatVector.fromArray(S, gwAcc, i)).intoArray(gwAcc, i);
                if (gbAcc != null) gi.add(FloatVector.fromArray(S, gbAcc, i)).intoArray(gbAcc, i);
            }
            sg += a.reduceLanes(VectorOperators.ADD);
            sgx += b.reduceLanes(VectorOperators.ADD);
        }
        if (i < n) {
            float[] tw = gwAcc == null ? null : new float[n - i], tb = gbAcc == null ? null : new float[n - i];
            super.layerNormBackwardSums(x, xo + i, g, go + i, w, wo + i, mean, inv, tw, tb, n - i, sums);
            sg += sums[0];
            sgx += sums[1];
            for (int j = 0; j < n - i; j++) {
                if (tw != null) gwAcc[i + j] += tw[j];
                if (tb != null) gbAcc[i + j] += tb[j];
            }
        }
        sums[0] = sg;
        sums[1] = sgx;
    }

    @Override
    void layerNormBackwardApply(float[] x, int xo, float[] g, int go, float[] w, int wo, float mean, float inv,
                                float mg, float mgx, float[] gx, int gxo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector xh = FloatVector.fromArray(S, x, xo + i).sub(mean).mul(inv);
            FloatVector gi = FloatVector.fromArray(S, g, go + i);
            FloatVector gw = w == null ? gi : gi.mul(FloatVector.fromArray(S, w, wo + i));
            gw.sub(mg).sub(xh.mul(mgx)).mul(inv).intoArray(gx, gxo + i);
        }
        if (i < n) super.layerNormBackwardApply(x, xo + i, g, go + i, w, wo + i, mean, inv, mg, mgx, gx, gxo + i, n - i);
    }

    // ---- activations, rope, optimizer ----------------------------------------------------

    @Override
    void siluMul(float[] g, int go, float[] u, int uo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, g, go + i);
            x.div(exp(x.neg()).add(1f)).mul(FloatVector.fromArray(S, u, uo + i)).intoArray(out, oo + i);
        }
        if (i < n) super.siluMul(g, go + i, u, uo + i, out, oo + i, n - i);
    }

    @Override
    void siluMulBackward(float[] g, int go, float[] u, int uo, float[] gy, int yo, float[] gg, int ggo, float[] gu, int guo, int n) {
        int i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, g, go + i), y = FloatVector.fromArray(S, gy, yo + i);
            FloatVector s = one.div(exp(x.neg()).add(1f));
            y.mul(x).mul(s).intoArray(gu, guo + i);
            y.mul(FloatVector.fromArray(S, u, uo + i)).mul(s).mul(x.mul(one.sub(s)).add(1f)).intoArray(gg, ggo + i);
        }
        if (i < n) super.siluMulBackward(g, go + i, u, uo + i, gy, yo + i, gg, ggo + i, gu, guo + i, n - i);
    }

    @Override
    void rope(float[] x, int x1, int x2, float[] cos, float[] sin, float[] out, int o1, int o2, int half) {
        int i = 0;
        for (int bound = S.loopBound(half); i < bound; i += L) {
            FloatVector a = FloatVector.fromArray(S, x, x1 + i), b = FloatVector.fromArray(S, x, x2 + i);
            FloatVector c = FloatVector.fromArray(S, cos, i), s = FloatVector.fromArray(S, sin, i);
            FloatVector r1 = a.mul(c).sub(b.mul(s));
            FloatVector r2 = b.mul(c).add(a.mul(s));
            r1.intoArray(out, o1 + i);
            r2.intoArray(out, o2 + i);
        }
        for (; i < half; i++) {
            float a = x[x1 + i], b = x[x2 + i], c = cos[i], s = sin[i];
            float r1 = a * c - b * s;
            float r2 = b * c + a * s;
            out[o1 + i] = r1;
            out[o2 + i] = r2;
        }
    }

    @Override
    void adamw(float[] p, int po, float[] g, int go, float[] m, int mo, float[] v, int vo, int n,
               boolean decayOn, float decay, float b1, float omb1, float b2, float omb2, float stepSize, float bc2Sqrt, float eps) {
        int i = 0;
        float negStep = -stepSize;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector gi = FloatVector.fromArray(S, g, go + i);
            FloatVector pi = FloatVector.fromArray(S, p, po + i);
            if (decayOn) pi = pi.mul(decay);
            FloatVector mi = FloatVector.fromArray(S, m, mo + i).mul(b1).add(gi.mul(omb1));
            FloatVector vi = FloatVector.fromArray(S, v, vo + i).mul(b2).add(gi.mul(omb2).mul(gi));
            FloatVector denom = vi.sqrt().div(bc2Sqrt).add(eps);
            pi = pi.add(mi.div(denom).mul(negStep));
            pi.intoArray(p, po + i);
            mi.intoArray(m, mo + i);
            vi.intoArray(v, vo + i);
        }
        if (i < n) super.adamw(p, po + i, g, go + i, m, mo + i, v, vo + i, n - i, decayOn, decay, b1, omb1, b2, omb2, stepSize, bc2Sqrt, eps);
    }

    // ---- elementwise ---------------------------------------------------------------------

    @Override
    void binary(Bin op, float[] a, int ao, int ai, float[] b, int bo, int bi, float[] out, int oo, int n) {
        if (n <= 0) return;
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector ab = ai == 0 ? FloatVector.broadcast(S, a[ao]) : null;
        FloatVector bb = bi == 0 ? FloatVector.broadcast(S, b[bo]) : null;
        for (; i < bound; i += L) {
            FloatVector x = ab != null ? ab : FloatVector.fromArray(S, a, ao + i);
            FloatVector y = bb != null ? bb : FloatVector.fromArray(S, b, bo + i);
            FloatVector r = switch (op) {
                case ADD -> x.add(y);
                case SUB -> x.sub(y);
                case MUL -> x.mul(y);
                case DIV -> x.div(y);
                case MAX -> x.max(y);
                case MIN -> x.min(y);
            };
            r.intoArray(out, oo + i);
        }
        for (; i < n; i++) out[oo + i] = apply(op, a[ao + i * ai], b[bo + i * bi]);
    }
}
