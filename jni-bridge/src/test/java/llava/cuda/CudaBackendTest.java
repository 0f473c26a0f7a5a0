package llava.cuda;

import llava.core.DType;
import llava.core.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

/** Every Backend op on CUDA against the CPU backend (see {@link OpScenarios}, {@link AttentionScenarios}). */
@RequiresGpu
class CudaBackendTest {
    private static OpScenarios ops(long seed) {
        return new OpScenarios(new BackendConformance(Device.cuda(0), seed));
    }

    @Test void harnessDetectsMismatch() { ops(1).harnessDetectsMismatch(); }
    @Test void copyAndFill() { ops(2).copyAndFill(); }
    @Test void unary() { ops(3).unary(); }
    @Test void unaryBackward() { ops(4).unaryBackward(); }
    @Test void binary() { ops(5).binary(); }
    @Test void where() { ops(6).where(); }
    @Test void reduce() { ops(7).reduce(); }
    @Test void argReduce() { ops(8).argReduce(); }
    @Test void softmax() { ops(9).softmax(); }
    @Test void matmulLlavaGemm() { CudaBackend.withGemm("llava", () -> ops(10).matmul()); }
    @Test void matmulCublas() { CudaBackend.withGemm("cublas", () -> ops(11).matmul()); }
    @Test void indexing() { ops(12).indexing(); }
    @Test void norms() { ops(13).norms(); }
    @Test void rope() { ops(14).rope(); }
    @Test void siluMul() { ops(15).siluMul(); }
    @Test void crossEntropy() { ops(16).crossEntropy(); }
    @Test void adamw() { ops(17).adamw(); }

    static Stream<Arguments> attentionCases() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int d : new int[] {64, 80, 96, 128}) {
            b.add(Arguments.of(DType.F32, d));
            b.add(Arguments.of(DType.BF16, d));
        }
        b.add(Arguments.of(DType.F16, 64));
        b.add(Arguments.of(DType.F16, 128));
        return b.build();
    }

    @ParameterizedTest(name = "attention {0} D={1}")
    @MethodSource("attentionCases")
    void attention(DType dt, int d) {
        AttentionScenarios a = new AttentionScenarios(new BackendConformance(Device.cuda(0), 100 + d));
        int n = 0;
        for (int[] cfg : AttentionScenarios.CONFIGS) {
            for (boolean causal : new boolean[] {false, true}) {
                for (boolean padded : new boolean[] {false, true}) {
                    a.run(dt, d, cfg, causal, padded, (n++ % 2) == 1);
                }
            }
        }
    }
}
