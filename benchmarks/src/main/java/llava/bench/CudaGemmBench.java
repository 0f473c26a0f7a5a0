package llava.bench;

import java.util.concurrent.TimeUnit;
import llava.core.Backend;
import llava.core.DType;
import llava.core.Tensor;
import llava.cuda.CudaBackend;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GEMM, ours (llava_gemm) against cuBLAS, on LLaMA-7B and CLIP ViT-L/14 shapes: tokens x out x in,
 * with the weight stored [out, in] as nn.Linear keeps it. Time per GEMM (divide 2*M*N*K by it for
 * FLOP/s); each invocation queues 10 GEMMs and waits for them.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CudaGemmBench {
    @Param({"4096x4096x4096", "4096x11008x4096", "4096x4096x11008", "2308x4096x1024", "2308x1024x4096", "1x4096x4096"})
    public String mnk;

    @Param({"llava", "cublas"})
    public String engine;

    @Param({"BF16"})
    public String dtype;

    private Backend backend;
    private Tensor a, w, wt, out;

    @Setup(Level.Trial)
    public void setup() {
        backend = CudaBenchSupport.backend();
        System.setProperty(CudaBackend.GEMM_PROPERTY, engine);
        String[] p = mnk.split("x");
        int m = Integer.parseInt(p[0]), n = Integer.parseInt(p[1]), k = Integer.parseInt(p[2]);
        DType dt = DType.parse(dtype);
        a = CudaBenchSupport.random(1, dt, m, k);
        w = CudaBenchSupport.random(2, dt, n, k);
        wt = w.t();
        out = Tensor.empty(dt, CudaBenchSupport.GPU, m, n);
    }

    @Benchmark
    @org.openjdk.jmh.annotations.OperationsPerInvocation(10)
    public void gemm() {
        for (int i = 0; i < 10; i++) backend.matmul(a, wt, null, out);
        backend.synchronize(CudaBenchSupport.GPU);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        CudaBenchSupport.closeAll(a, w, wt, out);
        System.clearProperty(CudaBackend.GEMM_PROPERTY);
    }
}
