package llava.models.llava;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.nn.Linear;
import llava.core.nn.Module;

/**
 * The multimodal projector (model.mm_projector): one Linear ("linear", LLaVA 0.1) or
 * Linear-GELU-Linear... ("mlpNx_gelu", LLaVA-1.5; linears named "0", "2", ... as upstream's
 * nn.Sequential).
 */
public final class Projector extends Module {
    private final Linear[] linears;

    public Projector(String type, int inDim, int outDim, DType dtype, Device device, Generator gen) {
        if (type.equals("linear")) {
            linears = null;
            registerParameter("weight", llava.core.nn.Init.uniform(gen, 1 / Math.sqrt(inDim), dtype, device, outDim, inDim));
            registerParameter("bias", llava.core.nn.Init.uniform(gen, 1 / Math.sqrt(inDim), dtype, device, outDim));
            return;
        }
        Matcher m = Pattern.compile("^mlp(\\d+)x_gelu$").matcher(type);
        if (!m.matches()) throw new IllegalArgumentException("unknown mm_projector_type '" + type + "' (expected linear or mlpNx_gelu)");
        int depth = Integer.parseInt(m.group(1));
        linears = new Linear[depth];
        for (int i = 0; i < depth; i++) {
            linears[i] = registerModule(Integer.toString(2 * i), new Linear(i == 0 ? inDim : outDim, outDim, true, dtype, device, gen));
        }
    }

    /** features [..., inDim] -> [..., outDim]. */
    public Tensor forward(Tensor x) {
        if (linears == null) return llava.core.F.linear(x, param("weight"), param("bias"));
        try (Scope s = Scope.open()) {
            Tensor h = x;
            for (int i = 0; i < linears.length; i++) {
                if (i > 0) h = h.gelu();
                h = linears[i].forward(h);
            }
            return s.keep(h);
        }
    }
}
