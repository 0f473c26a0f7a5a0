package llava.models.llava;

import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;

/** Gradients of the v1 forward against upstream's loss.backward() (fixture grads_full / grads_pretrain). */
class LlavaGradientTest {

    /** |a - e| <= 1e-3 |e| or <= 1e-4 max|e| (the fixture README's gradient tolerance). */
    static double check(float[] expected, float[] actual, String what) {
        double maxAbs = 0, worst = 0;
        for (float v : expected) maxAbs = Math.max(maxAbs, Math.abs(v));
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            worst = Math.max(worst, d);
            if (d > 1e-3 * Math.abs(expected[i]) && d > 1e-4 * maxAbs) {
                throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
        return worst / Math.max(maxAbs, 1e-30);
    }

    private void run(boolean pretrain) throws Exception {
        String file = pretrain ? "refs/grads_pretrain.safetensors" : "refs/grads_full.safetensors";
        try (LlavaModel model = LlavaLoader.load(LlavaFixtureTest.modelDir(), DType.F32, Device.CPU);
             SafetensorsFile in = SafetensorsFile.open(Fixtures.path("refs/forward_v1.safetensors"));
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path(file));
             Scope s = Scope.open()) {
            if (pretrain) {
                // --tune_mm_mlp_adapter: only the projector and the input embeddings train
                model.requiresGrad(false);
                model.model.mmProjector.requiresGrad(true);
                model.model.embedTokens.requiresGrad(true);
            }
            LlavaModel.Output out = model.forward(in.load("input_ids"), in.load("attention_mask"), in.load("images"),
                in.load("labels"), new LlavaModel.Options(false, pretrain));
            org.junit.jupiter.api.Assertions.assertEquals(ref.load("loss").item(), out.loss().item(), 1e-5);
            out.loss().backward();
            Map<String, Tensor> p = model.namedParameters();
            StringBuilder report = new StringBuilder();
            report.append(String.format("projector.weight %.2g ", check(ref.load("mm_projector.weight").toFloatArray(),
                p.get("model.mm_projector.weight").grad().toFloatArray(), "mm_projector.weight")));
            report.append(String.format("projector.bias %.2g ", check(ref.load("mm_projector.bias").toFloatArray(),
                p.get("model.mm_projector.bias").grad().toFloatArray(), "mm_projector.bias")));
            if (!pretrain) {
                for (String k : new String[] {"layers.0.self_attn.q_proj.weight", "layers.1.mlp.down_proj.weight", "norm.weight"}) {
                    report.append(String.format("%s %.2g ", k, check(ref.load(k).toFloatArray(), p.get("model." + k).grad().toFloatArray(), k)));
                }
            } else {
                for (String k : new String[] {"model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight"}) {
                    if (p.get(k).grad() != null) throw new AssertionError(k + " is frozen but got a gradient");
                }
            }
            // embed_tokens: the listed rows carry these values, every other row is exactly zero
            long[] rows = ref.load("embed_tokens.rows").toLongArray();
            float[] vals = ref.load("embed_tokens.values").toFloatArray();
            float[] g = p.get("model.embed_tokens.weight").grad().toFloatArray();
            int H = 64;
            float[] expected = new float[g.length];
            for (int r = 0; r < rows.length; r++) System.arraycopy(vals, r * H, expected, (int) rows[r] * H, H);
            report.append(String.format("embed_tokens %.2g (%d rows)", check(expected, g, "embed_tokens"), rows.length));
            System.out.println((pretrain ? "grads_pretrain: " : "grads_full: ") + "max |diff| / max |g|: " + report);
            if (model.visionTower().namedParameters().values().stream().anyMatch(t -> t.grad() != null)) {
                throw new AssertionError("the vision tower must get no gradient");
            }
        }
    }

    @Test void fullFinetuningGradients() throws Exception { run(false); }

    @Test void projectorPretrainingGradients() throws Exception { run(true); }
}
