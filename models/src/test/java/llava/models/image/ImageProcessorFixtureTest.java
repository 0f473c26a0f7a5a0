package llava.models.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.List;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.stream.Stream;

/**
 * The whole LLaVA image path (file -> RGB -> resize -> crop -> rescale -> normalize, and the
 * 'pad' variant) against refs/image_processing.safetensors, computed by Pillow + transformers
 * cae78c46 + LLaVA. Expected: exact u8 and bit-exact floats.
 */
class ImageProcessorFixtureTest {
    private static final List<String> IMAGES = List.of("astronaut_rgba.png", "camera_gray.png", "cat_landscape.jpg");

    static Stream<Arguments> cases() {
        return IMAGES.stream().flatMap(img -> Stream.of(
            Arguments.of(img, "tiny", "tiny-clip-vit-p14-56"),
            Arguments.of(img, "224", "clip-vit-large-patch14-preprocessor")));
    }

    private static String key(String image, String setting, String what) {
        return image.substring(0, image.indexOf('.')) + "." + setting + "." + what;
    }

    private static byte[] u8(SafetensorsFile f, String name) throws IOException {
        try (Tensor t = f.load(name)) {
            return (byte[]) t.toHostArray();
        }
    }

    private static float[] f32(SafetensorsFile f, String name, int... shape) throws IOException {
        try (Tensor t = f.load(name)) {
            assertArrayEquals(shape, t.shape(), name + " shape");
            return t.toFloatArray();
        }
    }

    /** Max |a - b| over u8 pixels, and how many differ. */
    private static int[] u8Diff(byte[] expected, byte[] actual) {
        assertEquals(expected.length, actual.length, "pixel count");
        int max = 0, count = 0;
        for (int i = 0; i < expected.length; i++) {
            int d = Math.abs((expected[i] & 0xFF) - (actual[i] & 0xFF));
            if (d > 0) count++;
            max = Math.max(max, d);
        }
        return new int[] {max, count};
    }

    private static double maxAbs(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "value count");
        double max = 0;
        for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs((double) expected[i] - actual[i]));
        return max;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesUpstream(String image, String setting, String configDir) throws IOException {
        ImageProcessor proc = ImageProcessor.fromPretrained(Fixtures.path(configDir));
        RgbImage rgb = ImageLoader.load(Fixtures.path("images/" + image));
        try (SafetensorsFile refs = SafetensorsFile.open(Fixtures.path("refs/image_processing.safetensors"))) {
            // steps 1-3: decoded, resized and centre-cropped u8
            RgbImage cropped = proc.resizeAndCrop(rgb);
            int s = proc.cropHeight();
            assertEquals(s, cropped.height());
            assertEquals(s, cropped.width());
            int[] d = u8Diff(u8(refs, key(image, setting, "resized_cropped_u8")), cropped.toByteArray());
            System.out.printf("[image fixtures] %s %s resized_cropped_u8: max diff %d, %d of %d values differ%n",
                image, setting, d[0], d[1], s * s * 3);
            assertEquals(0, d[0], "resized_cropped_u8 must match Pillow exactly");

            // steps 4-5: float32 pixel values
            float[] ours = proc.preprocess(rgb);
            String pvKey = key(image, setting, "pixel_values");
            if (refs.contains(pvKey)) {
                double m = maxAbs(f32(refs, pvKey, 3, s, s), ours);
                System.out.printf("[image fixtures] %s %s pixel_values: max abs diff %g%n", image, setting, m);
                assertEquals(0.0, m, "pixel_values must be bit-exact");
            } else {
                // only the u8 image is stored: normalising it must give the same floats
                RgbImage refU8 = new RgbImage(s, s, u8(refs, key(image, setting, "resized_cropped_u8")));
                assertArrayEquals(proc.normalize(refU8), ours);
            }

            String padKey = key(image, setting, "pixel_values_pad");
            if (refs.contains(padKey)) {
                float[] pad = proc.preprocess(rgb, ImageProcessor.AspectRatio.PAD);
                double m = maxAbs(f32(refs, padKey, 3, s, s), pad);
                System.out.printf("[image fixtures] %s %s pixel_values_pad: max abs diff %g%n", image, setting, m);
                assertEquals(0.0, m, "pixel_values_pad must be bit-exact");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("settings")
    void batchTensorStacksThePerImageValues(String configDir) throws IOException {
        ImageProcessor proc = ImageProcessor.fromPretrained(Fixtures.path(configDir));
        List<RgbImage> imgs = IMAGES.stream().map(n -> {
            try {
                return ImageLoader.load(Fixtures.path("images/" + n));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }).toList();
        int s = proc.cropHeight();
        for (ImageProcessor.AspectRatio mode : ImageProcessor.AspectRatio.values()) {
            try (Tensor batch = proc.batch(imgs, mode)) {
                assertArrayEquals(new int[] {3, 3, s, s}, batch.shape());
                float[] all = batch.toFloatArray();
                for (int i = 0; i < imgs.size(); i++) {
                    float[] one = proc.preprocess(imgs.get(i), mode);
                    float[] slice = java.util.Arrays.copyOfRange(all, i * one.length, (i + 1) * one.length);
                    assertArrayEquals(one, slice, "batch row " + i + " " + mode);
                    try (Tensor single = proc.toTensor(imgs.get(i), mode)) {
                        assertArrayEquals(new int[] {3, s, s}, single.shape());
                        assertArrayEquals(one, single.toFloatArray());
                    }
                }
            }
        }
    }

    static Stream<String> settings() {
        return Stream.of("tiny-clip-vit-p14-56", "clip-vit-large-patch14-preprocessor");
    }
}
