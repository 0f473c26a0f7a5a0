package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import llava.core.DType;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

class GradClipTest {

    private static double referenceNorm(List<Tensor> params) {
        double sum = 0;
        for (Tensor p : params) if (p.grad() != null) for (double v : p.grad().toDoubleArray()) sum += v * v;
        return Math.sqrt(sum);
    }

    @Test void clipsToMaxNormAndReturnsTheNormBefore() {
        Generator gen = new Generator(3);
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(40, 30).requiresGrad(true), b = Tensor.zeros(17).requiresGrad(true);
            Tensor c = Tensor.zeros(5).requiresGrad(true);
            a.setGrad(Tensor.randn(gen, 40, 30));
            b.setGrad(Tensor.randn(gen, 17).mul(3));
            List<Tensor> params = List.of(a, b, c); // c has no gradient: skipped
            double want = referenceNorm(params);
            double[] a0 = a.grad().toDoubleArray(), b0 = b.grad().toDoubleArray();
            double total = GradClip.clipGradNorm(params, 1.0);
            assertEquals(want, total, 1e-5 * want, "total norm");
            double coef = 1.0 / (want + 1e-6);
            double[] a1 = a.grad().toDoubleArray(), b1 = b.grad().toDoubleArray();
            for (int i = 0; i < a0.length; i++) assertEquals(a0[i] * coef, a1[i], 1e-6 * Math.abs(a0[i] * coef) + 1e-9);
            for (int i = 0; i < b0.length; i++) assertEquals(b0[i] * coef, b1[i], 1e-6 * Math.abs(b0[i] * coef) + 1e-9);
            assertEquals(1.0, referenceNorm(params), 1e-5, "norm after clipping");
        }
    }

    @Test void smallGradientsAreLeftAlone() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(3).requiresGrad(true);
            a.setGrad(Tensor.of(0.3f, -0.4f, 0f));
            float[] before = a.grad().toFloatArray();
            assertEquals(0.5, GradClip.clipGradNorm(List.of(a), 1.0), 1e-7);
            assertArrayEquals(before, a.grad().toFloatArray(), 0f);
            assertEquals(0.0, GradClip.totalNorm(List.of(Tensor.zeros(2).requiresGrad(true))), "no gradients: norm 0");
        }
    }

    /** The parameters are walked once, so a one-shot Iterable (a stream's iterator) is clipped too. */
    @Test void parametersAreIteratedOnce() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(2).requiresGrad(true);
            a.setGrad(Tensor.of(3f, 4f));
            Iterable<Tensor> once = java.util.stream.Stream.of(a)::iterator;
            assertEquals(5.0, GradClip.clipGradNorm(once, 1.0), 1e-6);
            assertArrayEquals(new float[] {0.6f, 0.8f}, a.grad().toFloatArray(), 1e-6f);
        }
    }

    /** BF16 gradients are summed in F32: 4096 values of 1 give 64 exactly (BF16 accumulation would stall at 256 ones). */
    @Test void halfGradientsAreSummedInF32() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(DType.BF16, llava.core.Device.CPU, 4096).requiresGrad(true);
            a.setGrad(Tensor.ones(DType.BF16, llava.core.Device.CPU, 4096));
            assertEquals(64.0, GradClip.clipGradNorm(List.of(a), 8.0), 1e-4);
            assertEquals(DType.BF16, a.grad().dtype());
            assertEquals(0.125, a.grad().toFloatArray()[0], 1e-3);
        }
    }

    @Test void nonFiniteNormPropagatesAsInTorch() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(2).requiresGrad(true);
            a.setGrad(Tensor.of(Float.NaN, 1f));
            assertTrue(Double.isNaN(GradClip.clipGradNorm(List.of(a), 1.0)));
            assertTrue(Float.isNaN(a.grad().toFloatArray()[1]), "torch multiplies by a NaN coefficient");
        }
    }
}
