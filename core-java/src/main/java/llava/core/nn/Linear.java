package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Tensor;

/** y = x W^T + b with W [out, in] (torch.nn.Linear; same default init). */
public class Linear extends Module implements UnaryModule {
    public final int inFeatures, outFeatures;

    public Linear(int in, int out, boolean bias, DType dtype, Device device, Generator gen) {
        this.inFeatures = in;
        this.outFeatures = out;
        double bound = 1.0 / Math.sqrt(in);
        registerParameter("weight", Init.uniform(gen, bound, dtype, device, out, in));
        if (bias) registerParameter("bias", Init.uniform(gen, bound, dtype, device, out));
    }

    public Linear(int in, int out, boolean bias, Generator gen) {
        this(in, out, bias, DType.F32, Device.CPU, gen);
    }

    public Tensor weight() { return param("weight"); }
    public Tensor bias() { return param("bias"); }

    @Override
    public Tensor forward(Tensor x) {
        return F.linear(x, weight(), bias());
    }

    @Override
    protected String describe() {
        return "[in=" + inFeatures + ", out=" + outFeatures + ", bias=" + (bias() != null) + "]";
    }
}
