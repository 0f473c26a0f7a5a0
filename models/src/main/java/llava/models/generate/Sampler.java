package llava.models.generate;

import llava.core.Generator;

/** Picks the next token from one row of logits (on the host). */
public final class Sampler {
    private final SamplingParams params;
    private final Generator rng;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.rng = new Generator(params.seed());
    }

    public int next(float[] logits) {
        if (params.isGreedy()) return argmax(logits);
        int V = logits.length;
        double t = params.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) max = Math.max(max, l / t);
        double[] p = new double[V];
        double z = 0;
        for (int i = 0; i < V; i++) {
            p[i] = Math.exp(logits[i] / t - max);
            z += p[i];
        }
        Integer[] order = null;
        double keepMass = 1;
        if (params.topP() < 1) {
            // nucleus: the smallest set of most likely tokens whose mass reaches top_p (at least one)
            order = new Integer[V];
            for (int i = 0; i < V; i++) order[i] = i;
            final double[] pp = p;
            java.util.Arrays.sort(order, (a, b) -> Double.compare(pp[b], pp[a]));
            double cum = 0;
            int keep = 0;
            while (keep < V) {
                cum += p[order[keep]] / z;
                keep++;
                if (cum >= params.topP()) break;
            }
            for (int k = keep; k < V; k++) p[order[k]] = 0;
            keepMass = 0;
            for (int k = 0; k < keep; k++) keepMass += p[order[k]];
            z = keepMass;
        }
        double u = rng.nextDouble() * z;
        double acc = 0;
        for (int i = 0; i < V; i++) {
            acc += p[i];
            if (u < acc) return i;
        }
        return argmax(logits);
    }

    /** First index of the largest value. */
    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
