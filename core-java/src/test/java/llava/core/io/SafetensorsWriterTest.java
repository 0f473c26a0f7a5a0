package llava.core.io;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static llava.core.io.IoTestUtil.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import llava.core.DType;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir Path dir;

    /** Every dtype, a scalar, an empty tensor and a non-contiguous view survive a round trip bit for bit. */
    @Test
    void roundTripOfEveryDtypeScalarEmptyAndStridedTensors() throws IOException {
        Random r = new Random(1);
        Map<String, Tensor> ts = new LinkedHashMap<>();
        for (DType dt : DType.values()) ts.put("t." + dt.name().toLowerCase(), random(r, dt, 3, 5));
        ts.put("scalar", random(r, DType.F32));
        ts.put("empty", random(r, DType.F16, 0, 4));
        Tensor base = random(r, DType.BF16, 4, 6);
        ts.put("transposed", base.t());
        ts.put("narrowed", base.narrow(1, 2, 3));
        Map<String, String> meta = Map.of("format", "pt", "note", "ünïcode \"quoted\"\n");
        Path f = dir.resolve("all.safetensors");
        SafetensorsWriter.write(f, ts, meta);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertEquals(ts.keySet(), sf.keys());
            assertEquals(meta, sf.metadata());
            for (Map.Entry<String, Tensor> e : ts.entrySet()) {
                try (Tensor t = sf.load(e.getKey())) {
                    assertSameTensor(e.getValue(), t, e.getKey());
                }
            }
            // conversion of a 0-dim and an empty tensor (the chunked path with nothing or one element)
            try (Tensor s = sf.load("scalar", DType.BF16, llava.core.Device.CPU); Tensor es = ts.get("scalar").to(DType.BF16);
                 Tensor z = sf.load("empty", DType.F32, llava.core.Device.CPU)) {
                assertSameTensor(es, s, "scalar as bf16");
                assertArrayEquals(new int[] {0, 4}, z.shape());
                assertEquals(DType.F32, z.dtype());
            }
        }
        ts.values().forEach(Tensor::close);
        base.close();
    }

    /**
     * The reference library's own serialization examples (safetensors tensor.rs tests
     * test_serialization, test_empty, test_serialization_forced_alignement): bytes must match.
     */
    @Test
    void bytesMatchTheReferenceLibraryExamples() throws IOException {
        try (Tensor a = Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 1, 2, 3); Tensor b = Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 1, 1, 2, 3)) {
            Path f1 = dir.resolve("a.safetensors");
            SafetensorsWriter.write(f1, Map.of("attn.0", a), null);
            assertArrayEquals(bytes(64, "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", ""),
                Arrays.copyOf(Files.readAllBytes(f1), 8 + 64));
            Path f2 = dir.resolve("b.safetensors");
            SafetensorsWriter.write(f2, Map.of("attn0", b), null);
            assertArrayEquals(bytes(72, "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}", "       "),
                Arrays.copyOf(Files.readAllBytes(f2), 8 + 72));
            // data: the six floats, little-endian, right after the header
            ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(f2), 80, 24).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 6; i++) assertEquals(i, data.getFloat(), 0);
        }
        Path e1 = dir.resolve("e1.safetensors");
        SafetensorsWriter.write(e1, Map.of(), null);
        assertArrayEquals(bytes(8, "{}", "      "), Files.readAllBytes(e1));
        Path e2 = dir.resolve("e2.safetensors");
        SafetensorsWriter.write(e2, Map.of(), Map.of("framework", "pt"));
        assertArrayEquals(bytes(40, "{\"__metadata__\":{\"framework\":\"pt\"}}", "     "), Files.readAllBytes(e2));
    }

    private static byte[] bytes(long headerLen, String json, String pad) {
        byte[] h = (json + pad).getBytes(StandardCharsets.UTF_8);
        assertEquals(headerLen, h.length);
        return ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLen).put(h).array();
    }

    /** Order of the reference: 8-byte dtypes first, then 4, 2, 1; by name within a dtype; data aligned. */
    @Test
    void tensorsAreOrderedByAlignmentThenNameAndAligned() throws IOException {
        Random r = new Random(2);
        Map<String, Tensor> ts = new LinkedHashMap<>();
        ts.put("z.bool", random(r, DType.BOOL, 3));
        ts.put("b.u8", random(r, DType.U8, 5));
        ts.put("a.f16", random(r, DType.F16, 3));
        ts.put("a.bf16", random(r, DType.BF16, 1));
        ts.put("c.i32", random(r, DType.I32, 7));
        ts.put("b.f32", random(r, DType.F32, 3));
        ts.put("a.f32", random(r, DType.F32, 1));
        ts.put("y.f64", random(r, DType.F64, 2));
        ts.put("x.i64", random(r, DType.I64, 3));
        Path f = dir.resolve("order.safetensors");
        SafetensorsWriter.write(f, ts, Map.of("format", "pt"));
        byte[] all = Files.readAllBytes(f);
        long hlen = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, hlen % 8, "header padded to a multiple of 8");
        JsonNode h = new ObjectMapper().readTree(new String(all, 8, (int) hlen, StandardCharsets.UTF_8));
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = h.fieldNames(); it.hasNext(); ) names.add(it.next());
        assertEquals(List.of("__metadata__", "x.i64", "y.f64", "a.f32", "b.f32", "c.i32", "a.bf16", "a.f16", "b.u8", "z.bool"), names);
        long prevEnd = 0;
        for (String n : names.subList(1, names.size())) {
            JsonNode off = h.get(n).get("data_offsets");
            assertEquals(prevEnd, off.get(0).asLong(), "tensors are back to back");
            long elem = DType.fromSafetensorsName(h.get(n).get("dtype").asText()).byteSize();
            assertEquals(0, (8 + hlen + off.get(0).asLong()) % elem, n + " aligned to its element size");
            prevEnd = off.get(1).asLong();
        }
        assertEquals(all.length, 8 + hlen + prevEnd);
        ts.values().forEach(Tensor::close);
    }

    @Test
    void namesAreCheckedAndReservedNameRejected() {
        try (Tensor t = Tensor.zeros(2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.write(dir.resolve("x.safetensors"), Map.of("__metadata__", t), null));
            assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        }
        assertFalse(Files.exists(dir.resolve("x.safetensors")));
    }

    /** Bad names are refused before any shard is written, also when they would land in a later shard. */
    @Test
    void shardedWritesCheckEveryNameBeforeWritingAnything() throws IOException {
        Map<String, Tensor> ts = new LinkedHashMap<>();
        for (String n : List.of("a", "b", "__metadata__")) ts.put(n, Tensor.zeros(4));
        Path out = dir.resolve("ck");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> SafetensorsWriter.writeSharded(out, "model.safetensors", ts, null, 16)); // one tensor per shard
        assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        assertFalse(Files.exists(out.resolve("model-00001-of-00003.safetensors")), "a shard was written before the check");
        ts.remove("__metadata__");
        Path src = dir.resolve("src.safetensors");
        SafetensorsWriter.write(src, ts, null);
        try (SafetensorsFile sf = SafetensorsFile.open(src)) {
            e = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.writeSharded(out, "model.safetensors", sf, List.of("a", "b", "a"), null, 16));
            assertTrue(e.getMessage().contains("duplicate tensor name 'a'"), e.getMessage());
        }
        assertFalse(Files.exists(out.resolve("model.safetensors.index.json")), "an index naming one of two copies of 'a'");
        ts.values().forEach(Tensor::close);
    }

    /** A failing write leaves the previous file intact and no temporary file behind. */
    @Test
    void failedWriteKeepsTheOldFileAndLeavesNoTemporaryFile() throws IOException {
        Path f = dir.resolve("model.safetensors");
        try (Tensor good = Tensor.of(new float[] {1, 2, 3})) {
            SafetensorsWriter.write(f, Map.of("w", good), null);
        }
        byte[] before = Files.readAllBytes(f);
        Tensor closed = Tensor.of(new float[] {4, 5});
        closed.close();
        Tensor other = Tensor.of(new float[] {6});
        Map<String, Tensor> ts = new LinkedHashMap<>();
        ts.put("a", other);
        ts.put("b", closed); // fails when its data is written, after the temporary file exists
        assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(f, ts, null));
        assertArrayEquals(before, Files.readAllBytes(f));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList());
        }
        other.close();
    }

    @Test
    void streamingWriteFromASourceRewritesTheSameFile() throws IOException {
        Random r = new Random(3);
        Map<String, Tensor> ts = new LinkedHashMap<>();
        ts.put("w", random(r, DType.F16, 17, 3));
        ts.put("ids", random(r, DType.I64, 1, 9));
        Path f = dir.resolve("src.safetensors");
        SafetensorsWriter.write(f, ts, Map.of("format", "pt"));
        Path g = dir.resolve("copy.safetensors");
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            SafetensorsWriter.write(g, sf, sf.keys(), sf.metadata());
        }
        assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(g));
        ts.values().forEach(Tensor::close);
    }

    @Test
    void parseSizeFollowsTransformers() {
        assertEquals(5_000_000_000L, SafetensorsWriter.parseSize("5GB"));
        assertEquals(5L << 30, SafetensorsWriter.parseSize("5GiB"));
        assertEquals(500_000_000L, SafetensorsWriter.parseSize("500mb"));
        assertEquals(1234, SafetensorsWriter.parseSize("1234"));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.parseSize("lots"));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.parseSize("-5GB"));
    }
}
