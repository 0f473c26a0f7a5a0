package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import llava.core.autograd.Autograd;
import llava.core.autograd.GradMode;
import org.junit.jupiter.api.Test;

class AutogradTest {

    @Test void gradientsAccumulateAcrossBackwardCalls() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true);
            x.mul(x).sum().backward();
            assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray());
            x.mul(3).sum().backward();
            assertArrayEquals(new float[] {5, 7, 9}, x.grad().toFloatArray());
            x.zeroGrad();
            assertNull(x.grad());
        }
    }

    @Test void sharedSubexpressionsSumTheirGradients() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {2}, 1).requiresGrad(true);
            Tensor y = x.mul(x);          // x^2
            Tensor z = y.mul(y).add(y);   // x^4 + x^2 -> 4x^3 + 2x = 36
            z.sum().backward();
            assertEquals(36f, x.grad().toFloatArray()[0], 1e-6);
        }
    }

    @Test void backwardWithExplicitGradientAndNonScalarError() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
            Tensor y = x.mul(2);
            assertThrows(IllegalArgumentException.class, y::backward);
            y.backward(Tensor.of(new float[] {1, 10}, 2));
            assertArrayEquals(new float[] {2, 20}, x.grad().toFloatArray());
        }
    }

    @Test void secondBackwardNeedsRetainGraph() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {3}, 1).requiresGrad(true);
            Tensor y = x.exp().sum();
            y.backward(null, true);
            y.backward(null, false);
            assertEquals(2 * Math.exp(3), x.grad().item(), 1e-4);
            IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("second time"), e.getMessage());
        }
    }

    @Test void noGradScopeRecordsNothing() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1}, 1).requiresGrad(true);
            Tensor y;
            try (GradMode g = GradMode.noGrad()) {
                y = x.mul(2);
            }
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
            assertTrue(x.mul(2).requiresGrad());
        }
    }

    @Test void detachCutsTheGraphAndSharesData() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
            Tensor d = x.mul(2).detach();
            assertFalse(d.requiresGrad());
            assertArrayEquals(new float[] {2, 4}, d.toFloatArray());
        }
    }

    @Test void hooksSeeAndReplaceGradients() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
            Tensor y = x.mul(3);
            List<float[]> seen = new ArrayList<>();
            y.registerHook(g -> {
                seen.add(g.toFloatArray());
                return g.mul(10);
            });
            List<String> ready = new ArrayList<>();
            x.registerGradReadyHook(t -> ready.add("ready"));
            y.sum().backward();
            assertArrayEquals(new float[] {1, 1}, seen.get(0));
            assertArrayEquals(new float[] {30, 30}, x.grad().toFloatArray());
            assertEquals(List.of("ready"), ready);
        }
    }

    @Test void autogradGradReturnsWithoutAccumulating() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
            Tensor w = Tensor.of(new float[] {5, 7}, 2).requiresGrad(true);
            Tensor loss = x.mul(w).sum();
            Tensor[] g = Autograd.grad(loss, new Tensor[] {w}, null, false);
            assertArrayEquals(new float[] {1, 2}, g[0].toFloatArray());
            assertNull(w.grad());
            assertNull(x.grad());
        }
    }

    @Test void castBackwardReturnsTheSourceDtype() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new double[] {1.5, -2}, 2).requiresGrad(true);
            x.to(DType.F32).mul(2).sum().backward();
            assertEquals(DType.F64, x.grad().dtype());
            assertArrayEquals(new double[] {2, 2}, x.grad().toDoubleArray());
            Tensor b = Tensor.of(new float[] {1, 2}, 2).to(DType.BF16).requiresGrad(true);
            b.to(DType.F32).square().sum().backward();
            assertEquals(DType.BF16, b.grad().dtype());
            assertArrayEquals(new float[] {2, 4}, b.grad().toFloatArray());
        }
    }

    @Test void inPlaceUpdateOfATensorThatRequiresGradIsRejectedUnderGrad() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.of(new float[] {1}, 1).requiresGrad(true);
            assertThrows(IllegalStateException.class, () -> w.add_(Tensor.of(new float[] {1}, 1)));
            try (GradMode g = GradMode.noGrad()) {
                w.add_(Tensor.of(new float[] {1}, 1));
            }
            assertEquals(2f, w.toFloatArray()[0]);
        }
    }

    @Test void intermediatesClosedByAnInnerScopeStillBackpropagate() {
        try (Scope outer = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true);
            Tensor loss;
            try (Scope inner = Scope.open()) {
                Tensor h = x.exp().mul(2).tanh();
                loss = inner.keep(h.sum());
            }
            loss.backward();
            double[] g = x.grad().toDoubleArray();
            for (int i = 0; i < 3; i++) {
                double e = Math.exp(i + 1), t = Math.tanh(2 * e);
                assertEquals((1 - t * t) * 2 * e, g[i], 1e-5);
            }
        }
    }
}
