package llava.core.optim;

import static llava.core.optim.OptimTesting.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

class SGDTest {

    /** torch.optim.SGD's update, evaluated in float64. */
    private static void referenceStep(double[] p, double[] buf, float[] g, int t, double lr, double momentum,
                                      double dampening, boolean nesterov, double wd) {
        for (int i = 0; i < p.length; i++) {
            double d = g[i] + wd * p[i];
            if (momentum != 0) {
                buf[i] = t == 1 ? d : momentum * buf[i] + (1 - dampening) * d;
                d = nesterov ? d + momentum * buf[i] : buf[i];
            }
            p[i] -= lr * d;
        }
    }

    private static void checkAgainstReference(DType dtype, double momentum, double dampening, boolean nesterov, double wd) {
        Generator gen = new Generator(21);
        double lr = 0.05;
        int n = 300;
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.randn(gen, n).to(dtype).requiresGrad(true);
            double[] ref = p.toDoubleArray(), buf = new double[n];
            try (SGD opt = new SGD(List.of(new ParamGroup(Map.of("p", p), lr, wd)), momentum, dampening, nesterov)) {
                for (int t = 1; t <= 5; t++) {
                    Tensor g = Tensor.randn(gen, n).to(dtype);
                    float[] gf = g.toFloatArray();
                    p.setGrad(g);
                    opt.step();
                    referenceStep(ref, buf, gf, t, lr, momentum, dampening, nesterov, wd);
                    double d = maxAbsDiff(p.toDoubleArray(), ref);
                    double tol = dtype == DType.F64 ? 1e-12 : 1e-6;
                    assertTrue(d <= tol, dtype + " momentum " + momentum + " dampening " + dampening + " nesterov " + nesterov
                        + " wd " + wd + ", step " + t + ": differs from the float64 reference by " + d);
                }
            }
        }
    }

    @Test void plainSgd() { checkAgainstReference(DType.F32, 0, 0, false, 0); }

    @Test void momentumWithDampeningAndWeightDecay() { checkAgainstReference(DType.F32, 0.9, 0.3, false, 0.01); }

    @Test void nesterovMomentum() { checkAgainstReference(DType.F32, 0.8, 0, true, 0.02); }

    @Test void float64ParametersStepInFloat64() { checkAgainstReference(DType.F64, 0.9, 0.1, false, 0.05); }

    /** A BF16 parameter keeps an F32 master: its value is the master rounded, not the sum of rounded steps. */
    @Test void halfParametersUseMasters() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.ones(DType.BF16, Device.CPU, 4).requiresGrad(true);
            Tensor p32 = Tensor.ones(4).requiresGrad(true);
            try (SGD opt = new SGD(Map.of("p", p), 1e-3); SGD opt32 = new SGD(Map.of("p", p32), 1e-3)) {
                for (int t = 0; t < 10; t++) {
                    p.setGrad(Tensor.ones(DType.BF16, Device.CPU, 4));
                    p32.setGrad(Tensor.ones(4));
                    opt.step();
                    opt32.step();
                }
                // 1 - 10 * 1e-3 = 0.99 in F32, rounded once to BF16; 1 - 1e-3 alone rounds back to 1 in BF16
                assertArrayEquals(p32.to(DType.BF16).toFloatArray(), p.toFloatArray(), 0f);
                assertTrue(p.toFloatArray()[0] < 1f, "the steps were lost to BF16 rounding");
            }
        }
    }

    @Test void nesterovNeedsMomentumAndNoDampening() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.ones(2).requiresGrad(true);
            List<ParamGroup> g = List.of(new ParamGroup(Map.of("p", p), 0.1, 0));
            assertThrows(IllegalArgumentException.class, () -> new SGD(g, 0, 0, true));
            assertThrows(IllegalArgumentException.class, () -> new SGD(g, 0.9, 0.1, true));
        }
    }
}
