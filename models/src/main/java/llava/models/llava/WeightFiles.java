package llava.models.llava;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.ConfigJson;
import llava.models.ModelWeights;

/** The safetensors weights of a checkpoint folder: one file or shards listed in an index. */
final class WeightFiles implements ModelWeights.Source, AutoCloseable {
    private final Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
    private final Map<Path, SafetensorsFile> open = new LinkedHashMap<>();

    static WeightFiles open(Path dir) throws IOException {
        WeightFiles w = new WeightFiles();
        try {
            Path single = dir.resolve("model.safetensors");
            Path index = dir.resolve("model.safetensors.index.json");
            if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                w.open.put(single, f);
                for (String k : f.keys()) w.byName.put(k, f);
            } else if (Files.isRegularFile(index)) {
                JsonNode map = ConfigJson.read(index).get("weight_map");
                if (map == null || !map.isObject()) throw new IOException(index + " has no weight_map");
                for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    Path shard = dir.resolve(e.getValue().asText()).normalize();
                    if (!shard.startsWith(dir.normalize())) throw new IOException(index + ": shard path escapes the folder: " + shard);
                    SafetensorsFile f = w.open.get(shard);
                    if (f == null) {
                        f = SafetensorsFile.open(shard);
                        w.open.put(shard, f);
                    }
                    if (!f.contains(e.getKey())) throw new IOException(index + " maps '" + e.getKey() + "' to " + shard + ", which lacks it");
                    w.byName.put(e.getKey(), f);
                }
            } else {
                throw new IOException("no model.safetensors or model.safetensors.index.json in " + dir);
            }
            return w;
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
    }

    @Override public Set<String> keys() { return byName.keySet(); }

    @Override public int[] shape(String name) { return byName.get(name).entry(name).shape(); }

    @Override
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        return byName.get(name).load(name, dtype, device);
    }

    @Override
    public void close() {
        for (SafetensorsFile f : open.values()) {
            try {
                f.close();
            } catch (IOException ignored) {
                // closing a read-only mapping cannot lose data
            }
        }
    }
}
