package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import llava.core.Backend;
import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.F;
import llava.core.Generator;
import llava.core.Scope;
import llava.core.Storage;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

/** Allocator behaviour on a real device, host copies, and errors that must be exceptions, not crashes. */
@RequiresGpu
class CudaMemoryAndErrorsTest {
    private final Device gpu = Device.cuda(0);
    private final Backend cuda = Backends.get(gpu);

    @Test
    void hostRoundTripOfEveryDtypeAcrossChunks() {
        Generator g = new Generator(5);
        // more than several staging chunks, odd length
        int n = (int) (PinnedStaging.CHUNK * 3 / 4) + 12345;
        for (DType dt : DType.values()) {
            try (Scope s = Scope.open()) {
                Tensor host = dt == DType.BOOL ? Tensor.rand(g, DType.F32, Device.CPU, n).gt(0.5)
                    : dt.isFloating() ? Tensor.randn(g, dt, Device.CPU, n) : Tensor.randint(g, 0, 100, dt, Device.CPU, n);
                Tensor back = host.to(gpu).to(Device.CPU);
                BackendConformance.assertClose("round trip " + dt, host, back, 0);
                // a slice at an offset
                Tensor part = host.to(gpu).narrow(0, 7, 1000).to(Device.CPU);
                try (Tensor expect = host.narrow(0, 7, 1000)) {
                    BackendConformance.assertClose("offset slice " + dt, expect, part, 0);
                }
            }
        }
    }

    @Test
    void cachedBlocksAreReusedAndStatsAreFlat() {
        cuda.synchronize(gpu);
        long before = cuda.memoryStats(gpu).allocated();
        long reservedAfterFirst = -1;
        for (int i = 0; i < 5; i++) {
            try (Scope s = Scope.open()) {
                Tensor a = Tensor.ones(DType.F32, gpu, 1024, 1024);
                Tensor b = a.matmul(a).add(1).sum();
                assertEquals(1024.0 * 1024 * 1025, b.item(), 1e3);
            }
            cuda.synchronize(gpu);
            Backend.MemoryStats st = cuda.memoryStats(gpu);
            assertEquals(before, st.allocated(), "every tensor of the iteration was freed");
            if (i == 0) reservedAfterFirst = st.reserved();
            else assertEquals(reservedAfterFirst, st.reserved(), "the cache serves repeated iterations without new segments");
        }
        cuda.emptyCache(gpu);
        assertTrue(cuda.memoryStats(gpu).reserved() <= reservedAfterFirst, "emptyCache returns free segments");
    }

    @Test
    void onePebibyteRequestIsAnOutOfMemoryException() {
        long numel = 1L << 48; // F32: 1 PiB
        CudaOutOfMemoryError e = assertThrows(CudaOutOfMemoryError.class, () -> cuda.allocate(gpu, DType.F32, numel));
        assertTrue(e.getMessage().contains(Long.toString(numel * 4)), e.getMessage());
        assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        // the device is still usable
        try (Tensor t = Tensor.full(2, DType.F32, gpu, 3, 3); Tensor s = t.sum()) {
            assertEquals(18.0, s.item(), 0);
        }
        Storage st = cuda.allocate(gpu, DType.F32, 10);
        st.retain();
        st.release();
    }

    @Test
    void badShapesAndDevicesAreIllegalArguments() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(DType.F32, gpu, 3, 4), b = Tensor.zeros(DType.F32, gpu, 5, 6);
            Tensor out = Tensor.empty(DType.F32, gpu, 3, 6);
            assertThrows(IllegalArgumentException.class, () -> cuda.matmul(a, b, null, out));
            Tensor cpu = Tensor.zeros(DType.F32, Device.CPU, 3, 4);
            assertThrows(IllegalArgumentException.class, () -> cuda.binary(llava.core.BinaryOp.ADD, a, cpu, a));
            assertThrows(IllegalArgumentException.class, () -> a.matmul(b));
            Tensor i32 = Tensor.zeros(DType.I32, gpu, 4);
            assertThrows(IllegalArgumentException.class, () -> cuda.softmax(i32, i32, false));
        }
    }

    @Test
    void targetOutOfRangeOnTheDeviceIsAnIndexException() {
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.randn(new Generator(1), DType.F32, gpu, 4, 10);
            Tensor targets = Tensor.of(new long[] {1, 2, 99, 3}, 4).to(gpu); // checked only by the kernel
            assertThrows(IndexOutOfBoundsException.class, () -> {
                Tensor l = F.crossEntropy(logits, targets, -100);
                l.item();
            });
            cuda.synchronize(gpu);
            try (Tensor ok = Tensor.of(new long[] {1, 2, 9, 3}, 4).to(gpu); Tensor l = F.crossEntropy(logits, ok, -100)) {
                assertTrue(Double.isFinite(l.item()), "the device works after the error");
            }
        }
    }

    @Test
    void tensorApiRunsOnCuda() {
        Generator g = new Generator(9);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(g, 8, 16), w = Tensor.randn(g, 32, 16);
            Tensor ref = F.linear(x, w, null).relu().softmax(-1).sum(0, false);
            Tensor got = F.linear(x.to(gpu), w.to(gpu), null).relu().softmax(-1).sum(0, false);
            BackendConformance.assertClose("linear/relu/softmax/sum through the Tensor API", ref, got, 1e-5);
        }
    }
}
