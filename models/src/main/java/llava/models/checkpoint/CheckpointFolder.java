package llava.models.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.cli.ProgressBar;
import llava.core.io.SafetensorsFile;
import llava.core.io.ShardedCheckpoint;
import llava.core.io.TensorSource;
import llava.models.ConfigJson;

/**
 * A HuggingFace-style checkpoint folder: config.json plus weights in one of the layouts
 * transformers writes, looked for in its order of preference: {@code model.safetensors},
 * {@code model.safetensors.index.json} + shards, {@code pytorch_model.bin},
 * {@code pytorch_model.bin.index.json} + shards. Tensors are listed without loading and loaded
 * one at a time; {@link #loadAll} loads many with a progress bar.
 */
public final class CheckpointFolder implements TensorSource {
    public enum Format { SAFETENSORS, SAFETENSORS_SHARDED, PYTORCH_BIN, PYTORCH_BIN_SHARDED }

    public static final String CONFIG = "config.json";
    public static final String SAFETENSORS = "model.safetensors";
    public static final String PYTORCH_BIN = "pytorch_model.bin";
    /** Loads above this size show progress even when stderr is not a terminal. */
    static final long LARGE_BYTES = 1L << 30;

    private final Path folder;
    private final Format format;
    private final Path weights;
    private final TensorSource source;
    private JsonNode config;

    private CheckpointFolder(Path folder, Format format, Path weights, TensorSource source) {
        this.folder = folder;
        this.format = format;
        this.weights = weights;
        this.source = source;
    }

    /**
     * Opens a checkpoint folder, or a weights file directly (a .safetensors, .bin or index file;
     * its folder is then the checkpoint folder).
     */
    public static CheckpointFolder open(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            String n = path.getFileName().toString();
            Path folder = path.toAbsolutePath().getParent();
            if (n.endsWith(".safetensors.index.json")) return new CheckpointFolder(folder, Format.SAFETENSORS_SHARDED, path, ShardedCheckpoint.openSafetensors(path));
            if (n.endsWith(".bin.index.json")) return new CheckpointFolder(folder, Format.PYTORCH_BIN_SHARDED, path, TorchBinFile.openSharded(path));
            if (n.endsWith(".safetensors")) return new CheckpointFolder(folder, Format.SAFETENSORS, path, SafetensorsFile.open(path));
            return new CheckpointFolder(folder, Format.PYTORCH_BIN, path, TorchBinFile.open(path));
        }
        if (!Files.isDirectory(path)) throw new IOException("checkpoint " + path + " does not exist");
        Path st = path.resolve(SAFETENSORS);
        if (Files.isRegularFile(st)) return new CheckpointFolder(path, Format.SAFETENSORS, st, SafetensorsFile.open(st));
        Path stIndex = path.resolve(ShardedCheckpoint.SAFETENSORS_INDEX);
        if (Files.isRegularFile(stIndex)) return new CheckpointFolder(path, Format.SAFETENSORS_SHARDED, stIndex, ShardedCheckpoint.openSafetensors(stIndex));
        Path bin = path.resolve(PYTORCH_BIN);
        if (Files.isRegularFile(bin)) return new CheckpointFolder(path, Format.PYTORCH_BIN, bin, TorchBinFile.open(bin));
        Path binIndex = path.resolve(TorchBinFile.INDEX);
        if (Files.isRegularFile(binIndex)) return new CheckpointFolder(path, Format.PYTORCH_BIN_SHARDED, binIndex, TorchBinFile.openSharded(binIndex));
        List<String> present = new ArrayList<>();
        try (Stream<Path> s = Files.list(path)) {
            s.limit(20).forEach(p -> present.add(p.getFileName().toString()));
        }
        throw new IOException("no weights in checkpoint folder " + path + ": looked for " + SAFETENSORS + ", "
            + ShardedCheckpoint.SAFETENSORS_INDEX + ", " + PYTORCH_BIN + " and " + TorchBinFile.INDEX + "; the folder holds "
            + (present.isEmpty() ? "nothing" : String.join(", ", present)));
    }

    public Path folder() { return folder; }
    public Format format() { return format; }
    /** The weights file, or the index file of a sharded checkpoint. */
    public Path weightsFile() { return weights; }
    /** The underlying reader (SafetensorsFile, ShardedCheckpoint or TorchBinFile). */
    public TensorSource source() { return source; }

    public boolean hasConfig() { return Files.isRegularFile(folder.resolve(CONFIG)); }

    /** config.json of the folder, parsed once. */
    public synchronized JsonNode config() throws IOException {
        if (config == null) config = ConfigJson.read(folder.resolve(CONFIG));
        return config;
    }

    @Override public Set<String> keys() { return source.keys(); }
    @Override public boolean contains(String name) { return source.contains(name); }
    @Override public DType dtype(String name) throws IOException { return source.dtype(name); }
    @Override public int[] shape(String name) throws IOException { return source.shape(name); }
    @Override public long nbytes(String name) throws IOException { return source.nbytes(name); }
    @Override public String describe() { return weights.toString(); }

    @Override
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        return source.load(name, dtype, device);
    }

    /** Total size of all tensors in their stored dtypes. */
    public long totalBytes() throws IOException {
        long t = 0;
        for (String k : keys()) t += nbytes(k);
        return t;
    }

    /**
     * Loads the named tensors onto device, floating-point ones converted to floatDtype (null:
     * kept as stored), integer and bool ones (e.g. position_ids) as stored. Shows progress on
     * stderr when it is a terminal or the load is large. On failure nothing stays allocated.
     */
    public Map<String, Tensor> loadAll(Collection<String> names, DType floatDtype, Device device) throws IOException {
        long total = 0;
        for (String n : names) {
            if (!contains(n)) throw new IllegalArgumentException("no tensor '" + n + "' in " + describe());
            total += nbytes(n);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        boolean ok = false;
        try (ProgressBar bar = ProgressBar.start("loading " + folder.getFileName(), total, total >= LARGE_BYTES)) {
            for (String n : names) {
                DType stored = dtype(n);
                DType target = floatDtype != null && stored.isFloating() ? floatDtype : stored;
                out.put(n, load(n, target, device));
                bar.advance(nbytes(n));
            }
            ok = true;
            return out;
        } finally {
            if (!ok) out.values().forEach(Tensor::close);
        }
    }

    /** {@link #loadAll(Collection, DType, Device)} of every tensor. */
    public Map<String, Tensor> loadAll(DType floatDtype, Device device) throws IOException {
        return loadAll(keys(), floatDtype, device);
    }

    @Override
    public void close() throws IOException {
        source.close();
    }
}
