package llava.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import llava.core.DType;
import llava.core.Device;
import llava.core.Half;
import llava.core.Storage;
import llava.core.Tensor;

/** Random tensors of every dtype, exact comparison, and hand-made safetensors files (shared with other modules' tests). */
public final class IoTestUtil {
    private IoTestUtil() {}

    /** A tensor of random raw values of dtype (halves: random finite values; BOOL: 0/1). */
    public static Tensor random(Random r, DType dt, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        Object a = Storage.newHostArray(dt, n);
        for (int i = 0; i < n; i++) {
            switch (dt) {
                case F64 -> ((double[]) a)[i] = r.nextGaussian() * 1e3;
                case F32 -> ((float[]) a)[i] = (float) (r.nextGaussian() * 10);
                case BF16 -> ((short[]) a)[i] = Half.floatToBf16((float) r.nextGaussian());
                case F16 -> ((short[]) a)[i] = Half.floatToF16((float) r.nextGaussian());
                case I64 -> ((long[]) a)[i] = r.nextLong();
                case I32 -> ((int[]) a)[i] = r.nextInt();
                case U8 -> ((byte[]) a)[i] = (byte) r.nextInt(256);
                case BOOL -> ((byte[]) a)[i] = (byte) r.nextInt(2);
            }
        }
        return Tensor.fromHostArray(a, dt, Device.CPU, shape);
    }

    /** Same dtype, same shape, bit-identical elements. */
    public static void assertSameTensor(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        Object e = expected.toHostArray(), a = actual.toHostArray();
        switch (expected.dtype()) {
            case F64 -> {
                double[] x = (double[]) e, y = (double[]) a;
                for (int i = 0; i < x.length; i++) {
                    assertEquals(Double.doubleToRawLongBits(x[i]), Double.doubleToRawLongBits(y[i]), what + " element " + i);
                }
            }
            case F32 -> {
                float[] x = (float[]) e, y = (float[]) a;
                for (int i = 0; i < x.length; i++) {
                    assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), what + " element " + i);
                }
            }
            case BF16, F16 -> assertArrayEquals((short[]) e, (short[]) a, what);
            case I64 -> assertArrayEquals((long[]) e, (long[]) a, what);
            case I32 -> assertArrayEquals((int[]) e, (int[]) a, what);
            case U8, BOOL -> assertArrayEquals((byte[]) e, (byte[]) a, what);
        }
    }

    /** A file: u64 length of header, header (UTF-8), then data. */
    public static Path rawFile(Path dir, String name, String header, byte[] data) throws IOException {
        return rawFile(dir, name, header.getBytes(StandardCharsets.UTF_8), data);
    }

    public static Path rawFile(Path dir, String name, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }
}
