package llava.models.llava;

import com.fasterxml.jackson.databind.JsonNode;
import llava.models.ConfigJson;
import llava.models.llama.LlamaConfig;

/**
 * A LLaVA config: the LLaMA fields plus the multimodal ones (original layout names:
 * mm_vision_tower, mm_hidden_size, mm_vision_select_layer, mm_use_im_start_end,
 * mm_projector_type, mm_vision_select_feature).
 */
public record LlavaConfig(
    LlamaConfig llama,
    String visionTower,       // mm_vision_tower: path or hub id (null in llava-hf configs: tower is inside)
    int mmHiddenSize,         // mm_hidden_size
    int selectLayer,          // mm_vision_select_layer (-2)
    boolean dropCls,          // mm_vision_select_feature == "patch"
    boolean useImStartEnd,    // mm_use_im_start_end
    String projectorType,     // "linear" (LLaVA 0.1) or "mlp2x_gelu" (LLaVA-1.5)
    String imageAspectRatio) { // "square" or "pad"

    /** The same config with mm_use_im_start_end set. */
    public LlavaConfig withImStartEnd(boolean on) {
        return new LlavaConfig(llama, visionTower, mmHiddenSize, selectLayer, dropCls, on, projectorType, imageAspectRatio);
    }

    public static LlavaConfig fromJson(JsonNode n) {
        LlamaConfig llama = LlamaConfig.fromJson(n.has("text_config") ? n.get("text_config") : n);
        String feature = ConfigJson.optString(n, "mm_vision_select_feature",
            ConfigJson.optString(n, "vision_feature_select_strategy", "patch").equals("full") ? "cls_patch" : "patch");
        if (!feature.equals("patch") && !feature.equals("cls_patch")) {
            throw new IllegalArgumentException("mm_vision_select_feature '" + feature + "' is not supported");
        }
        // llava-hf configs (nested text_config / vision_config) always mean the 2-layer GELU projector
        boolean hf = n.has("text_config") || n.has("vision_config") || n.has("projector_hidden_act");
        String proj = ConfigJson.optString(n, "mm_projector_type", hf ? "mlp2x_gelu" : "linear");
        if (hf && !ConfigJson.optString(n, "projector_hidden_act", "gelu").equals("gelu")) {
            throw new IllegalArgumentException("projector_hidden_act '" + n.get("projector_hidden_act").asText() + "' is not supported (gelu only)");
        }
        int mmHidden = ConfigJson.optInt(n, "mm_hidden_size",
            n.has("vision_config") ? ConfigJson.optInt(n.get("vision_config"), "hidden_size", 1024) : 1024);
        return new LlavaConfig(llama,
            ConfigJson.optString(n, "mm_vision_tower", null),
            mmHidden,
            ConfigJson.optInt(n, "mm_vision_select_layer", ConfigJson.optInt(n, "vision_feature_layer", -2)),
            feature.equals("patch"),
            ConfigJson.optBool(n, "mm_use_im_start_end", false),
            proj,
            ConfigJson.optString(n, "image_aspect_ratio", "square"));
    }
}
