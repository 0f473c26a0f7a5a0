package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;

/**
 * Where the natives were built (nvcc present), the JNI glue loads and every kernel symbol resolves,
 * with or without a GPU: a call without a driver returns a CUDA error code instead of crashing.
 */
class NativeGlueTest {
    /** The kernel files the header names ("(gemm.cu)", ...) that are not in cuda-kernels/src. */
    static List<String> missingKernelSources() throws IOException {
        Path root = Path.of("..", "cuda-kernels");
        Matcher m = Pattern.compile("\\((\\w+\\.cu)\\)").matcher(Files.readString(root.resolve("include/llava_kernels.h")));
        List<String> missing = new ArrayList<>();
        while (m.find()) {
            if (!Files.exists(root.resolve("src").resolve(m.group(1))) && !missing.contains(m.group(1))) missing.add(m.group(1));
        }
        return missing;
    }

    @Test
    void glueLoadsAndCallsReturnCodes() throws IOException {
        assumeTrue(Cuda.nativesBuilt(), "the CUDA natives were not built (no nvcc): nothing to load");
        List<String> missing = missingKernelSources();
        assumeTrue(missing.isEmpty(), "kernel sources not in cuda-kernels/src yet: " + missing
            + "; the library lacks their symbols, so the glue cannot load");
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
