package llava.models.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Compare;
import llava.models.Fixtures;
import llava.models.llava.LlavaLoader;
import llava.models.llava.LlavaModel;
import org.junit.jupiter.api.Test;

/** Greedy decoding with the KV cache reproduces upstream's tokens and per-step top-8 logits. */
class GreedyGenerationFixtureTest {

    @Test void bothGenerationCasesMatch() throws Exception {
        try (LlavaModel model = LlavaLoader.load(Fixtures.path("tiny-llava-v1"), DType.F32, Device.CPU)) {
            for (String name : new String[] {"generate_0", "generate_1"}) {
                try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/" + name + ".safetensors")); Scope s = Scope.open()) {
                    long[] prompt = f.load("input_ids").toLongArray();
                    long[] expected = f.load("new_token_ids").toLongArray();
                    long[] topIds = f.load("step_topk_ids").toLongArray();
                    float[] topLogits = f.load("step_topk_logits").toFloatArray();
                    float[] first = f.load("first_step_logits").toFloatArray();
                    int[] step = {0};
                    Generation.Result r = Generation.generate(model, prompt, f.load("images"), SamplingParams.greedy(expected.length), -1,
                        (tok, logits) -> {
                            int k = step[0]++;
                            if (k == 0) Compare.assertClose(first, logits, 5e-4, 1e-4, name + " first-step logits");
                            for (int j = 0; j < 8; j++) {
                                int id = (int) topIds[k * 8 + j];
                                assertEquals(topLogits[k * 8 + j], logits[id], 5e-4 + 1e-4 * Math.abs(topLogits[k * 8 + j]),
                                    name + " step " + k + " logit of top-" + j + " id " + id);
                            }
                            return true;
                        });
                    long[] got = new long[r.tokens().length];
                    for (int i = 0; i < got.length; i++) got[i] = r.tokens()[i];
                    assertArrayEquals(expected, got, name + " tokens");
                    assertEquals("length", r.stopReason());
                }
            }
        }
    }
}
