package llava.models.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config parsing and the geometry of each step, with values worked out from upstream's code. */
class ImageProcessorTest {
    @TempDir
    Path tmp;

    private Path config(String json) throws IOException {
        Path p = tmp.resolve("preprocessor_config.json");
        Files.writeString(p, json);
        return p;
    }


    @Test
    void oldStyleConfigFromFixtures() throws IOException {
        ImageProcessor p = ImageProcessor.fromPretrained(Fixtures.path("tiny-clip-vit-p14-56"));
        assertEquals(ImageProcessor.ResizeSpec.shortestEdge(56), p.size());
        assertEquals(56, p.cropHeight());
        assertEquals(56, p.cropWidth());
        assertEquals(PilResample.Filter.BICUBIC, p.filter());
        assertArrayEquals(ImageProcessor.CLIP_MEAN, p.mean());
        assertArrayEquals(ImageProcessor.CLIP_STD, p.std());
        assertEquals(1.0 / 255, p.rescaleFactor());
        assertTrue(p.doResize() && p.doCenterCrop() && p.doRescale() && p.doNormalize());
        assertEquals(224, ImageProcessor.fromPretrained(Fixtures.path("clip-vit-large-patch14-preprocessor")).cropHeight());
    }

    @Test
    void newStyleDictsGiveTheSameProcessing() throws IOException {
        ImageProcessor p = ImageProcessor.fromConfig(config("""
            {"crop_size": {"height": 56, "width": 56}, "do_center_crop": true, "do_convert_rgb": true,
             "do_normalize": true, "do_rescale": true, "do_resize": true,
             "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
             "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
             "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 56}}"""));
        ImageProcessor old = ImageProcessor.fromPretrained(Fixtures.path("tiny-clip-vit-p14-56"));
        RgbImage img = ImageCases.noise(90, 61, 3);
        assertArrayEquals(old.preprocess(img), p.preprocess(img));
        assertArrayEquals(ImageProcessor.clip(56).preprocess(img), p.preprocess(img));
    }

    @Test
    void missingKeysTakeClipDefaults() throws IOException {
        ImageProcessor p = ImageProcessor.fromConfig(config("{}"));
        assertEquals(ImageProcessor.ResizeSpec.shortestEdge(224), p.size());
        assertEquals(224, p.cropWidth());
        assertArrayEquals(ImageProcessor.CLIP_MEAN, p.mean());
    }

    @Test
    void explicitHeightWidthSizeAndListForms() throws IOException {
        ImageProcessor p = ImageProcessor.fromConfig(config("{\"size\": {\"height\": 30, \"width\": 40}, \"crop_size\": [20, 10]}"));
        assertArrayEquals(new int[] {30, 40}, p.outputSize(500, 7));
        RgbImage out = p.resizeAndCrop(ImageCases.noise(9, 9, 1));
        assertEquals(20, out.height());
        assertEquals(10, out.width());
        ImageProcessor q = ImageProcessor.fromConfig(config("{\"size\": [12, 8], \"do_center_crop\": false, \"image_mean\": 0.5, \"image_std\": 0.5}"));
        assertArrayEquals(new int[] {12, 8}, q.outputSize(3, 3));
        assertArrayEquals(new double[] {0.5, 0.5, 0.5}, q.mean());
    }

    @Test
    void badConfigsNameTheFileAndTheProblem() throws IOException {
        Path missing = tmp.resolve("absent");
        IOException e = assertThrows(IOException.class, () -> ImageProcessor.fromPretrained(missing));
        assertTrue(e.getMessage().contains("absent") && e.getMessage().contains("not found"), e.getMessage());
        for (String[] c : new String[][] {
            {"{not json", "not valid JSON"},
            {"[1, 2]", "not a JSON object"},
            {"{\"size\": \"big\"}", "size"},
            {"{\"size\": {\"longest_edge\": 3}}", "size"},
            {"{\"size\": -4}", "shortest_edge must be positive"},
            {"{\"crop_size\": {\"height\": 3}}", "crop_size"},
            {"{\"image_mean\": [0.1, 0.2]}", "image_mean"},
            {"{\"do_resize\": \"yes\"}", "do_resize"},
            {"{\"resample\": 0}", "NEAREST"},
        }) {
            Path p = config(c[0]);
            IOException ex = assertThrows(IOException.class, () -> ImageProcessor.fromConfig(p), c[0]);
            assertTrue(ex.getMessage().contains(p.toString()) && ex.getMessage().contains(c[1]), c[0] + " -> " + ex.getMessage());
        }
    }

    @Test
    void shortestEdgeSizes() {
        ImageProcessor p = ImageProcessor.clip(224);
        // [height, width]; the long side is int(224 * long / short)
        assertArrayEquals(new int[] {224, 336}, p.outputSize(200, 300));
        assertArrayEquals(new int[] {280, 224}, p.outputSize(200, 160));
        assertArrayEquals(new int[] {224, 372}, p.outputSize(200, 333)); // 372.96 truncated
        assertArrayEquals(new int[] {224, 224}, p.outputSize(192, 192));
        assertArrayEquals(new int[] {224, 500}, p.outputSize(224, 500)); // already the right short side
        assertArrayEquals(new int[] {56, 84}, ImageProcessor.clip(56).outputSize(200, 300));
    }

    @Test
    void centerCropUsesFloorDivision() {
        RgbImage img = ImageCases.noise(10, 7, 5);
        RgbImage c = ImageProcessor.centerCrop(img, 4, 4);
        // top = (7 - 4) // 2 = 1, left = (10 - 4) // 2 = 3
        assertEquals(img.crop(3, 1, 4, 4), c);
    }

    @Test
    void centerCropOfASmallerImagePadsWithZerosLikeUpstream() {
        RgbImage img = ImageCases.noise(4, 4, 6);
        RgbImage even = ImageProcessor.centerCrop(img, 6, 6);
        assertEquals(6, even.width());
        assertEquals(6, even.height());
        assertEquals(img, even.crop(1, 1, 4, 4));
        assertEquals(0, even.get(0, 0, 0) + even.get(5, 5, 2) + even.get(0, 5, 1));

        // odd difference: top = (5 - 8) // 2 = -2, pad = 1, window rows [-1, 7) clipped to [0, 7):
        // upstream returns 7 rows and 7 columns, not 8
        RgbImage five = ImageCases.noise(5, 5, 7);
        RgbImage odd = ImageProcessor.centerCrop(five, 8, 8);
        assertEquals(7, odd.width());
        assertEquals(7, odd.height());
        assertEquals(five, odd.crop(1, 1, 5, 5));
    }

    @Test
    void expandToSquarePlacesTheImageLikeLlava() {
        ImageProcessor p = ImageProcessor.clip(56);
        assertArrayEquals(new int[] {122, 116, 104}, p.padColor());
        RgbImage wide = ImageCases.noise(6, 2, 8);
        RgbImage sq = p.expandToSquare(wide);
        assertEquals(6, sq.width());
        assertEquals(6, sq.height());
        assertEquals(wide, sq.crop(0, 2, 6, 2)); // paste at (0, (6 - 2) // 2)
        assertEquals(122, sq.get(0, 0, 0));
        assertEquals(116, sq.get(5, 5, 1));
        assertEquals(104, sq.get(3, 4, 2));
        RgbImage tall = ImageCases.noise(2, 5, 9);
        RgbImage sq2 = p.expandToSquare(tall);
        assertEquals(tall, sq2.crop(1, 0, 2, 5)); // paste at ((5 - 2) // 2, 0)
        RgbImage square = ImageCases.noise(3, 3, 10);
        assertSame(square, p.expandToSquare(square));
    }

    @Test
    void withoutRescaleAndNormalizeTheValuesAreTheBytes() throws IOException {
        ImageProcessor p = ImageProcessor.fromConfig(config(
            "{\"do_resize\": false, \"do_center_crop\": false, \"do_rescale\": false, \"do_normalize\": false}"));
        RgbImage img = ImageCases.noise(3, 2, 11);
        float[] v = p.preprocess(img);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 2; y++) {
                for (int x = 0; x < 3; x++) assertEquals(img.get(x, y, c), v[c * 6 + y * 3 + x]);
            }
        }
    }

    @Test
    void batchNeedsOneSize() throws IOException {
        ImageProcessor p = ImageProcessor.fromConfig(config("{\"size\": 8, \"do_center_crop\": false}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> p.batch(List.of(ImageCases.noise(8, 8, 1), ImageCases.noise(16, 8, 2)), ImageProcessor.AspectRatio.SQUARE));
        assertTrue(e.getMessage().contains("image 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> p.batch(List.of(), ImageProcessor.AspectRatio.SQUARE));
    }

    @Test
    void aspectRatioNames() {
        assertEquals(ImageProcessor.AspectRatio.PAD, ImageProcessor.AspectRatio.parse("pad"));
        assertEquals(ImageProcessor.AspectRatio.SQUARE, ImageProcessor.AspectRatio.parse("square"));
        assertEquals(ImageProcessor.AspectRatio.SQUARE, ImageProcessor.AspectRatio.parse(null));
        assertThrows(IllegalArgumentException.class, () -> ImageProcessor.AspectRatio.parse("anyres"));
        assertFalse(ImageProcessor.clip(56).toString().isEmpty());
    }
}
