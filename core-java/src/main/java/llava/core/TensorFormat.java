package llava.core;

import java.util.Locale;

/** PyTorch-like printing: values (summarised beyond 1000 elements), shape, dtype, device, grad. */
final class TensorFormat {
    private TensorFormat() {}

    private static final int THRESHOLD = 1000;
    private static final int EDGE = 3;

    static String format(Tensor t) {
        int[] shape = t.shape();
        double[] v;
        int[] strides;
        boolean summarize = t.numel() > THRESHOLD;
        v = t.toDoubleArray();
        strides = Shapes.contiguousStrides(shape);
        boolean floating = t.dtype().isFloating();
        boolean sci = false;
        if (floating) {
            double maxAbs = 0, minAbs = Double.MAX_VALUE;
            for (double x : v) {
                if (!Double.isFinite(x)) continue;
                double a = Math.abs(x);
                maxAbs = Math.max(maxAbs, a);
                if (a > 0) minAbs = Math.min(minAbs, a);
            }
            sci = maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs != Double.MAX_VALUE) || (maxAbs / Math.max(minAbs, 1e-300) > 1e6 && maxAbs > 1e3);
        }
        StringBuilder sb = new StringBuilder("tensor(");
        if (shape.length == 0) {
            sb.append(fmt(v[0], t.dtype(), sci));
        } else {
            rec(sb, v, shape, strides, 0, 0, summarize, t.dtype(), sci, 7);
        }
        sb.append(", shape=").append(Shapes.str(shape));
        sb.append(", dtype=").append(t.dtype().name().toLowerCase(Locale.ROOT));
        if (!t.device().isCpu()) sb.append(", device=").append(t.device());
        if (t.gradFn() != null) sb.append(", grad_fn=").append(t.gradFn());
        else if (t.requiresGrad()) sb.append(", requires_grad=True");
        return sb.append(')').toString();
    }

    private static void rec(StringBuilder sb, double[] v, int[] shape, int[] strides, int d, int off,
                            boolean summarize, DType dt, boolean sci, int indent) {
        sb.append('[');
        int n = shape[d];
        boolean cut = summarize && n > 2 * EDGE;
        for (int i = 0; i < n; i++) {
            if (cut && i == EDGE) {
                sb.append(d == shape.length - 1 ? "..., " : "...,\n" + " ".repeat(indent + d + 1));
                i = n - EDGE;
            }
            if (d == shape.length - 1) {
                sb.append(fmt(v[off + i * strides[d]], dt, sci));
            } else {
                rec(sb, v, shape, strides, d + 1, off + i * strides[d], summarize, dt, sci, indent);
            }
            if (i < n - 1) {
                if (d == shape.length - 1) sb.append(", ");
                else sb.append(",\n".repeat(shape.length - d - 1)).append(" ".repeat(indent + d + 1));
            }
        }
        sb.append(']');
    }

    private static String fmt(double x, DType dt, boolean sci) {
        if (dt == DType.BOOL) return x != 0 ? "True" : "False";
        if (!dt.isFloating()) return Long.toString((long) x);
        if (Double.isNaN(x)) return "nan";
        if (Double.isInfinite(x)) return x > 0 ? "inf" : "-inf";
        return sci ? String.format(Locale.ROOT, "%.4e", x) : String.format(Locale.ROOT, "%.4f", x);
    }
}
