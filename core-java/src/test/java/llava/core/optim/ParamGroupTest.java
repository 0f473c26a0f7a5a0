package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.nn.Embedding;
import llava.core.nn.LayerNorm;
import llava.core.nn.Linear;
import llava.core.nn.Module;
import llava.core.nn.RMSNorm;
import org.junit.jupiter.api.Test;

class ParamGroupTest {
    static final class Net extends Module {
        Net(Generator g) {
            registerModule("embed_tokens", new Embedding(5, 4, DType.F32, Device.CPU, g));
            registerModule("fc", new Linear(4, 4, true, g));
            registerModule("input_layernorm", new RMSNorm(4, 1e-6, DType.F32, Device.CPU));
            registerModule("ln", new LayerNorm(4, 1e-5, DType.F32, Device.CPU));
            registerModule("frozen", new Linear(4, 2, true, g)).requiresGrad(false);
            registerModule("head", new Linear(4, 3, false, g));
        }
    }

    /** HF Trainer's grouping: decay for everything but biases and norm weights; frozen parameters left out. */
    @Test void decayAndNoDecayGroupsAsHfTrainer() {
        try (Net n = new Net(new Generator(0))) {
            List<ParamGroup> groups = ParamGroup.decayAndNoDecay(n, 1e-3, 0.01);
            assertEquals(2, groups.size());
            assertEquals(List.of("embed_tokens.weight", "fc.weight", "head.weight"), List.copyOf(groups.get(0).params().keySet()));
            assertEquals(0.01, groups.get(0).weightDecay());
            assertEquals(List.of("fc.bias", "input_layernorm.weight", "ln.weight", "ln.bias"),
                List.copyOf(groups.get(1).params().keySet()));
            assertEquals(0.0, groups.get(1).weightDecay());
            assertEquals(1e-3, groups.get(1).lr());
            assertEquals(7, ParamGroup.single(n, 1e-3, 0).get(0).params().size(), "single group: every trainable parameter");
        }
    }
}
