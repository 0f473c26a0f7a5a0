package llava.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-pair encoding over a fixed vocabulary, as SentencePiece 0.1.97 does it for BPE models:
 * the normalized text is split into characters, then the adjacent pair whose merge has the best
 * priority is merged, repeatedly, until no pair merges; pieces that are not in the vocabulary fall
 * back to the {@code <0xNN>} pieces of their UTF-8 bytes. The priority of a pair is either the
 * score of the merged piece (tokenizer.model) or minus the rank of the merge rule (tokenizer.json);
 * ties go to the leftmost pair. Pairs live in a heap over a linked list of symbols, so encoding
 * is O(n log n) in the text length.
 */
final class BpeModel {
    static final char SPACE_SYMBOL = '\u2581';

    final String[] pieces;
    final PieceType[] types;
    /** Byte value of each BYTE piece, -1 for other pieces. */
    final int[] byteValue;
    /** Id of the piece of each byte value, -1 where missing. */
    final int[] byteIds;
    final int unkId;
    final boolean byteFallback;
    final boolean addDummyPrefix;
    final boolean removeExtraWhitespaces;
    final boolean escapeWhitespaces;
    final String unkSurface;
    /** Pieces BPE may form (NORMAL, USER_DEFINED, UNUSED): SentencePiece's pieces_ map. */
    private final Map<String, Integer> mergeable;
    /** The same pieces, looked up by string region in the merge loop. */
    private final PieceTable mergeableTable;
    /** The other pieces (CONTROL, UNKNOWN, BYTE): SentencePiece's reserved_id_map_. */
    private final Map<String, Integer> reserved;
    /** Score of each piece (score mode), or null. */
    private final float[] scores;
    /** (left id, right id) -> rank << 32 | merged id (rank mode), or null. */
    private final LongLongMap merges;
    /** USER_DEFINED pieces, longest first: they are matched as whole symbols and never merged. */
    private final String[] userDefined;

    private BpeModel(String source, String[] pieces, PieceType[] types, float[] scores, LongLongMap merges,
                     boolean byteFallback, boolean addDummyPrefix, boolean removeExtraWhitespaces,
                     boolean escapeWhitespaces, String unkSurface) throws TokenizerFormatException {
        this.pieces = pieces;
        this.types = types;
        this.scores = scores;
        this.merges = merges;
        this.byteFallback = byteFallback;
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
        this.unkSurface = unkSurface;
        this.mergeable = new HashMap<>(pieces.length * 2);
        this.reserved = new HashMap<>();
        this.byteValue = new int[pieces.length];
        this.byteIds = new int[256];
        Arrays.fill(byteIds, -1);
        int unk = -1;
        List<String> user = new ArrayList<>();
        for (int id = 0; id < pieces.length; id++) {
            String p = pieces[id];
            PieceType t = types[id];
            byteValue[id] = -1;
            if (p.isEmpty()) throw new TokenizerFormatException(source + ": piece " + id + " is empty");
            Map<String, Integer> target = t.mergeable() ? mergeable : reserved;
            Integer previous = target.putIfAbsent(p, id);
            if (previous != null) {
                throw new TokenizerFormatException(source + ": piece '" + p + "' appears twice (ids " + previous + " and " + id + ")");
            }
            if (t == PieceType.UNKNOWN) {
                if (unk >= 0) throw new TokenizerFormatException(source + ": two unknown pieces (ids " + unk + " and " + id + ")");
                unk = id;
            } else if (t == PieceType.BYTE) {
                int b = parseBytePiece(p);
                if (b < 0) throw new TokenizerFormatException(source + ": byte piece " + id + " is '" + p + "', expected <0xNN>");
                byteValue[id] = b;
                byteIds[b] = id;
            } else if (t == PieceType.USER_DEFINED) {
                user.add(p);
            }
        }
        if (unk < 0) throw new TokenizerFormatException(source + ": the vocabulary has no unknown piece");
        this.unkId = unk;
        if (byteFallback) {
            for (int b = 0; b < 256; b++) {
                if (byteIds[b] < 0) {
                    throw new TokenizerFormatException(source + ": byte fallback is on but piece <0x"
                            + String.format("%02X", b) + "> is missing");
                }
            }
        }
        user.sort((a, b) -> b.length() - a.length());
        this.userDefined = user.toArray(new String[0]);
        boolean[] isMergeable = new boolean[pieces.length];
        for (int id = 0; id < pieces.length; id++) isMergeable[id] = types[id].mergeable();
        this.mergeableTable = new PieceTable(pieces, isMergeable);
    }

    /** A model scored like SentencePiece: pairs merge by the score of the merged piece. */
    static BpeModel scored(SentencePieceModel m) throws TokenizerFormatException {
        return new BpeModel(m.source, m.pieces, m.types, m.scores, null, m.byteFallback, m.addDummyPrefix,
                m.removeExtraWhitespaces, m.escapeWhitespaces, m.unkSurface);
    }

    /**
     * A model ranked like Hugging Face tokenizers' BPE: {@code mergeRules} lists (left, right)
     * piece pairs, earliest first; the merged piece must be in the vocabulary.
     */
    static BpeModel ranked(String source, String[] pieces, PieceType[] types, List<String[]> mergeRules, boolean byteFallback,
                           boolean addDummyPrefix, boolean escapeWhitespaces) throws TokenizerFormatException {
        Map<String, Integer> ids = new HashMap<>(pieces.length * 2);
        for (int i = 0; i < pieces.length; i++) ids.putIfAbsent(pieces[i], i);
        LongLongMap merges = new LongLongMap(mergeRules.size());
        for (int rank = 0; rank < mergeRules.size(); rank++) {
            String[] rule = mergeRules.get(rank);
            Integer a = ids.get(rule[0]), b = ids.get(rule[1]), merged = ids.get(rule[0] + rule[1]);
            if (a == null || b == null || merged == null) {
                String missing = a == null ? rule[0] : b == null ? rule[1] : rule[0] + rule[1];
                throw new TokenizerFormatException(source + ": merge " + rank + " ('" + rule[0] + "' '" + rule[1]
                        + "') uses '" + missing + "', which is not in the vocabulary");
            }
            // Like tokenizers' HashMap collect: a repeated rule keeps its last rank.
            merges.put(pairKey(a, b), (long) rank << 32 | merged);
        }
        return new BpeModel(source, pieces, types, null, merges, byteFallback, addDummyPrefix, false,
                escapeWhitespaces, SentencePieceModel.DEFAULT_UNK_SURFACE);
    }

    int size() { return pieces.length; }

    /** Id of a piece of any type, or -1. */
    int pieceId(String piece) {
        Integer id = mergeable.get(piece);
        if (id == null) id = reserved.get(piece);
        return id == null ? -1 : id;
    }

    /** The SentencePiece normalizer with an identity character map. */
    String normalize(String text) {
        int n = text.length();
        int i = 0;
        if (removeExtraWhitespaces) {
            while (i < n && text.charAt(i) == ' ') i++;
        }
        if (i == n) return "";
        StringBuilder sb = new StringBuilder(n + 1);
        if (addDummyPrefix) sb.append(escapeWhitespaces ? SPACE_SYMBOL : ' ');
        boolean prevSpace = removeExtraWhitespaces;
        for (; i < n; i++) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                // Java strings may hold lone surrogates, which have no UTF-8 form: U+FFFD, as SentencePiece does for bad UTF-8.
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                    sb.append(c).append(text.charAt(++i));
                } else {
                    sb.append('\uFFFD');
                }
                if (removeExtraWhitespaces) prevSpace = false;
                continue;
            }
            if (c == ' ') {
                if (prevSpace) continue;
                sb.append(escapeWhitespaces ? SPACE_SYMBOL : ' ');
            } else {
                sb.append(c);
            }
            if (removeExtraWhitespaces) prevSpace = c == ' ';
        }
        if (removeExtraWhitespaces) {
            char space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
            int end = sb.length();
            while (end > 0 && sb.charAt(end - 1) == space) end--;
            sb.setLength(end);
        }
        return sb.toString();
    }

    /** Normalizes and encodes text (SentencePiece's {@code encode}: no special tokens, no BOS). */
    void encode(String text, IntList out) {
        encodeNormalized(normalize(text), out);
    }

    void encodeNormalized(String s, IntList out) {
        int len = s.length();
        if (len == 0) return;
        Symbols sym = new Symbols(len);
        for (int i = 0; i < len; ) {
            int match = matchUserDefined(s, i);
            int end = match > 0 ? i + match : i + Character.charCount(s.codePointAt(i));
            sym.add(i, end, mergeableTable.get(s, i, end), match > 0);
            i = end;
        }
        PairHeap heap = new PairHeap(sym.count * 2);
        Map<String, String[]> unusedSplits = null;
        for (int i = 0; i + 1 < sym.count; i++) unusedSplits = offer(s, sym, heap, i, i + 1, unusedSplits);
        while (!heap.isEmpty()) {
            int e = heap.pop();
            int l = heap.left[e], r = heap.right[e];
            if (!sym.alive[l] || !sym.alive[r] || (sym.end[r] - sym.start[l]) != heap.size[e]
                    || sym.next[l] != r) {
                continue; // stale: one side has been merged since this pair was offered
            }
            sym.end[l] = sym.end[r];
            sym.id[l] = heap.merged[e];
            sym.alive[r] = false;
            sym.next[l] = sym.next[r];
            if (sym.next[r] >= 0) sym.prev[sym.next[r]] = l;
            if (sym.prev[l] >= 0) unusedSplits = offer(s, sym, heap, sym.prev[l], l, unusedSplits);
            if (sym.next[l] >= 0) unusedSplits = offer(s, sym, heap, l, sym.next[l], unusedSplits);
        }
        for (int i = 0; i >= 0; i = sym.next[i]) {
            int id = sym.id[i];
            if (id >= 0 && types[id] != PieceType.UNUSED) {
                out.add(id);
            } else if (scores != null) {
                resegment(s.substring(sym.start[i], sym.end[i]), unusedSplits, out);
            } else {
                emitUnknown(s.substring(sym.start[i], sym.end[i]), out);
            }
        }
    }

    /** Puts the pair (l, r) on the heap if it can merge. */
    private Map<String, String[]> offer(String s, Symbols sym, PairHeap heap, int l, int r, Map<String, String[]> unusedSplits) {
        if (sym.frozen[l] || sym.frozen[r]) return unusedSplits;
        int size = sym.end[r] - sym.start[l];
        if (scores != null) {
            int id = mergeableTable.get(s, sym.start[l], sym.end[r]);
            if (id < 0) return unusedSplits;
            heap.push(scores[id], l, r, size, id);
            if (types[id] == PieceType.UNUSED) {
                // Unused pieces take part in merging but are split back into their halves on output.
                if (unusedSplits == null) unusedSplits = new HashMap<>();
                unusedSplits.put(s.substring(sym.start[l], sym.end[r]),
                        new String[] {s.substring(sym.start[l], sym.end[l]), s.substring(sym.start[r], sym.end[r])});
            }
        } else {
            if (sym.id[l] < 0 || sym.id[r] < 0) return unusedSplits;
            long v = merges.get(pairKey(sym.id[l], sym.id[r]));
            if (v == LongLongMap.MISSING) return unusedSplits;
            heap.push(-(double) (v >>> 32), l, r, size, (int) v);
        }
        return unusedSplits;
    }

    private void resegment(String w, Map<String, String[]> unusedSplits, IntList out) {
        int id = pieceId(w);
        if (id >= 0 && types[id] == PieceType.UNUSED && unusedSplits != null && unusedSplits.containsKey(w)) {
            String[] halves = unusedSplits.get(w);
            resegment(halves[0], unusedSplits, out);
            resegment(halves[1], unusedSplits, out);
        } else if (id < 0 || id == unkId) {
            emitUnknown(w, out);
        } else {
            out.add(id);
        }
    }

    private void emitUnknown(String w, IntList out) {
        if (!byteFallback) {
            out.add(unkId);
            return;
        }
        for (byte b : w.getBytes(StandardCharsets.UTF_8)) out.add(byteIds[b & 0xff]);
    }

    private int matchUserDefined(String s, int at) {
        for (String u : userDefined) if (s.startsWith(u, at)) return u.length();
        return 0;
    }

    static long pairKey(int left, int right) {
        return (long) left << 32 | (right & 0xffffffffL);
    }

    /** "<0x41>" -> 0x41, or -1. */
    static int parseBytePiece(String p) {
        if (p.length() != 6 || !p.startsWith("<0x") || p.charAt(5) != '>') return -1;
        int hi = Character.digit(p.charAt(3), 16), lo = Character.digit(p.charAt(4), 16);
        if (hi < 0 || lo < 0 || Character.isLowerCase(p.charAt(3)) || Character.isLowerCase(p.charAt(4))) return -1;
        return hi * 16 + lo;
    }

    /** Symbols of the text being encoded: spans of the normalized string in a linked list. */
    private static final class Symbols {
        final int[] start, end, prev, next, id;
        final boolean[] alive, frozen;
        int count;

        Symbols(int capacity) {
            start = new int[capacity];
            end = new int[capacity];
            prev = new int[capacity];
            next = new int[capacity];
            id = new int[capacity];
            alive = new boolean[capacity];
            frozen = new boolean[capacity];
        }

        void add(int from, int to, int pieceId, boolean isFrozen) {
            int i = count++;
            start[i] = from;
            end[i] = to;
            id[i] = pieceId;
            prev[i] = i - 1;
            next[i] = -1;
            if (i > 0) next[i - 1] = i;
            alive[i] = true;
            frozen[i] = isFrozen;
        }
    }

    /** Max-heap of candidate merges: best priority first, then leftmost. */
    private static final class PairHeap {
        double[] priority;
        int[] left, right, size, merged;
        private int[] heap;
        private int entries, heapSize;

        PairHeap(int capacity) {
            capacity = Math.max(16, capacity);
            priority = new double[capacity];
            left = new int[capacity];
            right = new int[capacity];
            size = new int[capacity];
            merged = new int[capacity];
            heap = new int[capacity];
        }

        boolean isEmpty() { return heapSize == 0; }

        void push(double p, int l, int r, int sz, int mergedId) {
            if (entries == priority.length) {
                int cap = entries * 2;
                priority = Arrays.copyOf(priority, cap);
                left = Arrays.copyOf(left, cap);
                right = Arrays.copyOf(right, cap);
                size = Arrays.copyOf(size, cap);
                merged = Arrays.copyOf(merged, cap);
            }
            if (heapSize == heap.length) heap = Arrays.copyOf(heap, heap.length * 2);
            int e = entries++;
            priority[e] = p;
            left[e] = l;
            right[e] = r;
            size[e] = sz;
            merged[e] = mergedId;
            int i = heapSize++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (!before(e, heap[parent])) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = e;
        }

        int pop() {
            int top = heap[0];
            int last = heap[--heapSize];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= heapSize) break;
                if (c + 1 < heapSize && before(heap[c + 1], heap[c])) c++;
                if (!before(heap[c], last)) break;
                heap[i] = heap[c];
                i = c;
            }
            if (heapSize > 0) heap[i] = last;
            return top;
        }

        private boolean before(int a, int b) {
            return priority[a] > priority[b] || (priority[a] == priority[b] && left[a] < left[b]);
        }
    }
}
