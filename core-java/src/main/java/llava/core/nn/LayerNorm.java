package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Tensor;

/** LayerNorm over the last dimension with affine weight (ones) and bias (zeros). */
public class LayerNorm extends Module implements UnaryModule {
    public final int dim;
    public final double eps;

    public LayerNorm(int dim, double eps, DType dtype, Device device) {
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", Tensor.ones(dtype, device, dim));
        registerParameter("bias", Tensor.zeros(dtype, device, dim));
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.layerNorm(x, param("weight"), param("bias"), eps);
    }

    @Override
    protected String describe() { return "[" + dim + ", eps=" + eps + "]"; }
}
