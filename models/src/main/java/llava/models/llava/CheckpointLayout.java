package llava.models.llava;

import java.util.Set;

/**
 * Where a LLaVA checkpoint keeps each tensor. Our modules use the original LLaVA names
 * ("model.layers.0...", "model.mm_projector.0.weight", "lm_head.weight"); the llava-hf layout
 * (LlavaForConditionalGeneration) nests the language model and names the projector linears
 * linear_1, linear_2 and holds the vision tower too. Two generations of llava-hf names exist.
 */
public record CheckpointLayout(String name, String languageModelPrefix, String lmHead, String projectorPrefix, String towerPrefix) {

    public static final CheckpointLayout ORIGINAL = new CheckpointLayout("LLaVA (LlavaLlamaForCausalLM)", "model.", "lm_head.weight",
        null, null);
    /** transformers < 4.52: language_model.model.*, language_model.lm_head, multi_modal_projector, vision_tower. */
    public static final CheckpointLayout HF = new CheckpointLayout("llava-hf (LlavaForConditionalGeneration)",
        "language_model.model.", "language_model.lm_head.weight", "multi_modal_projector.", "vision_tower.");
    /** transformers >= 4.52: model.language_model.*, lm_head, model.multi_modal_projector, model.vision_tower. */
    public static final CheckpointLayout HF_NESTED = new CheckpointLayout("llava-hf (LlavaForConditionalGeneration, nested)",
        "model.language_model.", "lm_head.weight", "model.multi_modal_projector.", "model.vision_tower.");

    public static CheckpointLayout detect(Set<String> keys) {
        for (String k : keys) {
            if (k.startsWith("model.language_model.")) return HF_NESTED;
            if (k.startsWith("language_model.")) return HF;
        }
        return ORIGINAL;
    }

    public boolean holdsVisionTower() { return towerPrefix != null; }

    /** The checkpoint name of one of our module keys. */
    public String checkpointName(String key) {
        if (this == ORIGINAL) return key;
        if (key.equals("lm_head.weight")) return lmHead;
        String proj = "model.mm_projector.";
        if (key.startsWith(proj)) {
            String rest = key.substring(proj.length());
            int dot = rest.indexOf('.');
            int index = Integer.parseInt(rest.substring(0, dot));
            return projectorPrefix + "linear_" + (index / 2 + 1) + rest.substring(dot);
        }
        if (key.startsWith("model.")) return languageModelPrefix + key.substring("model.".length());
        return key;
    }

    /** Checkpoint keys the language model does not use. */
    public boolean ignoredByLanguageModel(String key) {
        return key.endsWith(".rotary_emb.inv_freq") || (towerPrefix != null && key.startsWith(towerPrefix));
    }
}
