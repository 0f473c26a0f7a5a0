package llava.models.clip;

import java.util.ArrayList;
import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.nn.Embedding;
import llava.core.nn.LayerNorm;
import llava.core.nn.Linear;
import llava.core.nn.Module;
import llava.core.nn.ModuleList;

/**
 * The CLIP ViT vision tower (HF CLIPVisionModel; parameter names "vision_model.*"): patch
 * embedding, class and position embeddings, pre_layrnorm, pre-LN encoder layers with
 * quick_gelu (or gelu) MLPs. LLaVA reads hidden state {@code mm_vision_select_layer} (-2) without
 * the CLS token; post_layernorm is loaded but unused there.
 */
public final class ClipVisionTower extends Module {
    public final ClipVisionConfig config;
    private final VisionTransformer vm;

    public ClipVisionTower(ClipVisionConfig config, DType dtype, Device device, Generator gen) {
        this.config = config;
        this.vm = registerModule("vision_model", new VisionTransformer(config, dtype, device, gen));
    }

    public DType dtype() { return vm.embeddings.patch.weight().dtype(); }
    public Device device() { return vm.embeddings.patch.weight().device(); }

    /**
     * All hidden states for pixels [B, C, S, S]: index 0 is the output of pre_layrnorm, index i
     * the output of encoder layer i (numLayers + 1 tensors of [B, 1 + patches, hidden]).
     */
    public List<Tensor> hiddenStates(Tensor pixels) {
        return run(pixels, config.numLayers(), true);
    }

    /** The encoder output, hidden_states[-1] (CLIPVisionModel's last_hidden_state; post_layernorm
     *  only applies to the pooled CLS output, which LLaVA does not use). */
    public Tensor lastHiddenState(Tensor pixels) {
        List<Tensor> hs = run(pixels, config.numLayers(), false);
        return hs.get(0);
    }

    /**
     * LLaVA's image features: hidden state {@code selectLayer} (negative counts from the end, as
     * in Python) with the CLS token dropped: [B, patches, hidden]. Only the layers needed run.
     */
    public Tensor selectFeatures(Tensor pixels, int selectLayer, boolean dropCls) {
        int n = config.numLayers() + 1;
        int idx = selectLayer < 0 ? selectLayer + n : selectLayer;
        if (idx < 0 || idx >= n) {
            throw new IllegalArgumentException("mm_vision_select_layer " + selectLayer + " is out of range for a tower with "
                + config.numLayers() + " layers");
        }
        try (Scope s = Scope.open()) {
            Tensor h = run(pixels, idx, false).get(0);
            return s.keep(dropCls ? h.narrow(1, 1, h.size(1) - 1) : h);
        }
    }

    /** Runs up to layer upTo; returns all states (all=true) or just the last one. */
    private List<Tensor> run(Tensor pixels, int upTo, boolean all) {
        checkPixels(pixels);
        List<Tensor> out = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Tensor px = pixels.dtype() == dtype() ? pixels : pixels.to(dtype());
            Tensor h = vm.preLayrnorm.forward(vm.embeddings.forward(px));
            if (all) out.add(s.keep(h));
            for (int i = 0; i < upTo; i++) {
                h = vm.encoder.layers.get(i).forward(h);
                if (all) out.add(s.keep(h));
            }
            if (!all) out.add(s.keep(h));
        }
        return out;
    }

    private void checkPixels(Tensor pixels) {
        int S = config.imageSize(), C = config.numChannels();
        if (pixels.dim() != 4 || pixels.size(1) != C || pixels.size(2) != S || pixels.size(3) != S) {
            throw new IllegalArgumentException("vision tower expects pixels [B, " + C + ", " + S + ", " + S + "], got "
                + java.util.Arrays.toString(pixels.shape()));
        }
    }

    /** The "vision_model" module. */
    static final class VisionTransformer extends Module {
        final Embeddings embeddings;
        final LayerNorm preLayrnorm;
        final Encoder encoder;
        final LayerNorm postLayernorm;

        VisionTransformer(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            embeddings = registerModule("embeddings", new Embeddings(c, dtype, device, gen));
            preLayrnorm = registerModule("pre_layrnorm", new LayerNorm(c.hiddenSize(), c.layerNormEps(), dtype, device));
            encoder = registerModule("encoder", new Encoder(c, dtype, device, gen));
            postLayernorm = registerModule("post_layernorm", new LayerNorm(c.hiddenSize(), c.layerNormEps(), dtype, device));
        }
    }

    static final class Encoder extends Module {
        final ModuleList<EncoderLayer> layers = registerModule("layers", new ModuleList<>());

        Encoder(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            for (int i = 0; i < c.numLayers(); i++) layers.add(new EncoderLayer(c, dtype, device, gen));
        }
    }

    /** Patch convolution (stride = kernel = patch, no bias) as one matmul over unfolded patches. */
    static final class PatchEmbedding extends Module {
        final int patch, channels, hidden;

        PatchEmbedding(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            patch = c.patchSize();
            channels = c.numChannels();
            hidden = c.hiddenSize();
            double bound = 1.0 / Math.sqrt(channels * patch * patch);
            registerParameter("weight", llava.core.nn.Init.uniform(gen, bound, dtype, device, hidden, channels, patch, patch));
        }

        Tensor weight() { return param("weight"); }

        /** [B, C, S, S] -> [B, (S/p)^2, hidden], patches in row-major order (as conv + flatten). */
        Tensor forward(Tensor px) {
            int B = px.size(0), S = px.size(2), g = S / patch;
            try (Scope s = Scope.open()) {
                Tensor patches = px.reshape(B, channels, g, patch, g, patch).permute(0, 2, 4, 1, 3, 5)
                    .reshape(B, g * g, channels * patch * patch);
                Tensor w = weight().reshape(hidden, channels * patch * patch);
                return s.keep(F.linear(patches, w, null));
            }
        }
    }

    static final class Embeddings extends Module {
        final PatchEmbedding patch;
        final Embedding position;

        Embeddings(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            registerParameter("class_embedding", llava.core.nn.Init.normal(gen, 1.0, dtype, device, c.hiddenSize()));
            patch = registerModule("patch_embedding", new PatchEmbedding(c, dtype, device, gen));
            position = registerModule("position_embedding", new Embedding(c.numPositions(), c.hiddenSize(), dtype, device, gen));
            // HF keeps arange(num_positions) as a buffer; it is recomputed here, not trusted from files
            registerBuffer("position_ids", Tensor.arange(0, c.numPositions(), 1, DType.I64, device).reshape(1, -1), false);
        }

        Tensor forward(Tensor px) {
            int B = px.size(0);
            try (Scope s = Scope.open()) {
                Tensor patches = patch.forward(px);
                int H = patches.size(2);
                Tensor cls = param("class_embedding").reshape(1, 1, H).expand(B, 1, H);
                Tensor x = Tensor.cat(1, cls, patches);
                return s.keep(x.add(position.weight().unsqueeze(0)));
            }
        }
    }

    static final class Attention extends Module {
        final Linear q, k, v, out;
        final int heads, headDim;

        Attention(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            int h = c.hiddenSize();
            heads = c.numHeads();
            headDim = c.headDim();
            k = registerModule("k_proj", new Linear(h, h, true, dtype, device, gen));
            v = registerModule("v_proj", new Linear(h, h, true, dtype, device, gen));
            q = registerModule("q_proj", new Linear(h, h, true, dtype, device, gen));
            out = registerModule("out_proj", new Linear(h, h, true, dtype, device, gen));
        }

        Tensor forward(Tensor x) {
            int B = x.size(0), T = x.size(1);
            try (Scope s = Scope.open()) {
                Tensor qh = q.forward(x).view(B, T, heads, headDim).transpose(1, 2);
                Tensor kh = k.forward(x).view(B, T, heads, headDim).transpose(1, 2);
                Tensor vh = v.forward(x).view(B, T, heads, headDim).transpose(1, 2);
                Tensor a = F.scaledDotProductAttention(qh, kh, vh, null, false, 1.0 / Math.sqrt(headDim));
                return s.keep(out.forward(a.transpose(1, 2).reshape(B, T, heads * headDim)));
            }
        }
    }

    static final class Mlp extends Module {
        final Linear fc1, fc2;
        final String act;

        Mlp(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            fc1 = registerModule("fc1", new Linear(c.hiddenSize(), c.intermediateSize(), true, dtype, device, gen));
            fc2 = registerModule("fc2", new Linear(c.intermediateSize(), c.hiddenSize(), true, dtype, device, gen));
            act = c.hiddenAct();
        }

        Tensor forward(Tensor x) {
            try (Scope s = Scope.open()) {
                Tensor h = fc1.forward(x);
                h = switch (act) {
                    case "quick_gelu" -> h.quickGelu();
                    case "gelu" -> h.gelu();
                    default -> h.geluTanh();
                };
                return s.keep(fc2.forward(h));
            }
        }
    }

    static final class EncoderLayer extends Module {
        final Attention attn;
        final LayerNorm ln1, ln2;
        final Mlp mlp;

        EncoderLayer(ClipVisionConfig c, DType dtype, Device device, Generator gen) {
            attn = registerModule("self_attn", new Attention(c, dtype, device, gen));
            ln1 = registerModule("layer_norm1", new LayerNorm(c.hiddenSize(), c.layerNormEps(), dtype, device));
            mlp = registerModule("mlp", new Mlp(c, dtype, device, gen));
            ln2 = registerModule("layer_norm2", new LayerNorm(c.hiddenSize(), c.layerNormEps(), dtype, device));
        }

        Tensor forward(Tensor x) {
            return hooked(() -> {
                try (Scope s = Scope.open()) {
                    Tensor h = x.add(attn.forward(ln1.forward(x)));
                    return s.keep(h.add(mlp.forward(ln2.forward(h))));
                }
            });
        }
    }
}
