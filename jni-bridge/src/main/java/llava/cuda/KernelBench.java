package llava.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import llava.core.BinaryOp;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import org.bytedeco.cuda.cudart.CUevent_st;

/**
 * A quick benchmark of the kernels for the GPU check (no JMH needed): each kernel's TFLOP/s or
 * GB/s, GEMMs next to cuBLAS, memory-bound kernels next to a measured device-to-device copy.
 * Times come from CUDA events around a loop of launches on the compute stream (best of three).
 * Attention FLOPs are counted as FlashAttention does: 4 * seq^2 * d * heads forward, 2.5x that
 * backward, halved when causal.
 *
 * <pre>java ... llava.cuda.KernelBench [--quick] [--out results.json]</pre>
 * Exit code 0 when every benchmark ran, 1 when some failed (their errors are in the JSON), 2
 * without a usable GPU.
 */
public final class KernelBench {
    /** One measurement. value is TFLOP/s (kind "tflops") or GB/s ("gbps"); baseline likewise, or NaN. */
    record Result(String name, String shape, String dtype, double ms, String kind, double value, double baseline,
                  String baselineName, String error) {
        String unit() { return kind.equals("tflops") ? "TFLOP/s" : "GB/s"; }
    }

    private static final Device GPU = Device.cuda(0);
    private final CudaBackend backend;
    private final CudaDevice device;
    private final List<Result> results = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom(1234);
    private double copyGBs = Double.NaN;
    private final Path out;
    private final String deviceName;

    private KernelBench(CudaBackend backend, Path out, String deviceName) {
        this.backend = backend;
        this.device = backend.device(0);
        this.out = out;
        this.deviceName = deviceName;
    }

    /** Writes the results so far (after every benchmark: a run cut short by a timeout keeps what it measured). */
    private void save() {
        if (out == null) return;
        try {
            writeAtomically(out, report(deviceName));
        } catch (IOException e) {
            System.err.println("[bench] could not write " + out + ": " + e);
        }
    }

    public static void main(String[] args) throws IOException {
        boolean quick = false;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: KernelBench [--quick] [--out results.json]");
                    System.exit(64);
                }
            }
        }
        Cuda.Status st = Cuda.status();
        if (!st.available()) {
            System.err.println("[bench] no usable GPU: " + st.reason());
            if (out != null) writeAtomically(out, "{\"available\": false, \"reason\": " + json(st.reason()) + "}\n");
            System.exit(2);
        }
        System.out.println("[bench] " + st.reason());
        KernelBench b = new KernelBench(CudaBackendProvider.instance(), out, st.reason());
        try (GradMode ng = GradMode.noGrad()) {
            b.runAll(quick);
        }
        String table = b.table();
        b.save();
        System.out.println(table);
        System.exit(b.results.stream().anyMatch(r -> r.error() != null) ? 1 : 0);
    }

    private void runAll(boolean quick) {
        copyGBs = measure("copy d2d", "256 MiB", "bytes", () -> copyBandwidth(256L << 20), "gbps", Double.NaN, null);
        // GEMM: LLaMA-7B projections (tokens x out x in) and CLIP ViT-L/14 MLP, ours vs cuBLAS
        int[][] gemms = quick ? new int[][] {{4096, 4096, 4096}, {4096, 11008, 4096}, {2308, 4096, 1024}}
            : new int[][] {{4096, 4096, 4096}, {4096, 11008, 4096}, {4096, 4096, 11008}, {2308, 4096, 1024}, {2308, 1024, 4096},
                {1, 4096, 4096}, {8192, 8192, 8192}};
        for (int[] g : gemms) gemm(g[0], g[1], g[2], DType.BF16);
        gemm(2048, 2048, 2048, DType.F32);
        // attention: heads x seq x d, batch 1 (forward and backward, causal and not)
        int[][] att = quick ? new int[][] {{32, 1024, 128}, {32, 4096, 128}, {16, 2048, 64}}
            : new int[][] {{32, 256, 128}, {32, 1024, 128}, {32, 2048, 128}, {32, 4096, 128}, {16, 1024, 64}, {16, 4096, 64}};
        for (int[] a : att) {
            attention(a[0], a[1], a[2], true);
            attention(a[0], a[1], a[2], false);
        }
        // memory-bound kernels at LLaMA-7B activation sizes (8 x 2048 tokens)
        int rows = 16384, hidden = 4096;
        rmsNorm(rows, hidden);
        layerNorm(rows, 1024);
        rope(8, 2048, 32, 128);
        siluMul(rows, 11008);
        crossEntropy(quick ? 2048 : 8192, 32000);
        softmax(rows, 2048);
        add(rows, hidden);
        adamw(64L << 20);
    }

    // ---- timing ----------------------------------------------------------------------------

    private interface Body { void run(); }

    /** Milliseconds per call of body: warm-up, then the best of three event-timed loops. */
    private double timeMs(Body body) {
        for (int i = 0; i < 3; i++) body.run();
        device.synchronize();
        // size the loop to ~50 ms so launch overhead and timer resolution do not matter
        CUevent_st start = Cuda.eventCreate(true), end = Cuda.eventCreate(true);
        try {
            Cuda.eventRecord(start, device.stream());
            body.run();
            Cuda.eventRecord(end, device.stream());
            Cuda.eventSynchronize(end, "bench");
            double one = Math.max(Cuda.elapsedMs(start, end), 1e-3);
            int iters = (int) Math.max(3, Math.min(200, 50 / one));
            double best = Double.POSITIVE_INFINITY;
            for (int rep = 0; rep < 3; rep++) {
                Cuda.eventRecord(start, device.stream());
                for (int i = 0; i < iters; i++) body.run();
                Cuda.eventRecord(end, device.stream());
                Cuda.eventSynchronize(end, "bench");
                best = Math.min(best, Cuda.elapsedMs(start, end) / iters);
            }
            return best;
        } finally {
            Cuda.eventDestroy(start);
            Cuda.eventDestroy(end);
        }
    }

    /** Runs one benchmark; a failure is recorded, not thrown. value(ms) converts a time to the metric. */
    private double measure(String name, String shape, String dtype, java.util.function.Supplier<double[]> run, String kind,
                           double baseline, String baselineName) {
        System.out.println("[bench] " + name + " " + shape + " " + dtype);
        try {
            double[] msAndValue = run.get();
            results.add(new Result(name, shape, dtype, msAndValue[0], kind, msAndValue[1], baseline, baselineName, null));
            save();
            return msAndValue[1];
        } catch (RuntimeException e) {
            failed(name, shape, dtype, kind, baseline, baselineName, e);
            return Double.NaN;
        }
    }

    /** Records a benchmark (or the setup of a group of them) that threw, and saves. */
    private void failed(String name, String shape, String dtype, String kind, double baseline, String baselineName,
                        RuntimeException e) {
        results.add(new Result(name, shape, dtype, Double.NaN, kind, Double.NaN, baseline, baselineName,
            e.getClass().getSimpleName() + ": " + e.getMessage()));
        System.out.println("[bench]   failed: " + e);
        save();
        try {
            device.synchronize();
        } catch (RuntimeException ignored) {
            // a sticky device error: later benchmarks will report it too
        }
    }

    private static double tflops(double flops, double ms) { return flops / (ms * 1e-3) / 1e12; }

    private static double gbps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

    /** A device tensor of uniform random values in [-1, 1) (generated on the host, rounded to dt). */
    private Tensor random(DType dt, int... shape) {
        int n = 1;
        for (int s : shape) n = Math.multiplyExact(n, s);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (random.nextDouble() * 2 - 1);
        try (Tensor h = Tensor.of(v, shape); Tensor d = h.to(GPU)) {
            return d.to(dt);
        }
    }

    // ---- benchmarks ------------------------------------------------------------------------

    private double[] copyBandwidth(long bytes) {
        int n = (int) (bytes / 4);
        try (Tensor a = Tensor.zeros(DType.F32, GPU, n); Tensor b = Tensor.empty(DType.F32, GPU, n)) {
            long src = CudaBackend.ptr(a), dst = CudaBackend.ptr(b);
            double ms = timeMs(() -> Cuda.memcpyAsync(dst, src, bytes, Cuda.D2D, device.stream(), "bench copy"));
            return new double[] {ms, gbps(2.0 * bytes, ms)}; // bytes read + bytes written
        }
    }

    private void gemm(int M, int N, int K, DType dt) {
        String shape = M + "x" + N + "x" + K;
        double flops = 2.0 * M * N * K;
        try (Tensor a = random(dt, M, K); Tensor w = random(dt, N, K); Tensor out = Tensor.empty(dt, GPU, M, N);
             Tensor wt = w.t()) {
            Body ours = () -> backend.matmul(a, wt, null, out);
            double cublas = measure("gemm cuBLAS", shape, dt.name(), () -> timeGemm("cublas", ours, flops), "tflops", Double.NaN,
                null);
            measure("gemm llava", shape, dt.name(), () -> timeGemm("llava", ours, flops), "tflops", cublas, "cuBLAS");
        } catch (RuntimeException e) {
            failed("gemm", shape, dt.name(), "tflops", Double.NaN, null, e);
        }
    }

    /** ms and TFLOP/s of a GEMM call timed on the given engine. */
    private double[] timeGemm(String engine, Body gemm, double flops) {
        double[] ms = new double[1];
        CudaBackend.withGemm(engine, () -> ms[0] = timeMs(gemm));
        return new double[] {ms[0], tflops(flops, ms[0])};
    }

    private void attention(int heads, int seq, int d, boolean causal) {
        String shape = "B1 H" + heads + " T" + seq + " D" + d + (causal ? " causal" : "");
        double fwd = 4.0 * seq * seq * d * heads * (causal ? 0.5 : 1);
        DType dt = DType.BF16;
        try (Tensor q = random(dt, 1, heads, seq, d); Tensor k = random(dt, 1, heads, seq, d); Tensor v = random(dt, 1, heads, seq, d);
             Tensor out = Tensor.empty(dt, GPU, 1, heads, seq, d); Tensor lse = Tensor.empty(DType.F32, GPU, 1, heads, seq);
             Tensor gout = random(dt, 1, heads, seq, d); Tensor gq = Tensor.empty(dt, GPU, 1, heads, seq, d);
             Tensor gk = Tensor.empty(dt, GPU, 1, heads, seq, d); Tensor gv = Tensor.empty(dt, GPU, 1, heads, seq, d)) {
            double scale = 1 / Math.sqrt(d);
            measure("attention fwd", shape, dt.name(), () -> {
                double ms = timeMs(() -> backend.attention(q, k, v, null, causal, scale, out, lse));
                return new double[] {ms, tflops(fwd, ms)};
            }, "tflops", Double.NaN, null);
            measure("attention bwd", shape, dt.name(), () -> {
                double ms = timeMs(() -> backend.attentionBackward(q, k, v, out, lse, gout, null, causal, scale, gq, gk, gv));
                return new double[] {ms, tflops(2.5 * fwd, ms)};
            }, "tflops", Double.NaN, null);
        } catch (RuntimeException e) {
            failed("attention", shape, dt.name(), "tflops", Double.NaN, null, e);
        }
    }

    /** A memory-bound kernel: GB/s of the bytes it must move, next to the copy bandwidth. */
    private void memoryBound(String name, String shape, DType dt, double bytes, Body body) {
        measure(name, shape, dt.name(), () -> {
            double ms = timeMs(body);
            return new double[] {ms, gbps(bytes, ms)};
        }, "gbps", copyGBs, "d2d copy");
    }

    private void rmsNorm(int rows, int cols) {
        DType dt = DType.BF16;
        try (Tensor x = random(dt, rows, cols); Tensor w = random(dt, cols); Tensor out = Tensor.empty(dt, GPU, rows, cols);
             Tensor rstd = Tensor.empty(DType.F32, GPU, rows); Tensor gy = random(dt, rows, cols);
             Tensor gx = Tensor.empty(dt, GPU, rows, cols); Tensor gw = Tensor.empty(dt, GPU, cols)) {
            double io = 2.0 * rows * cols * dt.byteSize();
            memoryBound("rms_norm fwd", rows + "x" + cols, dt, io, () -> backend.rmsNorm(x, w, 1e-6, out, rstd));
            memoryBound("rms_norm bwd", rows + "x" + cols, dt, 1.5 * io, () -> backend.rmsNormBackward(x, w, rstd, gy, gx, gw));
        }
    }

    private void layerNorm(int rows, int cols) {
        DType dt = DType.BF16;
        try (Tensor x = random(dt, rows, cols); Tensor w = random(dt, cols); Tensor b = random(dt, cols);
             Tensor out = Tensor.empty(dt, GPU, rows, cols); Tensor mean = Tensor.empty(DType.F32, GPU, rows);
             Tensor rstd = Tensor.empty(DType.F32, GPU, rows)) {
            memoryBound("layer_norm fwd", rows + "x" + cols, dt, 2.0 * rows * cols * dt.byteSize(),
                () -> backend.layerNorm(x, w, b, 1e-5, out, mean, rstd));
        }
    }

    private void rope(int B, int T, int H, int D) {
        DType dt = DType.BF16;
        long[] pos = new long[B * T];
        for (int i = 0; i < pos.length; i++) pos[i] = i % T;
        float[] f = new float[D / 2];
        for (int i = 0; i < D / 2; i++) f[i] = (float) (1.0 / Math.pow(10000, 2.0 * i / D));
        try (Tensor x = random(dt, B, T, H, D); Tensor out = Tensor.empty(dt, GPU, B, T, H, D);
             Tensor ph = Tensor.of(pos, B, T); Tensor p = ph.to(GPU); Tensor fh = Tensor.of(f, D / 2); Tensor inv = fh.to(GPU)) {
            memoryBound("rope", B + "x" + T + "x" + H + "x" + D, dt, 2.0 * x.numel() * dt.byteSize(),
                () -> backend.rope(x, p, inv, false, out));
        }
    }

    private void siluMul(int rows, int cols) {
        DType dt = DType.BF16;
        try (Tensor g = random(dt, rows, cols); Tensor u = random(dt, rows, cols); Tensor out = Tensor.empty(dt, GPU, rows, cols)) {
            memoryBound("silu_mul fwd", rows + "x" + cols, dt, 3.0 * g.numel() * dt.byteSize(), () -> backend.siluMul(g, u, out));
        }
    }

    private void crossEntropy(int rows, int vocab) {
        DType dt = DType.BF16;
        long[] t = new long[rows];
        for (int i = 0; i < rows; i++) t[i] = random.nextInt(vocab);
        try (Tensor logits = random(dt, rows, vocab); Tensor th = Tensor.of(t, rows); Tensor target = th.to(GPU);
             Tensor loss = Tensor.empty(DType.F32, GPU, rows); Tensor lse = Tensor.empty(DType.F32, GPU, rows);
             Tensor gl = Tensor.ones(DType.F32, GPU, rows); Tensor g = Tensor.empty(dt, GPU, rows, vocab)) {
            double bytes = (double) rows * vocab * dt.byteSize();
            memoryBound("cross_entropy fwd", rows + "x" + vocab, dt, bytes,
                () -> backend.crossEntropy(logits, target, -100, loss, lse));
            memoryBound("cross_entropy bwd", rows + "x" + vocab, dt, 2 * bytes,
                () -> backend.crossEntropyBackward(logits, target, lse, gl, -100, g));
        }
    }

    private void softmax(int rows, int cols) {
        DType dt = DType.BF16;
        try (Tensor x = random(dt, rows, cols); Tensor y = Tensor.empty(dt, GPU, rows, cols)) {
            memoryBound("softmax fwd", rows + "x" + cols, dt, 2.0 * x.numel() * dt.byteSize(), () -> backend.softmax(x, y, false));
        }
    }

    private void add(int rows, int cols) {
        DType dt = DType.BF16;
        try (Tensor a = random(dt, rows, cols); Tensor b = random(dt, rows, cols); Tensor o = Tensor.empty(dt, GPU, rows, cols)) {
            memoryBound("binary add", rows + "x" + cols, dt, 3.0 * a.numel() * dt.byteSize(),
                () -> backend.binary(BinaryOp.ADD, a, b, o));
            try (Tensor t = a.t(); Tensor c = Tensor.empty(dt, GPU, cols, rows)) {
                memoryBound("copy transpose", rows + "x" + cols, dt, 2.0 * a.numel() * dt.byteSize(), () -> backend.copy(t, c));
            }
        }
    }

    private void adamw(long n) {
        int count = (int) n;
        try (Tensor p = random(DType.F32, count); Tensor g = random(DType.BF16, count); Tensor m = Tensor.zeros(DType.F32, GPU, count);
             Tensor v = Tensor.zeros(DType.F32, GPU, count); Tensor copy = Tensor.empty(DType.BF16, GPU, count)) {
            // param, m, v read and written (F32), grad read and the bf16 copy written
            double bytes = count * (6.0 * 4 + 2 + 2);
            long[] step = {0};
            memoryBound("adamw", count + " params", DType.BF16, bytes,
                () -> backend.adamw(p, g, m, v, 1e-4, 0.9, 0.999, 1e-8, 0.01, ++step[0], copy));
        }
    }

    // ---- output ----------------------------------------------------------------------------

    private String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%n%-18s %-26s %-5s %10s %12s %14s%n", "kernel", "shape", "dtype", "ms", "result",
            "vs baseline"));
        for (Result r : results) {
            String value = r.error() != null ? "FAILED" : String.format(Locale.ROOT, "%.1f %s", r.value(), r.unit());
            String vs = r.error() != null ? r.error().length() > 40 ? r.error().substring(0, 40) : r.error()
                : Double.isNaN(r.baseline()) ? "" : String.format(Locale.ROOT, "%.0f%% of %s", 100 * r.value() / r.baseline(),
                    r.baselineName());
            sb.append(String.format(Locale.ROOT, "%-18s %-26s %-5s %10.3f %12s %14s%n", r.name(), r.shape(), r.dtype(), r.ms(),
                value, vs));
        }
        return sb.toString();
    }

    private String report(String device) {
        StringBuilder sb = new StringBuilder("{\n  \"available\": true,\n  \"device\": " + json(device)
            + ",\n  \"copy_gbps\": " + num(copyGBs) + ",\n  \"results\": [\n");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            sb.append("    {\"name\": ").append(json(r.name())).append(", \"shape\": ").append(json(r.shape()))
                .append(", \"dtype\": ").append(json(r.dtype())).append(", \"ms\": ").append(num(r.ms()))
                .append(", \"unit\": ").append(json(r.unit()))
                .append(", \"value\": ").append(num(r.value())).append(", \"baseline\": ").append(num(r.baseline()))
                .append(", \"baseline_name\": ").append(r.baselineName() == null ? "null" : json(r.baselineName()))
                .append(", \"error\": ").append(r.error() == null ? "null" : json(r.error())).append('}')
                .append(i + 1 < results.size() ? ",\n" : "\n");
        }
        return sb.append("  ]\n}\n").toString();
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null";
    }

    static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (ch < 0x20) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                    else sb.append(ch);
                }
            }
        }
        return sb.append('"').toString();
    }

    /** Writes to a temporary name beside the target, then renames. */
    static void writeAtomically(Path target, String content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, target.getFileName().toString(), ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
