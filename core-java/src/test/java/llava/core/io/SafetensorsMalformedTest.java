package llava.core.io;

import static llava.core.io.IoTestUtil.rawFile;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of malformed file raises an IOException naming the file and the problem. */
class SafetensorsMalformedTest {
    @TempDir Path dir;

    private static final String OK_ENTRY = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private void assertRejected(Path f, String... fragments) {
        IOException e = assertThrows(IOException.class, () -> {
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                for (String k : sf.keys()) sf.load(k).close();
            }
        });
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), "message names the file: " + m);
        for (String frag : fragments) assertTrue(m.contains(frag), "message mentions '" + frag + "': " + m);
    }

    private Path file(String name, String header, int dataBytes) throws IOException {
        return rawFile(dir, name, header, new byte[dataBytes]);
    }

    @Test
    void validFileForComparison() throws IOException {
        try (SafetensorsFile sf = SafetensorsFile.open(file("ok.safetensors", "{" + OK_ENTRY + "}", 8)); Tensor t = sf.load("w")) {
            assertTrue(t.numel() == 2);
        }
    }

    @Test
    void shorterThanTheLengthField() throws IOException {
        Path f = dir.resolve("tiny.safetensors");
        Files.write(f, new byte[] {1, 2, 3, 4, 5});
        assertRejected(f, "5 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void truncatedData() throws IOException {
        Path good = file("full.safetensors", "{" + OK_ENTRY + "}", 8);
        byte[] all = Files.readAllBytes(good);
        Path f = dir.resolve("cut.safetensors");
        Files.write(f, Arrays.copyOf(all, all.length - 3));
        assertRejected(f, "'w'", "outside the data section of 5 bytes");
    }

    @Test
    void truncatedHeader() throws IOException {
        Path good = file("full2.safetensors", "{" + OK_ENTRY + "}", 8);
        byte[] all = Files.readAllBytes(good);
        Path f = dir.resolve("cuthead.safetensors");
        Files.write(f, Arrays.copyOf(all, 20));
        assertRejected(f, "runs past the end of the file (20 bytes)");
    }

    @Test
    void absurdHeaderLengths() throws IOException {
        for (long len : new long[] {1L << 40, -1L, 100_000_001L, 0, 1}) {
            ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(len);
            Path f = dir.resolve("len" + Long.toUnsignedString(len) + ".safetensors");
            Files.write(f, b.array());
            assertRejected(f, "header length " + Long.toUnsignedString(len), "not plausible");
        }
    }

    @Test
    void overlappingOffsets() throws IOException {
        assertRejected(file("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "'a'", "'b'", "overlap");
    }

    @Test
    void outOfRangeAndInvertedOffsets() throws IOException {
        assertRejected(file("range.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8),
            "'w'", "[8, 16]", "outside the data section");
        assertRejected(file("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8),
            "outside the data section");
        assertRejected(file("inv.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8),
            "outside the data section");
        assertRejected(file("huge.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999999]}}", 8),
            "invalid data_offsets");
        assertRejected(file("frac.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}}", 8),
            "invalid data_offsets");
        assertRejected(file("one.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8),
            "invalid data_offsets");
    }

    @Test
    void unknownAndUnsupportedDtypes() throws IOException {
        assertRejected(file("dt.safetensors", "{\"w\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
            "'w'", "unknown dtype 'F7'");
        assertRejected(file("i8.safetensors", "{\"w\":{\"dtype\":\"I8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8),
            "'w'", "I8", "does not support");
        assertRejected(file("nodt.safetensors", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'w'", "no dtype");
    }

    @Test
    void shapeAndByteCountMismatch() throws IOException {
        assertRejected(file("mis.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
            "'w'", "needs 12 bytes", "span 8");
        assertRejected(file("negdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
            "invalid dimension -2");
        assertRejected(file("fracdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8),
            "invalid dimension");
        assertRejected(file("bigdim.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[65536,65536],\"data_offsets\":[0,8]}}", 8),
            "more than 2147483647 elements");
        assertRejected(file("noshape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "no shape");
    }

    @Test
    void duplicateKeys() throws IOException {
        assertRejected(file("dup.safetensors", "{" + OK_ENTRY + "," + OK_ENTRY + "}", 8), "duplicate key", "'w'");
        assertRejected(file("dupmeta.safetensors", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}," + OK_ENTRY + "}", 8),
            "duplicate key", "'a'");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        assertRejected(file("arr.safetensors", "[1,2,3]", 0), "not a JSON object", "ARRAY");
        assertRejected(file("str.safetensors", "\"hello\"", 0), "not a JSON object");
        assertRejected(file("entry.safetensors", "{\"w\":[1,2]}", 0), "entry 'w' is not an object");
        assertRejected(file("meta.safetensors", "{\"__metadata__\":[1]}", 0), "__metadata__ is not an object");
        assertRejected(file("metaval.safetensors", "{\"__metadata__\":{\"k\":5}}", 0), "value of 'k' is not a string");
    }

    @Test
    void invalidJsonAndTrailingData() throws IOException {
        assertRejected(file("json.safetensors", "{\"w\":{\"dtype\":", 0), "not valid JSON");
        assertRejected(file("trail.safetensors", "{" + OK_ENTRY + "} {}", 8), "not valid JSON");
        assertRejected(file("spaces.safetensors", "        ", 0), "empty");
    }

    @Test
    void headerThatIsNotUtf8() throws IOException {
        byte[] h = ("{\"w\u00ff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}").getBytes(StandardCharsets.ISO_8859_1);
        Path f = rawFile(dir, "latin1.safetensors", h, new byte[8]);
        assertRejected(f, "not valid UTF-8");
    }

    @Test
    void fileShrunkAfterOpeningIsReportedOnLoad() throws IOException {
        Path f = file("shrink.safetensors", "{" + OK_ENTRY + "}", 8);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(Files.size(f) - 4);
            }
            IOException e = assertThrows(IOException.class, () -> sf.load("w"));
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void metadataOnlyFileIsValid() throws IOException {
        Path f = dir.resolve("meta-only.safetensors");
        SafetensorsWriter.write(f, Map.of(), Map.of("k", "v"));
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            assertTrue(sf.keys().isEmpty());
        }
    }
}
