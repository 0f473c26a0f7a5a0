package llava.core.io;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static llava.core.io.IoTestUtil.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReadTest {
    @TempDir Path dir;

    /**
     * Loading with a dtype conversion gives exactly what converting the loaded tensor gives (the
     * engine's cast), for every pair of dtypes, through the chunked path with windows and chunks
     * small enough that every tensor crosses several of each.
     */
    @Test
    void conversionOnLoadEqualsCastForEveryDtypePairAcrossWindowsAndChunks() throws IOException {
        Random r = new Random(7);
        Map<String, Tensor> ts = new LinkedHashMap<>();
        for (DType dt : DType.values()) ts.put(dt.name(), random(r, dt, 7, 11));
        Path f = dir.resolve("conv.safetensors");
        SafetensorsWriter.write(f, ts, null);
        try (SafetensorsFile sf = SafetensorsFile.open(f);
             FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            for (DType from : DType.values()) {
                SafetensorsFile.Entry e = sf.entry(from.name());
                for (DType to : DType.values()) {
                    try (Tensor direct = sf.load(from.name(), to, Device.CPU);
                         Tensor small = TensorBytes.read(ch, sf.dataStart() + e.begin(), from, ByteOrder.LITTLE_ENDIAN, e.shape(),
                             to, Device.CPU, f.toString(), 3L * from.byteSize() * 5 + 1, 4);
                         Tensor expected = ts.get(from.name()).to(to)) {
                        assertSameTensor(expected, direct, from + " -> " + to);
                        assertSameTensor(expected, small, from + " -> " + to + " (small windows)");
                    }
                }
            }
        }
        ts.values().forEach(Tensor::close);
    }

    /**
     * Every half bit pattern widened to F32 is exact (F16 checkpoints are computed as F32 in the
     * references); four copies, so the decoding is split over threads.
     */
    @Test
    void halfToFloatIsExact() throws IOException {
        short[] bits = new short[4 * 65536];
        for (int i = 0; i < bits.length; i++) bits[i] = (short) i;
        try (Tensor h = Tensor.fromHostArray(bits, DType.F16, Device.CPU, bits.length);
             Tensor b = Tensor.fromHostArray(bits, DType.BF16, Device.CPU, bits.length)) {
            Path f = dir.resolve("h.safetensors");
            SafetensorsWriter.write(f, Map.of("h", h, "b", b), null);
            try (SafetensorsFile sf = SafetensorsFile.open(f);
                 Tensor hf = sf.load("h", DType.F32, Device.CPU); Tensor bf = sf.load("b", DType.F32, Device.CPU)) {
                float[] x = hf.toFloatArray(), y = bf.toFloatArray();
                for (int i = 0; i < bits.length; i++) {
                    float ex = llava.core.Half.f16ToFloat((short) i), ey = llava.core.Half.bf16ToFloat((short) i);
                    assertEquals(Float.floatToRawIntBits(ex), Float.floatToRawIntBits(x[i]), "f16 bits " + i);
                    assertEquals(Float.floatToRawIntBits(ey), Float.floatToRawIntBits(y[i]), "bf16 bits " + i);
                }
            }
        }
    }

    /**
     * A file larger than 2 GiB (sparse: a 2 GiB U8 tensor that is never loaded, then a small
     * tensor beyond the 2 GiB mark) opens, and the tensor past 2 GiB loads correctly.
     */
    @Test
    void tensorBeyondTwoGibibytesLoads() throws IOException {
        long pad = Integer.MAX_VALUE; // the largest tensor the engine allows, in U8
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + pad + "],\"data_offsets\":[0," + pad + "]},"
            + "\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + pad + "," + (pad + 16) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("big.safetensors");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ByteBuffer b = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h);
            b.flip();
            ch.write(b, 0);
            ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(3.25f).putFloat(1e-3f);
            data.flip();
            ch.write(data, 8 + h.length + pad);
        }
        try (SafetensorsFile sf = SafetensorsFile.open(f); Tensor x = sf.load("x"); Tensor xb = sf.load("x", DType.BF16, Device.CPU)) {
            assertEquals(8 + h.length + pad + 16, java.nio.file.Files.size(f));
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 1e-3f}, x.toFloatArray());
            assertArrayEquals(new int[] {2, 2}, x.shape());
            assertEquals(Integer.MAX_VALUE, sf.nbytes("pad"));
            assertEquals(DType.BF16, xb.dtype());
        } finally {
            java.nio.file.Files.deleteIfExists(f);
        }
    }

    @Test
    void metadataAndEntriesAreExposedWithoutLoading() throws IOException {
        Random r = new Random(9);
        try (Tensor a = random(r, DType.F16, 2, 3); Tensor b = random(r, DType.I64, 4)) {
            Path f = dir.resolve("m.safetensors");
            SafetensorsWriter.write(f, Map.of("a", a, "b", b), Map.of("format", "pt"));
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                assertEquals(DType.F16, sf.dtype("a"));
                assertArrayEquals(new int[] {2, 3}, sf.shape("a"));
                assertEquals(12, sf.nbytes("a"));
                assertEquals(32, sf.nbytes("b"));
                assertEquals("pt", sf.metadata().get("format"));
                int[] s = sf.shape("a");
                s[0] = 99; // callers get copies
                assertArrayEquals(new int[] {2, 3}, sf.shape("a"));
            }
        }
    }
}
