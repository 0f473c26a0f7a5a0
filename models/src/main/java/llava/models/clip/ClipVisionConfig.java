package llava.models.clip;

import com.fasterxml.jackson.databind.JsonNode;
import llava.models.ConfigJson;

/** CLIPVisionConfig fields (from a CLIPVisionModel config, or the vision_config of a CLIPModel). */
public record ClipVisionConfig(
    int hiddenSize, int intermediateSize, int numLayers, int numHeads,
    int imageSize, int patchSize, int numChannels, double layerNormEps,
    String hiddenAct) {

    public ClipVisionConfig {
        if (hiddenSize % numHeads != 0) throw new IllegalArgumentException("CLIP hidden_size not divisible by heads");
        if (imageSize % patchSize != 0) throw new IllegalArgumentException("CLIP image_size " + imageSize + " is not a multiple of patch_size " + patchSize);
        if (!hiddenAct.equals("quick_gelu") && !hiddenAct.equals("gelu") && !hiddenAct.equals("gelu_new")) {
            throw new IllegalArgumentException("CLIP hidden_act '" + hiddenAct + "' is not supported");
        }
    }

    public int numPatches() { return (imageSize / patchSize) * (imageSize / patchSize); }
    public int numPositions() { return numPatches() + 1; }
    public int headDim() { return hiddenSize / numHeads; }

    /** Accepts a vision config, or a full CLIP config with a nested "vision_config". */
    public static ClipVisionConfig fromJson(JsonNode n) {
        JsonNode v = n.has("vision_config") ? n.get("vision_config") : n;
        String what = "CLIPVisionConfig";
        // HF defaults of CLIPVisionConfig for fields an old config may omit
        return new ClipVisionConfig(
            ConfigJson.optInt(v, "hidden_size", 768),
            ConfigJson.optInt(v, "intermediate_size", 3072),
            ConfigJson.optInt(v, "num_hidden_layers", 12),
            ConfigJson.optInt(v, "num_attention_heads", 12),
            ConfigJson.optInt(v, "image_size", 224),
            ConfigJson.optInt(v, "patch_size", 32),
            ConfigJson.optInt(v, "num_channels", 3),
            ConfigJson.optDouble(v, "layer_norm_eps", 1e-5),
            ConfigJson.optString(v, "hidden_act", "quick_gelu"));
    }
}
