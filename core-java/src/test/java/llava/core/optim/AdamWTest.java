package llava.core.optim;

import static llava.core.optim.OptimTesting.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

class AdamWTest {

    /**
     * Fixture (e): torch.optim.AdamW (lr 2e-3, betas (0.9, 0.999), eps 1e-8, no decay), two steps on
     * LLaVA's projector; 1e-6 abs as the fixture README says.
     *
     * <p>The fixture file's weight tensors were saved without cloning: weight_before,
     * weight_after_step1 and weight_after_step2 all hold the weights after step 2, and
     * grad_*_step1 holds the step-2 gradient (torch 1.13 zeroes and refills .grad in place). So the
     * test starts from the checkpoint's projector (the weights before step 1), takes step 1 with
     * the pre-training gradients of grads_pretrain (which the README names as step 1's), step 2
     * with grad_*_step2, and compares the result with weight_after_step2. A fixture whose step-1
     * tensors differ from its final ones is also checked after step 1.
     */
    @Test void matchesTorchAdamWOnTheProjectorFixture() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(OptimTesting.resource("refs/adamw_projector.safetensors"));
             SafetensorsFile init = SafetensorsFile.open(OptimTesting.resource("tiny-llava-v1/mm_projector.safetensors"));
             SafetensorsFile pre = SafetensorsFile.open(OptimTesting.resource("refs/grads_pretrain.safetensors"));
             Scope s = Scope.open()) {
            boolean stepOneRecorded = maxAbsDiff(f.load("weight_after_step1").toFloatArray(),
                f.load("weight_after_step2").toFloatArray()) != 0;
            Tensor w = (stepOneRecorded ? f.load("weight_before") : init.load("model.mm_projector.weight", DType.F32, Device.CPU))
                .requiresGrad(true);
            Tensor b = (stepOneRecorded ? f.load("bias_before") : init.load("model.mm_projector.bias", DType.F32, Device.CPU))
                .requiresGrad(true);
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("mm_projector.weight", w);
            params.put("mm_projector.bias", b);
            try (AdamW opt = new AdamW(params, 2e-3, 0.9, 0.999, 1e-8, 0)) {
                for (int step = 1; step <= 2; step++) {
                    w.setGrad(step == 1 ? pre.load("mm_projector.weight") : f.load("grad_weight_step2"));
                    b.setGrad(step == 1 ? pre.load("mm_projector.bias") : f.load("grad_bias_step2"));
                    opt.step();
                    opt.zeroGrad();
                    if (step == 1 && !stepOneRecorded) continue;
                    double dw = maxAbsDiff(w.toFloatArray(), f.load("weight_after_step" + step).toFloatArray());
                    double db = maxAbsDiff(b.toFloatArray(), f.load("bias_after_step" + step).toFloatArray());
                    System.out.printf("adamw fixture step %d: max |dw| %.3g, max |db| %.3g%n", step, dw, db);
                    assertTrue(dw <= 1e-6, "weight after step " + step + " differs by " + dw);
                    assertTrue(db <= 1e-6, "bias after step " + step + " differs by " + db);
                }
                assertEquals(2, opt.stepCount());
            }
        }
    }

    /** The projector extract in test resources is the checkpoint's, byte for byte (when ../shared is here). */
    @Test void projectorExtractEqualsTheCheckpoint() throws Exception {
        java.nio.file.Path shared = java.nio.file.Paths.get("..", "..", "shared", "fixtures", "tiny-llava-v1", "model.safetensors");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.exists(shared), "../shared is not present");
        try (SafetensorsFile full = SafetensorsFile.open(shared);
             SafetensorsFile part = SafetensorsFile.open(OptimTesting.resource("tiny-llava-v1/mm_projector.safetensors"));
             Scope s = Scope.open()) {
            assertEquals(java.util.Set.of("model.mm_projector.weight", "model.mm_projector.bias"), part.keys());
            for (String k : part.keys()) {
                assertEquals(full.entry(k).dtype(), part.entry(k).dtype());
                assertArrayEquals((short[]) full.load(k).toHostArray(), (short[]) part.load(k).toHostArray(), k);
            }
        }
    }

    /** Decoupled weight decay and bias correction against a float64 evaluation of the AdamW formulas. */
    @Test void weightDecayAndBiasCorrectionMatchFloat64Reference() {
        Generator gen = new Generator(11);
        double lr = 1e-2, b1 = 0.8, b2 = 0.95, eps = 1e-6, wd = 0.1;
        int n = 257;
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.randn(gen, n).mul(0.5).requiresGrad(true);
            double[] ref = OptimTesting.toDouble(p.toFloatArray());
            double[] m = new double[n], v = new double[n];
            try (AdamW opt = new AdamW(Map.of("p", p), lr, b1, b2, eps, wd)) {
                for (int t = 1; t <= 6; t++) {
                    Tensor g = Tensor.randn(gen, n);
                    float[] gf = g.toFloatArray();
                    p.setGrad(g);
                    opt.step();
                    for (int i = 0; i < n; i++) {
                        ref[i] *= 1 - lr * wd;
                        m[i] = b1 * m[i] + (1 - b1) * gf[i];
                        v[i] = b2 * v[i] + (1 - b2) * gf[i] * gf[i];
                        double mHat = m[i] / (1 - Math.pow(b1, t)), vHat = v[i] / (1 - Math.pow(b2, t));
                        ref[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
                    }
                    double d = maxAbsDiff(p.toDoubleArray(), ref);
                    assertTrue(d <= 1e-6, "step " + t + ": differs from the float64 reference by " + d);
                }
            }
        }
    }

    /**
     * Mixed precision: a BF16 parameter is stepped through an F32 master. With gradients that are
     * exact in BF16, the master must equal an F32 parameter stepped with the same gradients, bit for
     * bit, and the BF16 parameter must be that master rounded to BF16.
     */
    @Test void halfParametersAreSteppedThroughF32Masters() {
        Generator gen = new Generator(5);
        for (DType half : List.of(DType.BF16, DType.F16)) {
            try (Scope s = Scope.open()) {
                Tensor init = Tensor.randn(gen, 6, 10).to(half);
                Tensor p32 = init.to(DType.F32).requiresGrad(true);
                Tensor ph = init.clone().requiresGrad(true);
                try (AdamW a32 = new AdamW(Map.of("w", p32), 3e-2, 0.9, 0.999, 1e-8, 0.05);
                     AdamW ah = new AdamW(Map.of("w", ph), 3e-2, 0.9, 0.999, 1e-8, 0.05)) {
                    for (int t = 0; t < 4; t++) {
                        Tensor g = Tensor.randn(gen, 6, 10).to(half);
                        p32.setGrad(g.to(DType.F32));
                        ph.setGrad(g);
                        a32.step();
                        ah.step();
                        try (OptimizerState st = ah.stateDict()) {
                            Tensor master = st.tensors().get("state.w.master");
                            assertEquals(DType.F32, master.dtype());
                            assertArrayEquals(p32.toFloatArray(), master.toFloatArray(), 0f, half + ": master differs from the F32 run");
                        }
                        assertEquals(half, ph.dtype());
                        assertArrayEquals(p32.to(half).toFloatArray(), ph.toFloatArray(), 0f,
                            half + ": the half parameter is not the rounded master");
                    }
                }
            }
        }
    }

    @Test void onlyParametersWithGradientsStepAndEachCountsItsSteps() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(3).requiresGrad(true), b = Tensor.ones(3).requiresGrad(true);
            Map<String, Tensor> params = new LinkedHashMap<>();
            params.put("a", a);
            params.put("b", b);
            try (AdamW opt = new AdamW(params, 0.1, 0.9, 0.999, 1e-8, 0.5)) {
                a.setGrad(Tensor.full(1, DType.F32, Device.CPU, 3));
                opt.step();
                assertArrayEquals(new float[] {1, 1, 1}, b.toFloatArray(), "no gradient: no update, not even weight decay");
                b.setGrad(Tensor.full(1, DType.F32, Device.CPU, 3));
                opt.step();
                try (OptimizerState st = opt.stateDict()) {
                    assertEquals(2, st.getLong("state.a.step"));
                    assertEquals(1, st.getLong("state.b.step"));
                    assertEquals(2, st.getLong("optimizer.step"));
                }
                opt.zeroGrad();
                assertNull(a.grad());
            }
        }
    }

    @Test void badArgumentsAreRejectedWithTheirNames() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.ones(2).requiresGrad(true);
            Tensor d = Tensor.ones(DType.F64, Device.CPU, 2).requiresGrad(true);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW(Map.of("p", p), 1e-3, 1.0, 0.999, 1e-8, 0))
                .getMessage().contains("beta1"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW(Map.of("p", p), -1, 0.9, 0.999, 1e-8, 0))
                .getMessage().contains("learning rate"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW(Map.of("x.d", d), 1e-3, 0.9, 0.999, 1e-8, 0))
                .getMessage().contains("'x.d' is F64"));
            Map<String, Tensor> twice = new LinkedHashMap<>();
            twice.put("a", p);
            twice.put("b", p);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW(twice, 1e-3, 0.9, 0.999, 1e-8, 0))
                .getMessage().contains("the same tensor is given as 'a' and 'b'"));
            Tensor nonLeaf = p.mul(2);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW(Map.of("n", nonLeaf), 1e-3, 0.9, 0.999, 1e-8, 0))
                .getMessage().contains("non-leaf"));
            AdamW opt = new AdamW(Map.of("p", p), 1e-3, 0.9, 0.999, 1e-8, 0);
            p.setGrad(Tensor.ones(2));
            p.close();
            assertTrue(assertThrows(IllegalStateException.class, opt::step).getMessage().contains("'p' was closed"));
            opt.close();
        }
    }
}
