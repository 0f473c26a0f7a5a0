package llava.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.Test;

/**
 * Runs only in core-java's "fallback-kernels" Surefire execution: a JVM started without
 * --add-modules jdk.incubator.vector and with -Dllava.cpu.blas=false. It checks that the backend
 * noticed both and chose the plain-Java kernels; the same execution reruns the F32 path tests
 * (ReferenceOpsTest, FloatPathsTest, MatmulPathsTest) on those kernels.
 */
class FallbackModeTest {
    @Test void plainJavaKernelsWithoutTheVectorModuleOrOpenBlas() {
        assertFalse(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "this JVM should lack the module");
        assertFalse(FloatKernels.vectorized(), "vector kernels selected without the module");
        assertEquals(FloatKernels.class, FloatKernels.get().getClass());
        assertFalse(Blas.available(), "OpenBLAS used despite -Dllava.cpu.blas=false");
    }
}
