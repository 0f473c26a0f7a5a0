package llava.core.optim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Tensor;

/**
 * AdamW (Loshchilov and Hutter: decoupled weight decay) with bias correction, as
 * torch.optim.AdamW (amsgrad off). Each step calls the device's fused {@code Backend.adamw};
 * state (exp_avg, exp_avg_sq, and the master copy of a half parameter) is F32.
 */
public final class AdamW extends Optimizer {
    public static final String EXP_AVG = "exp_avg", EXP_AVG_SQ = "exp_avg_sq";

    private final double beta1, beta2, eps;

    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps) {
        super("AdamW", groups);
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("AdamW: invalid beta1: " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("AdamW: invalid beta2: " + beta2);
        if (!(eps >= 0)) throw new IllegalArgumentException("AdamW: invalid eps: " + eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    /** One group: every parameter gets lr and weightDecay. */
    public AdamW(Map<String, Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(List.of(new ParamGroup(params, lr, weightDecay)), beta1, beta2, eps);
    }

    @Override
    protected void checkParam(String name, Tensor p) {
        if (p.dtype() != DType.F32 && !p.dtype().isHalf()) {
            throw new IllegalArgumentException("AdamW: parameter '" + name + "' is " + p.dtype() + "; F32, BF16 and F16 are supported");
        }
        if (!p.isContiguous()) throw new IllegalArgumentException("AdamW: parameter '" + name + "' is not contiguous");
    }

    @Override
    protected List<String> bufferNames() { return List.of(EXP_AVG, EXP_AVG_SQ); }

    @Override
    protected Map<String, String> hyperparameters() {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("beta1", Double.toString(beta1));
        h.put("beta2", Double.toString(beta2));
        h.put("eps", Double.toString(eps));
        return h;
    }

    @Override
    protected void update(ParamGroup group, ParamState st, Tensor grad) {
        Tensor p = st.param();
        if (st.buffer(EXP_AVG) == null) {
            st.putBuffer(EXP_AVG, Tensor.zeros(DType.F32, p.device(), p.shape()));
            st.putBuffer(EXP_AVG_SQ, Tensor.zeros(DType.F32, p.device(), p.shape()));
        }
        // the fused kernel reads a contiguous gradient in F32 or the parameter's half type
        Tensor g = grad;
        if (!g.isContiguous() || (g.dtype() != DType.F32 && !g.dtype().isHalf())) g = g.to(DType.F32).contiguous();
        // with a master, the kernel steps the F32 master and writes it, rounded, into the half parameter
        Backends.get(p.device()).adamw(st.target(), g, st.buffer(EXP_AVG), st.buffer(EXP_AVG_SQ), group.lr(), beta1, beta2,
            eps, group.weightDecay(), st.step(), st.master() != null ? p : null);
    }
}
