package llava.cuda;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import llava.core.Backend.MemoryStats;

/**
 * Caching allocator for one device, in the manner of PyTorch's: device memory is obtained in
 * segments (cudaMalloc is slow and synchronises), cut into blocks, and freed blocks are kept for
 * reuse instead of being returned to the driver.
 *
 * <ul>
 * <li>Sizes are rounded up to {@value #ALIGN} bytes. Requests up to {@value #SMALL_LIMIT} bytes
 *     come from a small pool of {@value #SMALL_SEGMENT}-byte segments; larger ones from a large pool
 *     (segments of {@value #LARGE_SEGMENT} bytes for requests under half that, else the request
 *     rounded up to {@value #LARGE_ROUND} bytes), so small tensors never fragment big segments.
 * <li>The best-fitting free block (smallest, then lowest address) is taken and split when the
 *     rest is worth keeping; freed blocks merge with free neighbours of the same segment.
 * <li>All work runs on the device's one compute stream, so a block freed here may be handed out
 *     again at once: the next use is queued after every earlier use on that stream.
 * <li>When the device is out of memory, the cache is emptied (whole free segments go back to the
 *     driver) and the request retried once before {@link CudaOutOfMemoryError} is thrown.
 * </ul>
 */
public final class CachingAllocator {
    public static final long ALIGN = 512;
    public static final long SMALL_LIMIT = 1L << 20;
    public static final long SMALL_SEGMENT = 2L << 20;
    public static final long LARGE_SEGMENT = 20L << 20;
    public static final long LARGE_ROUND = 2L << 20;

    /** Raw device memory: the driver, or a fake in tests. */
    public interface DeviceMemory {
        /** Allocates bytes; returns 0 when out of memory (other failures throw). */
        long malloc(long bytes);

        void free(long address);

        /** Waits for all queued work (before memory goes back to the driver). */
        void synchronize();

        /** Free and total bytes on the device, for error messages (may return null). */
        long[] info();
    }

    /** A piece of a segment: allocated to one storage, or free. */
    public static final class Block {
        private final Segment segment;
        private final long address;
        private long size;
        private boolean free = true;
        private Block prev, next;

        private Block(Segment segment, long address, long size) {
            this.segment = segment;
            this.address = address;
            this.size = size;
        }

        public long address() { return address; }
        public long size() { return size; }
    }

    private static final class Segment {
        final long address, size;
        final boolean small;

        Segment(long address, long size, boolean small) {
            this.address = address;
            this.size = size;
            this.small = small;
        }
    }

    private static final Comparator<Block> BY_SIZE_THEN_ADDRESS =
        Comparator.<Block>comparingLong(b -> b.size).thenComparingLong(b -> b.address);

    private final String deviceName;
    private final DeviceMemory memory;
    private final TreeSet<Block> smallFree = new TreeSet<>(BY_SIZE_THEN_ADDRESS);
    private final TreeSet<Block> largeFree = new TreeSet<>(BY_SIZE_THEN_ADDRESS);
    private final List<Segment> segments = new ArrayList<>();
    private long allocated, reserved, peak;

    public CachingAllocator(String deviceName, DeviceMemory memory) {
        this.deviceName = deviceName;
        this.memory = memory;
    }

    /** The block size a request of {@code bytes} occupies. */
    public static long roundSize(long bytes) {
        long b = Math.max(bytes, 1);
        return (b + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** Size of a new segment for a (rounded) request. */
    static long segmentSize(long size) {
        if (size <= SMALL_LIMIT) return SMALL_SEGMENT;
        if (size < LARGE_SEGMENT / 2) return LARGE_SEGMENT;
        return (size + LARGE_ROUND - 1) / LARGE_ROUND * LARGE_ROUND;
    }

    public synchronized Block allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("allocate: negative size " + bytes);
        if (bytes > Long.MAX_VALUE / 2) throw outOfMemory(bytes);
        long size = roundSize(bytes);
        boolean small = size <= SMALL_LIMIT;
        TreeSet<Block> pool = small ? smallFree : largeFree;
        Block probe = new Block(null, Long.MIN_VALUE, size);
        Block b = pool.ceiling(probe);
        if (b != null) {
            pool.remove(b);
        } else {
            long segSize = segmentSize(size);
            long address = memory.malloc(segSize);
            if (address == 0) {
                releaseCached();
                address = memory.malloc(segSize);
                if (address == 0) throw outOfMemory(bytes);
            }
            Segment seg = new Segment(address, segSize, small);
            segments.add(seg);
            reserved += segSize;
            b = new Block(seg, address, segSize);
        }
        long rest = b.size - size;
        if (small ? rest >= ALIGN : rest > SMALL_LIMIT) {
            Block r = new Block(b.segment, b.address + size, rest);
            r.prev = b;
            r.next = b.next;
            if (b.next != null) b.next.prev = r;
            b.next = r;
            b.size = size;
            pool.add(r);
        }
        b.free = false;
        allocated += b.size;
        peak = Math.max(peak, allocated);
        return b;
    }

    public synchronized void free(Block b) {
        if (b.free) throw new IllegalStateException("block at 0x" + Long.toHexString(b.address) + " freed twice");
        b.free = true;
        allocated -= b.size;
        TreeSet<Block> pool = b.segment.small ? smallFree : largeFree;
        Block merged = b;
        if (b.prev != null && b.prev.free) {
            Block p = b.prev;
            pool.remove(p);
            p.size += b.size;
            p.next = b.next;
            if (b.next != null) b.next.prev = p;
            merged = p;
        }
        Block n = merged.next;
        if (n != null && n.free) {
            pool.remove(n);
            merged.size += n.size;
            merged.next = n.next;
            if (n.next != null) n.next.prev = merged;
        }
        pool.add(merged);
    }

    /** Returns every wholly free segment to the driver (after the device has finished its work). */
    public synchronized void releaseCached() {
        boolean synced = false;
        for (int i = segments.size() - 1; i >= 0; i--) {
            Segment s = segments.get(i);
            TreeSet<Block> pool = s.small ? smallFree : largeFree;
            Block whole = null;
            for (Block b : pool) { // few free blocks span a whole segment; a linear scan is fine here
                if (b.segment == s && b.prev == null && b.next == null) {
                    whole = b;
                    break;
                }
            }
            if (whole == null) continue;
            if (!synced) {
                memory.synchronize();
                synced = true;
            }
            pool.remove(whole);
            memory.free(s.address);
            reserved -= s.size;
            segments.remove(i);
        }
    }

    public synchronized MemoryStats stats() { return new MemoryStats(allocated, reserved, peak); }

    private CudaOutOfMemoryError outOfMemory(long bytes) {
        long[] info = null;
        try {
            info = memory.info();
        } catch (RuntimeException ignored) {
            // the message is still useful without the driver's numbers
        }
        String dev = info == null ? "" : "; device free " + human(info[0]) + " of " + human(info[1]);
        return new CudaOutOfMemoryError("CUDA out of memory on " + deviceName + ": requested " + bytes + " bytes ("
            + human(bytes) + "); allocator: allocated " + human(allocated) + ", reserved " + human(reserved)
            + ", peak " + human(peak) + dev + " (cache already emptied and retried)", bytes);
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = 0;
        while (Math.abs(v) >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
