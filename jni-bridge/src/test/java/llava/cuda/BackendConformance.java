package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.function.UnaryOperator;
import llava.core.Backend;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/**
 * Runs Backend primitives on a device under test and on the CPU backend with the same fresh
 * random inputs (never zeros), outputs poisoned with NaN (or a sentinel for integers) before each
 * run, and compares the results with per-dtype bounds. Used by the GPU tests (CUDA vs CPU) and,
 * with the CPU as the device under test, by a self-check that runs everywhere (so the scenarios
 * themselves are exercised before a GPU ever sees them).
 */
final class BackendConformance {
    final Device device;
    final Backend dut;
    final Backend cpu = Backends.cpu();
    final Generator gen;

    BackendConformance(Device device, long seed) {
        this.device = device;
        this.dut = Backends.get(device);
        this.gen = new Generator(seed);
    }

    /** Relative bound of a dtype: |got - ref| <= rtol * (|ref| + max|ref|). */
    static double tolerance(DType dt) {
        return switch (dt) {
            case F64 -> 1e-12;
            case F32 -> 1e-5;
            case F16 -> 2e-3;
            case BF16 -> 1e-2;
            default -> 0;
        };
    }

    /** The same tensor on the reference (CPU) side and on the device under test. */
    record P(Tensor ref, Tensor dut) {
        Tensor get(int side) { return side == 0 ? ref : dut; }

        P map(UnaryOperator<Tensor> f) { return new P(f.apply(ref), f.apply(dut)); }
    }

    static Tensor get(P p, int side) { return p == null ? null : p.get(side); }

    interface Call {
        void run(Backend backend, int side);
    }

    /** Runs the call on the CPU (side 0) and on the device under test (side 1). */
    void each(Call c) {
        try (GradMode ng = GradMode.noGrad()) {
            c.run(cpu, 0);
            c.run(dut, 1);
            dut.synchronize(device);
        }
    }

    /** A host tensor copied to the device under test (a separate copy even when that is the CPU). */
    P twin(Tensor host) {
        Tensor d = device.isCpu() ? host.clone() : host.to(device);
        return new P(host, d);
    }

    /** Standard normal values (scaled), rounded to dt. */
    P randnScaled(DType dt, double scale, int... shape) {
        return twin(Tensor.normal(gen, 0, scale, dt, Device.CPU, shape));
    }

    P randn(DType dt, int... shape) { return randnScaled(dt, 1, shape); }

    /** Values in [0.1, 3.1): for log, sqrt, pow. */
    P positive(DType dt, int... shape) {
        try (Tensor u = Tensor.rand(gen, DType.F64, Device.CPU, shape)) {
            double[] v = u.toDoubleArray();
            for (int i = 0; i < v.length; i++) v[i] = 0.1 + 3 * v[i];
            return twin(Tensor.fromDoubles(v, dt, Device.CPU, shape));
        }
    }

    P randint(long low, long high, DType dt, int... shape) {
        return twin(Tensor.randint(gen, low, high, dt, Device.CPU, shape));
    }

    /** Uniform booleans. */
    P bools(int... shape) {
        try (Tensor u = Tensor.rand(gen, DType.F64, Device.CPU, shape)) {
            double[] v = u.toDoubleArray();
            boolean[] b = new boolean[v.length];
            for (int i = 0; i < v.length; i++) b[i] = v[i] < 0.5;
            return twin(Tensor.of(b, shape));
        }
    }

    /** Uninitialised outputs on both sides, poisoned so that an element a kernel skips is caught. */
    P out(DType dt, int... shape) {
        Tensor r = Tensor.empty(dt, Device.CPU, shape), d = Tensor.empty(dt, device, shape);
        double poison = dt.isFloating() ? Double.NaN : dt == DType.BOOL ? 1 : dt == DType.U8 ? 201 : -7777;
        cpu.fill(r, poison);
        dut.fill(d, poison);
        return new P(r, d);
    }

    void check(String what, P p) { check(what, p, tolerance(p.ref().dtype())); }

    void check(String what, P p, double rtol) { assertClose(what, p.ref(), p.dut(), rtol); }

    /**
     * Elementwise |got - ref| <= rtol * (|ref| + max|ref|): relative, with an absolute part scaled
     * to the tensor's magnitude (results of sums near zero carry the rounding of their terms).
     * NaN must meet NaN and infinities must be equal.
     */
    static void assertClose(String what, Tensor ref, Tensor got, double rtol) {
        assertArrayEquals(ref.shape(), got.shape(), what + ": shape");
        double[] r = ref.toDoubleArray(), g = got.toDoubleArray();
        double scale = 0;
        for (double v : r) if (Double.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < r.length; i++) {
            boolean ok;
            if (Double.isNaN(r[i]) || Double.isNaN(g[i])) ok = Double.isNaN(r[i]) && Double.isNaN(g[i]);
            else if (Double.isInfinite(r[i]) || Double.isInfinite(g[i])) ok = r[i] == g[i];
            else {
                double err = Math.abs(g[i] - r[i]);
                double bound = rtol * (Math.abs(r[i]) + scale);
                ok = err <= bound;
                if (bound > 0) worst = Math.max(worst, err / (Math.abs(r[i]) + scale));
                else if (err > 0) worst = Double.POSITIVE_INFINITY;
            }
            if (!ok) {
                if (first < 0) first = i;
                bad++;
            }
        }
        if (bad > 0) {
            fail(what + ": " + bad + " of " + r.length + " elements differ (rtol " + rtol + ", worst relative error " + worst
                + "); first at flat index " + first + " of shape " + Arrays.toString(ref.shape()) + ": expected " + r[first]
                + ", got " + g[first]);
        }
    }
}
