package llava.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;

/**
 * A checkpoint split into shards with an index ({@code model.safetensors.index.json},
 * {@code pytorch_model.bin.index.json}): {"metadata": {...}, "weight_map": {tensor: shard file}}.
 * Shards are opened lazily, the first time one of their tensors is asked for, by the given opener
 * (so the same class serves safetensors and PyTorch shards).
 */
public final class ShardedCheckpoint implements TensorSource {
    /** Opens one shard file. */
    public interface ShardOpener {
        TensorSource open(Path file) throws IOException;
    }

    /** Index files are small (a few hundred KB for the largest models); refuse absurd ones. */
    static final long MAX_INDEX_BYTES = 64L << 20;

    private final Path index;
    private final JsonNode metadata;
    private final Map<String, String> weightMap;
    private final List<String> shardNames;
    private final ShardOpener opener;
    private final Map<String, TensorSource> opened = new HashMap<>();
    private boolean closed;

    private ShardedCheckpoint(Path index, JsonNode metadata, Map<String, String> weightMap, List<String> shardNames, ShardOpener opener) {
        this.index = index;
        this.metadata = metadata;
        this.weightMap = weightMap;
        this.shardNames = shardNames;
        this.opener = opener;
    }

    /** The index name of sharded safetensors checkpoints. */
    public static final String SAFETENSORS_INDEX = "model.safetensors.index.json";

    /** A sharded safetensors checkpoint from its index file, or from a folder holding {@value #SAFETENSORS_INDEX}. */
    public static ShardedCheckpoint openSafetensors(Path indexFileOrFolder) throws IOException {
        Path index = Files.isDirectory(indexFileOrFolder) ? indexFileOrFolder.resolve(SAFETENSORS_INDEX) : indexFileOrFolder;
        return open(index, SafetensorsFile::open);
    }

    /** Reads and checks the index; opens no shard yet. */
    public static ShardedCheckpoint open(Path indexFile, ShardOpener opener) throws IOException {
        String problem = "malformed checkpoint index";
        JsonNode root = StrictJson.readObject(indexFile, MAX_INDEX_BYTES, problem);
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new IOException(problem + " " + indexFile + ": no \"weight_map\" object");
        JsonNode meta = root.get("metadata");
        if (meta != null && !meta.isObject() && !meta.isNull()) {
            throw new IOException(problem + " " + indexFile + ": \"metadata\" is not an object");
        }
        Path folder = indexFile.toAbsolutePath().normalize().getParent();
        Map<String, String> map = new LinkedHashMap<>();
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.isTextual()) throw new IOException(problem + " " + indexFile + ": shard of tensor '" + e.getKey() + "' is not a file name");
            String shard = v.textValue();
            Path p;
            try {
                p = folder.resolve(shard).normalize();
            } catch (RuntimeException ex) {
                throw new IOException(problem + " " + indexFile + ": bad shard file name '" + shard + "' for tensor '" + e.getKey() + "'");
            }
            if (shard.isEmpty() || !p.startsWith(folder) || p.equals(folder)) {
                throw new IOException(problem + " " + indexFile + ": shard '" + shard + "' of tensor '" + e.getKey()
                    + "' is not a file inside " + folder);
            }
            map.put(e.getKey(), shard);
            shards.add(shard);
        }
        JsonNode metadata = meta == null || meta.isNull() ? JsonNodeFactory.instance.objectNode() : meta;
        return new ShardedCheckpoint(indexFile, metadata, Collections.unmodifiableMap(map), List.copyOf(shards), opener);
    }

    public Path indexFile() { return index; }
    /** The index's "metadata" object (e.g. total_size); empty when absent. */
    public JsonNode metadata() { return metadata; }
    /** Shard file names, in order of first appearance in the index. */
    public List<String> shardNames() { return shardNames; }
    /** The shard file name holding a tensor. */
    public String shardName(String name) {
        String s = weightMap.get(name);
        if (s == null) throw new IllegalArgumentException("no tensor '" + name + "' in " + index);
        return s;
    }

    @Override public Set<String> keys() { return weightMap.keySet(); }
    @Override public boolean contains(String name) { return weightMap.containsKey(name); }
    @Override public String describe() { return index.toString(); }

    /** The opened shard that holds name (opening it on first use). */
    public TensorSource shardOf(String name) throws IOException {
        String shard = shardName(name);
        TensorSource src;
        synchronized (opened) {
            if (closed) throw new IllegalStateException("checkpoint " + index + " is closed");
            src = opened.get(shard);
            if (src == null) {
                Path p = index.toAbsolutePath().normalize().getParent().resolve(shard);
                if (!Files.isRegularFile(p)) {
                    throw new IOException("checkpoint index " + index + " lists shard '" + shard + "' (for tensor '" + name
                        + "'), but " + p + " does not exist");
                }
                src = opener.open(p);
                opened.put(shard, src);
            }
        }
        if (!src.contains(name)) {
            throw new IOException("checkpoint index " + index + " puts tensor '" + name + "' in shard '" + shard
                + "', which does not contain it");
        }
        return src;
    }

    @Override public DType dtype(String name) throws IOException { return shardOf(name).dtype(name); }
    @Override public int[] shape(String name) throws IOException { return shardOf(name).shape(name); }
    @Override public long nbytes(String name) throws IOException { return shardOf(name).nbytes(name); }

    @Override
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        return shardOf(name).load(name, dtype, device);
    }

    @Override
    public void close() throws IOException {
        List<TensorSource> toClose;
        synchronized (opened) {
            closed = true;
            toClose = new ArrayList<>(opened.values());
            opened.clear();
        }
        IOException first = null;
        for (TensorSource s : toClose) {
            try {
                s.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
