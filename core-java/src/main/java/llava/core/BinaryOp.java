package llava.core;

/** Elementwise two-input ops. Comparisons produce BOOL; the others keep the inputs' dtype. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAX, MIN,
    EQ, NE, LT, LE, GT, GE,
    LOGICAL_AND, LOGICAL_OR;

    public boolean isComparison() {
        return switch (this) {
            case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR -> true;
            default -> false;
        };
    }
}
