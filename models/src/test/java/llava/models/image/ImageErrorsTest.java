package llava.models.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bad input is an ImageDecodeException naming the file and the problem. */
class ImageErrorsTest {
    @TempDir
    Path tmp;

    private ImageDecodeException fails(Path file, String... phrases) {
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> ImageLoader.load(file));
        assertTrue(e.getMessage().contains(file.toString()), "message names the file: " + e.getMessage());
        for (String p : phrases) assertTrue(e.getMessage().contains(p), "message mentions '" + p + "': " + e.getMessage());
        return e;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static byte[] bytesOf(String caseFile) throws IOException {
        return Files.readAllBytes(ImageCases.file(caseFile));
    }

    @Test
    void missingFile() {
        fails(tmp.resolve("nope.jpg"), "no such file");
    }

    @Test
    void directoryIsNotAnImage() {
        fails(tmp, "directory");
    }

    @Test
    void emptyFile() throws IOException {
        fails(write("empty.png", new byte[0]), "empty");
    }

    @Test
    void textFileIsNotAnImage() throws IOException {
        fails(write("notes.jpg", "just some text\n".getBytes()), "not a supported image");
    }

    @Test
    void truncatedFilesOfEveryFormat() throws IOException {
        for (String c : List.of("jpeg/baseline_420.jpg", "jpeg/progressive_420.jpg", "png/rgb8.png", "png/rgb8_interlaced.png",
                "gif/large_256_colours.gif", "bmp/rgb24.bmp")) {
            byte[] b = bytesOf(c);
            Path cut = write("cut-" + c.replace('/', '-'), Arrays.copyOf(b, b.length * 3 / 5));
            fails(cut, "truncated");
        }
    }

    @Test
    void progressiveJpegWithoutEoiIsTruncated() throws IOException {
        // libjpeg reads a multi-scan file to EOI before it outputs anything
        byte[] b = bytesOf("jpeg/progressive_444.jpg");
        fails(write("no-eoi.jpg", Arrays.copyOf(b, b.length - 2)), "truncated");
    }

    /** A PNG header chunk for the given size (and 8-bit RGB). */
    private static byte[] pngWithHeader(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(PngDecoder.SIGNATURE);
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        writeChunk(out, "IHDR", ihdr.array());
        writeChunk(out, "IDAT", new byte[] {0x78, (byte) 0x9c, 0x03, 0x00});
        writeChunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void writeChunk(ByteArrayOutputStream out, String type, byte[] body) {
        out.writeBytes(ByteBuffer.allocate(4).putInt(body.length).array());
        byte[] t = type.getBytes();
        out.writeBytes(t);
        out.writeBytes(body);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(body);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void pixelLimitRejectsHugeHeadersBeforeDecoding() throws IOException {
        // 10000 x 10000 = 1e8 pixels > Pillow's MAX_IMAGE_PIXELS; nothing of that size is allocated
        fails(write("huge.png", pngWithHeader(10000, 10000)), "exceeds the limit of 89478485 pixels");

        byte[] jpeg = bytesOf("jpeg/baseline_420.jpg");
        int sof = indexOf(jpeg, (byte) 0xFF, (byte) 0xC0);
        jpeg[sof + 5] = (byte) (10000 >> 8); // height
        jpeg[sof + 6] = (byte) (10000 & 0xFF);
        jpeg[sof + 7] = (byte) (9000 >> 8); // width
        jpeg[sof + 8] = (byte) (9000 & 0xFF);
        fails(write("huge.jpg", jpeg), "exceeds the limit");

        byte[] gif = bytesOf("gif/offset.gif");
        gif[6] = gif[7] = gif[8] = gif[9] = (byte) 0xFF; // logical screen 65535 x 65535
        fails(write("huge.gif", gif), "exceeds the limit");

        byte[] bmp = bytesOf("bmp/rgb24.bmp");
        ByteBuffer.wrap(bmp, 18, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(20000).putInt(20000);
        fails(write("huge.bmp", bmp), "exceeds the limit");
    }

    @Test
    void pixelLimitIsConfigurable() throws IOException {
        Path jpeg = ImageCases.file("jpeg/baseline_420.jpg"); // 61 x 37 = 2257 pixels
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> new ImageLoader(2256).read(jpeg));
        assertTrue(e.getMessage().contains("exceeds the limit of 2256 pixels"), e.getMessage());
        assertEquals(61, new ImageLoader(2257).read(jpeg).width());
        assertThrows(IllegalArgumentException.class, () -> new ImageLoader(0));
    }

    @Test
    void corruptPngChecksum() throws IOException {
        byte[] b = bytesOf("png/rgb8.png");
        b[16] ^= 1; // inside IHDR
        fails(write("crc.png", b), "bad checksum", "IHDR");
    }

    @Test
    void unsupportedJpegProcesses() throws IOException {
        byte[] b = bytesOf("jpeg/baseline_444.jpg");
        int sof = indexOf(b, (byte) 0xFF, (byte) 0xC0);
        byte[] arithmetic = b.clone();
        arithmetic[sof + 1] = (byte) 0xC9;
        fails(write("arith.jpg", arithmetic), "arithmetic");
        byte[] twelveBit = b.clone();
        twelveBit[sof + 4] = 12;
        fails(write("12bit.jpg", twelveBit), "12-bit");
    }

    @Test
    void unsupportedBmpDepth() throws IOException {
        byte[] b = bytesOf("bmp/rgb24.bmp");
        b[28] = 2; // bits per pixel
        fails(write("2bit.bmp", b), "pixel depth (2)");
    }

    private static int indexOf(byte[] b, byte x, byte y) {
        for (int i = 0; i + 1 < b.length; i++) if (b[i] == x && b[i + 1] == y) return i;
        throw new AssertionError("marker not found");
    }

    /**
     * Random damage (cuts, flipped bytes, overwritten runs) to every test file: decoding either
     * succeeds or throws ImageDecodeException, never another exception, a crash or a hang; and a
     * decoder never fails through an unexpected runtime exception (wrapped by ImageLoader).
     */
    @Test
    void damagedFilesFailCleanly() {
        List<Path> files = Stream.of("jpeg", "png", "gif", "bmp").flatMap(f -> ImageCases.all(f).stream()).toList();
        Random rnd = new Random(12345);
        ImageLoader loader = new ImageLoader(1 << 20);
        int[] outcomes = new int[2];
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            for (Path f : files) {
                byte[] orig = Files.readAllBytes(f);
                for (int trial = 0; trial < 60; trial++) {
                    byte[] b = damage(orig, rnd);
                    try {
                        RgbImage img = loader.decode(b, f.getFileName() + "#" + trial);
                        assertTrue(img.width() > 0 && img.height() > 0);
                        outcomes[0]++;
                    } catch (ImageDecodeException e) {
                        assertFalse(e.getCause() instanceof RuntimeException,
                            "decoder bug on damaged " + f.getFileName() + " #" + trial + ": " + e.getMessage());
                        outcomes[1]++;
                    }
                }
            }
        });
        System.out.printf("[image errors] damaged files: %d decoded, %d rejected with ImageDecodeException%n", outcomes[0], outcomes[1]);
        assertTrue(outcomes[1] > 0 && outcomes[0] > 0);
    }

    private static byte[] damage(byte[] orig, Random rnd) {
        byte[] b = orig.clone();
        switch (rnd.nextInt(3)) {
            case 0 -> b = Arrays.copyOf(b, 1 + rnd.nextInt(b.length - 1));
            case 1 -> {
                int n = 1 + rnd.nextInt(8);
                for (int i = 0; i < n; i++) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
            default -> {
                int start = rnd.nextInt(b.length), len = Math.min(b.length - start, 1 + rnd.nextInt(32));
                for (int i = 0; i < len; i++) b[start + i] = (byte) (rnd.nextBoolean() ? 0xFF : rnd.nextInt(256));
            }
        }
        return b;
    }
}
