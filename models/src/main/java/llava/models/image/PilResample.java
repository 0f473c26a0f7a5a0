package llava.models.image;

/**
 * {@code Image.resize((w, h), resample)} of Pillow for 8-bit RGB images, reproduced bit for bit.
 *
 * <p>What Pillow does (libImaging/Resample.c), and so what this does: a separable convolution,
 * horizontal pass first (only over the source rows the vertical pass will read), then vertical.
 * When downscaling, the filter's support is stretched by the scale factor (antialiasing). For
 * each output pixel the weights are evaluated in double at the distance of each source pixel
 * centre, normalised to sum to 1, then turned into fixed point with 22 fraction bits (rounded
 * half away from zero). Each pass sums u8 * weight in 32-bit integers starting from half an
 * output step, shifts right by 22 and clamps to 0..255, so the intermediate image is u8 too.
 */
public final class PilResample {
    private PilResample() {}

    /** Fraction bits of the fixed-point weights ({@code PRECISION_BITS = 32 - 8 - 2}). */
    private static final int PRECISION_BITS = 22;

    /** Pillow's resampling filters with their support radius at scale 1. */
    public enum Filter {
        BOX(0.5), BILINEAR(1.0), HAMMING(1.0), BICUBIC(2.0), LANCZOS(3.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double weight(double x) {
            switch (this) {
                case BOX:
                    return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
                case BILINEAR:
                    if (x < 0.0) x = -x;
                    return x < 1.0 ? 1.0 - x : 0.0;
                case HAMMING:
                    if (x < 0.0) x = -x;
                    if (x == 0.0) return 1.0;
                    if (x >= 1.0) return 0.0;
                    x = x * Math.PI;
                    // Pillow writes these two constants as C floats
                    return StrictMath.sin(x) / x * ((double) 0.54f + (double) 0.46f * StrictMath.cos(x));
                case BICUBIC: {
                    // Keys' cubic convolution with a = -0.5
                    final double a = -0.5;
                    if (x < 0.0) x = -x;
                    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
                    return 0.0;
                }
                case LANCZOS:
                    return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
                default:
                    throw new AssertionError(this);
            }
        }

        private static double sinc(double x) {
            if (x == 0.0) return 1.0;
            x = x * Math.PI;
            return StrictMath.sin(x) / x;
        }

        /**
         * The filter for a PIL resample id as stored in preprocessor configs ({@code resample}):
         * 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING. NEAREST (0) is a different code path
         * in Pillow and is not supported here.
         */
        public static Filter fromPilId(int id) {
            return switch (id) {
                case 1 -> LANCZOS;
                case 2 -> BILINEAR;
                case 3 -> BICUBIC;
                case 4 -> BOX;
                case 5 -> HAMMING;
                case 0 -> throw new IllegalArgumentException("resample=0 (NEAREST) is not supported; use 1..5");
                default -> throw new IllegalArgumentException("unknown PIL resample filter id " + id + " (expected 1..5)");
            };
        }
    }

    /** Per output pixel: first source index, number of taps, and the fixed-point weights. */
    private record Coefficients(int[] first, int[] count, int[] weights, int taps) {}

    /** Bicubic resize, as {@code img.resize((outWidth, outHeight), Image.BICUBIC)}. */
    public static RgbImage resize(RgbImage img, int outWidth, int outHeight) {
        return resize(img, outWidth, outHeight, Filter.BICUBIC);
    }

    public static RgbImage resize(RgbImage img, int outWidth, int outHeight, Filter filter) {
        if (outWidth <= 0 || outHeight <= 0) {
            throw new IllegalArgumentException("resize target must be positive, got " + outWidth + "x" + outHeight);
        }
        int inW = img.width(), inH = img.height();
        // Pillow returns a copy when the size does not change; our images are immutable
        if (inW == outWidth && inH == outHeight) return img;
        RgbImage.checkedByteCount(outWidth, outHeight);

        Coefficients vert = coefficients(inH, outHeight, filter);
        byte[] src = img.data();
        int srcW = inW;
        int rowOffset = 0;
        if (outWidth != inW) {
            Coefficients horiz = coefficients(inW, outWidth, filter);
            // only the source rows the vertical pass reads
            int firstRow = vert.first[0];
            int lastRow = vert.first[outHeight - 1] + vert.count[outHeight - 1];
            src = horizontal(src, inW, firstRow, lastRow - firstRow, horiz, outWidth);
            srcW = outWidth;
            rowOffset = firstRow;
        }
        if (outHeight != inH) {
            src = vertical(src, srcW, rowOffset, vert, outHeight);
        }
        return new RgbImage(outWidth, outHeight, src);
    }

    private static Coefficients coefficients(int inSize, int outSize, Filter filter) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = filter.support * filterScale;
        int taps = (int) Math.ceil(support) * 2 + 1;
        if ((long) taps * outSize > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("resize from " + inSize + " to " + outSize + " needs too many filter taps");
        }
        int[] first = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[taps * outSize];
        double[] w = new double[taps];
        double invScale = 1.0 / filterScale;
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            // Pillow rounds the window ends with (int)(v + 0.5), truncating toward zero
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++) {
                double v = filter.weight((x + xmin - center + 0.5) * invScale);
                w[x] = v;
                sum += v;
            }
            for (int x = 0; x < xmax; x++) {
                double k = sum != 0.0 ? w[x] / sum : w[x];
                weights[xx * taps + x] = k < 0 ? (int) (-0.5 + k * (1 << PRECISION_BITS)) : (int) (0.5 + k * (1 << PRECISION_BITS));
            }
            first[xx] = xmin;
            count[xx] = Math.max(xmax, 0);
        }
        return new Coefficients(first, count, weights, taps);
    }

    /** Horizontal pass over source rows [firstRow, firstRow + rows). */
    private static byte[] horizontal(byte[] src, int srcW, int firstRow, int rows, Coefficients c, int outW) {
        byte[] out = new byte[RgbImage.checkedByteCount(outW, rows)];
        int half = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < rows; y++) {
            int rowBase = (y + firstRow) * srcW * 3;
            int outBase = y * outW * 3;
            for (int xx = 0; xx < outW; xx++) {
                int xmin = c.first[xx], n = c.count[xx], k = xx * c.taps;
                int s0 = half, s1 = half, s2 = half;
                int p = rowBase + xmin * 3;
                for (int x = 0; x < n; x++, p += 3) {
                    int wgt = c.weights[k + x];
                    s0 += (src[p] & 0xFF) * wgt;
                    s1 += (src[p + 1] & 0xFF) * wgt;
                    s2 += (src[p + 2] & 0xFF) * wgt;
                }
                int o = outBase + xx * 3;
                out[o] = clip8(s0);
                out[o + 1] = clip8(s1);
                out[o + 2] = clip8(s2);
            }
        }
        return out;
    }

    /** Vertical pass; the source row of tap index i is first - rowOffset + i. */
    private static byte[] vertical(byte[] src, int w, int rowOffset, Coefficients c, int outH) {
        byte[] out = new byte[RgbImage.checkedByteCount(w, outH)];
        int half = 1 << (PRECISION_BITS - 1);
        int stride = w * 3;
        for (int yy = 0; yy < outH; yy++) {
            int ymin = c.first[yy] - rowOffset, n = c.count[yy], k = yy * c.taps;
            int outBase = yy * stride;
            for (int i = 0; i < stride; i++) {
                int s = half;
                int p = ymin * stride + i;
                for (int y = 0; y < n; y++, p += stride) {
                    s += (src[p] & 0xFF) * c.weights[k + y];
                }
                out[outBase + i] = clip8(s);
            }
        }
        return out;
    }

    /** Pillow's clip8: the sum shifted down by PRECISION_BITS, clamped to 0..255. */
    private static byte clip8(int sum) {
        int v = sum >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }
}
