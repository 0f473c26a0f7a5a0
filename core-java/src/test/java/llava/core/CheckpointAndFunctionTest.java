package llava.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import llava.core.autograd.Checkpoint;
import llava.core.autograd.Function;
import llava.core.autograd.GradCheck;
import org.junit.jupiter.api.Test;

class CheckpointAndFunctionTest {

    @Test void checkpointedBlockGivesTheSameGradients() {
        Generator g = new Generator(9);
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.randn(g, 4, 4).requiresGrad(true);
            Tensor x1 = Tensor.randn(g, 3, 4).requiresGrad(true);
            Tensor x2 = x1.detach().requiresGrad(true);
            java.util.function.Function<Tensor[], Tensor> block = in -> F.linear(in[0], w, null).tanh().mul(in[0]);
            block.apply(new Tensor[] {x1}).square().sum().backward();
            float[] gw1 = w.grad().toFloatArray();
            float[] gx1 = x1.grad().toFloatArray();
            w.zeroGrad();
            Checkpoint.apply(block, new Tensor[] {x2}, List.of(w)).square().sum().backward();
            assertArrayEquals(gw1, w.grad().toFloatArray(), 1e-6f);
            assertArrayEquals(gx1, x2.grad().toFloatArray(), 1e-6f);
            // parameters get gradients even when no input requires grad (frozen embeddings)
            w.zeroGrad();
            Tensor x3 = x1.detach();
            Checkpoint.apply(block, new Tensor[] {x3}, List.of(w)).square().sum().backward();
            assertArrayEquals(gw1, w.grad().toFloatArray(), 1e-6f);
        }
    }

    static final class Cube extends Function {
        @Override protected Tensor forward(Context ctx, Tensor... in) {
            ctx.save(in[0]);
            return in[0].pow(3);
        }

        @Override protected Tensor[] backward(Context ctx, Tensor g) {
            return new Tensor[] {g.mul(ctx.saved(0).square()).mul(3)};
        }
    }

    @Test void userDefinedFunctionPassesGradcheck() {
        try (Tensor x = Tensor.randn(new Generator(2), DType.F64, Device.CPU, 5).requiresGrad(true)) {
            GradCheck.check(t -> new Cube().apply(t[0]), x);
        }
    }
}
