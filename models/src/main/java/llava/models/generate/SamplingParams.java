package llava.models.generate;

/**
 * How to pick tokens: greedy when temperature is 0 (upstream's do_sample=False), otherwise
 * temperature scaling then nucleus (top-p) sampling, as HF's TemperatureLogitsWarper and
 * TopPLogitsWarper. seed makes sampling reproducible.
 */
public record SamplingParams(int maxNewTokens, double temperature, double topP, long seed) {
    public SamplingParams {
        if (maxNewTokens < 0) throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + maxNewTokens);
        if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(maxNewTokens, 0, 1, 0);
    }

    public boolean isGreedy() { return temperature == 0; }
}
