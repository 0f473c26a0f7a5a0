package llava.models.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import llava.core.io.SafetensorsFile;
import llava.models.Compare;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ./llava forward on the fixture conversations reproduces upstream's batch, logits, loss and gradients. */
class ForwardCommandTest {
    @TempDir Path tmp;

    private Path dataFile(String caseName) throws Exception {
        JsonNode cases = new ObjectMapper().readTree(Fixtures.path("refs/cases.json").toFile());
        Path f = tmp.resolve(caseName + ".json");
        Files.writeString(f, new ObjectMapper().writeValueAsString(cases.get(caseName).get("entries")));
        return f;
    }

    private SafetensorsFile run(String caseName, String... extra) throws Exception {
        Path out = tmp.resolve(caseName + ".out.safetensors");
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
            "--model_name_or_path", Fixtures.path("tiny-llava-v1").toString(),
            "--data_path", dataFile(caseName).toString(),
            "--image_folder", Fixtures.path("images").toString(),
            "--out", out.toString()));
        args.addAll(java.util.List.of(extra));
        assertEquals(0, new ForwardCommand().run(args.toArray(new String[0])));
        return SafetensorsFile.open(out);
    }

    private static void sameBatchAndLogits(SafetensorsFile ours, SafetensorsFile ref, String what) throws Exception {
        assertArrayEquals(ref.load("input_ids").toLongArray(), ours.load("input_ids").toLongArray(), what + " input_ids");
        assertArrayEquals(ref.load("labels").toLongArray(), ours.load("labels").toLongArray(), what + " labels");
        assertArrayEquals(ref.load("attention_mask").toLongArray(), ours.load("attention_mask").toLongArray(), what + " attention_mask");
        if (ref.contains("image_features") && ours.contains("image_features")) {
            Compare.assertClose(ref.load("image_features").toFloatArray(), ours.load("image_features").toFloatArray(), 1e-4, 1e-4,
                what + " image_features");
        }
        float[] logits = ours.load("logits").toFloatArray();
        long[] pos = ref.load("logits_positions").toLongArray();
        float[] atPos = ref.load("logits_at_positions").toFloatArray();
        int V = 32003, T = ref.load("input_ids").size(1);
        for (int b = 0; b < pos.length / 4; b++) {
            for (int k = 0; k < 4; k++) {
                int p = (int) pos[b * 4 + k];
                Compare.assertClose(java.util.Arrays.copyOfRange(atPos, (b * 4 + k) * V, (b * 4 + k + 1) * V),
                    java.util.Arrays.copyOfRange(logits, (b * T + p) * V, (b * T + p + 1) * V), 5e-4, 1e-4, what + " logits");
            }
        }
        assertEquals(ref.load("loss").item(), ours.load("loss").item(), 1e-5, what + " loss");
    }

    @Test void v1WithBackwardMatchesForwardAndGradients() throws Exception {
        try (SafetensorsFile ours = run("v1", "--version", "v1", "--backward");
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("refs/forward_v1.safetensors"));
             SafetensorsFile grads = SafetensorsFile.open(Fixtures.path("refs/grads_full.safetensors"))) {
            sameBatchAndLogits(ours, ref, "v1");
            for (String k : new String[] {"mm_projector.weight", "mm_projector.bias", "layers.0.self_attn.q_proj.weight",
                "layers.1.mlp.down_proj.weight", "norm.weight"}) {
                Compare.assertClose(grads.load(k).toFloatArray(), ours.load("grad.model." + k).toFloatArray(), 1e-6, 1e-3, "grad " + k);
            }
            assertTrue(ours.contains("grad.lm_head.weight") && ours.contains("grad.model.embed_tokens.weight"));
        }
    }

    @Test void v0WithoutStartEndTokens() throws Exception {
        try (SafetensorsFile ours = run("v0", "--version", "v0", "--mm_use_im_start_end", "false");
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("refs/forward_v0.safetensors"))) {
            sameBatchAndLogits(ours, ref, "v0");
        }
    }

    @Test void paddedBatchWithPadAspectRatio() throws Exception {
        try (SafetensorsFile ours = run("batch", "--version", "v1", "--image_aspect_ratio", "pad");
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("refs/forward_batch.safetensors"))) {
            sameBatchAndLogits(ours, ref, "batch");
        }
    }

    @Test void textOnlyAndAdapterPretraining() throws Exception {
        try (SafetensorsFile ours = run("text_only", "--version", "v1");
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("refs/forward_text_only.safetensors"))) {
            sameBatchAndLogits(ours, ref, "text_only");
        }
        try (SafetensorsFile ours = run("v1", "--version", "v1", "--backward", "--tune_mm_mlp_adapter", "true");
             SafetensorsFile grads = SafetensorsFile.open(Fixtures.path("refs/grads_pretrain.safetensors"))) {
            Compare.assertClose(grads.load("mm_projector.weight").toFloatArray(), ours.load("grad.model.mm_projector.weight").toFloatArray(),
                1e-6, 1e-3, "pretrain projector grad");
            assertTrue(!ours.contains("grad.lm_head.weight") && !ours.contains("grad.model.norm.weight"), "frozen parameters have no grad");
            float[] emb = ours.load("grad.model.embed_tokens.weight").toFloatArray();
            int nonZeroRows = 0;
            for (int r = 0; r < emb.length / 64; r++) {
                for (int c = 0; c < 64; c++) if (emb[r * 64 + c] != 0) { nonZeroRows++; break; }
            }
            assertEquals(2, nonZeroRows, "only <im_start> and <im_end> embeddings train");
        }
    }
}
