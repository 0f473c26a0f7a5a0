package llava.cuda;

import llava.core.DType;
import llava.core.Device;
import org.junit.jupiter.api.Test;

/**
 * Runs the GPU conformance scenarios with the CPU as the device under test, on every machine: the
 * scenarios (shapes, views, calls, comparisons) are thereby exercised before a GPU runs them, and
 * the harness is shown to reject a wrong or unwritten result.
 */
class ConformanceSelfCheckTest {
    private static OpScenarios ops() {
        return new OpScenarios(new BackendConformance(Device.CPU, 42));
    }

    @Test void harnessDetectsMismatch() { ops().harnessDetectsMismatch(); }
    @Test void copyAndFill() { ops().copyAndFill(); }
    @Test void unary() { ops().unary(); }
    @Test void unaryBackward() { ops().unaryBackward(); }
    @Test void binary() { ops().binary(); }
    @Test void where() { ops().where(); }
    @Test void reduce() { ops().reduce(); }
    @Test void argReduce() { ops().argReduce(); }
    @Test void softmax() { ops().softmax(); }
    @Test void matmul() { ops().matmul(); }
    @Test void indexing() { ops().indexing(); }
    @Test void norms() { ops().norms(); }
    @Test void rope() { ops().rope(); }
    @Test void siluMul() { ops().siluMul(); }
    @Test void crossEntropy() { ops().crossEntropy(); }
    @Test void adamw() { ops().adamw(); }

    @Test
    void attention() {
        AttentionScenarios a = new AttentionScenarios(new BackendConformance(Device.CPU, 7));
        int n = 0;
        for (int[] cfg : AttentionScenarios.CONFIGS) {
            for (boolean causal : new boolean[] {false, true}) {
                a.run(n % 2 == 0 ? DType.F32 : DType.BF16, n % 3 == 0 ? 80 : 64, cfg, causal, true, n % 2 == 1);
                n++;
            }
        }
    }

    @Test
    void trainingStepRunsOnCpu() {
        try (TinyTransformer m = new TinyTransformer(Device.CPU, DType.BF16, 3)) {
            double first = m.step();
            double second = m.step();
            org.junit.jupiter.api.Assertions.assertTrue(Double.isFinite(first) && Double.isFinite(second),
                "losses " + first + ", " + second);
            org.junit.jupiter.api.Assertions.assertTrue(second < first, "a step of AdamW lowers the loss: " + first + " -> " + second);
        }
    }
}
