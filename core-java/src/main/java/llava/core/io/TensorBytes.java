package llava.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import llava.core.DType;
import llava.core.Device;
import llava.core.Half;
import llava.core.Shapes;
import llava.core.Storage;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.cpu.CpuStorage;
import llava.core.cpu.Parallel;

/**
 * Raw tensor data in files: elements of one dtype stored contiguously, row-major, in a given
 * byte order (the layout of safetensors data and of PyTorch storages).
 *
 * <p>Reading maps the region a window at a time (so regions and files above 2 GiB work) and
 * converts a chunk at a time straight into the destination tensor, so loading an F16 tensor as
 * F32 never holds a second full-size copy. Writing streams a chunk at a time too.
 */
public final class TensorBytes {
    private TensorBytes() {}

    /** Largest region mapped at once (a MappedByteBuffer holds at most 2^31-1 bytes). */
    static final long MAP_WINDOW = 1L << 30;
    /** Elements converted per step (8 MiB of F64). */
    static final int CHUNK_ELEMENTS = 1 << 20;

    /**
     * Reads the tensor of {@code shape} whose elements of type {@code stored} lie contiguously at
     * byte {@code position} of {@code channel}, converted to {@code dtype} on {@code device}.
     * {@code source} names the file in error messages.
     */
    public static Tensor read(FileChannel channel, long position, DType stored, ByteOrder order, int[] shape,
                              DType dtype, Device device, String source) throws IOException {
        return read(channel, position, stored, order, shape, dtype, device, source, MAP_WINDOW, CHUNK_ELEMENTS);
    }

    /** {@link #read} with explicit window and chunk sizes (tests use small ones to cross boundaries). */
    static Tensor read(FileChannel channel, long position, DType stored, ByteOrder order, int[] shape, DType dtype,
                       Device device, String source, long window, int chunk) throws IOException {
        int n = Shapes.numel(shape);
        long nbytes = (long) n * stored.byteSize();
        long size = channel.size();
        if (position < 0 || position > size || nbytes > size - position) {
            throw new IOException(source + ": tensor data [" + position + ", " + (position + nbytes)
                + ") lies beyond the end of the file (" + size + " bytes); the file is truncated or was changed");
        }
        Tensor out = Tensor.empty(dtype, device, shape);
        boolean ok = false;
        try (GradMode ng = GradMode.noGrad()) {
            if (n > 0) fill(channel, position, stored, order, n, out, window, chunk);
            ok = true;
            return out;
        } finally {
            if (!ok) out.close();
        }
    }

    private static void fill(FileChannel ch, long position, DType stored, ByteOrder order, int n, Tensor out,
                             long window, int chunk) throws IOException {
        DType dtype = out.dtype();
        if (out.device().isCpu() && (dtype == stored || (dtype == DType.F32 && stored.isHalf()))) {
            // decode straight into the destination array
            Object dst = ((CpuStorage) out.storage()).array();
            forEachChunk(ch, position, n, stored.byteSize(), order, window, chunk,
                (buf, off, count) -> decode(buf, stored, dtype, dst, off, count));
            return;
        }
        // other conversions and other devices: stage a chunk in the stored dtype on the host and
        // let the backend's copy convert it (one definition of every cast)
        try (Tensor stage = Tensor.empty(stored, Device.CPU, Math.min(n, chunk)); Tensor flat = out.view(n)) {
            Object staged = ((CpuStorage) stage.storage()).array();
            forEachChunk(ch, position, n, stored.byteSize(), order, window, chunk, (buf, off, count) -> {
                decode(buf, stored, stored, staged, 0, count);
                try (Tensor src = stage.narrow(0, 0, count); Tensor dst = flat.narrow(0, off, count)) {
                    dst.copy_(src);
                }
            });
        }
    }

    private interface ChunkConsumer {
        void accept(ByteBuffer buf, int elementOffset, int count) throws IOException;
    }

    /** Maps [position, position + n*es) window by window and hands it out in chunks of elements. */
    private static void forEachChunk(FileChannel ch, long position, int n, int es, ByteOrder order, long window,
                                     int chunk, ChunkConsumer consumer) throws IOException {
        long perWindow = Math.max(1, Math.min(window, Integer.MAX_VALUE) / es);
        for (long start = 0; start < n; start += perWindow) {
            int count = (int) Math.min(perWindow, n - start);
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, position + start * es, (long) count * es);
            for (int s = 0; s < count; s += chunk) {
                int k = Math.min(chunk, count - s);
                ByteBuffer slice = mapped.slice(s * es, k * es).order(order);
                consumer.accept(slice, (int) (start + s), k);
            }
        }
    }

    /** Decodes count elements of stored type from buf into dst[off..] of the target's host type. */
    private static void decode(ByteBuffer buf, DType stored, DType target, Object dst, int off, int count) {
        if (stored != target) { // F16/BF16 -> F32, the common widening of half checkpoints
            ShortBuffer sb = buf.asShortBuffer(); // absolute gets only: safe to share between threads
            float[] d = (float[]) dst;
            boolean bf16 = stored == DType.BF16;
            Parallel.forRange(count, 1 << 16, (s, e) -> {
                if (bf16) {
                    for (int i = s; i < e; i++) d[off + i] = Half.bf16ToFloat(sb.get(i));
                } else {
                    for (int i = s; i < e; i++) d[off + i] = Half.f16ToFloat(sb.get(i));
                }
            });
            return;
        }
        switch (stored) {
            case F64 -> buf.asDoubleBuffer().get((double[]) dst, off, count);
            case F32 -> buf.asFloatBuffer().get((float[]) dst, off, count);
            case BF16, F16 -> buf.asShortBuffer().get((short[]) dst, off, count);
            case I64 -> buf.asLongBuffer().get((long[]) dst, off, count);
            case I32 -> buf.asIntBuffer().get((int[]) dst, off, count);
            case U8 -> buf.get((byte[]) dst, off, count);
            case BOOL -> {
                byte[] d = (byte[]) dst;
                buf.get(d, off, count);
                for (int i = off; i < off + count; i++) d[i] = (byte) (d[i] != 0 ? 1 : 0); // any nonzero byte is true
            }
        }
    }

    /** Writes t's elements (row-major, its own dtype) to out in the given byte order, a chunk at a time. */
    public static void write(WritableByteChannel out, Tensor t, ByteOrder order) throws IOException {
        write(out, t, order, CHUNK_ELEMENTS);
    }

    static void write(WritableByteChannel out, Tensor t, ByteOrder order, int chunk) throws IOException {
        try (GradMode ng = GradMode.noGrad(); Tensor c = t.contiguous()) {
            int n = c.numel();
            if (n == 0) return;
            DType dt = c.dtype();
            Storage storage = c.storage();
            int k0 = Math.min(n, chunk);
            Object host = Storage.newHostArray(dt, k0);
            ByteBuffer bb = ByteBuffer.allocate(k0 * dt.byteSize()).order(order);
            for (int pos = 0; pos < n; pos += chunk) {
                int k = Math.min(chunk, n - pos);
                storage.copyToHost((long) c.offset() + pos, k, host, 0);
                bb.clear();
                encode(host, dt, k, bb);
                bb.flip();
                while (bb.hasRemaining()) out.write(bb);
            }
        }
    }

    private static void encode(Object host, DType dt, int k, ByteBuffer bb) {
        int bytes = k * dt.byteSize();
        switch (dt) {
            case F64 -> bb.asDoubleBuffer().put((double[]) host, 0, k);
            case F32 -> bb.asFloatBuffer().put((float[]) host, 0, k);
            case BF16, F16 -> bb.asShortBuffer().put((short[]) host, 0, k);
            case I64 -> bb.asLongBuffer().put((long[]) host, 0, k);
            case I32 -> bb.asIntBuffer().put((int[]) host, 0, k);
            case U8, BOOL -> bb.put((byte[]) host, 0, k);
        }
        bb.position(bytes); // the typed views above do not move bb's own position
    }
}
