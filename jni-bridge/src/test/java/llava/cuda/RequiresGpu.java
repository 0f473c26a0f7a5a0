package llava.cuda;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test (class or method) that needs a usable CUDA device: tagged "gpu", skipped with the
 * reason printed once when there is none, and failed instead when -Dgpu.required=true (on a GPU
 * machine a missing GPU is an error, not a skip).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(RequiresGpu.Condition.class)
public @interface RequiresGpu {
    final class Condition implements ExecutionCondition {
        private static final AtomicBoolean PRINTED = new AtomicBoolean();

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (GpuAvailability.available()) return ConditionEvaluationResult.enabled("GPU: " + GpuAvailability.reason());
            if (Boolean.getBoolean("gpu.required")) {
                throw new IllegalStateException("gpu.required=true but no usable GPU: " + GpuAvailability.reason());
            }
            if (PRINTED.compareAndSet(false, true)) {
                System.err.println("[gpu] GPU tests skipped: " + GpuAvailability.reason());
            }
            return ConditionEvaluationResult.disabled("no usable GPU: " + GpuAvailability.reason());
        }
    }
}
