package llava.cuda;

import llava.core.DType;
import llava.core.Scope;
import llava.core.Tensor;
import llava.cuda.BackendConformance.P;

/**
 * Fused attention, forward and backward, compared with the CPU backend: causal and not, padded
 * keys (including a batch whose keys are all padding), grouped-query heads, Tq != Tk (decoding,
 * and more queries than keys, where causal rows see no key), q as the strided view the models
 * pass in.
 */
final class AttentionScenarios {
    private final BackendConformance c;

    AttentionScenarios(BackendConformance c) {
        this.c = c;
    }

    /** One configuration: {B, Hq, Hkv, Tq, Tk}. */
    static final int[][] CONFIGS = {
        {2, 4, 4, 37, 37},   // plain, odd length
        {2, 4, 2, 64, 64},   // grouped-query
        {1, 8, 1, 1, 77},    // decoding one token against a cache, multi-query
        {3, 2, 2, 19, 50},   // fewer queries than keys
        {2, 2, 1, 45, 20},   // more queries than keys: causal rows before the first key see nothing
        {1, 2, 2, 130, 130}, // past one 128-row tile
    };

    void run(DType dt, int D, int[] cfg, boolean causal, boolean padded, boolean stridedQ) {
        int B = cfg[0], Hq = cfg[1], Hkv = cfg[2], Tq = cfg[3], Tk = cfg[4];
        String tag = dt + " D=" + D + " B=" + B + " Hq=" + Hq + " Hkv=" + Hkv + " Tq=" + Tq + " Tk=" + Tk
            + (causal ? " causal" : "") + (padded ? " padded" : "") + (stridedQ ? " strided q" : "");
        try (Scope s = Scope.open()) {
            P q = stridedQ ? c.randn(dt, B, Tq, Hq, D).map(t -> t.transpose(1, 2)) : c.randn(dt, B, Hq, Tq, D);
            P k = c.randn(dt, B, Hkv, Tk, D), v = c.randn(dt, B, Hkv, Tk, D);
            P mask = padded ? c.twin(keyMask(B, Tk)) : null;
            double scale = 1 / Math.sqrt(D);
            P out = c.out(dt, B, Hq, Tq, D), lse = c.out(DType.F32, B, Hq, Tq);
            c.each((b, i) -> b.attention(q.get(i), k.get(i), v.get(i), BackendConformance.get(mask, i), causal, scale,
                out.get(i), lse.get(i)));
            c.check("attention out " + tag, out);
            c.check("attention lse " + tag, lse, BackendConformance.tolerance(DType.F32));
            P gOut = c.randn(dt, B, Hq, Tq, D);
            P gq = c.out(dt, B, Hq, Tq, D), gk = c.out(dt, B, Hkv, Tk, D), gv = c.out(dt, B, Hkv, Tk, D);
            c.each((b, i) -> b.attentionBackward(q.get(i), k.get(i), v.get(i), out.get(i), lse.get(i), gOut.get(i),
                BackendConformance.get(mask, i), causal, scale, gq.get(i), gk.get(i), gv.get(i)));
            c.check("attention gq " + tag, gq);
            c.check("attention gk " + tag, gk);
            c.check("attention gv " + tag, gv);
        }
    }

    /** Batch 0 unpadded, batch 1 right-padded by a third, batch 2 (if any) all padding. */
    static Tensor keyMask(int B, int Tk) {
        boolean[] m = new boolean[B * Tk];
        for (int b = 0; b < B; b++) {
            int real = b == 0 ? Tk : b == 1 ? Tk - Tk / 3 : 0;
            for (int j = 0; j < real; j++) m[b * Tk + j] = true;
        }
        return Tensor.of(m, B, Tk);
    }
}
