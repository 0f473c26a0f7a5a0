package llava.models.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Decoding against known pixels: files written by libjpeg-turbo and by hand-rolled PNG/GIF/BMP
 * encoders (image-cases), and files written here by javax.imageio's encoders.
 */
class ImageDecodingTest {
    private final ImageLoader loader = new ImageLoader();

    static Stream<Path> jpegCases() { return ImageCases.all("jpeg").stream(); }
    static Stream<Path> pngCases() { return ImageCases.all("png").stream(); }
    static Stream<Path> gifCases() { return ImageCases.all("gif").stream(); }
    static Stream<Path> bmpCases() { return ImageCases.all("bmp").stream(); }

    private void assertDecodesAsExpected(Path file) throws IOException {
        RgbImage expected = ImageCases.expected(file);
        RgbImage actual = loader.read(file);
        assertEquals(expected, actual, file.getFileName() + ": " + ImageCases.compare(expected, actual));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("jpegCases")
    void jpegMatchesLibjpegTurbo(Path file) throws IOException {
        assertDecodesAsExpected(file);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pngCases")
    void png(Path file) throws IOException {
        assertDecodesAsExpected(file);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("gifCases")
    void gif(Path file) throws IOException {
        assertDecodesAsExpected(file);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bmpCases")
    void bmp(Path file) throws IOException {
        assertDecodesAsExpected(file);
    }

    @Test
    void everyFormatHasItsCases() {
        assertTrue(ImageCases.all("jpeg").size() >= 24, "jpeg cases");
        assertTrue(ImageCases.all("png").size() >= 22, "png cases");
        assertTrue(ImageCases.all("gif").size() >= 8, "gif cases");
        assertTrue(ImageCases.all("bmp").size() >= 14, "bmp cases");
    }

    /** A copy of a JPEG without the marker segments of one type that come before the first scan. */
    private static byte[] withoutSegments(byte[] jpeg, int marker) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        int p = 2;
        while (true) {
            int m = jpeg[p + 1] & 0xFF;
            int len = ((jpeg[p + 2] & 0xFF) << 8) | (jpeg[p + 3] & 0xFF);
            if (m == 0xDA) {
                out.write(jpeg, p, jpeg.length - p);
                return out.toByteArray();
            }
            if (m != marker) out.write(jpeg, p, 2 + len);
            p += 2 + len;
        }
    }

    @Test
    void jpegWithoutHuffmanTablesUsesTheStandardOnes() throws IOException {
        // baseline_420 was written with libjpeg's default (standard) tables, so a Motion-JPEG
        // style copy without DHT segments must decode to the same pixels
        Path file = ImageCases.file("jpeg/baseline_420.jpg");
        byte[] stripped = withoutSegments(Files.readAllBytes(file), 0xC4);
        assertTrue(stripped.length < Files.size(file));
        assertEquals(ImageCases.expected(file), loader.decode(stripped, "no-dht.jpg"));
    }

    @Test
    void jpegGarbageBetweenSegmentsIsSkippedLikeLibjpeg() throws IOException {
        Path file = ImageCases.file("jpeg/progressive_420.jpg");
        byte[] b = Files.readAllBytes(file);
        // insert junk before the first DQT marker
        int p = 2;
        while ((b[p + 1] & 0xFF) != 0xDB) p += 2 + (((b[p + 2] & 0xFF) << 8) | (b[p + 3] & 0xFF));
        byte[] junk = {0x12, 0x34, 0x00, 0x56};
        byte[] out = new byte[b.length + junk.length];
        System.arraycopy(b, 0, out, 0, p);
        System.arraycopy(junk, 0, out, p, junk.length);
        System.arraycopy(b, p, out, p + junk.length, b.length - p);
        assertEquals(ImageCases.expected(file), loader.decode(out, "junk.jpg"));
    }

    @Test
    void singleScanJpegWithoutEoiStillDecodes() throws IOException {
        // libjpeg outputs a one-scan file's rows as they are decoded and reads EOI only after them
        Path file = ImageCases.file("jpeg/baseline_444.jpg");
        byte[] b = Files.readAllBytes(file);
        assertEquals(0xD9, b[b.length - 1] & 0xFF);
        byte[] noEoi = java.util.Arrays.copyOf(b, b.length - 2);
        assertEquals(ImageCases.expected(file), loader.decode(noEoi, "no-eoi.jpg"));
    }

    // ---------------------------------------------------------------------------------------
    // files written by javax.imageio, an encoder independent of the decoders under test
    // ---------------------------------------------------------------------------------------

    private RgbImage roundTrip(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), "ImageIO has a " + format + " writer for this image type");
        return loader.decode(out.toByteArray(), "imageio." + format);
    }

    @Test
    void imageioSixteenBitGrayPngClipsAt255LikePillow() throws IOException {
        BufferedImage img = new BufferedImage(17, 9, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster r = img.getRaster();
        Random rnd = new Random(1);
        int[][] v = new int[9][17];
        for (int y = 0; y < 9; y++) {
            for (int x = 0; x < 17; x++) {
                v[y][x] = y < 3 ? rnd.nextInt(300) : rnd.nextInt(65536);
                r.setSample(x, y, 0, v[y][x]);
            }
        }
        RgbImage got = roundTrip(img, "png");
        for (int y = 0; y < 9; y++) {
            for (int x = 0; x < 17; x++) {
                int want = Math.min(v[y][x], 255);
                for (int c = 0; c < 3; c++) assertEquals(want, got.get(x, y, c), "(" + x + "," + y + ") value " + v[y][x]);
            }
        }
    }

    @Test
    void imageioRgbaPngDropsAlphaWithoutCompositing() throws IOException {
        BufferedImage img = new BufferedImage(11, 7, BufferedImage.TYPE_INT_ARGB);
        Random rnd = new Random(2);
        for (int y = 0; y < 7; y++) for (int x = 0; x < 11; x++) img.setRGB(x, y, rnd.nextInt());
        RgbImage got = roundTrip(img, "png");
        for (int y = 0; y < 7; y++) {
            for (int x = 0; x < 11; x++) {
                int argb = img.getRGB(x, y);
                assertEquals((argb >> 16) & 0xFF, got.get(x, y, 0));
                assertEquals((argb >> 8) & 0xFF, got.get(x, y, 1));
                assertEquals(argb & 0xFF, got.get(x, y, 2));
            }
        }
    }

    private static IndexColorModel randomPalette(int bits, int size, long seed) {
        Random rnd = new Random(seed);
        byte[] r = new byte[size], g = new byte[size], b = new byte[size];
        rnd.nextBytes(r);
        rnd.nextBytes(g);
        rnd.nextBytes(b);
        return new IndexColorModel(bits, size, r, g, b);
    }

    private static void assertPaletteImage(BufferedImage img, IndexColorModel cm, RgbImage got) {
        WritableRaster r = img.getRaster();
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int idx = r.getSample(x, y, 0);
                assertEquals(cm.getRed(idx), got.get(x, y, 0), "(" + x + "," + y + ")");
                assertEquals(cm.getGreen(idx), got.get(x, y, 1));
                assertEquals(cm.getBlue(idx), got.get(x, y, 2));
            }
        }
    }

    private static BufferedImage randomIndexed(int w, int h, int type, IndexColorModel cm, long seed) {
        BufferedImage img = new BufferedImage(w, h, type, cm);
        Random rnd = new Random(seed);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, rnd.nextInt(cm.getMapSize()));
        return img;
    }

    @Test
    void imageioFourBitPalettePng() throws IOException {
        IndexColorModel cm = randomPalette(4, 16, 3);
        BufferedImage img = randomIndexed(19, 5, BufferedImage.TYPE_BYTE_BINARY, cm, 4);
        assertPaletteImage(img, cm, roundTrip(img, "png"));
    }

    @Test
    void imageioGif() throws IOException {
        IndexColorModel cm = randomPalette(8, 256, 5);
        BufferedImage img = randomIndexed(37, 23, BufferedImage.TYPE_BYTE_INDEXED, cm, 6);
        assertPaletteImage(img, cm, roundTrip(img, "gif"));
    }

    @Test
    void imageioBmp() throws IOException {
        BufferedImage img = new BufferedImage(15, 6, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(7);
        for (int y = 0; y < 6; y++) for (int x = 0; x < 15; x++) img.setRGB(x, y, rnd.nextInt());
        RgbImage got = roundTrip(img, "bmp");
        for (int y = 0; y < 6; y++) {
            for (int x = 0; x < 15; x++) {
                int rgb = img.getRGB(x, y);
                assertEquals((rgb >> 16) & 0xFF, got.get(x, y, 0));
                assertEquals((rgb >> 8) & 0xFF, got.get(x, y, 1));
                assertEquals(rgb & 0xFF, got.get(x, y, 2));
            }
        }
    }
}
