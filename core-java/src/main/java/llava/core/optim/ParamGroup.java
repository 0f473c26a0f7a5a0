package llava.core.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import llava.core.Tensor;
import llava.core.nn.LayerNorm;
import llava.core.nn.Module;
import llava.core.nn.RMSNorm;

/**
 * Parameters that share a learning rate and weight decay (torch's param_groups), keyed by their
 * full module names so optimizer state can be saved and restored by name.
 */
public final class ParamGroup {
    private final LinkedHashMap<String, Tensor> params;
    private double lr;
    private double initialLr;
    private double weightDecay;

    public ParamGroup(Map<String, Tensor> params, double lr, double weightDecay) {
        if (!(lr >= 0)) throw new IllegalArgumentException("invalid learning rate: " + lr);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("invalid weight decay: " + weightDecay);
        this.params = new LinkedHashMap<>(params);
        this.lr = lr;
        this.initialLr = lr;
        this.weightDecay = weightDecay;
    }

    /** Parameters by name, in insertion order. */
    public Map<String, Tensor> params() { return Collections.unmodifiableMap(params); }

    /** The learning rate the next step uses (a scheduler rewrites it every step). */
    public double lr() { return lr; }

    public void setLr(double lr) {
        if (!(lr >= 0)) throw new IllegalArgumentException("invalid learning rate: " + lr);
        this.lr = lr;
    }

    /** The learning rate the group was created with: a schedule's factor multiplies this
     *  (torch's group['initial_lr']). */
    public double initialLr() { return initialLr; }

    void setInitialLr(double v) { initialLr = v; }

    public double weightDecay() { return weightDecay; }

    public void setWeightDecay(double wd) {
        if (!(wd >= 0)) throw new IllegalArgumentException("invalid weight decay: " + wd);
        weightDecay = wd;
    }

    /** One group with every trainable parameter of the module. */
    public static List<ParamGroup> single(Module model, double lr, double weightDecay) {
        return List.of(new ParamGroup(trainable(model.namedParameters()), lr, weightDecay));
    }

    /**
     * The two groups HF's Trainer builds: trainable parameters with weight decay, then those
     * without (biases, i.e. names containing "bias", and the weights of LayerNorm/RMSNorm
     * modules). A group with no parameters is left out.
     */
    public static List<ParamGroup> decayAndNoDecay(Module model, double lr, double weightDecay) {
        return decayAndNoDecay(model, lr, weightDecay, m -> m instanceof LayerNorm || m instanceof RMSNorm);
    }

    /** As {@link #decayAndNoDecay(Module, double, double)}, with the caller's notion of a norm module. */
    public static List<ParamGroup> decayAndNoDecay(Module model, double lr, double weightDecay, Predicate<Module> isNorm) {
        java.util.HashSet<String> inNorm = new java.util.HashSet<>();
        collectNormParams(model, "", isNorm, inNorm);
        LinkedHashMap<String, Tensor> decay = new LinkedHashMap<>(), noDecay = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : trainable(model.namedParameters()).entrySet()) {
            boolean exempt = inNorm.contains(e.getKey()) || e.getKey().contains("bias");
            (exempt ? noDecay : decay).put(e.getKey(), e.getValue());
        }
        List<ParamGroup> groups = new ArrayList<>();
        if (!decay.isEmpty()) groups.add(new ParamGroup(decay, lr, weightDecay));
        if (!noDecay.isEmpty()) groups.add(new ParamGroup(noDecay, lr, 0.0));
        if (groups.isEmpty()) throw new IllegalArgumentException("the model has no trainable parameters");
        return groups;
    }

    private static void collectNormParams(Module m, String prefix, Predicate<Module> isNorm, java.util.Set<String> out) {
        if (isNorm.test(m)) {
            for (String name : m.namedParameters().keySet()) out.add(prefix + name);
            return;
        }
        for (Map.Entry<String, Module> c : m.namedChildren().entrySet()) {
            collectNormParams(c.getValue(), prefix + c.getKey() + ".", isNorm, out);
        }
    }

    private static LinkedHashMap<String, Tensor> trainable(Map<String, Tensor> named) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : named.entrySet()) if (e.getValue().requiresGrad()) out.put(e.getKey(), e.getValue());
        return out;
    }
}
