package llava.models.llava;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.io.SafetensorsFile;
import llava.models.Compare;
import llava.models.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Batching semantics: padded rows equal their sample alone; mixed image/text batches; several images per prompt. */
class LlavaBatchingTest {
    static LlavaModel model;

    @BeforeAll static void load() throws Exception {
        model = LlavaLoader.load(Fixtures.path("tiny-llava-v1"), DType.F32, Device.CPU);
    }

    @AfterAll static void free() {
        model.close();
    }

    private static float[] logits(long[] ids, boolean[] mask, Tensor images, boolean positionsFromMask) {
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            int T = ids.length;
            Tensor m = mask == null ? null : Tensor.of(mask, 1, T);
            return model.forward(Tensor.of(ids, 1, T), m, images, null, new LlavaModel.Options(false, false, positionsFromMask))
                .logits().toFloatArray();
        }
    }

    private static long[] ids(String file) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/" + file))) {
            return f.load("input_ids").toLongArray();
        }
    }

    private static Tensor image(String name) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/image_processing.safetensors"))) {
            return f.load(name + ".tiny.pixel_values").unsqueeze(0);
        }
    }

    @Test void mixedImageAndTextBatchEqualsEachSampleAlone() throws Exception {
        long[] a = ids("forward_v1.safetensors"), b = ids("forward_text_only.safetensors");
        int T = Math.max(a.length, b.length), V = 32003;
        long[] batch = new long[2 * T];
        boolean[] mask = new boolean[2 * T];
        for (int t = 0; t < a.length; t++) { batch[t] = a[t]; mask[t] = true; }
        for (int t = 0; t < b.length; t++) { batch[T + t] = b[t]; mask[T + t] = true; }
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad(); Tensor img = image("cat_landscape")) {
            float[] both = model.forward(Tensor.of(batch, 2, T), Tensor.of(mask, 2, T), img, null, LlavaModel.Options.DEFAULT)
                .logits().toFloatArray();
            float[] aloneA = logits(a, null, img, false), aloneB = logits(b, null, null, false);
            Compare.assertClose(aloneA, Arrays.copyOfRange(both, 0, a.length * V), 1e-5, 1e-5, "image sample in a mixed batch");
            Compare.assertClose(aloneB, Arrays.copyOfRange(both, T * V, (T + b.length) * V), 1e-5, 1e-5, "text sample in a mixed batch");
        }
    }

    @Test void leftPaddingWithPositionsFromTheMask() throws Exception {
        long[] a = ids("forward_text_only.safetensors");
        int pad = 5, V = 32003;
        long[] padded = new long[a.length + pad];
        boolean[] mask = new boolean[a.length + pad];
        for (int t = 0; t < a.length; t++) { padded[pad + t] = a[t]; mask[pad + t] = true; }
        float[] alone = logits(a, null, null, false);
        float[] left = logits(padded, mask, null, true);
        Compare.assertClose(alone, Arrays.copyOfRange(left, pad * V, left.length), 1e-5, 1e-5, "left-padded row");
    }

    @Test void severalImagesInOnePrompt() throws Exception {
        LlavaModel.ImageTokens t = model.imageTokens();
        int n = model.patchesPerImage();
        long[] ids = new long[1 + 2 * (n + 2) + 2];
        int k = 0;
        ids[k++] = 1;
        for (int img = 0; img < 2; img++) {
            ids[k++] = t.start();
            for (int i = 0; i < n; i++) ids[k++] = t.patch();
            ids[k++] = t.end();
        }
        ids[k++] = 450;
        ids[k] = 338;
        try (Scope s = Scope.open(); GradMode ng = GradMode.noGrad()) {
            Tensor images = Tensor.cat(0, image("cat_landscape"), image("camera_gray"));
            LlavaModel.Output out = model.forward(Tensor.of(ids, 1, ids.length), null, images, null, new LlavaModel.Options(true, false));
            float[] embeds = out.hidden().get(0).toFloatArray();
            float[] feats = model.encodeImages(images).toFloatArray();
            int H = 64;
            // image i's features occupy the n positions after its <im_start>
            Compare.assertClose(Arrays.copyOfRange(feats, 0, n * H), Arrays.copyOfRange(embeds, 2 * H, (2 + n) * H), 0, 0, "first image");
            int second = 2 + n + 2;
            Compare.assertClose(Arrays.copyOfRange(feats, n * H, 2 * n * H), Arrays.copyOfRange(embeds, second * H, (second + n) * H), 0, 0,
                "second image");
            // as many images as placeholders, or a clear error
            assertThrows(IllegalArgumentException.class, () -> model.forward(Tensor.of(ids, 1, ids.length), null,
                images.narrow(0, 0, 1), null, LlavaModel.Options.DEFAULT));
        }
    }
}
