package llava.core.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.Scope;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Schedules against values computed in Python (CPython 3, math.cos from libm) with HF
 * transformers' lr_lambda functions (optimization.py at the fixtures' transformers commit):
 * <pre>
 * constant_with_warmup: s &lt; w ? s / max(1.0, w) : 1.0
 * linear:  s &lt; w ? s / max(1, w) : max(0.0, (t - s) / max(1, t - w))
 * cosine:  s &lt; w ? s / max(1, w) : max(0.0, 0.5 * (1.0 + cos(pi * c * 2.0 * (s - w) / max(1, t - w))))
 * </pre>
 */
class LrScheduleTest {
    static final long[] STEPS = {0, 1, 2, 3, 5, 7, 10, 13, 50, 99, 100, 101, 120};

    private static void check(String what, LrSchedule s, double[] expected) {
        for (int i = 0; i < STEPS.length; i++) {
            double got = s.factor(STEPS[i]);
            // equal up to libm rounding of cos (the rest is the same double arithmetic)
            assertEquals(expected[i], got, 4e-16, what + " at step " + STEPS[i]);
        }
    }

    @Test void constantWithWarmup() {
        check("constant_with_warmup(7)", LrSchedule.constantWithWarmup(7), new double[] {0.0, 0.14285714285714285,
            0.2857142857142857, 0.42857142857142855, 0.7142857142857143, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0});
        for (long s : STEPS) assertEquals(1.0, LrSchedule.constant().factor(s));
    }

    @Test void linearWithWarmup() {
        check("linear(7, 100)", LrSchedule.linearWithWarmup(7, 100), new double[] {0.0, 0.14285714285714285,
            0.2857142857142857, 0.42857142857142855, 0.7142857142857143, 1.0, 0.967741935483871, 0.9354838709677419,
            0.5376344086021505, 0.010752688172043012, 0.0, 0.0, 0.0});
    }

    @Test void cosineWithWarmup() {
        check("cosine(7, 100)", LrSchedule.cosineWithWarmup(7, 100), new double[] {0.0, 0.14285714285714285,
            0.2857142857142857, 0.42857142857142855, 0.7142857142857143, 1.0, 0.9974346616959475, 0.9897649706262472,
            0.5589783585754231, 0.00028525453514099963, 0.0, 0.00028525453514099963, 0.10983760452395408});
        // past the end HF's half cosine rises again; so does ours
        check("cosine(0, 37)", LrSchedule.cosineWithWarmup(0, 37), new double[] {1.0, 0.9981987442712632,
            0.9928079551738542, 0.9838664734667495, 0.9556142451940679, 0.9142548246219211, 0.8303373616950407,
            0.7251018724088366, 0.27489812759116317, 0.23784635822138378, 0.202683411847857, 0.16966263830495948,
            0.13902195302273762});
        check("cosine(3, 20, cycles 1.5)", LrSchedule.cosineWithWarmup(3, 20, 1.5), new double[] {0.0, 0.3333333333333333,
            0.6666666666666666, 1.0, 0.7228691778882692, 0.19868268181037185, 0.1304955413896703, 0.8695044586103295,
            0.8013173181896289, 0.008513450158048774, 0.03376388529782154, 0.19868268181037063, 0.27713082211173057});
    }

    @Test void warmupFromRatioRoundsUpAsHf() {
        assertEquals(30, LrSchedule.warmupSteps(1000, 0, 0.03));
        assertEquals(1, LrSchedule.warmupSteps(7, 0, 0.1));
        assertEquals(0, LrSchedule.warmupSteps(100, 0, 0.0));
        assertEquals(17, LrSchedule.warmupSteps(333, 0, 0.05));
        assertEquals(5, LrSchedule.warmupSteps(333, 5, 0.05), "explicit warmup steps win over the ratio");
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmupSteps(10, 0, 1.5));
    }

    @Test void byNameKnowsHfTypes() {
        assertEquals(LrSchedule.linearWithWarmup(3, 10).factor(5), LrSchedule.byName("linear", 3, 10).factor(5));
        assertEquals(LrSchedule.cosineWithWarmup(3, 10).factor(5), LrSchedule.byName("cosine", 3, 10).factor(5));
        assertEquals(0.5, LrSchedule.byName("constant_with_warmup", 4, 10).factor(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LrSchedule.byName("polynomial", 0, 1));
        assertTrue(e.getMessage().contains("polynomial") && e.getMessage().contains("cosine"), e.getMessage());
    }

    /** The scheduler sets initial_lr * factor(step) on every group, step 0 at construction (LambdaLR). */
    @Test void schedulerSetsEveryGroupsLr() {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
            a.put("a", Tensor.ones(2).requiresGrad(true));
            b.put("b", Tensor.ones(2).requiresGrad(true));
            try (AdamW opt = new AdamW(List.of(new ParamGroup(a, 1e-3, 0.1), new ParamGroup(b, 4e-3, 0)), 0.9, 0.999, 1e-8)) {
                LrSchedule sched = LrSchedule.linearWithWarmup(2, 10);
                LrScheduler ls = new LrScheduler(opt, sched);
                for (int step = 0; step < 12; step++) {
                    assertEquals(step, ls.currentStep());
                    assertEquals(1e-3 * sched.factor(step), opt.paramGroups().get(0).lr(), 0.0);
                    assertEquals(4e-3 * sched.factor(step), opt.paramGroups().get(1).lr(), 0.0);
                    ls.step();
                }
                ls.setStep(5);
                assertEquals(1e-3 * sched.factor(5), ls.lr(), 0.0);
                assertEquals(1e-3, opt.paramGroups().get(0).initialLr(), 0.0);
            }
        }
    }
}
