package llava.models.image;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Test images in src/test/resources/image-cases/{jpeg,png,gif,bmp}, each next to a binary PPM of
 * the RGB pixels Pillow gives for it; made by models/tools/image-cases (JPEG references decoded
 * by libjpeg-turbo, the library Pillow uses).
 */
final class ImageCases {
    private ImageCases() {}

    static Path dir() {
        Path p = Paths.get("src", "test", "resources", "image-cases").toAbsolutePath();
        if (!Files.isDirectory(p)) throw new IllegalStateException("image-cases folder missing: " + p);
        return p;
    }

    static Path file(String relative) {
        Path p = dir().resolve(relative);
        if (!Files.exists(p)) throw new IllegalStateException("image case missing: " + p);
        return p;
    }

    /** Every image file of a format folder (the PPM next to it is its expected result). */
    static List<Path> all(String format) {
        try (Stream<Path> s = Files.list(dir().resolve(format))) {
            return s.filter(p -> !p.toString().endsWith(".ppm")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static RgbImage expected(Path image) throws IOException {
        String name = image.getFileName().toString();
        return readPpm(image.resolveSibling(name.substring(0, name.lastIndexOf('.')) + ".ppm"));
    }

    /** A binary PPM ("P6 w h 255" + RGB bytes) as written by the case generators. */
    static RgbImage readPpm(Path p) throws IOException {
        byte[] b = Files.readAllBytes(p);
        int pos = 0;
        String[] fields = new String[4];
        for (int i = 0; i < 4; i++) {
            while (Character.isWhitespace(b[pos])) pos++;
            int start = pos;
            while (!Character.isWhitespace(b[pos])) pos++;
            fields[i] = new String(b, start, pos - start, StandardCharsets.US_ASCII);
        }
        pos++; // the single whitespace after maxval
        if (!fields[0].equals("P6") || !fields[3].equals("255")) throw new IOException("not an 8-bit binary PPM: " + p);
        int w = Integer.parseInt(fields[1]), h = Integer.parseInt(fields[2]);
        return new RgbImage(w, h, Arrays.copyOfRange(b, pos, pos + w * h * 3));
    }

    /** An image of uniformly random bytes. */
    static RgbImage noise(int w, int h, long seed) {
        byte[] px = new byte[w * h * 3];
        new java.util.Random(seed).nextBytes(px);
        return new RgbImage(w, h, px);
    }

    /** "max diff D, N of M values differ" for two same-size images, or a size mismatch. */
    static String compare(RgbImage expected, RgbImage actual) {
        if (expected.width() != actual.width() || expected.height() != actual.height()) {
            return "size " + actual.width() + "x" + actual.height() + " instead of " + expected.width() + "x" + expected.height();
        }
        byte[] e = expected.data(), a = actual.data();
        int max = 0, n = 0;
        for (int i = 0; i < e.length; i++) {
            int d = Math.abs((e[i] & 0xFF) - (a[i] & 0xFF));
            if (d != 0) n++;
            max = Math.max(max, d);
        }
        return "max diff " + max + ", " + n + " of " + e.length + " values differ";
    }
}
