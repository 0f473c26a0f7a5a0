package llava.models.conversation;

/**
 * One preprocessed training example: the token ids of the prompt and the labels (the id to predict
 * at each position, or {@link SupervisedPreprocessor#IGNORE_INDEX} where the loss ignores it).
 * Labels are aligned with the ids; the model shifts them by one when computing the loss.
 */
public record TokenizedExample(String prompt, int[] inputIds, int[] labels) {
    public TokenizedExample {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException("ids and labels differ in length: " + inputIds.length + " vs " + labels.length);
        }
    }

    public int length() { return inputIds.length; }

    /** Number of positions that carry a label. */
    public int labelledCount() {
        int n = 0;
        for (int l : labels) if (l != SupervisedPreprocessor.IGNORE_INDEX) n++;
        return n;
    }
}
