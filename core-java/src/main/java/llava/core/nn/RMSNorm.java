package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Tensor;

/** RMSNorm over the last dimension (LLaMA): weight * x / sqrt(mean(x^2) + eps), variance in F32. */
public class RMSNorm extends Module implements UnaryModule {
    public final int dim;
    public final double eps;

    public RMSNorm(int dim, double eps, DType dtype, Device device) {
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", Tensor.ones(dtype, device, dim));
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.rmsNorm(x, param("weight"), eps);
    }

    @Override
    protected String describe() { return "[" + dim + ", eps=" + eps + "]"; }
}
