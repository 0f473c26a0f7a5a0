package llava.core;

import java.util.Arrays;
import llava.core.autograd.Autograd;
import llava.core.autograd.GradMode;

/**
 * The differentiable ops behind {@link Tensor}'s methods: each validates its inputs, computes its
 * forward on the backend and records its backward formula right beside it.
 */
final class Ops {
    private Ops() {}

    static Tensor[] in(Tensor... ts) { return ts; }

    static void sameDevice(String op, Tensor a, Tensor b) {
        if (!a.device().equals(b.device())) {
            throw new IllegalArgumentException(op + ": operands are on different devices (" + a.device() + " and " + b.device() + ")");
        }
    }

    static void requireFloat(String op, Tensor t) {
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": expects a floating-point tensor, got " + t.dtype());
        }
    }

    // =========================================================================================
    // conversions
    // =========================================================================================

    static Tensor cast(Tensor x, DType dt) {
        x.checkOpen();
        if (x.dtype() == dt) return x.alias();
        Tensor out = Tensor.empty(dt, x.device(), x.shape());
        x.backend().copy(x, out);
        DType src = x.dtype();
        if (dt.isFloating() && src.isFloating()) {
            Autograd.record("ToCopyBackward", out, in(x), (ctx, g) -> new Tensor[] {g.to(src)});
        }
        return out;
    }

    static Tensor toDevice(Tensor x, Device device) {
        x.checkOpen();
        if (x.device().equals(device)) return x.alias();
        Tensor out = x.toDeviceInternal(device);
        Device src = x.device();
        Autograd.record("ToDeviceBackward", out, in(x), (ctx, g) -> new Tensor[] {g.to(src)});
        return out;
    }

    static Tensor contiguous(Tensor x) {
        x.checkOpen();
        if (x.isContiguous()) return x.alias();
        return clone(x);
    }

    static Tensor clone(Tensor x) {
        Tensor out = x.contiguousCopy();
        return Autograd.record("CloneBackward", out, in(x), (ctx, g) -> new Tensor[] {g});
    }

    // =========================================================================================
    // views
    // =========================================================================================

    static Tensor reshape(Tensor x, int[] shape, boolean strict) {
        x.checkOpen();
        int[] newShape = Shapes.inferShape(shape, x.numel(), strict ? "view" : "reshape");
        int[] st = Shapes.viewStrides(x.shape(), x.strides(), newShape);
        Tensor out;
        if (st != null) {
            out = x.makeView(newShape, st, x.offset());
        } else if (strict) {
            throw new IllegalArgumentException("view: shape " + Shapes.str(newShape) + " is not compatible with the strides "
                + Arrays.toString(x.strides()) + " of a tensor of shape " + Shapes.str(x.shape()) + "; use reshape()");
        } else {
            try (Tensor c = x.contiguousCopy()) {
                out = c.makeView(newShape, Shapes.contiguousStrides(newShape), 0);
            }
        }
        int[] inShape = x.shape();
        return Autograd.record("ViewBackward", out, in(x), (ctx, g) -> new Tensor[] {g.reshape(inShape)});
    }

    static Tensor permute(Tensor x, int[] dims) {
        int r = x.dim();
        if (dims.length != r) {
            throw new IllegalArgumentException("permute: " + dims.length + " dims given for a tensor of rank " + r);
        }
        int[] p = new int[r];
        boolean[] seen = new boolean[r];
        int[] shape = x.shape(), strides = x.strides();
        int[] ns = new int[r], nst = new int[r];
        for (int i = 0; i < r; i++) {
            p[i] = Shapes.dim(dims[i], r, "permute");
            if (seen[p[i]]) throw new IllegalArgumentException("permute: dimension " + dims[i] + " repeated in " + Arrays.toString(dims));
            seen[p[i]] = true;
            ns[i] = shape[p[i]];
            nst[i] = strides[p[i]];
        }
        Tensor out = x.makeView(ns, nst, x.offset());
        int[] inv = new int[r];
        for (int i = 0; i < r; i++) inv[p[i]] = i;
        return Autograd.record("PermuteBackward", out, in(x), (ctx, g) -> new Tensor[] {g.permute(inv)});
    }

    static Tensor transpose(Tensor x, int d0, int d1) {
        int r = x.dim();
        int a = Shapes.dim(d0, r, "transpose"), b = Shapes.dim(d1, r, "transpose");
        int[] p = new int[r];
        for (int i = 0; i < r; i++) p[i] = i;
        p[a] = b;
        p[b] = a;
        return permute(x, p);
    }

    static Tensor slice(Tensor x, int dim, int start, int end, int step) {
        int d = Shapes.dim(dim, x.dim(), "slice");
        if (step <= 0) throw new IllegalArgumentException("slice: step must be positive, got " + step);
        int n = x.size(d);
        int s = start < 0 ? Math.max(start + n, 0) : Math.min(start, n);
        int e = end < 0 ? Math.max(end + n, 0) : Math.min(end, n);
        int len = e > s ? (e - s + step - 1) / step : 0;
        int[] shape = x.shape(), strides = x.strides();
        int off = x.offset() + s * strides[d];
        shape[d] = len;
        strides[d] = strides[d] * step;
        Tensor out = x.makeView(shape, strides, off);
        int[] inShape = x.shape();
        int fs = s;
        return Autograd.record("SliceBackward", out, in(x), (ctx, g) -> {
            Tensor z = Tensor.zeros(g.dtype(), g.device(), inShape);
            try (Tensor part = z.slice(d, fs, fs + (len - 1) * step + 1, step)) {
                part.copy_(g);
            }
            return new Tensor[] {z};
        });
    }

    static Tensor select(Tensor x, int dim, int index) {
        int d = Shapes.dim(dim, x.dim(), "select");
        int n = x.size(d);
        int i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("select: index " + index + " out of range for dimension " + dim + " of size " + n);
        }
        int[] shape = x.shape(), strides = x.strides();
        int[] ns = new int[shape.length - 1], nst = new int[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (k == d) continue;
            ns[j] = shape[k];
            nst[j++] = strides[k];
        }
        Tensor out = x.makeView(ns, nst, x.offset() + i * strides[d]);
        int[] inShape = x.shape();
        return Autograd.record("SelectBackward", out, in(x), (ctx, g) -> {
            Tensor z = Tensor.zeros(g.dtype(), g.device(), inShape);
            try (Tensor part = z.select(d, i)) {
                part.copy_(g);
            }
            return new Tensor[] {z};
        });
    }

    /** Broadcast view without autograd (for feeding backends). */
    static Tensor expandView(Tensor x, int[] shape) {
        int r = shape.length, xr = x.dim();
        if (r < xr) {
            throw new IllegalArgumentException("expand: target shape " + Shapes.str(shape) + " has fewer dims than "
                + Shapes.str(x.shape()));
        }
        int[] xs = x.shape(), xst = x.strides();
        int[] ns = new int[r], nst = new int[r];
        for (int i = 0; i < r; i++) {
            int j = i - (r - xr);
            int want = shape[i];
            if (j < 0) {
                if (want < 0) throw new IllegalArgumentException("expand: -1 not allowed for a new leading dimension");
                ns[i] = want;
                nst[i] = 0;
            } else {
                if (want == -1) want = xs[j];
                if (xs[j] == want) {
                    ns[i] = want;
                    nst[i] = xst[j];
                } else if (xs[j] == 1) {
                    ns[i] = want;
                    nst[i] = 0;
                } else {
                    throw new IllegalArgumentException("expand: cannot expand shape " + Shapes.str(xs) + " to " + Shapes.str(shape));
                }
            }
        }
        return x.makeView(ns, nst, x.offset());
    }

    static Tensor expand(Tensor x, int[] shape) {
        Tensor out = expandView(x, shape);
        int[] inShape = x.shape();
        return Autograd.record("ExpandBackward", out, in(x), (ctx, g) -> new Tensor[] {sumTo(g, inShape)});
    }

    /** Sums a broadcast gradient back to shape (the backward of broadcasting). */
    static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g.alias();
        int lead = gs.length - shape.length;
        int[] dims = new int[gs.length];
        int nd = 0;
        for (int i = 0; i < gs.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) dims[nd++] = i;
        }
        try (Tensor s = reduce(ReduceOp.SUM, g, Arrays.copyOf(dims, nd), true)) {
            return s.reshape(shape);
        }
    }

    static Tensor unsqueeze(Tensor x, int dim) {
        int r = x.dim();
        int d = Shapes.dim(dim, r + 1, "unsqueeze");
        int[] s = x.shape();
        int[] ns = new int[r + 1];
        for (int i = 0, j = 0; i <= r; i++) ns[i] = i == d ? 1 : s[j++];
        return reshape(x, ns, true);
    }

    static Tensor squeeze(Tensor x, int dim) {
        int d = Shapes.dim(dim, x.dim(), "squeeze");
        if (x.size(d) != 1) return x.alias();
        int[] s = x.shape();
        int[] ns = new int[s.length - 1];
        for (int i = 0, j = 0; i < s.length; i++) if (i != d) ns[j++] = s[i];
        return reshape(x, ns, true);
    }

    static Tensor squeezeAll(Tensor x) {
        int[] s = x.shape();
        int n = 0;
        for (int v : s) if (v != 1) n++;
        int[] ns = new int[n];
        for (int i = 0, j = 0; i < s.length; i++) if (s[i] != 1) ns[j++] = s[i];
        return reshape(x, ns, true);
    }

    static Tensor flatten(Tensor x, int start, int end) {
        int r = x.dim();
        if (r == 0) return reshape(x, new int[] {1}, false);
        int a = Shapes.dim(start, r, "flatten"), b = Shapes.dim(end, r, "flatten");
        if (a > b) throw new IllegalArgumentException("flatten: start dim " + start + " after end dim " + end);
        int[] s = x.shape();
        int[] ns = new int[r - (b - a)];
        int j = 0;
        for (int i = 0; i < a; i++) ns[j++] = s[i];
        int p = 1;
        for (int i = a; i <= b; i++) p *= s[i];
        ns[j++] = p;
        for (int i = b + 1; i < r; i++) ns[j++] = s[i];
        return reshape(x, ns, false);
    }

    // =========================================================================================
    // elementwise
    // =========================================================================================

    static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        a.checkOpen();
        b.checkOpen();
        String name = op.name().toLowerCase();
        sameDevice(name, a, b);
        DType dt = DType.promote(a.dtype(), b.dtype());
        if (op == BinaryOp.POW && !dt.isFloating()) {
            throw new IllegalArgumentException("pow: integer tensors are not supported, got " + dt);
        }
        int[] outShape = Shapes.broadcast(a.shape(), b.shape(), name);
        DType outType = op.isComparison() ? DType.BOOL : dt;
        Tensor out;
        Tensor ca, cb;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            ca = a.dtype() == dt ? a : a.to(dt);
            cb = b.dtype() == dt ? b : b.to(dt);
            Tensor ea = expandView(ca, outShape), eb = expandView(cb, outShape);
            out = Tensor.empty(outType, a.device(), outShape);
            a.backend().binary(op, ea, eb, out);
            s.keep(out);
            if (ca != a) s.keep(ca);
            if (cb != b) s.keep(cb);
        }
        try {
            if (op.isComparison() || !Autograd.needsRecording(a, b)) return out;
            int[] as = a.shape(), bs = b.shape();
            DType adt = a.dtype(), bdt = b.dtype();
            String gname = op.name().charAt(0) + op.name().substring(1).toLowerCase() + "Backward";
            return switch (op) {
                case ADD -> Autograd.record(gname, out, in(a, b), (ctx, g) -> new Tensor[] {
                    ctx.needs(0) ? castTo(sumTo(g, as), adt) : null,
                    ctx.needs(1) ? castTo(sumTo(g, bs), bdt) : null});
                case SUB -> Autograd.record(gname, out, in(a, b), (ctx, g) -> new Tensor[] {
                    ctx.needs(0) ? castTo(sumTo(g, as), adt) : null,
                    ctx.needs(1) ? castTo(sumTo(g.neg(), bs), bdt) : null});
                case MUL -> Autograd.record(gname, out, in(a, b), in(ca, cb), (ctx, g) -> new Tensor[] {
                    ctx.needs(0) ? castTo(sumTo(g.mul(ctx.saved(1)), as), adt) : null,
                    ctx.needs(1) ? castTo(sumTo(g.mul(ctx.saved(0)), bs), bdt) : null});
                case DIV -> Autograd.record(gname, out, in(a, b), in(ca, cb, out), (ctx, g) -> new Tensor[] {
                    ctx.needs(0) ? castTo(sumTo(g.div(ctx.saved(1)), as), adt) : null,
                    ctx.needs(1) ? castTo(sumTo(g.mul(ctx.saved(2)).div(ctx.saved(1)).neg(), bs), bdt) : null});
                case POW -> Autograd.record(gname, out, in(a, b), in(ca, cb, out), (ctx, g) -> new Tensor[] {
                    ctx.needs(0) ? castTo(sumTo(g.mul(ctx.saved(1)).mul(ctx.saved(0).pow(ctx.saved(1).sub(1))), as), adt) : null,
                    ctx.needs(1) ? castTo(sumTo(g.mul(ctx.saved(2)).mul(ctx.saved(0).log()), bs), bdt) : null});
                case MAX, MIN -> Autograd.record(gname, out, in(a, b), in(ca, cb), (ctx, g) -> {
                    Tensor x = ctx.saved(0), y = ctx.saved(1);
                    Tensor aWins = op == BinaryOp.MAX ? x.gt(y) : x.lt(y);
                    Tensor tie = x.eq(y);
                    Tensor half = g.mul(0.5);
                    Tensor zero = Tensor.zeros(g.dtype(), g.device());
                    Tensor ga = where(aWins, g, where(tie, half, zero));
                    Tensor bWins = op == BinaryOp.MAX ? x.lt(y) : x.gt(y);
                    Tensor gb = where(bWins, g, where(tie, half, zero));
                    return new Tensor[] {
                        ctx.needs(0) ? castTo(sumTo(ga, as), adt) : null,
                        ctx.needs(1) ? castTo(sumTo(gb, bs), bdt) : null};
                });
                default -> throw new IllegalStateException(op.name());
            };
        } finally {
            if (ca != a) ca.close();
            if (cb != b) cb.close();
        }
    }

    private static Tensor castTo(Tensor t, DType dt) {
        return t.dtype() == dt ? t : t.to(dt);
    }

    static Tensor compareScalar(BinaryOp op, Tensor x, double s) {
        try (Tensor c = Tensor.scalar(s, x.dtype(), x.device())) {
            return binary(op, x, c);
        }
    }

    static Tensor unary(UnaryOp op, Tensor x) {
        x.checkOpen();
        String name = op.name().toLowerCase();
        boolean intOk = op == UnaryOp.NEG || op == UnaryOp.ABS || op == UnaryOp.SIGN || op == UnaryOp.SQUARE;
        if (!intOk) requireFloat(name, x);
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().unary(op, x, out, 0, 0);
        if (!x.dtype().isFloating()) return out;
        String gname = name + "Backward";
        return switch (op) {
            case NEG -> Autograd.record(gname, out, in(x), (ctx, g) -> new Tensor[] {g.neg()});
            case EXP -> Autograd.record(gname, out, in(x), in(out), (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0))});
            case LOG -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> new Tensor[] {g.div(ctx.saved(0))});
            case SQRT -> Autograd.record(gname, out, in(x), in(out), (ctx, g) -> new Tensor[] {g.div(ctx.saved(0)).mul(0.5)});
            case RSQRT -> Autograd.record(gname, out, in(x), in(out),
                (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).pow(3)).mul(-0.5)});
            case ABS -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).sign())});
            case SIN -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).cos())});
            case COS -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).sin()).neg()});
            case RECIPROCAL -> Autograd.record(gname, out, in(x), in(out),
                (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).square()).neg()});
            case SQUARE -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0)).mul(2)});
            case SIGN -> Autograd.record(gname, out, in(x), (ctx, g) -> new Tensor[] {Tensor.zerosLike(g)});
            case TANH, SIGMOID, RELU, SILU, GELU, GELU_TANH, QUICK_GELU -> Autograd.record(gname, out, in(x), in(x), (ctx, g) -> {
                Tensor xs = ctx.saved(0);
                Tensor gc = contiguousForKernel(g);
                Tensor xc = contiguousForKernel(xs);
                Tensor gx = Tensor.empty(xs.dtype(), xs.device(), xs.shape());
                xs.backend().unaryBackward(op, xc, gc, gx);
                return new Tensor[] {gx};
            });
            default -> throw new IllegalStateException(op.name());
        };
    }

    /** Contiguous input for a kernel (this handle when already contiguous). */
    static Tensor contiguousForKernel(Tensor t) {
        if (t.isContiguous()) return t;
        return t.contiguousCopy();
    }

    static Tensor affine(Tensor x, double a, double b, String name) {
        x.checkOpen();
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().unary(UnaryOp.AFFINE, x, out, a, b);
        if (!x.dtype().isFloating()) return out;
        return Autograd.record(name, out, in(x), (ctx, g) -> new Tensor[] {a == 1 ? g : g.mul(a)});
    }

    static Tensor powScalar(Tensor x, double e) {
        requireFloat("pow", x);
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().unary(UnaryOp.POW_SCALAR, x, out, e, 0);
        return Autograd.record("PowBackward", out, in(x), in(x),
            (ctx, g) -> new Tensor[] {g.mul(ctx.saved(0).pow(e - 1)).mul(e)});
    }

    static Tensor clamp(Tensor x, double min, double max) {
        x.checkOpen();
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().unary(UnaryOp.CLAMP, x, out, min, max);
        if (!x.dtype().isFloating()) return out;
        return Autograd.record("ClampBackward", out, in(x), in(x), (ctx, g) -> {
            Tensor xs = ctx.saved(0);
            Tensor keep = null;
            if (!Double.isNaN(min)) keep = xs.ge(min);
            if (!Double.isNaN(max)) keep = keep == null ? xs.le(max) : keep.logicalAnd(xs.le(max));
            if (keep == null) return new Tensor[] {g};
            return new Tensor[] {where(keep, g, Tensor.zeros(g.dtype(), g.device()))};
        });
    }

    static Tensor where(Tensor cond, Tensor a, Tensor b) {
        if (cond.dtype() != DType.BOOL) throw new IllegalArgumentException("where: condition must be BOOL, got " + cond.dtype());
        sameDevice("where", cond, a);
        sameDevice("where", a, b);
        DType dt = DType.promote(a.dtype(), b.dtype());
        int[] shape = Shapes.broadcast(Shapes.broadcast(cond.shape(), a.shape(), "where"), b.shape(), "where");
        Tensor out;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor ca = a.dtype() == dt ? a : a.to(dt);
            Tensor cb = b.dtype() == dt ? b : b.to(dt);
            out = Tensor.empty(dt, a.device(), shape);
            a.backend().where(expandView(cond, shape), expandView(ca, shape), expandView(cb, shape), out);
            s.keep(out);
        }
        int[] as = a.shape(), bs = b.shape();
        DType adt = a.dtype(), bdt = b.dtype();
        return Autograd.record("WhereBackward", out, in(a, b), in(cond), (ctx, g) -> {
            Tensor c = ctx.saved(0);
            Tensor zero = Tensor.zeros(g.dtype(), g.device());
            return new Tensor[] {
                ctx.needs(0) ? castTo(sumTo(where(c, g, zero), as), adt) : null,
                ctx.needs(1) ? castTo(sumTo(where(c, zero, g), bs), bdt) : null};
        });
    }

    static Tensor maskedFill(Tensor x, Tensor mask, double value) {
        try (Tensor v = Tensor.scalar(value, x.dtype(), x.device())) {
            Tensor out = where(mask, v, x);
            if (!Arrays.equals(out.shape(), x.shape())) {
                out.close();
                throw new IllegalArgumentException("maskedFill: mask of shape " + Shapes.str(mask.shape())
                    + " does not broadcast to the tensor's shape " + Shapes.str(x.shape()));
            }
            return out;
        }
    }

    static void checkInplace(String op, Tensor self) {
        self.checkOpen();
        if (GradMode.isEnabled() && self.requiresGrad()) {
            throw new IllegalStateException(op + ": in-place update of a tensor that requires grad; do it under GradMode.noGrad()"
                + " (e.g. an optimizer step) or on a detached tensor");
        }
    }

    static Tensor inplaceBinary(BinaryOp op, Tensor self, Tensor o) {
        String name = op.name().toLowerCase() + "_";
        checkInplace(name, self);
        sameDevice(name, self, o);
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor co = o.dtype() == self.dtype() ? o : o.to(self.dtype());
            Tensor eo = expandView(co, self.shape());
            self.backend().binary(op, self, eo, self);
        }
        return self;
    }

    static Tensor inplaceUnary(UnaryOp op, Tensor self, double a, double b) {
        checkInplace(op.name().toLowerCase() + "_", self);
        self.backend().unary(op, self, self, a, b);
        return self;
    }

    static Tensor fill_(Tensor self, double v) {
        checkInplace("fill_", self);
        self.backend().fill(self, v);
        return self;
    }

    static Tensor copy_(Tensor self, Tensor src) {
        checkInplace("copy_", self);
        src.checkOpen();
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor c = src;
            if (!src.device().equals(self.device())) c = src.to(self.device());
            Tensor e = expandView(c, self.shape());
            self.backend().copy(e, self);
        }
        return self;
    }

    // =========================================================================================
    // reductions
    // =========================================================================================

    static int[] normDims(int[] dims, int rank, String op) {
        if (dims == null) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) all[i] = i;
            return all;
        }
        boolean[] seen = new boolean[rank];
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            out[i] = Shapes.dim(dims[i], rank, op);
            if (seen[out[i]]) throw new IllegalArgumentException(op + ": dimension " + dims[i] + " repeated");
            seen[out[i]] = true;
        }
        Arrays.sort(out);
        return out;
    }

    static Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepdim) {
        x.checkOpen();
        String name = op.name().toLowerCase();
        if (op == ReduceOp.MEAN) requireFloat(name, x);
        int r = x.dim();
        int[] d = normDims(dims, r, name);
        int[] keepShape = x.shape();
        for (int k : d) {
            if ((op == ReduceOp.MAX || op == ReduceOp.MIN) && keepShape[k] == 0) {
                throw new IllegalArgumentException(name + ": reduction over an empty dimension " + k);
            }
            keepShape[k] = 1;
        }
        int[] outShape = keepdim ? keepShape : squeezeDims(x.shape(), d);
        DType odt = op == ReduceOp.SUM && x.dtype() == DType.BOOL ? DType.I64 : x.dtype();
        Tensor kept = Tensor.empty(odt, x.device(), keepShape);
        if (odt != x.dtype()) {
            try (Tensor xi = x.to(odt)) {
                x.backend().reduce(op, xi, kept);
            }
        } else {
            x.backend().reduce(op, x, kept);
        }
        Tensor out;
        if (keepdim) {
            out = kept;
        } else {
            out = kept.makeView(outShape, Shapes.contiguousStrides(outShape), 0);
            kept.close();
        }
        if (!x.dtype().isFloating()) return out;
        int[] inShape = x.shape();
        int count = 1;
        for (int k : d) count *= inShape[k];
        int cnt = count;
        return switch (op) {
            case SUM -> Autograd.record("SumBackward", out, in(x), (ctx, g) -> {
                try (Tensor gk = g.reshape(keepShape)) {
                    return new Tensor[] {gk.expand(inShape)};
                }
            });
            case MEAN -> Autograd.record("MeanBackward", out, in(x), (ctx, g) -> {
                try (Tensor gk = g.reshape(keepShape); Tensor sc = gk.mul(1.0 / cnt)) {
                    return new Tensor[] {sc.expand(inShape)};
                }
            });
            case MAX, MIN -> Autograd.record(op == ReduceOp.MAX ? "MaxBackward" : "MinBackward", out, in(x), in(x, out), (ctx, g) -> {
                Tensor xs = ctx.saved(0);
                Tensor m = ctx.saved(1).reshape(keepShape);
                Tensor hit = xs.eq(m);
                Tensor hitF = hit.to(g.dtype());
                Tensor n = hitF.sum(d, true);
                Tensor gk = g.reshape(keepShape);
                return new Tensor[] {hitF.mul(gk.div(n))};
            });
        };
    }

    static int[] squeezeDims(int[] shape, int[] sortedDims) {
        int[] out = new int[shape.length - sortedDims.length];
        for (int i = 0, j = 0, k = 0; i < shape.length; i++) {
            if (k < sortedDims.length && sortedDims[k] == i) {
                k++;
                continue;
            }
            out[j++] = shape[i];
        }
        return out;
    }

    static Tensor argReduce(boolean max, Tensor x, int dim, boolean keepdim) {
        x.checkOpen();
        int d = Shapes.dim(dim, x.dim(), max ? "argmax" : "argmin");
        if (x.size(d) == 0) throw new IllegalArgumentException((max ? "argmax" : "argmin") + ": empty dimension");
        int[] keepShape = x.shape();
        keepShape[d] = 1;
        Tensor idx = Tensor.empty(DType.I64, x.device(), keepShape);
        x.backend().argReduce(max, x, d, null, idx);
        if (keepdim) return idx;
        int[] os = squeezeDims(x.shape(), new int[] {d});
        Tensor out = idx.makeView(os, Shapes.contiguousStrides(os), 0);
        idx.close();
        return out;
    }

    static Tensor var(Tensor x, int[] dims, boolean keepdim, int correction) {
        requireFloat("var", x);
        int[] d = normDims(dims, x.dim(), "var");
        int count = 1;
        for (int k : d) count *= x.size(k);
        try (Scope s = Scope.open()) {
            Tensor mean = x.mean(d, true);
            Tensor dev = x.sub(mean);
            Tensor ss = dev.square().sum(d, keepdim);
            return s.keep(ss.div(Math.max(count - correction, 0)));
        }
    }

    static Tensor softmax(Tensor x, int dim, boolean log) {
        String name = log ? "log_softmax" : "softmax";
        requireFloat(name, x);
        int r = x.dim();
        if (r == 0) {
            try (Tensor u = x.reshape(1)) {
                Tensor o = softmax(u, 0, log);
                try (o) {
                    return o.reshape();
                }
            }
        }
        int d = Shapes.dim(dim, r, name);
        if (d != r - 1) {
            try (Tensor t = x.transpose(d, r - 1); Tensor s = softmax(t, -1, log)) {
                return s.transpose(d, r - 1);
            }
        }
        Tensor out;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor xc = contiguousForKernel(x);
            out = Tensor.empty(x.dtype(), x.device(), x.shape());
            x.backend().softmax(xc, out, log);
            s.keep(out);
        }
        return Autograd.record(log ? "LogSoftmaxBackward" : "SoftmaxBackward", out, in(x), in(out), (ctx, g) -> {
            Tensor y = ctx.saved(0);
            Tensor gc = contiguousForKernel(g);
            Tensor gx = Tensor.empty(y.dtype(), y.device(), y.shape());
            y.backend().softmaxBackward(y, gc, gx, log);
            return new Tensor[] {gx};
        });
    }

    // =========================================================================================
    // matmul
    // =========================================================================================

    static Tensor matmul(Tensor a, Tensor b) {
        a.checkOpen();
        b.checkOpen();
        sameDevice("matmul", a, b);
        requireFloat("matmul", a);
        requireFloat("matmul", b);
        if (a.dim() == 0 || b.dim() == 0) throw new IllegalArgumentException("matmul: both arguments need at least 1 dimension");
        if (a.dtype() != b.dtype()) {
            DType dt = DType.promote(a.dtype(), b.dtype());
            Tensor ca = a.to(dt), cb = b.to(dt);
            try {
                return matmul(ca, cb);
            } finally {
                ca.close();
                cb.close();
            }
        }
        if (a.dim() == 1 && b.dim() == 1) {
            try (Tensor a2 = a.unsqueeze(0); Tensor b2 = b.unsqueeze(1); Tensor o = matmul(a2, b2)) {
                return o.reshape();
            }
        }
        if (a.dim() == 1) {
            try (Tensor a2 = a.unsqueeze(0); Tensor o = matmul(a2, b)) {
                return o.squeeze(-2);
            }
        }
        if (b.dim() == 1) {
            try (Tensor b2 = b.unsqueeze(1); Tensor o = matmul(a, b2)) {
                return o.squeeze(-1);
            }
        }
        int K = a.size(-1);
        if (b.size(-2) != K) {
            throw new IllegalArgumentException("matmul: shapes " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape())
                + " cannot be multiplied (" + K + " != " + b.size(-2) + ")");
        }
        // [..., M, K] @ [K, N]: fold the batch into M (one large GEMM, and no batch sum in backward)
        if (b.dim() == 2 && a.dim() > 2) {
            int[] as = a.shape();
            try (Tensor a2 = a.reshape(-1, K); Tensor o = mm(a2, b)) {
                int[] os = Arrays.copyOf(as, as.length);
                os[os.length - 1] = b.size(1);
                return o.reshape(os);
            }
        }
        return mm(a, b);
    }

    /** Batched matmul of rank >= 2 operands with broadcast batch dims; one autograd node. */
    static Tensor mm(Tensor a, Tensor b) {
        int ra = a.dim(), rb = b.dim();
        int M = a.size(-2), K = a.size(-1), N = b.size(-1);
        int[] ab = Arrays.copyOf(a.shape(), ra - 2), bb = Arrays.copyOf(b.shape(), rb - 2);
        int[] batch = Shapes.broadcast(ab, bb, "matmul");
        int[] aShape = concat(batch, M, K), bShape = concat(batch, K, N), oShape = concat(batch, M, N);
        Tensor out = Tensor.empty(a.dtype(), a.device(), oShape);
        try (Tensor ea = expandView(a, aShape); Tensor eb = expandView(b, bShape)) {
            a.backend().matmul(ea, eb, null, out);
        }
        int[] as = a.shape(), bs = b.shape();
        return Autograd.record("MmBackward", out, in(a, b), in(a, b), (ctx, g) -> {
            Tensor ga = null, gb = null;
            if (ctx.needs(0)) ga = sumTo(g.matmul(ctx.saved(1).mT()), as);
            if (ctx.needs(1)) gb = sumTo(ctx.saved(0).mT().matmul(g), bs);
            return new Tensor[] {ga, gb};
        });
    }

    static int[] concat(int[] prefix, int... rest) {
        int[] out = Arrays.copyOf(prefix, prefix.length + rest.length);
        System.arraycopy(rest, 0, out, prefix.length, rest.length);
        return out;
    }

    // =========================================================================================
    // indexing and joining
    // =========================================================================================

    static void checkIndex(String op, Tensor index, int limit) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": index must be I64 or I32, got " + index.dtype());
        }
        if (index.device().isCpu() && index.numel() > 0) {
            long[] v = index.toLongArray();
            for (long i : v) {
                if (i < 0 || i >= limit) {
                    throw new IndexOutOfBoundsException(op + ": index " + i + " is out of range [0, " + limit + ")");
                }
            }
        }
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        x.checkOpen();
        sameDevice("index_select", x, index);
        if (index.dim() > 1) throw new IllegalArgumentException("index_select: index must be 1-D, got shape " + Shapes.str(index.shape()));
        int d = Shapes.dim(dim, x.dim(), "index_select");
        checkIndex("index_select", index, x.size(d));
        int[] os = x.shape();
        os[d] = index.numel();
        Tensor out = Tensor.empty(x.dtype(), x.device(), os);
        try (Tensor idx = index.dim() == 0 ? index.reshape(1) : index.alias()) {
            x.backend().indexSelect(x, d, idx, out);
            int[] inShape = x.shape();
            return Autograd.record("IndexSelectBackward", out, in(x), in(idx), (ctx, g) -> {
                Tensor z = Tensor.zeros(g.dtype(), g.device(), inShape);
                Tensor gc = contiguousForKernel(g);
                z.backend().indexAdd(z, d, ctx.saved(0), gc);
                return new Tensor[] {z};
            });
        }
    }

    static Tensor indexAdd_(Tensor target, int dim, Tensor index, Tensor src) {
        checkInplace("index_add_", target);
        sameDevice("index_add_", target, src);
        int d = Shapes.dim(dim, target.dim(), "index_add_");
        checkIndex("index_add_", index, target.size(d));
        int[] expect = target.shape();
        expect[d] = index.numel();
        if (!Arrays.equals(expect, src.shape())) {
            throw new IllegalArgumentException("index_add_: source of shape " + Shapes.str(src.shape()) + ", expected " + Shapes.str(expect));
        }
        try (Tensor sc = src.dtype() == target.dtype() ? src.alias() : src.to(target.dtype())) {
            target.backend().indexAdd(target, d, index, sc);
        }
        return target;
    }

    static void checkGatherShapes(String op, Tensor x, int d, Tensor index) {
        if (index.dtype() != DType.I64) throw new IllegalArgumentException(op + ": index must be I64, got " + index.dtype());
        if (index.dim() != x.dim()) {
            throw new IllegalArgumentException(op + ": index has rank " + index.dim() + ", the tensor " + x.dim());
        }
        for (int k = 0; k < x.dim(); k++) {
            if (k != d && index.size(k) > x.size(k)) {
                throw new IllegalArgumentException(op + ": index shape " + Shapes.str(index.shape()) + " exceeds the tensor's "
                    + Shapes.str(x.shape()) + " at dimension " + k);
            }
        }
        checkIndex(op, index, x.size(d));
    }

    static Tensor gather(Tensor x, int dim, Tensor index) {
        sameDevice("gather", x, index);
        int d = Shapes.dim(dim, x.dim(), "gather");
        checkGatherShapes("gather", x, d, index);
        Tensor out = Tensor.empty(x.dtype(), x.device(), index.shape());
        x.backend().gather(x, d, index, out);
        int[] inShape = x.shape();
        return Autograd.record("GatherBackward", out, in(x), in(index), (ctx, g) -> {
            Tensor z = Tensor.zeros(g.dtype(), g.device(), inShape);
            Tensor gc = contiguousForKernel(g);
            z.backend().scatterAdd(z, d, ctx.saved(0), gc);
            return new Tensor[] {z};
        });
    }

    static Tensor scatterAdd(Tensor self, int dim, Tensor index, Tensor src) {
        sameDevice("scatter_add", self, src);
        int d = Shapes.dim(dim, self.dim(), "scatter_add");
        checkGatherShapes("scatter_add", self, d, index);
        if (!Arrays.equals(index.shape(), src.shape())) {
            throw new IllegalArgumentException("scatter_add: index shape " + Shapes.str(index.shape()) + " differs from source shape "
                + Shapes.str(src.shape()));
        }
        Tensor out = self.contiguousCopy();
        try (Tensor sc = src.dtype() == self.dtype() ? src.alias() : src.to(self.dtype())) {
            self.backend().scatterAdd(out, d, index, sc);
        }
        return Autograd.record("ScatterAddBackward", out, in(self, src), in(index), (ctx, g) -> new Tensor[] {
            ctx.needs(0) ? g : null,
            ctx.needs(1) ? g.gather(d, ctx.saved(0)) : null});
    }

    static Tensor oneHot(Tensor idx, int n) {
        if (idx.dtype() != DType.I64 && idx.dtype() != DType.I32) {
            throw new IllegalArgumentException("one_hot: expects an integer tensor, got " + idx.dtype());
        }
        try (Scope s = Scope.open()) {
            Tensor i64 = idx.to(DType.I64).unsqueeze(-1);
            int[] os = concat(idx.shape(), n);
            Tensor z = Tensor.zeros(DType.I64, idx.device(), os);
            Tensor ones = Tensor.ones(DType.I64, idx.device(), i64.shape());
            return s.keep(z.scatterAdd(-1, i64, ones));
        }
    }

    static Tensor cat(Tensor[] ts, int dim) {
        if (ts.length == 0) throw new IllegalArgumentException("cat: no tensors given");
        Tensor first = ts[0];
        int r = first.dim();
        if (r == 0) throw new IllegalArgumentException("cat: zero-dimensional tensors cannot be concatenated");
        int d = Shapes.dim(dim, r, "cat");
        DType dt = first.dtype();
        int total = 0;
        for (int i = 0; i < ts.length; i++) {
            Tensor t = ts[i];
            t.checkOpen();
            sameDevice("cat", first, t);
            dt = DType.promote(dt, t.dtype());
            if (t.dim() != r) throw new IllegalArgumentException("cat: tensor " + i + " has rank " + t.dim() + ", expected " + r);
            for (int k = 0; k < r; k++) {
                if (k != d && t.size(k) != first.size(k)) {
                    throw new IllegalArgumentException("cat: tensor " + i + " has shape " + Shapes.str(t.shape())
                        + ", which does not match " + Shapes.str(first.shape()) + " outside dimension " + d);
                }
            }
            total += t.size(d);
        }
        int[] os = first.shape();
        os[d] = total;
        Tensor out = Tensor.empty(dt, first.device(), os);
        int[] sizes = new int[ts.length];
        DType[] dts = new DType[ts.length];
        try (GradMode ng = GradMode.noGrad()) {
            int off = 0;
            for (int i = 0; i < ts.length; i++) {
                sizes[i] = ts[i].size(d);
                dts[i] = ts[i].dtype();
                try (Tensor part = out.narrow(d, off, sizes[i])) {
                    out.backend().copy(ts[i], part);
                }
                off += sizes[i];
            }
        }
        return Autograd.record("CatBackward", out, ts, (ctx, g) -> {
            Tensor[] gs = new Tensor[sizes.length];
            int off = 0;
            for (int i = 0; i < sizes.length; i++) {
                if (ctx.needs(i)) gs[i] = castTo(g.narrow(d, off, sizes[i]), dts[i]);
                off += sizes[i];
            }
            return gs;
        });
    }

    static Tensor stack(Tensor[] ts, int dim) {
        if (ts.length == 0) throw new IllegalArgumentException("stack: no tensors given");
        int d = Shapes.dim(dim, ts[0].dim() + 1, "stack");
        for (int i = 1; i < ts.length; i++) {
            if (!Arrays.equals(ts[i].shape(), ts[0].shape())) {
                throw new IllegalArgumentException("stack: tensor " + i + " has shape " + Shapes.str(ts[i].shape())
                    + ", expected " + Shapes.str(ts[0].shape()));
            }
        }
        try (Scope s = Scope.open()) {
            Tensor[] us = new Tensor[ts.length];
            for (int i = 0; i < ts.length; i++) us[i] = ts[i].unsqueeze(d);
            return s.keep(cat(us, d));
        }
    }

    static Tensor[] split(Tensor x, int size, int dim) {
        int d = Shapes.dim(dim, x.dim(), "split");
        if (size <= 0) throw new IllegalArgumentException("split: size must be positive");
        int n = x.size(d);
        int parts = Math.max(1, (n + size - 1) / size);
        int[] sizes = new int[parts];
        for (int i = 0; i < parts; i++) sizes[i] = Math.min(size, n - i * size);
        return splitSizes(x, sizes, d);
    }

    static Tensor[] splitSizes(Tensor x, int[] sizes, int dim) {
        int d = Shapes.dim(dim, x.dim(), "split");
        int sum = 0;
        for (int s : sizes) sum += s;
        if (sum != x.size(d)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " do not add up to " + x.size(d));
        }
        Tensor[] out = new Tensor[sizes.length];
        int off = 0;
        for (int i = 0; i < sizes.length; i++) {
            out[i] = x.narrow(d, off, sizes[i]);
            off += sizes[i];
        }
        return out;
    }
}
