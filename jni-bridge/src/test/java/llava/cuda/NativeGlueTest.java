package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;

/**
 * Where the natives were built (nvcc present), the JNI glue loads and every kernel symbol resolves,
 * with or without a GPU: a call without a driver returns a CUDA error code instead of crashing.
 */
class NativeGlueTest {
    private static boolean built() {
        String lib = "llava/cuda/" + Loader.getPlatform() + "/" + System.mapLibraryName("jniLlavaKernels");
        return NativeGlueTest.class.getClassLoader().getResource(lib) != null;
    }

    @Test
    void glueLoadsAndCallsReturnCodes() {
        assumeTrue(built(), "the CUDA natives were not built (no nvcc): nothing to load");
        Loader.load(LlavaKernels.class); // throws UnsatisfiedLinkError if a kernel symbol is missing
        String name = LlavaKernels.llava_error_string(LlavaKernels.LLAVA_ERR_INDEX);
        assertTrue(name != null && !name.isBlank(), "error string of LLAVA_ERR_INDEX: " + name);
        long ws = LlavaKernels.llava_norm_backward_workspace_size(16, 64);
        assertTrue(ws >= 0, "workspace size of a 16 x 64 norm backward: " + ws);
        if (!Cuda.status().available()) {
            // no driver or device: a launch reports the CUDA error (never 0, never a crash)
            int rc = LlavaKernels.llava_fill(0, 1, new long[] {4}, 0, LlavaKernels.LLAVA_DTYPE_F32, new long[] {1}, 1.0);
            assertNotEquals(0, rc, "a kernel launch without a usable GPU must fail with a code");
        }
    }
}
