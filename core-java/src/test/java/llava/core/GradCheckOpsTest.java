package llava.core;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.function.Function;
import llava.core.autograd.GradCheck;
import org.junit.jupiter.api.Test;

/** Every differentiable op against float64 finite differences, incl. broadcasting and views. */
class GradCheckOpsTest {
    private final Generator gen = new Generator(42);

    private Tensor rnd(int... shape) {
        return Tensor.randn(gen, DType.F64, Device.CPU, shape).requiresGrad(true);
    }

    /** Positive values (for log, sqrt, pow, div). */
    private Tensor pos(int... shape) {
        try (Tensor r = Tensor.rand(gen, DType.F64, Device.CPU, shape)) {
            return r.add(0.5).requiresGrad(true);
        }
    }

    /** A non-contiguous view of a fresh [cols, rows] tensor, transposed to [rows, cols]. */
    private Tensor transposed(int rows, int cols) {
        Tensor base = Tensor.randn(gen, DType.F64, Device.CPU, cols, rows).requiresGrad(true);
        return base.t(); // a non-leaf view: gradcheck perturbs the shared storage through it
    }

    private static void check(Function<Tensor[], Tensor> f, Tensor... in) {
        GradCheck.check(f, in);
    }

    @Test void elementwiseBinaryWithBroadcasting() {
        check(t -> t[0].add(t[1]), rnd(3, 4), rnd(4));
        check(t -> t[0].sub(t[1]), rnd(3, 1), rnd(1, 4));
        check(t -> t[0].mul(t[1]), rnd(2, 3, 4), rnd(3, 1));
        check(t -> t[0].div(t[1]), rnd(3, 4), pos(4));
        check(t -> t[0].pow(t[1]), pos(3, 4), rnd(3, 4));
        check(t -> t[0].maximum(t[1]), rnd(5), rnd(5));
        check(t -> t[0].minimum(t[1]), rnd(5), rnd(2, 5));
    }

    @Test void scalarOps() {
        check(t -> t[0].add(2.5).mul(-1.5).sub(0.25).div(3).rsub(1), rnd(3, 3));
        check(t -> t[0].pow(3.0), rnd(4));
        check(t -> t[0].pow(0.5), pos(4));
        check(t -> t[0].clamp(-0.5, 0.5), rnd(20));
    }

    @Test void unaryOps() {
        check(t -> t[0].neg(), rnd(4));
        check(t -> t[0].exp(), rnd(4));
        check(t -> t[0].log(), pos(4));
        check(t -> t[0].sqrt(), pos(4));
        check(t -> t[0].rsqrt(), pos(4));
        check(t -> t[0].abs(), rnd(4));
        check(t -> t[0].tanh(), rnd(4));
        check(t -> t[0].sigmoid(), rnd(4));
        check(t -> t[0].relu(), rnd(6));
        check(t -> t[0].silu(), rnd(6));
        check(t -> t[0].gelu(), rnd(6));
        check(t -> t[0].geluTanh(), rnd(6));
        check(t -> t[0].quickGelu(), rnd(6));
        check(t -> t[0].sin(), rnd(4));
        check(t -> t[0].cos(), rnd(4));
        check(t -> t[0].reciprocal(), pos(4));
        check(t -> t[0].square(), rnd(4));
    }

    @Test void whereAndMaskedFill() {
        Tensor cond = Tensor.of(new boolean[] {true, false, true, false}, 4);
        check(t -> Tensor.where(cond, t[0], t[1]), rnd(3, 4), rnd(4));
        check(t -> t[0].maskedFill(cond, -7), rnd(2, 4));
    }

    @Test void reductions() {
        check(t -> t[0].sum(), rnd(3, 4));
        check(t -> t[0].sum(1, false), rnd(3, 4));
        check(t -> t[0].sum(new int[] {0, 2}, true), rnd(2, 3, 4));
        check(t -> t[0].mean(-1, true), rnd(3, 4));
        check(t -> t[0].mean(), rnd(3, 4));
        check(t -> t[0].max(1, false), rnd(3, 5));
        check(t -> t[0].min(), rnd(7));
        check(t -> t[0].var(1, false, 1), rnd(3, 5));
        check(t -> t[0].softmax(-1), rnd(3, 5));
        check(t -> t[0].softmax(0), rnd(3, 5));
        check(t -> t[0].logSoftmax(1), rnd(2, 6));
    }

    @Test void viewsAndNonContiguousInputs() {
        check(t -> t[0].view(6, 2).mul(t[0].reshape(6, 2)), rnd(3, 4));
        check(t -> t[0].permute(2, 0, 1).exp(), rnd(2, 3, 4));
        check(t -> t[0].transpose(0, 1).matmul(t[1]), rnd(4, 3), rnd(4, 2));
        check(t -> t[0].narrow(1, 1, 2).square(), rnd(3, 4));
        check(t -> t[0].slice(0, 0, 5, 2).mul(3), rnd(5, 2));
        check(t -> t[0].select(1, 2).exp(), rnd(3, 4));
        check(t -> t[0].expand(3, 4).mul(t[1]), rnd(1, 4), rnd(3, 4));
        check(t -> t[0].unsqueeze(1).squeeze(1).flatten(), rnd(3, 4));
        Tensor nc = transposed(3, 4);
        check(t -> t[0].exp().sum(0, false), nc);
        check(t -> t[0].contiguous().mul(t[0]), rnd(2, 3).t());
        check(t -> t[0].clone().mul(2), rnd(2, 3));
    }

    @Test void matmulShapes() {
        check(t -> t[0].matmul(t[1]), rnd(3, 4), rnd(4, 5));
        check(t -> t[0].matmul(t[1]), rnd(2, 3, 4), rnd(4, 5));
        check(t -> t[0].matmul(t[1]), rnd(2, 3, 4), rnd(2, 4, 5));
        check(t -> t[0].matmul(t[1]), rnd(2, 1, 3, 4), rnd(3, 4, 2));
        check(t -> t[0].matmul(t[1]), rnd(4), rnd(4, 2));
        check(t -> t[0].matmul(t[1]), rnd(3, 4), rnd(4));
        check(t -> t[0].matmul(t[1]), rnd(4), rnd(4));
        check(t -> t[0].matmul(t[1].mT()), rnd(2, 3, 4), rnd(2, 5, 4));
    }

    @Test void indexingAndJoining() {
        Tensor idx = Tensor.of(new long[] {2, 0, 2, 1}, 4);
        check(t -> t[0].indexSelect(0, idx), rnd(3, 2));
        check(t -> t[0].indexSelect(1, idx), rnd(2, 3));
        Tensor gidx = Tensor.of(new long[] {0, 2, 1, 1, 0, 0}, 2, 3);
        check(t -> t[0].gather(1, gidx), rnd(2, 4));
        check(t -> t[0].scatterAdd(1, gidx, t[1]), rnd(2, 4), rnd(2, 3));
        check(t -> Tensor.cat(1, t[0], t[1]), rnd(2, 3), rnd(2, 2));
        check(t -> Tensor.stack(0, t[0], t[1]), rnd(2, 3), rnd(2, 3));
        check(t -> {
            Tensor[] parts = t[0].split(2, 1);
            return parts[0].mul(parts[1]).add(parts[2].sum());
        }, rnd(2, 5));
    }

    @Test void fusedLinearAndNorms() {
        check(t -> F.linear(t[0], t[1], t[2]), rnd(2, 3, 4), rnd(5, 4), rnd(5));
        check(t -> F.linear(t[0], t[1], null), rnd(3, 4), rnd(2, 4));
        check(t -> F.rmsNorm(t[0], t[1], 1e-6), rnd(3, 8), rnd(8));
        check(t -> F.rmsNorm(t[0], null, 1e-5), rnd(2, 2, 6));
        check(t -> F.layerNorm(t[0], t[1], t[2], 1e-5), rnd(3, 8), rnd(8), rnd(8));
        check(t -> F.layerNorm(t[0], null, null, 1e-5), rnd(4, 5));
    }

    @Test void fusedRopeSiluMulEmbedding() {
        Tensor posIds = Tensor.of(new long[] {0, 1, 2, 5, 3, 7}, 2, 3);
        Tensor invFreq = Tensor.of(new float[] {1.0f, 0.1f, 0.01f}, 3);
        check(t -> F.rope(t[0], posIds, invFreq), rnd(2, 3, 2, 6));
        check(t -> F.rope(t[0].transpose(1, 2), posIds, invFreq), rnd(2, 2, 3, 6));
        check(t -> F.siluMul(t[0], t[1]), rnd(3, 4), rnd(3, 4));
        Tensor ids = Tensor.of(new long[] {3, 1, 3, 0}, 2, 2);
        check(t -> F.embedding(t[0], ids), rnd(5, 3));
    }

    @Test void fusedAttention() {
        // plain, causal, padded, GQA, decode-style Tq < Tk, strided (transposed) inputs
        check(t -> F.scaledDotProductAttention(t[0], t[1], t[2], null, false, 0), rnd(1, 2, 3, 4), rnd(1, 2, 5, 4), rnd(1, 2, 5, 4));
        check(t -> F.scaledDotProductAttention(t[0], t[1], t[2], null, true, 0.3), rnd(2, 2, 4, 4), rnd(2, 2, 4, 4), rnd(2, 2, 4, 4));
        Tensor mask = Tensor.of(new boolean[] {true, true, true, false, true, true, false, false}, 2, 4);
        check(t -> F.scaledDotProductAttention(t[0], t[1], t[2], mask, true, 0), rnd(2, 2, 4, 4), rnd(2, 2, 4, 4), rnd(2, 2, 4, 4));
        check(t -> F.scaledDotProductAttention(t[0], t[1], t[2], null, true, 0), rnd(1, 4, 3, 4), rnd(1, 2, 3, 4), rnd(1, 2, 3, 4));
        check(t -> F.scaledDotProductAttention(t[0], t[1], t[2], null, true, 0), rnd(1, 2, 2, 4), rnd(1, 2, 5, 4), rnd(1, 2, 5, 4));
        check(t -> F.scaledDotProductAttention(t[0].transpose(1, 2), t[1].transpose(1, 2), t[2].transpose(1, 2), null, true, 0),
            rnd(1, 3, 2, 4), rnd(1, 3, 2, 4), rnd(1, 3, 2, 4));
    }

    @Test void crossEntropy() {
        Tensor targets = Tensor.of(new long[] {1, -100, 4, 0}, 4);
        check(t -> F.crossEntropy(t[0], targets, -100), rnd(4, 5));
        check(t -> F.crossEntropyPerRow(t[0], targets, -100), rnd(4, 5));
    }

    @Test void gradcheckCatchesAWrongGradient() {
        // a deliberately wrong backward must be reported
        Function<Tensor[], Tensor> wrong = t -> llava.core.autograd.Autograd.record("Wrong", t[0].detach().exp(),
            new Tensor[] {t[0]}, (ctx, g) -> new Tensor[] {g.mul(2)});
        assertThrows(GradCheck.GradCheckError.class, () -> check(wrong, rnd(3)));
    }
}
