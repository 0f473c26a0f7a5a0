package llava.core.demo;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Tensor;
import llava.core.autograd.GradMode;
import llava.core.cli.Args;
import llava.core.cli.Command;
import llava.core.optim.AdamW;
import llava.core.optim.GradClip;
import llava.core.optim.LrSchedule;
import llava.core.optim.LrScheduler;
import llava.core.optim.ParamGroup;

/**
 * {@code ./llava demo}: trains a small transformer on generated digit problems (sort, reverse or
 * copy) with AdamW, a cosine schedule and gradient clipping, then evaluates it by greedy decoding
 * on held-out problems it never saw. Everything is seeded: the same flags print the same losses
 * and results (the elapsed times vary).
 */
public final class EngineDemo implements Command {

    /** What a run is made of. */
    public record Settings(DigitTask.Kind task, int length, int steps, int batchSize, double learningRate, double weightDecay,
                           double warmupRatio, double maxGradNorm, int logEvery, int evalSize, long seed, Device device,
                           DType dtype, TinyTransformer.Config model) {}

    /** What a run produced: the mean training loss of each logged window and the held-out accuracy. */
    public record Result(List<Double> windowLosses, double sequenceAccuracy, double digitAccuracy) {
        public double firstLoss() { return windowLosses.get(0); }
        public double lastLoss() { return windowLosses.get(windowLosses.size() - 1); }
    }

    private static final Map<String, String> FLAGS = new LinkedHashMap<>();
    static {
        FLAGS.put("steps", "training steps (default 700)");
        FLAGS.put("seed", "random seed for weights and data (default 0)");
        FLAGS.put("device", "cpu or cuda[:i] (default cpu)");
        FLAGS.put("dtype", "f32 or bf16 weights and activations; bf16 keeps F32 masters in AdamW (default f32)");
        FLAGS.put("task", "sort, reverse or copy (default sort)");
        FLAGS.put("length", "digits per problem (default 8)");
        FLAGS.put("batch_size", "problems per step (default 32)");
        FLAGS.put("learning_rate", "peak AdamW learning rate (default 3e-3)");
        FLAGS.put("log_every", "steps per progress line (default 50, at most steps/10)");
        FLAGS.put("eval_size", "held-out problems to evaluate (default 500)");
        FLAGS.put("help", "print this help");
    }

    private final PrintStream out;
    private Result lastResult;

    public EngineDemo() { this(System.out); }

    public EngineDemo(PrintStream out) { this.out = out; }

    @Override public String name() { return "demo"; }

    @Override public String summary() {
        return "train a small transformer on generated digit problems and evaluate it (an engine demo)";
    }

    /** The result of the last {@link #run}. */
    public Result lastResult() { return lastResult; }

    @Override
    public int run(String[] argv) {
        Args a = Args.parse(argv, FLAGS, Set.of("help"));
        if (a.getBool("help", false)) {
            out.print(Args.usage(name(), FLAGS));
            return 0;
        }
        if (!a.positional().isEmpty()) throw new Args.UsageException("unexpected argument '" + a.positional().get(0) + "'");
        int steps = a.getInt("steps", 700);
        if (steps < 1) throw new Args.UsageException("--steps must be at least 1, got " + steps);
        DType dtype = parseDtype(a.get("dtype", "f32"));
        Device device;
        try {
            device = Device.parse(a.get("device", "cpu"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException("--device: " + e.getMessage());
        }
        DigitTask.Kind task;
        try {
            task = DigitTask.parseKind(a.get("task", "sort"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException("--task: " + e.getMessage());
        }
        int length = a.getInt("length", 8);
        if (length < 1 || length > 32) throw new Args.UsageException("--length must be in 1..32, got " + length);
        int batch = a.getInt("batch_size", 32);
        if (batch < 1) throw new Args.UsageException("--batch_size must be at least 1, got " + batch);
        double lr = a.getDouble("learning_rate", 3e-3);
        if (!(lr > 0)) throw new Args.UsageException("--learning_rate must be positive, got " + lr);
        int logEvery = a.getInt("log_every", Math.max(1, Math.min(50, steps / 10)));
        if (logEvery < 1) throw new Args.UsageException("--log_every must be at least 1, got " + logEvery);
        int evalSize = a.getInt("eval_size", 500);
        if (evalSize < 1) throw new Args.UsageException("--eval_size must be at least 1, got " + evalSize);
        long maxEval = new DigitTask(task, length).maxHeldOut();
        if (evalSize > maxEval) {
            throw new Args.UsageException("--eval_size " + evalSize + " is too large for --length " + length + ": at most "
                + maxEval + " (half of the possible problems) can be held out");
        }
        TinyTransformer.Config model = new TinyTransformer.Config(DigitTask.VOCAB, 64, 2, 4, 172, true, 1e-5, 10000);
        Settings s = new Settings(task, length, steps, batch, lr, 0.01, 0.05, 1.0, logEvery, evalSize,
            a.getInt("seed", 0), device, dtype, model);
        lastResult = train(s, out);
        return 0;
    }

    private static DType parseDtype(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "fp32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            default -> throw new Args.UsageException("--dtype must be f32 or bf16, got '" + s + "'");
        };
    }

    /** Trains and evaluates as the settings say, printing progress to out. */
    public static Result train(Settings s, PrintStream out) {
        Backends.get(s.device()); // fails here, with the reason, when the device is unusable
        DigitTask task = new DigitTask(s.task(), s.length());
        Generator initGen = new Generator(s.seed());
        Generator dataGen = new Generator(s.seed() * 0x9E3779B97F4A7C15L + 1);
        Generator evalGen = new Generator(s.seed() * 0x9E3779B97F4A7C15L + 2);
        int[][] heldOut = task.heldOut(evalGen, s.evalSize());
        Set<String> exclude = new HashSet<>();
        for (int[] x : heldOut) exclude.add(DigitTask.key(x));

        try (TinyTransformer model = new TinyTransformer(s.model(), s.dtype(), s.device(), initGen);
             AdamW opt = new AdamW(ParamGroup.decayAndNoDecay(model, s.learningRate(), s.weightDecay()), 0.9, 0.999, 1e-8)) {
            long warmup = LrSchedule.warmupSteps(s.steps(), 0, s.warmupRatio());
            LrScheduler sched = new LrScheduler(opt, LrSchedule.cosineWithWarmup(warmup, s.steps()));
            out.printf(Locale.ROOT, "task: %s %d digits (BOS x SEP y), %d held-out problems never trained on%n",
                s.task().name().toLowerCase(Locale.ROOT), s.length(), heldOut.length);
            TinyTransformer.Config c = s.model();
            out.printf(Locale.ROOT, "model: %d pre-norm decoder layers (dim %d, %d heads, causal attention with RoPE, SwiGLU %d, "
                + "RMSNorm), %s head, %,d parameters, %s on %s%n", c.numLayers(), c.dim(), c.numHeads(), c.hiddenDim(),
                c.tiedEmbeddings() ? "tied" : "untied", model.numParameters(true), s.dtype(), s.device());
            out.printf(Locale.ROOT, "training: %d steps of %d problems, AdamW lr %.1e (cosine, %d warmup steps), "
                + "weight decay %.2f, clip %.1f, seed %d%n", s.steps(), s.batchSize(), s.learningRate(), warmup,
                s.weightDecay(), s.maxGradNorm(), s.seed());
            List<Double> windows = new ArrayList<>();
            double windowSum = 0;
            int windowCount = 0;
            long t0 = System.nanoTime();
            for (int step = 1; step <= s.steps(); step++) {
                double lrUsed = sched.lr();
                DigitTask.Batch b = task.trainingBatch(dataGen, s.batchSize(), exclude);
                double loss;
                try (Scope sc = Scope.open()) {
                    Tensor ids = Tensor.of(b.ids(), b.batch(), b.length()).to(s.device());
                    Tensor targets = Tensor.of(b.targets(), b.batch(), b.length()).to(s.device());
                    Tensor l = model.loss(ids, targets);
                    l.backward();
                    loss = l.item();
                }
                double gradNorm = GradClip.clipGradNorm(model.trainableParameters(), s.maxGradNorm());
                opt.step();
                sched.step();
                opt.zeroGrad();
                windowSum += loss;
                windowCount++;
                if (step % s.logEvery() == 0 || step == s.steps()) {
                    double mean = windowSum / windowCount;
                    windows.add(mean);
                    out.printf(Locale.ROOT, "step %5d/%d  loss %.4f  lr %.2e  grad norm %6.3f  %6.1fs%n", step, s.steps(), mean,
                        lrUsed, gradNorm, (System.nanoTime() - t0) / 1e9);
                    windowSum = 0;
                    windowCount = 0;
                }
            }
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            int[][] predicted = greedy(model, task, heldOut, s.device());
            int exact = 0, digits = 0;
            for (int i = 0; i < heldOut.length; i++) {
                int[] want = task.answer(heldOut[i]);
                boolean all = true;
                for (int j = 0; j < want.length; j++) {
                    if (want[j] == predicted[i][j]) digits++;
                    else all = false;
                }
                if (all) exact++;
            }
            double seqAcc = (double) exact / heldOut.length, digitAcc = (double) digits / (heldOut.length * (double) s.length());
            out.printf(Locale.ROOT, "held-out: %d/%d problems exactly right (%.1f%%), %.1f%% of digits right  "
                + "(train %.1fs, eval %.1fs)%n", exact, heldOut.length, 100 * seqAcc, 100 * digitAcc, trainSeconds,
                (System.nanoTime() - t0) / 1e9 - trainSeconds);
            // the first few problems, then the first few mistakes
            int shown = 0, wrongShown = 0;
            for (int i = 0; i < heldOut.length && (shown < 5 || wrongShown < 3); i++) {
                int[] want = task.answer(heldOut[i]);
                boolean ok = java.util.Arrays.equals(want, predicted[i]);
                if (shown >= 5 && ok) continue;
                if (shown >= 5) wrongShown++;
                shown++;
                out.printf(Locale.ROOT, "  %s -> %s  %s%n", spaced(heldOut[i]), spaced(predicted[i]),
                    ok ? "ok" : "wrong (want " + spaced(want) + ")");
            }
            return new Result(List.copyOf(windows), seqAcc, digitAcc);
        }
    }

    /** Answers by greedy decoding, one digit at a time (the full prefix is recomputed each time). */
    static int[][] greedy(TinyTransformer model, DigitTask task, int[][] problems, Device device) {
        int n = task.length;
        int[][] answers = new int[problems.length][n];
        int chunk = 128;
        try (GradMode ng = GradMode.noGrad()) {
            for (int start = 0; start < problems.length; start += chunk) {
                int B = Math.min(chunk, problems.length - start);
                for (int pos = 0; pos < n; pos++) {
                    int T = n + 2 + pos;
                    long[] ids = new long[B * T];
                    for (int b = 0; b < B; b++) { // BOS x SEP and the answer digits decoded so far
                        System.arraycopy(task.sequence(problems[start + b], answers[start + b]), 0, ids, b * T, T);
                    }
                    try (Scope sc = Scope.open()) {
                        Tensor logits = model.forward(Tensor.of(ids, B, T).to(device));
                        long[] next = logits.select(1, T - 1).argmax(1, false).toLongArray();
                        for (int b = 0; b < B; b++) answers[start + b][pos] = (int) next[b];
                    }
                }
            }
        }
        return answers;
    }

    private static String spaced(int[] d) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < d.length; i++) {
            String tok = d[i] == DigitTask.BOS ? "<bos>" : d[i] == DigitTask.SEP ? "<sep>" : Integer.toString(d[i]);
            sb.append(i == 0 ? "" : " ").append(tok);
        }
        return sb.toString();
    }
}
