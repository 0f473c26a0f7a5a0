package llava.core.cpu;

import llava.core.DType;
import llava.core.Tensor;

/**
 * A float window on the rows of a rows-layout tensor for the F32 kernels: an F32 tensor is read
 * and written in place (no copy), other dtypes are widened into (and rounded back from) a
 * scratch row. One instance per worker thread.
 */
final class FloatRows {
    private final Object arr;
    private final DType dt;
    private final int base, cols;
    private final float[] scratch;

    /** The array holding the current row, and the row's offset in it. */
    float[] a;
    int off;

    /** cols: the row length, or the largest chunk for the element-range methods. */
    FloatRows(Tensor t, int cols) {
        this.arr = CpuBackend.arr(t);
        this.dt = t.dtype();
        this.base = t.offset();
        this.cols = cols;
        this.scratch = dt == DType.F32 ? null : new float[cols];
    }

    /** Points at row r for reading. */
    FloatRows load(int r) { return loadAt(r * cols, cols); }

    /** Points at elements [start, start + n) for reading, n <= cols. */
    FloatRows loadAt(int start, int n) {
        if (scratch == null) {
            a = (float[]) arr;
            off = base + start;
        } else {
            Access.loadF(arr, dt, base + start, 1, n, scratch, 0);
            a = scratch;
            off = 0;
        }
        return this;
    }

    /** Points at row r for writing (call {@link #store} when done). */
    FloatRows target(int r) { return targetAt(r * cols); }

    /** Points at elements from start for writing (call {@link #storeAt} when done). */
    FloatRows targetAt(int start) {
        if (scratch == null) {
            a = (float[]) arr;
            off = base + start;
        } else {
            a = scratch;
            off = 0;
        }
        return this;
    }

    /** Rounds the scratch row into row r (nothing to do for F32). */
    void store(int r) { storeAt(r * cols, cols); }

    /** Rounds the first n scratch values into elements [start, start + n) (nothing to do for F32). */
    void storeAt(int start, int n) {
        if (scratch != null) Access.storeF(scratch, 0, n, arr, dt, base + start, 1);
    }

    /** A whole small contiguous tensor (a weight or bias vector) as floats; null stays null. */
    static float[] all(Tensor t) {
        if (t == null) return null;
        float[] v = new float[t.numel()];
        Access.loadF(CpuBackend.arr(t), t.dtype(), t.offset(), 1, v.length, v, 0);
        return v;
    }
}
