package llava.core.autograd;

import java.util.function.Function;
import llava.core.DType;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Storage;
import llava.core.Tensor;

/**
 * Checks analytic gradients against central finite differences in float64, like
 * torch.autograd.gradcheck. The function's output is reduced with fixed random weights, so every
 * output element contributes; each input element that requires grad is perturbed in turn.
 */
public final class GradCheck {
    private GradCheck() {}

    /** Thrown when a gradient disagrees with finite differences. */
    public static final class GradCheckError extends AssertionError {
        public GradCheckError(String msg) { super(msg); }
    }

    /** Checks with eps 1e-6, atol 1e-5, rtol 1e-3 (the torch defaults). */
    public static void check(Function<Tensor[], Tensor> fn, Tensor... inputs) {
        check(fn, 1e-6, 1e-5, 1e-3, inputs);
    }

    /**
     * inputs: CPU F64 tensors (views allowed); those with requiresGrad are checked. The function
     * must be deterministic.
     */
    public static void check(Function<Tensor[], Tensor> fn, double eps, double atol, double rtol, Tensor... inputs) {
        for (Tensor t : inputs) {
            if (t != null && t.requiresGrad() && (t.dtype() != DType.F64 || !t.device().isCpu())) {
                throw new IllegalArgumentException("gradcheck needs CPU float64 inputs, got " + t.dtype() + " on " + t.device());
            }
        }
        try (Scope scope = Scope.open()) {
            Tensor weights;
            Tensor[] analytic = new Tensor[inputs.length];
            try (Tensor out = fn.apply(inputs)) {
                weights = Tensor.randn(new Generator(1234), DType.F64, out.device(), out.shape());
                if (!out.requiresGrad()) throw new GradCheckError("the output does not require grad: nothing to check");
                Tensor target = out.mul(weights).sum();
                Tensor[] need = java.util.Arrays.stream(inputs).filter(t -> t != null && t.requiresGrad()).toArray(Tensor[]::new);
                Tensor[] grads = Autograd.grad(target, need, null, false);
                for (int i = 0, k = 0; i < inputs.length; i++) {
                    if (inputs[i] != null && inputs[i].requiresGrad()) analytic[i] = grads[k++];
                }
            }
            for (int i = 0; i < inputs.length; i++) {
                Tensor x = inputs[i];
                if (x == null || !x.requiresGrad()) continue;
                double[] a = analytic[i].toDoubleArray();
                int n = x.numel();
                int[] shape = x.shape(), strides = x.strides();
                for (int j = 0; j < n; j++) {
                    int off = x.offset();
                    for (int d = shape.length - 1, rem = j; d >= 0; d--) {
                        off += (rem % shape[d]) * strides[d];
                        rem /= shape[d];
                    }
                    double orig = read(x.storage(), off);
                    write(x.storage(), off, orig + eps);
                    double fp = eval(fn, inputs, weights);
                    write(x.storage(), off, orig - eps);
                    double fm = eval(fn, inputs, weights);
                    write(x.storage(), off, orig);
                    double numeric = (fp - fm) / (2 * eps);
                    if (Math.abs(a[j] - numeric) > atol + rtol * Math.abs(numeric)) {
                        throw new GradCheckError("gradient of input " + i + " (shape " + java.util.Arrays.toString(shape)
                            + ") at element " + j + ": analytic " + a[j] + ", numeric " + numeric);
                    }
                }
            }
        }
    }

    private static double eval(Function<Tensor[], Tensor> fn, Tensor[] inputs, Tensor weights) {
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor out = fn.apply(inputs);
            return out.mul(weights).sum().item();
        }
    }

    private static double read(Storage s, int off) {
        double[] v = new double[1];
        s.copyToHost(off, 1, v, 0);
        return v[0];
    }

    private static void write(Storage s, int off, double value) {
        s.copyFromHost(new double[] {value}, 0, off, 1);
    }
}
