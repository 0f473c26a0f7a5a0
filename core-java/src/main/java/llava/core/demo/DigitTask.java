package llava.core.demo;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import llava.core.Generator;

/**
 * Generated sequence-to-sequence data over digits: the model reads BOS x1..xn SEP and must
 * continue with y1..yn, where y is x sorted, reversed or copied. Only the y tokens are trained
 * on (the other targets are -100).
 */
public final class DigitTask {
    public static final int BOS = 10, SEP = 11, VOCAB = 12;
    public static final long IGNORE = -100;

    public enum Kind { SORT, REVERSE, COPY }

    public final Kind kind;
    public final int length;

    public DigitTask(Kind kind, int length) {
        if (length < 1 || length > 64) throw new IllegalArgumentException("sequence length must be in 1..64, got " + length);
        this.kind = kind;
        this.length = length;
    }

    public static Kind parseKind(String s) {
        try {
            return Kind.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown task '" + s + "'; known: sort, reverse, copy");
        }
    }

    /** The model's input length: BOS + n digits + SEP + n - 1 answer digits. */
    public int inputLength() { return 2 * length + 1; }

    /** The answer for digits x. */
    public int[] answer(int[] x) {
        int[] y = x.clone();
        switch (kind) {
            case SORT -> Arrays.sort(y);
            case REVERSE -> {
                for (int i = 0; i < y.length; i++) y[i] = x[x.length - 1 - i];
            }
            case COPY -> { }
        }
        return y;
    }

    /** n random digits. */
    public int[] sample(Generator gen) {
        int[] x = new int[length];
        for (int i = 0; i < length; i++) x[i] = (int) gen.nextLong(10);
        return x;
    }

    /** A digit string as a set key. */
    public static String key(int[] x) {
        StringBuilder sb = new StringBuilder(x.length);
        for (int d : x) sb.append((char) ('0' + d));
        return sb.toString();
    }

    /** The most problems {@link #heldOut} may set aside: half of the 10^length there are, so training keeps the rest. */
    public long maxHeldOut() {
        return length >= 18 ? Long.MAX_VALUE : (long) Math.pow(10, length) / 2;
    }

    /** count distinct problems from gen (the held-out set). */
    public int[][] heldOut(Generator gen, int count) {
        if (count > maxHeldOut()) {
            throw new IllegalArgumentException(count + " held-out problems are too many for " + length + " digits (at most "
                + maxHeldOut() + ", half of all problems)");
        }
        Set<String> seen = new HashSet<>();
        int[][] out = new int[count][];
        int n = 0;
        while (n < count) {
            int[] x = sample(gen);
            if (seen.add(key(x))) out[n++] = x;
        }
        return out;
    }

    /** A training batch: ids and targets, each [batch * inputLength()] row-major. */
    public record Batch(long[] ids, long[] targets, int batch, int length) {}

    /** batch training problems from gen, none of them in {@code exclude}. */
    public Batch trainingBatch(Generator gen, int batch, Set<String> exclude) {
        int T = inputLength();
        long[] ids = new long[batch * T], targets = new long[batch * T];
        for (int b = 0; b < batch; b++) {
            int[] x;
            do {
                x = sample(gen);
            } while (exclude.contains(key(x)));
            int[] y = answer(x);
            long[] seq = sequence(x, y);
            for (int t = 0; t < T; t++) {
                ids[b * T + t] = seq[t];
                // position t predicts seq[t + 1]; only the answer digits count
                targets[b * T + t] = t + 1 >= length + 2 ? seq[t + 1] : IGNORE;
            }
        }
        return new Batch(ids, targets, batch, T);
    }

    /** BOS x SEP y. */
    long[] sequence(int[] x, int[] y) {
        long[] s = new long[2 * length + 2];
        s[0] = BOS;
        for (int i = 0; i < length; i++) s[1 + i] = x[i];
        s[length + 1] = SEP;
        for (int i = 0; i < length; i++) s[length + 2 + i] = y[i];
        return s;
    }
}
