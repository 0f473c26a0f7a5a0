package llava.core.cpu;

import llava.core.DType;

/** A 2-D matrix inside a storage array: element (i, j) is at off + i * rs + j * cs. */
record Operand(Object arr, DType dt, int off, int rs, int cs) {

    Operand at(int offset) { return new Operand(arr, dt, offset, rs, cs); }

    /** The same matrix viewed transposed. */
    Operand t() { return new Operand(arr, dt, off, cs, rs); }

    /** Row i, columns [j0, j0 + n) as floats into dst[dstOff..). */
    void loadRow(int i, int j0, int n, float[] dst, int dstOff) {
        Access.loadF(arr, dt, off + i * rs + j0 * cs, cs, n, dst, dstOff);
    }

    /**
     * Copies the block rows [i0, i0 + m) x columns [j0, j0 + n) as floats into dst, element (i, j)
     * at dstOff + (i - i0) * rowInc + (j - j0) * colInc, choosing the loop order that reads the
     * source contiguously.
     */
    void loadBlock(int i0, int m, int j0, int n, float[] dst, int dstOff, int rowInc, int colInc) {
        if (rs == 1 && cs != 1) { // columns are contiguous: read column by column
            for (int j = 0; j < n; j++) Access.loadF(arr, dt, off + i0 + (j0 + j) * cs, 1, m, dst, dstOff + j * colInc, rowInc);
        } else {
            for (int i = 0; i < m; i++) Access.loadF(arr, dt, off + (i0 + i) * rs + j0 * cs, cs, n, dst, dstOff + i * rowInc, colInc);
        }
    }
}
