package llava.models.llava;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.models.conversation.Conversation;
import llava.models.conversation.ConversationTemplates;
import llava.models.conversation.SeparatorStyle;
import llava.models.generate.Generation;
import llava.models.generate.SamplingParams;
import llava.models.image.ImageLoader;
import llava.models.image.ImageProcessor;
import llava.models.image.RgbImage;
import llava.models.tokenizer.StreamingDecoder;
import llava.models.tokenizer.Tokenizer;

/**
 * A loaded LLaVA with everything needed around it: tokenizer, image processor, conversation
 * templates. The building block of run, chat, serving and evaluation.
 */
public final class LlavaPipeline implements AutoCloseable {
    public final LlavaModel model;
    public final Tokenizer tokenizer;
    public final ImageProcessor imageProcessor;
    public final Path checkpoint;
    private final ImageLoader imageLoader = new ImageLoader();

    private LlavaPipeline(LlavaModel model, Tokenizer tokenizer, ImageProcessor imageProcessor, Path checkpoint) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.imageProcessor = imageProcessor;
        this.checkpoint = checkpoint;
    }

    public static LlavaPipeline load(Path dir, DType dtype, Device device) throws IOException {
        return load(dir, dtype, device, c -> c);
    }

    public static LlavaPipeline load(Path dir, DType dtype, Device device, java.util.function.UnaryOperator<LlavaConfig> adjust)
            throws IOException {
        if (!java.nio.file.Files.isDirectory(dir)) throw new IOException("model folder not found: " + dir);
        Tokenizer tok = Tokenizer.fromPretrained(dir);
        LlavaModel model = LlavaLoader.load(dir, dtype, device, adjust);
        try {
            ImageProcessor proc = model.visionTowerFolder() == null ? null : ImageProcessor.fromPretrained(model.visionTowerFolder());
            return new LlavaPipeline(model, tok, proc, dir);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Image patches per image, as the prompt must hold them. */
    public int imagePatches() { return model.patchesPerImage(); }

    /** Preprocessed images [N, C, S, S] (F32, on the model's device). */
    public Tensor loadImages(List<Path> files, ImageProcessor.AspectRatio aspect) throws IOException {
        if (imageProcessor == null) throw new IllegalStateException("the model has no vision tower / image processor");
        List<RgbImage> imgs = new ArrayList<>();
        for (Path f : files) imgs.add(imageLoader.read(f));
        try (Tensor cpu = imageProcessor.batch(imgs, aspect)) {
            return cpu.to(model.device());
        }
    }

    /** The conversation mode run_llava picks from the model name (v1, mpt, or multimodal). */
    public static String defaultConvMode(Path modelPath) {
        String name = modelPath.toAbsolutePath().normalize().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.contains("v1")) return "llava_v1";
        if (name.contains("mpt")) return "mpt_multimodal";
        return "multimodal";
    }

    /** run_llava's prompt: the query, a newline and the image tokens, in a fresh conversation. */
    public String imagePrompt(String convMode, String query, boolean withImage) {
        Conversation conv = ConversationTemplates.get(convMode);
        String qs = withImage ? query + "\n" + imageText() : query;
        conv.appendMessage(conv.roles().get(0), qs);
        conv.appendMessage(conv.roles().get(1), null);
        return conv.prompt();
    }

    /** The text that stands for one image in a prompt: the model's patch token N times, wrapped
     *  in its start/end tokens when it uses them (LLaVA 0.1: <im_start><im_patch>...<im_end>;
     *  llava-hf: <image> N times). */
    public String imageText() {
        LlavaModel.ImageTokens t = model.imageTokens();
        if (t.patch() < 0) throw new IllegalStateException("the checkpoint defines no image patch token (added_tokens.json)");
        String run = tokenizer.piece(t.patch()).repeat(imagePatches());
        if (model.config.useImStartEnd()) return tokenizer.piece(t.start()) + run + tokenizer.piece(t.end());
        return run;
    }

    /** The string that ends an assistant reply in this template. */
    public static String stopString(String convMode) {
        Conversation conv = ConversationTemplates.get(convMode);
        return conv.sepStyle() == SeparatorStyle.TWO ? conv.sep2() : conv.sep();
    }

    /** The answer, and how generation ended. */
    public record Answer(String text, int[] tokens, String stopReason) {}

    /**
     * Generates a reply to a full prompt (already containing the image tokens when images is not
     * null), streaming decoded text to onText (may be null). Stops at EOS, at max tokens, or
     * when the decoded reply contains the stop string; the text is post-processed as run_llava
     * does (strip, cut the stop string, strip).
     */
    public Answer generate(String prompt, Tensor images, SamplingParams params, String stopString, Consumer<String> onText) {
        int[] ids = tokenizer.encode(prompt, true);
        long[] prompt64 = new long[ids.length];
        for (int i = 0; i < ids.length; i++) prompt64[i] = ids[i];
        StreamingDecoder stream = tokenizer.streamingDecoder();
        StringBuilder soFar = new StringBuilder();
        Generation.Result r = Generation.generate(model, prompt64, images, params, tokenizer.eosId(), (tok, logits) -> {
            if (tok == tokenizer.eosId()) return true;
            String piece = stream.next(tok);
            soFar.append(piece);
            if (onText != null && !piece.isEmpty()) onText.accept(piece);
            return stopString == null || stopString.isEmpty() || soFar.indexOf(stopString) < 0;
        });
        String tail = stream.finish();
        if (onText != null && !tail.isEmpty()) onText.accept(tail);
        String text = tokenizer.decodeStripped(r.tokens()).strip();
        if (stopString != null && !stopString.isEmpty() && text.endsWith(stopString)) {
            text = text.substring(0, text.length() - stopString.length()).strip();
        }
        return new Answer(text, r.tokens(), r.stopReason());
    }

    @Override
    public void close() {
        model.close();
    }
}
