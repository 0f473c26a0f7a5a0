package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.demo.DigitTask;
import llava.core.demo.TinyTransformer;
import org.junit.jupiter.api.Test;

/**
 * Repeated forward + backward + clipping + optimizer step must not grow memory: live CPU bytes
 * are identical after every step from the second on (the first creates the optimizer state and
 * F32 masters). Checked both with gradients alive (after backward) and after zeroGrad.
 */
class TrainingMemoryTest {

    private static long live() {
        return Backends.cpu().memoryStats(Device.CPU).allocated();
    }

    private static void trainingStepsKeepMemoryFlat(DType dtype) {
        TinyTransformer.Config c = new TinyTransformer.Config(DigitTask.VOCAB, 32, 2, 4, 64, false, 1e-5, 10000);
        DigitTask task = new DigitTask(DigitTask.Kind.SORT, 5);
        Generator data = new Generator(8);
        long before = live();
        int steps = 8;
        long[] afterBackward = new long[steps], afterStep = new long[steps];
        try (TinyTransformer model = new TinyTransformer(c, dtype, Device.CPU, new Generator(7));
             AdamW opt = new AdamW(ParamGroup.decayAndNoDecay(model, 1e-3, 0.01), 0.9, 0.999, 1e-8)) {
            LrScheduler sched = new LrScheduler(opt, LrSchedule.cosineWithWarmup(2, steps));
            for (int i = 0; i < steps; i++) {
                DigitTask.Batch b = task.trainingBatch(data, 8, java.util.Set.of());
                try (Scope s = Scope.open()) {
                    Tensor loss = model.loss(Tensor.of(b.ids(), b.batch(), b.length()), Tensor.of(b.targets(), b.batch(), b.length()));
                    loss.backward();
                }
                afterBackward[i] = live();
                GradClip.clipGradNorm(model.trainableParameters(), 0.5);
                opt.step();
                sched.step();
                opt.zeroGrad();
                afterStep[i] = live();
            }
        }
        System.out.printf("%s live bytes after backward %s, after step %s%n", dtype, Arrays.toString(afterBackward),
            Arrays.toString(afterStep));
        for (int i = 2; i < steps; i++) {
            assertEquals(afterBackward[1], afterBackward[i], dtype + ": live bytes after backward grew at step " + (i + 1)
                + ": " + Arrays.toString(afterBackward));
            assertEquals(afterStep[1], afterStep[i], dtype + ": live bytes after the step grew at step " + (i + 1)
                + ": " + Arrays.toString(afterStep));
        }
        assertTrue(afterStep[0] > before, "the model and optimizer state are counted");
        assertEquals(before, live(), dtype + ": closing the model and the optimizer frees everything");
    }

    @Test void f32TrainingStepsKeepMemoryFlat() { trainingStepsKeepMemoryFlat(DType.F32); }

    @Test void bf16TrainingWithMastersKeepsMemoryFlat() { trainingStepsKeepMemoryFlat(DType.BF16); }
}
