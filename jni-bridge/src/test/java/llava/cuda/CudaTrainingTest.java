package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import llava.core.Backend;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A small training run (forward, backward, AdamW) of {@link TinyTransformer} on CUDA equals the
 * same run on the CPU within bf16 tolerance, and the CUDA allocator does not grow from step to step.
 */
@RequiresGpu
class CudaTrainingTest {
    static final int STEPS = 5;

    @ParameterizedTest(name = "training step {0}")
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void cudaTrainingMatchesCpu(DType dt) {
        Device gpu = Device.cuda(0);
        Backend cuda = Backends.get(gpu);
        double rtol = BackendConformance.tolerance(DType.BF16);
        try (TinyTransformer cpu = new TinyTransformer(Device.CPU, dt, 11);
             TinyTransformer dev = new TinyTransformer(gpu, dt, 11)) {
            List<Backend.MemoryStats> stats = new ArrayList<>();
            for (int s = 0; s < STEPS; s++) {
                double lc = cpu.step(), lg = dev.step();
                assertTrue(Double.isFinite(lg), "CUDA loss at step " + s + " is " + lg);
                assertEquals(lc, lg, rtol * Math.abs(lc), "loss at step " + s + " (" + dt + ")");
                stats.add(cuda.memoryStats(gpu));
            }
            for (int i = 0; i < cpu.masters().size(); i++) {
                BackendConformance.assertClose("weight " + i + " after " + STEPS + " steps (" + dt + ")",
                    cpu.masters().get(i), dev.masters().get(i), rtol);
            }
            // from the second step on (optimizer state exists), memory is flat
            for (int s = 2; s < STEPS; s++) {
                assertEquals(stats.get(1).allocated(), stats.get(s).allocated(), "allocated bytes after step " + s + ": " + stats);
                assertEquals(stats.get(1).reserved(), stats.get(s).reserved(), "reserved bytes after step " + s + ": " + stats);
            }
        }
    }
}
