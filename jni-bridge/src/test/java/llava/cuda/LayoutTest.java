package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The index arithmetic done before kernel launches (no GPU needed). */
class LayoutTest {
    @Test
    void contiguousOperandsMergeIntoOneDimension() {
        Layout.Iter it = Layout.coalesce(new int[] {2, 3, 4}, new int[] {12, 4, 1}, new int[] {12, 4, 1});
        assertArrayEquals(new long[] {24}, it.shape());
        assertArrayEquals(new long[] {1}, it.strides()[0]);
        assertArrayEquals(new long[] {1}, it.strides()[1]);
    }

    @Test
    void broadcastAndTransposedOperandsKeepTheirDimensions() {
        // out [4, 5] contiguous, a broadcast row (stride 0 over dim 0), b transposed
        Layout.Iter it = Layout.coalesce(new int[] {4, 5}, new int[] {5, 1}, new int[] {0, 1}, new int[] {1, 4});
        assertArrayEquals(new long[] {4, 5}, it.shape());
        assertArrayEquals(new long[] {0, 1}, it.strides()[1]);
        assertArrayEquals(new long[] {1, 4}, it.strides()[2]);
    }

    @Test
    void sizeOneDimensionsAreDroppedAndEmptyOrScalarShapesHaveRankOne() {
        Layout.Iter it = Layout.coalesce(new int[] {1, 6, 1, 2}, new int[] {99, 2, 77, 1});
        assertArrayEquals(new long[] {12}, it.shape());
        assertArrayEquals(new long[] {1}, it.strides()[0]);
        Layout.Iter scalar = Layout.coalesce(new int[] {}, new int[] {});
        assertArrayEquals(new long[] {1}, scalar.shape());
        Layout.Iter empty = Layout.coalesce(new int[] {3, 0, 2}, new int[] {0, 2, 1});
        assertArrayEquals(new long[] {0}, empty.shape());
    }

    @Test
    void kindsNeverMerge() {
        // reduce [2, 3, 4] over dims 1 and 2: out strides 0 on reduced dims
        Layout.Iter it = Layout.coalesceKinds(new int[] {2, 3, 4}, new int[] {0, 1, 1}, new int[] {12, 4, 1}, new int[] {1, 0, 0});
        assertArrayEquals(new long[] {2, 12}, it.shape());
        assertArrayEquals(new int[] {0, 1}, it.kinds());
        assertArrayEquals(new long[] {1, 0}, it.strides()[1]);
        // reducing the middle dim only: three groups
        Layout.Iter mid = Layout.coalesceKinds(new int[] {2, 3, 4}, new int[] {0, 1, 0}, new int[] {12, 4, 1}, new int[] {4, 0, 1});
        assertArrayEquals(new long[] {2, 3, 4}, mid.shape());
        assertArrayEquals(new int[] {0, 1, 0}, mid.kinds());
        // arg-reduce over the middle dim: the outputs' stride 0 on it survives merging (argReduce relies on it)
        Layout.Iter arg = Layout.coalesceKinds(new int[] {2, 3, 4}, new int[] {0, 1, 0}, new int[] {12, 4, 1},
            new int[] {4, 0, 1}, new int[] {4, 0, 1});
        assertArrayEquals(new long[] {4, 0, 1}, arg.strides()[1]);
        assertArrayEquals(new long[] {4, 0, 1}, arg.strides()[2]);
    }

    @Test
    void piecesCoverEveryElementOnceWhenTheRankExceedsTheKernelLimit() {
        // rank 10, permuted so that nothing merges
        int r = 10;
        int[] shape = new int[r], strides = new int[r], outStrides = new int[r];
        int s = 1;
        for (int d = 0; d < r; d++) { // reversed strides: dim 0 fastest
            shape[d] = 2;
            strides[d] = s;
            s *= 2;
        }
        s = 1;
        for (int d = r - 1; d >= 0; d--) {
            outStrides[d] = s;
            s *= 2;
        }
        Layout.Iter it = Layout.coalesce(shape, outStrides, strides);
        assertEquals(10, it.rank());
        List<long[]> seen = new ArrayList<>();
        Layout.forEachPiece(it, 8, (off, piece) -> {
            assertEquals(8, piece.rank());
            seen.add(off);
        });
        assertEquals(4, seen.size());
        Set<Long> outOffsets = new HashSet<>(), inOffsets = new HashSet<>();
        for (long[] o : seen) {
            outOffsets.add(o[0]);
            inOffsets.add(o[1]);
        }
        assertEquals(Set.of(0L, 256L, 512L, 768L), outOffsets);
        assertEquals(Set.of(0L, 1L, 2L, 3L), inOffsets);
        // rank that fits: one piece, zero offsets
        List<long[]> one = new ArrayList<>();
        Layout.forEachPiece(Layout.coalesce(new int[] {3, 4}, new int[] {1, 3}), 8, (off, p) -> one.add(off));
        assertEquals(1, one.size());
        assertArrayEquals(new long[] {0}, one.get(0));
    }

    @Test
    void withoutLastDropsTheKernelBatchDimension() {
        Layout.Iter it = new Layout.Iter(new long[] {3, 4}, new long[][] {{10, 1}, {0, 2}});
        Layout.Iter outer = it.withoutLast();
        assertArrayEquals(new long[] {3}, outer.shape());
        assertArrayEquals(new long[] {10}, outer.strides()[0]);
        assertArrayEquals(new long[] {0}, outer.strides()[1]);
        Layout.Iter single = new Layout.Iter(new long[] {5}, new long[][] {{1}}).withoutLast();
        assertArrayEquals(new long[] {1}, single.shape());
        List<long[]> offs = new ArrayList<>();
        Layout.forEachPiece(single, 0, (off, p) -> offs.add(off));
        assertEquals(1, offs.size());
        assertArrayEquals(new long[] {0}, offs.get(0));
    }

    @Test
    void matrixStridesAreRowOrColumnMajor() {
        assertArrayEquals(new long[] {64, 1}, Layout.matrixStrides(8, 64, 64, 1));      // row-major
        assertArrayEquals(new long[] {1, 8}, Layout.matrixStrides(8, 64, 1, 8));        // transposed view
        assertArrayEquals(new long[] {64, 1}, Layout.matrixStrides(1, 64, 5, 1));       // one row: any row stride
        assertArrayEquals(new long[] {1, 3}, Layout.matrixStrides(1, 64, 5, 3));        // one row, strided: column-major
        assertArrayEquals(new long[] {7, 1}, Layout.matrixStrides(8, 1, 7, 99));        // one column
        assertArrayEquals(new long[] {1, 1}, Layout.matrixStrides(1, 1, 0, 0));
        assertNull(Layout.matrixStrides(8, 64, 128, 2));                                // neither stride 1
        assertEquals(true, Cublas.acceptsOperand(8, 64, 64, 1));
        assertEquals(false, Cublas.acceptsOperand(8, 64, 32, 1));                      // ld below the row length
        assertEquals(false, Cublas.acceptsOperand(8, 64, 0, 1));                       // broadcast rows
        assertEquals(true, Cublas.acceptsOperand(8, 64, 1, 8));
    }
}
