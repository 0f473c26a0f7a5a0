package llava.core.optim;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import llava.core.Tensor;

/**
 * An optimizer's state in a form that maps onto one safetensors file: tensors by name (the
 * file's tensors) and scalars as strings (the file's {@code __metadata__}).
 *
 * <p>Keys: {@code state.<param>.<buffer>} for per-parameter tensors (e.g.
 * {@code state.layers.0.q_proj.weight.exp_avg}, {@code ...master} for the F32 master copy of a
 * half-precision parameter), {@code state.<param>.step} for the per-parameter step count, and
 * {@code optimizer.*} / {@code param_groups.<i>.*} for the rest. Doubles are written with
 * {@link Double#toString}, which reads back to the same value.
 *
 * <p>Closing it closes the tensors it holds.
 */
public record OptimizerState(Map<String, Tensor> tensors, Map<String, String> scalars) implements AutoCloseable {
    public OptimizerState {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        scalars = Collections.unmodifiableMap(new LinkedHashMap<>(scalars));
    }

    public boolean has(String key) { return scalars.containsKey(key); }

    public String string(String key) {
        String v = scalars.get(key);
        if (v == null) throw new IllegalArgumentException("optimizer state: missing entry '" + key + "'");
        return v;
    }

    public long getLong(String key) {
        String v = string(key);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("optimizer state: '" + key + "' is not an integer: '" + v + "'");
        }
    }

    public double getDouble(String key) {
        String v = string(key);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("optimizer state: '" + key + "' is not a number: '" + v + "'");
        }
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) if (t != null) t.close();
    }
}
