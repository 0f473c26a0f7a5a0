package llava.models.checkpoint;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.HashSet;
import llava.core.Tensor;
import llava.core.io.TensorSource;

final class CheckpointTestUtil {
    private CheckpointTestUtil() {}

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
