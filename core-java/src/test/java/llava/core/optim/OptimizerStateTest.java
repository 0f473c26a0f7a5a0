package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import llava.core.DType;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exact resume: an optimizer rebuilt from a saved state continues bit for bit like the original. */
class OptimizerStateTest {
    @TempDir Path tmp;

    /** Two groups: an F32 matrix with decay; a BF16 vector (stepped through a master) and an F32 vector without. */
    private static List<ParamGroup> groups(Map<String, Tensor> p) {
        Map<String, Tensor> decay = new LinkedHashMap<>(), noDecay = new LinkedHashMap<>();
        decay.put("layers.0.w", p.get("layers.0.w"));
        noDecay.put("layers.0.h", p.get("layers.0.h"));
        noDecay.put("norm.weight", p.get("norm.weight"));
        return List.of(new ParamGroup(decay, 1e-2, 0.1), new ParamGroup(noDecay, 2e-2, 0));
    }

    private static Map<String, Tensor> params(Generator gen) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("layers.0.w", Tensor.randn(gen, 3, 4).requiresGrad(true));
        p.put("layers.0.h", Tensor.randn(gen, 5).to(DType.BF16).requiresGrad(true));
        p.put("norm.weight", Tensor.randn(gen, 4).requiresGrad(true));
        return p;
    }

    private static Map<String, Tensor> copyOf(Map<String, Tensor> p) {
        Map<String, Tensor> q = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : p.entrySet()) q.put(e.getKey(), e.getValue().detach().clone().requiresGrad(true));
        return q;
    }

    private static void setGrads(Map<String, Tensor> p, Generator gen) {
        for (Tensor t : p.values()) {
            try (Tensor g = Tensor.randn(gen, t.shape())) {
                t.setGrad(g.to(t.dtype()));
            }
        }
    }

    /** Through a safetensors file and back: values and scalar strings, nothing shared with the live state. */
    private static OptimizerState throughFile(OptimizerState s, Path dir) {
        try {
            Path file = dir.resolve("optimizer.safetensors");
            s.save(file);
            return OptimizerState.load(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void resumeIsExact(Function<List<ParamGroup>, Optimizer> make, String... expectedBuffers) {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> pa = params(new Generator(1));
            Generator grads = new Generator(2);
            try (Optimizer a = make.apply(groups(pa))) {
                LrScheduler sa = new LrScheduler(a, LrSchedule.cosineWithWarmup(1, 6));
                for (int i = 0; i < 2; i++) {
                    setGrads(pa, grads);
                    a.step();
                    sa.step();
                }
                Map<String, Tensor> pb = copyOf(pa);
                OptimizerState saved;
                try (OptimizerState live = a.stateDict()) {
                    for (String name : pa.keySet()) {
                        for (String b : expectedBuffers) assertTrue(live.tensors().containsKey("state." + name + "." + b), name + "." + b);
                    }
                    assertTrue(live.tensors().containsKey("state.layers.0.h.master"), "the BF16 parameter's master is saved");
                    assertEquals(DType.F32, live.tensors().get("state.layers.0.h.master").dtype());
                    saved = throughFile(live, tmp);
                }
                try (Optimizer b = make.apply(groups(pb)); saved) {
                    b.loadStateDict(saved);
                    assertEquals(2, b.stepCount());
                    LrScheduler sb = new LrScheduler(b, LrSchedule.cosineWithWarmup(1, 6));
                    sb.setStep(b.stepCount());
                    for (int i = 0; i < 3; i++) {
                        Generator g = new Generator(100 + i);
                        setGrads(pa, g);
                        setGrads(pb, new Generator(100 + i));
                        a.step();
                        b.step();
                        sa.step();
                        sb.step();
                        for (String name : pa.keySet()) {
                            assertArrayEquals(pa.get(name).toFloatArray(), pb.get(name).toFloatArray(), 0f, name + " after resumed step " + i);
                        }
                    }
                    try (OptimizerState x = a.stateDict(); OptimizerState y = b.stateDict()) {
                        assertEquals(x.scalars(), y.scalars());
                        assertEquals(x.tensors().keySet(), y.tensors().keySet());
                        for (String k : x.tensors().keySet()) {
                            assertArrayEquals(x.tensors().get(k).toFloatArray(), y.tensors().get(k).toFloatArray(), 0f, k);
                        }
                    }
                }
            }
        }
    }

    @Test void adamWResumesExactly() {
        resumeIsExact(g -> new AdamW(g, 0.9, 0.999, 1e-8), AdamW.EXP_AVG, AdamW.EXP_AVG_SQ);
    }

    @Test void sgdWithMomentumResumesExactly() {
        resumeIsExact(g -> new SGD(g, 0.9, 0.1, false), SGD.MOMENTUM_BUFFER);
    }

    @Test void loadingAFileThatIsNoOptimizerStateNamesIt() throws IOException {
        Path file = tmp.resolve("weights.safetensors");
        try (Scope s = Scope.open()) {
            llava.core.io.SafetensorsWriter.write(file, Map.of("w", Tensor.zeros(2)), null);
        }
        IOException e = assertThrows(IOException.class, () -> OptimizerState.load(file));
        assertTrue(e.getMessage().contains("weights.safetensors") && e.getMessage().contains("optimizer.type"), e.getMessage());
        Files.write(file, new byte[] {1, 2, 3});
        assertThrows(IOException.class, () -> OptimizerState.load(file));
    }

    @Test void stateKeysAndScalars() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> p = params(new Generator(3));
            try (AdamW opt = new AdamW(groups(p), 0.9, 0.95, 1e-6)) {
                setGrads(p, new Generator(4));
                opt.step();
                try (OptimizerState st = opt.stateDict()) {
                    assertEquals("AdamW", st.string("optimizer.type"));
                    assertEquals(1, st.getLong("optimizer.step"));
                    assertEquals(0.95, st.getDouble("optimizer.beta2"));
                    assertEquals(2, st.getLong("param_groups"));
                    assertEquals(0.1, st.getDouble("param_groups.0.weight_decay"));
                    assertEquals(2e-2, st.getDouble("param_groups.1.lr"));
                    assertEquals(1, st.getLong("state.layers.0.w.step"));
                    List<String> keys = new ArrayList<>(st.tensors().keySet());
                    assertEquals(List.of("state.layers.0.w.exp_avg", "state.layers.0.w.exp_avg_sq", "state.layers.0.h.exp_avg",
                        "state.layers.0.h.exp_avg_sq", "state.layers.0.h.master", "state.norm.weight.exp_avg",
                        "state.norm.weight.exp_avg_sq"), keys);
                    assertTrue(assertThrows(IllegalArgumentException.class, () -> st.getLong("nope")).getMessage().contains("'nope'"));
                }
            }
        }
    }

    @Test void badStatesAreRejectedAndLeaveTheOptimizerAsItWas() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> p = params(new Generator(5));
            try (AdamW opt = new AdamW(groups(p), 0.9, 0.999, 1e-8);
                 SGD sgd = new SGD(groups(copyOf(p)), 0.9, 0, false)) {
                setGrads(p, new Generator(6));
                opt.step();
                try (OptimizerState good = opt.stateDict()) {
                    Map<String, Tensor> extra = new LinkedHashMap<>(good.tensors());
                    extra.put("state.layers.9.w.exp_avg", Tensor.zeros(3, 4));
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> opt.loadStateDict(new OptimizerState(extra, good.scalars())));
                    assertTrue(e.getMessage().contains("state.layers.9.w.exp_avg"), e.getMessage());

                    Map<String, Tensor> wrongShape = new LinkedHashMap<>(good.tensors());
                    wrongShape.put("state.layers.0.w.exp_avg", Tensor.zeros(4, 3));
                    e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(new OptimizerState(wrongShape, good.scalars())));
                    assertTrue(e.getMessage().contains("'state.layers.0.w.exp_avg' has shape [4, 3]"), e.getMessage());

                    Map<String, String> oneGroup = new LinkedHashMap<>(good.scalars());
                    oneGroup.put("param_groups", "1");
                    e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(new OptimizerState(good.tensors(), oneGroup)));
                    assertTrue(e.getMessage().contains("1 parameter groups"), e.getMessage());

                    e = assertThrows(IllegalArgumentException.class, () -> sgd.loadStateDict(good));
                    assertTrue(e.getMessage().contains("for AdamW, not SGD"), e.getMessage());

                    try (OptimizerState after = opt.stateDict()) {
                        assertEquals(good.tensors().keySet(), after.tensors().keySet(), "a failed load changes nothing");
                    }
                }
            }
        }
    }
}
