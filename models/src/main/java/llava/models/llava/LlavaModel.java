package llava.models.llava;

import java.util.ArrayList;
import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.nn.Linear;
import llava.core.nn.Module;
import llava.models.clip.ClipVisionTower;
import llava.models.llama.KvCache;
import llava.models.llama.LlamaModel;

/**
 * LLaVA (upstream LlavaLlamaForCausalLM): the LLaMA decoder ("model.*", with the projector at
 * "model.mm_projector"), the LM head ("lm_head") and a CLIP vision tower kept outside the
 * module tree, as LLaVA 0.1 does (it is not part of the checkpoint and gets no gradient).
 *
 * <p>Image features replace the {@code <im_patch>} embeddings: with {@code mm_use_im_start_end},
 * the N positions after each {@code <im_start>} (which must be followed by {@code <im_end>}
 * at start + N + 1); otherwise the run of N consecutive patch tokens. Images are consumed in
 * order of appearance over the batch; samples without patch tokens keep their embeddings.
 */
public final class LlavaModel extends Module {
    /** Ids of the image tokens (from the tokenizer's added tokens). */
    public record ImageTokens(int patch, int start, int end) {}

    /**
     * Options of a forward pass. positionsFromMask: position ids count only real tokens
     * (cumsum(mask) - 1, as HF generate does for left-padded batches) instead of upstream
     * training's 0..T-1 for every row.
     */
    public record Options(boolean collectHidden, boolean detachTextEmbeddings, boolean positionsFromMask) {
        public static final Options DEFAULT = new Options(false, false, false);

        public Options(boolean collectHidden, boolean detachTextEmbeddings) {
            this(collectHidden, detachTextEmbeddings, false);
        }
    }

    /** Forward results; close to free them. hidden: spliced embeddings, each layer's output,
     *  and the final-normed states (HF output_hidden_states). */
    public record Output(Tensor logits, Tensor loss, List<Tensor> hidden, Tensor imageFeatures) implements AutoCloseable {
        @Override
        public void close() {
            if (logits != null) logits.close();
            if (loss != null) loss.close();
            if (imageFeatures != null) imageFeatures.close();
            if (hidden != null) for (Tensor t : hidden) t.close();
        }
    }

    public static final long IGNORE_INDEX = -100;

    public final LlavaConfig config;
    public final LanguageModel model;
    public final Linear lmHead;
    private ClipVisionTower visionTower;
    private java.nio.file.Path visionTowerFolder;
    private final ImageTokens imageTokens;

    /** The "model" module: LlamaModel plus mm_projector. */
    public static final class LanguageModel extends LlamaModel {
        public final Projector mmProjector;

        LanguageModel(LlavaConfig c, DType dtype, Device device, Generator gen) {
            super(c.llama(), dtype, device, gen);
            mmProjector = registerModule("mm_projector", new Projector(c.projectorType(), c.mmHiddenSize(),
                c.llama().hiddenSize(), dtype, device, gen));
        }
    }

    public LlavaModel(LlavaConfig config, ImageTokens imageTokens, DType dtype, Device device, Generator gen) {
        this.config = config;
        this.imageTokens = imageTokens;
        this.model = registerModule("model", new LanguageModel(config, dtype, device, gen));
        this.lmHead = registerModule("lm_head", new Linear(config.llama().hiddenSize(), config.llama().vocabSize(), false,
            dtype, device, gen));
    }

    /** Attaches the vision tower; the model owns it from now on (closing the model closes it). */
    public void setVisionTower(ClipVisionTower tower) {
        setVisionTower(tower, null);
    }

    /** Attaches the vision tower loaded from folder (where its preprocessor config lives). */
    public void setVisionTower(ClipVisionTower tower, java.nio.file.Path folder) {
        if (tower.config.hiddenSize() != config.mmHiddenSize()) {
            throw new IllegalArgumentException("vision tower hidden size " + tower.config.hiddenSize()
                + " does not match mm_hidden_size " + config.mmHiddenSize());
        }
        this.visionTower = tower;
        this.visionTowerFolder = folder;
    }

    /** The folder the vision tower came from (null when it was built in memory). */
    public java.nio.file.Path visionTowerFolder() { return visionTowerFolder; }

    public ClipVisionTower visionTower() { return visionTower; }

    /** Frees the weights, including the vision tower's. */
    @Override
    public void close() {
        super.close();
        if (visionTower != null) visionTower.close();
    }
    public ImageTokens imageTokens() { return imageTokens; }
    public DType dtype() { return lmHead.weight().dtype(); }
    public Device device() { return lmHead.weight().device(); }

    /** Patches per image (N). */
    public int patchesPerImage() {
        if (visionTower == null) throw new IllegalStateException("no vision tower set");
        return visionTower.config.numPatches() + (config.dropCls() ? 0 : 1);
    }

    /** Vision features projected to the LLM width: [N, patches, hidden]. The tower runs without
     *  gradient (as upstream); the projector records one. */
    public Tensor encodeImages(Tensor images) {
        if (visionTower == null) throw new IllegalStateException("the model has no vision tower: cannot encode images");
        try (Scope s = Scope.open()) {
            Tensor feats;
            try (GradMode ng = GradMode.noGrad()) {
                feats = visionTower.selectFeatures(images, config.selectLayer(), config.dropCls());
            }
            Tensor f = feats.dtype() == dtype() ? feats : feats.to(dtype());
            return s.keep(model.mmProjector.forward(f));
        }
    }

    /**
     * Token embeddings with image features spliced in. imageFeatures: [N, patches, hidden] for
     * the images in order of appearance (null when there are none).
     */
    public Tensor embed(Tensor inputIds, Tensor imageFeatures, boolean detachTextEmbeddings) {
        int B = inputIds.size(0), T = inputIds.size(1);
        long[] ids = inputIds.toLongArray();
        try (Scope s = Scope.open()) {
            Tensor embeds = model.embedTokens.forward(inputIds);
            int used = 0;
            int nImages = imageFeatures == null ? 0 : imageFeatures.size(0);
            Tensor[] rows = new Tensor[B];
            boolean anyImage = false;
            boolean detach = detachTextEmbeddings && config.useImStartEnd();
            for (int b = 0; b < B; b++) {
                Tensor row = embeds.select(0, b);
                List<Integer> spans = imageSpans(ids, b, T);
                if (spans.isEmpty()) {
                    rows[b] = row;
                    continue;
                }
                anyImage = true;
                int n = patchesPerImage();
                List<Tensor> pieces = new ArrayList<>();
                int cur = 0;
                for (int at : spans) {
                    if (used >= nImages) {
                        throw new IllegalArgumentException("the batch has more image placeholders than images (" + nImages + ")");
                    }
                    addText(pieces, row, cur, at, detach, ids, b, T);
                    pieces.add(imageFeatures.select(0, used++));
                    cur = at + n;
                }
                addText(pieces, row, cur, T, detach, ids, b, T);
                rows[b] = Tensor.cat(pieces, 0);
            }
            if (used != nImages) {
                throw new IllegalArgumentException(nImages + " images given but the batch has " + used + " image placeholders");
            }
            return s.keep(anyImage ? Tensor.stack(0, rows) : embeds);
        }
    }

    /**
     * Text embeddings [from, to) of row b. In pre-training mode (upstream's orig_embeds_params
     * path) they are detached except at <im_start>/<im_end>, so only those rows train.
     */
    private void addText(List<Tensor> pieces, Tensor row, int from, int to, boolean detach, long[] ids, int b, int T) {
        if (to <= from) return;
        if (!detach) {
            pieces.add(row.narrow(0, from, to - from));
            return;
        }
        int a = from;
        while (a < to) {
            long id = ids[b * T + a];
            if (id == imageTokens.start() || id == imageTokens.end()) {
                pieces.add(row.narrow(0, a, 1));
                a++;
                continue;
            }
            int e = a;
            while (e < to && ids[b * T + e] != imageTokens.start() && ids[b * T + e] != imageTokens.end()) e++;
            try (Tensor part = row.narrow(0, a, e - a)) {
                pieces.add(part.detach());
            }
            a = e;
        }
    }

    /** Where each image's features go in row b: the positions of its patch tokens. */
    private List<Integer> imageSpans(long[] ids, int b, int T) {
        List<Integer> spans = new ArrayList<>();
        boolean anyPatch = false;
        for (int t = 0; t < T; t++) if (ids[b * T + t] == imageTokens.patch()) anyPatch = true;
        if (!anyPatch) return spans;
        int n = patchesPerImage();
        if (config.useImStartEnd()) {
            for (int t = 0; t < T; t++) {
                if (ids[b * T + t] != imageTokens.start()) continue;
                int end = t + n + 1;
                if (end >= T || ids[b * T + end] != imageTokens.end()) {
                    throw new IllegalArgumentException("sample " + b + ": the image end token should follow the image start token at "
                        + t + " after " + n + " patch tokens");
                }
                spans.add(t + 1);
                t = end;
            }
            if (spans.isEmpty()) throw new IllegalArgumentException("sample " + b + " has <im_patch> tokens but no <im_start>");
        } else {
            for (int t = 0; t < T; t++) {
                if (ids[b * T + t] != imageTokens.patch()) continue;
                int run = 0;
                while (t + run < T && ids[b * T + t + run] == imageTokens.patch()) run++;
                if (run % n != 0) {
                    throw new IllegalArgumentException("sample " + b + ": the number of image patch tokens (" + run
                        + ") should be a multiple of the patches per image (" + n + ")");
                }
                for (int k = 0; k < run / n; k++) spans.add(t + k * n);
                t += run - 1;
            }
        }
        return spans;
    }

    /**
     * Full forward pass. inputIds I64 [B, T]; attentionMask [B, T] (BOOL or integer 0/1; null =
     * all real); images [N, C, S, S] in order of appearance (null when none); labels I64 [B, T]
     * with -100 at ignored positions (null: no loss). Loss = mean next-token cross-entropy.
     */
    public Output forward(Tensor inputIds, Tensor attentionMask, Tensor images, Tensor labels, Options opts) {
        if (inputIds.dim() != 2 || inputIds.dtype() != DType.I64) {
            throw new IllegalArgumentException("input_ids must be I64 [B, T], got " + inputIds.dtype() + " " + java.util.Arrays.toString(inputIds.shape()));
        }
        int B = inputIds.size(0), T = inputIds.size(1);
        if (labels != null && !java.util.Arrays.equals(labels.shape(), inputIds.shape())) {
            throw new IllegalArgumentException("labels " + java.util.Arrays.toString(labels.shape()) + " must match input_ids " + java.util.Arrays.toString(inputIds.shape()));
        }
        Tensor logits, loss = null, feats = null;
        List<Tensor> hidden = opts.collectHidden() ? new ArrayList<>() : null;
        try (Scope s = Scope.open()) {
            if (images != null) feats = s.keep(encodeImages(images));
            Tensor embeds = embed(inputIds, feats, opts.detachTextEmbeddings());
            Tensor mask = keyMask(attentionMask, B, T);
            Tensor positions = opts.positionsFromMask() && mask != null ? positionsFromMask(mask)
                : LlamaModel.defaultPositions(B, T, 0, inputIds.device());
            Tensor h = model.forward(embeds, positions, mask, null, hidden);
            if (hidden != null) {
                for (Tensor t : hidden) s.keep(t);
                // HF replaces the last layer's output by the final-normed states
                hidden.remove(hidden.size() - 1).close();
                hidden.add(s.keep(h.alias()));
            }
            logits = s.keep(lmHead.forward(h));
            if (labels != null) loss = s.keep(nextTokenLoss(logits, labels));
        }
        return new Output(logits, loss, hidden, feats);
    }

    /** Mean cross-entropy of logits[:, t] against labels[:, t + 1] over labels != -100. */
    public static Tensor nextTokenLoss(Tensor logits, Tensor labels) {
        int B = logits.size(0), T = logits.size(1), V = logits.size(2);
        long[] l = labels.toLongArray();
        long[] shifted = new long[B * T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) shifted[b * T + t] = t + 1 < T ? l[b * T + t + 1] : IGNORE_INDEX;
        }
        try (Scope s = Scope.open()) {
            Tensor targets = Tensor.of(shifted, logits.device(), B * T);
            return s.keep(F.crossEntropy(logits.reshape(B * T, V), targets, IGNORE_INDEX));
        }
    }

    /** Position of each token among the real tokens of its row (padding gets 0). */
    public static Tensor positionsFromMask(Tensor keyMask) {
        int B = keyMask.size(0), T = keyMask.size(1);
        boolean[] m = keyMask.toBooleanArray();
        long[] p = new long[B * T];
        for (int b = 0; b < B; b++) {
            long n = 0;
            for (int t = 0; t < T; t++) p[b * T + t] = m[b * T + t] ? n++ : 0;
        }
        return Tensor.of(p, keyMask.device(), B, T);
    }

    /** BOOL key mask from an attention mask (null stays null). */
    public static Tensor keyMask(Tensor attentionMask, int B, int T) {
        if (attentionMask == null) return null;
        if (!java.util.Arrays.equals(attentionMask.shape(), new int[] {B, T})) {
            throw new IllegalArgumentException("attention_mask must be [" + B + ", " + T + "], got " + java.util.Arrays.toString(attentionMask.shape()));
        }
        return attentionMask.dtype() == DType.BOOL ? attentionMask.alias() : attentionMask.ne(0);
    }

    /** One decoding step with a KV cache: logits [B, T, V] for new embeddings at the given positions. */
    public Tensor decode(Tensor embeds, Tensor positions, Tensor keyMask, KvCache cache) {
        try (Scope s = Scope.open()) {
            Tensor h = model.forward(embeds, positions, keyMask, cache, null);
            return s.keep(lmHead.forward(h));
        }
    }
}
