package llava.core.autograd;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import llava.core.Scope;
import llava.core.Tensor;

/**
 * Activation checkpointing: run a block without keeping its intermediate activations, and
 * recompute them during backward. The block must be deterministic (no dropout with a moving
 * generator). Parameters the block uses are passed explicitly so that their gradients flow even
 * when no input requires grad, and reach their leaves through the outer graph (so gradient-ready
 * hooks fire as usual).
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static Tensor apply(Function<Tensor[], Tensor> block, Tensor[] inputs, List<Tensor> params) {
        Tensor out;
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            out = s.keep(block.apply(inputs));
        }
        if (!GradMode.isEnabled()) return out;
        int n = inputs.length;
        Tensor[] all = new Tensor[n + params.size()];
        System.arraycopy(inputs, 0, all, 0, n);
        for (int i = 0; i < params.size(); i++) all[n + i] = params.get(i);
        return Autograd.record("CheckpointBackward", out, all, inputs, (ctx, g) -> {
            Tensor[] xs = new Tensor[n];
            List<Tensor> wrt = new ArrayList<>();
            List<Integer> slot = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Tensor saved = ctx.saved(i);
                xs[i] = saved.detach();
                if (ctx.needs(i)) {
                    xs[i].requiresGrad(true);
                    wrt.add(xs[i]);
                    slot.add(i);
                }
            }
            for (int i = 0; i < params.size(); i++) {
                if (ctx.needs(n + i)) {
                    wrt.add(params.get(i));
                    slot.add(n + i);
                }
            }
            Tensor[] grads = new Tensor[all.length];
            if (wrt.isEmpty()) return grads;
            try (GradMode eg = GradMode.enableGrad()) {
                Tensor y = block.apply(xs);
                Tensor[] gs = Autograd.grad(y, wrt.toArray(new Tensor[0]), g, false);
                for (int k = 0; k < gs.length; k++) grads[slot.get(k)] = gs[k];
            }
            return grads;
        });
    }
}
