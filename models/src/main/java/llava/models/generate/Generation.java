package llava.models.generate;

import java.util.ArrayList;
import java.util.List;
import llava.core.DType;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.models.llama.KvCache;
import llava.models.llama.LlamaModel;
import llava.models.llava.LlavaModel;

/**
 * Autoregressive decoding with a KV cache, as upstream's generate(): the first step runs the
 * whole prompt (with the image features spliced in), later steps feed only the last token and
 * continue the positions from the cache length; the image is encoded once.
 */
public final class Generation {
    private Generation() {}

    /** Called after each new token; return false to stop (stop strings, client gone). */
    @FunctionalInterface
    public interface Listener {
        boolean onToken(int token, float[] logits);
    }

    /** The new tokens, and why generation stopped. */
    public record Result(int[] tokens, String stopReason) {}

    public static Result generate(LlavaModel model, long[] prompt, Tensor images, SamplingParams params, int eosId, Listener listener) {
        if (prompt.length == 0) throw new IllegalArgumentException("empty prompt");
        Sampler sampler = new Sampler(params);
        List<Integer> out = new ArrayList<>();
        String reason = "length";
        int capacity = prompt.length + Math.max(params.maxNewTokens(), 1);
        try (GradMode ng = GradMode.noGrad();
             KvCache cache = new KvCache(model.config.llama(), 1, capacity, model.dtype(), model.device())) {
            float[] row;
            try (Scope s = Scope.open()) {
                Tensor ids = Tensor.of(prompt, model.device(), 1, prompt.length);
                Tensor feats = images == null ? null : model.encodeImages(images);
                Tensor embeds = model.embed(ids, feats, false);
                Tensor pos = LlamaModel.defaultPositions(1, prompt.length, 0, model.device());
                row = lastRow(model.decode(embeds, pos, null, cache));
            }
            for (int step = 0; step < params.maxNewTokens(); step++) {
                int tok = sampler.next(row);
                out.add(tok);
                if (listener != null && !listener.onToken(tok, row)) {
                    reason = "stop";
                    break;
                }
                if (tok == eosId) {
                    reason = "eos";
                    break;
                }
                if (step + 1 == params.maxNewTokens()) break;
                try (Scope s = Scope.open()) {
                    Tensor ids = Tensor.of(new long[] {tok}, model.device(), 1, 1);
                    Tensor embeds = model.model.embedTokens.forward(ids);
                    Tensor pos = LlamaModel.defaultPositions(1, 1, cache.length(), model.device());
                    row = lastRow(model.decode(embeds, pos, null, cache));
                }
            }
        }
        int[] tokens = out.stream().mapToInt(Integer::intValue).toArray();
        return new Result(tokens, reason);
    }

    /** Logits of the last position as F32 host floats. */
    private static float[] lastRow(Tensor logits) {
        int T = logits.size(1);
        try (Tensor last = logits.select(1, T - 1); Tensor f = last.dtype() == DType.F32 ? last.alias() : last.to(DType.F32)) {
            return f.toFloatArray();
        }
    }
}
