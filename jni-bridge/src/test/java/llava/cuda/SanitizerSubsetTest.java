package llava.cuda;

import llava.core.DType;
import llava.core.Device;
import org.junit.jupiter.api.Test;

/**
 * The kernel tests scripts/gpu-check.sh runs under compute-sanitizer memcheck: one pass over each
 * kernel family on small shapes with odd tails (memcheck slows every launch, so not the full set).
 */
@RequiresGpu
class SanitizerSubsetTest {
    private static OpScenarios ops() {
        return new OpScenarios(new BackendConformance(Device.cuda(0), 77));
    }

    @Test void copyAndFill() { ops().copyAndFill(); }
    @Test void binaryAndWhere() {
        ops().binary();
        ops().where();
    }
    @Test void reductions() {
        ops().argReduce();
        ops().softmax();
    }
    @Test void matmul() { ops().matmul(); }
    @Test void indexing() { ops().indexing(); }
    @Test void norms() { ops().norms(); }
    @Test void ropeSiluCrossEntropyAdamw() {
        ops().rope();
        ops().siluMul();
        ops().crossEntropy();
        ops().adamw();
    }

    @Test
    void attention() {
        AttentionScenarios a = new AttentionScenarios(new BackendConformance(Device.cuda(0), 78));
        for (int d : new int[] {64, 80, 96, 128}) {
            a.run(DType.BF16, d, AttentionScenarios.CONFIGS[0], true, true, true);
            a.run(DType.F32, d, AttentionScenarios.CONFIGS[4], true, true, false);
        }
    }
}
