package llava.bench;

import java.util.Arrays;
import llava.core.Backends;

/**
 * Runs the CUDA kernel benchmarks (llava.bench.Cuda.*) with JMH, or says why not and exits 0 when
 * there is no usable GPU: {@code java -cp benchmarks.jar llava.bench.CudaBenchMain [JMH options]}.
 */
public final class CudaBenchMain {
    private CudaBenchMain() {}

    public static void main(String[] args) throws Exception {
        if (!Backends.cudaAvailable()) {
            System.out.println("[bench] CUDA benchmarks skipped: no usable GPU: " + Backends.cudaStatus());
            return;
        }
        boolean hasPattern = Arrays.stream(args).anyMatch(a -> !a.startsWith("-"));
        String[] jmh = hasPattern ? args : concat(args, "llava.bench.Cuda.*Bench");
        org.openjdk.jmh.Main.main(jmh);
    }

    private static String[] concat(String[] a, String b) {
        String[] r = Arrays.copyOf(a, a.length + 1);
        r[a.length] = b;
        return r;
    }
}
