package llava.models.tokenizer;

/**
 * Decodes token ids one at a time into text deltas, following SentencePiece's decoding exactly:
 * {@code ▁} becomes a space, the first space of the text (the dummy prefix) is dropped, control
 * tokens vanish, {@code <unk>} shows as " ⁇ ", and consecutive byte pieces are joined into UTF-8
 * characters (a byte that cannot be part of a valid character shows as U+FFFD). Bytes that may
 * still complete a character are held back, so a delta never ends in half a character; call
 * {@link #finish()} at the end to flush them. The concatenation of all deltas equals
 * {@link Tokenizer#decodeSentencePiece(int[])} of all the ids. Added tokens (like
 * {@code <im_patch>}) decode to their text.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final BpeModel model;
    private final byte[] pending = new byte[4];
    private int pendingCount;
    /** Whether a leading {@code ▁} would still be the dummy prefix. */
    private boolean atStart = true;
    private boolean sawLeadingSpace;
    private boolean textEmitted;

    StreamingDecoder(Tokenizer tokenizer, BpeModel model) {
        this.tokenizer = tokenizer;
        this.model = model;
    }

    /** Feeds one id; returns the text it completes (often empty while bytes are pending). */
    public String next(int id) {
        tokenizer.checkId(id);
        StringBuilder sb = new StringBuilder();
        if (id < model.size() && model.types[id] == PieceType.BYTE) {
            pending[pendingCount++] = (byte) model.byteValue[id];
            drainBytes(sb, false);
        } else {
            drainBytes(sb, true);
            if (sb.length() > 0) textEmitted = true;
            if (sawLeadingSpace || textEmitted) atStart = false;
            sawLeadingSpace = false;
            sb.append(surface(id));
        }
        if (sb.length() > 0) textEmitted = true;
        return sb.toString();
    }

    /** Flushes bytes held back at the end of the ids (an incomplete character becomes U+FFFD). */
    public String finish() {
        StringBuilder sb = new StringBuilder();
        drainBytes(sb, true);
        if (sb.length() > 0) textEmitted = true;
        return sb.toString();
    }

    private String surface(int id) {
        if (id >= model.size()) return tokenizer.addedTokenContent(id);
        switch (model.types[id]) {
            case CONTROL:
                return "";
            case UNKNOWN:
                return model.unkSurface;
            default:
                String piece = model.pieces[id];
                if (atStart && (model.addDummyPrefix || model.removeExtraWhitespaces)
                        && !piece.isEmpty() && piece.charAt(0) == BpeModel.SPACE_SYMBOL) {
                    piece = piece.substring(1);
                    sawLeadingSpace = !model.removeExtraWhitespaces;
                }
                return piece.replace(BpeModel.SPACE_SYMBOL, ' ');
        }
    }

    /**
     * Turns pending bytes into characters the way SentencePiece's DecodeUTF8 does. While the byte
     * run may continue ({@code runEnded} false), a lead byte waits until its whole sequence is there.
     */
    private void drainBytes(StringBuilder sb, boolean runEnded) {
        while (pendingCount > 0) {
            int b0 = pending[0] & 0xff;
            int need = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 1;
            if (pendingCount < need && !runEnded) return;
            int cp = -1, used = 1;
            if (b0 < 0x80) {
                cp = b0;
            } else if (need <= pendingCount && need > 1) {
                int v = b0 & (0xFF >> (need + 1));
                boolean trailOk = true;
                for (int k = 1; k < need; k++) {
                    int b = pending[k] & 0xff;
                    trailOk &= (b & 0xC0) == 0x80;
                    v = v << 6 | (b & 0x3F);
                }
                int min = need == 2 ? 0x80 : need == 3 ? 0x800 : 0x10000;
                boolean validCodepoint = v < 0xD800 || (v >= 0xE000 && v <= 0x10FFFF);
                if (trailOk && v >= min && validCodepoint) {
                    cp = v;
                    used = need;
                }
            }
            sb.appendCodePoint(cp < 0 ? 0xFFFD : cp);
            System.arraycopy(pending, used, pending, 0, pendingCount - used);
            pendingCount -= used;
        }
    }
}
