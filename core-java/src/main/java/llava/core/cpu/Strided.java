package llava.core.cpu;

import llava.core.Tensor;

/**
 * Iteration over k operands of one shape with arbitrary strides. Dimensions are coalesced where
 * every operand allows it, so contiguous operands become one long run; the body then sees blocks
 * of up to {@link #BLOCK} elements with one start offset and one increment per operand.
 */
final class Strided {
    static final int BLOCK = 1024;

    @FunctionalInterface
    interface Body {
        /** n elements; operand k's elements are at offs[k] + i * incs[k], i < n. */
        void block(int n, int[] offs, int[] incs);
    }

    final int[] shape;      // coalesced, rank >= 1
    final int[][] strides;  // [operand][dim]
    final int[] base;
    final int numel;

    private Strided(int[] shape, int[][] strides, int[] base, int numel) {
        this.shape = shape;
        this.strides = strides;
        this.base = base;
        this.numel = numel;
    }

    static Strided of(Tensor... ts) {
        int[] shape = ts[0].shape();
        int[][] st = new int[ts.length][];
        int[] base = new int[ts.length];
        for (int k = 0; k < ts.length; k++) {
            st[k] = ts[k].strides();
            base[k] = ts[k].offset();
        }
        return of(shape, st, base);
    }

    static Strided of(int[] shape, int[][] strides, int[] base) {
        int k = strides.length;
        int n = 1;
        for (int s : shape) n *= s;
        // drop size-1 dims, then merge neighbours that are contiguous for every operand
        int[] cs = new int[Math.max(shape.length, 1)];
        int[][] cst = new int[k][Math.max(shape.length, 1)];
        int r = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (r > 0) {
                boolean merge = true;
                for (int o = 0; o < k; o++) {
                    if (cst[o][r - 1] != strides[o][d] * shape[d]) {
                        merge = false;
                        break;
                    }
                }
                if (merge) {
                    cs[r - 1] *= shape[d];
                    for (int o = 0; o < k; o++) cst[o][r - 1] = strides[o][d];
                    continue;
                }
            }
            cs[r] = shape[d];
            for (int o = 0; o < k; o++) cst[o][r] = strides[o][d];
            r++;
        }
        if (r == 0) { // scalar or all size-1
            cs[0] = 1;
            for (int o = 0; o < k; o++) cst[o][0] = 1;
            r = 1;
        }
        int[] fs = java.util.Arrays.copyOf(cs, r);
        int[][] fst = new int[k][];
        for (int o = 0; o < k; o++) fst[o] = java.util.Arrays.copyOf(cst[o], r);
        return new Strided(fs, fst, base.clone(), n);
    }

    /** Runs body over all elements, splitting the work over cores when parallel. */
    void forEach(boolean parallel, Body body) {
        if (numel == 0) return;
        if (parallel && numel >= 1 << 15) {
            Parallel.forRange(numel, 1 << 14, (s, e) -> range(s, e, body));
        } else {
            range(0, numel, body);
        }
    }

    /** Elements [start, end) in row-major order of the coalesced shape. */
    void range(int start, int end, Body body) {
        int r = shape.length, k = base.length;
        int[] idx = new int[r];
        int rem = start;
        for (int d = r - 1; d >= 0; d--) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        int[] offs = new int[k], incs = new int[k], cur = new int[k];
        for (int o = 0; o < k; o++) incs[o] = strides[o][r - 1];
        int pos = start;
        int last = shape[r - 1];
        while (pos < end) {
            for (int o = 0; o < k; o++) {
                int off = base[o];
                for (int d = 0; d < r; d++) off += idx[d] * strides[o][d];
                cur[o] = off;
            }
            int rowLeft = Math.min(last - idx[r - 1], end - pos);
            while (rowLeft > 0) {
                int m = Math.min(rowLeft, BLOCK);
                System.arraycopy(cur, 0, offs, 0, k);
                body.block(m, offs, incs);
                for (int o = 0; o < k; o++) cur[o] += m * incs[o];
                rowLeft -= m;
                pos += m;
                idx[r - 1] += m;
            }
            // carry
            for (int d = r - 1; d > 0 && idx[d] >= shape[d]; d--) {
                idx[d] = 0;
                idx[d - 1]++;
            }
        }
    }
}
