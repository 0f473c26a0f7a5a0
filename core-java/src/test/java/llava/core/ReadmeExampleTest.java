package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import llava.core.autograd.GradMode;
import llava.core.nn.Linear;
import org.junit.jupiter.api.Test;

/** The Tensor API example of README.md, kept compiling and running. */
class ReadmeExampleTest {
    @Test void readmeExampleRuns() {
        Generator gen = new Generator(42);
        try (Scope scope = Scope.open()) {
            Tensor x = Tensor.randn(gen, 8, 16);
            Linear layer = new Linear(16, 4, true, gen);
            Tensor y = layer.forward(x).relu();
            Tensor loss = y.square().mean();
            loss.backward();
            assertNotNull(layer.weight().grad());
            assertArrayEquals(new int[] {4, 16}, layer.weight().grad().shape());
            Tensor q = Tensor.randn(gen, DType.BF16, Device.CPU, 1, 8, 128, 64);
            Tensor att = F.scaledDotProductAttention(q, q, q, null, true, 0);
            assertArrayEquals(new int[] {1, 8, 128, 64}, att.shape());
            try (GradMode ng = GradMode.noGrad()) {
                assertNotNull(layer.forward(x));
            }
            layer.close();
        }
    }
}
