package llava.cuda;

import static llava.cuda.LlavaKernels.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import llava.core.Backend;
import llava.core.BinaryOp;
import llava.core.DType;
import llava.core.Device;
import llava.core.ReduceOp;
import llava.core.Storage;
import llava.core.Tensor;
import llava.core.UnaryOp;

/**
 * The CUDA backend: every {@link Backend} primitive as a call of the llava kernels
 * (cuda-kernels/include/llava_kernels.h) on the device's compute stream.
 *
 * <p>The kernels trust their caller, so each method first checks in Java what the kernel relies
 * on: devices, shapes, dtypes, ranks and the layouts the C API requires. Inputs that are not laid
 * out as a kernel needs are copied into contiguous device temporaries (and outputs written through
 * one and copied back), so every documented {@link Backend} precondition is accepted. Strided
 * operands are coalesced to the smallest rank first; what still exceeds {@value
 * LlavaKernels#LLAVA_MAX_DIMS} dimensions is split into several launches.
 *
 * <p>Matmul runs on our GEMM or on cuBLAS, chosen by the system property {@code llava.cuda.gemm}
 * ({@code llava}, the default, or {@code cublas}); F64 matmul always uses cuBLAS.
 */
public final class CudaBackend implements Backend {
    /** System property choosing the GEMM: "llava" (default) or "cublas". */
    public static final String GEMM_PROPERTY = "llava.cuda.gemm";

    private final CudaDevice[] devices;

    CudaBackend(int deviceCount) {
        this.devices = new CudaDevice[deviceCount];
    }

    @Override
    public Device.Type deviceType() { return Device.Type.CUDA; }

    /** The context of CUDA device i (created on first use). */
    public CudaDevice device(int index) {
        if (index < 0 || index >= devices.length) {
            throw new IllegalArgumentException("cuda:" + index + " does not exist: " + devices.length + " CUDA device(s) visible");
        }
        CudaDevice d = devices[index];
        if (d == null) {
            synchronized (this) {
                d = devices[index];
                if (d == null) devices[index] = d = new CudaDevice(index);
            }
        }
        return d;
    }

    public int deviceCount() { return devices.length; }

    // =========================================================================================
    // validation and plumbing
    // =========================================================================================

    /** The device all the (non-null) tensors live on, made current; throws if they differ or are not CUDA. */
    private CudaDevice on(String op, Tensor... ts) {
        Device dev = null;
        for (Tensor t : ts) {
            if (t == null) continue;
            Device td = t.device();
            if (!td.isCuda()) throw new IllegalArgumentException(op + ": tensor on " + td + " given to the CUDA backend");
            if (dev == null) dev = td;
            else if (!dev.equals(td)) throw new IllegalArgumentException(op + ": tensors on " + dev + " and " + td);
        }
        if (dev == null) throw new IllegalArgumentException(op + ": no tensor given");
        CudaDevice d = device(dev.index());
        d.activate();
        return d;
    }

    /** Device address of a tensor's first element (0 for null). */
    static long ptr(Tensor t) {
        if (t == null) return 0;
        Storage s = t.storage();
        if (!(s instanceof CudaStorage cs)) throw new IllegalArgumentException("tensor storage is not CUDA memory: " + s);
        return cs.address() + (long) t.offset() * t.dtype().byteSize();
    }

    static int code(DType dt) {
        return switch (dt) {
            case F64 -> LLAVA_DTYPE_F64;
            case F32 -> LLAVA_DTYPE_F32;
            case BF16 -> LLAVA_DTYPE_BF16;
            case F16 -> LLAVA_DTYPE_F16;
            case I64 -> LLAVA_DTYPE_I64;
            case I32 -> LLAVA_DTYPE_I32;
            case U8 -> LLAVA_DTYPE_U8;
            case BOOL -> LLAVA_DTYPE_BOOL;
        };
    }

    /** Turns a kernel's return code into the matching Java exception. */
    static void check(int rc, String op) {
        if (rc == 0) return;
        String name = Cuda.errorName(rc);
        switch (rc) {
            case LLAVA_ERR_INDEX -> throw new IndexOutOfBoundsException(op + ": index out of range, detected on the GPU (" + name + ")");
            case LLAVA_ERR_UNSUPPORTED -> throw new UnsupportedOperationException(op + ": not supported by the CUDA kernels (" + name + ")");
            case LLAVA_ERR_INVALID_ARGUMENT -> throw new IllegalArgumentException(op + ": the CUDA kernel rejected its arguments (" + name + ")");
            default -> throw new CudaException(op, rc, name);
        }
    }

    private static void require(boolean ok, String op, String what) {
        if (!ok) throw new IllegalArgumentException(op + ": " + what);
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " differ");
        }
    }

    private static void dtype(String op, String name, Tensor t, DType... allowed) {
        for (DType d : allowed) if (t.dtype() == d) return;
        throw new IllegalArgumentException(op + ": " + name + " has dtype " + t.dtype() + ", expected one of " + Arrays.toString(allowed));
    }

    private static final DType[] FLOATS = {DType.F32, DType.BF16, DType.F16, DType.F64};
    /** What the fused ("rows") kernels compute: F32 math on F32 or half storage. */
    private static final DType[] KERNEL_FLOATS = {DType.F32, DType.BF16, DType.F16};

    private static void shape(String op, String name, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Arrays.toString(t.shape()) + ", expected "
                + Arrays.toString(expected));
        }
    }

    private static int rows(Tensor t) {
        int cols = t.dim() == 0 ? 1 : t.size(-1);
        return cols == 0 ? 0 : t.numel() / cols;
    }

    private static int cols(Tensor t) { return t.dim() == 0 ? 1 : t.size(-1); }

    /** Device temporaries of one backend call: contiguous copies and outputs written back at the end. */
    private final class Temps implements AutoCloseable {
        private final List<Tensor> owned = new ArrayList<>();
        private final List<Tensor[]> writeBacks = new ArrayList<>();

        Tensor empty(DType dt, Device dev, int... shape) {
            Tensor t = Tensor.empty(dt, dev, shape);
            owned.add(t);
            return t;
        }

        /** t itself when contiguous with dtype dt, else a contiguous copy converted to dt. */
        Tensor input(Tensor t, DType dt) {
            if (t == null) return null;
            if (t.dtype() == dt && t.isContiguous()) return t;
            Tensor c = empty(dt, t.device(), t.shape());
            copy(t, c);
            return c;
        }

        Tensor input(Tensor t) { return t == null ? null : input(t, t.dtype()); }

        /** An output the kernel can write (contiguous, dtype dt): t itself, or a temporary copied into t by {@link #finish}. */
        Tensor output(Tensor t, DType dt) {
            if (t == null) return null;
            if (t.dtype() == dt && t.isContiguous()) return t;
            Tensor c = empty(dt, t.device(), t.shape());
            writeBacks.add(new Tensor[] {c, t});
            return c;
        }

        Tensor output(Tensor t) { return t == null ? null : output(t, t.dtype()); }

        /** An in-place operand: like output, but the temporary starts with t's values. */
        Tensor inout(Tensor t, DType dt) {
            if (t.dtype() == dt && t.isContiguous()) return t;
            Tensor c = input(t, dt);
            writeBacks.add(new Tensor[] {c, t});
            return c;
        }

        /** Copies temporaries back into the outputs they stand for; call after the kernels. */
        void finish() {
            for (Tensor[] wb : writeBacks) copy(wb[0], wb[1]);
            writeBacks.clear();
        }

        @Override public void close() {
            for (Tensor t : owned) t.close();
            owned.clear();
        }
    }

    // =========================================================================================
    // memory
    // =========================================================================================

    @Override
    public Storage allocate(Device device, DType dtype, long numel) {
        if (device == null || !device.isCuda()) throw new IllegalArgumentException("allocate: not a CUDA device: " + device);
        if (numel < 0) throw new IllegalArgumentException("allocate: negative element count " + numel);
        CudaDevice d = device(device.index());
        d.activate();
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            bytes = Long.MAX_VALUE;
        }
        CachingAllocator.Block block = d.allocator().allocate(bytes);
        return new CudaStorage(d, dtype, numel, block);
    }

    @Override
    public void synchronize(Device device) {
        if (device.isCuda()) device(device.index()).synchronize();
    }

    @Override
    public MemoryStats memoryStats(Device device) {
        return device(device.index()).allocator().stats();
    }

    @Override
    public void emptyCache(Device device) {
        CudaDevice d = device(device.index());
        d.activate();
        d.allocator().releaseCached();
    }

    /** A device scratch buffer of bytes (freed by closing; reuse is ordered by the stream). */
    private static final class Scratch implements AutoCloseable {
        private final CachingAllocator allocator;
        private final CachingAllocator.Block block;

        Scratch(CudaDevice d, long bytes) {
            this.allocator = d.allocator();
            this.block = bytes > 0 ? allocator.allocate(bytes) : null;
        }

        long address() { return block == null ? 0 : block.address(); }

        @Override public void close() {
            if (block != null) allocator.free(block);
        }
    }

    // =========================================================================================
    // data movement
    // =========================================================================================

    @Override
    public void copy(Tensor src, Tensor dst) {
        String op = "copy";
        CudaDevice d = on(op, src, dst);
        sameShape(op, src, dst);
        if (dst.numel() == 0) return;
        Layout.Iter it = Layout.coalesce(dst.shape(), dst.strides(), src.strides());
        long sp = ptr(src), dp = ptr(dst);
        if (src.dtype() == dst.dtype() && it.rank() == 1 && it.strides()[0][0] == 1 && it.strides()[1][0] == 1) {
            Cuda.memcpyAsync(dp, sp, it.shape()[0] * dst.dtype().byteSize(), Cuda.D2D, d.stream(), op);
            return;
        }
        launchCopy(d, it, sp, src.dtype(), dp, dst.dtype());
    }

    /** llava_copy over an iteration space whose operand 0 is dst and operand 1 is src. */
    private void launchCopy(CudaDevice d, Layout.Iter it, long sp, DType sdt, long dp, DType ddt) {
        int ss = sdt.byteSize(), ds = ddt.byteSize();
        Layout.forEachPiece(it, LLAVA_MAX_DIMS, (off, p) -> check(llava_copy(d.streamAddress(), p.rank(), p.shape(),
            sp + off[1] * ss, code(sdt), p.strides()[1], dp + off[0] * ds, code(ddt), p.strides()[0]), "copy"));
    }

    @Override
    public void fill(Tensor dst, double value) {
        String op = "fill";
        CudaDevice d = on(op, dst);
        if (dst.numel() == 0) return;
        Layout.Iter it = Layout.coalesce(dst.shape(), dst.strides());
        long dp = ptr(dst);
        int es = dst.dtype().byteSize();
        Layout.forEachPiece(it, LLAVA_MAX_DIMS, (off, p) -> check(llava_fill(d.streamAddress(), p.rank(), p.shape(),
            dp + off[0] * es, code(dst.dtype()), p.strides()[0], value), op));
    }

    // =========================================================================================
    // elementwise
    // =========================================================================================

    private static boolean unaryTakesIntegers(UnaryOp op) {
        return switch (op) {
            case NEG, ABS, SIGN, SQUARE, AFFINE, CLAMP -> true;
            default -> false;
        };
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out, double a, double b) {
        String name = "unary " + op;
        CudaDevice d = on(name, x, out);
        sameShape(name, x, out);
        require(x.dtype() == out.dtype(), name, "x is " + x.dtype() + " but out is " + out.dtype());
        if (out.numel() == 0) return;
        DType dt = x.dtype();
        if (!dt.isFloating()) {
            require(unaryTakesIntegers(op), name, "integer input " + dt + " (only NEG, ABS, SIGN, SQUARE, AFFINE, CLAMP take integers)");
            if (dt != DType.I64 && dt != DType.I32) { // U8 / BOOL: compute in I64 and convert back
                try (Temps tmp = new Temps()) {
                    Tensor xi = tmp.input(x, DType.I64);
                    Tensor oi = tmp.output(out, DType.I64);
                    unary(op, xi, oi, a, b);
                    tmp.finish();
                }
                return;
            }
        }
        Layout.Iter it = Layout.coalesce(out.shape(), out.strides(), x.strides());
        long xp = ptr(x), op0 = ptr(out);
        int es = dt.byteSize();
        Layout.forEachPiece(it, LLAVA_MAX_DIMS, (off, p) -> check(llava_unary(d.streamAddress(), op.ordinal(), p.rank(),
            p.shape(), xp + off[1] * es, p.strides()[1], op0 + off[0] * es, p.strides()[0], code(dt), a, b), name));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor gy, Tensor gx) {
        String name = "unary backward " + op;
        CudaDevice d = on(name, x, gy, gx);
        require(op.hasFusedBackward(), name, "no fused backward for " + op);
        sameShape(name, x, gy);
        sameShape(name, x, gx);
        dtype(name, "x", x, KERNEL_FLOATS);
        if (x.numel() == 0) return;
        DType dt = x.dtype();
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), gc = tmp.input(gy, dt), oc = tmp.output(gx, dt);
            check(llava_unary_backward(d.streamAddress(), op.ordinal(), x.numel(), ptr(xc), ptr(gc), ptr(oc), code(dt)), name);
            tmp.finish();
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        String name = "binary " + op;
        CudaDevice d = on(name, a, b, out);
        sameShape(name, a, out);
        sameShape(name, b, out);
        require(a.dtype() == b.dtype(), name, "operand dtypes differ: " + a.dtype() + " and " + b.dtype());
        DType expect = op.isComparison() ? DType.BOOL : a.dtype();
        require(out.dtype() == expect, name, "out is " + out.dtype() + ", expected " + expect);
        if (out.numel() == 0) return;
        Layout.Iter it = Layout.coalesce(out.shape(), out.strides(), a.strides(), b.strides());
        long ap = ptr(a), bp = ptr(b), opp = ptr(out);
        int is = a.dtype().byteSize(), os = out.dtype().byteSize();
        Layout.forEachPiece(it, LLAVA_MAX_DIMS, (off, p) -> check(llava_binary(d.streamAddress(), op.ordinal(), p.rank(),
            p.shape(), ap + off[1] * is, p.strides()[1], bp + off[2] * is, p.strides()[2], opp + off[0] * os,
            p.strides()[0], code(a.dtype()), code(out.dtype())), name));
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        String name = "where";
        CudaDevice d = on(name, cond, a, b, out);
        sameShape(name, cond, out);
        sameShape(name, a, out);
        sameShape(name, b, out);
        dtype(name, "cond", cond, DType.BOOL);
        require(a.dtype() == out.dtype() && b.dtype() == out.dtype(), name,
            "a, b and out must share a dtype, got " + a.dtype() + ", " + b.dtype() + ", " + out.dtype());
        if (out.numel() == 0) return;
        Layout.Iter it = Layout.coalesce(out.shape(), out.strides(), cond.strides(), a.strides(), b.strides());
        long cp = ptr(cond), ap = ptr(a), bp = ptr(b), opp = ptr(out);
        int es = out.dtype().byteSize();
        Layout.forEachPiece(it, LLAVA_MAX_DIMS, (off, p) -> check(llava_where(d.streamAddress(), p.rank(), p.shape(),
            cp + off[1], p.strides()[1], ap + off[2] * es, p.strides()[2], bp + off[3] * es, p.strides()[3],
            opp + off[0] * es, p.strides()[0], code(out.dtype())), name));
    }

    // =========================================================================================
    // reductions
    // =========================================================================================

    @Override
    public void reduce(ReduceOp op, Tensor x, Tensor out) {
        String name = "reduce " + op;
        CudaDevice d = on(name, x, out);
        int r = x.dim();
        require(out.dim() == r, name, "out has rank " + out.dim() + ", x has rank " + r);
        require(out.dtype() == x.dtype(), name, "out is " + out.dtype() + ", x is " + x.dtype());
        require(op != ReduceOp.MEAN || x.dtype().isFloating(), name, "MEAN of " + x.dtype() + " is not supported");
        int[] xs = x.shape(), os = out.shape();
        int[] kind = new int[r];
        int[] outStrides = out.strides();
        for (int k = 0; k < r; k++) {
            require(os[k] == xs[k] || os[k] == 1, name, "out shape " + Arrays.toString(os) + " does not match x shape "
                + Arrays.toString(xs));
            if (os[k] == 1 && xs[k] != 1) {
                kind[k] = 1;
                outStrides[k] = 0; // the reduced dim of out has size 1: its stride is free, 0 lets reduced dims merge
            }
        }
        if (out.numel() == 0) return;
        if (x.numel() == 0) {
            require(op == ReduceOp.SUM || op == ReduceOp.MEAN, name, "reduction of an empty tensor");
            fill(out, op == ReduceOp.SUM ? 0 : Double.NaN);
            return;
        }
        Layout.Iter it = Layout.coalesceKinds(xs, kind, x.strides(), outStrides);
        if (it.rank() > LLAVA_MAX_DIMS) {
            throw new UnsupportedOperationException(name + ": x of shape " + Arrays.toString(xs) + " and strides "
                + Arrays.toString(x.strides()) + " needs " + it.rank() + " dimensions after merging; the kernel takes "
                + LLAVA_MAX_DIMS);
        }
        long[] outShape = it.shape().clone();
        for (int k = 0; k < it.rank(); k++) if (it.kinds()[k] == 1) outShape[k] = 1;
        check(llava_reduce(d.streamAddress(), op.ordinal(), it.rank(), it.shape(), ptr(x), it.strides()[0], ptr(out),
            outShape, it.strides()[1], code(x.dtype())), name);
    }

    @Override
    public void argReduce(boolean max, Tensor x, int dim, Tensor values, Tensor indices) {
        String name = max ? "argmax" : "argmin";
        CudaDevice d = on(name, x, values, indices);
        int r = x.dim();
        require(dim >= 0 && dim < r, name, "dim " + dim + " out of range for rank " + r);
        int[] keep = x.shape();
        keep[dim] = 1;
        shape(name, "indices", indices, keep);
        dtype(name, "indices", indices, DType.I64);
        if (values != null) {
            shape(name, "values", values, keep);
            require(values.dtype() == x.dtype(), name, "values dtype " + values.dtype() + " differs from x " + x.dtype());
        }
        require(x.size(dim) > 0, name, "empty dimension " + dim);
        if (indices.numel() == 0) return;
        if (x.size(dim) == 1) { // nothing to compare: index 0, the value itself
            fill(indices, 0);
            if (values != null) copy(x, values);
            return;
        }
        int[] kind = new int[r];
        kind[dim] = 1;
        int[] is = indices.strides();
        is[dim] = 0;
        int[] vs = values == null ? is : values.strides();
        if (values != null) vs[dim] = 0;
        Layout.Iter it = Layout.coalesceKinds(x.shape(), kind, x.strides(), is, vs);
        // dim (size > 1, the only dimension of kind 1) stays a merged dimension of its own, with the
        // output strides 0 set above
        int newDim = 0;
        while (it.kinds()[newDim] != 1) newDim++;
        if (it.rank() > LLAVA_MAX_DIMS) {
            throw new UnsupportedOperationException(name + ": x of shape " + Arrays.toString(x.shape()) + " needs " + it.rank()
                + " dimensions after merging; the kernel takes " + LLAVA_MAX_DIMS);
        }
        check(llava_arg_reduce(d.streamAddress(), max ? 1 : 0, it.rank(), it.shape(), ptr(x), it.strides()[0], newDim,
            ptr(indices), it.strides()[1], values == null ? 0 : ptr(values), it.strides()[2], code(x.dtype())), name);
    }

    @Override
    public void softmax(Tensor x, Tensor out, boolean log) {
        String name = log ? "log_softmax" : "softmax";
        CudaDevice d = on(name, x, out);
        sameShape(name, x, out);
        dtype(name, "x", x, KERNEL_FLOATS);
        require(out.dtype() == x.dtype(), name, "out dtype " + out.dtype() + " differs from x " + x.dtype());
        if (x.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), oc = tmp.output(out);
            check(llava_softmax(d.streamAddress(), rows(x), cols(x), ptr(xc), ptr(oc), code(x.dtype()), log ? 1 : 0), name);
            tmp.finish();
        }
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor gy, Tensor gx, boolean log) {
        String name = log ? "log_softmax backward" : "softmax backward";
        CudaDevice d = on(name, y, gy, gx);
        sameShape(name, y, gy);
        sameShape(name, y, gx);
        dtype(name, "y", y, KERNEL_FLOATS);
        if (y.numel() == 0) return;
        DType dt = y.dtype();
        try (Temps tmp = new Temps()) {
            Tensor yc = tmp.input(y), gc = tmp.input(gy, dt), oc = tmp.output(gx, dt);
            check(llava_softmax_backward(d.streamAddress(), rows(y), cols(y), ptr(yc), ptr(gc), ptr(oc), code(dt), log ? 1 : 0), name);
            tmp.finish();
        }
    }

    // =========================================================================================
    // matmul
    // =========================================================================================

    /** The GEMM engine chosen by {@value #GEMM_PROPERTY}. */
    public static boolean useCublas() {
        String v = System.getProperty(GEMM_PROPERTY, "llava").trim().toLowerCase(java.util.Locale.ROOT);
        return switch (v) {
            case "llava", "" -> false;
            case "cublas" -> true;
            default -> throw new IllegalArgumentException("system property " + GEMM_PROPERTY + "=" + v
                + " is not one of llava, cublas");
        };
    }

    /** Runs body with {@value #GEMM_PROPERTY} set to engine, then restores the previous setting (tests, benchmarks). */
    static void withGemm(String engine, Runnable body) {
        String old = System.getProperty(GEMM_PROPERTY);
        System.setProperty(GEMM_PROPERTY, engine);
        try {
            body.run();
        } finally {
            if (old == null) System.clearProperty(GEMM_PROPERTY);
            else System.setProperty(GEMM_PROPERTY, old);
        }
    }

    @Override
    public void matmul(Tensor a, Tensor b, Tensor bias, Tensor out) {
        String op = "matmul";
        CudaDevice d = on(op, a, b, bias, out);
        int r = out.dim();
        require(r >= 2 && a.dim() == r && b.dim() == r, op, "a, b, out must have the same rank >= 2, got "
            + a.dim() + ", " + b.dim() + ", " + r);
        int M = out.size(-2), N = out.size(-1), K = a.size(-1);
        int[] os = out.shape();
        int[] batchShape = Arrays.copyOf(os, r - 2);
        require(a.size(-2) == M && b.size(-2) == K && b.size(-1) == N
                && Arrays.equals(Arrays.copyOf(a.shape(), r - 2), batchShape)
                && Arrays.equals(Arrays.copyOf(b.shape(), r - 2), batchShape), op,
            "shapes " + Arrays.toString(a.shape()) + " @ " + Arrays.toString(b.shape()) + " -> " + Arrays.toString(os) + " do not match");
        DType ab = a.dtype();
        dtype(op, "a", a, FLOATS);
        require(b.dtype() == ab, op, "a is " + ab + " but b is " + b.dtype());
        require(out.dtype() == ab || (out.dtype() == DType.F32 && ab != DType.F64), op,
            "out dtype " + out.dtype() + " for inputs of " + ab + " (expected " + ab + " or F32)");
        if (bias != null) {
            shape(op, "bias", bias, N);
            require(bias.dtype() == out.dtype(), op, "bias dtype " + bias.dtype() + " differs from out " + out.dtype());
        }
        if (out.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor oc = tmp.output(out);
            Tensor bc = tmp.input(bias);
            if (K == 0) { // empty sum: out = bias (or 0)
                if (bc == null) fill(oc, 0);
                else broadcastRows(d, bc, oc);
            } else {
                gemm(d, a, b, bc, oc, tmp, batchShape, M, N, K);
            }
            tmp.finish();
        }
    }

    /** out[..., m, :] = bias for every row (out contiguous). */
    private void broadcastRows(CudaDevice d, Tensor bias, Tensor out) {
        int[] os = out.shape();
        int[] bs = new int[os.length];
        bs[os.length - 1] = 1;
        Layout.Iter it = Layout.coalesce(os, out.strides(), bs);
        launchCopy(d, it, ptr(bias), bias.dtype(), ptr(out), out.dtype());
    }

    private void gemm(CudaDevice d, Tensor a, Tensor b, Tensor bias, Tensor out, Temps tmp, int[] batchShape, int M, int N, int K) {
        boolean f64 = a.dtype() == DType.F64;
        boolean cublas = f64 || useCublas();
        // operands the engine can read directly; others become contiguous copies
        long[] am = Layout.matrixStrides(M, K, a.stride(-2), a.stride(-1));
        if (am == null || (cublas && !Cublas.acceptsOperand(M, K, am[0], am[1]))) {
            a = tmp.input(a);
            am = new long[] {K, 1};
        }
        long[] bm = Layout.matrixStrides(K, N, b.stride(-2), b.stride(-1));
        if (bm == null || (cublas && !Cublas.acceptsOperand(K, N, bm[0], bm[1]))) {
            b = tmp.input(b);
            bm = new long[] {N, 1};
        }
        int nb = batchShape.length;
        Layout.Iter it = Layout.coalesce(batchShape, Arrays.copyOf(a.strides(), nb), Arrays.copyOf(b.strides(), nb),
            Arrays.copyOf(out.strides(), nb));
        // the innermost merged batch dimension is the kernel's batch; any others are looped here
        int last = it.rank() - 1;
        long batch = it.shape()[last];
        long aBs = it.strides()[0][last], bBs = it.strides()[1][last], cBs = it.strides()[2][last];
        long ldc = M == 1 ? N : out.stride(-2); // a size-1 dim's stride is arbitrary in a contiguous tensor
        Layout.Iter outer = it.withoutLast();
        long ap = ptr(a), bp = ptr(b), cp = ptr(out), biasp = ptr(bias);
        int abs = a.dtype().byteSize(), cs = out.dtype().byteSize();
        DType abType = a.dtype(), cType = out.dtype();
        long[] amf = am, bmf = bm;
        long aBsF = aBs, bBsF = bBs, cBsF = cBs;
        if (cublas) {
            Cublas blas = d.cublas();
            if (bias != null) broadcastRows(d, bias, out); // cuBLAS has no bias: start C at the bias, accumulate
            boolean acc = bias != null;
            Layout.forEachPiece(outer, 0, (off, p) -> blas.gemm(batch, M, N, K,
                ap + off[0] * abs, aBsF, amf[0], amf[1], bp + off[1] * abs, bBsF, bmf[0], bmf[1], abType,
                cp + off[2] * cs, cBsF, ldc, cType, acc));
        } else {
            Layout.forEachPiece(outer, 0, (off, p) -> check(llava_gemm(d.streamAddress(), batch, M, N, K,
                ap + off[0] * abs, aBsF, amf[0], amf[1], bp + off[1] * abs, bBsF, bmf[0], bmf[1], code(abType),
                biasp, cp + off[2] * cs, cBsF, ldc, code(cType), 1f, 0f), "matmul (llava_gemm)"));
        }
    }

    // =========================================================================================
    // indexing
    // =========================================================================================

    /**
     * Checks the (dim, 1-D index) pair of index_select / index_add on the indexed tensor t and
     * returns the shape of the indexed side: t's shape with dim resized to the index length.
     */
    private static int[] indexedShape(String op, Tensor t, int dim, Tensor index) {
        require(dim >= 0 && dim < t.dim(), op, "dim " + dim + " out of range for rank " + t.dim());
        require(index.dim() == 1, op, "index must be 1-D, got shape " + Arrays.toString(index.shape()));
        dtype(op, "index", index, DType.I64, DType.I32);
        int[] s = t.shape();
        s[dim] = index.numel();
        return s;
    }

    /** The index kernels' view of t around dim: {outer, size of dim, inner}. */
    private static long[] aroundDim(Tensor t, int dim) {
        int[] s = t.shape();
        return new long[] {Layout.product(s, 0, dim), s[dim], Layout.product(s, dim + 1, s.length)};
    }

    @Override
    public void indexSelect(Tensor x, int dim, Tensor index, Tensor out) {
        String op = "index_select";
        CudaDevice d = on(op, x, index, out);
        shape(op, "out", out, indexedShape(op, x, dim, index));
        require(out.dtype() == x.dtype(), op, "out dtype " + out.dtype() + " differs from x " + x.dtype());
        if (out.numel() == 0) return;
        require(x.size(dim) > 0, op, "indexing into an empty dimension");
        long[] od = aroundDim(x, dim);
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), ic = tmp.input(index, DType.I64), oc = tmp.output(out);
            check(llava_index_select(d.streamAddress(), code(x.dtype()), od[0], od[1], od[2], ptr(xc), ptr(ic), index.numel(),
                ptr(oc)), op);
            tmp.finish();
        }
    }

    @Override
    public void indexAdd(Tensor target, int dim, Tensor index, Tensor src) {
        String op = "index_add";
        CudaDevice d = on(op, target, index, src);
        shape(op, "src", src, indexedShape(op, target, dim, index));
        dtype(op, "target", target, FLOATS);
        if (src.numel() == 0) return;
        long[] od = aroundDim(target, dim);
        try (Temps tmp = new Temps()) {
            Tensor tc = tmp.inout(target, target.dtype()), ic = tmp.input(index, DType.I64), sc = tmp.input(src, target.dtype());
            check(llava_index_add(d.streamAddress(), code(target.dtype()), od[0], od[1], od[2], ptr(tc), ptr(ic), index.numel(),
                ptr(sc)), op);
            tmp.finish();
        }
    }

    private static void checkGather(String op, Tensor data, int dim, Tensor index) {
        int r = data.dim();
        require(r >= 1 && r <= LLAVA_MAX_DIMS, op, "rank " + r + " (1.." + LLAVA_MAX_DIMS + " supported on CUDA)");
        require(dim >= 0 && dim < r, op, "dim " + dim + " out of range for rank " + r);
        dtype(op, "index", index, DType.I64);
        require(index.dim() == r, op, "index has rank " + index.dim() + ", the tensor " + r);
        for (int k = 0; k < r; k++) {
            require(k == dim || index.size(k) <= data.size(k), op, "index shape " + Arrays.toString(index.shape())
                + " exceeds " + Arrays.toString(data.shape()) + " at dimension " + k);
        }
    }

    @Override
    public void gather(Tensor x, int dim, Tensor index, Tensor out) {
        String op = "gather";
        CudaDevice d = on(op, x, index, out);
        checkGather(op, x, dim, index);
        shape(op, "out", out, index.shape());
        require(out.dtype() == x.dtype(), op, "out dtype " + out.dtype() + " differs from x " + x.dtype());
        if (out.numel() == 0) return;
        require(x.size(dim) > 0, op, "gathering from an empty dimension");
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), ic = tmp.input(index), oc = tmp.output(out);
            check(llava_gather(d.streamAddress(), code(x.dtype()), x.dim(), Layout.toLong(index.shape()), dim, ptr(xc),
                Layout.toLong(x.shape()), ptr(ic), ptr(oc)), op);
            tmp.finish();
        }
    }

    @Override
    public void scatterAdd(Tensor target, int dim, Tensor index, Tensor src) {
        String op = "scatter_add";
        CudaDevice d = on(op, target, index, src);
        checkGather(op, target, dim, index);
        shape(op, "src", src, index.shape());
        dtype(op, "target", target, DType.F64, DType.F32, DType.BF16, DType.F16, DType.I64, DType.I32);
        if (src.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor tc = tmp.inout(target, target.dtype()), ic = tmp.input(index), sc = tmp.input(src, target.dtype());
            check(llava_scatter_add(d.streamAddress(), code(target.dtype()), target.dim(), Layout.toLong(index.shape()), dim,
                ptr(tc), Layout.toLong(target.shape()), ptr(ic), ptr(sc)), op);
            tmp.finish();
        }
    }

    // =========================================================================================
    // fused ops
    // =========================================================================================

    /** Checks a rows-layout op's x, out and optional [cols] parameters; returns {rows, cols}. */
    private static int[] rowsOp(String op, Tensor x, Tensor out, Tensor... params) {
        dtype(op, "x", x, KERNEL_FLOATS);
        require(x.dim() >= 1, op, "x must have at least one dimension");
        if (out != null) {
            sameShape(op, x, out);
            require(out.dtype() == x.dtype(), op, "out dtype " + out.dtype() + " differs from x " + x.dtype());
        }
        int cols = x.size(-1);
        for (Tensor p : params) {
            if (p == null) continue;
            shape(op, "weight/bias", p, cols);
            require(p.dtype() == x.dtype(), op, "weight/bias dtype " + p.dtype() + " differs from x " + x.dtype());
        }
        return new int[] {rows(x), cols};
    }

    private static void rowStats(String op, String name, Tensor t, int rows) {
        if (t == null) return;
        dtype(op, name, t, DType.F32);
        require(t.numel() == rows, op, name + " must hold " + rows + " values, has shape " + Arrays.toString(t.shape()));
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        String op = "rms_norm";
        CudaDevice d = on(op, x, weight, out, rstd);
        int[] rc = rowsOp(op, x, out, weight);
        rowStats(op, "rstd", rstd, rc[0]);
        if (rc[0] == 0) return;
        if (rc[1] == 0) { // mean of nothing: 0/0, as the CPU backend
            fill(rstd, Double.NaN);
            return;
        }
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), wc = tmp.input(weight), oc = tmp.output(out), sc = tmp.output(rstd);
            check(llava_rms_norm_forward(d.streamAddress(), rc[0], rc[1], ptr(xc), ptr(wc), eps, ptr(oc), ptr(sc),
                code(x.dtype())), op);
            tmp.finish();
        }
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gw) {
        String op = "rms_norm backward";
        CudaDevice d = on(op, x, weight, rstd, gy, gx, gw);
        int[] rc = rowsOp(op, x, gx, weight, gw);
        sameShape(op, x, gy);
        rowStats(op, "rstd", rstd, rc[0]);
        if (rc[0] == 0 || rc[1] == 0) {
            if (gw != null) fill(gw, 0);
            return;
        }
        DType dt = x.dtype();
        long ws = llava_norm_backward_workspace_size(rc[0], rc[1]);
        try (Temps tmp = new Temps(); Scratch work = new Scratch(d, ws)) {
            Tensor xc = tmp.input(x), wc = tmp.input(weight), sc = tmp.input(rstd), gc = tmp.input(gy, dt);
            Tensor gxc = tmp.output(gx), gwc = tmp.output(gw);
            check(llava_rms_norm_backward(d.streamAddress(), rc[0], rc[1], ptr(xc), ptr(wc), ptr(sc), ptr(gc), ptr(gxc),
                ptr(gwc), work.address(), code(dt)), op);
            tmp.finish();
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        String op = "layer_norm";
        CudaDevice d = on(op, x, weight, bias, out, mean, rstd);
        int[] rc = rowsOp(op, x, out, weight, bias);
        rowStats(op, "mean", mean, rc[0]);
        rowStats(op, "rstd", rstd, rc[0]);
        if (rc[0] == 0) return;
        if (rc[1] == 0) {
            fill(mean, Double.NaN);
            fill(rstd, Double.NaN);
            return;
        }
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(x), wc = tmp.input(weight), bc = tmp.input(bias);
            Tensor oc = tmp.output(out), mc = tmp.output(mean), sc = tmp.output(rstd);
            check(llava_layer_norm_forward(d.streamAddress(), rc[0], rc[1], ptr(xc), ptr(wc), ptr(bc), eps, ptr(oc), ptr(mc),
                ptr(sc), code(x.dtype())), op);
            tmp.finish();
        }
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gw, Tensor gb) {
        String op = "layer_norm backward";
        CudaDevice d = on(op, x, weight, mean, rstd, gy, gx, gw, gb);
        int[] rc = rowsOp(op, x, gx, weight, gw, gb);
        sameShape(op, x, gy);
        rowStats(op, "mean", mean, rc[0]);
        rowStats(op, "rstd", rstd, rc[0]);
        if (rc[0] == 0 || rc[1] == 0) {
            if (gw != null) fill(gw, 0);
            if (gb != null) fill(gb, 0);
            return;
        }
        DType dt = x.dtype();
        long ws = 2 * llava_norm_backward_workspace_size(rc[0], rc[1]);
        try (Temps tmp = new Temps(); Scratch work = new Scratch(d, ws)) {
            Tensor xc = tmp.input(x), wc = tmp.input(weight), mc = tmp.input(mean), sc = tmp.input(rstd), gc = tmp.input(gy, dt);
            Tensor gxc = tmp.output(gx), gwc = tmp.output(gw), gbc = tmp.output(gb);
            check(llava_layer_norm_backward(d.streamAddress(), rc[0], rc[1], ptr(xc), ptr(wc), ptr(mc), ptr(sc), ptr(gc),
                ptr(gxc), ptr(gwc), ptr(gbc), work.address(), code(dt)), op);
            tmp.finish();
        }
    }

    private static long[] longStrides(Tensor t) { return Layout.toLong(t.strides()); }

    private static boolean sameView(Tensor a, Tensor b) {
        return a.storage() == b.storage() && a.offset() == b.offset() && Arrays.equals(a.strides(), b.strides())
            && Arrays.equals(a.shape(), b.shape());
    }

    @Override
    public void rope(Tensor x, Tensor positions, Tensor invFreq, boolean inverse, Tensor out) {
        String op = "rope";
        CudaDevice d = on(op, x, positions, invFreq, out);
        dtype(op, "x", x, KERNEL_FLOATS);
        require(x.dim() == 4, op, "x must be [B, T, H, D], got " + Arrays.toString(x.shape()));
        int B = x.size(0), T = x.size(1), H = x.size(2), D = x.size(3);
        require(D % 2 == 0, op, "head dim must be even, got " + D);
        shape(op, "positions", positions, B, T);
        dtype(op, "positions", positions, DType.I64);
        shape(op, "invFreq", invFreq, D / 2);
        dtype(op, "invFreq", invFreq, DType.F32);
        sameShape(op, x, out);
        require(out.dtype() == x.dtype(), op, "out dtype " + out.dtype() + " differs from x " + x.dtype());
        if (x.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor xk, ok;
            if (sameView(x, out)) { // in place: the kernel reads and writes the same (unit-stride) memory
                xk = ok = x.stride(3) == 1 ? x : tmp.inout(x, x.dtype());
            } else {
                xk = x.stride(3) == 1 ? x : tmp.input(x);
                ok = out.stride(3) == 1 ? out : tmp.output(out);
            }
            Tensor pc = tmp.input(positions), fc = tmp.input(invFreq);
            check(llava_rope(d.streamAddress(), code(x.dtype()), B, T, H, D, ptr(xk), unitLast(xk), ptr(pc), ptr(fc),
                inverse ? 1 : 0, ptr(ok), unitLast(ok)), op);
            tmp.finish();
        }
    }

    /** Strides of a [.., D] operand with the last stride reported as 1 (a size-1 last dim may have any). */
    private static long[] unitLast(Tensor t) {
        long[] s = longStrides(t);
        s[s.length - 1] = 1;
        return s;
    }

    private static void attentionShapes(String op, Tensor q, Tensor k, Tensor v, Tensor keyMask) {
        dtype(op, "q", q, KERNEL_FLOATS);
        require(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op, "q, k, v must be 4-D [B, H, T, D]");
        require(Arrays.equals(k.shape(), v.shape()), op, "k " + Arrays.toString(k.shape()) + " and v " + Arrays.toString(v.shape()) + " differ");
        require(k.size(0) == q.size(0) && k.size(3) == q.size(3), op, "k " + Arrays.toString(k.shape()) + " does not match q "
            + Arrays.toString(q.shape()));
        int Hq = q.size(1), Hkv = k.size(1);
        require(Hkv > 0 && Hq % Hkv == 0, op, Hq + " query heads are not a multiple of " + Hkv + " kv heads");
        require(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op, "q, k, v dtypes differ");
        if (keyMask != null) {
            shape(op, "keyMask", keyMask, q.size(0), k.size(2));
            dtype(op, "keyMask", keyMask, DType.BOOL);
        }
    }

    /** The operand itself when its last stride is 1, else a contiguous copy. */
    private static Tensor unitStrideD(Temps tmp, Tensor t) {
        return t.stride(3) == 1 ? t : tmp.input(t);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        String op = "attention";
        CudaDevice d = on(op, q, k, v, keyMask, out, lse);
        attentionShapes(op, q, k, v, keyMask);
        int B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
        sameShape(op, q, out);
        require(out.dtype() == q.dtype(), op, "out dtype " + out.dtype() + " differs from q " + q.dtype());
        shape(op, "lse", lse, B, Hq, Tq);
        dtype(op, "lse", lse, DType.F32);
        if (out.numel() == 0 && lse.numel() == 0) return;
        if (Tk == 0 || D == 0) { // no keys: every row sees nothing
            fill(out, 0);
            fill(lse, Double.NEGATIVE_INFINITY);
            return;
        }
        try (Temps tmp = new Temps()) {
            Tensor qk = unitStrideD(tmp, q), kk = unitStrideD(tmp, k), vk = unitStrideD(tmp, v), mk = tmp.input(keyMask);
            Tensor oc = tmp.output(out), lc = tmp.output(lse);
            check(llava_attention_forward(d.streamAddress(), code(q.dtype()), B, Hq, Hkv, Tq, Tk, D, ptr(qk), unitLast(qk),
                ptr(kk), unitLast(kk), ptr(vk), unitLast(vk), ptr(mk), causal ? 1 : 0, (float) scale, ptr(oc), ptr(lc)), op);
            tmp.finish();
        }
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, Tensor keyMask,
                                  boolean causal, double scale, Tensor gq, Tensor gk, Tensor gv) {
        String op = "attention backward";
        CudaDevice d = on(op, q, k, v, out, lse, gOut, keyMask, gq, gk, gv);
        attentionShapes(op, q, k, v, keyMask);
        int B = q.size(0), Hq = q.size(1), Tq = q.size(2), D = q.size(3), Hkv = k.size(1), Tk = k.size(2);
        DType dt = q.dtype();
        sameShape(op, q, out);
        sameShape(op, q, gOut);
        sameShape(op, q, gq);
        sameShape(op, k, gk);
        sameShape(op, k, gv);
        shape(op, "lse", lse, B, Hq, Tq);
        dtype(op, "lse", lse, DType.F32);
        for (Tensor g : new Tensor[] {out, gq, gk, gv}) {
            require(g.dtype() == dt, op, "out and gradients must have q's dtype " + dt + ", got " + g.dtype());
        }
        if (Tq == 0 || Tk == 0 || D == 0 || B == 0 || Hq == 0) { // nothing flows
            fill(gq, 0);
            fill(gk, 0);
            fill(gv, 0);
            return;
        }
        long ws = llava_attention_backward_workspace_size(code(dt), B, Hq, Hkv, Tq, Tk, D);
        try (Temps tmp = new Temps(); Scratch work = new Scratch(d, ws)) {
            Tensor qk = unitStrideD(tmp, q), kk = unitStrideD(tmp, k), vk = unitStrideD(tmp, v), mk = tmp.input(keyMask);
            Tensor oc = tmp.input(out), lc = tmp.input(lse), gc = tmp.input(gOut, dt);
            Tensor gqc = tmp.output(gq), gkc = tmp.output(gk), gvc = tmp.output(gv);
            check(llava_attention_backward(d.streamAddress(), code(dt), B, Hq, Hkv, Tq, Tk, D, ptr(qk), unitLast(qk),
                ptr(kk), unitLast(kk), ptr(vk), unitLast(vk), ptr(oc), ptr(lc), ptr(gc), ptr(mk), causal ? 1 : 0,
                (float) scale, ptr(gqc), ptr(gkc), ptr(gvc), work.address()), op);
            tmp.finish();
        }
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        String op = "silu_mul";
        CudaDevice d = on(op, gate, up, out);
        dtype(op, "gate", gate, KERNEL_FLOATS);
        sameShape(op, gate, up);
        sameShape(op, gate, out);
        DType dt = gate.dtype();
        require(up.dtype() == dt && out.dtype() == dt, op, "gate, up, out dtypes differ");
        if (gate.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor gc = tmp.input(gate), uc = tmp.input(up), oc = tmp.output(out);
            check(llava_silu_mul_forward(d.streamAddress(), gate.numel(), ptr(gc), ptr(uc), ptr(oc), code(dt)), op);
            tmp.finish();
        }
    }

    @Override
    public void siluMulBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp) {
        String op = "silu_mul backward";
        CudaDevice d = on(op, gate, up, gy, gGate, gUp);
        dtype(op, "gate", gate, KERNEL_FLOATS);
        for (Tensor t : new Tensor[] {up, gy, gGate, gUp}) sameShape(op, gate, t);
        DType dt = gate.dtype();
        require(up.dtype() == dt && gGate.dtype() == dt && gUp.dtype() == dt, op, "gate, up and gradient dtypes differ");
        if (gate.numel() == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor gc = tmp.input(gate), uc = tmp.input(up), yc = tmp.input(gy, dt), ggc = tmp.output(gGate), guc = tmp.output(gUp);
            check(llava_silu_mul_backward(d.streamAddress(), gate.numel(), ptr(gc), ptr(uc), ptr(yc), ptr(ggc), ptr(guc),
                code(dt)), op);
            tmp.finish();
        }
    }

    private static int[] crossEntropyShapes(String op, Tensor logits, Tensor target) {
        dtype(op, "logits", logits, KERNEL_FLOATS);
        require(logits.dim() == 2, op, "logits must be [N, V], got " + Arrays.toString(logits.shape()));
        int N = logits.size(0), V = logits.size(1);
        shape(op, "target", target, N);
        dtype(op, "target", target, DType.I64);
        return new int[] {N, V};
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor target, long ignoreIndex, Tensor loss, Tensor lse) {
        String op = "cross_entropy";
        CudaDevice d = on(op, logits, target, loss, lse);
        int[] nv = crossEntropyShapes(op, logits, target);
        rowStats(op, "loss", loss, nv[0]);
        rowStats(op, "lse", lse, nv[0]);
        if (nv[0] == 0) return;
        require(nv[1] > 0, op, "empty vocabulary");
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(logits), tc = tmp.input(target), lc = tmp.output(loss), sc = tmp.output(lse);
            check(llava_cross_entropy_forward(d.streamAddress(), nv[0], nv[1], ptr(xc), code(logits.dtype()), ptr(tc),
                ignoreIndex, ptr(lc), ptr(sc)), op);
            tmp.finish();
        }
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor target, Tensor lse, Tensor gLoss, long ignoreIndex, Tensor gLogits) {
        String op = "cross_entropy backward";
        CudaDevice d = on(op, logits, target, lse, gLoss, gLogits);
        int[] nv = crossEntropyShapes(op, logits, target);
        rowStats(op, "lse", lse, nv[0]);
        rowStats(op, "gLoss", gLoss, nv[0]);
        sameShape(op, logits, gLogits);
        dtype(op, "gLogits", gLogits, KERNEL_FLOATS);
        if (nv[0] == 0 || nv[1] == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor xc = tmp.input(logits), tc = tmp.input(target), sc = tmp.input(lse), gc = tmp.input(gLoss);
            Tensor oc = tmp.output(gLogits, logits.dtype());
            check(llava_cross_entropy_backward(d.streamAddress(), nv[0], nv[1], ptr(xc), code(logits.dtype()), ptr(tc),
                ptr(sc), ptr(gc), ignoreIndex, ptr(oc)), op);
            tmp.finish();
        }
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                      double eps, double weightDecay, long step, Tensor copyOut) {
        String op = "adamw";
        CudaDevice d = on(op, param, grad, expAvg, expAvgSq, copyOut);
        int n = param.numel();
        for (Tensor t : new Tensor[] {param, expAvg, expAvgSq}) {
            dtype(op, "param/state", t, DType.F32);
            require(t.isContiguous(), op, "param and optimizer state must be contiguous");
            require(t.numel() == n, op, "param and state sizes differ: " + n + " vs " + t.numel());
        }
        dtype(op, "grad", grad, KERNEL_FLOATS);
        require(grad.numel() == n, op, "grad has " + grad.numel() + " elements, param " + n);
        if (copyOut != null) {
            dtype(op, "copyOut", copyOut, KERNEL_FLOATS);
            require(copyOut.numel() == n, op, "copyOut has " + copyOut.numel() + " elements, param " + n);
        }
        require(step >= 1, op, "step must be >= 1, got " + step);
        if (n == 0) return;
        try (Temps tmp = new Temps()) {
            Tensor gc = tmp.input(grad), cc = tmp.output(copyOut);
            check(llava_adamw(d.streamAddress(), n, ptr(param), ptr(gc), code(grad.dtype()), ptr(expAvg), ptr(expAvgSq), lr,
                beta1, beta2, eps, weightDecay, step, ptr(cc), copyOut == null ? code(DType.F32) : code(copyOut.dtype())), op);
            tmp.finish();
        }
    }
}
