package llava.core.cpu;

import llava.core.Backend;
import llava.core.BinaryOp;
import llava.core.DType;
import llava.core.Device;
import llava.core.ReduceOp;
import llava.core.Storage;
import llava.core.Tensor;
import llava.core.UnaryOp;

/**
 * The CPU backend: Java arrays, all cores (see {@link Parallel}). F32 tensors run F32 kernels
 * ({@link FloatKernels}: Vector API where jdk.incubator.vector is enabled, plain loops otherwise;
 * matmul through OpenBLAS, see {@link CpuMatmul}); F64 tensors keep exact double-precision paths
 * (the gradcheck reference); the remaining elementwise ops compute each element in double.
 */
public final class CpuBackend implements Backend {

    @Override
    public Device.Type deviceType() { return Device.Type.CPU; }

    @Override
    public Storage allocate(Device device, DType dtype, long numel) {
        if (numel > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("CPU tensors hold at most " + Integer.MAX_VALUE + " elements, requested " + numel);
        }
        try {
            return new CpuStorage(dtype, (int) numel);
        } catch (OutOfMemoryError e) {
            throw new IllegalStateException("CPU out of memory allocating " + numel * dtype.byteSize() + " bytes ("
                + CpuStorage.LIVE_BYTES.get() + " bytes live in tensors; raise -Xmx)", e);
        }
    }

    @Override
    public MemoryStats memoryStats(Device device) {
        long live = CpuStorage.LIVE_BYTES.get();
        return new MemoryStats(live, live, CpuStorage.PEAK_BYTES.get());
    }

    static Object arr(Tensor t) {
        return ((CpuStorage) t.storage()).array();
    }

    // ---- data movement -------------------------------------------------------------------

    /** A strided view of a CPU array: what the kernels need of a tensor, without a handle. */
    record Raw(Object arr, DType dt, int[] shape, int[] strides, int offset) {
        static Raw of(Tensor t) {
            return new Raw(CpuBackend.arr(t), t.dtype(), t.shape(), t.strides(), t.offset());
        }

        /** The slice at position i of dim, keeping the rank. */
        Raw slab(int dim, int i) {
            int[] s = shape.clone();
            s[dim] = 1;
            return new Raw(arr, dt, s, strides, offset + i * strides[dim]);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        copyRaw(Raw.of(src), Raw.of(dst), true);
    }

    static void copyRaw(Raw src, Raw dst, boolean parallel) {
        DType sd = src.dt(), dd = dst.dt();
        Object sa = src.arr(), da = dst.arr();
        Strided it = Strided.of(dst.shape(), new int[][] {dst.strides(), src.strides()}, new int[] {dst.offset(), src.offset()});
        if (sd == dd) {
            it.forEach(parallel, (n, o, inc) -> {
                if (inc[0] == 1 && inc[1] == 1) {
                    System.arraycopy(sa, o[1], da, o[0], n);
                } else {
                    copySame(sa, o[1], inc[1], da, o[0], inc[0], n, sd);
                }
            });
        } else if (!sd.isFloating() && !dd.isFloating() && sd != DType.BOOL && dd != DType.BOOL) {
            it.forEach(parallel, (n, o, inc) -> {
                for (int i = 0; i < n; i++) writeLong(da, dd, o[0] + i * inc[0], readLong(sa, sd, o[1] + i * inc[1]));
            });
        } else {
            it.forEach(parallel, (n, o, inc) -> {
                double[] buf = new double[n];
                Access.load(sa, sd, o[1], inc[1], n, buf);
                Access.store(buf, n, da, dd, o[0], inc[0]);
            });
        }
    }

    /** dst += src (same shape; dst's dtype). */
    static void addRaw(Raw dst, Raw src) {
        Object sa = src.arr(), da = dst.arr();
        DType sd = src.dt(), dd = dst.dt();
        Strided.of(dst.shape(), new int[][] {dst.strides(), src.strides()}, new int[] {dst.offset(), src.offset()})
            .forEach(false, (n, o, inc) -> {
                double[] x = new double[n], y = new double[n];
                Access.load(da, dd, o[0], inc[0], n, x);
                Access.load(sa, sd, o[1], inc[1], n, y);
                for (int i = 0; i < n; i++) x[i] += y[i];
                Access.store(x, n, da, dd, o[0], inc[0]);
            });
    }

    private static void copySame(Object sa, int so, int si, Object da, int dof, int di, int n, DType dt) {
        switch (dt) {
            case F64 -> { double[] s = (double[]) sa, d = (double[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
            case F32 -> { float[] s = (float[]) sa, d = (float[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
            case BF16, F16 -> { short[] s = (short[]) sa, d = (short[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
            case I64 -> { long[] s = (long[]) sa, d = (long[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
            case I32 -> { int[] s = (int[]) sa, d = (int[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
            case U8, BOOL -> { byte[] s = (byte[]) sa, d = (byte[]) da; for (int i = 0; i < n; i++) d[dof + i * di] = s[so + i * si]; }
        }
    }

    static long readLong(Object a, DType dt, int i) {
        return switch (dt) {
            case I64 -> ((long[]) a)[i];
            case I32 -> ((int[]) a)[i];
            case U8 -> ((byte[]) a)[i] & 0xFF;
            case BOOL -> ((byte[]) a)[i] != 0 ? 1 : 0;
            default -> throw new IllegalArgumentException("not an integer type: " + dt);
        };
    }

    static void writeLong(Object a, DType dt, int i, long v) {
        switch (dt) {
            case I64 -> ((long[]) a)[i] = v;
            case I32 -> ((int[]) a)[i] = (int) v;
            case U8 -> ((byte[]) a)[i] = (byte) v;
            case BOOL -> ((byte[]) a)[i] = (byte) (v != 0 ? 1 : 0);
            default -> throw new IllegalArgumentException("not an integer type: " + dt);
        }
    }

    @Override
    public void fill(Tensor dst, double value) {
        DType dt = dst.dtype();
        Object da = arr(dst);
        Strided.of(dst).forEach(true, (n, o, inc) -> {
            int off = o[0], s = inc[0];
            switch (dt) {
                case F64 -> { double[] a = (double[]) da; for (int i = 0; i < n; i++) a[off + i * s] = value; }
                case F32 -> { float[] a = (float[]) da; float v = (float) value; for (int i = 0; i < n; i++) a[off + i * s] = v; }
                case BF16, F16 -> {
                    short[] a = (short[]) da;
                    short v = llava.core.Half.fromFloat((float) value, dt);
                    for (int i = 0; i < n; i++) a[off + i * s] = v;
                }
                case I64 -> { long[] a = (long[]) da; long v = (long) value; for (int i = 0; i < n; i++) a[off + i * s] = v; }
                case I32 -> { int[] a = (int[]) da; int v = (int) value; for (int i = 0; i < n; i++) a[off + i * s] = v; }
                case U8 -> { byte[] a = (byte[]) da; byte v = (byte) (int) value; for (int i = 0; i < n; i++) a[off + i * s] = v; }
                case BOOL -> { byte[] a = (byte[]) da; byte v = (byte) (value != 0 ? 1 : 0); for (int i = 0; i < n; i++) a[off + i * s] = v; }
            }
        });
    }

    // ---- elementwise ---------------------------------------------------------------------

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out, double a, double b) {
        DType xd = x.dtype(), od = out.dtype();
        Object xa = arr(x), oa = arr(out);
        if (xd == DType.F32 && od == DType.F32) {
            float[] xs = (float[]) xa, os = (float[]) oa;
            if (op == UnaryOp.AFFINE) {
                float fa = (float) a, fb = (float) b;
                Strided.of(out, x).forEach(true, (n, o, inc) -> {
                    for (int i = 0; i < n; i++) os[o[0] + i * inc[0]] = xs[o[1] + i * inc[1]] * fa + fb;
                });
            } else { // double math per element, straight between the float arrays
                Strided.of(out, x).forEach(true, (n, o, inc) -> {
                    for (int i = 0; i < n; i++) os[o[0] + i * inc[0]] = (float) MathFns.apply(op, xs[o[1] + i * inc[1]], a, b);
                });
            }
            return;
        }
        Strided.of(out, x).forEach(true, (n, o, inc) -> {
            double[] buf = new double[n];
            Access.load(xa, xd, o[1], inc[1], n, buf);
            for (int i = 0; i < n; i++) buf[i] = MathFns.apply(op, buf[i], a, b);
            Access.store(buf, n, oa, od, o[0], inc[0]);
        });
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor gy, Tensor gx) {
        Object xa = arr(x), ga = arr(gy), oa = arr(gx);
        DType xd = x.dtype(), gd = gy.dtype(), od = gx.dtype();
        if (xd == DType.F32 && gd == DType.F32 && od == DType.F32) {
            float[] xs = (float[]) xa, gs = (float[]) ga, os = (float[]) oa;
            Strided.of(gx, x, gy).forEach(true, (n, o, inc) -> {
                for (int i = 0; i < n; i++) {
                    os[o[0] + i * inc[0]] = (float) (gs[o[2] + i * inc[2]] * MathFns.derivative(op, xs[o[1] + i * inc[1]]));
                }
            });
            return;
        }
        Strided.of(gx, x, gy).forEach(true, (n, o, inc) -> {
            double[] xb = new double[n], gb = new double[n];
            Access.load(xa, xd, o[1], inc[1], n, xb);
            Access.load(ga, gd, o[2], inc[2], n, gb);
            for (int i = 0; i < n; i++) xb[i] = gb[i] * MathFns.derivative(op, xb[i]);
            Access.store(xb, n, oa, od, o[0], inc[0]);
        });
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        DType ad = a.dtype(), od = out.dtype();
        Object aa = arr(a), ba = arr(b), oa = arr(out);
        FloatKernels.Bin fop = floatOp(op);
        if (ad == DType.F32 && od == DType.F32 && fop != null) {
            FloatKernels fk = FloatKernels.get();
            float[] x = (float[]) aa, y = (float[]) ba, z = (float[]) oa;
            Strided.of(out, a, b).forEach(true, (n, o, inc) -> {
                if (inc[0] == 1 && (inc[1] | 1) == 1 && (inc[2] | 1) == 1) {
                    fk.binary(fop, x, o[1], inc[1], y, o[2], inc[2], z, o[0], n);
                } else {
                    for (int i = 0; i < n; i++) z[o[0] + i * inc[0]] = FloatKernels.apply(fop, x[o[1] + i * inc[1]], y[o[2] + i * inc[2]]);
                }
            });
            return;
        }
        boolean integral = !ad.isFloating();
        Strided.of(out, a, b).forEach(true, (n, o, inc) -> {
            double[] x = new double[n], y = new double[n];
            Access.load(aa, ad, o[1], inc[1], n, x);
            Access.load(ba, ad, o[2], inc[2], n, y);
            for (int i = 0; i < n; i++) x[i] = binaryOp(op, x[i], y[i], integral);
            Access.store(x, n, oa, od, o[0], inc[0]);
        });
    }

    /** The binary ops whose F32 result equals the double result rounded to F32 (so they run in F32). */
    private static FloatKernels.Bin floatOp(BinaryOp op) {
        return switch (op) {
            case ADD -> FloatKernels.Bin.ADD;
            case SUB -> FloatKernels.Bin.SUB;
            case MUL -> FloatKernels.Bin.MUL;
            case DIV -> FloatKernels.Bin.DIV;
            case MAX -> FloatKernels.Bin.MAX;
            case MIN -> FloatKernels.Bin.MIN;
            default -> null;
        };
    }

    static double binaryOp(BinaryOp op, double x, double y, boolean integral) {
        switch (op) {
            case ADD: return x + y;
            case SUB: return x - y;
            case MUL: return x * y;
            case DIV: return integral ? Math.floor(x / y) : x / y;
            case POW: return Math.pow(x, y);
            case MAX: return Double.isNaN(x) || Double.isNaN(y) ? Double.NaN : Math.max(x, y);
            case MIN: return Double.isNaN(x) || Double.isNaN(y) ? Double.NaN : Math.min(x, y);
            case EQ: return x == y ? 1 : 0;
            case NE: return x != y ? 1 : 0;
            case LT: return x < y ? 1 : 0;
            case LE: return x <= y ? 1 : 0;
            case GT: return x > y ? 1 : 0;
            case GE: return x >= y ? 1 : 0;
            case LOGICAL_AND: return x != 0 && y != 0 ? 1 : 0;
            case LOGICAL_OR: return x != 0 || y != 0 ? 1 : 0;
            default: throw new IllegalArgumentException(op.name());
        }
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        Object ca = arr(cond), aa = arr(a), ba = arr(b), oa = arr(out);
        DType dt = out.dtype();
        Strided.of(out, cond, a, b).forEach(true, (n, o, inc) -> {
            byte[] c = (byte[]) ca;
            double[] x = new double[n], y = new double[n];
            Access.load(aa, dt, o[2], inc[2], n, x);
            Access.load(ba, dt, o[3], inc[3], n, y);
            for (int i = 0; i < n; i++) if (c[o[1] + i * inc[1]] == 0) x[i] = y[i];
            Access.store(x, n, oa, dt, o[0], inc[0]);
        });
    }

    // ---- reductions ----------------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        int[] xs = x.shape(), os = out.shape();
        int r = xs.length;
        DType xd = x.dtype();
        Object xa = arr(x);
        int outN = out.numel();
        if (xd == DType.I64) { // exact in long (doubles lose integers beyond 2^53); MEAN is for floats only
            long[] lacc = new long[outN];
            java.util.Arrays.fill(lacc, op == ReduceOp.MAX ? Long.MIN_VALUE : op == ReduceOp.MIN ? Long.MAX_VALUE : 0);
            long[] xl = (long[]) xa;
            Strided.of(xs, new int[][] {x.strides(), accStrides(xs, os)}, new int[] {x.offset(), 0}).forEach(false, (n, o, inc) -> {
                for (int i = 0; i < n; i++) {
                    int k = o[1] + i * inc[1];
                    long v = xl[o[0] + i * inc[0]];
                    lacc[k] = op == ReduceOp.MAX ? Math.max(lacc[k], v) : op == ReduceOp.MIN ? Math.min(lacc[k], v) : lacc[k] + v;
                }
            });
            copyRaw(dense(lacc, DType.I64, os), Raw.of(out), false);
            return;
        }
        int count = 1;
        for (int d = 0; d < r; d++) if (os[d] != xs[d]) count *= xs[d];
        double init = op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0;
        double[] acc = new double[outN];
        java.util.Arrays.fill(acc, init);
        // trailing reduced dims over a contiguous input: independent rows, in parallel
        int keptPrefix = 0;
        while (keptPrefix < r && os[keptPrefix] == xs[keptPrefix]) keptPrefix++;
        boolean rows = x.isContiguous();
        for (int d = keptPrefix; d < r; d++) if (os[d] != 1 && xs[d] != 1) rows = false;
        if (rows && outN > 0) {
            int cols = count;
            int base = x.offset();
            boolean floatSum = xd == DType.F32 && (op == ReduceOp.SUM || op == ReduceOp.MEAN);
            FloatKernels fk = FloatKernels.get();
            Parallel.forRange(outN, Math.max(1, 16384 / Math.max(cols, 1)), (s, e) -> {
                if (floatSum) { // vectorised, per-block F32 sums added in double
                    for (int row = s; row < e; row++) acc[row] += fk.sum((float[]) xa, base + row * cols, cols);
                    return;
                }
                double[] buf = new double[Math.min(cols, Strided.BLOCK)];
                for (int row = s; row < e; row++) {
                    double v = acc[row];
                    for (int c0 = 0; c0 < cols; c0 += buf.length) {
                        int m = Math.min(buf.length, cols - c0);
                        Access.load(xa, xd, base + row * cols + c0, 1, m, buf);
                        v = accumulate(op, v, buf, m);
                    }
                    acc[row] = v;
                }
            });
        } else if (outN > 0) {
            Strided it = Strided.of(xs, new int[][] {x.strides(), accStrides(xs, os)}, new int[] {x.offset(), 0});
            it.forEach(false, (n, o, inc) -> {
                double[] buf = new double[n];
                Access.load(xa, xd, o[0], inc[0], n, buf);
                int ai = o[1], as = inc[1];
                if (as == 0) {
                    acc[ai] = accumulate(op, acc[ai], buf, n);
                } else {
                    for (int i = 0; i < n; i++) {
                        int k = ai + i * as;
                        acc[k] = combine(op, acc[k], buf[i]);
                    }
                }
            });
        }
        if (op == ReduceOp.MEAN) for (int i = 0; i < outN; i++) acc[i] /= count;
        copyRaw(dense(acc, DType.F64, os), Raw.of(out), false);
    }

    /** Strides of x's dims into a row-major array of the reduced shape os (0 along reduced dims). */
    private static int[] accStrides(int[] xs, int[] os) {
        int[] st = llava.core.Shapes.contiguousStrides(os);
        for (int d = 0; d < xs.length; d++) if (os[d] != xs[d]) st[d] = 0;
        return st;
    }

    /** A row-major host array of the given shape as a Raw. */
    private static Raw dense(Object arr, DType dt, int[] shape) {
        return new Raw(arr, dt, shape, llava.core.Shapes.contiguousStrides(shape), 0);
    }

    private static double accumulate(ReduceOp op, double v, double[] buf, int m) {
        switch (op) {
            case SUM, MEAN -> { for (int i = 0; i < m; i++) v += buf[i]; }
            case MAX -> { for (int i = 0; i < m; i++) v = (Double.isNaN(buf[i]) || buf[i] > v) ? buf[i] : v; }
            case MIN -> { for (int i = 0; i < m; i++) v = (Double.isNaN(buf[i]) || buf[i] < v) ? buf[i] : v; }
        }
        return v;
    }

    private static double combine(ReduceOp op, double a, double b) {
        return switch (op) {
            case SUM, MEAN -> a + b;
            case MAX -> (Double.isNaN(b) || b > a) ? b : a;
            case MIN -> (Double.isNaN(b) || b < a) ? b : a;
        };
    }

    @Override
    public void argReduce(boolean max, Tensor x, int dim, Tensor values, Tensor indices) {
        int[] xs = x.shape(), xst = x.strides();
        int len = xs[dim], step = xst[dim];
        int[] outerShape = xs.clone();
        outerShape[dim] = 1;
        int[] ist = indices.strides();
        Object xa = arr(x), ia = arr(indices);
        Object va = values == null ? null : arr(values);
        int[][] st = values == null ? new int[][] {xst, ist} : new int[][] {xst, ist, values.strides()};
        int[] base = values == null ? new int[] {x.offset(), indices.offset()} : new int[] {x.offset(), indices.offset(), values.offset()};
        DType xd = x.dtype();
        Strided.of(outerShape, st, base).forEach(true, (n, o, inc) -> {
            double[] buf = new double[len];
            for (int i = 0; i < n; i++) {
                Access.load(xa, xd, o[0] + i * inc[0], step, len, buf);
                int best = 0;
                double bv = buf[0];
                for (int j = 1; j < len && !Double.isNaN(bv); j++) {
                    double v = buf[j];
                    if (Double.isNaN(v) || (max ? v > bv : v < bv)) {
                        bv = v;
                        best = j;
                    }
                }
                ((long[]) ia)[o[1] + i * inc[1]] = best;
                if (va != null) Access.store(new double[] {bv}, 1, va, values.dtype(), o[2] + i * inc[2], 1);
            }
        });
    }

    @Override
    public void softmax(Tensor x, Tensor out, boolean log) {
        int cols = x.size(-1);
        int rows = cols == 0 ? 0 : x.numel() / cols;
        Object xa = arr(x), oa = arr(out);
        DType xd = x.dtype(), od = out.dtype();
        int xo = x.offset(), oo = out.offset();
        if (xd != DType.F64) {
            FloatKernels fk = FloatKernels.get();
            Parallel.forRange(rows, Math.max(1, 8192 / Math.max(cols, 1)), (s, e) -> {
                FloatRows xr = new FloatRows(x, cols), or = new FloatRows(out, cols);
                for (int r = s; r < e; r++) {
                    xr.load(r);
                    or.target(r);
                    float m = fk.max(xr.a, xr.off, cols);
                    if (m == Float.NEGATIVE_INFINITY) m = 0;
                    if (log) {
                        double sum = fk.expSum(xr.a, xr.off, cols, m, null, 0);
                        fk.addScalar(xr.a, xr.off, cols, (float) -(m + Math.log(sum)), or.a, or.off);
                    } else {
                        double sum = fk.expSum(xr.a, xr.off, cols, m, or.a, or.off);
                        fk.scale(or.a, or.off, cols, (float) (1 / sum), or.a, or.off);
                    }
                    or.store(r);
                }
            });
            return;
        }
        Parallel.forRange(rows, Math.max(1, 8192 / Math.max(cols, 1)), (s, e) -> {
            double[] buf = new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(xa, xd, xo + r * cols, 1, cols, buf);
                double m = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < cols; i++) m = Math.max(m, buf[i]);
                double sum = 0;
                if (m == Double.NEGATIVE_INFINITY) m = 0;
                for (int i = 0; i < cols; i++) sum += Math.exp(buf[i] - m);
                if (log) {
                    double lse = m + Math.log(sum);
                    for (int i = 0; i < cols; i++) buf[i] -= lse;
                } else {
                    for (int i = 0; i < cols; i++) buf[i] = Math.exp(buf[i] - m) / sum;
                }
                Access.store(buf, cols, oa, od, oo + r * cols, 1);
            }
        });
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor gy, Tensor gx, boolean log) {
        int cols = y.size(-1);
        int rows = cols == 0 ? 0 : y.numel() / cols;
        Object ya = arr(y), ga = arr(gy), oa = arr(gx);
        DType yd = y.dtype(), gd = gy.dtype(), od = gx.dtype();
        int yo = y.offset(), go = gy.offset(), oo = gx.offset();
        if (yd != DType.F64) {
            FloatKernels fk = FloatKernels.get();
            Parallel.forRange(rows, Math.max(1, 8192 / Math.max(cols, 1)), (s, e) -> {
                FloatRows yr = new FloatRows(y, cols), gr = new FloatRows(gy, cols), or = new FloatRows(gx, cols);
                for (int r = s; r < e; r++) {
                    yr.load(r);
                    gr.load(r);
                    or.target(r);
                    if (log) {
                        float sg = (float) fk.sum(gr.a, gr.off, cols);
                        fk.subExpScaled(gr.a, gr.off, yr.a, yr.off, sg, or.a, or.off, cols);
                    } else {
                        float dot = (float) fk.dot(gr.a, gr.off, yr.a, yr.off, cols);
                        fk.mulSub(yr.a, yr.off, gr.a, gr.off, dot, or.a, or.off, cols);
                    }
                    or.store(r);
                }
            });
            return;
        }
        Parallel.forRange(rows, Math.max(1, 8192 / Math.max(cols, 1)), (s, e) -> {
            double[] yb = new double[cols], gb = new double[cols];
            for (int r = s; r < e; r++) {
                Access.load(ya, yd, yo + r * cols, 1, cols, yb);
                Access.load(ga, gd, go + r * cols, 1, cols, gb);
                if (log) {
                    double sg = 0;
                    for (int i = 0; i < cols; i++) sg += gb[i];
                    for (int i = 0; i < cols; i++) gb[i] = gb[i] - Math.exp(yb[i]) * sg;
                } else {
                    double dot = 0;
                    for (int i = 0; i < cols; i++) dot += gb[i] * yb[i];
                    for (int i = 0; i < cols; i++) gb[i] = yb[i] * (gb[i] - dot);
                }
                Access.store(gb, cols, oa, od, oo + r * cols, 1);
            }
        });
    }

    // ---- matmul --------------------------------------------------------------------------

    @Override
    public void matmul(Tensor a, Tensor b, Tensor bias, Tensor out) {
        CpuMatmul.matmul(a, b, bias, out);
    }

    // ---- indexing ------------------------------------------------------------------------

    @Override
    public void indexSelect(Tensor x, int dim, Tensor index, Tensor out) {
        long[] idx = index.toLongArray();
        Raw xr = Raw.of(x), or = Raw.of(out);
        int size = x.size(dim);
        for (long i : idx) check(i, size, "index_select");
        int slabSize = Math.max(1, x.numel() / Math.max(1, size));
        Parallel.forRange(idx.length, Math.max(1, 4096 / slabSize), (s, e) -> {
            for (int i = s; i < e; i++) copyRaw(xr.slab(dim, (int) idx[i]), or.slab(dim, i), false);
        });
    }

    private static void check(long i, int size, String op) {
        if (i < 0 || i >= size) throw new IndexOutOfBoundsException(op + ": index " + i + " out of range [0, " + size + ")");
    }

    @Override
    public void indexAdd(Tensor target, int dim, Tensor index, Tensor src) {
        long[] idx = index.toLongArray();
        Raw tr = Raw.of(target), sr = Raw.of(src);
        int size = target.size(dim);
        for (long i : idx) check(i, size, "index_add");
        for (int i = 0; i < idx.length; i++) addRaw(tr.slab(dim, (int) idx[i]), sr.slab(dim, i));
    }

    @Override
    public void gather(Tensor x, int dim, Tensor index, Tensor out) {
        forIndexed(index, x, dim, out, false);
    }

    @Override
    public void scatterAdd(Tensor target, int dim, Tensor index, Tensor src) {
        forIndexed(index, target, dim, src, true);
    }

    /** gather: other[pos] = data[pos with dim replaced by index[pos]]; scatter: data[...] += other[pos]. */
    private static void forIndexed(Tensor index, Tensor data, int dim, Tensor other, boolean scatter) {
        int[] is = index.shape();
        int r = is.length;
        int n = index.numel();
        long[] iv = index.toLongArray();
        int[] dst = data.strides(), ost = other.strides();
        int dsize = data.size(dim);
        Object da = arr(data), oa = arr(other);
        DType dd = data.dtype(), od = other.dtype();
        int[] pos = new int[r];
        double[] one = new double[1];
        for (int k = 0; k < n; k++) {
            long ix = iv[k];
            check(ix, dsize, scatter ? "scatter_add" : "gather");
            int doff = data.offset(), ooff = other.offset();
            for (int d = 0; d < r; d++) {
                doff += (d == dim ? (int) ix : pos[d]) * dst[d];
                ooff += pos[d] * ost[d];
            }
            if (scatter) {
                double[] cur = new double[1];
                Access.load(da, dd, doff, 1, 1, cur);
                Access.load(oa, od, ooff, 1, 1, one);
                cur[0] += one[0];
                Access.store(cur, 1, da, dd, doff, 1);
            } else {
                Access.load(da, dd, doff, 1, 1, one);
                Access.store(one, 1, oa, od, ooff, 1);
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++pos[d] < is[d]) break;
                pos[d] = 0;
            }
        }
    }

    // ---- fused ops -----------------------------------------------------------------------

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        CpuFused.rmsNorm(x, weight, eps, out, rstd);
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gw) {
        CpuFused.rmsNormBackward(x, weight, rstd, gy, gx, gw);
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        CpuFused.layerNorm(x, weight, bias, eps, out, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gw, Tensor gb) {
        CpuFused.layerNormBackward(x, weight, mean, rstd, gy, gx, gw, gb);
    }

    @Override
    public void rope(Tensor x, Tensor positions, Tensor invFreq, boolean inverse, Tensor out) {
        CpuFused.rope(x, positions, invFreq, inverse, out);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        CpuAttention.forward(q, k, v, keyMask, causal, scale, out, lse);
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, Tensor keyMask,
                                  boolean causal, double scale, Tensor gq, Tensor gk, Tensor gv) {
        CpuAttention.backward(q, k, v, out, lse, gOut, keyMask, causal, scale, gq, gk, gv);
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        CpuFused.siluMul(gate, up, out);
    }

    @Override
    public void siluMulBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp) {
        CpuFused.siluMulBackward(gate, up, gy, gGate, gUp);
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor target, long ignoreIndex, Tensor loss, Tensor lse) {
        CpuFused.crossEntropy(logits, target, ignoreIndex, loss, lse);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor target, Tensor lse, Tensor gLoss, long ignoreIndex, Tensor gLogits) {
        CpuFused.crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, gLogits);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                      double eps, double weightDecay, long step, Tensor copyOut) {
        CpuFused.adamw(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step, copyOut);
    }
}
