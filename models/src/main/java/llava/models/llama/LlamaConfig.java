package llava.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import llava.models.ConfigJson;

/** The LlamaConfig fields the decoder uses (HuggingFace names in comments). */
public record LlamaConfig(
    int hiddenSize,            // hidden_size
    int intermediateSize,      // intermediate_size
    int numLayers,             // num_hidden_layers
    int numHeads,              // num_attention_heads
    int numKvHeads,            // num_key_value_heads (defaults to num_attention_heads)
    int vocabSize,             // vocab_size
    double rmsNormEps,         // rms_norm_eps
    double ropeTheta,          // rope_theta (10000 in LLaMA-1/2)
    int maxPositions,          // max_position_embeddings
    boolean tieWordEmbeddings, // tie_word_embeddings
    int bosId, int eosId, int padId) {

    public LlamaConfig {
        if (hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || numHeads <= 0 || numKvHeads <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("LlamaConfig: sizes must be positive (hidden " + hiddenSize + ", intermediate "
                + intermediateSize + ", layers " + numLayers + ", heads " + numHeads + "/" + numKvHeads + ", vocab " + vocabSize + ")");
        }
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numHeads);
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if ((hiddenSize / numHeads) % 2 != 0) throw new IllegalArgumentException("head dim must be even for rotary embeddings");
    }

    public int headDim() { return hiddenSize / numHeads; }

    public static LlamaConfig fromJson(JsonNode n) {
        String what = "LlamaConfig";
        String act = ConfigJson.optString(n, "hidden_act", "silu");
        if (!act.equals("silu")) throw new IllegalArgumentException(what + ": hidden_act '" + act + "' is not supported (only silu)");
        JsonNode scaling = n.get("rope_scaling");
        if (scaling != null && !scaling.isNull()) {
            throw new IllegalArgumentException(what + ": rope_scaling " + scaling + " is not supported yet");
        }
        // defaults are HF LlamaConfig's (llava-hf text_configs list only what differs from them)
        int heads = ConfigJson.optInt(n, "num_attention_heads", 32);
        return new LlamaConfig(
            ConfigJson.optInt(n, "hidden_size", 4096),
            ConfigJson.optInt(n, "intermediate_size", 11008),
            ConfigJson.optInt(n, "num_hidden_layers", 32),
            heads,
            ConfigJson.optInt(n, "num_key_value_heads", heads),
            ConfigJson.optInt(n, "vocab_size", 32000),
            ConfigJson.optDouble(n, "rms_norm_eps", 1e-6),
            ConfigJson.optDouble(n, "rope_theta", 10000.0),
            ConfigJson.optInt(n, "max_position_embeddings", 2048),
            ConfigJson.optBool(n, "tie_word_embeddings", false),
            ConfigJson.optInt(n, "bos_token_id", 1),
            ConfigJson.optInt(n, "eos_token_id", 2),
            ConfigJson.optInt(n, "pad_token_id", 0));
    }
}
