package llava.cuda;

import java.util.ArrayList;
import java.util.List;
import llava.core.Backend;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/**
 * A one-layer LLaMA-style transformer built from llava.core ops (embedding, RMSNorm, RoPE,
 * causal padded attention, SwiGLU, LM head, cross-entropy) and trained with AdamW on F32 master
 * weights, for comparing a training step across devices. The same seed gives the same initial
 * weights and batch on every device. With dtype BF16/F16 the model computes with half-precision
 * copies of the masters (mixed precision); with F32 the masters are the model weights.
 */
final class TinyTransformer implements AutoCloseable {
    static final int V = 50, C = 128, H = 2, D = 64, FF = 256, B = 2, T = 9;

    private final Device device;
    private final DType dtype;
    private final Backend backend;
    private final List<Tensor> masters = new ArrayList<>(), weights = new ArrayList<>();
    private final List<Tensor> expAvg = new ArrayList<>(), expAvgSq = new ArrayList<>();
    private final Tensor ids, targets, positions, invFreq, keyMask;
    private long step;

    TinyTransformer(Device device, DType dtype, long seed) {
        this.device = device;
        this.dtype = dtype;
        this.backend = Backends.get(device);
        Generator g = new Generator(seed);
        try (GradMode ng = GradMode.noGrad()) {
            double s = 1 / Math.sqrt(C);
            param(g, 1.0, V, C);                // 0 embedding
            ones(C);                            // 1 attention norm
            param(g, s, C, C);                  // 2 wq
            param(g, s, C, C);                  // 3 wk
            param(g, s, C, C);                  // 4 wv
            param(g, s, C, C);                  // 5 wo
            ones(C);                            // 6 mlp norm
            param(g, s, FF, C);                 // 7 gate
            param(g, s, FF, C);                 // 8 up
            param(g, 1 / Math.sqrt(FF), C, FF); // 9 down
            param(g, s, V, C);                  // 10 head
            param(g, 0.1, V);                   // 11 head bias
            long[] id = new long[B * T], tg = new long[B * T], pos = new long[B * T];
            boolean[] mask = new boolean[B * T];
            for (int i = 0; i < B * T; i++) {
                id[i] = g.nextLong(V);
                tg[i] = i % 5 == 3 ? -100 : g.nextLong(V);
                pos[i] = i % T;
                mask[i] = i < T || i % T < T - 2; // the second sequence is right-padded by two tokens
            }
            ids = Tensor.of(id, B, T).to(device);
            targets = Tensor.of(tg, B * T).to(device);
            positions = Tensor.of(pos, B, T).to(device);
            keyMask = Tensor.of(mask, B, T).to(device);
            float[] f = new float[D / 2];
            for (int i = 0; i < D / 2; i++) f[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / D));
            invFreq = Tensor.of(f, D / 2).to(device);
        }
    }

    private void param(Generator g, double std, int... shape) {
        try (Tensor host = Tensor.normal(g, 0, std, DType.F32, Device.CPU, shape)) {
            add(host);
        }
    }

    private void ones(int n) {
        try (Tensor host = Tensor.ones(DType.F32, Device.CPU, n)) {
            add(host);
        }
    }

    private void add(Tensor host) {
        Tensor m = host.to(device);
        masters.add(m);
        expAvg.add(Tensor.zeros(DType.F32, device, host.shape()));
        expAvgSq.add(Tensor.zeros(DType.F32, device, host.shape()));
        Tensor w = dtype == DType.F32 ? m.alias() : m.to(dtype);
        w.requiresGrad(true);
        weights.add(w);
    }

    private Tensor w(int i) { return weights.get(i); }

    /** One forward, backward and AdamW step; returns the loss (before the update). */
    double step() {
        double lossValue;
        try (Scope s = Scope.open()) {
            Tensor x = F.embedding(w(0), ids);                                     // [B, T, C]
            Tensor h = F.rmsNorm(x, w(1), 1e-6);
            Tensor q = F.rope(F.linear(h, w(2), null).reshape(B, T, H, D), positions, invFreq);
            Tensor k = F.rope(F.linear(h, w(3), null).reshape(B, T, H, D), positions, invFreq);
            Tensor v = F.linear(h, w(4), null).reshape(B, T, H, D);
            Tensor a = F.scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), keyMask, true, 0);
            x = x.add(F.linear(a.transpose(1, 2).reshape(B, T, C), w(5), null));
            Tensor h2 = F.rmsNorm(x, w(6), 1e-6);
            x = x.add(F.linear(F.siluMul(F.linear(h2, w(7), null), F.linear(h2, w(8), null)), w(9), null));
            Tensor logits = F.linear(x.reshape(B * T, C), w(10), w(11));
            Tensor loss = F.crossEntropy(logits, targets, -100);
            loss.backward();
            lossValue = loss.item();
        }
        step++;
        try (GradMode ng = GradMode.noGrad()) {
            for (int i = 0; i < weights.size(); i++) {
                Tensor wt = weights.get(i);
                Tensor grad = wt.grad();
                if (grad == null) throw new IllegalStateException("no gradient reached weight " + i);
                backend.adamw(masters.get(i), grad, expAvg.get(i), expAvgSq.get(i), 1e-3, 0.9, 0.999, 1e-8, 0.01, step,
                    dtype == DType.F32 ? null : wt);
                wt.zeroGrad();
            }
        }
        backend.synchronize(device);
        return lossValue;
    }

    /** The F32 master weights, in declaration order. */
    List<Tensor> masters() { return masters; }

    @Override
    public void close() {
        for (List<Tensor> l : List.of(masters, weights, expAvg, expAvgSq)) {
            for (Tensor t : l) t.close();
        }
        for (Tensor t : new Tensor[] {ids, targets, positions, invFreq, keyMask}) t.close();
    }
}
