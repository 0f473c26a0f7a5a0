package llava.core.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

class ModuleTest {
    static final class Block extends Module {
        final Linear q;
        final RMSNorm norm;

        Block(Generator g) {
            q = registerModule("q_proj", new Linear(4, 4, false, g));
            norm = registerModule("input_layernorm", new RMSNorm(4, 1e-6, DType.F32, Device.CPU));
        }
    }

    static final class Net extends Module {
        final ModuleList<Block> layers = registerModule("layers", new ModuleList<>());
        final Linear head;

        Net(Generator g) {
            layers.add(new Block(g));
            layers.add(new Block(g));
            head = registerModule("lm_head", new Linear(4, 3, true, g));
            registerBuffer("inv_freq", Tensor.ones(2), false);
        }
    }

    @Test void namesMatchHuggingFaceKeys() {
        try (Net n = new Net(new Generator(0))) {
            assertEquals(List.of("layers.0.q_proj.weight", "layers.0.input_layernorm.weight", "layers.1.q_proj.weight",
                "layers.1.input_layernorm.weight", "lm_head.weight", "lm_head.bias"), List.copyOf(n.namedParameters().keySet()));
            assertFalse(n.stateDict().containsKey("inv_freq"), "non-persistent buffers are not saved");
            assertEquals(2 * (16 + 4) + 12 + 3, n.numParameters(false));
            assertTrue(n.toString().contains("(lm_head): Linear[in=4, out=3, bias=true]"), n.toString());
        }
    }

    @Test void loadStateDictStrictListsEveryProblem() {
        try (Net a = new Net(new Generator(1)); Net b = new Net(new Generator(2)); Scope s = Scope.open()) {
            b.loadStateDict(a.stateDict(), true);
            assertArrayEquals(a.head.weight().toFloatArray(), b.head.weight().toFloatArray());
            Map<String, Tensor> sd = new java.util.LinkedHashMap<>(a.stateDict());
            sd.remove("lm_head.bias");
            sd.put("extra.weight", Tensor.zeros(1));
            sd.put("lm_head.weight", Tensor.zeros(2, 2));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(sd, true));
            assertTrue(e.getMessage().contains("lm_head.bias") && e.getMessage().contains("extra.weight")
                && e.getMessage().contains("lm_head.weight: checkpoint [2, 2] vs model [3, 4]"), e.getMessage());
            Module.LoadResult r = b.loadStateDict(sd, false);
            assertEquals(List.of("lm_head.bias"), r.missing());
        }
    }

    @Test void dtypeConversionFreezingAndGrads() {
        try (Net n = new Net(new Generator(3)); Scope s = Scope.open()) {
            n.to(DType.BF16);
            assertEquals(DType.BF16, n.head.weight().dtype());
            assertTrue(n.head.weight().requiresGrad());
            n.to(DType.F32);
            n.layers.get(0).requiresGrad(false);
            assertEquals(16 + 4 + 15, n.numParameters(true));
            Tensor x = Tensor.randn(new Generator(4), 2, 4);
            Tensor h = x;
            for (Block b : n.layers) h = b.norm.forward(b.q.forward(h));
            n.head.forward(h).sum().backward();
            assertTrue(n.layers.get(0).q.weight().grad() == null, "frozen parameters get no gradient");
            assertTrue(n.layers.get(1).q.weight().grad() != null);
            n.zeroGrad();
            assertTrue(n.head.weight().grad() == null);
        }
    }

    @Test void forwardHooksWrapHookedForwards() {
        StringBuilder log = new StringBuilder();
        Module m = new Module() {
            Tensor run(Tensor x) { return hooked(() -> { log.append("body "); return x.mul(2); }); }
        };
        m.addForwardPreHook(mod -> log.append("pre "));
        m.addForwardHook(mod -> log.append("post"));
        try (Scope s = Scope.open()) {
            ((Tensor) invokeRun(m, Tensor.ones(1))).close();
        }
        assertEquals("pre body post", log.toString());
    }

    private static Object invokeRun(Module m, Tensor x) {
        try {
            java.lang.reflect.Method r = m.getClass().getDeclaredMethod("run", Tensor.class);
            r.setAccessible(true);
            return r.invoke(m, x);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @Test void sequentialAndDropout() {
        Generator g = new Generator(5);
        try (Sequential seq = new Sequential(new Linear(3, 5, true, g), new Dropout(0.5, g)); Scope s = Scope.open()) {
            Tensor x = Tensor.randn(g, 4, 3);
            seq.eval();
            Tensor y1 = seq.forward(x), y2 = seq.forward(x);
            assertArrayEquals(y1.toFloatArray(), y2.toFloatArray(), "eval mode is deterministic");
            seq.train(true);
            float[] yt = seq.forward(x).toFloatArray();
            int zeros = 0;
            for (float v : yt) if (v == 0) zeros++;
            assertTrue(zeros > 0 && zeros < yt.length, "training dropout zeroes some but not all: " + zeros);
        }
    }
}
