package llava.models.image;

/** What every decoder needs besides the bytes: the file's name for messages and the pixel limit. */
final class DecodeContext {
    final String source;
    final long maxPixels;

    DecodeContext(String source, long maxPixels) {
        this.source = source;
        this.maxPixels = maxPixels;
    }

    ImageDecodeException error(String problem) {
        return new ImageDecodeException(source, problem);
    }

    ImageDecodeException truncated(String format) {
        return new ImageDecodeException(source, "truncated " + format + " file (the data ends before the image is complete)");
    }

    /**
     * Rejects sizes that are empty or over the limit; called with the header's dimensions, before
     * anything of that size is allocated.
     */
    void checkSize(int width, int height, String format) throws ImageDecodeException {
        if (width <= 0 || height <= 0) {
            throw error(format + " header gives an invalid size " + Integer.toUnsignedString(width) + "x" + Integer.toUnsignedString(height));
        }
        long pixels = (long) width * height;
        if (pixels > maxPixels) {
            throw error(format + " image of " + width + "x" + height + " = " + pixels + " pixels exceeds the limit of "
                + maxPixels + " pixels (a possible decompression bomb)");
        }
        if (pixels * 3 > Integer.MAX_VALUE - 16) {
            throw error(format + " image of " + width + "x" + height + " pixels is too large to hold in memory as one array");
        }
    }
}
