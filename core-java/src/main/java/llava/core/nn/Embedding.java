package llava.core.nn;

import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Tensor;

/** Lookup table [num, dim] (torch.nn.Embedding; N(0, 1) init). */
public class Embedding extends Module {
    public final int num, dim;

    public Embedding(int num, int dim, DType dtype, Device device, Generator gen) {
        this.num = num;
        this.dim = dim;
        registerParameter("weight", Init.normal(gen, 1.0, dtype, device, num, dim));
    }

    public Tensor weight() { return param("weight"); }

    /** Rows at ids (I64/I32, any shape): ids.shape + [dim]. */
    public Tensor forward(Tensor ids) {
        return F.embedding(weight(), ids);
    }

    @Override
    protected String describe() { return "[" + num + ", " + dim + "]"; }
}
