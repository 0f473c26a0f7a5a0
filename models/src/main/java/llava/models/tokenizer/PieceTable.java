package llava.models.tokenizer;

import java.util.Arrays;

/**
 * Piece text -> id, looked up by a region of a string without creating a substring: BPE asks
 * whether every adjacent pair of symbols is a piece, and most of those lookups fail.
 */
final class PieceTable {
    private final String[] keys;
    /** Full hash of each slot's key: most probes are rejected without touching the String. */
    private final int[] hashes;
    private final int[] ids;
    private final int mask;

    PieceTable(String[] pieces, boolean[] include) {
        int n = 0;
        for (boolean b : include) if (b) n++;
        int cap = Integer.highestOneBit(Math.max(16, n * 2 - 1)) << 1;
        keys = new String[cap];
        hashes = new int[cap];
        ids = new int[cap];
        Arrays.fill(ids, -1);
        mask = cap - 1;
        for (int id = 0; id < pieces.length; id++) {
            if (!include[id]) continue;
            String p = pieces[id];
            int h = hash(p, 0, p.length());
            int i = h & mask;
            while (keys[i] != null && !keys[i].equals(p)) i = (i + 1) & mask;
            if (keys[i] == null) {
                keys[i] = p;
                hashes[i] = h;
                ids[i] = id;
            }
        }
    }

    /** Id of the piece equal to {@code s[from, to)}, or -1. */
    int get(String s, int from, int to) {
        int len = to - from;
        int h = hash(s, from, to);
        int i = h & mask;
        while (ids[i] >= 0) {
            if (hashes[i] == h) {
                String k = keys[i];
                if (k.length() == len && k.regionMatches(0, s, from, len)) return ids[i];
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    private static int hash(String s, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) h = 31 * h + s.charAt(i);
        // murmur3 finalizer: the polynomial hash of short strings is poor in its low bits
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >>> 16);
    }
}
