package llava.models.image;

import java.util.Arrays;

/**
 * An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (the layout of PIL's
 * {@code np.asarray(Image.convert("RGB"))}, i.e. [H, W, 3]). Immutable: every operation returns a
 * new image, and the constructor copies nothing, so callers hand over their array.
 */
public final class RgbImage {
    private final int width;
    private final int height;
    private final byte[] rgb;

    /**
     * Wraps {@code rgb} (length width * height * 3, row-major HWC) without copying; the caller must
     * not modify it afterwards.
     */
    public RgbImage(int width, int height, byte[] rgb) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        long n = checkedByteCount(width, height);
        if (rgb.length != n) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs " + n + " bytes, got " + rgb.length);
        }
        this.width = width;
        this.height = height;
        this.rgb = rgb;
    }

    /** Bytes of a width x height RGB image; throws if that does not fit a Java array. */
    static int checkedByteCount(int width, int height) {
        long n = (long) width * height * 3;
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("image of " + width + "x" + height + " pixels is too large for one array");
        }
        return (int) n;
    }

    /** An image of one colour, like {@code Image.new("RGB", (w, h), (r, g, b))}. */
    public static RgbImage filled(int width, int height, int r, int g, int b) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        byte[] px = new byte[checkedByteCount(width, height)];
        for (int i = 0; i < px.length; i += 3) {
            px[i] = (byte) r;
            px[i + 1] = (byte) g;
            px[i + 2] = (byte) b;
        }
        return new RgbImage(width, height, px);
    }

    public int width() { return width; }
    public int height() { return height; }

    /** Channel c (0 = R, 1 = G, 2 = B) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        if (x < 0 || x >= width || y < 0 || y >= height || c < 0 || c > 2) {
            throw new IndexOutOfBoundsException("pixel (" + x + ", " + y + ") channel " + c + " outside " + width + "x" + height);
        }
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }

    /** A copy of the pixels, [H, W, 3] row-major. */
    public byte[] toByteArray() {
        return rgb.clone();
    }

    /** The backing array, for code in this package that only reads it. */
    byte[] data() {
        return rgb;
    }

    /**
     * The region [left, left + w) x [top, top + h); it must lie inside the image (see
     * {@link ImageProcessor#centerCrop} for the upstream crop that pads).
     */
    public RgbImage crop(int left, int top, int w, int h) {
        if (left < 0 || top < 0 || w <= 0 || h <= 0 || left + w > width || top + h > height) {
            throw new IllegalArgumentException("crop (" + left + ", " + top + ", " + w + "x" + h + ") is not inside " + width + "x" + height);
        }
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            System.arraycopy(rgb, ((top + y) * width + left) * 3, out, y * w * 3, w * 3);
        }
        return new RgbImage(w, h, out);
    }

    /**
     * A copy of this image with {@code src} pasted at (x, y), clipped to this image, like PIL's
     * {@code Image.paste(src, (x, y))} for two RGB images.
     */
    public RgbImage paste(RgbImage src, int x, int y) {
        byte[] out = rgb.clone();
        int x0 = Math.max(0, x), y0 = Math.max(0, y);
        int x1 = Math.min(width, x + src.width), y1 = Math.min(height, y + src.height);
        for (int yy = y0; yy < y1; yy++) {
            if (x1 > x0) {
                System.arraycopy(src.rgb, ((yy - y) * src.width + (x0 - x)) * 3, out, (yy * width + x0) * 3, (x1 - x0) * 3);
            }
        }
        return new RgbImage(width, height, out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RgbImage other && other.width == width && other.height == height && Arrays.equals(other.rgb, rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
