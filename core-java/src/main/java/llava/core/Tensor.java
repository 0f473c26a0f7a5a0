package llava.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import llava.core.autograd.AccumulateGrad;
import llava.core.autograd.Autograd;
import llava.core.autograd.GradMode;
import llava.core.autograd.Node;

/**
 * An n-dimensional array on a device, with PyTorch-like semantics: views share storage, ops
 * broadcast, and ops on tensors that require grad are recorded for {@link #backward()}.
 *
 * <p>Memory is released deterministically: {@link #close()} this handle (or let a {@link Scope}
 * close it). Views hold their own reference to the storage, so closing a base tensor does not
 * invalidate its views.
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final int[] shape;
    private final int[] strides;
    private final int offset;
    private volatile boolean closed;
    Scope owner;

    // autograd state
    private boolean requiresGrad;
    private Node gradFn;
    private AccumulateGrad accumulator;
    private Tensor grad;
    private List<Consumer<Tensor>> gradReadyHooks;

    Tensor(Storage storage, int[] shape, int[] strides, int offset) {
        storage.retain();
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        Scope.register(this);
    }

    // =========================================================================================
    // creation
    // =========================================================================================

    /** Uninitialised (contents unspecified) contiguous tensor. */
    public static Tensor empty(DType dtype, Device device, int... shape) {
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("empty: negative dimension in " + Arrays.toString(shape));
        }
        int n = Shapes.numel(shape);
        Storage st = Backends.get(device).allocate(device, dtype, n);
        return new Tensor(st, shape.clone(), Shapes.contiguousStrides(shape), 0);
    }

    public static Tensor empty(DType dtype, int... shape) { return empty(dtype, Device.CPU, shape); }

    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        Tensor t = empty(dtype, device, shape);
        t.backend().fill(t, value);
        return t;
    }

    public static Tensor zeros(DType dtype, Device device, int... shape) { return full(0, dtype, device, shape); }
    public static Tensor zeros(int... shape) { return zeros(DType.F32, Device.CPU, shape); }
    public static Tensor ones(DType dtype, Device device, int... shape) { return full(1, dtype, device, shape); }
    public static Tensor ones(int... shape) { return ones(DType.F32, Device.CPU, shape); }
    public static Tensor zerosLike(Tensor t) { return zeros(t.dtype(), t.device(), t.shape); }
    public static Tensor onesLike(Tensor t) { return ones(t.dtype(), t.device(), t.shape); }
    public static Tensor emptyLike(Tensor t) { return empty(t.dtype(), t.device(), t.shape); }

    /** A 0-dim tensor. */
    public static Tensor scalar(double value, DType dtype, Device device) { return full(value, dtype, device); }
    public static Tensor scalar(double value) { return scalar(value, DType.F32, Device.CPU); }

    /** [start, end) with step, like torch.arange; I64 for integral arguments is the caller's choice of dtype. */
    public static Tensor arange(double start, double end, double step, DType dtype, Device device) {
        if (step == 0) throw new IllegalArgumentException("arange: step must be nonzero");
        int n = (int) Math.max(0, Math.ceil((end - start) / step));
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = start + i * step;
        return fromDoubles(v, dtype, device, n);
    }

    public static Tensor arange(int end) { return arange(0, end, 1, DType.I64, Device.CPU); }

    public static Tensor eye(int n, DType dtype, Device device) {
        double[] v = new double[n * n];
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        return fromDoubles(v, dtype, device, n, n);
    }

    /** Uniform in [0, 1). */
    public static Tensor rand(Generator gen, DType dtype, Device device, int... shape) {
        double[] v = new double[Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = gen.nextDouble();
        return fromDoubles(v, dtype, device, shape);
    }

    /** Standard normal. */
    public static Tensor randn(Generator gen, DType dtype, Device device, int... shape) {
        return normal(gen, 0, 1, dtype, device, shape);
    }

    public static Tensor randn(Generator gen, int... shape) { return randn(gen, DType.F32, Device.CPU, shape); }

    public static Tensor normal(Generator gen, double mean, double std, DType dtype, Device device, int... shape) {
        double[] v = new double[Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = mean + std * gen.nextGaussian();
        return fromDoubles(v, dtype, device, shape);
    }

    /** Uniform integers in [low, high). */
    public static Tensor randint(Generator gen, long low, long high, DType dtype, Device device, int... shape) {
        long[] v = new long[Shapes.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = low + gen.nextLong(high - low);
        try (Tensor t = of(v, shape)) {
            return onDevice(t.to(dtype), device);
        }
    }

    public static Tensor of(float[] data, int... shape) { return fromHost(data, data.length, DType.F32, shape); }
    public static Tensor of(double[] data, int... shape) { return fromHost(data, data.length, DType.F64, shape); }
    public static Tensor of(long[] data, int... shape) { return fromHost(data, data.length, DType.I64, shape); }
    public static Tensor of(int[] data, int... shape) { return fromHost(data, data.length, DType.I32, shape); }

    public static Tensor of(boolean[] data, int... shape) {
        byte[] b = new byte[data.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (data[i] ? 1 : 0);
        return fromHost(b, b.length, DType.BOOL, shape);
    }

    /** 1-D F32 tensor of the given values. */
    public static Tensor of(float... data) { return of(data, data.length); }

    /** Host values placed on device (e.g. token ids or positions built in Java). */
    public static Tensor of(long[] data, Device device, int... shape) { return fromHostArray(data, DType.I64, device, shape); }
    public static Tensor of(float[] data, Device device, int... shape) { return fromHostArray(data, DType.F32, device, shape); }

    /**
     * A tensor holding raw host data of {@code dtype}'s host type (short[] bit patterns for
     * BF16/F16, byte[] for U8/BOOL, ...), copied.
     */
    public static Tensor fromHostArray(Object data, DType dtype, Device device, int... shape) {
        return onDevice(fromHost(data, java.lang.reflect.Array.getLength(data), dtype, shape), device);
    }

    /** t itself when it is on device; otherwise a copy there, and t is closed (t is a fresh host tensor). */
    private static Tensor onDevice(Tensor t, Device device) {
        if (t.device().equals(device)) return t;
        try (t) {
            return t.toDeviceInternal(device);
        }
    }

    private static Tensor fromHost(Object data, int len, DType dtype, int[] shape) {
        int n = Shapes.numel(shape);
        if (n != len) {
            throw new IllegalArgumentException("of: " + len + " values do not fill shape " + Arrays.toString(shape));
        }
        Tensor t = empty(dtype, Device.CPU, shape);
        t.storage.copyFromHost(data, 0, 0, n);
        return t;
    }

    /**
     * A tensor copied from the remaining elements of a NIO buffer (FloatBuffer -> F32,
     * DoubleBuffer -> F64, LongBuffer -> I64, IntBuffer -> I32, ShortBuffer -> the given half
     * dtype's bits, ByteBuffer -> U8 or BOOL); the buffer's position is not changed.
     */
    public static Tensor fromBuffer(java.nio.Buffer buffer, DType dtype, int... shape) {
        java.nio.Buffer b = buffer.duplicate();
        int n = b.remaining();
        Object arr = Storage.newHostArray(dtype, n);
        if (b instanceof java.nio.FloatBuffer f && dtype == DType.F32) f.get((float[]) arr);
        else if (b instanceof java.nio.DoubleBuffer d && dtype == DType.F64) d.get((double[]) arr);
        else if (b instanceof java.nio.LongBuffer l && dtype == DType.I64) l.get((long[]) arr);
        else if (b instanceof java.nio.IntBuffer i && dtype == DType.I32) i.get((int[]) arr);
        else if (b instanceof java.nio.ShortBuffer sb && dtype.isHalf()) sb.get((short[]) arr);
        else if (b instanceof java.nio.ByteBuffer bb && (dtype == DType.U8 || dtype == DType.BOOL)) bb.get((byte[]) arr);
        else throw new IllegalArgumentException("fromBuffer: a " + buffer.getClass().getSimpleName() + " cannot hold " + dtype);
        return fromHost(arr, n, dtype, shape);
    }

    /** Values given as doubles, converted to {@code dtype} (rounded to nearest even for halves). */
    public static Tensor fromDoubles(double[] v, DType dtype, Device device, int... shape) {
        Tensor t64 = of(v, shape);
        if (dtype == DType.F64) return onDevice(t64, device);
        try (t64) {
            return onDevice(t64.to(dtype), device);
        }
    }

    // =========================================================================================
    // metadata
    // =========================================================================================

    public int[] shape() { return shape.clone(); }
    public int size(int d) { return shape[Shapes.dim(d, shape.length, "size")]; }
    public int dim() { return shape.length; }
    public int numel() { return Shapes.numel(shape); }
    public int[] strides() { return strides.clone(); }
    public int stride(int d) { return strides[Shapes.dim(d, shape.length, "stride")]; }
    public int offset() { return offset; }
    public DType dtype() { return storage.dtype(); }
    public Device device() { return storage.device(); }
    public Storage storage() { checkOpen(); return storage; }
    public boolean isContiguous() { return Shapes.isContiguous(shape, strides); }
    public boolean isClosed() { return closed; }

    /** The scope that owns this handle (null when the caller owns it). */
    public Scope owner() { return owner; }

    /** True when no other handle shares this tensor's storage. */
    public boolean isExclusivelyOwned() { return storage.refCount() == 1; }

    Backend backend() {
        checkOpen();
        return Backends.get(storage.device());
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("tensor " + Arrays.toString(shape) + " " + dtype() + " was already closed");
    }

    // =========================================================================================
    // lifetime
    // =========================================================================================

    /** Releases this handle: the storage goes when its last handle does; the graph node too. */
    @Override
    public void close() {
        if (closed) return;
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        owner = null;
        if (gradFn != null) {
            Node n = gradFn;
            gradFn = null;
            n.release();
        }
        if (grad != null) {
            grad.close();
            grad = null;
        }
        storage.release();
    }

    /** A new handle to the same data; for autograd it is an identity view of this. */
    public Tensor alias() {
        checkOpen();
        Tensor a = new Tensor(storage, shape, strides, offset);
        if (requiresGrad && GradMode.isEnabled()) {
            Autograd.record("AliasBackward", a, new Tensor[] {this}, (ctx, g) -> new Tensor[] {g});
        }
        return a;
    }

    /** Internal: a view created by an op (no autograd). */
    Tensor makeView(int[] newShape, int[] newStrides, int newOffset) {
        checkOpen();
        return new Tensor(storage, newShape, newStrides, newOffset);
    }

    /** Internal: detached, unmanaged handle sharing storage, for saving in autograd nodes. */
    public Tensor savedView() {
        checkOpen();
        Tensor t = new Tensor(storage, shape, strides, offset);
        return Scope.detach(t);
    }

    // =========================================================================================
    // autograd
    // =========================================================================================

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf as requiring grad (float dtypes only). Returns this. */
    public Tensor requiresGrad(boolean flag) {
        checkOpen();
        if (gradFn != null) {
            throw new IllegalStateException("requiresGrad can only be changed on leaf tensors (this one has grad_fn "
                + gradFn.name() + "); use detach()");
        }
        if (flag && !dtype().isFloating()) {
            throw new IllegalArgumentException("only floating-point tensors can require grad, got " + dtype());
        }
        requiresGrad = flag;
        return this;
    }

    public boolean isLeaf() { return gradFn == null; }
    public Node gradFn() { return gradFn; }

    /** Internal: records that this tensor is the output of node. */
    public void attachGradFn(Node node) {
        if (gradFn != null) throw new IllegalStateException("tensor already has a grad_fn");
        node.retain();
        gradFn = node;
        requiresGrad = true;
    }

    /** Internal: the node that accumulates into this leaf's grad. */
    public synchronized AccumulateGrad gradAccumulator() {
        if (gradFn != null) throw new IllegalStateException("not a leaf");
        if (accumulator == null) accumulator = new AccumulateGrad(this);
        return accumulator;
    }

    /** The accumulated gradient of a leaf (null before the first backward). */
    public Tensor grad() { return grad; }

    /** Replaces the gradient (the tensor becomes owned by this one). */
    public void setGrad(Tensor g) {
        if (g != null && !Arrays.equals(g.shape, shape)) {
            throw new IllegalArgumentException("setGrad: gradient shape " + Arrays.toString(g.shape)
                + " does not match " + Arrays.toString(shape));
        }
        if (grad != null && grad != g) grad.close();
        grad = g == null ? null : Scope.detach(g);
    }

    /** Clears the gradient (frees it). */
    public void zeroGrad() {
        setGrad(null);
    }

    /** Internal: called by the engine with this leaf's incoming gradient. */
    public void accumulateGrad(Tensor g) {
        try (GradMode ng = GradMode.noGrad()) {
            if (grad == null) {
                if (g.isExclusivelyOwned() && g.isContiguous() && g.dtype() == dtype() && g.offset == 0) {
                    grad = g.savedView(); // take over the engine's buffer
                } else {
                    try (Tensor cast = g.to(dtype())) {
                        grad = Scope.detach(cast.contiguousCopy());
                    }
                }
            } else {
                if (g.dtype() == grad.dtype()) {
                    grad.add_(g);
                } else {
                    try (Tensor c = g.to(grad.dtype())) {
                        grad.add_(c);
                    }
                }
            }
        }
        if (gradReadyHooks != null) for (Consumer<Tensor> h : gradReadyHooks) h.accept(this);
    }

    /** Calls hook(this) every time a gradient has been accumulated into this leaf's grad
     *  (data-parallel training starts reducing a bucket from here). */
    public synchronized void registerGradReadyHook(Consumer<Tensor> hook) {
        if (gradFn != null) throw new IllegalStateException("grad-ready hooks are for leaf tensors");
        if (gradReadyHooks == null) gradReadyHooks = new ArrayList<>();
        gradReadyHooks.add(hook);
    }

    /** Registers a hook on the gradient flowing into this tensor; it may return a replacement. */
    public void registerHook(UnaryOperator<Tensor> hook) {
        if (!requiresGrad) throw new IllegalStateException("registerHook on a tensor that does not require grad");
        (gradFn != null ? gradFn : gradAccumulator()).addHook(hook);
    }

    /** Backpropagates from this one-element tensor. */
    public void backward() { Autograd.backward(this, null, false); }

    public void backward(Tensor gradient) { Autograd.backward(this, gradient, false); }

    public void backward(Tensor gradient, boolean retainGraph) { Autograd.backward(this, gradient, retainGraph); }

    /** A new handle on the same data, cut from the graph. */
    public Tensor detach() {
        checkOpen();
        return new Tensor(storage, shape, strides, offset);
    }

    // =========================================================================================
    // host access
    // =========================================================================================

    /** All elements, in row-major order, as floats. */
    public float[] toFloatArray() { return (float[]) hostArray(DType.F32); }

    public double[] toDoubleArray() { return (double[]) hostArray(DType.F64); }

    public long[] toLongArray() { return (long[]) hostArray(DType.I64); }

    public int[] toIntArray() { return (int[]) hostArray(DType.I32); }

    public boolean[] toBooleanArray() {
        byte[] b = (byte[]) hostArray(DType.BOOL);
        boolean[] out = new boolean[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] != 0;
        return out;
    }

    /** Raw elements in this tensor's dtype's host type (short[] for BF16/F16, byte[] for U8/BOOL). */
    public Object toHostArray() { return hostArray(dtype()); }

    /** All elements converted to dt, in row-major order, in dt's host array type. */
    private Object hostArray(DType dt) {
        try (Tensor c = hostContiguous(dt)) {
            Object out = Storage.newHostArray(dt, c.numel());
            c.storage.copyToHost(c.offset, c.numel(), out, 0);
            return out;
        }
    }

    /** The value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalArgumentException("item: tensor has " + numel() + " elements, not 1");
        return toDoubleArray()[0];
    }

    /** Element at an index (slow; for tests and printing). */
    public double get(int... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("get: " + index.length + " indices for a tensor of rank " + shape.length);
        }
        int off = offset;
        for (int d = 0; d < index.length; d++) {
            int i = index[d] < 0 ? index[d] + shape[d] : index[d];
            if (i < 0 || i >= shape[d]) throw new IndexOutOfBoundsException("get: index " + index[d] + " out of range for dim " + d + " of size " + shape[d]);
            off += i * strides[d];
        }
        try (Tensor element = makeView(new int[0], new int[0], off)) {
            return element.item();
        }
    }

    /** Contiguous CPU tensor of the given dtype holding this tensor's values (no autograd). */
    private Tensor hostContiguous(DType dt) {
        checkOpen();
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor t = this;
            if (!t.device().isCpu()) t = t.toDeviceInternal(Device.CPU);
            if (t.dtype() != dt) t = t.to(dt);
            if (!t.isContiguous()) t = t.contiguousCopy();
            else if (t == this) t = t.alias(); // a handle the caller may close
            return Scope.detach(s.keep(t));
        }
    }

    // =========================================================================================
    // conversions
    // =========================================================================================

    /** Cast to dtype (a new handle on the same data when already that dtype). */
    public Tensor to(DType dt) { return Ops.cast(this, dt); }

    /** Move to a device (a new handle on the same data when already there). */
    public Tensor to(Device device) { return Ops.toDevice(this, device); }

    public Tensor to(DType dt, Device device) {
        try (Tensor a = to(device)) {
            return a.to(dt);
        }
    }

    Tensor toDeviceInternal(Device device) {
        Tensor src = isContiguous() ? this : contiguousCopy();
        try {
            Tensor dst = empty(dtype(), device, shape);
            Backend from = Backends.get(src.device());
            from.synchronize(src.device());
            if (src.device().isCpu()) {
                Object host = ((llava.core.cpu.CpuStorage) src.storage).array();
                dst.storage.copyFromHost(host, src.offset, 0, src.numel());
            } else if (device.isCpu()) {
                Object host = ((llava.core.cpu.CpuStorage) dst.storage).array();
                src.storage.copyToHost(src.offset, src.numel(), host, 0);
            } else {
                Object host = Storage.newHostArray(dtype(), src.numel());
                src.storage.copyToHost(src.offset, src.numel(), host, 0);
                dst.storage.copyFromHost(host, 0, 0, src.numel());
            }
            return dst;
        } finally {
            if (src != this) src.close();
        }
    }

    /** A contiguous copy (always copies; no autograd). */
    Tensor contiguousCopy() {
        Tensor out = empty(dtype(), device(), shape);
        backend().copy(this, out);
        return out;
    }

    /** This tensor if contiguous (as a new handle), else a contiguous copy. */
    public Tensor contiguous() { return Ops.contiguous(this); }

    public Tensor clone() { return Ops.clone(this); }

    // =========================================================================================
    // views
    // =========================================================================================

    public Tensor view(int... newShape) { return Ops.reshape(this, newShape, true); }
    public Tensor reshape(int... newShape) { return Ops.reshape(this, newShape, false); }
    public Tensor permute(int... dims) { return Ops.permute(this, dims); }
    public Tensor transpose(int d0, int d1) { return Ops.transpose(this, d0, d1); }
    /** Transpose of a 2-D tensor. */
    public Tensor t() {
        if (dim() != 2) throw new IllegalArgumentException("t: expects a 2-D tensor, got shape " + Arrays.toString(shape));
        return transpose(0, 1);
    }
    /** Transpose of the last two dims (mT in PyTorch). */
    public Tensor mT() { return transpose(-2, -1); }
    public Tensor narrow(int dim, int start, int length) { return Ops.slice(this, dim, start, start + length, 1); }
    /** Elements start, start+step, ... below end along dim (negative indices count from the end). */
    public Tensor slice(int dim, int start, int end, int step) { return Ops.slice(this, dim, start, end, step); }
    public Tensor slice(int dim, int start, int end) { return Ops.slice(this, dim, start, end, 1); }
    public Tensor select(int dim, int index) { return Ops.select(this, dim, index); }
    public Tensor expand(int... newShape) { return Ops.expand(this, newShape); }
    public Tensor expandAs(Tensor other) { return Ops.expand(this, other.shape); }
    public Tensor unsqueeze(int dim) { return Ops.unsqueeze(this, dim); }
    public Tensor squeeze(int dim) { return Ops.squeeze(this, dim); }
    public Tensor squeeze() { return Ops.squeezeAll(this); }
    public Tensor flatten() { return reshape(-1); }
    /** Flattens dims start..end (inclusive) into one. */
    public Tensor flatten(int start, int end) { return Ops.flatten(this, start, end); }

    // =========================================================================================
    // elementwise
    // =========================================================================================

    public Tensor add(Tensor o) { return Ops.binary(BinaryOp.ADD, this, o); }
    public Tensor sub(Tensor o) { return Ops.binary(BinaryOp.SUB, this, o); }
    public Tensor mul(Tensor o) { return Ops.binary(BinaryOp.MUL, this, o); }
    public Tensor div(Tensor o) { return Ops.binary(BinaryOp.DIV, this, o); }
    public Tensor pow(Tensor o) { return Ops.binary(BinaryOp.POW, this, o); }
    public Tensor maximum(Tensor o) { return Ops.binary(BinaryOp.MAX, this, o); }
    public Tensor minimum(Tensor o) { return Ops.binary(BinaryOp.MIN, this, o); }
    public Tensor eq(Tensor o) { return Ops.binary(BinaryOp.EQ, this, o); }
    public Tensor ne(Tensor o) { return Ops.binary(BinaryOp.NE, this, o); }
    public Tensor lt(Tensor o) { return Ops.binary(BinaryOp.LT, this, o); }
    public Tensor le(Tensor o) { return Ops.binary(BinaryOp.LE, this, o); }
    public Tensor gt(Tensor o) { return Ops.binary(BinaryOp.GT, this, o); }
    public Tensor ge(Tensor o) { return Ops.binary(BinaryOp.GE, this, o); }
    public Tensor logicalAnd(Tensor o) { return Ops.binary(BinaryOp.LOGICAL_AND, this, o); }
    public Tensor logicalOr(Tensor o) { return Ops.binary(BinaryOp.LOGICAL_OR, this, o); }

    public Tensor add(double s) { return Ops.affine(this, 1, s, "AddBackward"); }
    public Tensor sub(double s) { return Ops.affine(this, 1, -s, "SubBackward"); }
    public Tensor mul(double s) { return Ops.affine(this, s, 0, "MulBackward"); }
    public Tensor div(double s) { return Ops.affine(this, 1 / s, 0, "DivBackward"); }
    /** s - this. */
    public Tensor rsub(double s) { return Ops.affine(this, -1, s, "RsubBackward"); }
    public Tensor pow(double e) { return Ops.powScalar(this, e); }
    public Tensor eq(double s) { return Ops.compareScalar(BinaryOp.EQ, this, s); }
    public Tensor ne(double s) { return Ops.compareScalar(BinaryOp.NE, this, s); }
    public Tensor lt(double s) { return Ops.compareScalar(BinaryOp.LT, this, s); }
    public Tensor le(double s) { return Ops.compareScalar(BinaryOp.LE, this, s); }
    public Tensor gt(double s) { return Ops.compareScalar(BinaryOp.GT, this, s); }
    public Tensor ge(double s) { return Ops.compareScalar(BinaryOp.GE, this, s); }
    public Tensor clamp(double min, double max) { return Ops.clamp(this, min, max); }
    public Tensor clampMin(double min) { return Ops.clamp(this, min, Double.NaN); }
    public Tensor clampMax(double max) { return Ops.clamp(this, Double.NaN, max); }

    public Tensor neg() { return Ops.unary(UnaryOp.NEG, this); }
    public Tensor exp() { return Ops.unary(UnaryOp.EXP, this); }
    public Tensor log() { return Ops.unary(UnaryOp.LOG, this); }
    public Tensor sqrt() { return Ops.unary(UnaryOp.SQRT, this); }
    public Tensor rsqrt() { return Ops.unary(UnaryOp.RSQRT, this); }
    public Tensor abs() { return Ops.unary(UnaryOp.ABS, this); }
    public Tensor tanh() { return Ops.unary(UnaryOp.TANH, this); }
    public Tensor sigmoid() { return Ops.unary(UnaryOp.SIGMOID, this); }
    public Tensor relu() { return Ops.unary(UnaryOp.RELU, this); }
    public Tensor silu() { return Ops.unary(UnaryOp.SILU, this); }
    /** GELU, exact (erf) form. */
    public Tensor gelu() { return Ops.unary(UnaryOp.GELU, this); }
    /** GELU, tanh approximation. */
    public Tensor geluTanh() { return Ops.unary(UnaryOp.GELU_TANH, this); }
    public Tensor quickGelu() { return Ops.unary(UnaryOp.QUICK_GELU, this); }
    public Tensor sin() { return Ops.unary(UnaryOp.SIN, this); }
    public Tensor cos() { return Ops.unary(UnaryOp.COS, this); }
    public Tensor reciprocal() { return Ops.unary(UnaryOp.RECIPROCAL, this); }
    public Tensor square() { return Ops.unary(UnaryOp.SQUARE, this); }
    public Tensor sign() { return Ops.unary(UnaryOp.SIGN, this); }

    /** cond ? a : b, broadcasting. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return Ops.where(cond, a, b); }

    /** this where mask is false, value where it is true. */
    public Tensor maskedFill(Tensor mask, double value) { return Ops.maskedFill(this, mask, value); }

    // in place (no autograd through them; for optimizers and buffers)
    public Tensor add_(Tensor o) { return Ops.inplaceBinary(BinaryOp.ADD, this, o); }
    public Tensor sub_(Tensor o) { return Ops.inplaceBinary(BinaryOp.SUB, this, o); }
    public Tensor mul_(Tensor o) { return Ops.inplaceBinary(BinaryOp.MUL, this, o); }
    public Tensor div_(Tensor o) { return Ops.inplaceBinary(BinaryOp.DIV, this, o); }
    public Tensor mul_(double s) { return Ops.inplaceUnary(UnaryOp.AFFINE, this, s, 0); }
    public Tensor add_(double s) { return Ops.inplaceUnary(UnaryOp.AFFINE, this, 1, s); }
    public Tensor clamp_(double min, double max) { return Ops.inplaceUnary(UnaryOp.CLAMP, this, min, max); }
    public Tensor fill_(double v) { return Ops.fill_(this, v); }
    public Tensor zero_() { return fill_(0); }
    /** Copies src (broadcast to this shape, any dtype and device) into this. */
    public Tensor copy_(Tensor src) { return Ops.copy_(this, src); }

    // =========================================================================================
    // reductions
    // =========================================================================================

    public Tensor sum() { return Ops.reduce(ReduceOp.SUM, this, null, false); }
    public Tensor sum(int dim, boolean keepdim) { return Ops.reduce(ReduceOp.SUM, this, new int[] {dim}, keepdim); }
    public Tensor sum(int[] dims, boolean keepdim) { return Ops.reduce(ReduceOp.SUM, this, dims, keepdim); }
    public Tensor mean() { return Ops.reduce(ReduceOp.MEAN, this, null, false); }
    public Tensor mean(int dim, boolean keepdim) { return Ops.reduce(ReduceOp.MEAN, this, new int[] {dim}, keepdim); }
    public Tensor mean(int[] dims, boolean keepdim) { return Ops.reduce(ReduceOp.MEAN, this, dims, keepdim); }
    public Tensor max() { return Ops.reduce(ReduceOp.MAX, this, null, false); }
    public Tensor max(int dim, boolean keepdim) { return Ops.reduce(ReduceOp.MAX, this, new int[] {dim}, keepdim); }
    public Tensor min() { return Ops.reduce(ReduceOp.MIN, this, null, false); }
    public Tensor min(int dim, boolean keepdim) { return Ops.reduce(ReduceOp.MIN, this, new int[] {dim}, keepdim); }
    public Tensor argmax(int dim, boolean keepdim) { return Ops.argReduce(true, this, dim, keepdim); }
    public Tensor argmin(int dim, boolean keepdim) { return Ops.argReduce(false, this, dim, keepdim); }
    /** Index of the maximum of the flattened tensor. */
    public Tensor argmax() {
        try (Tensor f = flatten()) {
            return Ops.argReduce(true, f, 0, false);
        }
    }
    /** Variance over dim (unbiased with correction 1 like torch.var, or 0). */
    public Tensor var(int dim, boolean keepdim, int correction) { return Ops.var(this, new int[] {dim}, keepdim, correction); }
    public Tensor var(int[] dims, boolean keepdim, int correction) { return Ops.var(this, dims, keepdim, correction); }
    public Tensor softmax(int dim) { return Ops.softmax(this, dim, false); }
    public Tensor logSoftmax(int dim) { return Ops.softmax(this, dim, true); }
    /** Sum of squares of all elements, in F32 (F64 for F64). */
    public Tensor normSquared() {
        try (Tensor sq = square()) {
            return sq.sum();
        }
    }

    // =========================================================================================
    // matmul, indexing, joining
    // =========================================================================================

    /** Matrix product with NumPy/PyTorch rules (1-D, 2-D, batched with broadcast batch dims). */
    public Tensor matmul(Tensor o) { return Ops.matmul(this, o); }

    public Tensor indexSelect(int dim, Tensor index) { return Ops.indexSelect(this, dim, index); }
    public Tensor gather(int dim, Tensor index) { return Ops.gather(this, dim, index); }
    /** A copy of this with src added at index along dim (out-of-place scatter_add). */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) { return Ops.scatterAdd(this, dim, index, src); }
    /** In-place index_add_ (no autograd). */
    public Tensor indexAdd_(int dim, Tensor index, Tensor src) { return Ops.indexAdd_(this, dim, index, src); }
    public Tensor oneHot(int numClasses) { return Ops.oneHot(this, numClasses); }

    public static Tensor cat(List<Tensor> ts, int dim) { return Ops.cat(ts.toArray(new Tensor[0]), dim); }
    public static Tensor cat(int dim, Tensor... ts) { return Ops.cat(ts, dim); }
    public static Tensor stack(List<Tensor> ts, int dim) { return Ops.stack(ts.toArray(new Tensor[0]), dim); }
    public static Tensor stack(int dim, Tensor... ts) { return Ops.stack(ts, dim); }
    /** Pieces of the given size along dim (the last may be smaller); views. */
    public Tensor[] split(int splitSize, int dim) { return Ops.split(this, splitSize, dim); }
    /** Pieces of the given sizes along dim; views. */
    public Tensor[] split(int[] sizes, int dim) { return Ops.splitSizes(this, sizes, dim); }
    public Tensor[] chunk(int chunks, int dim) {
        int n = size(dim);
        return split((n + chunks - 1) / chunks, dim);
    }

    // =========================================================================================
    // printing
    // =========================================================================================

    @Override
    public String toString() {
        if (closed) return "tensor(<closed>, shape=" + Arrays.toString(shape) + ", dtype=" + dtype() + ")";
        return TensorFormat.format(this);
    }
}
