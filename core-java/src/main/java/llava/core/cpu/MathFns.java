package llava.core.cpu;

import llava.core.UnaryOp;

/** Scalar definitions of the elementwise ops and their derivatives, in double precision. */
public final class MathFns {
    private MathFns() {}

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955126;
    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double INV_SQRT_2PI = 0.3989422804014327;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;

    /** erf to about 1e-16 relative: erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!!
     *  (all terms positive, so no cancellation); |x| >= 6 gives +-1. */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax >= 6) return Math.copySign(1.0, x);
        double x2 = ax * ax;
        double term = ax, sum = ax;
        for (int n = 1; n < 400; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        double r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
        return Math.copySign(Math.min(r, 1.0), x);
    }

    public static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    public static double apply(UnaryOp op, double x, double a, double b) {
        switch (op) {
            case NEG: return -x;
            case EXP: return Math.exp(x);
            case LOG: return Math.log(x);
            case SQRT: return Math.sqrt(x);
            case RSQRT: return 1.0 / Math.sqrt(x);
            case ABS: return Math.abs(x);
            case TANH: return Math.tanh(x);
            case SIGMOID: return sigmoid(x);
            case RELU: return x > 0 ? x : (Double.isNaN(x) ? x : 0.0);
            case SILU: return x * sigmoid(x);
            case GELU: return 0.5 * x * (1 + erf(x * INV_SQRT2));
            case GELU_TANH: return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
            case QUICK_GELU: return x * sigmoid(1.702 * x);
            case SIN: return Math.sin(x);
            case COS: return Math.cos(x);
            case RECIPROCAL: return 1.0 / x;
            case SQUARE: return x * x;
            case SIGN: return x > 0 ? 1 : x < 0 ? -1 : (Double.isNaN(x) ? x : 0);
            case AFFINE: return x * a + b;
            case POW_SCALAR: return a == 2 ? x * x : a == 1 ? x : a == 0.5 ? Math.sqrt(x) : Math.pow(x, a);
            case CLAMP: {
                double r = x;
                if (!Double.isNaN(a) && r < a) r = a;
                if (!Double.isNaN(b) && r > b) r = b;
                return r;
            }
            default: throw new IllegalArgumentException(op.name());
        }
    }

    /** d op(x) / dx for the ops with a fused backward. */
    public static double derivative(UnaryOp op, double x) {
        switch (op) {
            case TANH: { double t = Math.tanh(x); return 1 - t * t; }
            case SIGMOID: { double s = sigmoid(x); return s * (1 - s); }
            case RELU: return x > 0 ? 1 : 0;
            case SILU: { double s = sigmoid(x); return s * (1 + x * (1 - s)); }
            case GELU: return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
            case GELU_TANH: {
                double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
                double t = Math.tanh(u);
                double du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
                return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
            }
            case QUICK_GELU: { double s = sigmoid(1.702 * x); return s + 1.702 * x * s * (1 - s); }
            default: throw new IllegalArgumentException(op.name() + " has no fused backward");
        }
    }
}
