package llava.core.optim;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import llava.core.DType;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/**
 * Base of the optimizers: parameter groups, lazily created per-parameter state, the F32 master
 * copies of half-precision parameters, and the state dict for exact resume.
 *
 * <p>As in torch.optim, {@link #step()} updates only parameters that have a gradient, and each
 * parameter counts its own steps. Build the optimizer after the model has its final dtype and
 * device: {@code Module.to} replaces parameter tensors, and the optimizer keeps the ones it was
 * given.
 *
 * <p>Mixed precision: a BF16/F16 parameter is stepped through an F32 master copy, made from the
 * parameter at its first step; the half parameter is rewritten from the master after each step.
 * All optimizer state is F32 on the parameter's device.
 */
public abstract class Optimizer implements AutoCloseable {

    /** What the optimizer keeps for one parameter. */
    protected static final class ParamState {
        final String name;
        final Tensor param;
        long step;
        Tensor master;
        final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();

        ParamState(String name, Tensor param) {
            this.name = name;
            this.param = param;
        }

        public String name() { return name; }
        public Tensor param() { return param; }
        /** Steps taken by this parameter, counting the current one during {@link #update}. */
        public long step() { return step; }
        /** The F32 master of a half parameter, or null when the parameter itself is stepped. */
        public Tensor master() { return master; }
        /** The tensor the update is applied to: the master when there is one, else the parameter. */
        public Tensor target() { return master != null ? master : param; }
        public Tensor buffer(String key) { return buffers.get(key); }

        /** Stores a state tensor (taken over: it leaves any scope and is freed with the state). */
        public void putBuffer(String key, Tensor t) {
            Tensor old = buffers.put(key, Scope.detach(t));
            if (old != null && old != t) old.close();
        }

        void close() {
            for (Tensor t : buffers.values()) t.close();
            buffers.clear();
            if (master != null) master.close();
            master = null;
        }
    }

    private final String kind;
    private final List<ParamGroup> groups;
    private final LinkedHashMap<String, ParamState> state = new LinkedHashMap<>();
    private long stepCount;

    protected Optimizer(String kind, List<ParamGroup> groups) {
        this.kind = kind;
        if (groups.isEmpty()) throw new IllegalArgumentException(kind + ": no parameter groups");
        this.groups = List.copyOf(groups);
        java.util.HashSet<String> names = new java.util.HashSet<>();
        IdentityHashMap<Tensor, String> seen = new IdentityHashMap<>();
        for (ParamGroup g : this.groups) {
            for (Map.Entry<String, Tensor> e : g.params().entrySet()) {
                String n = e.getKey();
                Tensor p = e.getValue();
                if (!names.add(n)) throw new IllegalArgumentException(kind + ": parameter name '" + n + "' appears twice");
                String other = seen.put(p, n);
                if (other != null) {
                    throw new IllegalArgumentException(kind + ": the same tensor is given as '" + other + "' and '" + n + "'");
                }
                if (!p.isLeaf()) throw new IllegalArgumentException(kind + ": can't optimize a non-leaf tensor ('" + n + "')");
                if (!p.dtype().isFloating()) {
                    throw new IllegalArgumentException(kind + ": parameter '" + n + "' is " + p.dtype() + ", not floating point");
                }
                checkParam(n, p);
            }
        }
    }

    /** Subclasses reject parameters they cannot step (called once per parameter). */
    protected void checkParam(String name, Tensor param) {}

    /** Names of the per-parameter state tensors this optimizer may hold (for the state dict). */
    protected abstract List<String> bufferNames();

    /** Scalars describing the optimizer's fixed settings, saved for information. */
    protected abstract Map<String, String> hyperparameters();

    /**
     * Updates one parameter: called under no-grad inside a scope (temporaries are freed
     * afterwards) with the parameter's gradient, after its step count was advanced.
     */
    protected abstract void update(ParamGroup group, ParamState st, Tensor grad);

    public List<ParamGroup> paramGroups() { return groups; }

    /** Number of completed {@link #step()} calls. */
    public long stepCount() { return stepCount; }

    /** One optimization step over every parameter that has a gradient. */
    public void step() {
        try (GradMode ng = GradMode.noGrad()) {
            for (ParamGroup g : groups) {
                for (Map.Entry<String, Tensor> e : g.params().entrySet()) {
                    Tensor p = e.getValue();
                    if (p.isClosed()) {
                        throw new IllegalStateException(kind + ": parameter '" + e.getKey() + "' was closed (was the model "
                            + "converted with Module.to after the optimizer was built?)");
                    }
                    Tensor grad = p.grad();
                    if (grad == null) continue;
                    ParamState st = state.computeIfAbsent(e.getKey(), n -> new ParamState(n, p));
                    if (st.master == null && p.dtype().isHalf()) st.master = Scope.detach(masterCopy(p));
                    st.step++;
                    try (Scope s = Scope.open()) {
                        update(g, st, grad);
                    }
                }
            }
        }
        stepCount++;
    }

    private static Tensor masterCopy(Tensor p) {
        Tensor m = Tensor.empty(DType.F32, p.device(), p.shape());
        return m.copy_(p);
    }

    /** Frees the gradient of every parameter (set to none, as torch's default). */
    public void zeroGrad() {
        for (ParamGroup g : groups) for (Tensor p : g.params().values()) if (!p.isClosed()) p.zeroGrad();
    }

    /** Every parameter of every group, by name. */
    public Map<String, Tensor> namedParameters() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (ParamGroup g : groups) out.putAll(g.params());
        return Collections.unmodifiableMap(out);
    }

    /** The state of one parameter (null before its first step). */
    protected ParamState state(String name) { return state.get(name); }

    // ---- state dict ----------------------------------------------------------------------

    /**
     * The full state for exact resume. The tensors are new handles sharing storage with the live
     * state: save them before the next {@link #step()}, then close them (or the returned object).
     */
    public OptimizerState stateDict() {
        LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
        LinkedHashMap<String, String> scalars = new LinkedHashMap<>();
        scalars.put("optimizer.type", kind);
        scalars.put("optimizer.step", Long.toString(stepCount));
        for (Map.Entry<String, String> h : hyperparameters().entrySet()) scalars.put("optimizer." + h.getKey(), h.getValue());
        scalars.put("param_groups", Integer.toString(groups.size()));
        for (int i = 0; i < groups.size(); i++) {
            ParamGroup g = groups.get(i);
            String p = "param_groups." + i + ".";
            scalars.put(p + "lr", Double.toString(g.lr()));
            scalars.put(p + "initial_lr", Double.toString(g.initialLr()));
            scalars.put(p + "weight_decay", Double.toString(g.weightDecay()));
            scalars.put(p + "params", Integer.toString(g.params().size()));
        }
        for (ParamState st : state.values()) {
            String p = "state." + st.name + ".";
            scalars.put(p + "step", Long.toString(st.step));
            for (Map.Entry<String, Tensor> b : st.buffers.entrySet()) tensors.put(p + b.getKey(), Scope.detach(b.getValue().detach()));
            if (st.master != null) tensors.put(p + "master", Scope.detach(st.master.detach()));
        }
        return new OptimizerState(tensors, scalars);
    }

    /**
     * Restores a state written by {@link #stateDict()} of an optimizer of the same kind over the
     * same parameter names and groups. Values are copied (converted to F32 on each parameter's
     * device); the caller keeps ownership of {@code s}. Nothing changes when it throws.
     */
    public void loadStateDict(OptimizerState s) {
        String type = s.string("optimizer.type");
        if (!type.equals(kind)) throw new IllegalArgumentException("optimizer state is for " + type + ", not " + kind);
        int ng = (int) s.getLong("param_groups");
        if (ng != groups.size()) {
            throw new IllegalArgumentException("optimizer state has " + ng + " parameter groups, this " + kind + " has " + groups.size());
        }
        double[][] groupValues = new double[ng][];
        for (int i = 0; i < ng; i++) {
            String p = "param_groups." + i + ".";
            long np = s.getLong(p + "params");
            if (np != groups.get(i).params().size()) {
                throw new IllegalArgumentException("optimizer state: group " + i + " has " + np + " parameters, this " + kind
                    + " has " + groups.get(i).params().size());
            }
            groupValues[i] = new double[] {s.getDouble(p + "lr"), s.getDouble(p + "initial_lr"), s.getDouble(p + "weight_decay")};
        }
        TreeSet<String> unused = new TreeSet<>(s.tensors().keySet());
        for (String k : s.scalars().keySet()) if (k.startsWith("state.")) unused.add(k);
        LinkedHashMap<String, ParamState> loaded = new LinkedHashMap<>();
        List<String> allowed = new ArrayList<>(bufferNames());
        try (GradMode g = GradMode.noGrad()) {
            for (ParamGroup grp : groups) {
                for (Map.Entry<String, Tensor> e : grp.params().entrySet()) {
                    String prefix = "state." + e.getKey() + ".";
                    if (!s.has(prefix + "step")) continue;
                    Tensor p = e.getValue();
                    ParamState st = new ParamState(e.getKey(), p);
                    loaded.put(e.getKey(), st);
                    st.step = s.getLong(prefix + "step");
                    unused.remove(prefix + "step");
                    for (String b : allowed) {
                        Tensor src = s.tensors().get(prefix + b);
                        if (src == null) continue;
                        st.buffers.put(b, copyState(prefix + b, src, p));
                        unused.remove(prefix + b);
                    }
                    Tensor m = s.tensors().get(prefix + "master");
                    if (m != null && p.dtype().isHalf()) {
                        st.master = copyState(prefix + "master", m, p);
                        unused.remove(prefix + "master");
                    }
                }
            }
            if (!unused.isEmpty()) {
                throw new IllegalArgumentException("optimizer state has entries this " + kind + " does not know: " + unused);
            }
        } catch (RuntimeException ex) {
            for (ParamState st : loaded.values()) st.close();
            throw ex;
        }
        for (ParamState st : state.values()) st.close();
        state.clear();
        state.putAll(loaded);
        for (int i = 0; i < ng; i++) {
            ParamGroup grp = groups.get(i);
            grp.setLr(groupValues[i][0]);
            grp.setInitialLr(groupValues[i][1]);
            grp.setWeightDecay(groupValues[i][2]);
        }
        stepCount = s.getLong("optimizer.step");
    }

    private static Tensor copyState(String key, Tensor src, Tensor param) {
        if (!Arrays.equals(src.shape(), param.shape())) {
            throw new IllegalArgumentException("optimizer state: '" + key + "' has shape " + Arrays.toString(src.shape())
                + ", the parameter has " + Arrays.toString(param.shape()));
        }
        if (!src.dtype().isFloating()) {
            throw new IllegalArgumentException("optimizer state: '" + key + "' is " + src.dtype() + ", expected F32");
        }
        Tensor t = Scope.detach(Tensor.empty(DType.F32, param.device(), param.shape()));
        return t.copy_(src);
    }

    /** Frees the optimizer state (not the parameters). */
    @Override
    public void close() {
        for (ParamState st : state.values()) st.close();
        state.clear();
    }
}
