package llava.models.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.cli.Args;
import llava.core.cli.Command;
import llava.models.generate.SamplingParams;
import llava.models.image.ImageProcessor;
import llava.models.llava.LlavaPipeline;

/**
 * {@code ./llava run}: upstream run_llava.py. One image, one question, the answer on stdout.
 * The conversation mode comes from the model name (v1 -> llava_v1, mpt -> mpt_multimodal,
 * otherwise multimodal) unless --conv-mode is given.
 */
public final class RunCommand implements Command {
    static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put("model-path", "LLaVA checkpoint folder");
        FLAGS.put("image-file", "the image");
        FLAGS.put("query", "the question");
        FLAGS.put("conv-mode", "conversation template (default from the model name)");
        FLAGS.put("temperature", "sampling temperature (default 0.2 as upstream; 0 = greedy)");
        FLAGS.put("top_p", "nucleus sampling mass (default 1.0)");
        FLAGS.put("max-new-tokens", "at most this many new tokens (default 1024)");
        FLAGS.put("seed", "sampling seed (default 0)");
        FLAGS.put("dtype", "f32|bf16|f16 (default: bf16 on cuda, f32 on cpu)");
        FLAGS.put("device", "cpu|cuda|cuda:N (default cpu)");
        FLAGS.put("help", "show this help");
    }

    @Override public String name() { return "run"; }

    @Override public String summary() { return "answer one question about one image (upstream run_llava)"; }

    @Override
    public int run(String[] argv) throws Exception {
        Args a = Args.parse(argv, FLAGS, Set.of("help"));
        if (a.getBool("help", false)) {
            System.out.print(Args.usage(name(), FLAGS));
            return 0;
        }
        Path modelPath = Path.of(a.require("model-path"));
        Path image = Path.of(a.require("image-file"));
        String query = a.require("query");
        Device device = Device.parse(a.get("device", "cpu"));
        DType dtype = DType.parse(a.get("dtype", device.isCpu() ? "f32" : "bf16"));
        SamplingParams params = new SamplingParams(a.getInt("max-new-tokens", 1024), a.getDouble("temperature", 0.2),
            a.getDouble("top_p", 1.0), a.getInt("seed", 0));
        String convMode = LlavaPipeline.defaultConvMode(modelPath);
        if (a.has("conv-mode") && !a.get("conv-mode", "").equals(convMode)) {
            System.err.println("[WARNING] the auto inferred conversation mode is " + convMode + ", while --conv-mode is "
                + a.get("conv-mode", "") + ", using " + a.get("conv-mode", ""));
            convMode = a.get("conv-mode", convMode);
        }
        try (LlavaPipeline p = LlavaPipeline.load(modelPath, dtype, device);
             Tensor pixels = p.loadImages(List.of(image), ImageProcessor.AspectRatio.SQUARE)) {
            String prompt = p.imagePrompt(convMode, query, true);
            String stop = LlavaPipeline.stopString(convMode);
            LlavaPipeline.Answer ans = p.generate(prompt, pixels, params, stop, null);
            System.out.println(ans.text());
        }
        return 0;
    }
}
