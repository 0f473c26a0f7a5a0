package llava.core.demo;

import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.nn.Embedding;
import llava.core.nn.Init;
import llava.core.nn.Linear;
import llava.core.nn.Module;
import llava.core.nn.ModuleList;
import llava.core.nn.RMSNorm;

/**
 * A small decoder-only transformer in LLaMA's layout, built from the engine's nn modules and
 * fused ops: pre-norm layers (RMSNorm, causal attention with rotary positions, SwiGLU MLP), a
 * final RMSNorm and an lm head, tied to the embedding or not. Parameter names follow HF's
 * LlamaModel ("layers.0.self_attn.q_proj.weight").
 */
public final class TinyTransformer extends Module {

    /** Sizes. hiddenDim is the MLP's inner width; dim must be a multiple of numHeads with an even head size. */
    public record Config(int vocabSize, int dim, int numLayers, int numHeads, int hiddenDim, boolean tiedEmbeddings,
                         double normEps, double ropeTheta) {
        public Config {
            if (vocabSize <= 0 || dim <= 0 || numLayers <= 0 || numHeads <= 0 || hiddenDim <= 0) {
                throw new IllegalArgumentException("model sizes must be positive: " + this);
            }
            if (dim % numHeads != 0 || (dim / numHeads) % 2 != 0) {
                throw new IllegalArgumentException("dim " + dim + " must split into " + numHeads + " heads of even size");
            }
        }

        public int headDim() { return dim / numHeads; }
    }

    /** Causal self-attention with rotary embeddings on q and k. */
    static final class Attention extends Module {
        final Linear qProj, kProj, vProj, oProj;
        final int heads, headDim;

        Attention(Config c, DType dtype, Device device, Generator gen) {
            heads = c.numHeads();
            headDim = c.headDim();
            qProj = registerModule("q_proj", new Linear(c.dim(), c.dim(), false, dtype, device, gen));
            kProj = registerModule("k_proj", new Linear(c.dim(), c.dim(), false, dtype, device, gen));
            vProj = registerModule("v_proj", new Linear(c.dim(), c.dim(), false, dtype, device, gen));
            oProj = registerModule("o_proj", new Linear(c.dim(), c.dim(), false, dtype, device, gen));
        }

        Tensor forward(Tensor x, Tensor positions, Tensor invFreq) {
            int B = x.size(0), T = x.size(1);
            try (Scope s = Scope.open()) {
                Tensor q = F.rope(qProj.forward(x).view(B, T, heads, headDim), positions, invFreq).transpose(1, 2);
                Tensor k = F.rope(kProj.forward(x).view(B, T, heads, headDim), positions, invFreq).transpose(1, 2);
                Tensor v = vProj.forward(x).view(B, T, heads, headDim).transpose(1, 2);
                Tensor a = F.scaledDotProductAttention(q, k, v, null, true, 0);
                return s.keep(oProj.forward(a.transpose(1, 2).reshape(B, T, heads * headDim)));
            }
        }
    }

    /** down(silu(gate(x)) * up(x)). */
    static final class Mlp extends Module {
        final Linear gateProj, upProj, downProj;

        Mlp(Config c, DType dtype, Device device, Generator gen) {
            gateProj = registerModule("gate_proj", new Linear(c.dim(), c.hiddenDim(), false, dtype, device, gen));
            upProj = registerModule("up_proj", new Linear(c.dim(), c.hiddenDim(), false, dtype, device, gen));
            downProj = registerModule("down_proj", new Linear(c.hiddenDim(), c.dim(), false, dtype, device, gen));
        }

        Tensor forward(Tensor x) {
            try (Scope s = Scope.open()) {
                return s.keep(downProj.forward(F.siluMul(gateProj.forward(x), upProj.forward(x))));
            }
        }
    }

    /** x + attn(norm(x)), then + mlp(norm(.)). */
    static final class Layer extends Module {
        final RMSNorm inputNorm, postAttentionNorm;
        final Attention attention;
        final Mlp mlp;

        Layer(Config c, DType dtype, Device device, Generator gen) {
            attention = registerModule("self_attn", new Attention(c, dtype, device, gen));
            mlp = registerModule("mlp", new Mlp(c, dtype, device, gen));
            inputNorm = registerModule("input_layernorm", new RMSNorm(c.dim(), c.normEps(), dtype, device));
            postAttentionNorm = registerModule("post_attention_layernorm", new RMSNorm(c.dim(), c.normEps(), dtype, device));
        }

        Tensor forward(Tensor x, Tensor positions, Tensor invFreq) {
            try (Scope s = Scope.open()) {
                Tensor h = x.add(attention.forward(inputNorm.forward(x), positions, invFreq));
                return s.keep(h.add(mlp.forward(postAttentionNorm.forward(h))));
            }
        }
    }

    public final Config config;
    private final Embedding embed;
    private final ModuleList<Layer> layers;
    private final RMSNorm norm;
    private final Linear lmHead;

    /** Weights from gen: N(0, 0.02) embedding (small logits at the start when tied), PyTorch's Linear init. */
    public TinyTransformer(Config c, DType dtype, Device device, Generator gen) {
        this.config = c;
        embed = registerModule("embed_tokens", new Embedding(c.vocabSize(), c.dim(), dtype, device, gen));
        setTensor("embed_tokens.weight", Init.normal(gen, 0.02, dtype, device, c.vocabSize(), c.dim()));
        layers = registerModule("layers", new ModuleList<>());
        for (int i = 0; i < c.numLayers(); i++) layers.add(new Layer(c, dtype, device, gen));
        norm = registerModule("norm", new RMSNorm(c.dim(), c.normEps(), dtype, device));
        lmHead = c.tiedEmbeddings() ? null : registerModule("lm_head", new Linear(c.dim(), c.vocabSize(), false, dtype, device, gen));
        // inv_freq[i] = theta^(-2i/headDim), in F32 as the rope kernel expects
        int half = c.headDim() / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) inv[i] = (float) (1.0 / Math.pow(c.ropeTheta(), 2.0 * i / c.headDim()));
        try (Tensor host = Tensor.of(inv)) {
            registerBuffer("inv_freq", host.to(device), false);
        }
    }

    /** Logits [B, T, vocab] (the model's dtype) for token ids [B, T] (I64), positions 0..T-1. */
    public Tensor forward(Tensor ids) {
        if (ids.dim() != 2 || ids.dtype() != DType.I64) {
            throw new IllegalArgumentException("ids must be I64 [B, T], got " + ids.dtype() + " " + java.util.Arrays.toString(ids.shape()));
        }
        int B = ids.size(0), T = ids.size(1);
        try (Scope s = Scope.open()) {
            Tensor positions = Tensor.arange(0, T, 1, DType.I64, ids.device()).unsqueeze(0).expand(B, T);
            Tensor invFreq = buffer("inv_freq");
            Tensor h = embed.forward(ids);
            for (Layer l : layers) h = l.forward(h, positions, invFreq);
            h = norm.forward(h);
            Tensor logits = lmHead == null ? F.linear(h, embed.weight(), null) : lmHead.forward(h);
            return s.keep(logits);
        }
    }

    /** Mean cross-entropy of next-token predictions against targets [B, T] (I64; -100 = ignored). */
    public Tensor loss(Tensor ids, Tensor targets) {
        try (Scope s = Scope.open()) {
            Tensor logits = forward(ids);
            Tensor flat = logits.reshape(-1, config.vocabSize());
            return s.keep(F.crossEntropy(flat, targets.reshape(-1), -100));
        }
    }

    @Override
    protected String describe() {
        return "[dim=" + config.dim() + ", layers=" + config.numLayers() + ", heads=" + config.numHeads()
            + ", tied=" + config.tiedEmbeddings() + "]";
    }
}
