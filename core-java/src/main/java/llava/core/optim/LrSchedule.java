package llava.core.optim;

import java.util.Locale;

/**
 * A learning-rate multiplier as a function of the step (what torch's LambdaLR calls lr_lambda):
 * the lr of step s is initial_lr * factor(s). The factories reproduce HuggingFace transformers'
 * schedules (optimization.py) operation for operation, in double precision as Python does.
 */
@FunctionalInterface
public interface LrSchedule {
    double factor(long step);

    /** get_constant_schedule. */
    static LrSchedule constant() {
        return step -> 1.0;
    }

    /** get_constant_schedule_with_warmup: linear ramp from 0 over warmup steps, then 1. */
    static LrSchedule constantWithWarmup(long warmup) {
        checkSteps(warmup, 0);
        return step -> step < warmup ? (double) step / Math.max(1.0, (double) warmup) : 1.0;
    }

    /** get_linear_schedule_with_warmup: ramp up over warmup steps, then linearly down to 0 at total. */
    static LrSchedule linearWithWarmup(long warmup, long total) {
        checkSteps(warmup, total);
        return step -> {
            if (step < warmup) return (double) step / (double) Math.max(1, warmup);
            return Math.max(0.0, (double) (total - step) / (double) Math.max(1, total - warmup));
        };
    }

    /** get_cosine_schedule_with_warmup with num_cycles 0.5: half a cosine from 1 to 0 after warmup. */
    static LrSchedule cosineWithWarmup(long warmup, long total) {
        return cosineWithWarmup(warmup, total, 0.5);
    }

    /** get_cosine_schedule_with_warmup. */
    static LrSchedule cosineWithWarmup(long warmup, long total, double numCycles) {
        checkSteps(warmup, total);
        return step -> {
            if (step < warmup) return (double) step / (double) Math.max(1, warmup);
            double progress = (double) (step - warmup) / (double) Math.max(1, total - warmup);
            return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
        };
    }

    /**
     * The schedule HF's Trainer builds for {@code --lr_scheduler_type} (linear, cosine, constant,
     * constant_with_warmup).
     */
    static LrSchedule byName(String type, long warmup, long total) {
        return switch (type.toLowerCase(Locale.ROOT)) {
            case "linear" -> linearWithWarmup(warmup, total);
            case "cosine" -> cosineWithWarmup(warmup, total);
            case "constant" -> constant();
            case "constant_with_warmup" -> constantWithWarmup(warmup);
            default -> throw new IllegalArgumentException("unknown lr scheduler type '" + type
                + "'; known: linear, cosine, constant, constant_with_warmup");
        };
    }

    /**
     * Warmup steps as HF's TrainingArguments.get_warmup_steps: warmupSteps when it is positive,
     * else ceil(totalSteps * warmupRatio).
     */
    static long warmupSteps(long totalSteps, long warmupSteps, double warmupRatio) {
        if (warmupSteps < 0) throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmupSteps);
        if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw new IllegalArgumentException("warmup ratio must be in [0, 1], got " + warmupRatio);
        return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(totalSteps * warmupRatio);
    }

    private static void checkSteps(long warmup, long total) {
        if (warmup < 0) throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmup);
        if (total < 0) throw new IllegalArgumentException("total steps must be >= 0, got " + total);
    }
}
