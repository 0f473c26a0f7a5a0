package llava.models.image;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads JPEG, PNG, GIF (first frame) and BMP files into RGB images with the pixels of Pillow's
 * {@code Image.open(f).convert("RGB")}, which is what LLaVA feeds its image processor. The format
 * is recognised from the file's first bytes, not its name.
 *
 * <p>Safety: an image whose header announces more than {@link #maxPixels()} pixels is rejected
 * before anything of that size is allocated (Pillow's default {@code MAX_IMAGE_PIXELS}); every
 * problem (missing, unreadable, truncated, corrupt, unsupported) is an
 * {@link ImageDecodeException} naming the file.
 */
public final class ImageLoader {
    /** Pillow's {@code Image.MAX_IMAGE_PIXELS}: {@code int(1024 * 1024 * 1024 // 4 // 3)}. */
    public static final long PIL_MAX_IMAGE_PIXELS = 89_478_485L;

    private final long maxPixels;

    public ImageLoader() {
        this(PIL_MAX_IMAGE_PIXELS);
    }

    public ImageLoader(long maxPixels) {
        if (maxPixels <= 0) throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
        this.maxPixels = maxPixels;
    }

    public long maxPixels() {
        return maxPixels;
    }

    /** Reads an image with the default pixel limit. */
    public static RgbImage load(Path file) throws ImageDecodeException {
        return new ImageLoader().read(file);
    }

    public RgbImage read(Path file) throws ImageDecodeException {
        String name = file.toString();
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) throw new ImageDecodeException(name, "is a directory, not an image file");
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 16) throw new ImageDecodeException(name, "file of " + size + " bytes is too large to read");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageDecodeException(name, "no such file", e);
        } catch (AccessDeniedException e) {
            throw new ImageDecodeException(name, "permission denied", e);
        } catch (ImageDecodeException e) {
            throw e;
        } catch (IOException e) {
            throw new ImageDecodeException(name, "cannot read the file (" + e + ")", e);
        }
        return decode(bytes, name);
    }

    /** Decodes an image held in memory; {@code source} names it in error messages. */
    public RgbImage decode(byte[] bytes, String source) throws ImageDecodeException {
        DecodeContext ctx = new DecodeContext(source, maxPixels);
        if (bytes.length == 0) throw ctx.error("file is empty");
        try {
            if (startsWith(bytes, 0xFF, 0xD8, 0xFF)) return JpegDecoder.decode(bytes, ctx);
            if (startsWith(bytes, PngDecoder.SIGNATURE)) return PngDecoder.decode(bytes, ctx);
            if (startsWith(bytes, 'G', 'I', 'F', '8', '7', 'a') || startsWith(bytes, 'G', 'I', 'F', '8', '9', 'a')) {
                return GifDecoder.decode(bytes, ctx);
            }
            if (startsWith(bytes, 'B', 'M')) return BmpDecoder.decode(bytes, ctx);
        } catch (RuntimeException e) {
            // a decoder bug or a case its checks missed must still name the file, not crash the caller
            throw new ImageDecodeException(source, "corrupt image data (" + e + ")", e);
        }
        throw ctx.error("not a supported image file (JPEG, PNG, GIF or BMP); it starts with bytes " + hexPrefix(bytes));
    }

    private static boolean startsWith(byte[] b, byte[] prefix) {
        if (b.length < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if (b[i] != prefix[i]) return false;
        return true;
    }

    private static boolean startsWith(byte[] b, int... prefix) {
        if (b.length < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if ((b[i] & 0xFF) != prefix[i]) return false;
        return true;
    }

    private static String hexPrefix(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) sb.append(String.format("%02x", b[i] & 0xFF));
        return sb.toString();
    }
}
