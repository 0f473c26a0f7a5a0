package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorApiTest {

    @Test void creationAndSeededRandomness() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new long[] {0, 1, 2, 3}, Tensor.arange(4).toLongArray());
            assertArrayEquals(new float[] {1, 0, 0, 1}, Tensor.eye(2, DType.F32, Device.CPU).toFloatArray());
            assertArrayEquals(new float[] {7, 7}, Tensor.full(7, DType.F32, Device.CPU, 2).toFloatArray());
            float[] a = Tensor.randn(new Generator(3), 100).toFloatArray();
            float[] b = Tensor.randn(new Generator(3), 100).toFloatArray();
            assertArrayEquals(a, b);
            double mean = 0;
            float[] big = Tensor.randn(new Generator(5), 20000).toFloatArray();
            for (float v : big) mean += v / big.length;
            assertEquals(0, mean, 0.03);
            float[] u = Tensor.rand(new Generator(1), DType.F32, Device.CPU, 1000).toFloatArray();
            for (float v : u) assertTrue(v >= 0 && v < 1);
        }
    }

    @Test void viewsShareStorageAndCopyNothing() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.arange(0, 12, 1, DType.F32, Device.CPU).reshape(3, 4);
            Tensor t = x.t();
            assertFalse(t.isContiguous());
            assertEquals(x.storage(), t.storage());
            assertEquals(6.0, t.get(2, 1));
            Tensor n = x.narrow(1, 1, 2);
            assertArrayEquals(new float[] {1, 2, 5, 6, 9, 10}, n.contiguous().toFloatArray());
            Tensor sel = x.select(0, -1);
            assertArrayEquals(new float[] {8, 9, 10, 11}, sel.toFloatArray());
            Tensor e = Tensor.of(new float[] {1, 2}, 2, 1).expand(2, 3);
            assertArrayEquals(new int[] {0, 0}, new int[] {e.stride(1), 0});
            assertArrayEquals(new float[] {1, 1, 1, 2, 2, 2}, e.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> t.view(12));
            assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, t.reshape(12).toFloatArray());
            Tensor sl = x.slice(1, 0, 4, 2);
            assertArrayEquals(new float[] {0, 2, 4, 6, 8, 10}, sl.toFloatArray());
            assertArrayEquals(new int[] {3, 1, 4}, x.unsqueeze(1).shape());
            assertArrayEquals(new int[] {12}, x.flatten().shape());
            Tensor[] parts = x.chunk(2, 1);
            assertEquals(2, parts.length);
            assertArrayEquals(new float[] {2, 3, 6, 7, 10, 11}, parts[1].toFloatArray());
        }
    }

    @Test void broadcastingAndClearErrors() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2, 3}, 3, 1);
            Tensor b = Tensor.of(new float[] {10, 20}, 2);
            assertArrayEquals(new float[] {11, 21, 12, 22, 13, 23}, a.add(b).toFloatArray());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(3, 4).add(Tensor.zeros(5)));
            assertTrue(e.getMessage().contains("add") && e.getMessage().contains("[3, 4]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3, 4).matmul(Tensor.zeros(5, 2)));
            assertTrue(e.getMessage().contains("matmul"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> F.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 5), null));
            assertTrue(e.getMessage().contains("linear"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> Tensor.zeros(3, 2).indexSelect(0, Tensor.of(new long[] {3}, 1)));
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2).requiresGrad(true).to(DType.I64).requiresGrad(true));
        }
    }

    @Test void comparisonsWhereAndIndexing() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {-1, 0, 2, 5}, 4);
            assertArrayEquals(new boolean[] {false, false, true, true}, x.gt(0).toBooleanArray());
            assertArrayEquals(new float[] {0, 0, 2, 5}, Tensor.where(x.gt(0), x, Tensor.zeros(1)).toFloatArray());
            assertArrayEquals(new float[] {-1, 9, 2, 9}, x.maskedFill(Tensor.of(new boolean[] {false, true, false, true}, 4), 9).toFloatArray());
            assertArrayEquals(new long[] {1, 0, 0, 0, 1, 0}, Tensor.of(new long[] {0, 1}, 2).oneHot(3).toLongArray());
            Tensor emb = Tensor.arange(0, 6, 1, DType.F32, Device.CPU).reshape(3, 2);
            assertArrayEquals(new float[] {4, 5, 0, 1}, F.embedding(emb, Tensor.of(new long[] {2, 0}, 2)).toFloatArray());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 10, 11}, Tensor.cat(0, emb, Tensor.of(new float[] {10, 11}, 1, 2)).toFloatArray());
            assertEquals(1, Tensor.of(new float[] {1, 9, 3, 9}, 4).argmax().toLongArray()[0], "first maximum wins");
            Tensor t = Tensor.zeros(3);
            t.indexAdd_(0, Tensor.of(new long[] {0, 0, 2}, 3), Tensor.of(new float[] {1, 2, 3}, 3));
            assertArrayEquals(new float[] {3, 0, 3}, t.toFloatArray());
        }
    }

    @Test void fromNioBuffers() {
        try (Scope s = Scope.open()) {
            java.nio.FloatBuffer fb = java.nio.FloatBuffer.wrap(new float[] {9, 1, 2, 3, 4});
            fb.position(1);
            assertArrayEquals(new float[] {1, 2, 3, 4}, Tensor.fromBuffer(fb, DType.F32, 2, 2).toFloatArray());
            assertEquals(1, fb.position(), "the buffer is not consumed");
            java.nio.ShortBuffer sb = java.nio.ShortBuffer.wrap(new short[] {Half.floatToBf16(1.5f)});
            assertEquals(1.5, Tensor.fromBuffer(sb, DType.BF16, 1).item());
            assertThrows(IllegalArgumentException.class, () -> Tensor.fromBuffer(fb, DType.I64, 4));
        }
    }

    @Test void emptyDimensions() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[12], Tensor.zeros(3, 0).matmul(Tensor.zeros(0, 4)).toFloatArray(), "K = 0 gives zeros");
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, F.linear(Tensor.zeros(2, 0), Tensor.zeros(3, 0), Tensor.ones(3)).toFloatArray(),
                "a Linear with no inputs returns its bias");
            assertArrayEquals(new float[5], Tensor.zeros(0, 5).sum(0, false).toFloatArray());
            assertArrayEquals(new int[] {0, 4}, Tensor.zeros(0, 3).matmul(Tensor.zeros(3, 4)).shape());
        }
    }

    @Test void toStringLooksLikePyTorch() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2.5f, -3, 4}, 2, 2);
            assertEquals("tensor([[1.0000, 2.5000],\n        [-3.0000, 4.0000]], shape=[2, 2], dtype=f32)", x.toString());
            Tensor r = Tensor.of(new float[] {1}, 1).requiresGrad(true);
            assertTrue(r.mul(2).toString().contains("grad_fn=<MulBackward>"), r.mul(2).toString());
            String big = Tensor.zeros(100, 100).toString();
            assertTrue(big.contains("...") && big.contains("shape=[100, 100]") && big.length() < 600, big);
            assertEquals("tensor(3, shape=[], dtype=i64)", Tensor.of(new long[] {3}).reshape().toString());
        }
    }

    @Test void closedTensorsFailLoudlyAndScopesFreeStorage() {
        Tensor kept;
        Storage inner;
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(4);
            inner = a.mul(2).storage();
            kept = s.keep(a.add(1));
        }
        assertTrue(inner.isFreed());
        assertArrayEquals(new float[] {2, 2, 2, 2}, kept.toFloatArray());
        kept.close();
        assertTrue(kept.isClosed());
        assertThrows(IllegalStateException.class, kept::toFloatArray);
    }

    @Test void viewsKeepStorageAliveAfterTheBaseIsClosed() {
        Tensor base = Tensor.arange(0, 6, 1, DType.F32, Device.CPU);
        Tensor v = base.narrow(0, 2, 2);
        base.close();
        assertFalse(v.storage().isFreed());
        assertArrayEquals(new float[] {2, 3}, v.toFloatArray());
        Storage st = v.storage();
        v.close();
        assertTrue(st.isFreed());
    }
}
