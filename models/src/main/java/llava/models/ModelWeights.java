package llava.models;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.cli.ProgressBar;
import llava.core.io.TensorSource;
import llava.core.nn.Module;

/**
 * Fills a module's parameters and buffers from checkpoint tensors, one tensor at a time (the
 * module's placeholder is replaced, so a model is never held twice), converting dtype and device.
 */
public final class ModelWeights {
    private ModelWeights() {}

    /** Loads at least this large show a progress bar even when stderr is not a terminal. */
    private static final long LARGE_BYTES = 1L << 30;

    /**
     * Loads every state-dict entry of module from source. checkpointName maps a module key to its
     * name in the source; ignore lists source keys that may be left unused (e.g. rotary inv_freq
     * buffers). Missing keys, unexpected keys and shape mismatches are reported together.
     */
    public static void load(Module module, TensorSource source, Function<String, String> checkpointName,
                            Predicate<String> ignore, DType dtype, Device device, String what) throws IOException {
        Map<String, Tensor> own = module.stateDict();
        Map<String, String> wanted = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>(), mismatch = new ArrayList<>();
        Set<String> keys = source.keys();
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            String ck = checkpointName.apply(e.getKey());
            if (!keys.contains(ck)) {
                missing.add(ck);
                continue;
            }
            int[] s = source.shape(ck);
            if (!java.util.Arrays.equals(s, e.getValue().shape())) {
                mismatch.add(ck + ": checkpoint " + java.util.Arrays.toString(s) + " vs model " + java.util.Arrays.toString(e.getValue().shape()));
            }
            wanted.put(e.getKey(), ck);
        }
        java.util.HashSet<String> used = new java.util.HashSet<>(wanted.values());
        List<String> unexpected = new ArrayList<>();
        for (String k : new java.util.TreeSet<>(keys)) if (!used.contains(k) && !ignore.test(k)) unexpected.add(k);
        if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatch.isEmpty()) {
            StringBuilder sb = new StringBuilder(what + ": checkpoint does not match the model");
            if (!missing.isEmpty()) sb.append("\n  missing keys: ").append(missing);
            if (!unexpected.isEmpty()) sb.append("\n  unexpected keys: ").append(unexpected);
            if (!mismatch.isEmpty()) sb.append("\n  shape mismatches: ").append(mismatch);
            throw new IllegalArgumentException(sb.toString());
        }
        long total = 0;
        for (String ck : wanted.values()) total += source.nbytes(ck);
        try (ProgressBar bar = ProgressBar.start("loading " + what, total, total >= LARGE_BYTES)) {
            for (Map.Entry<String, String> e : wanted.entrySet()) {
                Tensor current = own.get(e.getKey());
                DType target = current.dtype().isFloating() ? dtype : current.dtype();
                module.setTensor(e.getKey(), source.load(e.getValue(), target, device));
                bar.advance(source.nbytes(e.getValue()));
            }
        }
    }
}
