package llava.core.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/** Splits index ranges over the CPU cores. */
public final class Parallel {
    private Parallel() {}

    private static final int THREADS = Math.max(1, Integer.getInteger("llava.cpu.threads",
        Runtime.getRuntime().availableProcessors()));
    private static final ForkJoinPool POOL = THREADS == 1 ? null : new ForkJoinPool(THREADS);

    public static int threads() { return THREADS; }

    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /**
     * Runs body over [0, n) in chunks of at least {@code grain} indices, in parallel when there
     * is enough work. Nested calls (from inside a parallel body) run sequentially.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int chunks = Math.min(THREADS, Math.max(1, n / Math.max(1, grain)));
        if (sequential(chunks)) {
            body.run(0, n);
            return;
        }
        fanOut(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }

    @FunctionalInterface
    public interface TaskBody<S> {
        void run(S scratch, int task);
    }

    /**
     * Runs tasks [0, n) with dynamic scheduling: each worker takes the next task index when it is
     * done with its last one, so tasks of uneven cost (causal attention rows) balance. Each worker
     * gets its own scratch from {@code scratch} (called once per worker) and, after its last task,
     * {@code done} (nullable) sees that scratch, e.g. to flush partial sums. Nested calls run
     * sequentially.
     */
    public static <S> void forDynamic(int n, Supplier<S> scratch, TaskBody<S> body, java.util.function.Consumer<S> done) {
        if (n <= 0) return;
        int workers = Math.min(THREADS, n);
        AtomicInteger next = new AtomicInteger();
        IntConsumer worker = w -> {
            S s = scratch.get();
            for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) body.run(s, i);
            if (done != null) done.accept(s);
        };
        if (sequential(workers)) worker.accept(0);
        else fanOut(workers, worker);
    }

    /** One part only, no pool, or already on a pool thread (nested calls run sequentially). */
    private static boolean sequential(int parts) {
        return parts <= 1 || POOL == null || ForkJoinTask.inForkJoinPool();
    }

    /** Runs part(0..parts) on the pool: parts 1.. forked, part 0 on the calling thread, then all joined. */
    private static void fanOut(int parts, IntConsumer part) {
        POOL.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts - 1];
                for (int c = 1; c < parts; c++) {
                    int p = c;
                    tasks[c - 1] = ForkJoinTask.adapt(() -> part.accept(p)).fork();
                }
                part.accept(0);
                for (int i = tasks.length - 1; i >= 0; i--) tasks[i].join();
            }
        });
    }
}
