package llava.core.cpu;

import llava.core.Half;

/**
 * The F32 building blocks of the CPU kernels (GEMM tiles, dot products, row passes of the fused
 * ops), written here as plain Java loops. {@link VectorKernels} overrides them with
 * jdk.incubator.vector code; this class is what runs when that module is not enabled (the JVM
 * flag {@code --add-modules jdk.incubator.vector}). Both give the same results up to float
 * rounding: F32 math, long sums accumulated per block in F32 and across blocks in double.
 *
 * <p>Arrays are addressed as (array, offset) with unit stride; {@code n} is the element count.
 */
class FloatKernels {
    /** Elements summed in F32 before the partial sum is added into a double. */
    static final int SUM_BLOCK = 256;

    private static final FloatKernels INSTANCE = select();

    /** The kernels this JVM runs: the Vector API ones where the module is present. */
    static FloatKernels get() { return INSTANCE; }

    /** True when the Vector API kernels are in use. */
    static boolean vectorized() { return INSTANCE.getClass() != FloatKernels.class; }

    /** The plain-Java kernels (tests compare them with the vector ones). */
    static FloatKernels scalar() { return SCALAR; }

    private static final FloatKernels SCALAR = new FloatKernels();

    private static FloatKernels select() {
        if (!Boolean.parseBoolean(System.getProperty("llava.cpu.vector", "true"))) {
            return new FloatKernels();
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            System.err.println("[llava] jdk.incubator.vector is not enabled (add --add-modules jdk.incubator.vector); "
                + "CPU kernels use plain Java loops");
            return new FloatKernels();
        }
        try {
            // by name, so that a JVM without the module never links VectorKernels
            return (FloatKernels) Class.forName("llava.core.cpu.VectorKernels").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            System.err.println("[llava] Vector API kernels unavailable (" + e + "); CPU kernels use plain Java loops");
            return new FloatKernels();
        }
    }

    FloatKernels() {}

    // ---- GEMM ----------------------------------------------------------------------------

    /** Rows of the register tile: A is packed in strips of mr() rows. */
    int mr() { return 4; }

    /** Columns of the register tile: B is packed in strips of nr() columns. */
    int nr() { return 8; }

    /**
     * c[i * ldc + j] += sum_k ap[apOff + k * mr + i] * bp[bpOff + k * nr + j] for i < m, j < n,
     * with A packed as a k-major strip of mr() rows and B as a k-major strip of nr() columns
     * (both zero-padded to the full tile).
     */
    void tile(float[] ap, int apOff, float[] bp, int bpOff, int kc, float[] c, int cOff, int ldc, int m, int n) {
        int mr = mr(), nr = nr();
        float[] acc = new float[mr * nr];
        for (int k = 0; k < kc; k++) {
            int ak = apOff + k * mr, bk = bpOff + k * nr;
            for (int i = 0; i < mr; i++) {
                float a = ap[ak + i];
                for (int j = 0; j < nr; j++) acc[i * nr + j] += a * bp[bk + j];
            }
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[cOff + i * ldc + j] += acc[i * nr + j];
    }

    /** C[m, n] += A[m, k] B[k, n], all row-major with leading dimensions lda, ldb, ldc. */
    final void gemm(int m, int n, int k, float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        gemm(m, n, k, a, ao, lda, 1, b, bo, ldb, c, co, ldc, true);
    }

    /**
     * C[m, n] (+)= A[m, k] B[k, n] with A(i, p) at a[ao + i * ars + p * acs] (so A may be read
     * transposed), B and C row-major; accumulate=false overwrites C.
     */
    void gemm(int m, int n, int k, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
              float[] c, int co, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            int ci = co + i * ldc;
            if (!accumulate) java.util.Arrays.fill(c, ci, ci + n, 0f);
            for (int p = 0; p < k; p++) {
                float av = a[ao + i * ars + p * acs];
                int bp = bo + p * ldb;
                for (int j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
            }
        }
    }

    // ---- vector primitives ---------------------------------------------------------------

    /** sum a[i] * b[i]. */
    double dot(float[] a, int ao, float[] b, int bo, int n) {
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) acc += a[ao + i] * b[bo + i];
            total += acc;
        }
        return total;
    }

    /**
     * sum a[i] * bf16(b[bo + i]) for i < n, with a given deinterleaved: a[2q] = ae[q], a[2q + 1] = ao[q]
     * (so that the vector code can widen pairs of bf16 values with shifts, see VectorKernels).
     */
    double dotBf16(float[] ae, float[] ao, short[] b, int bo, int n) {
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) acc += ((i & 1) == 0 ? ae[i >> 1] : ao[i >> 1]) * Half.bf16ToFloat(b[bo + i]);
            total += acc;
        }
        return total;
    }

    /** Rows per call of the multi-row GEMV kernels (one load of the shared vector feeds four rows). */
    static final int GEMV_ROWS = 4;

    /**
     * out[oo + r] += sum_i a[ao + i] * w[wo + r * ld + i] for r < 4: four dot products sharing the
     * loads of a (decode against four rows of a weight).
     */
    void dot4(float[] a, int ao, float[] w, int wo, int ld, int n, float[] out, int oo) {
        for (int r = 0; r < GEMV_ROWS; r++) out[oo + r] += (float) dot(a, ao, w, wo + r * ld, n);
    }

    /** dot4 with bf16 rows and a given deinterleaved (see {@link #dotBf16}). */
    void dot4Bf16(float[] ae, float[] ao, short[] w, int wo, int ld, int n, float[] out, int oo) {
        for (int r = 0; r < GEMV_ROWS; r++) out[oo + r] += (float) dotBf16(ae, ao, w, wo + r * ld, n);
    }

    /** y[i] += sum_r alpha[ai + r] * x[xo + r * ld + i] for r < 4 (four rows of B into one output row). */
    void axpy4(float[] alpha, int ai, float[] x, int xo, int ld, float[] y, int yo, int n) {
        for (int r = 0; r < GEMV_ROWS; r++) axpy(alpha[ai + r], x, xo + r * ld, y, yo, n);
    }

    /** axpy4 with bf16 rows into a deinterleaved y (see {@link #axpyBf16}). */
    void axpy4Bf16(float[] alpha, int ai, short[] x, int xo, int ld, float[] ye, float[] yo, int n) {
        for (int r = 0; r < GEMV_ROWS; r++) axpyBf16(alpha[ai + r], x, xo + r * ld, ye, yo, n);
    }

    /** y[i] += alpha * x[i]. */
    void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        for (int i = 0; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    /** y[i] += alpha * bf16(x[xo + i]) for i < n, with y deinterleaved: y[2q] is ye[q], y[2q + 1] is yo[q]. */
    void axpyBf16(float alpha, short[] x, int xo, float[] ye, float[] yo, int n) {
        for (int i = 0; i < n; i++) {
            float v = alpha * Half.bf16ToFloat(x[xo + i]);
            if ((i & 1) == 0) ye[i >> 1] += v;
            else yo[i >> 1] += v;
        }
    }

    /** sum x[i]. */
    double sum(float[] x, int xo, int n) {
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) acc += x[xo + i];
            total += acc;
        }
        return total;
    }

    /** max x[i] (NaN if any is NaN; -inf for n == 0). */
    float max(float[] x, int xo, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, x[xo + i]);
        return m;
    }

    /** e^x in F32 (the vector version is a polynomial within 2 ulp). */
    float exp(float x) { return (float) Math.exp(x); }

    /** out[i] = exp(x[i] - shift) when out != null; returns sum exp(x[i] - shift). */
    double expSum(float[] x, int xo, int n, float shift, float[] out, int oo) {
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) {
                float p = exp(x[xo + i] - shift);
                if (out != null) out[oo + i] = p;
                acc += p;
            }
            total += acc;
        }
        return total;
    }

    /** out[i] = scale * exp(x[i] - shift). */
    void expScale(float[] x, int xo, int n, float shift, float scale, float[] out, int oo) {
        for (int i = 0; i < n; i++) out[oo + i] = scale * exp(x[xo + i] - shift);
    }

    /** out[i] = x[i] * s. */
    void scale(float[] x, int xo, int n, float s, float[] out, int oo) {
        for (int i = 0; i < n; i++) out[oo + i] = x[xo + i] * s;
    }

    /** out[i] = x[i] + s. */
    void addScalar(float[] x, int xo, int n, float s, float[] out, int oo) {
        for (int i = 0; i < n; i++) out[oo + i] = x[xo + i] + s;
    }

    /** softmax backward: out[i] = y[i] * (g[i] - d). */
    void mulSub(float[] y, int yo, float[] g, int go, float d, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) out[oo + i] = y[yo + i] * (g[go + i] - d);
    }

    /** log-softmax backward: out[i] = g[i] - exp(y[i]) * sg. */
    void subExpScaled(float[] g, int go, float[] y, int yo, float sg, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) out[oo + i] = g[go + i] - exp(y[yo + i]) * sg;
    }

    /**
     * Attention backward on one row of a block: p = exp(s - lse) (s: scaled, masked scores) written
     * back to s, and ds = p (dp - di) scale written back to dp.
     */
    void attentionGradRow(float[] s, int so, float[] dp, int dpo, int n, float lse, float di, float scale) {
        for (int i = 0; i < n; i++) {
            float p = exp(s[so + i] - lse);
            s[so + i] = p;
            dp[dpo + i] = p * (dp[dpo + i] - di) * scale;
        }
    }

    // ---- norms ---------------------------------------------------------------------------

    /** RMSNorm row: h = x * inv (rounded), out = w * h (w nullable = 1). */
    void rmsApply(float[] x, int xo, float inv, float[] w, int wo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            float h = x[xo + i] * inv;
            out[oo + i] = w == null ? h : w[wo + i] * h;
        }
    }

    /** sum g[i] * w[i] * x[i] (w nullable = 1). */
    double dotWeighted(float[] g, int go, float[] w, int wo, float[] x, int xo, int n) {
        if (w == null) return dot(g, go, x, xo, n);
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) acc += g[go + i] * w[wo + i] * x[xo + i];
            total += acc;
        }
        return total;
    }

    /** RMSNorm backward row: gx = g * w * inv - x * c; gwAcc (nullable) += g * x * inv. */
    void rmsBackwardRow(float[] x, int xo, float[] g, int go, float[] w, int wo, float inv, float c,
                        float[] gx, int gxo, float[] gwAcc, int n) {
        for (int i = 0; i < n; i++) {
            float gi = g[go + i], xi = x[xo + i];
            float gw = w == null ? gi : gi * w[wo + i];
            if (gwAcc != null) gwAcc[i] += gi * xi * inv;
            gx[gxo + i] = gw * inv - xi * c;
        }
    }

    /** sum (x[i] - mean)^2. */
    double sumSqDiff(float[] x, int xo, int n, float mean) {
        double total = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float acc = 0;
            for (int i = s; i < e; i++) {
                float d = x[xo + i] - mean;
                acc += d * d;
            }
            total += acc;
        }
        return total;
    }

    /** LayerNorm row: out = (x - mean) * inv * w + b (w, b nullable). */
    void layerNormApply(float[] x, int xo, float mean, float inv, float[] w, int wo, float[] b, int bo,
                        float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            float h = (x[xo + i] - mean) * inv;
            if (w != null) h *= w[wo + i];
            if (b != null) h += b[bo + i];
            out[oo + i] = h;
        }
    }

    /**
     * LayerNorm backward, first pass over a row: returns {sum g w, sum g w xhat} with
     * xhat = (x - mean) * inv, and adds g * xhat to gwAcc and g to gbAcc (both nullable).
     */
    void layerNormBackwardSums(float[] x, int xo, float[] g, int go, float[] w, int wo, float mean, float inv,
                               float[] gwAcc, float[] gbAcc, int n, double[] sums) {
        double sg = 0, sgx = 0;
        for (int s = 0; s < n; s += SUM_BLOCK) {
            int e = Math.min(n, s + SUM_BLOCK);
            float a = 0, b = 0;
            for (int i = s; i < e; i++) {
                float xh = (x[xo + i] - mean) * inv;
                float gi = g[go + i];
                float gw = w == null ? gi : gi * w[wo + i];
                a += gw;
                b += gw * xh;
                if (gwAcc != null) gwAcc[i] += gi * xh;
                if (gbAcc != null) gbAcc[i] += gi;
            }
            sg += a;
            sgx += b;
        }
        sums[0] = sg;
        sums[1] = sgx;
    }

    /** LayerNorm backward, second pass: gx = inv * (g w - mg - xhat * mgx). */
    void layerNormBackwardApply(float[] x, int xo, float[] g, int go, float[] w, int wo, float mean, float inv,
                                float mg, float mgx, float[] gx, int gxo, int n) {
        for (int i = 0; i < n; i++) {
            float xh = (x[xo + i] - mean) * inv;
            float gw = w == null ? g[go + i] : g[go + i] * w[wo + i];
            gx[gxo + i] = inv * (gw - mg - xh * mgx);
        }
    }

    // ---- activations, rope, optimizer ----------------------------------------------------

    /** out = silu(g) * u = g / (1 + e^-g) * u. */
    void siluMul(float[] g, int go, float[] u, int uo, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) {
            float x = g[go + i];
            out[oo + i] = x / (1 + exp(-x)) * u[uo + i];
        }
    }

    /** d/d gate = gy * u * s * (1 + g (1 - s)), d/d up = gy * g * s, with s = sigmoid(g). */
    void siluMulBackward(float[] g, int go, float[] u, int uo, float[] gy, int yo, float[] gg, int ggo, float[] gu, int guo, int n) {
        for (int i = 0; i < n; i++) {
            float x = g[go + i], y = gy[yo + i];
            float s = 1 / (1 + exp(-x));
            gu[guo + i] = y * x * s;
            gg[ggo + i] = y * u[uo + i] * s * (1 + x * (1 - s));
        }
    }

    /**
     * Rotate-half RoPE on one head: out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin, each product
     * rounded to F32 before the sum (as upstream's F32 q * cos + rotate_half(q) * sin).
     */
    void rope(float[] x, int x1, int x2, float[] cos, float[] sin, float[] out, int o1, int o2, int half) {
        for (int i = 0; i < half; i++) {
            float a = x[x1 + i], b = x[x2 + i], c = cos[i], s = sin[i];
            float r1 = a * c - b * s;
            float r2 = b * c + a * s;
            out[o1 + i] = r1;
            out[o2 + i] = r2;
        }
    }

    /**
     * AdamW on one block, in torch.optim.AdamW's order and F32 precision (no fused multiply-add,
     * so vector and scalar results are identical).
     */
    void adamw(float[] p, int po, float[] g, int go, float[] m, int mo, float[] v, int vo, int n,
               boolean decayOn, float decay, float b1, float omb1, float b2, float omb2, float stepSize, float bc2Sqrt, float eps) {
        for (int i = 0; i < n; i++) {
            float gi = g[go + i];
            float pi = p[po + i];
            if (decayOn) pi = pi * decay;
            float mi = m[mo + i] * b1 + omb1 * gi;
            float vi = v[vo + i] * b2 + omb2 * gi * gi;
            float denom = (float) Math.sqrt(vi) / bc2Sqrt + eps;
            pi = pi + (-stepSize) * (mi / denom);
            p[po + i] = pi;
            m[mo + i] = mi;
            v[vo + i] = vi;
        }
    }

    // ---- elementwise ---------------------------------------------------------------------

    /** Binary ops with an F32 fast path. */
    enum Bin { ADD, SUB, MUL, DIV, MAX, MIN }

    /** out[i] = a[ao + i * ai] op b[bo + i * bi] with ai, bi in {0, 1}. */
    void binary(Bin op, float[] a, int ao, int ai, float[] b, int bo, int bi, float[] out, int oo, int n) {
        for (int i = 0; i < n; i++) out[oo + i] = apply(op, a[ao + i * ai], b[bo + i * bi]);
    }

    static float apply(Bin op, float x, float y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case MAX -> Float.isNaN(x) || Float.isNaN(y) ? Float.NaN : Math.max(x, y);
            case MIN -> Float.isNaN(x) || Float.isNaN(y) ? Float.NaN : Math.min(x, y);
        };
    }
}
