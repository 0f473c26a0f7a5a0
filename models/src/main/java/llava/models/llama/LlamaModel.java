package llava.models.llama;

import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.Checkpoint;
import llava.core.nn.Embedding;
import llava.core.nn.Linear;
import llava.core.nn.Module;
import llava.core.nn.ModuleList;
import llava.core.nn.RMSNorm;

/**
 * The LLaMA decoder (HF LlamaModel; names embed_tokens, layers.N.*, norm): RMSNorm pre-norm
 * layers with rotary attention (rotate-half layout, grouped KV heads) and SwiGLU MLPs.
 */
public class LlamaModel extends Module {
    public final LlamaConfig config;
    public final Embedding embedTokens;
    public final ModuleList<DecoderLayer> layers;
    public final RMSNorm norm;
    private boolean gradientCheckpointing;

    public LlamaModel(LlamaConfig c, DType dtype, Device device, Generator gen) {
        this.config = c;
        embedTokens = registerModule("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize(), dtype, device, gen));
        layers = registerModule("layers", new ModuleList<>());
        for (int i = 0; i < c.numLayers(); i++) layers.add(new DecoderLayer(c, dtype, device, gen));
        norm = registerModule("norm", new RMSNorm(c.hiddenSize(), c.rmsNormEps(), dtype, device));
        registerBuffer("rotary_inv_freq", inverseFrequencies(c.headDim(), c.ropeTheta(), device), false);
    }

    /**
     * inv_freq = 1 / theta^(arange(0, d, 2) / d) computed in F32 as upstream does at construction
     * (the checkpoint's rotary_emb.inv_freq buffers are not used).
     */
    public static Tensor inverseFrequencies(int headDim, double theta, Device device) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            float exponent = (float) (2 * i) / (float) headDim;
            float p = (float) Math.pow((float) theta, exponent);
            f[i] = 1.0f / p;
        }
        return Tensor.of(f, device, f.length);
    }

    /** Recompute each layer's activations in backward instead of storing them. */
    public void setGradientCheckpointing(boolean on) { gradientCheckpointing = on; }

    /**
     * Runs the decoder on input embeddings [B, T, H] at positions [B, T] (I64).
     *
     * @param keyMask BOOL [B, pastLength + T], false at padding tokens; null when there is none
     * @param cache   KV cache to read past keys from and append to (null: no cache)
     * @param hiddenOut if not null, receives the input embeddings and each layer's output (before
     *                  the final norm), like HF's output_hidden_states without the last entry
     * @return the final-normed hidden states [B, T, H]
     */
    public Tensor forward(Tensor inputsEmbeds, Tensor positionIds, Tensor keyMask, KvCache cache, List<Tensor> hiddenOut) {
        int B = inputsEmbeds.size(0), T = inputsEmbeds.size(1);
        if (inputsEmbeds.dim() != 3 || inputsEmbeds.size(2) != config.hiddenSize()) {
            throw new IllegalArgumentException("LLaMA expects inputs_embeds [B, T, " + config.hiddenSize() + "], got "
                + java.util.Arrays.toString(inputsEmbeds.shape()));
        }
        if (!java.util.Arrays.equals(positionIds.shape(), new int[] {B, T})) {
            throw new IllegalArgumentException("position ids must be [" + B + ", " + T + "], got " + java.util.Arrays.toString(positionIds.shape()));
        }
        int past = cache == null ? 0 : cache.length();
        if (keyMask != null && !java.util.Arrays.equals(keyMask.shape(), new int[] {B, past + T})) {
            throw new IllegalArgumentException("key mask must be [" + B + ", " + (past + T) + "], got " + java.util.Arrays.toString(keyMask.shape()));
        }
        Tensor invFreq = buffer("rotary_inv_freq");
        try (Scope s = Scope.open()) {
            Tensor h = inputsEmbeds;
            if (hiddenOut != null) hiddenOut.add(s.keep(h.alias()));
            for (int i = 0; i < layers.size(); i++) {
                DecoderLayer layer = layers.get(i);
                if (gradientCheckpointing && cache == null && llava.core.autograd.GradMode.isEnabled()) {
                    h = Checkpoint.apply(in -> layer.forward(in[0], positionIds, invFreq, keyMask, null, 0),
                        new Tensor[] {h}, layer.trainableParameters());
                } else {
                    h = layer.forward(h, positionIds, invFreq, keyMask, cache, i);
                }
                if (hiddenOut != null) hiddenOut.add(s.keep(h.alias()));
            }
            if (cache != null) cache.advance(T);
            return s.keep(norm.forward(h));
        }
    }

    /** One decoder layer: x + attn(norm(x)), then + mlp(norm(.)). */
    public static final class DecoderLayer extends Module {
        final Attention selfAttn;
        final Mlp mlp;
        final RMSNorm inputLayernorm, postAttentionLayernorm;

        DecoderLayer(LlamaConfig c, DType dtype, Device device, Generator gen) {
            selfAttn = registerModule("self_attn", new Attention(c, dtype, device, gen));
            mlp = registerModule("mlp", new Mlp(c, dtype, device, gen));
            inputLayernorm = registerModule("input_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps(), dtype, device));
            postAttentionLayernorm = registerModule("post_attention_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps(), dtype, device));
        }

        Tensor forward(Tensor x, Tensor positions, Tensor invFreq, Tensor keyMask, KvCache cache, int index) {
            return hooked(() -> {
                try (Scope s = Scope.open()) {
                    Tensor h = x.add(selfAttn.forward(inputLayernorm.forward(x), positions, invFreq, keyMask, cache, index));
                    return s.keep(h.add(mlp.forward(postAttentionLayernorm.forward(h))));
                }
            });
        }
    }

    static final class Attention extends Module {
        final Linear q, k, v, o;
        final int heads, kvHeads, headDim;

        Attention(LlamaConfig c, DType dtype, Device device, Generator gen) {
            int h = c.hiddenSize();
            heads = c.numHeads();
            kvHeads = c.numKvHeads();
            headDim = c.headDim();
            q = registerModule("q_proj", new Linear(h, heads * headDim, false, dtype, device, gen));
            k = registerModule("k_proj", new Linear(h, kvHeads * headDim, false, dtype, device, gen));
            v = registerModule("v_proj", new Linear(h, kvHeads * headDim, false, dtype, device, gen));
            o = registerModule("o_proj", new Linear(heads * headDim, h, false, dtype, device, gen));
        }

        Tensor forward(Tensor x, Tensor positions, Tensor invFreq, Tensor keyMask, KvCache cache, int index) {
            int B = x.size(0), T = x.size(1);
            try (Scope s = Scope.open()) {
                Tensor qh = F.rope(q.forward(x).view(B, T, heads, headDim), positions, invFreq).transpose(1, 2);
                Tensor kh = F.rope(k.forward(x).view(B, T, kvHeads, headDim), positions, invFreq).transpose(1, 2);
                Tensor vh = v.forward(x).view(B, T, kvHeads, headDim).transpose(1, 2);
                if (cache != null) {
                    Tensor[] kv = cache.append(index, kh, vh);
                    kh = kv[0];
                    vh = kv[1];
                }
                Tensor a = F.scaledDotProductAttention(qh, kh, vh, keyMask, true, 1.0 / Math.sqrt(headDim));
                return s.keep(o.forward(a.transpose(1, 2).reshape(B, T, heads * headDim)));
            }
        }
    }

    static final class Mlp extends Module {
        final Linear gate, up, down;

        Mlp(LlamaConfig c, DType dtype, Device device, Generator gen) {
            gate = registerModule("gate_proj", new Linear(c.hiddenSize(), c.intermediateSize(), false, dtype, device, gen));
            up = registerModule("up_proj", new Linear(c.hiddenSize(), c.intermediateSize(), false, dtype, device, gen));
            down = registerModule("down_proj", new Linear(c.intermediateSize(), c.hiddenSize(), false, dtype, device, gen));
        }

        Tensor forward(Tensor x) {
            try (Scope s = Scope.open()) {
                return s.keep(down.forward(F.siluMul(gate.forward(x), up.forward(x))));
            }
        }
    }

    /** Positions 0..T-1 for every row, offset by past (what upstream uses in training). */
    public static Tensor defaultPositions(int B, int T, int past, Device device) {
        long[] p = new long[B * T];
        for (int b = 0; b < B; b++) for (int t = 0; t < T; t++) p[b * T + t] = past + t;
        return Tensor.of(p, device, B, T);
    }
}
