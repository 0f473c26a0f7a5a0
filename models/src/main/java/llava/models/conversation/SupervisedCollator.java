package llava.models.conversation;

import java.util.Arrays;
import java.util.List;
import llava.core.Tensor;

/**
 * Right-pads examples into a batch like LLaVA 0.1.0's DataCollatorForSupervisedDataset:
 * input_ids padded with the pad id, labels with {@link SupervisedPreprocessor#IGNORE_INDEX}, and
 * {@code attention_mask = input_ids != pad} (so a pad-valued token inside the text is masked too,
 * as upstream does).
 */
public final class SupervisedCollator {
    /** A padded batch, [batch][length] each. */
    public record Batch(long[][] inputIds, long[][] labels, boolean[][] attentionMask) {
        public int batchSize() { return inputIds.length; }

        public int length() { return inputIds.length == 0 ? 0 : inputIds[0].length; }

        /** input_ids as an I64 tensor [B, T] on the CPU (the caller closes it). */
        public Tensor inputIdsTensor() { return longTensor(inputIds); }

        /** labels as an I64 tensor [B, T]. */
        public Tensor labelsTensor() { return longTensor(labels); }

        /** attention_mask as an I64 0/1 tensor [B, T] (the fixtures' layout; upstream uses bool). */
        public Tensor attentionMaskTensor() {
            long[][] m = new long[attentionMask.length][];
            for (int b = 0; b < m.length; b++) {
                m[b] = new long[attentionMask[b].length];
                for (int t = 0; t < m[b].length; t++) m[b][t] = attentionMask[b][t] ? 1 : 0;
            }
            return longTensor(m);
        }

        private long[] flat(long[][] rows) {
            long[] out = new long[batchSize() * length()];
            for (int b = 0; b < rows.length; b++) System.arraycopy(rows[b], 0, out, b * length(), length());
            return out;
        }

        private Tensor longTensor(long[][] rows) {
            return Tensor.of(flat(rows), batchSize(), length());
        }
    }

    private final int padId;

    public SupervisedCollator(int padId) {
        if (padId < 0) throw new IllegalArgumentException("pad id must be a token id, got " + padId);
        this.padId = padId;
    }

    public Batch collate(List<TokenizedExample> examples) {
        if (examples.isEmpty()) throw new IllegalArgumentException("cannot collate an empty batch");
        int length = 0;
        for (TokenizedExample e : examples) length = Math.max(length, e.length());
        int n = examples.size();
        long[][] ids = new long[n][length], labels = new long[n][length];
        boolean[][] mask = new boolean[n][length];
        for (int b = 0; b < n; b++) {
            TokenizedExample e = examples.get(b);
            Arrays.fill(ids[b], padId);
            Arrays.fill(labels[b], SupervisedPreprocessor.IGNORE_INDEX);
            for (int t = 0; t < e.length(); t++) {
                ids[b][t] = e.inputIds()[t];
                labels[b][t] = e.labels()[t];
            }
            for (int t = 0; t < length; t++) mask[b][t] = ids[b][t] != padId;
        }
        return new Batch(ids, labels, mask);
    }
}
