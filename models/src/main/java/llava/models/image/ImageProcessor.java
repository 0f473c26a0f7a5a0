package llava.models.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import llava.core.Tensor;
import llava.models.ConfigJson;

/**
 * CLIP image preprocessing exactly as {@code CLIPImageProcessor} of transformers cae78c46 computes
 * it, plus LLaVA's {@code image_aspect_ratio='pad'}:
 *
 * <ol>
 *   <li>(pad only) paste the image centred on a square of colour {@code int(mean * 255)};
 *   <li>resize so the shortest edge is S, the other edge {@code int(S * long / short)}, with PIL's
 *       resampling ({@link PilResample}); or to an explicit height x width;
 *   <li>centre crop to the crop size, {@code top = (h - ch) // 2}, {@code left = (w - cw) // 2},
 *       zero padding an image smaller than the crop the way that version did;
 *   <li>{@code float32(u8 * rescale_factor)} with the product in float64;
 *   <li>{@code (x - float32(mean)) / float32(std)} in float32, channels first.
 * </ol>
 */
public final class ImageProcessor {
    /** CLIP's normalisation constants (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD). */
    public static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    public static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    /** LLaVA's {@code image_aspect_ratio}: plain resize + centre crop, or pad to a square first. */
    public enum AspectRatio {
        SQUARE, PAD;

        /** "square" (also null or empty: LLaVA's default) or "pad"; anything else is an error. */
        public static AspectRatio parse(String s) {
            if (s == null || s.isEmpty() || s.equals("square")) return SQUARE;
            if (s.equals("pad")) return PAD;
            throw new IllegalArgumentException("unknown image_aspect_ratio '" + s + "' (expected 'square' or 'pad')");
        }
    }

    /** How step 2 picks the output size. */
    public record ResizeSpec(int shortestEdge, int height, int width) {
        public static ResizeSpec shortestEdge(int s) {
            return new ResizeSpec(positive(s, "size.shortest_edge"), 0, 0);
        }

        public static ResizeSpec exact(int height, int width) {
            return new ResizeSpec(0, positive(height, "size.height"), positive(width, "size.width"));
        }

        boolean byShortestEdge() { return shortestEdge > 0; }
    }

    private final boolean doResize;
    private final ResizeSpec size;
    private final PilResample.Filter filter;
    private final boolean doCenterCrop;
    private final int cropHeight;
    private final int cropWidth;
    private final boolean doRescale;
    private final double rescaleFactor;
    private final boolean doNormalize;
    private final double[] mean;
    private final double[] std;

    public ImageProcessor(boolean doResize, ResizeSpec size, PilResample.Filter filter,
                          boolean doCenterCrop, int cropHeight, int cropWidth,
                          boolean doRescale, double rescaleFactor,
                          boolean doNormalize, double[] mean, double[] std) {
        if (doResize && size == null) throw new IllegalArgumentException("do_resize needs a size");
        if (doCenterCrop) {
            positive(cropHeight, "crop_size.height");
            positive(cropWidth, "crop_size.width");
        }
        if (mean == null || mean.length != 3 || std == null || std.length != 3) {
            throw new IllegalArgumentException("image_mean and image_std need 3 values each, got "
                + Arrays.toString(mean) + " and " + Arrays.toString(std));
        }
        this.doResize = doResize;
        this.size = size;
        this.filter = filter;
        this.doCenterCrop = doCenterCrop;
        this.cropHeight = cropHeight;
        this.cropWidth = cropWidth;
        this.doRescale = doRescale;
        this.rescaleFactor = rescaleFactor;
        this.doNormalize = doNormalize;
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** CLIPImageProcessor's defaults at resolution s: shortest edge s, crop s x s, bicubic. */
    public static ImageProcessor clip(int s) {
        return new ImageProcessor(true, ResizeSpec.shortestEdge(s), PilResample.Filter.BICUBIC, true, s, s,
            true, 1.0 / 255, true, CLIP_MEAN, CLIP_STD);
    }

    /** Reads {@code dir/preprocessor_config.json}. */
    public static ImageProcessor fromPretrained(Path dir) throws IOException {
        return fromConfig(dir.resolve("preprocessor_config.json"));
    }

    /**
     * Reads a preprocessor_config.json. Values are type-checked strictly (a wrong type is an
     * error naming the key, not a silent default). Sizes may be old-style ints ({@code "size": 224} means
     * shortest edge, {@code "crop_size": 224} a square crop), dicts ({@code {"shortest_edge": 224}},
     * {@code {"height": .., "width": ..}}) or [height, width] lists. Missing keys take
     * CLIPImageProcessor's defaults.
     */
    public static ImageProcessor fromConfig(Path configFile) throws IOException {
        JsonNode root = ConfigJson.read(configFile);
        try {
            boolean doResize = bool(root, "do_resize", true);
            ResizeSpec size = parseSize(root.get("size"));
            int resample = root.has("resample") && !root.get("resample").isNull() ? intValue(root.get("resample"), "resample") : 3;
            boolean doCrop = bool(root, "do_center_crop", true);
            int[] crop = parseCropSize(root.get("crop_size"));
            boolean doRescale = bool(root, "do_rescale", true);
            double factor = root.has("rescale_factor") ? number(root.get("rescale_factor"), "rescale_factor") : 1.0 / 255;
            boolean doNormalize = bool(root, "do_normalize", true);
            double[] mean = root.has("image_mean") ? triple(root.get("image_mean"), "image_mean") : CLIP_MEAN;
            double[] std = root.has("image_std") ? triple(root.get("image_std"), "image_std") : CLIP_STD;
            return new ImageProcessor(doResize, size, PilResample.Filter.fromPilId(resample), doCrop, crop[0], crop[1],
                doRescale, factor, doNormalize, mean, std);
        } catch (IllegalArgumentException e) {
            throw new IOException("invalid preprocessor config " + configFile + ": " + e.getMessage(), e);
        }
    }

    private static ResizeSpec parseSize(JsonNode n) {
        if (n == null || n.isNull()) return ResizeSpec.shortestEdge(224);
        if (n.isIntegralNumber()) return ResizeSpec.shortestEdge(intValue(n, "size"));
        if (n.isArray()) {
            if (n.size() != 2) throw new IllegalArgumentException("size list must be [height, width], got " + n);
            return ResizeSpec.exact(intValue(n.get(0), "size[0]"), intValue(n.get(1), "size[1]"));
        }
        if (n.isObject()) {
            if (n.has("shortest_edge")) return ResizeSpec.shortestEdge(intValue(n.get("shortest_edge"), "size.shortest_edge"));
            if (n.has("height") && n.has("width")) {
                return ResizeSpec.exact(intValue(n.get("height"), "size.height"), intValue(n.get("width"), "size.width"));
            }
        }
        throw new IllegalArgumentException("size must be an int, {\"shortest_edge\": n}, {\"height\": h, \"width\": w} or [h, w], got " + n);
    }

    private static int[] parseCropSize(JsonNode n) {
        if (n == null || n.isNull()) return new int[] {224, 224};
        if (n.isIntegralNumber()) {
            int s = intValue(n, "crop_size");
            return new int[] {s, s};
        }
        if (n.isArray() && n.size() == 2) return new int[] {intValue(n.get(0), "crop_size[0]"), intValue(n.get(1), "crop_size[1]")};
        if (n.isObject() && n.has("height") && n.has("width")) {
            return new int[] {intValue(n.get("height"), "crop_size.height"), intValue(n.get("width"), "crop_size.width")};
        }
        throw new IllegalArgumentException("crop_size must be an int, {\"height\": h, \"width\": w} or [h, w], got " + n);
    }

    private static boolean bool(JsonNode root, String key, boolean dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw new IllegalArgumentException(key + " must be true or false, got " + n);
        return n.booleanValue();
    }

    private static int intValue(JsonNode n, String key) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt()) throw new IllegalArgumentException(key + " must be an integer, got " + n);
        return n.intValue();
    }

    private static double number(JsonNode n, String key) {
        if (n == null || !n.isNumber()) throw new IllegalArgumentException(key + " must be a number, got " + n);
        return n.doubleValue();
    }

    /** Three numbers, or one number meaning the same for every channel (numpy broadcasting). */
    private static double[] triple(JsonNode n, String key) {
        if (n != null && n.isNumber()) {
            double v = n.doubleValue();
            return new double[] {v, v, v};
        }
        if (n == null || !n.isArray() || n.size() != 3) throw new IllegalArgumentException(key + " must be a list of 3 numbers, got " + n);
        double[] out = new double[3];
        for (int i = 0; i < 3; i++) out[i] = number(n.get(i), key + "[" + i + "]");
        return out;
    }

    private static int positive(int v, String what) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be positive, got " + v);
        return v;
    }

    // ---------------------------------------------------------------------------------------
    // the pipeline
    // ---------------------------------------------------------------------------------------

    /** Channels-first floats [3, H, W] (H x W is the crop size, see {@link #centerCrop}). */
    public float[] preprocess(RgbImage image) {
        return normalize(resizeAndCrop(image));
    }

    public float[] preprocess(RgbImage image, AspectRatio aspect) {
        return normalize(resizeAndCrop(image, aspect));
    }

    /** [3, H, W] F32 tensor of {@link #preprocess(RgbImage, AspectRatio)}. */
    public Tensor toTensor(RgbImage image, AspectRatio aspect) {
        RgbImage cropped = resizeAndCrop(image, aspect);
        return Tensor.of(normalize(cropped), 3, cropped.height(), cropped.width());
    }

    /** [B, 3, H, W] F32 tensor; every image must come out at the same size. */
    public Tensor batch(List<RgbImage> images, AspectRatio aspect) {
        if (images.isEmpty()) throw new IllegalArgumentException("batch of no images");
        int h = -1, w = -1;
        float[] all = null;
        for (int i = 0; i < images.size(); i++) {
            RgbImage cropped = resizeAndCrop(images.get(i), aspect);
            if (all == null) {
                h = cropped.height();
                w = cropped.width();
                all = new float[Math.multiplyExact(Math.multiplyExact(images.size(), 3), Math.multiplyExact(h, w))];
            } else if (cropped.height() != h || cropped.width() != w) {
                throw new IllegalArgumentException("image " + i + " preprocesses to " + cropped.width() + "x" + cropped.height()
                    + " but image 0 to " + w + "x" + h + "; a batch needs one size (enable do_center_crop)");
            }
            normalize(cropped, all, i * 3 * h * w);
        }
        return Tensor.of(all, images.size(), 3, h, w);
    }

    /** Steps 1-3: expandToSquare first when the aspect ratio is PAD. */
    private RgbImage resizeAndCrop(RgbImage image, AspectRatio aspect) {
        return resizeAndCrop(aspect == AspectRatio.PAD ? expandToSquare(image) : image);
    }

    /** Steps 2-3: the u8 image after resize and centre crop (the fixtures' resized_cropped_u8). */
    public RgbImage resizeAndCrop(RgbImage image) {
        RgbImage out = image;
        if (doResize) {
            int[] hw = outputSize(image.height(), image.width());
            out = PilResample.resize(out, hw[1], hw[0], filter);
        }
        if (doCenterCrop) out = centerCrop(out, cropHeight, cropWidth);
        return out;
    }

    /** Step 2's target [height, width] for an image of the given size. */
    public int[] outputSize(int height, int width) {
        if (!size.byShortestEdge()) return new int[] {size.height(), size.width()};
        int s = size.shortestEdge();
        int shortSide = Math.min(width, height), longSide = Math.max(width, height);
        if (s == shortSide) return new int[] {height, width};
        // Python's int(s * long / short): exact product, correctly rounded division, truncation
        int newLong = (int) ((double) ((long) s * longSide) / shortSide);
        return width <= height ? new int[] {newLong, s} : new int[] {s, newLong};
    }

    /**
     * transformers' center_crop: the window at {@code top = (h - ch) // 2},
     * {@code left = (w - cw) // 2} (floor division). An image smaller than the crop is first
     * centred on a zero canvas of max(crop, image) size and the shifted window is clipped to that
     * canvas; when crop and image differ by an odd amount this yields one row/column fewer than the
     * crop, as upstream does.
     */
    public static RgbImage centerCrop(RgbImage image, int cropHeight, int cropWidth) {
        int h = image.height(), w = image.width();
        int top = Math.floorDiv(h - cropHeight, 2), left = Math.floorDiv(w - cropWidth, 2);
        int bottom = top + cropHeight, right = left + cropWidth;
        if (top >= 0 && bottom <= h && left >= 0 && right <= w) {
            return image.crop(left, top, cropWidth, cropHeight);
        }
        int newH = Math.max(cropHeight, h), newW = Math.max(cropWidth, w);
        int topPad = (newH - h) / 2, leftPad = (newW - w) / 2;
        RgbImage canvas = RgbImage.filled(newW, newH, 0, 0, 0).paste(image, leftPad, topPad);
        top += topPad;
        bottom += topPad;
        left += leftPad;
        right += leftPad;
        int y0 = Math.max(0, top), y1 = Math.min(newH, bottom);
        int x0 = Math.max(0, left), x1 = Math.min(newW, right);
        return canvas.crop(x0, y0, x1 - x0, y1 - y0);
    }

    /** Steps 4-5 on an already resized and cropped image: channels-first float32. */
    public float[] normalize(RgbImage image) {
        float[] out = new float[3 * image.height() * image.width()];
        normalize(image, out, 0);
        return out;
    }

    /** {@link #normalize(RgbImage)} written into out from offset on. */
    private void normalize(RgbImage image, float[] out, int offset) {
        int plane = image.height() * image.width();
        byte[] px = image.data();
        for (int c = 0; c < 3; c++) {
            float m = (float) mean[c], s = (float) std[c];
            int base = offset + c * plane;
            for (int i = 0; i < plane; i++) {
                int u = px[i * 3 + c] & 0xFF;
                float x = doRescale ? (float) (u * rescaleFactor) : (float) u;
                out[base + i] = doNormalize ? (x - m) / s : x;
            }
        }
    }

    /**
     * LLaVA's expand2square: a square canvas of side max(w, h) in the background colour
     * {@code tuple(int(m * 255) for m in image_mean)}, with the image pasted at
     * {@code (0, (w - h) // 2)} (landscape) or {@code ((h - w) // 2, 0)} (portrait).
     */
    public RgbImage expandToSquare(RgbImage image) {
        int[] bg = padColor();
        return expandToSquare(image, bg[0], bg[1], bg[2]);
    }

    public static RgbImage expandToSquare(RgbImage image, int r, int g, int b) {
        int w = image.width(), h = image.height();
        if (w == h) return image;
        int side = Math.max(w, h);
        RgbImage canvas = RgbImage.filled(side, side, r, g, b);
        return w > h ? canvas.paste(image, 0, (w - h) / 2) : canvas.paste(image, (h - w) / 2, 0);
    }

    /** The pad background: {@code int(m * 255)} per channel mean. */
    public int[] padColor() {
        return new int[] {(int) (mean[0] * 255), (int) (mean[1] * 255), (int) (mean[2] * 255)};
    }

    public boolean doResize() { return doResize; }
    public ResizeSpec size() { return size; }
    public PilResample.Filter filter() { return filter; }
    public boolean doCenterCrop() { return doCenterCrop; }
    public int cropHeight() { return cropHeight; }
    public int cropWidth() { return cropWidth; }
    public boolean doRescale() { return doRescale; }
    public double rescaleFactor() { return rescaleFactor; }
    public boolean doNormalize() { return doNormalize; }
    public double[] mean() { return mean.clone(); }
    public double[] std() { return std.clone(); }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ImageProcessor[resize=%s %s, crop=%s %dx%d, rescale=%s %s, normalize=%s mean=%s std=%s]",
            doResize, size, doCenterCrop, cropHeight, cropWidth, doRescale, rescaleFactor, doNormalize,
            Arrays.toString(mean), Arrays.toString(std));
    }
}
