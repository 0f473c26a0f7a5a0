package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import llava.core.Backend.MemoryStats;
import org.junit.jupiter.api.Test;

/** The caching allocator's bookkeeping, on a fake device (no GPU needed). */
class CachingAllocatorTest {
    /** Fake device memory with a capacity; records every malloc and free. */
    static final class FakeMemory implements CachingAllocator.DeviceMemory {
        final long capacity;
        long used, next = 1L << 32;
        int mallocs, frees, syncs;
        final Map<Long, Long> live = new HashMap<>();

        FakeMemory(long capacity) { this.capacity = capacity; }

        @Override public long malloc(long bytes) {
            if (used + bytes > capacity) return 0;
            long a = next;
            next += bytes + (1 << 20);
            used += bytes;
            live.put(a, bytes);
            mallocs++;
            return a;
        }

        @Override public void free(long address) {
            Long b = live.remove(address);
            if (b == null) throw new IllegalStateException("freeing unknown segment");
            used -= b;
            frees++;
        }

        @Override public void synchronize() { syncs++; }

        @Override public long[] info() { return new long[] {capacity - used, capacity}; }
    }

    @Test
    void smallRequestsShareASegmentAndFreedBlocksAreReused() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        CachingAllocator.Block b1 = a.allocate(100), b2 = a.allocate(1000);
        assertEquals(1, mem.mallocs, "both come from one 2 MiB segment");
        assertEquals(CachingAllocator.SMALL_SEGMENT, a.stats().reserved());
        assertEquals(512 + 1024, a.stats().allocated());
        assertEquals(b1.address() + 512, b2.address(), "blocks are cut from the segment in order");
        a.free(b1);
        CachingAllocator.Block b3 = a.allocate(400);
        assertEquals(b1.address(), b3.address(), "the freed block is handed out again");
        assertEquals(1, mem.mallocs);
        a.free(b2);
        a.free(b3);
        assertEquals(0, a.stats().allocated());
        assertEquals(512 + 1024, a.stats().peakAllocated());
    }

    @Test
    void freedNeighboursMergeSoALargerRequestFits() {
        FakeMemory mem = new FakeMemory(1L << 30);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        List<CachingAllocator.Block> blocks = new ArrayList<>();
        for (int i = 0; i < 4; i++) blocks.add(a.allocate(256 << 10)); // 4 x 256 KiB in one 2 MiB segment
        assertEquals(1, mem.mallocs);
        a.free(blocks.get(1));
        a.free(blocks.get(2));
        CachingAllocator.Block big = a.allocate(512 << 10);
        assertEquals(blocks.get(1).address(), big.address(), "blocks 1 and 2 merged into one 512 KiB block");
        assertEquals(1, mem.mallocs);
    }

    @Test
    void largeRequestsUseTheirOwnPool() {
        FakeMemory mem = new FakeMemory(1L << 34);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        CachingAllocator.Block small = a.allocate(1000);
        CachingAllocator.Block mid = a.allocate(3 << 20);
        assertEquals(2, mem.mallocs, "a large request never comes from a small segment");
        assertEquals(CachingAllocator.SMALL_SEGMENT + CachingAllocator.LARGE_SEGMENT, a.stats().reserved());
        CachingAllocator.Block mid2 = a.allocate(5 << 20);
        assertEquals(2, mem.mallocs, "the rest of the 20 MiB segment serves the next large request");
        CachingAllocator.Block huge = a.allocate(100L << 20);
        assertEquals(3, mem.mallocs);
        assertEquals(100L << 20, huge.size(), "a huge request gets a segment rounded to 2 MiB");
        for (CachingAllocator.Block b : new CachingAllocator.Block[] {small, mid, mid2, huge}) a.free(b);
        assertEquals(0, a.stats().allocated());
    }

    @Test
    void releaseCachedReturnsOnlyWhollyFreeSegments() {
        FakeMemory mem = new FakeMemory(1L << 34);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        CachingAllocator.Block keep = a.allocate(1000);
        CachingAllocator.Block gone = a.allocate(30L << 20);
        a.free(gone);
        a.releaseCached();
        assertEquals(1, mem.frees, "the free large segment went back, the used small one stayed");
        assertEquals(CachingAllocator.SMALL_SEGMENT, a.stats().reserved());
        assertTrue(mem.syncs > 0, "the device is synchronised before memory goes back to the driver");
        a.free(keep);
        a.releaseCached();
        assertEquals(0, a.stats().reserved());
        assertTrue(mem.live.isEmpty());
    }

    @Test
    void outOfMemoryEmptiesTheCacheRetriesOnceThenThrowsWithTheNumbers() {
        FakeMemory mem = new FakeMemory(64L << 20);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        CachingAllocator.Block b = a.allocate(40L << 20);
        a.free(b); // cached, not returned
        CachingAllocator.Block c = a.allocate(50L << 20); // needs the cached 40 MiB back first
        assertEquals(1, mem.frees, "the cached segment was released to make room");
        assertNotEquals(0, c.address());
        long pib = 1L << 50;
        CudaOutOfMemoryError e = assertThrows(CudaOutOfMemoryError.class, () -> a.allocate(pib));
        assertEquals(pib, e.requestedBytes());
        assertTrue(e.getMessage().contains("requested " + pib + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("1.00 PiB"), e.getMessage());
        assertTrue(e.getMessage().contains("allocated 50.00 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("fake:0"), e.getMessage());
        assertThrows(CudaOutOfMemoryError.class, () -> a.allocate(Long.MAX_VALUE));
        assertEquals(50L << 20, a.stats().allocated(), "a failed request changes nothing");
    }

    @Test
    void repeatedStepsKeepStatsFlat() {
        FakeMemory mem = new FakeMemory(1L << 34);
        CachingAllocator a = new CachingAllocator("fake:0", mem);
        long[] sizes = {4096, 3 << 20, 700, 12 << 20, 1 << 20, 77, 64L << 20};
        MemoryStats after1 = null;
        for (int step = 0; step < 10; step++) {
            List<CachingAllocator.Block> live = new ArrayList<>();
            for (long s : sizes) live.add(a.allocate(s));
            for (int i = live.size() - 1; i >= 0; i -= 2) a.free(live.remove(i));
            for (CachingAllocator.Block b : live) a.free(b);
            MemoryStats st = a.stats();
            if (step == 0) after1 = st;
            assertEquals(0, st.allocated());
            assertEquals(after1.reserved(), st.reserved(), "step " + step + " needed no new segment");
        }
        assertEquals(after1.peakAllocated(), a.stats().peakAllocated());
    }

    @Test
    void doubleFreeIsAnError() {
        CachingAllocator a = new CachingAllocator("fake:0", new FakeMemory(1L << 30));
        CachingAllocator.Block b = a.allocate(10);
        a.free(b);
        assertThrows(IllegalStateException.class, () -> a.free(b));
        assertThrows(IllegalArgumentException.class, () -> a.allocate(-1));
    }
}
