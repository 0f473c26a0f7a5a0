package llava.models.conversation;

/**
 * The image placeholder tokens of LLaVA 0.1 and the expansion of {@code <image>} into the tokens
 * whose embeddings the model replaces with image features.
 */
public final class ImageTokens {
    private ImageTokens() {}

    /** Placeholder written in data and prompts; never tokenized itself. */
    public static final String IMAGE = "<image>";
    public static final String PATCH = "<im_patch>";
    public static final String START = "<im_start>";
    public static final String END = "<im_end>";

    /** Number of image patches, {@code (height / patch) * (width / patch)} as train.py computes it. */
    public static int patchCount(int height, int width, int patchSize) {
        if (height <= 0 || width <= 0 || patchSize <= 0) {
            throw new IllegalArgumentException("bad image/patch size " + height + "x" + width + " / " + patchSize);
        }
        return (height / patchSize) * (width / patchSize);
    }

    /** {@code <im_start>} + N x {@code <im_patch>} + {@code <im_end>}, or the N patches alone. */
    public static String replacement(int patches, boolean useStartEnd) {
        if (patches < 0) throw new IllegalArgumentException("negative patch count " + patches);
        String run = PATCH.repeat(patches);
        return useStartEnd ? START + run + END : run;
    }

    /** Replaces every {@code <image>} in text by {@link #replacement}. */
    public static String expand(String text, int patches, boolean useStartEnd) {
        return text.replace(IMAGE, replacement(patches, useStartEnd));
    }

    /** The query of run_llava.py: the question, a newline, then the image tokens. */
    public static String appendToQuery(String query, int patches, boolean useStartEnd) {
        return query + "\n" + replacement(patches, useStartEnd);
    }
}
