package llava.models.llava;

import static org.junit.jupiter.api.Assertions.assertTrue;

import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;

/** The same forward passes with BF16 weights and activations, against the fixture README's bf16 column. */
class LlavaBf16FixtureTest {

    @Test void bf16ForwardWithinTheBf16Tolerances() throws Exception {
        try (LlavaModel model = LlavaLoader.load(LlavaFixtureTest.modelDir(), DType.BF16, Device.CPU)) {
            for (String name : new String[] {"v1", "batch", "text_only"}) {
                try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/forward_" + name + ".safetensors"));
                     Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
                    Tensor ids = f.load("input_ids"), mask = f.load("attention_mask");
                    Tensor images = name.equals("text_only") ? null : f.load("images");
                    LlavaModel.Output out = model.forward(ids, mask, images, f.load("labels"), LlavaModel.Options.DEFAULT);
                    int B = ids.size(0), T = ids.size(1);
                    int V = out.logits().size(2);
                    boolean[] real = mask.ne(0).toBooleanArray();
                    float[] lg = out.logits().toFloatArray();
                    long[] cols = f.load("logits_columns").toLongArray();
                    float[] ref = f.load("logits_at_columns").toFloatArray();
                    long[] argRef = f.load("logits_argmax").toLongArray();
                    long[] arg = out.logits().to(DType.F32).argmax(-1, false).toLongArray();
                    double maxDiff = 0, sumDiff = 0;
                    int n = 0, agree = 0, realCount = 0;
                    for (int p = 0; p < B * T; p++) {
                        if (!real[p]) continue;
                        realCount++;
                        if (arg[p] == argRef[p]) agree++;
                        for (int c = 0; c < cols.length; c++) {
                            double d = Math.abs(ref[p * cols.length + c] - lg[p * V + (int) cols[c]]);
                            maxDiff = Math.max(maxDiff, d);
                            sumDiff += d;
                            n++;
                        }
                    }
                    double lossDiff = Math.abs(out.loss().item() - f.load("loss").item());
                    double agreement = (double) agree / realCount;
                    System.out.printf("bf16 %s: logits max |diff| %.3f mean %.4f, argmax agreement %.1f%%, |loss diff| %.4f%n",
                        name, maxDiff, sumDiff / n, 100 * agreement, lossDiff);
                    assertTrue(maxDiff <= 1.0, name + ": max logit diff " + maxDiff);
                    assertTrue(sumDiff / n <= 0.1, name + ": mean logit diff " + sumDiff / n);
                    assertTrue(agreement >= 0.8, name + ": argmax agreement " + agreement);
                    assertTrue(lossDiff <= 0.1, name + ": loss diff " + lossDiff);
                }
            }
        }
    }
}
