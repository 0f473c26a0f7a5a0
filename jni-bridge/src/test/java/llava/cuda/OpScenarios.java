package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import llava.core.BinaryOp;
import llava.core.DType;
import llava.core.ReduceOp;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.UnaryOp;
import llava.cuda.BackendConformance.P;

/**
 * Every {@link llava.core.Backend} primitive, on several shapes (odd sizes and tails included),
 * dtypes and layouts (contiguous, transposed, sliced, broadcast), compared between the device under
 * test and the CPU backend. One method per family; each frees what it made.
 */
final class OpScenarios {
    private final BackendConformance c;

    OpScenarios(BackendConformance c) {
        this.c = c;
    }

    private static final int[][] SHAPES = {{1}, {7}, {3, 5}, {4, 33, 17}, {2, 3, 4, 65}, {1031}};

    // ---- data movement -------------------------------------------------------------------

    void copyAndFill() {
        try (Scope s = Scope.open()) {
            DType[] dts = {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32, DType.U8, DType.BOOL};
            for (DType from : dts) {
                for (DType to : dts) {
                    // floats converted to integers are positive (C and Java truncate those alike)
                    P base = from == DType.BOOL ? c.bools(4, 5, 37)
                        : from.isFloating() ? (to.isFloating() ? c.randn(from, 4, 5, 37) : c.positive(from, 4, 5, 37))
                        : c.randint(0, 120, from, 4, 5, 37);
                    P x = base.map(t -> t.select(0, 1)); // a view at an offset
                    P o = c.out(to, 5, 37);
                    c.each((b, i) -> b.copy(x.get(i), o.get(i)));
                    c.check("copy " + from + " -> " + to, o);
                }
            }
            // transposed source, broadcast source, strided destination
            P x = c.randn(DType.F32, 33, 65);
            P o = c.out(DType.F32, 65, 33);
            c.each((b, i) -> b.copy(x.get(i).t(), o.get(i)));
            c.check("copy transposed", o);
            P row = c.randn(DType.BF16, 1, 19);
            P o2 = c.out(DType.BF16, 7, 19);
            c.each((b, i) -> b.copy(row.get(i).expand(7, 19), o2.get(i)));
            c.check("copy broadcast", o2);
            P big = c.out(DType.F32, 9, 40);
            c.each((b, i) -> b.fill(big.get(i), 0.25));
            P src = c.randn(DType.F32, 9, 20);
            c.each((b, i) -> b.copy(src.get(i), big.get(i).slice(1, 0, 40, 2)));
            c.check("copy into every other column", big);
            // rank 9, permuted so that no dimensions merge: more dims than one kernel launch takes
            P r9 = c.randn(DType.F32, 2, 2, 2, 2, 2, 2, 2, 2, 3);
            P o9 = c.out(DType.F32, 3, 2, 2, 2, 2, 2, 2, 2, 2);
            c.each((b, i) -> b.copy(r9.get(i).permute(8, 7, 6, 5, 4, 3, 2, 1, 0), o9.get(i)));
            c.check("copy rank 9 permuted", o9);
            // fill through strided views
            for (DType dt : dts) {
                P f = c.out(dt, 6, 11);
                c.each((b, i) -> b.fill(f.get(i), 0));
                c.each((b, i) -> b.fill(f.get(i).slice(1, 1, 11, 3).slice(0, 0, 6, 2), dt == DType.BOOL ? 1 : 3.5));
                c.check("fill strided " + dt, f);
            }
        }
    }

    // ---- elementwise ---------------------------------------------------------------------

    private P unaryInput(UnaryOp op, DType dt, int... shape) {
        return switch (op) {
            case LOG, SQRT, RSQRT, POW_SCALAR, RECIPROCAL -> c.positive(dt, shape);
            default -> dt.isFloating() ? c.randnScaled(dt, 2, shape) : c.randint(-50, 50, dt, shape);
        };
    }

    private static double[] unaryArgs(UnaryOp op) {
        return switch (op) {
            case AFFINE -> new double[] {1.5, -0.25};
            case POW_SCALAR -> new double[] {2.5, 0};
            case CLAMP -> new double[] {-0.5, 0.75};
            default -> new double[] {0, 0};
        };
    }

    void unary() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (UnaryOp op : UnaryOp.values()) {
                for (int[] shape : SHAPES) {
                    try (Scope s = Scope.open()) {
                        P x = unaryInput(op, dt, shape);
                        P o = c.out(dt, shape);
                        double[] a = unaryArgs(op);
                        c.each((b, i) -> b.unary(op, x.get(i), o.get(i), a[0], a[1]));
                        c.check("unary " + op + " " + dt + " " + java.util.Arrays.toString(shape), o);
                    }
                }
            }
        }
        try (Scope s = Scope.open()) {
            // transposed input into a contiguous output, in place, clamp with an open bound
            P x = c.randnScaled(DType.F32, 2, 48, 31);
            P o = c.out(DType.F32, 31, 48);
            c.each((b, i) -> b.unary(UnaryOp.SILU, x.get(i).t(), o.get(i), 0, 0));
            c.check("unary transposed", o);
            c.each((b, i) -> b.unary(UnaryOp.EXP, x.get(i), x.get(i), 0, 0));
            c.check("unary in place", x);
            P y = c.randnScaled(DType.BF16, 2, 9, 10);
            P oy = c.out(DType.BF16, 9, 10);
            c.each((b, i) -> b.unary(UnaryOp.CLAMP, y.get(i), oy.get(i), Double.NaN, 0.5));
            c.check("clamp max only", oy);
            // integer ops
            for (DType dt : new DType[] {DType.I64, DType.I32, DType.U8}) {
                for (UnaryOp op : new UnaryOp[] {UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIGN, UnaryOp.SQUARE, UnaryOp.AFFINE, UnaryOp.CLAMP}) {
                    if (dt == DType.U8 && (op == UnaryOp.NEG || op == UnaryOp.SIGN)) continue; // wraps differently by design
                    P xi = dt == DType.U8 ? c.randint(0, 15, dt, 5, 13) : c.randint(-50, 50, dt, 5, 13);
                    P oi = c.out(dt, 5, 13);
                    double[] a = op == UnaryOp.AFFINE ? new double[] {3, -2} : op == UnaryOp.CLAMP ? new double[] {-5, 9} : new double[2];
                    c.each((b, i) -> b.unary(op, xi.get(i), oi.get(i), a[0], a[1]));
                    c.check("unary " + op + " " + dt, oi);
                }
            }
        }
    }

    void unaryBackward() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (UnaryOp op : UnaryOp.values()) {
                if (!op.hasFusedBackward()) continue;
                for (int[] shape : SHAPES) {
                    try (Scope s = Scope.open()) {
                        P x = c.randnScaled(dt, 2, shape), gy = c.randn(dt, shape);
                        P gx = c.out(dt, shape);
                        c.each((b, i) -> b.unaryBackward(op, x.get(i), gy.get(i), gx.get(i)));
                        c.check("unary backward " + op + " " + dt, gx);
                    }
                }
            }
        }
    }

    void binary() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32}) {
            for (BinaryOp op : BinaryOp.values()) {
                if (!dt.isFloating() && op == BinaryOp.POW) continue;
                try (Scope s = Scope.open()) {
                    // a [3, 1, 37] broadcast against b [4, 37] -> [3, 4, 37]
                    P a, b;
                    if (op == BinaryOp.POW) {
                        a = c.positive(dt, 3, 1, 37);
                        b = c.randn(dt, 4, 37);
                    } else if (op == BinaryOp.LOGICAL_AND || op == BinaryOp.LOGICAL_OR || op == BinaryOp.EQ || op == BinaryOp.NE) {
                        a = c.randint(-1, 2, dt, 3, 1, 37); // small integers: equal and zero values occur
                        b = c.randint(-1, 2, dt, 4, 37);
                    } else if (!dt.isFloating()) {
                        a = c.randint(-40, 40, dt, 3, 1, 37);
                        b = op == BinaryOp.DIV ? c.randint(1, 9, dt, 4, 37) : c.randint(-40, 40, dt, 4, 37);
                    } else {
                        a = c.randn(dt, 3, 1, 37);
                        b = op == BinaryOp.DIV ? c.positive(dt, 4, 37) : c.randn(dt, 4, 37);
                    }
                    DType odt = op.isComparison() ? DType.BOOL : dt;
                    P o = c.out(odt, 3, 4, 37);
                    P ea = a.map(t -> t.expand(3, 4, 37)), eb = b.map(t -> t.expand(3, 4, 37));
                    c.each((be, i) -> be.binary(op, ea.get(i), eb.get(i), o.get(i)));
                    c.check("binary " + op + " " + dt, o);
                }
            }
        }
        try (Scope s = Scope.open()) {
            // bool logic, transposed operands, in place
            P a = c.bools(17, 9), b = c.bools(17, 9);
            P o = c.out(DType.BOOL, 17, 9);
            c.each((be, i) -> be.binary(BinaryOp.LOGICAL_OR, a.get(i), b.get(i), o.get(i)));
            c.check("logical_or bool", o);
            P x = c.randn(DType.F32, 40, 70), y = c.randn(DType.F32, 70, 40);
            P z = c.out(DType.F32, 40, 70);
            c.each((be, i) -> be.binary(BinaryOp.SUB, x.get(i), y.get(i).t(), z.get(i)));
            c.check("binary transposed operand", z);
            c.each((be, i) -> be.binary(BinaryOp.MUL, x.get(i), z.get(i), x.get(i)));
            c.check("binary in place", x);
        }
    }

    void where() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.I64}) {
            try (Scope s = Scope.open()) {
                P cond = c.bools(5, 1, 23);
                P a = dt.isFloating() ? c.randn(dt, 6, 23) : c.randint(-9, 9, dt, 6, 23);
                P b = dt.isFloating() ? c.randn(dt, 5, 6, 1) : c.randint(-9, 9, dt, 5, 6, 1);
                P o = c.out(dt, 5, 6, 23);
                c.each((be, i) -> be.where(cond.get(i).expand(5, 6, 23), a.get(i).expand(5, 6, 23), b.get(i).expand(5, 6, 23), o.get(i)));
                c.check("where " + dt, o);
            }
        }
    }

    // ---- reductions ----------------------------------------------------------------------

    void reduce() {
        int[][] dimsSets = {{0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1, 2}};
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F64, DType.I64}) {
            for (ReduceOp op : ReduceOp.values()) {
                if (op == ReduceOp.MEAN && !dt.isFloating()) continue;
                for (int[] dims : dimsSets) {
                    for (boolean transposed : new boolean[] {false, true}) {
                        try (Scope s = Scope.open()) {
                            int[] shape = {6, 37, 129};
                            P x0 = dt.isFloating() ? c.randn(dt, transposed ? new int[] {129, 37, 6} : shape)
                                : c.randint(-1000, 1000, dt, transposed ? new int[] {129, 37, 6} : shape);
                            P x = transposed ? x0.map(t -> t.permute(2, 1, 0)) : x0;
                            int[] os = shape.clone();
                            for (int d : dims) os[d] = 1;
                            P o = c.out(dt, os);
                            c.each((b, i) -> b.reduce(op, x.get(i), o.get(i)));
                            c.check("reduce " + op + " " + dt + " dims " + java.util.Arrays.toString(dims)
                                + (transposed ? " transposed" : ""), o);
                        }
                    }
                }
            }
        }
        try (Scope s = Scope.open()) {
            // long rows (a reduction with many partial sums) and a single element
            P x = c.randn(DType.F32, 3, 100_003);
            P o = c.out(DType.F32, 3, 1);
            c.each((b, i) -> b.reduce(ReduceOp.SUM, x.get(i), o.get(i)));
            c.check("sum long rows", o);
            P one = c.randn(DType.F32, 1, 1);
            P o1 = c.out(DType.F32, 1, 1);
            c.each((b, i) -> b.reduce(ReduceOp.MAX, one.get(i), o1.get(i)));
            c.check("max of one", o1);
        }
    }

    void argReduce() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.I64}) {
            for (boolean max : new boolean[] {true, false}) {
                for (int dim = 0; dim < 3; dim++) {
                    try (Scope s = Scope.open()) {
                        int[] shape = {5, 33, 71};
                        // integers from a small range: ties, where the first index must win
                        P x = dt.isFloating() ? c.randn(dt, shape) : c.randint(0, 4, dt, shape);
                        int[] os = shape.clone();
                        os[dim] = 1;
                        P idx = c.out(DType.I64, os), val = c.out(dt, os);
                        int d = dim;
                        c.each((b, i) -> b.argReduce(max, x.get(i), d, val.get(i), idx.get(i)));
                        c.check((max ? "argmax " : "argmin ") + dt + " dim " + dim + " indices", idx);
                        c.check((max ? "argmax " : "argmin ") + dt + " dim " + dim + " values", val);
                        P idx2 = c.out(DType.I64, os);
                        c.each((b, i) -> b.argReduce(max, x.get(i), d, null, idx2.get(i)));
                        c.check("arg reduce without values", idx2);
                    }
                }
            }
        }
    }

    void softmax() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int cols : new int[] {1, 7, 128, 1000, 4097}) {
                for (boolean log : new boolean[] {false, true}) {
                    try (Scope s = Scope.open()) {
                        P x = c.randn(dt, 11, cols);
                        P y = c.out(dt, 11, cols);
                        c.each((b, i) -> b.softmax(x.get(i), y.get(i), log));
                        c.check((log ? "log_softmax " : "softmax ") + dt + " cols " + cols, y);
                        P gy = c.randn(dt, 11, cols), gx = c.out(dt, 11, cols);
                        c.each((b, i) -> b.softmaxBackward(y.get(i), gy.get(i), gx.get(i), log));
                        c.check((log ? "log_softmax backward " : "softmax backward ") + dt + " cols " + cols, gx);
                    }
                }
            }
        }
    }

    // ---- matmul --------------------------------------------------------------------------

    private static final int[][] MNK = {{1, 1, 1}, {7, 13, 5}, {64, 64, 64}, {129, 67, 255}, {1, 1000, 256}, {300, 2, 77},
        {128, 384, 1024}};

    /** Matmul on every layout the front end produces, on the GEMM engine currently selected. */
    void matmul() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] mnk : MNK) {
                int M = mnk[0], N = mnk[1], K = mnk[2];
                if (c.device.isCpu() && (long) M * N * K > 10_000_000) continue; // the CPU self-check skips the big one
                for (int layout = 0; layout < 4; layout++) {
                    try (Scope s = Scope.open()) {
                        // layout bit 0: a stored transposed; bit 1: b stored transposed (as linear's weight.t())
                        boolean at = (layout & 1) != 0, bt = (layout & 2) != 0;
                        P a = at ? c.randn(dt, K, M).map(Tensor::t) : c.randn(dt, M, K);
                        P b = bt ? c.randn(dt, N, K).map(Tensor::t) : c.randn(dt, K, N);
                        P o = c.out(dt, M, N);
                        c.each((be, i) -> be.matmul(a.get(i), b.get(i), null, o.get(i)));
                        c.check("matmul " + dt + " " + M + "x" + N + "x" + K + " layout " + layout, o);
                    }
                }
                try (Scope s = Scope.open()) {
                    // F32 output of half inputs, with bias
                    P a = c.randn(dt, M, K), b = c.randn(dt, N, K).map(Tensor::t);
                    DType odt = DType.F32;
                    P bias = c.randn(odt, N);
                    P o = c.out(odt, M, N);
                    c.each((be, i) -> be.matmul(a.get(i), b.get(i), bias.get(i), o.get(i)));
                    c.check("matmul " + dt + "->F32 with bias " + M + "x" + N + "x" + K, o); // F32 accumulation on both sides
                    P bias2 = c.randn(dt, N);
                    P o2 = c.out(dt, M, N);
                    c.each((be, i) -> be.matmul(a.get(i), b.get(i), bias2.get(i), o2.get(i)));
                    c.check("matmul " + dt + " with bias " + M + "x" + N + "x" + K, o2);
                }
            }
        }
        try (Scope s = Scope.open()) {
            // batched: [3, 4] batch, b broadcast over the first batch dim, a with a permuted batch
            P a = c.randn(DType.BF16, 4, 3, 33, 70).map(t -> t.permute(1, 0, 2, 3));
            P b = c.randn(DType.BF16, 4, 70, 45).map(t -> t.unsqueeze(0).expand(3, 4, 70, 45));
            P o = c.out(DType.BF16, 3, 4, 33, 45);
            c.each((be, i) -> be.matmul(a.get(i), b.get(i), null, o.get(i)));
            c.check("batched matmul, broadcast and permuted batch", o);
            // attention-like: [B, H, T, D] @ [B, H, D, T] with the second a transposed view
            P q = c.randn(DType.F32, 2, 5, 3, 64).map(t -> t.transpose(1, 2));
            P k = c.randn(DType.F32, 2, 3, 5, 64).map(t -> t.transpose(2, 3));
            P sc = c.out(DType.F32, 2, 3, 5, 5);
            c.each((be, i) -> be.matmul(q.get(i), k.get(i), null, sc.get(i)));
            c.check("batched matmul of transposed views", sc);
            // F64 (cuBLAS on CUDA)
            P a64 = c.randn(DType.F64, 17, 29), b64 = c.randn(DType.F64, 29, 8);
            P o64 = c.out(DType.F64, 17, 8);
            c.each((be, i) -> be.matmul(a64.get(i), b64.get(i), null, o64.get(i)));
            c.check("matmul F64", o64);
            // K = 0: the bias alone (the reference is the bias itself: the CPU backend's matmul does not take K = 0)
            if (!c.device.isCpu()) {
                P az = c.randn(DType.F32, 6, 0), bz = c.randn(DType.F32, 0, 9), biasz = c.randn(DType.F32, 9);
                P oz = c.out(DType.F32, 6, 9);
                c.each((be, i) -> {
                    if (i == 0) be.copy(biasz.get(i).expand(6, 9), oz.get(i));
                    else be.matmul(az.get(i), bz.get(i), biasz.get(i), oz.get(i));
                });
                c.check("matmul K=0", oz);
            }
            // a broadcast row (stride 0) operand
            P row = c.randn(DType.F32, 1, 40);
            P w = c.randn(DType.F32, 40, 24);
            P ob = c.out(DType.F32, 5, 24);
            c.each((be, i) -> be.matmul(row.get(i).expand(5, 40), w.get(i), null, ob.get(i)));
            c.check("matmul broadcast rows", ob);
        }
    }

    // ---- indexing ------------------------------------------------------------------------

    void indexing() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.I64}) {
            for (int dim = 0; dim < 3; dim++) {
                for (DType it : new DType[] {DType.I64, DType.I32}) {
                    try (Scope s = Scope.open()) {
                        int[] shape = {6, 9, 35};
                        P x = dt.isFloating() ? c.randn(dt, shape) : c.randint(-100, 100, dt, shape);
                        P idx = c.randint(0, shape[dim], it, 13); // repeats likely
                        int[] os = shape.clone();
                        os[dim] = 13;
                        P o = c.out(dt, os);
                        int d = dim;
                        c.each((b, i) -> b.indexSelect(x.get(i), d, idx.get(i), o.get(i)));
                        c.check("index_select " + dt + " dim " + dim + " " + it, o);
                    }
                }
            }
        }
        try (Scope s = Scope.open()) {
            // strided source (an embedding table read through a transpose)
            P table = c.randn(DType.F32, 64, 100).map(Tensor::t);
            P ids = c.randint(0, 100, DType.I64, 257);
            P o = c.out(DType.F32, 257, 64);
            c.each((b, i) -> b.indexSelect(table.get(i), 0, ids.get(i), o.get(i)));
            c.check("index_select strided table", o);
            // index_add with repeats (the embedding backward)
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                P target = c.randn(dt, 50, 33);
                P src = c.randn(dt, 300, 33);
                P idx = c.randint(0, 50, DType.I64, 300);
                c.each((b, i) -> b.indexAdd(target.get(i), 0, idx.get(i), src.get(i)));
                c.check("index_add " + dt, target);
            }
            // gather / scatter_add along each dim
            for (int dim = 0; dim < 3; dim++) {
                int[] shape = {7, 8, 9};
                P x = c.randn(DType.F32, shape);
                int[] is = {5, 6, 7};
                P idx = c.randint(0, shape[dim], DType.I64, is);
                P go = c.out(DType.F32, is);
                int d = dim;
                c.each((b, i) -> b.gather(x.get(i), d, idx.get(i), go.get(i)));
                c.check("gather dim " + dim, go);
                P target = c.randn(DType.F32, shape);
                P src = c.randn(DType.F32, is);
                c.each((b, i) -> b.scatterAdd(target.get(i), d, idx.get(i), src.get(i)));
                c.check("scatter_add dim " + dim, target);
            }
        }
    }

    // ---- fused ops -----------------------------------------------------------------------

    private static final int[][] ROWS = {{1, 1}, {3, 7}, {17, 4096}, {257, 1000}, {64, 64}};

    void norms() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] rc : ROWS) {
                int R = rc[0], C = rc[1];
                for (boolean affine : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        P x = c.randn(dt, 3, R, C).map(t -> t.select(0, 1));
                        P w = affine ? c.randn(dt, C) : null, bias = affine ? c.randn(dt, C) : null;
                        P gy = c.randn(dt, R, C);
                        String tag = dt + " " + R + "x" + C + (affine ? "" : " no weight");
                        // RMSNorm
                        P o = c.out(dt, R, C), rstd = c.out(DType.F32, R);
                        c.each((b, i) -> b.rmsNorm(x.get(i), BackendConformance.get(w, i), 1e-6, o.get(i), rstd.get(i)));
                        c.check("rms_norm " + tag, o);
                        c.check("rms_norm rstd " + tag, rstd, BackendConformance.tolerance(DType.F32));
                        P gx = c.out(dt, R, C), gw = affine ? c.out(dt, C) : null;
                        c.each((b, i) -> b.rmsNormBackward(x.get(i), BackendConformance.get(w, i), rstd.get(i), gy.get(i),
                            gx.get(i), BackendConformance.get(gw, i)));
                        c.check("rms_norm backward gx " + tag, gx);
                        if (affine) c.check("rms_norm backward gw " + tag, gw);
                        // LayerNorm
                        P lo = c.out(dt, R, C), mean = c.out(DType.F32, R), lrstd = c.out(DType.F32, R);
                        c.each((b, i) -> b.layerNorm(x.get(i), BackendConformance.get(w, i), BackendConformance.get(bias, i), 1e-5,
                            lo.get(i), mean.get(i), lrstd.get(i)));
                        c.check("layer_norm " + tag, lo);
                        c.check("layer_norm mean " + tag, mean, BackendConformance.tolerance(DType.F32));
                        if (C > 1) c.check("layer_norm rstd " + tag, lrstd, BackendConformance.tolerance(DType.F32));
                        P lgx = c.out(dt, R, C), lgw = affine ? c.out(dt, C) : null, lgb = affine ? c.out(dt, C) : null;
                        c.each((b, i) -> b.layerNormBackward(x.get(i), BackendConformance.get(w, i), mean.get(i), lrstd.get(i),
                            gy.get(i), lgx.get(i), BackendConformance.get(lgw, i), BackendConformance.get(lgb, i)));
                        if (C > 1) c.check("layer_norm backward gx " + tag, lgx);
                        if (affine && C > 1) {
                            c.check("layer_norm backward gw " + tag, lgw);
                            c.check("layer_norm backward gb " + tag, lgb);
                        }
                    }
                }
            }
        }
    }

    void rope() {
        int[][] shapes = {{2, 5, 3, 64}, {1, 17, 2, 128}, {3, 1, 4, 8}, {1, 300, 1, 80}};
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] sh : shapes) {
                int B = sh[0], T = sh[1], H = sh[2], D = sh[3];
                for (boolean inverse : new boolean[] {false, true}) {
                    try (Scope s = Scope.open()) {
                        // x as the model produces it: [B, H, T, D] storage viewed as [B, T, H, D]
                        P x = c.randn(dt, B, H, T, D).map(t -> t.transpose(1, 2));
                        P pos = c.randint(0, 4096, DType.I64, B, T);
                        P inv = invFreq(D);
                        P o = c.out(dt, B, T, H, D);
                        c.each((b, i) -> b.rope(x.get(i), pos.get(i), inv.get(i), inverse, o.get(i)));
                        c.check("rope " + dt + " " + java.util.Arrays.toString(sh) + (inverse ? " inverse" : ""), o);
                        P y = c.randn(dt, B, T, H, D);
                        c.each((b, i) -> b.rope(y.get(i), pos.get(i), inv.get(i), inverse, y.get(i)));
                        c.check("rope in place " + dt, y);
                    }
                }
            }
        }
    }

    /** LLaMA's inverse frequencies, base 10000. */
    private P invFreq(int D) {
        float[] f = new float[D / 2];
        for (int i = 0; i < D / 2; i++) f[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / D));
        return c.twin(Tensor.of(f, D / 2));
    }

    void siluMul() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] shape : SHAPES) {
                try (Scope s = Scope.open()) {
                    P g = c.randnScaled(dt, 2, shape), u = c.randn(dt, shape);
                    P o = c.out(dt, shape);
                    c.each((b, i) -> b.siluMul(g.get(i), u.get(i), o.get(i)));
                    c.check("silu_mul " + dt, o);
                    P gy = c.randn(dt, shape), gg = c.out(dt, shape), gu = c.out(dt, shape);
                    c.each((b, i) -> b.siluMulBackward(g.get(i), u.get(i), gy.get(i), gg.get(i), gu.get(i)));
                    c.check("silu_mul backward gate " + dt, gg);
                    c.check("silu_mul backward up " + dt, gu);
                }
            }
        }
    }

    void crossEntropy() {
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int[] nv : new int[][] {{1, 7}, {9, 1000}, {33, 32001}, {130, 129}}) {
                try (Scope s = Scope.open()) {
                    int N = nv[0], V = nv[1];
                    P logits = c.randn(dt, 3, N, V);
                    P x = logits.map(t -> t.select(0, 2));
                    long[] tg = new long[N];
                    for (int r = 0; r < N; r++) tg[r] = r % 4 == 1 ? -100 : c.gen.nextLong(V);
                    P target = c.twin(Tensor.of(tg, N));
                    P loss = c.out(DType.F32, N), lse = c.out(DType.F32, N);
                    c.each((b, i) -> b.crossEntropy(x.get(i), target.get(i), -100, loss.get(i), lse.get(i)));
                    String tag = dt + " " + N + "x" + V;
                    c.check("cross_entropy loss " + tag, loss, BackendConformance.tolerance(DType.F32));
                    c.check("cross_entropy lse " + tag, lse, BackendConformance.tolerance(DType.F32));
                    P gl = c.randn(DType.F32, N), g = c.out(dt, N, V);
                    c.each((b, i) -> b.crossEntropyBackward(x.get(i), target.get(i), lse.get(i), gl.get(i), -100, g.get(i)));
                    c.check("cross_entropy backward " + tag, g);
                }
            }
        }
    }

    void adamw() {
        for (DType gd : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (double wd : new double[] {0, 0.1}) {
                try (Scope s = Scope.open()) {
                    int n = 10_007;
                    P p = c.randn(DType.F32, n), m = c.randnScaled(DType.F32, 0.1, n), v = c.positive(DType.F32, n);
                    P g = c.randn(gd, n);
                    P copy = gd == DType.F32 ? null : c.out(gd, n);
                    for (long step = 1; step <= 3; step++) {
                        long st = step;
                        c.each((b, i) -> b.adamw(p.get(i), g.get(i), m.get(i), v.get(i), 1e-3, 0.9, 0.999, 1e-8, wd, st,
                            BackendConformance.get(copy, i)));
                    }
                    String tag = "grad " + gd + " wd " + wd;
                    c.check("adamw param " + tag, p);
                    c.check("adamw exp_avg " + tag, m);
                    c.check("adamw exp_avg_sq " + tag, v);
                    if (copy != null) c.check("adamw copy " + tag, copy);
                }
            }
        }
        try (Scope s = Scope.open()) {
            // the one-element edge
            P p = c.randn(DType.F32, 1), m = c.randn(DType.F32, 1), v = c.positive(DType.F32, 1), g = c.randn(DType.F32, 1);
            c.each((b, i) -> b.adamw(p.get(i), g.get(i), m.get(i), v.get(i), 1e-2, 0.9, 0.95, 1e-8, 0, 100, null));
            c.check("adamw one element", p);
        }
    }

    /** A sanity check that the harness notices a wrong answer (not merely that nothing crashed). */
    void harnessDetectsMismatch() {
        try (Scope s = Scope.open()) {
            P x = c.randn(DType.F32, 4, 4);
            P o = c.out(DType.F32, 4, 4);
            c.each((b, i) -> b.unary(i == 0 ? UnaryOp.EXP : UnaryOp.NEG, x.get(i), o.get(i), 0, 0));
            boolean caught = false;
            try {
                c.check("deliberate mismatch", o);
            } catch (AssertionError expected) {
                caught = true;
            }
            assertEquals(true, caught, "the comparison must reject different results");
            P skipped = c.out(DType.F32, 3);
            c.each((b, i) -> {
                if (i == 0) b.fill(skipped.get(i), 1);
            });
            caught = false;
            try {
                c.check("poisoned output left unwritten", skipped);
            } catch (AssertionError expected) {
                caught = true;
            }
            assertEquals(true, caught, "an unwritten (NaN-poisoned) output must be rejected");
        }
    }
}
