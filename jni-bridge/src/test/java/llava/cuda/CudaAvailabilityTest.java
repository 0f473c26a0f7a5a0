package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import llava.core.Backends;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Wherever it runs, the CUDA provider is found, its status never throws, and a machine without a
 * usable GPU gets clear exceptions (not a crash) when it asks for a CUDA tensor.
 */
class CudaAvailabilityTest {
    @Test
    void providerIsRegisteredAndStatusNeverThrows() {
        String status = Backends.cudaStatus();
        assertFalse(status.contains("no CUDA backend on the class path"), status);
        Cuda.Status s = Cuda.status();
        assertEquals(s.available(), Backends.cudaAvailable());
        assertFalse(s.reason().isBlank());
        // asking twice gives the remembered answer
        assertEquals(s, Cuda.status());
    }

    @Test
    void withoutAGpuCudaTensorsAreRefusedWithTheReason() {
        if (Cuda.status().available()) return; // the GPU tests cover this machine
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Tensor.zeros(DType.F32, Device.cuda(0), 2));
        assertTrue(e.getMessage().contains(Cuda.status().reason()), e.getMessage());
        assertThrows(IllegalStateException.class, CudaBackendProvider::instance);
        assertEquals(0, new CudaBackendProvider().deviceCount());
    }

    @Test
    void errorNamesNeverThrow() {
        // with or without the libraries, a code always gets a printable name
        assertFalse(Cuda.errorName(2).isBlank());
        assertFalse(Cuda.errorName(LlavaKernels.LLAVA_ERR_INDEX).isBlank());
    }
}
