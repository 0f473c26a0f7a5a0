package llava.models.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.io.SafetensorsWriter;
import llava.models.Fixtures;
import llava.models.llama.LlamaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same weights saved in the original LLaVA layout and in both llava-hf layouts load to the
 * same model (LLaVA-1.5's mlp2x_gelu projector, the tower inside or beside the checkpoint).
 */
class CheckpointLayoutTest {
    @TempDir Path tmp;

    @Test void originalAndHfLayoutsGiveTheSameLogits() throws Exception {
        ObjectMapper om = new ObjectMapper();
        Path towerSrc = Fixtures.path("tiny-clip-vit-p14-56");
        LlamaConfig lc = new LlamaConfig(32, 64, 2, 4, 2, 40, 1e-5, 10000, 128, false, 1, 2, 0);
        LlavaConfig cfg = new LlavaConfig(lc, "tower", 48, -2, true, false, "mlp2x_gelu", "square");
        Map<String, Tensor> weights = new LinkedHashMap<>();
        try (LlavaModel ref = new LlavaModel(cfg, new LlavaModel.ImageTokens(39, -1, -1), DType.F32, Device.CPU, new Generator(3));
             Scope s = Scope.open()) {
            ref.setVisionTower(LlavaLoader.loadVisionTower(towerSrc, DType.F32, Device.CPU));
            weights.putAll(ref.stateDict());
            // original layout, tower in a sibling folder named by mm_vision_tower
            Path orig = tmp.resolve("orig");
            Files.createDirectories(orig);
            Files.createDirectories(tmp.resolve("tower"));
            for (String f : new String[] {"config.json", "model.safetensors", "preprocessor_config.json"}) {
                Files.copy(towerSrc.resolve(f), tmp.resolve("tower").resolve(f));
            }
            ObjectNode c = om.createObjectNode();
            c.put("model_type", "llava").put("hidden_size", 32).put("intermediate_size", 64).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("vocab_size", 40).put("rms_norm_eps", 1e-5)
                .put("mm_vision_tower", "tower").put("mm_hidden_size", 48).put("mm_projector_type", "mlp2x_gelu")
                .put("mm_use_im_start_end", false).put("mm_vision_select_layer", -2);
            Files.writeString(orig.resolve("config.json"), om.writeValueAsString(c));
            Files.writeString(orig.resolve("added_tokens.json"), "{\"<im_patch>\": 39}");
            SafetensorsWriter.write(orig.resolve("model.safetensors"), weights, Map.of("format", "pt"));
            // both llava-hf layouts: everything in one checkpoint
            ObjectNode text = om.createObjectNode();
            text.put("model_type", "llama").put("hidden_size", 32).put("intermediate_size", 64).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("vocab_size", 40).put("rms_norm_eps", 1e-5);
            ObjectNode hfCfg = om.createObjectNode();
            hfCfg.put("model_type", "llava").put("image_token_index", 39).put("vision_feature_layer", -2)
                .put("vision_feature_select_strategy", "default");
            hfCfg.set("text_config", text);
            hfCfg.set("vision_config", om.readTree(towerSrc.resolve("config.json").toFile()));
            Map<String, Tensor> towerWeights = ref.visionTower().stateDict();
            for (CheckpointLayout layout : new CheckpointLayout[] {CheckpointLayout.HF, CheckpointLayout.HF_NESTED}) {
                Path hf = tmp.resolve(layout == CheckpointLayout.HF ? "hf" : "hf_nested");
                Files.createDirectories(hf);
                Files.writeString(hf.resolve("config.json"), om.writeValueAsString(hfCfg));
                Files.copy(towerSrc.resolve("preprocessor_config.json"), hf.resolve("preprocessor_config.json"));
                Map<String, Tensor> renamed = new LinkedHashMap<>();
                for (Map.Entry<String, Tensor> e : weights.entrySet()) renamed.put(layout.checkpointName(e.getKey()), e.getValue());
                for (Map.Entry<String, Tensor> e : towerWeights.entrySet()) renamed.put(layout.towerPrefix() + e.getKey(), e.getValue());
                assertTrue(renamed.containsKey(layout.projectorPrefix() + "linear_2.weight"));
                SafetensorsWriter.write(hf.resolve("model.safetensors"), renamed, Map.of("format", "pt"));
            }
            Tensor ids = Tensor.of(new long[] {1, 5, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 39, 7, 8}, 1, 20);
            Tensor images = Tensor.randn(new Generator(5), 1, 3, 56, 56);
            float[] expected;
            try (GradMode ng = GradMode.noGrad()) {
                expected = ref.forward(ids, null, images, null, LlavaModel.Options.DEFAULT).logits().toFloatArray();
            }
            for (String dir : new String[] {"orig", "hf", "hf_nested"}) {
                try (LlavaModel m = LlavaLoader.load(tmp.resolve(dir), DType.F32, Device.CPU); GradMode ng = GradMode.noGrad()) {
                    assertEquals("mlp2x_gelu", m.config.projectorType(), dir);
                    assertEquals(39, m.imageTokens().patch(), dir);
                    assertArrayEquals(expected, m.forward(ids, null, images, null, LlavaModel.Options.DEFAULT).logits().toFloatArray(), dir);
                }
            }
        }
    }
}
