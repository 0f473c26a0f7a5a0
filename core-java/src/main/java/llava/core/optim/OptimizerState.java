package llava.core.optim;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.core.io.SafetensorsWriter;

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

    /** Writes the state as one safetensors file (scalars in its metadata), atomically. */
    public void save(Path file) throws IOException {
        SafetensorsWriter.write(file, tensors, scalars);
    }

    /** Reads a state written by {@link #save}; the tensors are on the CPU and owned by the result. */
    public static OptimizerState load(Path file) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (!f.metadata().containsKey("optimizer.type")) {
                throw new IOException(file + ": not an optimizer state (its metadata has no 'optimizer.type')");
            }
            for (String k : f.keys()) tensors.put(k, Scope.detach(f.load(k)));
            return new OptimizerState(tensors, f.metadata());
        } catch (IOException | RuntimeException e) {
            for (Tensor t : tensors.values()) t.close();
            throw e;
        }
    }

    @Override
    public void close() {
        for (Tensor t : tensors.values()) if (t != null) t.close();
    }
}
