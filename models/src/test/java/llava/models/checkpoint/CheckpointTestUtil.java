package llava.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.HashSet;
import llava.core.Tensor;
import llava.core.io.TensorSource;

final class CheckpointTestUtil {
    private CheckpointTestUtil() {}

    /** Same dtype, shape and bit patterns (raw host arrays compared element by element). */
    static void assertSameTensor(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        Object e = expected.toHostArray(), a = actual.toHostArray();
        switch (expected.dtype()) {
            case F64 -> {
                double[] x = (double[]) e, y = (double[]) a;
                for (int i = 0; i < x.length; i++) assertEquals(Double.doubleToRawLongBits(x[i]), Double.doubleToRawLongBits(y[i]), what + " [" + i + "]");
            }
            case F32 -> {
                float[] x = (float[]) e, y = (float[]) a;
                for (int i = 0; i < x.length; i++) assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), what + " [" + i + "]");
            }
            case BF16, F16 -> assertArrayEquals((short[]) e, (short[]) a, what);
            case I64 -> assertArrayEquals((long[]) e, (long[]) a, what);
            case I32 -> assertArrayEquals((int[]) e, (int[]) a, what);
            case U8, BOOL -> assertArrayEquals((byte[]) e, (byte[]) a, what);
        }
    }

    /** Both sources hold the same names with identical tensors; returns how many were compared. */
    static int assertSameTensors(TensorSource expected, TensorSource actual) throws IOException {
        assertEquals(new HashSet<>(expected.keys()), new HashSet<>(actual.keys()), "tensor names of " + actual.describe());
        for (String k : expected.keys()) {
            try (Tensor e = expected.load(k); Tensor a = actual.load(k)) {
                assertSameTensor(e, a, k);
            }
        }
        return expected.keys().size();
    }
}
