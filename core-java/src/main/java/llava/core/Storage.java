package llava.core;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A flat buffer of elements of one dtype on one device, shared by the tensors (views) that
 * reference it. Reference counted: every tensor handle and every tensor saved for backward holds
 * one reference; the memory is freed when the last one is released, never by the garbage collector.
 */
public abstract class Storage {
    private final DType dtype;
    private final long numel;
    private final AtomicInteger refs = new AtomicInteger(0);
    private volatile boolean freed;

    protected Storage(DType dtype, long numel) {
        this.dtype = dtype;
        this.numel = numel;
    }

    public final DType dtype() { return dtype; }
    public final long numel() { return numel; }
    public final long nbytes() { return numel * dtype.byteSize(); }
    public abstract Device device();

    public final void retain() {
        if (freed) throw new IllegalStateException("storage already freed");
        refs.incrementAndGet();
    }

    public final void release() {
        int r = refs.decrementAndGet();
        if (r == 0) {
            freed = true;
            free();
        } else if (r < 0) {
            throw new IllegalStateException("storage released more often than retained");
        }
    }

    public final int refCount() { return refs.get(); }
    public final boolean isFreed() { return freed; }

    /** Returns the memory to the device's allocator. Called once, when the last reference goes. */
    protected abstract void free();

    /**
     * Copies {@code count} elements starting at element {@code offset} into a Java array of the
     * storage's host type (float[] for F32, double[] for F64, short[] for BF16/F16, long[] for I64,
     * int[] for I32, byte[] for U8/BOOL) at {@code dstOffset}.
     */
    public abstract void copyToHost(long offset, long count, Object dst, int dstOffset);

    /** Inverse of {@link #copyToHost}. */
    public abstract void copyFromHost(Object src, int srcOffset, long offset, long count);

    /** A new host array of the right type for {@code n} elements of {@code dtype}. */
    public static Object newHostArray(DType dtype, int n) {
        return switch (dtype) {
            case F64 -> new double[n];
            case F32 -> new float[n];
            case BF16, F16 -> new short[n];
            case I64 -> new long[n];
            case I32 -> new int[n];
            case U8, BOOL -> new byte[n];
        };
    }
}
