package llava.core.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Supplier;
import llava.core.DType;
import llava.core.Device;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/**
 * Base of all layers and models: named parameters, buffers and children, whose composed names
 * ("layers.0.self_attn.q_proj.weight") match HuggingFace state-dict keys.
 *
 * <p>A module owns its parameter and buffer tensors (they belong to no {@link Scope}) and frees
 * them in {@link #close()}.
 */
public abstract class Module implements AutoCloseable {
    private final LinkedHashMap<String, Tensor> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
    private final java.util.HashSet<String> nonPersistent = new java.util.HashSet<>();
    private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private final List<Consumer<Module>> preHooks = new ArrayList<>();
    private final List<Consumer<Module>> postHooks = new ArrayList<>();
    private boolean training = true;

    // ---- registration ------------------------------------------------------------------------

    /** Registers a trainable parameter (requires grad; float dtype) and returns it. */
    protected Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        Scope.detach(t);
        if (t.dtype().isFloating() && !t.requiresGrad()) t.requiresGrad(true);
        Tensor old = params.put(name, t);
        if (old != null && old != t) old.close();
        return t;
    }

    /** Registers state that is not trained (persistent buffers are part of the state dict). */
    protected Tensor registerBuffer(String name, Tensor t, boolean persistent) {
        checkName(name);
        Scope.detach(t);
        Tensor old = buffers.put(name, t);
        if (old != null && old != t) old.close();
        if (!persistent) nonPersistent.add(name);
        else nonPersistent.remove(name);
        return t;
    }

    protected <M extends Module> M registerModule(String name, M m) {
        checkName(name);
        children.put(name, m);
        return m;
    }

    private static void checkName(String name) {
        if (name.isEmpty() || name.contains(".")) throw new IllegalArgumentException("bad member name '" + name + "'");
    }

    /** Direct parameter of this module by local name (null when absent). */
    protected Tensor param(String name) { return params.get(name); }

    protected Tensor buffer(String name) { return buffers.get(name); }

    // ---- traversal ---------------------------------------------------------------------------

    public Map<String, Module> namedChildren() { return Collections.unmodifiableMap(children); }

    /** Every parameter with its full name, in registration order (depth first). */
    public LinkedHashMap<String, Tensor> namedParameters() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true, Buffers.NONE);
        return out;
    }

    public List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Parameters that currently require grad. */
    public List<Tensor> trainableParameters() {
        List<Tensor> out = new ArrayList<>();
        for (Tensor t : namedParameters().values()) if (t.requiresGrad()) out.add(t);
        return out;
    }

    public LinkedHashMap<String, Tensor> namedBuffers() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, false, Buffers.ALL);
        return out;
    }

    /** Parameters and persistent buffers by full name: what a checkpoint holds. */
    public LinkedHashMap<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true, Buffers.PERSISTENT);
        return out;
    }

    private enum Buffers { NONE, PERSISTENT, ALL }

    private void collect(String prefix, Map<String, Tensor> out, boolean withParams, Buffers which) {
        if (withParams) for (Map.Entry<String, Tensor> e : params.entrySet()) out.put(prefix + e.getKey(), e.getValue());
        if (which != Buffers.NONE) {
            for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
                if (which == Buffers.ALL || !nonPersistent.contains(e.getKey())) out.put(prefix + e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, Module> c : children.entrySet()) c.getValue().collect(prefix + c.getKey() + ".", out, withParams, which);
    }

    /** The descendant at a dotted path ("" is this module). */
    public Module submodule(String path) {
        Module m = this;
        if (path.isEmpty()) return m;
        for (String part : path.split("\\.")) {
            Module c = m.children.get(part);
            if (c == null) throw new IllegalArgumentException("no submodule '" + path + "' (missing '" + part + "')");
            m = c;
        }
        return m;
    }

    /** Replaces the parameter or buffer at a full name (dtype/device may change; shape may not). */
    public void setTensor(String fullName, Tensor t) {
        int dot = fullName.lastIndexOf('.');
        Module owner = dot < 0 ? this : submodule(fullName.substring(0, dot));
        String local = fullName.substring(dot + 1);
        Tensor old = owner.params.get(local);
        boolean isParam = old != null;
        if (old == null) old = owner.buffers.get(local);
        if (old == null) throw new IllegalArgumentException("no parameter or buffer '" + fullName + "'");
        if (!Arrays.equals(old.shape(), t.shape())) {
            throw new IllegalArgumentException("'" + fullName + "': shape " + Arrays.toString(t.shape())
                + " does not match the module's " + Arrays.toString(old.shape()));
        }
        Scope.detach(t);
        if (isParam) {
            boolean rg = old.requiresGrad();
            if (t.requiresGrad() != rg && t.isLeaf() && t.dtype().isFloating()) t.requiresGrad(rg);
            owner.params.put(local, t);
        } else {
            owner.buffers.put(local, t);
        }
        if (old != t) old.close();
    }

    // ---- state dict --------------------------------------------------------------------------

    /** What {@link #loadStateDict} did not match. */
    public record LoadResult(List<String> missing, List<String> unexpected, List<String> shapeMismatches) {
        public boolean clean() { return missing.isEmpty() && unexpected.isEmpty() && shapeMismatches.isEmpty(); }
    }

    /**
     * Copies values into this module's tensors (converting dtype and device). strict: throws an
     * IllegalArgumentException naming every missing key, unexpected key and shape mismatch.
     */
    public LoadResult loadStateDict(Map<String, Tensor> sd, boolean strict) {
        LinkedHashMap<String, Tensor> own = stateDict();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), mismatch = new ArrayList<>();
        for (String k : own.keySet()) if (!sd.containsKey(k)) missing.add(k);
        for (String k : new TreeSet<>(sd.keySet())) if (!own.containsKey(k)) unexpected.add(k);
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor src = sd.get(e.getKey());
            if (src != null && !Arrays.equals(src.shape(), e.getValue().shape())) {
                mismatch.add(e.getKey() + ": checkpoint " + Arrays.toString(src.shape()) + " vs model " + Arrays.toString(e.getValue().shape()));
            }
        }
        LoadResult r = new LoadResult(missing, unexpected, mismatch);
        if (strict && !r.clean()) {
            StringBuilder sb = new StringBuilder("loadStateDict: state dict does not match the model");
            if (!missing.isEmpty()) sb.append("\n  missing keys: ").append(missing);
            if (!unexpected.isEmpty()) sb.append("\n  unexpected keys: ").append(unexpected);
            if (!mismatch.isEmpty()) sb.append("\n  shape mismatches: ").append(mismatch);
            throw new IllegalArgumentException(sb.toString());
        }
        try (GradMode ng = GradMode.noGrad()) {
            for (Map.Entry<String, Tensor> e : own.entrySet()) {
                Tensor src = sd.get(e.getKey());
                if (src != null && Arrays.equals(src.shape(), e.getValue().shape())) e.getValue().copy_(src);
            }
        }
        return r;
    }

    // ---- dtype, device, modes ----------------------------------------------------------------

    /** Converts floating parameters and buffers to dtype (replacing the tensors). Returns this. */
    public Module to(DType dtype) {
        convert(t -> t.dtype().isFloating() && t.dtype() != dtype, t -> t.to(dtype));
        return this;
    }

    /** Moves every parameter and buffer to device. Returns this. */
    public Module to(Device device) {
        convert(t -> !t.device().equals(device), t -> t.to(device));
        return this;
    }

    private void convert(java.util.function.Predicate<Tensor> needs, java.util.function.UnaryOperator<Tensor> f) {
        try (GradMode ng = GradMode.noGrad()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor t = e.getValue();
                if (!needs.test(t)) continue;
                boolean rg = t.requiresGrad();
                Tensor n = Scope.detach(f.apply(t));
                if (n.dtype().isFloating()) n.requiresGrad(rg);
                e.setValue(n);
                t.close();
            }
            for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
                Tensor t = e.getValue();
                if (!needs.test(t)) continue;
                e.setValue(Scope.detach(f.apply(t)));
                t.close();
            }
        }
        for (Module c : children.values()) c.convert(needs, f);
    }

    public boolean isTraining() { return training; }

    /** Training mode (dropout active) for this module and its descendants. Returns this. */
    public Module train(boolean on) {
        training = on;
        for (Module c : children.values()) c.train(on);
        return this;
    }

    public Module eval() { return train(false); }

    /** Freezes (false) or unfreezes (true) every parameter. Returns this. */
    public Module requiresGrad(boolean on) {
        for (Tensor t : params.values()) t.requiresGrad(on);
        for (Module c : children.values()) c.requiresGrad(on);
        return this;
    }

    /** Clears the gradients of every parameter. */
    public void zeroGrad() {
        for (Tensor t : namedParameters().values()) t.zeroGrad();
    }

    public long numParameters(boolean trainableOnly) {
        long n = 0;
        for (Tensor t : namedParameters().values()) if (!trainableOnly || t.requiresGrad()) n += t.numel();
        return n;
    }

    // ---- forward hooks -------------------------------------------------------------------------

    /** Called with this module before each hooked forward (e.g. to gather sharded weights). */
    public void addForwardPreHook(Consumer<Module> hook) { preHooks.add(hook); }

    /** Called with this module after each hooked forward (e.g. to free gathered weights). */
    public void addForwardHook(Consumer<Module> hook) { postHooks.add(hook); }

    /** Runs a forward body between the pre- and post-hooks; layers call this from forward(). */
    protected final <T> T hooked(Supplier<T> body) {
        for (Consumer<Module> h : preHooks) h.accept(this);
        T out = body.get();
        for (Consumer<Module> h : postHooks) h.accept(this);
        return out;
    }

    // ---- lifetime ------------------------------------------------------------------------------

    /** Frees every parameter, buffer and gradient of this module and its descendants. */
    @Override
    public void close() {
        for (Tensor t : params.values()) t.close();
        for (Tensor t : buffers.values()) t.close();
        for (Module c : children.values()) c.close();
    }

    @Override
    public String toString() {
        return toString("");
    }

    private String toString(String indent) {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append(describe()).append('(');
        if (children.isEmpty()) return sb.append(')').toString();
        sb.append('\n');
        for (Map.Entry<String, Module> c : children.entrySet()) {
            sb.append(indent).append("  (").append(c.getKey()).append("): ").append(c.getValue().toString(indent + "  ")).append('\n');
        }
        return sb.append(indent).append(')').toString();
    }

    /** Extra text after the class name in toString (e.g. sizes). */
    protected String describe() { return ""; }
}
