package llava.core.cpu;

import llava.core.DType;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * GEMM through OpenBLAS sgemm (org.bytedeco:openblas). CPU tensors live in Java arrays, and
 * passing a float[] to JavaCPP copies the whole array in and out on every call, so operands are
 * copied into per-thread native scratch buffers (bounded: large operands go through in panels)
 * and the result is copied back. A transposed operand is copied as it is stored and handed to
 * OpenBLAS with the transpose flag. BF16/F16 operands are widened to F32 during that copy.
 *
 * <p>Threads: OpenBLAS is set once to one thread and large products are split into blocks over
 * {@link Parallel}'s pool (all cores), each block one single-threaded sgemm. OpenBLAS's own
 * threading splits the work statically and its threads spin and sleep on their own schedule: on
 * the shared 2-vCPU machine of benchmarks/README.md a 2-thread OpenBLAS call of 128^3 averaged
 * 0.5 GFLOP/s (best 180) while one thread averaged 90. {@code -Dllava.blas.threads=N} gives the
 * threading back to OpenBLAS for machines that nobody else uses.
 *
 * <p>Loading is tried once; when it fails (no native library for this platform, or
 * {@code -Dllava.cpu.blas=false}) one line is printed and {@link #available()} is false.
 */
final class Blas {
    private Blas() {}

    /** Floats per scratch buffer (16 MiB); bigger operands are split into row blocks and column panels.
     *  Not final only so that tests can make it small; never changed otherwise. */
    static volatile int scratchFloats = 1 << 22;

    /**
     * OpenBLAS's own thread count: 1 by default, with the work split over {@link Parallel}'s pool
     * instead (one single-threaded sgemm per row or column block); -Dllava.blas.threads=N hands
     * the threading to OpenBLAS (steady only on a machine nobody else uses, see the class doc).
     */
    static final int OPENBLAS_THREADS = Math.max(1, Integer.getInteger("llava.blas.threads", 1));

    /** Multiply-adds below which one call is not split over the pool. */
    static final long SPLIT_MIN_MACS = 1L << 25; // 256^3 ran faster whole (100 vs 80 GFLOP/s), 384^3 split (140 vs 120)

    private static final boolean AVAILABLE = load();

    static boolean available() { return AVAILABLE; }

    private static boolean load() {
        if (!Boolean.parseBoolean(System.getProperty("llava.cpu.blas", "true"))) return false;
        try {
            Loader.load(openblas_nolapack.class);
            org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(OPENBLAS_THREADS);
            return true;
        } catch (LinkageError | RuntimeException e) {
            System.err.println("[llava] OpenBLAS could not be loaded (" + e + "); F32 matmul uses the Java kernels");
            return false;
        }
    }

    private static final class Scratch {
        FloatPointer a, b, c;
        float[] row = new float[0];

        static FloatPointer ensure(FloatPointer p, long n) {
            if (p == null || p.capacity() < n) {
                if (p != null) p.close();
                p = new FloatPointer(Math.max(n, 1));
            }
            return p;
        }

        float[] row(int n) {
            if (row.length < n) row = new float[n];
            return row;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Whether the product can go to OpenBLAS: F32, or BF16/F16 widened to F32 while being copied
     * in (so only bounded panels are ever held in F32); any strides.
     */
    static boolean accepts(Operand a, Operand b) {
        DType dt = a.dt();
        return AVAILABLE && dt == b.dt() && (dt == DType.F32 || dt.isHalf());
    }

    /** c[cOff + i * ldc + j] = sum_k A(i, k) B(k, j) for i < M, j < N (overwrites; K may be 0). */
    static void sgemm(int M, int N, int K, Operand a, Operand b, float[] c, int cOff, int ldc) {
        if (M == 0 || N == 0) return;
        Scratch s = SCRATCH.get();
        int limit = scratchFloats, minBlock = Math.min(256, limit / 16);
        int nb = (long) K * N <= limit ? N : Math.min(N, Math.max(minBlock, limit / Math.max(K, 1)));
        int mb = (long) M * Math.max(K, nb) <= limit ? M : Math.min(M, Math.max(minBlock, limit / Math.max(K, nb)));
        boolean aTrans = a.rs() == 1 && a.cs() != 1, bTrans = b.rs() == 1 && b.cs() != 1;
        s.a = Scratch.ensure(s.a, (long) mb * K);
        s.b = Scratch.ensure(s.b, (long) K * nb);
        s.c = Scratch.ensure(s.c, (long) mb * nb);
        boolean bOnce = nb == N;
        if (bOnce) copyIn(b, 0, K, 0, N, bTrans, s.b, s);
        for (int m0 = 0; m0 < M; m0 += mb) {
            int mh = Math.min(mb, M - m0);
            copyIn(a, m0, mh, 0, K, aTrans, s.a, s);
            for (int n0 = 0; n0 < N; n0 += nb) {
                int nw = Math.min(nb, N - n0);
                if (!bOnce) copyIn(b, 0, K, n0, nw, bTrans, s.b, s);
                multiply(mh, nw, K, s.a, aTrans, s.b, bTrans, s.c);
                if (nw == ldc) {
                    s.c.position(0).get(c, cOff + m0 * ldc, mh * nw);
                } else {
                    for (int i = 0; i < mh; i++) s.c.position((long) i * nw).get(c, cOff + (m0 + i) * ldc + n0, nw);
                }
                s.c.position(0);
            }
        }
    }

    /**
     * C[m, n] = A B on the native panels (A dense [m, K], or [K, m] when aTrans; B dense [K, n],
     * or [n, K] when bTrans; C dense [m, n]). Large products are split into column blocks (row
     * blocks when C is much taller than wide) that the pool's threads hand to single-threaded
     * OpenBLAS.
     */
    private static void multiply(int m, int n, int K, FloatPointer a, boolean aTrans, FloatPointer b, boolean bTrans, FloatPointer c) {
        int threads = Parallel.threads();
        if (OPENBLAS_THREADS > 1 || threads == 1 || (long) m * n * K < SPLIT_MIN_MACS) {
            call(m, n, K, a, 0, aTrans ? m : K, aTrans, b, 0, bTrans ? K : n, bTrans, c, 0, n);
            return;
        }
        // column blocks unless C is much taller than wide: measured 10-20 % faster for A @ B than
        // row blocks (same speed for A @ W^T)
        boolean byRows = m > 2 * n;
        int len = byRows ? m : n;
        // one block per thread: every block repacks the other operand inside OpenBLAS, so more
        // blocks cost more than they balance (measured: 270 vs 225 GFLOP/s at 1024^3); blocks are
        // taken from a shared counter, so a thread that starts late finds its block already done
        int parts = Math.max(1, Math.min(threads, len / 64));
        Parallel.forDynamic(parts, () -> null, (unused, part) -> {
            int s = (int) ((long) len * part / parts), e = (int) ((long) len * (part + 1) / parts);
            if (byRows) { // rows s..e of A and C
                call(e - s, n, K, a, aTrans ? s : (long) s * K, aTrans ? m : K, aTrans, b, 0, bTrans ? K : n, bTrans,
                    c, (long) s * n, n);
            } else { // columns s..e of B and C
                call(m, e - s, K, a, 0, aTrans ? m : K, aTrans, b, bTrans ? (long) s * K : s, bTrans ? K : n, bTrans,
                    c, s, n);
            }
        }, null);
    }

    /** One cblas_sgemm on sub-matrices starting at the given element offsets of the panels. */
    private static void call(int m, int n, int K, FloatPointer a, long aOff, int lda, boolean aTrans,
                             FloatPointer b, long bOff, int ldb, boolean bTrans, FloatPointer c, long cOff, int ldc) {
        // views: JavaCPP passes address + position, and the panels' own positions must stay 0
        FloatPointer av = new FloatPointer(a).position(aOff), bv = new FloatPointer(b).position(bOff);
        FloatPointer cv = new FloatPointer(c).position(cOff);
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
            aTrans ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
            bTrans ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
            m, n, K, 1f, av, Math.max(1, lda), bv, Math.max(1, ldb), 0f, cv, Math.max(1, ldc));
    }

    /**
     * Copies rows [i0, i0 + m) x columns [j0, j0 + n) of op densely into dst: row-major [m, n], or,
     * when transposed (op's columns are contiguous), column-major, i.e. [n, m] row-major.
     */
    private static void copyIn(Operand op, int i0, int m, int j0, int n, boolean transposed, FloatPointer dst, Scratch s) {
        boolean f32 = op.dt() == DType.F32;
        if (f32 && transposed) { // column j of op is contiguous: op.off + j * cs + i
            float[] arr = (float[]) op.arr();
            if (op.cs() == m && i0 == 0) {
                dst.position(0).put(arr, op.off() + j0 * op.cs(), m * n);
            } else {
                for (int j = 0; j < n; j++) dst.position((long) j * m).put(arr, op.off() + i0 + (j0 + j) * op.cs(), m);
            }
        } else if (f32 && op.cs() == 1) {
            float[] arr = (float[]) op.arr();
            if (op.rs() == n && j0 == 0) {
                dst.position(0).put(arr, op.off() + i0 * op.rs(), m * n);
            } else {
                for (int i = 0; i < m; i++) dst.position((long) i * n).put(arr, op.off() + (i0 + i) * op.rs() + j0, n);
            }
        } else if (transposed) { // a half type: widen column by column
            float[] line = s.row(m);
            for (int j = 0; j < n; j++) {
                op.loadBlock(i0, m, j0 + j, 1, line, 0, 1, 1);
                dst.position((long) j * m).put(line, 0, m);
            }
        } else { // a half type, or F32 with neither stride 1: gather (and widen) row by row
            float[] line = s.row(n);
            for (int i = 0; i < m; i++) {
                op.loadRow(i0 + i, j0, n, line, 0);
                dst.position((long) i * n).put(line, 0, n);
            }
        }
        dst.position(0);
    }
}
