package llava.core.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/** Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (L2, error_if_nonfinite off). */
public final class GradClip {
    private GradClip() {}

    /**
     * The L2 norm of all gradients together (parameters without a gradient are skipped), summed
     * in F32 whatever the gradients' dtype. One device-to-host transfer per device.
     */
    public static double totalNorm(Iterable<Tensor> params) {
        return norm(grads(params));
    }

    private static double norm(List<Tensor> grads) {
        if (grads.isEmpty()) return 0.0;
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Map<Device, Tensor> perDevice = new LinkedHashMap<>();
            for (Tensor g : grads) {
                Tensor g32 = g.to(DType.F32);
                Tensor sq = g32.square().sum();
                perDevice.merge(g.device(), sq, Tensor::add);
            }
            float sum = 0;
            for (Tensor t : perDevice.values()) sum += (float) t.item();
            return (float) Math.sqrt(sum);
        }
    }

    /**
     * Scales every gradient in place by min(1, maxNorm / (total + 1e-6)) and returns the total
     * norm before clipping. Like torch, a non-finite total is not an error: the gradients then
     * become NaN (or 0 for an infinite total), and the caller sees the returned norm.
     */
    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipGradNorm: max norm must be positive, got " + maxNorm);
        List<Tensor> grads = grads(params);
        double total = norm(grads);
        float coef = (float) (maxNorm / (total + 1e-6));
        if (coef < 1.0f || Float.isNaN(coef)) {
            try (GradMode ng = GradMode.noGrad()) {
                for (Tensor g : grads) g.mul_(coef);
            }
        }
        return total;
    }

    private static List<Tensor> grads(Iterable<Tensor> params) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor p : params) if (p.grad() != null) out.add(p.grad());
        return out;
    }
}
