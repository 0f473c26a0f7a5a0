package llava.core;

import java.util.Arrays;
import llava.core.autograd.Autograd;
import llava.core.autograd.GradMode;

/**
 * The fused neural-network ops (like torch.nn.functional): each validates its inputs, calls the
 * backend's forward primitive, and records the backend's backward primitive for autograd.
 */
public final class F {
    private F() {}

    private static Tensor[] in(Tensor... ts) { return ts; }

    private static void check(boolean ok, String msg) {
        if (!ok) throw new IllegalArgumentException(msg);
    }

    private static void sameDevice(String op, Tensor... ts) {
        Device d = null;
        for (Tensor t : ts) {
            if (t == null) continue;
            t.checkOpen();
            if (d == null) d = t.device();
            else if (!d.equals(t.device())) {
                throw new IllegalArgumentException(op + ": tensors on different devices (" + d + " and " + t.device() + ")");
            }
        }
    }

    private static Tensor contig(Tensor t) {
        return t == null ? null : Ops.contiguousForKernel(t);
    }

    /** t when its last dimension has unit stride (all the rope/attention kernels need), else a contiguous copy. */
    private static Tensor unitLastStride(Tensor t) {
        return t.stride(-1) == 1 ? t : contig(t);
    }

    // ---- linear --------------------------------------------------------------------------

    /** x @ weight^T + bias over the last dim of x; weight [out, in], bias [out] or null. */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        sameDevice("linear", x, weight, bias);
        check(weight.dim() == 2, "linear: weight must be 2-D [out, in], got " + Shapes.str(weight.shape()));
        int in = weight.size(1), outF = weight.size(0);
        check(x.dim() >= 1 && x.size(-1) == in, "linear: input of shape " + Shapes.str(x.shape())
            + " does not match weight of shape " + Shapes.str(weight.shape()) + " (last dim must be " + in + ")");
        check(bias == null || (bias.dim() == 1 && bias.size(0) == outF),
            "linear: bias must be [" + outF + "], got " + (bias == null ? "" : Shapes.str(bias.shape())));
        check(x.dtype() == weight.dtype() && (bias == null || bias.dtype() == x.dtype()),
            "linear: dtypes differ (input " + x.dtype() + ", weight " + weight.dtype()
                + (bias == null ? "" : ", bias " + bias.dtype()) + ")");
        check(x.dtype().isFloating(), "linear: expects floating-point tensors, got " + x.dtype());
        int[] xs = x.shape();
        int[] os = xs.clone();
        os[os.length - 1] = outF;
        int rows = 1;
        for (int i = 0; i < xs.length - 1; i++) rows *= xs[i];
        int nRows = rows; // explicit: reshape(-1, 0) would be ambiguous for in == 0
        Tensor out;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor x2 = x.reshape(nRows, in);
            out = Tensor.empty(x.dtype(), x.device(), x2.size(0), outF);
            Tensor wt = weight.t();
            Tensor bc = contig(bias);
            x.backend().matmul(x2, wt, bc, out);
            out = s.keep(out.reshape(os));
        }
        boolean hasBias = bias != null;
        return Autograd.record("LinearBackward", out, in(x, weight, bias), in(x, weight), (ctx, g) -> {
            Tensor xs2 = ctx.saved(0).reshape(nRows, in);
            Tensor g2 = g.reshape(nRows, outF);
            Tensor gx = null, gw = null, gb = null;
            if (ctx.needs(0)) gx = g2.matmul(ctx.saved(1)).reshape(xs);
            if (ctx.needs(1)) gw = g2.t().matmul(xs2);
            if (hasBias && ctx.needs(2)) gb = g2.sum(0, false);
            return new Tensor[] {gx, gw, gb};
        });
    }

    // ---- norms ---------------------------------------------------------------------------

    /** weight * x / sqrt(mean(x^2, -1) + eps), variance in F32. weight [C] or null. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        sameDevice("rms_norm", x, weight);
        Ops.requireFloat("rms_norm", x);
        int C = x.size(-1);
        check(weight == null || (weight.dim() == 1 && weight.size(0) == C),
            "rms_norm: weight must be [" + C + "], got " + (weight == null ? "" : Shapes.str(weight.shape())));
        check(weight == null || weight.dtype() == x.dtype(), "rms_norm: weight dtype " + (weight == null ? "" : weight.dtype())
            + " differs from input dtype " + x.dtype());
        int rows = x.numel() / Math.max(C, 1);
        Tensor out, rstd;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor xc = contig(x), wc = contig(weight);
            out = Tensor.empty(x.dtype(), x.device(), x.shape());
            rstd = Tensor.empty(DType.F32, x.device(), rows);
            x.backend().rmsNorm(xc, wc, eps, out, rstd);
            s.keep(out);
            s.keep(rstd);
        }
        try (rstd) {
            return Autograd.record("RmsNormBackward", out, in(x, weight), in(x, weight, rstd), (ctx, g) -> {
                Tensor xs = contig(ctx.saved(0));
                Tensor w = weight == null ? null : contig(ctx.saved(1));
                Tensor gx = Tensor.empty(xs.dtype(), xs.device(), xs.shape());
                Tensor gw = weight != null && ctx.needs(1) ? Tensor.empty(w.dtype(), w.device(), w.shape()) : null;
                xs.backend().rmsNormBackward(xs, w, ctx.saved(2), contig(g), gx, gw);
                return new Tensor[] {ctx.needs(0) ? gx : null, gw};
            });
        }
    }

    /** LayerNorm over the last dim; weight and bias [C] or null. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        sameDevice("layer_norm", x, weight, bias);
        Ops.requireFloat("layer_norm", x);
        int C = x.size(-1);
        check(weight == null || Arrays.equals(weight.shape(), new int[] {C}), "layer_norm: weight must be [" + C + "]");
        check(bias == null || Arrays.equals(bias.shape(), new int[] {C}), "layer_norm: bias must be [" + C + "]");
        check((weight == null || weight.dtype() == x.dtype()) && (bias == null || bias.dtype() == x.dtype()),
            "layer_norm: weight/bias dtype differs from input dtype " + x.dtype());
        int rows = x.numel() / Math.max(C, 1);
        Tensor out, mean, rstd;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            out = Tensor.empty(x.dtype(), x.device(), x.shape());
            mean = Tensor.empty(DType.F32, x.device(), rows);
            rstd = Tensor.empty(DType.F32, x.device(), rows);
            x.backend().layerNorm(contig(x), contig(weight), contig(bias), eps, out, mean, rstd);
            s.keep(out, mean, rstd);
        }
        try (mean; rstd) {
            return Autograd.record("LayerNormBackward", out, in(x, weight, bias), in(x, weight, mean, rstd), (ctx, g) -> {
                Tensor xs = contig(ctx.saved(0));
                Tensor w = weight == null ? null : contig(ctx.saved(1));
                Tensor gx = Tensor.empty(xs.dtype(), xs.device(), xs.shape());
                Tensor gw = weight != null && ctx.needs(1) ? Tensor.empty(xs.dtype(), xs.device(), C) : null;
                Tensor gb = bias != null && ctx.needs(2) ? Tensor.empty(xs.dtype(), xs.device(), C) : null;
                xs.backend().layerNormBackward(xs, w, ctx.saved(2), ctx.saved(3), contig(g), gx, gw, gb);
                return new Tensor[] {ctx.needs(0) ? gx : null, gw, gb};
            });
        }
    }

    // ---- rotary embedding ----------------------------------------------------------------

    /**
     * Rotary position embedding (rotate-half layout) of x [B, T, H, D] at positions [B, T] (I64),
     * with inverse frequencies invFreq [D/2] (F32).
     */
    public static Tensor rope(Tensor x, Tensor positions, Tensor invFreq) {
        sameDevice("rope", x, positions, invFreq);
        Ops.requireFloat("rope", x);
        check(x.dim() == 4, "rope: x must be [B, T, H, D], got " + Shapes.str(x.shape()));
        int B = x.size(0), T = x.size(1), D = x.size(3);
        check(D % 2 == 0, "rope: head dim must be even, got " + D);
        check(positions.dtype() == DType.I64 && Arrays.equals(positions.shape(), new int[] {B, T}),
            "rope: positions must be I64 [" + B + ", " + T + "], got " + positions.dtype() + " " + Shapes.str(positions.shape()));
        check(invFreq.dtype() == DType.F32 && Arrays.equals(invFreq.shape(), new int[] {D / 2}),
            "rope: invFreq must be F32 [" + D / 2 + "], got " + invFreq.dtype() + " " + Shapes.str(invFreq.shape()));
        Tensor out;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor xk = unitLastStride(x);
            Tensor pc = contig(positions), fc = contig(invFreq);
            out = Tensor.empty(x.dtype(), x.device(), x.shape());
            x.backend().rope(xk, pc, fc, false, out);
            s.keep(out);
        }
        return Autograd.record("RopeBackward", out, in(x), in(positions, invFreq), (ctx, g) -> {
            Tensor gk = unitLastStride(g);
            Tensor gx = Tensor.empty(g.dtype(), g.device(), g.shape());
            g.backend().rope(gk, contig(ctx.saved(0)), contig(ctx.saved(1)), true, gx);
            return new Tensor[] {gx};
        });
    }

    // ---- attention -----------------------------------------------------------------------

    /**
     * Fused attention: softmax(q k^T * scale + masks) v, with q [B, Hq, Tq, D] and k, v
     * [B, Hkv, Tk, D] (grouped-query attention when Hkv < Hq). keyMask [B, Tk] BOOL (true = real
     * token) or null; causal aligns the last query with the last key. scale &lt;= 0 means 1/sqrt(D).
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale) {
        sameDevice("attention", q, k, v, keyMask);
        Ops.requireFloat("attention", q);
        check(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention: q, k, v must be 4-D [B, H, T, D], got "
            + Shapes.str(q.shape()) + ", " + Shapes.str(k.shape()) + ", " + Shapes.str(v.shape()));
        int B = q.size(0), Hq = q.size(1), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
        check(Arrays.equals(k.shape(), v.shape()), "attention: k " + Shapes.str(k.shape()) + " and v " + Shapes.str(v.shape()) + " differ");
        check(k.size(0) == B && k.size(3) == D, "attention: k " + Shapes.str(k.shape()) + " does not match q " + Shapes.str(q.shape()));
        check(Hkv > 0 && Hq % Hkv == 0, "attention: " + Hq + " query heads are not a multiple of " + Hkv + " kv heads");
        check(q.dtype() == k.dtype() && k.dtype() == v.dtype(), "attention: q, k, v dtypes differ");
        check(keyMask == null || (keyMask.dtype() == DType.BOOL && Arrays.equals(keyMask.shape(), new int[] {B, Tk})),
            "attention: keyMask must be BOOL [" + B + ", " + Tk + "]");
        double sc = scale > 0 ? scale : 1.0 / Math.sqrt(D);
        Tensor out, lse;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor qk = unitLastStride(q);
            Tensor kk = unitLastStride(k);
            Tensor vk = unitLastStride(v);
            Tensor mk = contig(keyMask);
            out = Tensor.empty(q.dtype(), q.device(), q.shape());
            lse = Tensor.empty(DType.F32, q.device(), B, Hq, q.size(2));
            q.backend().attention(qk, kk, vk, mk, causal, sc, out, lse);
            s.keep(out, lse);
        }
        try (lse) {
            boolean hasMask = keyMask != null;
            Tensor[] save = hasMask ? in(q, k, v, out, lse, keyMask) : in(q, k, v, out, lse);
            return Autograd.record("AttentionBackward", out, in(q, k, v), save, (ctx, g) -> {
                Tensor qs = ctx.saved(0), ks = ctx.saved(1), vs = ctx.saved(2);
                Tensor qk = unitLastStride(qs);
                Tensor kk = unitLastStride(ks);
                Tensor vk = unitLastStride(vs);
                Tensor gq = Tensor.empty(qs.dtype(), qs.device(), qs.shape());
                Tensor gk = Tensor.empty(ks.dtype(), ks.device(), ks.shape());
                Tensor gv = Tensor.empty(vs.dtype(), vs.device(), vs.shape());
                qs.backend().attentionBackward(qk, kk, vk, ctx.saved(3), ctx.saved(4), contig(g),
                    hasMask ? contig(ctx.saved(5)) : null, causal, sc, gq, gk, gv);
                return new Tensor[] {gq, gk, gv};
            });
        }
    }

    // ---- activations ---------------------------------------------------------------------

    /** silu(gate) * up (the SwiGLU of LLaMA's MLP). */
    public static Tensor siluMul(Tensor gate, Tensor up) {
        sameDevice("silu_mul", gate, up);
        Ops.requireFloat("silu_mul", gate);
        check(Arrays.equals(gate.shape(), up.shape()), "silu_mul: gate " + Shapes.str(gate.shape()) + " and up "
            + Shapes.str(up.shape()) + " differ");
        check(gate.dtype() == up.dtype(), "silu_mul: dtypes differ");
        Tensor out;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            out = Tensor.empty(gate.dtype(), gate.device(), gate.shape());
            gate.backend().siluMul(contig(gate), contig(up), out);
            s.keep(out);
        }
        return Autograd.record("SiluMulBackward", out, in(gate, up), in(gate, up), (ctx, g) -> {
            Tensor ga = contig(ctx.saved(0)), u = contig(ctx.saved(1));
            Tensor gg = Tensor.empty(ga.dtype(), ga.device(), ga.shape());
            Tensor gu = Tensor.empty(ga.dtype(), ga.device(), ga.shape());
            ga.backend().siluMulBackward(ga, u, contig(g), gg, gu);
            return new Tensor[] {gg, gu};
        });
    }

    // ---- losses --------------------------------------------------------------------------

    /**
     * Mean cross-entropy of logits [N, V] (any float dtype; F32 math) against targets [N] (I64),
     * over the rows whose target is not ignoreIndex, like torch's CrossEntropyLoss. Returns an F32
     * scalar (F64 for F64 logits; NaN when every row is ignored, as in PyTorch).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex) {
        try (Scope s = Scope.open()) {
            Tensor rows = crossEntropyPerRow(logits, targets, ignoreIndex);
            Tensor count;
            try (GradMode ng = GradMode.noGrad()) {
                count = targets.ne((double) ignoreIndex).to(rows.dtype()).sum();
            }
            return s.keep(rows.sum().div(count));
        }
    }

    /** Per-row losses (F32 [N], F64 for F64 logits; 0 at ignored rows) without reduction; differentiable. */
    public static Tensor crossEntropyPerRow(Tensor logits, Tensor targets, long ignoreIndex) {
        sameDevice("cross_entropy", logits, targets);
        Ops.requireFloat("cross_entropy", logits);
        check(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0) && targets.dtype() == DType.I64,
            "cross_entropy: expects logits [N, V] and I64 targets [N], got " + Shapes.str(logits.shape()) + " and "
                + targets.dtype() + " " + Shapes.str(targets.shape()));
        int N = logits.size(0), V = logits.size(1);
        if (targets.device().isCpu()) {
            for (long t : targets.toLongArray()) {
                if (t != ignoreIndex && (t < 0 || t >= V)) {
                    throw new IndexOutOfBoundsException("cross_entropy: target " + t + " is out of range [0, " + V + ")");
                }
            }
        }
        Tensor rowLoss, lse;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            DType statType = logits.dtype() == DType.F64 ? DType.F64 : DType.F32;
            rowLoss = Tensor.empty(statType, logits.device(), N);
            lse = Tensor.empty(statType, logits.device(), N);
            logits.backend().crossEntropy(contig(logits), contig(targets), ignoreIndex, rowLoss, lse);
            s.keep(rowLoss, lse);
        }
        try (lse) {
            return Autograd.record("CrossEntropyBackward", rowLoss, in(logits), in(logits, targets, lse), (ctx, g) -> {
                Tensor lg = contig(ctx.saved(0));
                Tensor gl = Tensor.empty(lg.dtype(), lg.device(), lg.shape());
                lg.backend().crossEntropyBackward(lg, contig(ctx.saved(1)), ctx.saved(2), contig(g.to(ctx.saved(2).dtype())), ignoreIndex, gl);
                return new Tensor[] {gl};
            });
        }
    }

    // ---- embedding and dropout -----------------------------------------------------------

    /** Rows of weight [V, H] at ids (any shape, I64/I32): result ids.shape + [H]. */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        check(weight.dim() == 2, "embedding: weight must be [V, H], got " + Shapes.str(weight.shape()));
        int[] os = Ops.concat(ids.shape(), weight.size(1));
        try (Tensor flat = ids.reshape(-1); Tensor rows = weight.indexSelect(0, flat)) {
            return rows.reshape(os);
        }
    }

    /** Inverted dropout with probability p (identity when p == 0 or not training). */
    public static Tensor dropout(Tensor x, double p, boolean training, Generator gen) {
        check(p >= 0 && p < 1, "dropout: p must be in [0, 1), got " + p);
        if (!training || p == 0) return x.alias();
        try (Scope s = Scope.open()) {
            Tensor keep = Tensor.rand(gen, DType.F32, x.device(), x.shape()).ge(p);
            Tensor scaled = x.mul(1.0 / (1 - p));
            return s.keep(scaled.mul(keep.to(x.dtype())));
        }
    }
}
