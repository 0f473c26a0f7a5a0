package llava.cuda;

import java.util.ArrayDeque;
import llava.core.DType;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * Host-device copies of Java arrays through a ring of page-locked (pinned) buffers, queued on the
 * device's compute stream. Java arrays cannot be the source of an asynchronous DMA (the GC moves
 * them), so data passes through pinned memory in chunks:
 * <ul>
 * <li>to the device: each chunk is copied into the next free buffer and its transfer queued; the
 *     call returns without waiting (a buffer is reused only after its event has fired);
 * <li>to the host: up to {@link #BUFFERS} chunk transfers are in flight; each is waited for and
 *     copied into the array in order, so the call returns with the data in place.
 * </ul>
 * One transfer at a time per device (the methods are synchronized). The buffers are allocated on
 * first use and kept for the life of the process, like the device context that owns them.
 */
final class PinnedStaging {
    static final int BUFFERS = 4;
    static final long CHUNK = 4L << 20;

    private final CUstream_st stream;
    private final long[] host = new long[BUFFERS];
    private final CUevent_st[] done = new CUevent_st[BUFFERS];
    private final boolean[] pending = new boolean[BUFFERS];
    private int next;

    PinnedStaging(CUstream_st stream) {
        this.stream = stream;
    }

    private int acquire() {
        int i = next;
        next = (next + 1) % BUFFERS;
        if (host[i] == 0) {
            host[i] = Cuda.hostAlloc(CHUNK);
            done[i] = Cuda.eventCreate(false);
        }
        if (pending[i]) {
            Cuda.eventSynchronize(done[i], "staging copy");
            pending[i] = false;
        }
        return i;
    }

    /** Copies count elements of dtype from the array (at srcOffset) to device address dst. */
    synchronized void toDevice(Object src, int srcOffset, long dst, long count, DType dtype) {
        int es = dtype.byteSize();
        long perChunk = CHUNK / es;
        for (long done0 = 0; done0 < count; done0 += perChunk) {
            int n = (int) Math.min(perChunk, count - done0);
            int i = acquire();
            put(host[i], src, srcOffset + (int) done0, n, dtype);
            Cuda.memcpyAsync(dst + done0 * es, host[i], (long) n * es, Cuda.H2D, stream, "copy to device");
            Cuda.eventRecord(done[i], stream);
            pending[i] = true;
        }
    }

    private record InFlight(int buffer, int dstOffset, int count) {}

    /** Copies count elements of dtype from device address src into the array at dstOffset. */
    synchronized void toHost(long src, Object dst, int dstOffset, long count, DType dtype) {
        int es = dtype.byteSize();
        long perChunk = CHUNK / es;
        ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
        for (long off = 0; off < count; off += perChunk) {
            if (inFlight.size() == BUFFERS) drain(inFlight.poll(), dst, dtype);
            int n = (int) Math.min(perChunk, count - off);
            int i = acquire();
            Cuda.memcpyAsync(host[i], src + off * es, (long) n * es, Cuda.D2H, stream, "copy to host");
            Cuda.eventRecord(done[i], stream);
            pending[i] = true;
            inFlight.add(new InFlight(i, dstOffset + (int) off, n));
        }
        while (!inFlight.isEmpty()) drain(inFlight.poll(), dst, dtype);
    }

    private void drain(InFlight f, Object dst, DType dtype) {
        Cuda.eventSynchronize(done[f.buffer()], "copy to host");
        pending[f.buffer()] = false;
        get(host[f.buffer()], dst, f.dstOffset(), f.count(), dtype);
    }

    private static void put(long address, Object src, int off, int n, DType dt) {
        Cuda.Raw p = new Cuda.Raw(address);
        switch (dt) {
            case F64 -> new DoublePointer(p).put((double[]) src, off, n);
            case F32 -> new FloatPointer(p).put((float[]) src, off, n);
            case BF16, F16 -> new ShortPointer(p).put((short[]) src, off, n);
            case I64 -> new LongPointer(p).put((long[]) src, off, n);
            case I32 -> new IntPointer(p).put((int[]) src, off, n);
            case U8, BOOL -> new BytePointer(p).put((byte[]) src, off, n);
        }
    }

    private static void get(long address, Object dst, int off, int n, DType dt) {
        Cuda.Raw p = new Cuda.Raw(address);
        switch (dt) {
            case F64 -> new DoublePointer(p).get((double[]) dst, off, n);
            case F32 -> new FloatPointer(p).get((float[]) dst, off, n);
            case BF16, F16 -> new ShortPointer(p).get((short[]) dst, off, n);
            case I64 -> new LongPointer(p).get((long[]) dst, off, n);
            case I32 -> new IntPointer(p).get((int[]) dst, off, n);
            case U8, BOOL -> new BytePointer(p).get((byte[]) dst, off, n);
        }
    }
}
