package llava.models.llava;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.io.SafetensorsFile;
import llava.models.Compare;
import llava.models.Fixtures;
import llava.models.checkpoint.VisionTowerLocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tiny LLaVA checkpoint against the upstream PyTorch outputs (F32 tolerances of the fixture README). */
class LlavaFixtureTest {
    static LlavaModel model;

    @BeforeAll
    static void load() throws Exception {
        model = LlavaLoader.load(modelDir(), DType.F32, Device.CPU);
    }

    @AfterAll
    static void free() {
        if (model != null) model.close();
    }

    static Path modelDir() {
        return Fixtures.path("tiny-llava-v1");
    }

    @Test
    void visionTowerHiddenStates() throws Exception {
        try (SafetensorsFile px = SafetensorsFile.open(Fixtures.path("refs/image_processing.safetensors"));
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("refs/vision_tower.safetensors"));
             Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            for (String img : new String[] {"cat_landscape", "camera_gray", "astronaut_rgba"}) {
                Tensor pixels = px.load(img + ".tiny.pixel_values").unsqueeze(0);
                List<Tensor> hs = model.visionTower().hiddenStates(pixels);
                float[] expected = ref.load(img + ".hidden_states").toFloatArray();
                float[] actual = Tensor.stack(0, hs.toArray(new Tensor[0])).toFloatArray();
                double maxDiff = Compare.assertClose(expected, actual, 1e-4, 1e-4, img + " hidden states");
                System.out.printf("vision tower %s: max |hidden state diff| %.3g%n", img, maxDiff);
                Compare.assertClose(ref.load(img + ".select_layer_features").toFloatArray(),
                    model.visionTower().selectFeatures(pixels, -2, true).toFloatArray(), 1e-4, 1e-4, img + " features");
                Compare.assertClose(ref.load(img + ".projected").toFloatArray(),
                    model.encodeImages(pixels).toFloatArray(), 1e-4, 1e-4, img + " projected");
                Compare.assertClose(ref.load(img + ".last_hidden_state").toFloatArray(),
                    model.visionTower().lastHiddenState(pixels).toFloatArray(), 1e-4, 1e-4, img + " last hidden state");
            }
        }
    }

    @Test
    void forwardV1() throws Exception {
        checkForward("v1");
    }

    @Test
    void forwardV0() throws Exception {
        checkForward("v0");
    }

    @Test
    void forwardBatch() throws Exception {
        checkForward("batch");
    }

    @Test
    void forwardTextOnly() throws Exception {
        checkForward("text_only");
    }

    private void checkForward(String name) throws Exception {
        boolean startEnd = !name.equals("v0");
        LlavaModel m = startEnd == model.config.useImStartEnd() ? model : withStartEnd(startEnd);
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/forward_" + name + ".safetensors"));
             Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor ids = f.load("input_ids"), mask = f.load("attention_mask"), labels = f.load("labels");
            Tensor images = name.equals("text_only") ? null : f.load("images");
            int B = ids.size(0), T = ids.size(1);
            LlavaModel.Output out = m.forward(ids, mask, images, labels, new LlavaModel.Options(true, false));
            boolean[] real = mask.ne(0).toBooleanArray();
            if (images != null) {
                Compare.assertClose(f.load("image_features_projected").toFloatArray(), out.imageFeatures().toFloatArray(),
                    1e-4, 1e-4, name + " projected image features");
            }
            // hidden states at real positions: [0] spliced embeddings, [1] layer 0, [2] final-normed
            float[] hsRef = f.load("hidden_states").toFloatArray();
            int H = 64;
            for (int k = 0; k < 3; k++) {
                float[] act = out.hidden().get(k).toFloatArray();
                float[] e = new float[B * T * H], a = new float[B * T * H];
                int n = 0;
                for (int p = 0; p < B * T; p++) {
                    if (!real[p]) continue;
                    System.arraycopy(hsRef, (k * B * T + p) * H, e, n * H, H);
                    System.arraycopy(act, p * H, a, n * H, H);
                    n++;
                }
                Compare.assertClose(java.util.Arrays.copyOf(e, n * H), java.util.Arrays.copyOf(a, n * H), 2e-4, 1e-4,
                    name + " hidden_states[" + k + "]");
            }
            // logits: restricted columns at every real position, full vocabulary at 4 positions
            Tensor logits = out.logits();
            int V = logits.size(2);
            long[] cols = f.load("logits_columns").toLongArray();
            float[] atCols = f.load("logits_at_columns").toFloatArray();
            float[] lg = logits.toFloatArray();
            long[] argmax = f.load("logits_argmax").toLongArray();
            float[] lse = f.load("logits_logsumexp").toFloatArray();
            long[] ourArgmax = logits.argmax(-1, false).toLongArray();
            float[] ourLse;
            try (Tensor l2 = logits.reshape(B * T, V); Tensor mx = l2.max(1, true); Tensor e = l2.sub(mx).exp().sum(1, true).log().add(mx)) {
                ourLse = e.toFloatArray();
            }
            double maxLogitDiff = 0;
            for (int p = 0; p < B * T; p++) {
                if (!real[p]) continue;
                for (int c = 0; c < cols.length; c++) {
                    double d = Math.abs(atCols[p * cols.length + c] - lg[p * V + (int) cols[c]]);
                    maxLogitDiff = Math.max(maxLogitDiff, d);
                    if (d > 5e-4 + 1e-4 * Math.abs(atCols[p * cols.length + c])) {
                        throw new AssertionError(name + ": logit at position " + p + " column " + cols[c] + " differs by " + d);
                    }
                }
                assertEquals(argmax[p], ourArgmax[p], name + ": argmax at position " + p);
                assertEquals(lse[p], ourLse[p], 2e-4, name + ": logsumexp at position " + p);
            }
            long[] positions = f.load("logits_positions").toLongArray();
            float[] atPos = f.load("logits_at_positions").toFloatArray();
            for (int b = 0; b < B; b++) {
                for (int k = 0; k < 4; k++) {
                    int p = (int) positions[b * 4 + k];
                    float[] e = java.util.Arrays.copyOfRange(atPos, (b * 4 + k) * V, (b * 4 + k + 1) * V);
                    float[] a = java.util.Arrays.copyOfRange(lg, (b * T + p) * V, (b * T + p + 1) * V);
                    Compare.assertClose(e, a, 5e-4, 1e-4, name + " full logits at " + b + "/" + p);
                }
            }
            assertEquals(f.load("loss").item(), out.loss().item(), 1e-5, name + ": loss");
            System.out.printf("%s: max |logit diff| %.3g, loss %.6f vs %.6f%n", name, maxLogitDiff, out.loss().item(), f.load("loss").item());
        } finally {
            if (m != model) m.close();
        }
    }

    /** The v0 case runs with mm_use_im_start_end false (patch tokens only): same weights. */
    private LlavaModel withStartEnd(boolean on) throws Exception {
        return LlavaLoader.load(modelDir(), DType.F32, Device.CPU, c -> c.withImStartEnd(on));
    }
}
