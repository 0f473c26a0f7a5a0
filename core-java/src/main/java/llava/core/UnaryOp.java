package llava.core;

/**
 * Elementwise one-input ops. Parameters {@code a}, {@code b} are used by AFFINE (x*a + b),
 * POW_SCALAR (x^a) and CLAMP (min a, max b; NaN means unbounded); others ignore them.
 * Float inputs only, except NEG/ABS/AFFINE/CLAMP/SIGN which also accept integer types.
 */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, TANH, SIGMOID, RELU, SILU,
    /** GELU with the exact erf form: x * Phi(x). */
    GELU,
    /** GELU with the tanh approximation. */
    GELU_TANH,
    /** x * sigmoid(1.702 x), as CLIP uses. */
    QUICK_GELU,
    SIN, COS, RECIPROCAL, SQUARE, SIGN,
    AFFINE, POW_SCALAR, CLAMP;

    /** Ops whose backward the backends provide fused (see {@link Backend#unaryBackward}). */
    public boolean hasFusedBackward() {
        return this == SILU || this == GELU || this == GELU_TANH || this == QUICK_GELU || this == RELU
            || this == SIGMOID || this == TANH;
    }
}
