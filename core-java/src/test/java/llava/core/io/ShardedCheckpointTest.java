package llava.core.io;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static llava.core.io.IoTestUtil.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedCheckpointTest {
    @TempDir Path dir;
    private final Map<String, Tensor> ts = new LinkedHashMap<>();

    @BeforeEach
    void tensors() {
        Random r = new Random(5);
        ts.put("lm_head.weight", random(r, DType.F16, 40, 8));          // 640 B
        ts.put("model.embed_tokens.weight", random(r, DType.F16, 40, 8)); // 640 B
        ts.put("model.norm.weight", random(r, DType.F16, 8));            // 16 B
        ts.put("model.position_ids", random(r, DType.I64, 1, 5));        // 40 B
        ts.put("model.proj.bias", random(r, DType.F32, 8));              // 32 B
    }

    @AfterEach
    void close() {
        ts.values().forEach(Tensor::close);
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Greedy shards in map order, like transformers; a tensor bigger than the limit gets its own shard. */
    @Test
    void shardsAreFilledGreedilyAndLoadBack() throws IOException {
        List<Path> written = SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, Map.of("format", "pt"), 800);
        assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"),
            listing());
        assertEquals(3, written.size());
        try (SafetensorsFile s1 = SafetensorsFile.open(dir.resolve("model-00001-of-00002.safetensors"));
             SafetensorsFile s2 = SafetensorsFile.open(dir.resolve("model-00002-of-00002.safetensors"))) {
            assertEquals(List.of("lm_head.weight"), List.copyOf(s1.keys()));
            assertEquals(4, s2.keys().size());
            assertEquals("pt", s2.metadata().get("format"));
        }
        try (ShardedCheckpoint ck = ShardedCheckpoint.openSafetensors(dir)) {
            assertEquals(ts.keySet(), new java.util.HashSet<>(ck.keys()));
            assertEquals(1368, ck.metadata().get("total_size").asLong());
            assertEquals("model-00002-of-00002.safetensors", ck.shardName("model.norm.weight"));
            for (Map.Entry<String, Tensor> e : ts.entrySet()) {
                assertEquals(e.getValue().dtype(), ck.dtype(e.getKey()));
                try (Tensor t = ck.load(e.getKey())) {
                    assertSameTensor(e.getValue(), t, e.getKey());
                }
            }
            try (Tensor f = ck.load("lm_head.weight", DType.F32, Device.CPU); Tensor ex = ts.get("lm_head.weight").to(DType.F32)) {
                assertSameTensor(ex, f, "converted");
            }
        }
    }

    @Test
    void indexIsWrittenAsTransformersWritesIt() throws IOException {
        SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, null, 800);
        StringBuilder expected = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": 1368\n  },\n  \"weight_map\": {\n");
        expected.append("    \"lm_head.weight\": \"model-00001-of-00002.safetensors\",\n");
        expected.append("    \"model.embed_tokens.weight\": \"model-00002-of-00002.safetensors\",\n");
        expected.append("    \"model.norm.weight\": \"model-00002-of-00002.safetensors\",\n");
        expected.append("    \"model.position_ids\": \"model-00002-of-00002.safetensors\",\n");
        expected.append("    \"model.proj.bias\": \"model-00002-of-00002.safetensors\"\n  }\n}\n");
        assertEquals(expected.toString(), Files.readString(dir.resolve("model.safetensors.index.json")));
    }

    /** Python's json.dumps(indent=2, sort_keys=True) output for these names, obtained with Python 3.11. */
    @Test
    void indexEscapesLikePython() {
        TreeMap<String, String> wm = new TreeMap<>(SafetensorsWriter::compareCodePoints);
        wm.put("b", "model-00002-of-00002.safetensors");
        wm.put("a\u00e9\uD83D\uDE00\"\n\u007f", "model-00001-of-00002.safetensors");
        assertEquals("{\n  \"metadata\": {\n    \"total_size\": 24\n  },\n  \"weight_map\": {\n    \"a\\u00e9\\ud83d\\ude00\\\"\\n\\u007f\": "
            + "\"model-00001-of-00002.safetensors\",\n    \"b\": \"model-00002-of-00002.safetensors\"\n  }\n}\n",
            SafetensorsWriter.indexJson(24, wm));
        assertEquals("{\n  \"metadata\": {\n    \"total_size\": 0\n  },\n  \"weight_map\": {}\n}\n",
            SafetensorsWriter.indexJson(0, new TreeMap<>()));
    }

    /** Saving again replaces the earlier layout: no stale shards, index or single file remain. */
    @Test
    void resavingRemovesStaleFiles() throws IOException {
        SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, null, 100); // 3 shards: lm_head | embed | norm+ids+bias
        assertTrue(listing().contains("model.safetensors.index.json"));
        Files.writeString(dir.resolve("config.json"), "{}");
        SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, null, 1 << 20);
        assertEquals(List.of("config.json", "model.safetensors"), listing());
        SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, null, 800);
        assertEquals(List.of("config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json"), listing());
    }

    @Test
    void badIndexesAreReportedWithTheirFile() throws IOException {
        SafetensorsWriter.writeSharded(dir, "model.safetensors", ts, null, 800);
        Path index = dir.resolve("model.safetensors.index.json");
        String good = Files.readString(index);

        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        try (ShardedCheckpoint ck = ShardedCheckpoint.openSafetensors(index)) {
            ck.load("lm_head.weight").close(); // shard 1 is fine
            IOException e = assertThrows(IOException.class, () -> ck.load("model.norm.weight"));
            assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("does not exist"), e.getMessage());
        }

        Files.writeString(index, good.replace("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
            "\"model.norm.weight\": \"model-00001-of-00002.safetensors\""));
        try (ShardedCheckpoint ck = ShardedCheckpoint.openSafetensors(index)) {
            IOException e = assertThrows(IOException.class, () -> ck.load("model.norm.weight"));
            assertTrue(e.getMessage().contains("does not contain it"), e.getMessage());
        }

        String[][] cases = {
            {good.replace("model-00001-of-00002.safetensors", "../outside.safetensors"), "is not a file inside"},
            {good.replace("model-00001-of-00002.safetensors", "/etc/passwd"), "is not a file inside"},
            {"{\"metadata\": {}}", "no \"weight_map\" object"},
            {"{\"weight_map\": {\"a\": 5}}", "not a file name"},
            {"{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}", "duplicate key"},
            {"[]", "not a JSON object"},
            {"{\"weight_map\": ", "not valid JSON"},
        };
        for (String[] c : cases) {
            Files.writeString(index, c[0]);
            IOException e = assertThrows(IOException.class, () -> ShardedCheckpoint.openSafetensors(index).close(), c[1]);
            assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains(c[1]), e.getMessage());
        }
        Files.write(index, new byte[] {'{', (byte) 0xC3, '}'});
        IOException e = assertThrows(IOException.class, () -> ShardedCheckpoint.openSafetensors(index).close());
        assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }
}
