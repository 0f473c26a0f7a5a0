package llava.models.checkpoint;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static llava.models.checkpoint.CheckpointTestUtil.assertSameTensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointFolderTest {
    @TempDir Path dir;

    private Path folderWith(String name, Map<String, Path> files) throws IOException {
        Path f = dir.resolve(name);
        Files.createDirectories(f);
        for (Map.Entry<String, Path> e : files.entrySet()) Files.copy(e.getValue(), f.resolve(e.getKey()));
        return f;
    }

    @Test
    void findsEachLayoutInTransformersOrder() throws IOException {
        Path st = Fixtures.path("tiny-clip-vit-p14-56/model.safetensors");
        Path bin = Fixtures.path("tiny-clip-vit-p14-56/pytorch_model.bin");
        Path cfg = Fixtures.path("tiny-clip-vit-p14-56/config.json");
        Path both = folderWith("both", Map.of("model.safetensors", st, "pytorch_model.bin", bin, "config.json", cfg));
        Path binOnly = folderWith("bin", Map.of("pytorch_model.bin", bin));
        try (CheckpointFolder a = CheckpointFolder.open(both); CheckpointFolder b = CheckpointFolder.open(binOnly);
             CheckpointFolder c = CheckpointFolder.open(Fixtures.path("tiny-llava-v1"));
             CheckpointFolder d = CheckpointFolder.open(bin)) {
            assertEquals(CheckpointFolder.Format.SAFETENSORS, a.format());
            assertEquals(CheckpointFolder.Format.PYTORCH_BIN, b.format());
            assertEquals(CheckpointFolder.Format.SAFETENSORS_SHARDED, c.format());
            assertEquals(CheckpointFolder.Format.PYTORCH_BIN, d.format());
            assertEquals("clip_vision_model", a.config().get("model_type").asText());
            assertEquals(48, a.config().get("hidden_size").asInt());
            assertEquals("tiny-clip-vit-p14-56", c.config().get("mm_vision_tower").asText());
            assertEquals(a.keys().size(), assertSameTensors(a, b));
            IOException noConfig = assertThrows(IOException.class, b::config);
            assertTrue(noConfig.getMessage().contains("config file not found: " + binOnly.resolve("config.json")), noConfig.getMessage());
        }
    }

    /** pytorch_model.bin.index.json with .bin shards (here: the tiny CLIP .bin split in two with torch's naming). */
    @Test
    void shardedBinCheckpointLoads() throws IOException {
        Path bin = Fixtures.path("tiny-clip-vit-p14-56/pytorch_model.bin");
        Path f = folderWith("shardedbin", Map.of("pytorch_model-00001-of-00002.bin", bin, "pytorch_model-00002-of-00002.bin",
            Path.of("src/test/resources/checkpoint/strided.bin").toAbsolutePath()));
        StringBuilder idx = new StringBuilder("{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
        try (TorchBinFile b = TorchBinFile.open(bin)) {
            for (String k : b.keys()) idx.append('"').append(k).append("\": \"pytorch_model-00001-of-00002.bin\", ");
        }
        idx.append("\"wt\": \"pytorch_model-00002-of-00002.bin\"}}");
        Files.writeString(f.resolve("pytorch_model.bin.index.json"), idx);
        try (CheckpointFolder ck = CheckpointFolder.open(f); SafetensorsFile st = SafetensorsFile.open(Fixtures.path("tiny-clip-vit-p14-56/model.safetensors"));
             SafetensorsFile expected = SafetensorsFile.open(Path.of("src/test/resources/checkpoint/expected.safetensors"))) {
            assertEquals(CheckpointFolder.Format.PYTORCH_BIN_SHARDED, ck.format());
            assertEquals(st.keys().size() + 1, ck.keys().size());
            for (String k : st.keys()) {
                try (Tensor e = st.load(k); Tensor a = ck.load(k)) {
                    assertSameTensor(e, a, k);
                }
            }
            try (Tensor e = expected.load("wt"); Tensor a = ck.load("wt")) {
                assertSameTensor(e, a, "wt");
            }
        }
    }

    @Test
    void folderWithoutWeightsListsWhatWasLookedFor() throws IOException {
        Path f = dir.resolve("empty");
        Files.createDirectories(f);
        Files.writeString(f.resolve("config.json"), "{}");
        IOException e = assertThrows(IOException.class, () -> CheckpointFolder.open(f));
        for (String s : List.of(f.toString(), "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
            "pytorch_model.bin.index.json", "holds config.json")) {
            assertTrue(e.getMessage().contains(s), e.getMessage());
        }
        IOException missing = assertThrows(IOException.class, () -> CheckpointFolder.open(dir.resolve("nope")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }

    @Test
    void configErrorsNameTheFileAndNanIsAccepted() throws IOException {
        Path f = folderWith("cfg", Map.of("model.safetensors", Fixtures.path("tiny-clip-vit-p14-56/model.safetensors")));
        Files.writeString(f.resolve("config.json"), "{\"a\": NaN, \"b\": Infinity}");
        try (CheckpointFolder ck = CheckpointFolder.open(f)) {
            assertTrue(Double.isNaN(ck.config().get("a").asDouble()));
        }
        Files.writeString(f.resolve("config.json"), "{\"a\": ");
        try (CheckpointFolder ck = CheckpointFolder.open(f)) {
            IOException e = assertThrows(IOException.class, ck::config);
            assertTrue(e.getMessage().contains(f.resolve("config.json").toString()) && e.getMessage().contains("not valid JSON"), e.getMessage());
        }
        Files.writeString(f.resolve("config.json"), "[1]");
        try (CheckpointFolder ck = CheckpointFolder.open(f)) {
            IOException e = assertThrows(IOException.class, ck::config);
            assertTrue(e.getMessage().contains("is not a JSON object"), e.getMessage());
        }
    }

    /** loadAll converts floating tensors only (int64 position_ids stay int64) and prints nothing for a small load. */
    @Test
    void loadAllConvertsFloatsKeepsIntegersAndStaysQuiet() throws IOException {
        PrintStream old = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        Map<String, Tensor> all;
        try (CheckpointFolder ck = CheckpointFolder.open(Fixtures.path("tiny-clip-vit-p14-56"))) {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                all = ck.loadAll(DType.BF16, Device.CPU);
            } finally {
                System.setErr(old);
            }
            assertEquals(ck.keys(), all.keySet());
            assertEquals(DType.I64, all.get("vision_model.embeddings.position_ids").dtype());
            assertEquals(DType.BF16, all.get("vision_model.embeddings.class_embedding").dtype());
            try (Tensor f32 = ck.load("vision_model.embeddings.class_embedding"); Tensor bf = f32.to(DType.BF16)) {
                assertSameTensor(bf, all.get("vision_model.embeddings.class_embedding"), "class_embedding");
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ck.loadAll(List.of("nope"), null, Device.CPU));
            assertTrue(e.getMessage().contains("'nope'"));
        }
        all.values().forEach(Tensor::close);
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
    }
}
