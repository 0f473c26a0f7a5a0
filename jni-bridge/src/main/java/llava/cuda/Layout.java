package llava.cuda;

import java.util.Arrays;

/**
 * Index-space arithmetic done in Java before a kernel launch (pure functions, unit-tested without
 * a GPU): merging dimensions so strided kernels see the smallest rank, splitting what still exceeds
 * the kernels' {@link LlavaKernels#LLAVA_MAX_DIMS}, and canonical matrix strides for GEMM.
 */
final class Layout {
    private Layout() {}

    /** An iteration space: a shape and, per operand, its strides (elements). Rank >= 1. */
    record Iter(long[] shape, long[][] strides, int[] kinds) {
        Iter(long[] shape, long[][] strides) {
            this(shape, strides, new int[shape.length]);
        }

        int rank() { return shape.length; }

        /** The leading dimensions (all but the last), as their own space; [1] when there are none. */
        Iter withoutLast() {
            int r = shape.length - 1;
            if (r == 0) return new Iter(new long[] {1}, filled(strides.length, 0));
            long[][] st = new long[strides.length][];
            for (int o = 0; o < st.length; o++) st[o] = Arrays.copyOf(strides[o], r);
            return new Iter(Arrays.copyOf(shape, r), st, Arrays.copyOf(kinds, r));
        }

        @Override public String toString() {
            StringBuilder sb = new StringBuilder("Iter" + Arrays.toString(shape));
            for (long[] s : strides) sb.append(' ').append(Arrays.toString(s));
            return sb.toString();
        }
    }

    /**
     * Merges the dimensions of same-shaped operands: size-1 dimensions are dropped, and a
     * dimension merges into the one outside it when every operand steps through both as through
     * one (outer stride == inner stride * inner size). {@code kind} (nullable) keeps dimensions of
     * different kinds apart (reduced vs kept). The result has rank >= 1 ([1] for a single element);
     * a shape with a 0 gives [0].
     */
    static Iter coalesceKinds(int[] shape, int[] kind, int[]... strides) {
        int ops = strides.length;
        for (int[] s : strides) {
            if (s.length != shape.length) {
                throw new IllegalArgumentException("strides " + Arrays.toString(s) + " do not match shape " + Arrays.toString(shape));
            }
        }
        for (int s : shape) {
            if (s == 0) return new Iter(new long[] {0}, filled(ops, 0), new int[1]);
        }
        long[] rs = new long[shape.length];
        long[][] rst = new long[ops][shape.length];
        int[] rk = new int[shape.length];
        int n = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            int k = kind == null ? 0 : kind[d];
            if (n > 0 && rk[n - 1] == k && mergeable(rst, n - 1, strides, d, shape[d])) {
                rs[n - 1] *= shape[d];
                for (int o = 0; o < ops; o++) rst[o][n - 1] = strides[o][d];
            } else {
                rs[n] = shape[d];
                rk[n] = k;
                for (int o = 0; o < ops; o++) rst[o][n] = strides[o][d];
                n++;
            }
        }
        if (n == 0) return new Iter(new long[] {1}, filled(ops, 1), new int[1]);
        long[][] out = new long[ops][];
        for (int o = 0; o < ops; o++) out[o] = Arrays.copyOf(rst[o], n);
        return new Iter(Arrays.copyOf(rs, n), out, Arrays.copyOf(rk, n));
    }

    static Iter coalesce(int[] shape, int[]... strides) {
        return coalesceKinds(shape, null, strides);
    }

    private static boolean mergeable(long[][] rst, int outer, int[][] strides, int inner, int innerSize) {
        for (int o = 0; o < strides.length; o++) {
            if (rst[o][outer] != (long) strides[o][inner] * innerSize) return false;
        }
        return true;
    }

    private static long[][] filled(int ops, long stride) {
        long[][] s = new long[ops][1];
        for (long[] x : s) x[0] = stride;
        return s;
    }

    /** Receives one kernel-sized piece of an iteration space: element offsets per operand and the piece. */
    interface PieceConsumer {
        void accept(long[] offsets, Iter piece);
    }

    /**
     * Calls {@code body} once per index of the leading dimensions that exceed {@code maxRank}, with
     * the trailing {@code maxRank} dimensions as the piece (once, with zero offsets, when the rank
     * already fits).
     */
    static void forEachPiece(Iter it, int maxRank, PieceConsumer body) {
        int ops = it.strides().length;
        int r = it.rank();
        if (r <= maxRank) {
            body.accept(new long[ops], it);
            return;
        }
        int outer = r - maxRank;
        long[] innerShape = Arrays.copyOfRange(it.shape(), outer, r);
        long[][] innerStrides = new long[ops][];
        for (int o = 0; o < ops; o++) innerStrides[o] = Arrays.copyOfRange(it.strides()[o], outer, r);
        Iter piece = new Iter(innerShape, innerStrides, Arrays.copyOfRange(it.kinds(), outer, r));
        long[] idx = new long[outer];
        long count = 1;
        for (int d = 0; d < outer; d++) count *= it.shape()[d];
        for (long i = 0; i < count; i++) {
            long[] off = new long[ops];
            for (int o = 0; o < ops; o++) {
                for (int d = 0; d < outer; d++) off[o] += idx[d] * it.strides()[o][d];
            }
            body.accept(off, piece);
            for (int d = outer - 1; d >= 0; d--) {
                if (++idx[d] < it.shape()[d]) break;
                idx[d] = 0;
            }
        }
    }

    /**
     * Canonical strides {rowStride, colStride} of a rows x cols matrix for GEMM, with one of them 1
     * (row-major: colStride 1; column-major: rowStride 1), or null when neither can be 1. A size-1
     * dimension's stride is free, so it is chosen to make the matrix row-major (or, failing that,
     * column-major) with a leading dimension of at least the other extent.
     */
    static long[] matrixStrides(long rows, long cols, long rs, long cs) {
        if (cols == 1 && rows == 1) return new long[] {1, 1};
        if (cols == 1) return new long[] {rs, 1};          // a column: row-major with ld = rs
        if (rows == 1) return cs == 1 ? new long[] {cols, 1} : new long[] {1, cs};
        if (cs == 1) return new long[] {rs, 1};
        if (rs == 1) return new long[] {1, cs};
        return null;
    }

    static long[] toLong(int[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    static long product(int[] shape, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }
}
