package llava.core.optim;

import java.util.List;

/**
 * Sets every parameter group's lr to initial_lr * schedule(step) (torch's LambdaLR). Created
 * before training, it sets the lr of step 0; call {@link #step()} after each optimizer step, as
 * HF's Trainer does.
 */
public final class LrScheduler {
    private final Optimizer optimizer;
    private final LrSchedule schedule;
    private long step;

    public LrScheduler(Optimizer optimizer, LrSchedule schedule) {
        this.optimizer = optimizer;
        this.schedule = schedule;
        apply();
    }

    /** Advances to the next step and sets its lr. */
    public void step() {
        step++;
        apply();
    }

    /** The step whose lr is set now (the number of {@link #step()} calls). */
    public long currentStep() { return step; }

    /** Jumps to a step (resume: pass the optimizer's step count). */
    public void setStep(long s) {
        if (s < 0) throw new IllegalArgumentException("step must be >= 0, got " + s);
        step = s;
        apply();
    }

    /** The lr now set on the first group. */
    public double lr() { return optimizer.paramGroups().get(0).lr(); }

    private void apply() {
        double f = schedule.factor(step);
        List<ParamGroup> groups = optimizer.paramGroups();
        for (ParamGroup g : groups) g.setLr(g.initialLr() * f);
    }
}
