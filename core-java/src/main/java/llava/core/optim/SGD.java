package llava.core.optim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.Tensor;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled, L2)
 * weight decay, as torch.optim.SGD:
 * <pre>
 * d = g + wd * p
 * buf = d (first step), else momentum * buf + (1 - dampening) * d
 * d = nesterov ? d + momentum * buf : buf        (when momentum != 0)
 * p = p - lr * d
 * </pre>
 * Runs on any float parameter (F64 included); half parameters are stepped through F32 masters.
 */
public final class SGD extends Optimizer {
    public static final String MOMENTUM_BUFFER = "momentum_buffer";

    private final double momentum, dampening;
    private final boolean nesterov;

    public SGD(List<ParamGroup> groups, double momentum, double dampening, boolean nesterov) {
        super("SGD", groups);
        if (!(momentum >= 0)) throw new IllegalArgumentException("SGD: invalid momentum: " + momentum);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("SGD: Nesterov momentum requires a momentum and zero dampening");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
    }

    /** One group, no momentum. */
    public SGD(Map<String, Tensor> params, double lr) {
        this(List.of(new ParamGroup(params, lr, 0)), 0, 0, false);
    }

    @Override
    protected List<String> bufferNames() { return List.of(MOMENTUM_BUFFER); }

    @Override
    protected Map<String, String> hyperparameters() {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("momentum", Double.toString(momentum));
        h.put("dampening", Double.toString(dampening));
        h.put("nesterov", Boolean.toString(nesterov));
        return h;
    }

    @Override
    protected void update(ParamGroup group, ParamState st, Tensor grad) {
        Tensor target = st.target();
        // temporaries belong to the scope the base class opened around this call
        Tensor d = grad.to(target.dtype());
        if (group.weightDecay() != 0) d = d.add(target.mul(group.weightDecay()));
        if (momentum != 0) {
            Tensor buf = st.buffer(MOMENTUM_BUFFER);
            if (buf == null) {
                buf = d.clone();
                st.putBuffer(MOMENTUM_BUFFER, buf);
            } else {
                buf.mul_(momentum).add_(dampening == 0 ? d : d.mul(1 - dampening));
            }
            d = nesterov ? d.add(buf.mul(momentum)) : buf;
        }
        target.sub_(d.mul(group.lr()));
        if (st.master() != null) st.param().copy_(target);
    }
}
