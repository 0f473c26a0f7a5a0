package llava.models.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The resampler against a float64 reference written from the definition (Keys cubic, a = -0.5,
 * support stretched by the downscale factor, weights normalised per output pixel, horizontal pass
 * then vertical, each rounded and clamped to u8). Pillow's only other ingredient is its 22-bit
 * fixed-point weights, which can move a value that lies almost exactly on .5 by one step. The
 * bit-exact check against Pillow itself is ImageProcessorFixtureTest.
 */
class PilResampleTest {
    private static double cubic(double x) {
        x = Math.abs(x);
        if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
        if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
        return 0;
    }

    /** out[o][c] for each output index o along one axis of length outSize, over input values in[i][c]. */
    private static double[][] weights(int inSize, int outSize) {
        double scale = (double) inSize / outSize, stretch = Math.max(scale, 1);
        double[][] w = new double[outSize][inSize];
        for (int o = 0; o < outSize; o++) {
            double center = (o + 0.5) * scale, sum = 0;
            for (int i = 0; i < inSize; i++) sum += w[o][i] = cubic((i + 0.5 - center) / stretch);
            for (int i = 0; i < inSize; i++) w[o][i] /= sum;
        }
        return w;
    }

    private static int roundClamp(double v) {
        return (int) Math.max(0, Math.min(255, Math.floor(v + 0.5)));
    }

    private static RgbImage reference(RgbImage img, int outW, int outH) {
        int inW = img.width(), inH = img.height();
        int[][][] tmp = new int[inH][outW][3];
        double[][] wx = weights(inW, outW), wy = weights(inH, outH);
        for (int y = 0; y < inH; y++) {
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int i = 0; i < inW; i++) s += wx[x][i] * img.get(i, y, c);
                    tmp[y][x][c] = inW == outW ? img.get(x, y, c) : roundClamp(s);
                }
            }
        }
        byte[] out = new byte[outW * outH * 3];
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < 3; c++) {
                    double s = 0;
                    for (int i = 0; i < inH; i++) s += wy[y][i] * tmp[i][x][c];
                    out[(y * outW + x) * 3 + c] = (byte) (inH == outH ? tmp[y][x][c] : roundClamp(s));
                }
            }
        }
        return new RgbImage(outW, outH, out);
    }


    @ParameterizedTest(name = "{0}x{1} -> {2}x{3}")
    @CsvSource({"97,61,23,17", "13,7,50,31", "40,10,25,33", "1,9,4,3", "224,224,56,56", "300,200,84,56", "31,31,31,12"})
    void matchesFloat64Reference(int inW, int inH, int outW, int outH) {
        RgbImage img = ImageCases.noise(inW, inH, 31L * inW + inH);
        RgbImage ours = PilResample.resize(img, outW, outH);
        RgbImage ref = reference(img, outW, outH);
        assertEquals(outW, ours.width());
        assertEquals(outH, ours.height());
        int max = 0, differ = 0;
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < 3; c++) {
                    int d = Math.abs(ours.get(x, y, c) - ref.get(x, y, c));
                    if (d > 0) differ++;
                    max = Math.max(max, d);
                }
            }
        }
        System.out.printf("[resample] %dx%d -> %dx%d vs float64: max diff %d, %d of %d values differ%n",
            inW, inH, outW, outH, max, differ, outW * outH * 3);
        assertTrue(max <= 1, "max diff " + max);
        assertTrue(differ <= Math.max(2, outW * outH * 3 / 200), differ + " values differ");
    }

    @Test
    void sameSizeIsACopy() {
        RgbImage img = ImageCases.noise(5, 4, 1);
        assertSame(img, PilResample.resize(img, 5, 4));
    }

    @Test
    void constantImageStaysConstant() {
        RgbImage img = RgbImage.filled(37, 23, 200, 0, 255);
        RgbImage out = PilResample.resize(img, 11, 60);
        for (int y = 0; y < 60; y++) {
            for (int x = 0; x < 11; x++) {
                assertEquals(200, out.get(x, y, 0));
                assertEquals(0, out.get(x, y, 1));
                assertEquals(255, out.get(x, y, 2));
            }
        }
    }

    @Test
    void pilFilterIds() {
        assertEquals(PilResample.Filter.BICUBIC, PilResample.Filter.fromPilId(3));
        assertEquals(PilResample.Filter.BILINEAR, PilResample.Filter.fromPilId(2));
        assertEquals(PilResample.Filter.LANCZOS, PilResample.Filter.fromPilId(1));
        assertThrows(IllegalArgumentException.class, () -> PilResample.Filter.fromPilId(0));
        assertThrows(IllegalArgumentException.class, () -> PilResample.Filter.fromPilId(7));
        assertThrows(IllegalArgumentException.class, () -> PilResample.resize(ImageCases.noise(2, 2, 0), 0, 3));
    }
}
