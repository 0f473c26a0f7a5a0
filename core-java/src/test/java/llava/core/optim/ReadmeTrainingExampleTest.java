package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.demo.DigitTask;
import llava.core.demo.TinyTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training-step example of README.md, kept compiling and running. */
class ReadmeTrainingExampleTest {
    @Test void readmeTrainingLoopRuns(@TempDir java.nio.file.Path dir) throws java.io.IOException {
        DigitTask task = new DigitTask(DigitTask.Kind.COPY, 3);
        DigitTask.Batch b = task.trainingBatch(new Generator(1), 4, java.util.Set.of());
        int totalSteps = 3;
        try (Scope outer = Scope.open();
             TinyTransformer model = new TinyTransformer(new TinyTransformer.Config(DigitTask.VOCAB, 16, 1, 2, 32, true, 1e-5, 1e4),
                 DType.BF16, Device.CPU, new Generator(0))) {
            Tensor ids = Tensor.of(b.ids(), b.batch(), b.length()), targets = Tensor.of(b.targets(), b.batch(), b.length());
            AdamW opt = new AdamW(ParamGroup.decayAndNoDecay(model, 3e-4, 0.01), 0.9, 0.999, 1e-8);
            long warmup = LrSchedule.warmupSteps(totalSteps, 0, 0.03);
            LrScheduler sched = new LrScheduler(opt, LrSchedule.cosineWithWarmup(warmup, totalSteps));
            double norm = 0;
            for (int step = 0; step < totalSteps; step++) {
                try (Scope s = Scope.open()) {
                    model.loss(ids, targets).backward();
                }
                norm = GradClip.clipGradNorm(model.trainableParameters(), 1.0);
                opt.step();
                sched.step();
                opt.zeroGrad();
            }
            try (OptimizerState st = opt.stateDict()) {
                st.save(dir.resolve("optimizer.safetensors"));
            }
            try (OptimizerState back = OptimizerState.load(dir.resolve("optimizer.safetensors"))) {
                assertTrue(back.tensors().containsKey("state.embed_tokens.weight.master"));
            }
            assertTrue(norm > 0);
            opt.close();
        }
    }
}
