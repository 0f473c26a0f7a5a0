package llava.models.checkpoint;

import static llava.models.checkpoint.CheckpointTestUtil.assertSameTensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.core.io.SafetensorsWriter;
import llava.core.io.ShardedCheckpoint;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-repo checkpoint fixtures and the writer's byte-exactness against files the Python library wrote. */
class FixtureCopiesTest {
    @TempDir Path dir;

    @Test
    void shardedTinyLlavaCopyIsTwoShardsUnderTheFileLimit() throws IOException {
        Path folder = Fixtures.path("tiny-llava-v1");
        try (CheckpointFolder ck = CheckpointFolder.open(folder)) {
            assertEquals(CheckpointFolder.Format.SAFETENSORS_SHARDED, ck.format());
            ShardedCheckpoint sc = (ShardedCheckpoint) ck.source();
            assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), List.copyOf(new java.util.TreeSet<>(sc.shardNames())));
            assertEquals(25, ck.keys().size());
            assertEquals(8_397_344L, ck.totalBytes());
            assertEquals(ck.totalBytes(), sc.metadata().get("total_size").asLong());
            assertArrayEquals(new int[] {32003, 64}, ck.shape("model.embed_tokens.weight"));
        }
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : s.toList()) assertTrue(Files.size(p) < 5L * 1024 * 1024, p + " is over 5 MiB");
        }
    }

    /** Every tensor of the sharded copy equals the original fixture (checked where ../shared exists). */
    @Test
    void shardedTinyLlavaCopyEqualsTheOriginalOnlyWhenSharedFixturesPresent() throws IOException {
        Path shared = Fixtures.shared();
        assumeTrue(shared != null, "../shared/fixtures not present");
        try (SafetensorsFile original = SafetensorsFile.open(shared.resolve("tiny-llava-v1/model.safetensors"));
             CheckpointFolder copy = CheckpointFolder.open(Fixtures.path("tiny-llava-v1"))) {
            assertEquals(25, assertSameTensors(original, copy));
            ShardedCheckpoint sc = (ShardedCheckpoint) copy.source();
            for (String shard : sc.shardNames()) {
                try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("tiny-llava-v1/" + shard))) {
                    assertEquals(original.metadata(), f.metadata());
                }
            }
        }
        for (String f : FixtureCopies.TINY_LLAVA_SMALL_FILES) {
            assertArrayEquals(Files.readAllBytes(shared.resolve("tiny-llava-v1").resolve(f)), Files.readAllBytes(Fixtures.path("tiny-llava-v1/" + f)), f);
        }
    }

    /** Re-running the fixture maker reproduces the committed shards and index byte for byte. */
    @Test
    void committedShardsAreWhatTheWriterProducesOnlyWhenSharedFixturesPresent() throws IOException {
        Path shared = Fixtures.shared();
        assumeTrue(shared != null, "../shared/fixtures not present");
        List<Path> written = FixtureCopies.writeShardedTinyLlava(shared.resolve("tiny-llava-v1/model.safetensors"), dir);
        assertEquals(3, written.size());
        for (Path p : written) {
            assertArrayEquals(Files.readAllBytes(Fixtures.path("tiny-llava-v1/" + p.getFileName())), Files.readAllBytes(p), p.getFileName().toString());
        }
    }

    /**
     * Files written by the Python safetensors library (the tiny CLIP tower in the repo; every
     * safetensors fixture where ../shared exists) come out byte-identical when their tensors and
     * metadata are written again: same order, header, padding and data layout.
     */
    @Test
    void writerReproducesFilesOfThePythonLibraryByteForByte() throws IOException {
        List<Path> files = new ArrayList<>();
        files.add(Fixtures.path("tiny-clip-vit-p14-56/model.safetensors"));
        Path shared = Fixtures.shared();
        if (shared != null) {
            try (Stream<Path> s = Files.walk(shared)) {
                s.filter(p -> p.toString().endsWith(".safetensors")).sorted().forEach(files::add);
            }
        }
        for (Path f : files) {
            Path out = dir.resolve("rewritten.safetensors");
            Map<String, Tensor> ts = new LinkedHashMap<>();
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                for (String k : sf.keys()) ts.put(k, sf.load(k));
                SafetensorsWriter.write(out, ts, sf.metadata().isEmpty() ? null : sf.metadata());
            } finally {
                ts.values().forEach(Tensor::close);
            }
            assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(out), "rewrite of " + f);
        }
        assertTrue(shared == null || files.size() > 10, "files compared: " + files);
    }
}
