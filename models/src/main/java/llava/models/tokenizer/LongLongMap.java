package llava.models.tokenizer;

import java.util.Arrays;

/** Open-addressing map from non-negative long keys to long values (BPE merge table, no boxing). */
final class LongLongMap {
    static final long MISSING = Long.MIN_VALUE;
    private long[] keys;
    private long[] values;
    private int size;
    private int mask;

    LongLongMap(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        values = new long[cap];
        Arrays.fill(keys, -1L);
        mask = cap - 1;
    }

    /** Stores value for key, replacing any earlier value. */
    void put(long key, long value) {
        if (key < 0) throw new IllegalArgumentException("negative key " + key);
        if ((size + 1) * 2 > keys.length) grow();
        int i = slot(key);
        while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
        if (keys[i] == -1L) size++;
        keys[i] = key;
        values[i] = value;
    }

    long get(long key) {
        int i = slot(key);
        while (keys[i] != -1L) {
            if (keys[i] == key) return values[i];
            i = (i + 1) & mask;
        }
        return MISSING;
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    private void grow() {
        long[] oldKeys = keys, oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new long[oldKeys.length * 2];
        Arrays.fill(keys, -1L);
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) if (oldKeys[i] != -1L) put(oldKeys[i], oldValues[i]);
    }
}
