package llava.models.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.cli.Args;
import llava.core.cli.Command;
import llava.core.io.SafetensorsWriter;
import llava.models.conversation.ConversationRecord;
import llava.models.conversation.SupervisedCollator;
import llava.models.conversation.SupervisedPreprocessor;
import llava.models.conversation.TokenizedExample;
import llava.models.image.ImageProcessor;
import llava.models.llava.LlavaModel;
import llava.models.llava.LlavaPipeline;

/**
 * {@code ./llava forward}: builds a batch from a LLaVA data file exactly as training does (right
 * padding), runs the model, and writes what a user compares with PyTorch: input_ids, labels,
 * attention_mask, image_features (layer -2, no CLS), logits (F32 [B, T, V]), loss, and with
 * --backward grad.NAME for every trainable parameter (HF names).
 */
public final class ForwardCommand implements Command {
    static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put("model_name_or_path", "LLaVA checkpoint folder");
        FLAGS.put("data_path", "LLaVA data file (JSON list or JSON lines of {id, image, conversations})");
        FLAGS.put("image_folder", "folder the records' image paths are relative to");
        FLAGS.put("version", "v0 (conv_v1_2, \"###\") or v1 (vicuna_v1_1); default v1");
        FLAGS.put("mm_use_im_start_end", "true|false; default: the checkpoint's config");
        FLAGS.put("image_aspect_ratio", "square|pad; default: the checkpoint's config (square)");
        FLAGS.put("tune_mm_mlp_adapter", "true: projector pre-training set-up (only projector and new token embeddings train)");
        FLAGS.put("model_max_length", "truncation length (default 2048)");
        FLAGS.put("backward", "also compute gradients of every trainable parameter");
        FLAGS.put("dtype", "f32|bf16|f16 (default f32)");
        FLAGS.put("device", "cpu|cuda|cuda:N (default cpu)");
        FLAGS.put("out", "output .safetensors file");
        FLAGS.put("help", "show this help");
    }

    @Override public String name() { return "forward"; }

    @Override public String summary() { return "run a training batch through LLaVA and save ids, logits, loss (and gradients)"; }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = Args.parse(argv, FLAGS, Set.of("backward", "help", "mm_use_im_start_end", "tune_mm_mlp_adapter"));
        if (a.getBool("help", false)) {
            System.out.print(Args.usage(name(), FLAGS));
            return 0;
        }
        Path modelDir = Path.of(a.require("model_name_or_path"));
        Path data = Path.of(a.require("data_path"));
        Path out = Path.of(a.require("out"));
        String version = a.get("version", "v1");
        if (!version.equals("v0") && !version.equals("v1")) throw new Args.UsageException("--version must be v0 or v1, got " + version);
        DType dtype = DType.parse(a.get("dtype", "f32"));
        Device device = Device.parse(a.get("device", "cpu"));
        boolean backward = a.getBool("backward", false);
        boolean adapterOnly = a.getBool("tune_mm_mlp_adapter", false);
        Boolean startEnd = a.has("mm_use_im_start_end") ? a.getBool("mm_use_im_start_end", false) : null;
        try (LlavaPipeline p = LlavaPipeline.load(modelDir, dtype, device, c -> startEnd == null ? c : c.withImStartEnd(startEnd))) {
            LlavaModel model = p.model;
            boolean useStartEnd = model.config.useImStartEnd();
            ImageProcessor.AspectRatio aspect = ImageProcessor.AspectRatio.parse(a.get("image_aspect_ratio", model.config.imageAspectRatio()));
            List<ConversationRecord> records = ConversationRecord.readAll(data);
            if (records.isEmpty()) throw new IllegalArgumentException(data + " holds no records");
            SupervisedPreprocessor pre = SupervisedPreprocessor.forVersion(version, false, p.tokenizer,
                SupervisedPreprocessor.Settings.multimodal(a.getInt("model_max_length", 2048), useStartEnd));
            List<TokenizedExample> examples = new ArrayList<>();
            List<Path> imageFiles = new ArrayList<>();
            for (ConversationRecord r : records) {
                examples.add(pre.process(r, p.imagePatches()));
                if (r.hasImage()) {
                    if (!a.has("image_folder")) throw new Args.UsageException("record " + r.id() + " has an image: --image_folder is required");
                    imageFiles.add(Path.of(a.require("image_folder")).resolve(r.image()));
                }
            }
            SupervisedCollator.Batch batch = new SupervisedCollator(pre.padId()).collate(examples);
            setTrainable(model, adapterOnly);
            Map<String, Tensor> result = new LinkedHashMap<>();
            try (Scope s = Scope.open(); GradMode gm = backward ? GradMode.enableGrad() : GradMode.noGrad()) {
                Tensor ids = batch.inputIdsTensor().to(device), labels = batch.labelsTensor().to(device);
                Tensor mask = batch.attentionMaskTensor().to(device);
                Tensor images = imageFiles.isEmpty() ? null : p.loadImages(imageFiles, aspect).to(dtype);
                LlavaModel.Output o = model.forward(ids, mask, images, labels, new LlavaModel.Options(false, adapterOnly && useStartEnd));
                result.put("input_ids", ids);
                result.put("labels", labels);
                result.put("attention_mask", mask.to(DType.I64));
                if (images != null) {
                    try (GradMode ng = GradMode.noGrad()) {
                        result.put("image_features", model.visionTower().selectFeatures(images, model.config.selectLayer(),
                            model.config.dropCls()).to(DType.F32));
                    }
                }
                result.put("logits", o.logits().to(DType.F32));
                result.put("loss", o.loss().to(DType.F32).reshape(1));
                if (backward) {
                    o.loss().backward();
                    for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
                        Tensor g = e.getValue().grad();
                        if (e.getValue().requiresGrad() && g != null) result.put("grad." + e.getKey(), g.to(DType.F32));
                    }
                }
                SafetensorsWriter.write(out, result, Map.of("format", "pt", "producer", "llava-java forward"));
                System.err.printf("forward: %d samples, %d tokens, %d images, loss %.6f -> %s%n", batch.batchSize(), batch.length(),
                    imageFiles.size(), o.loss().item(), out);
            }
        }
        return 0;
    }

    /** Upstream's trainable set: everything (stage 2), or with --tune_mm_mlp_adapter only the
     *  projector plus, with start/end tokens, the input embeddings. */
    static void setTrainable(LlavaModel model, boolean adapterOnly) {
        if (!adapterOnly) {
            model.requiresGrad(true);
            return;
        }
        model.requiresGrad(false);
        model.model.mmProjector.requiresGrad(true);
        if (model.config.useImStartEnd()) model.model.embedTokens.requiresGrad(true);
    }
}
