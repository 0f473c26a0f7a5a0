package llava.models.tokenizer;

/** The kind of a vocabulary entry, numbered as in SentencePiece's ModelProto.SentencePiece.Type. */
public enum PieceType {
    NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

    final int protoValue;

    PieceType(int protoValue) {
        this.protoValue = protoValue;
    }

    static PieceType fromProto(int value) {
        for (PieceType t : values()) if (t.protoValue == value) return t;
        return null;
    }

    /** Pieces that BPE may produce by merging (SentencePiece keeps them in its {@code pieces_} map). */
    boolean mergeable() {
        return this == NORMAL || this == USER_DEFINED || this == UNUSED;
    }
}
