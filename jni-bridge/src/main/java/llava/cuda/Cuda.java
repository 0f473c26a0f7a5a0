package llava.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The CUDA runtime as the backend uses it (through the org.bytedeco cudart preset), and the one
 * place that decides whether CUDA is usable in this process.
 *
 * <p>Loading is tried once: without a driver the preset throws UnsatisfiedLinkError and every
 * preset class then throws NoClassDefFoundError, so the first failure is caught and its reason
 * remembered; {@link #status()} never throws.
 */
public final class Cuda {
    private Cuda() {}

    /** Whether CUDA can be used, and why not. */
    public record Status(boolean available, int deviceCount, String reason) {}

    private static volatile Status status;

    public static Status status() {
        Status s = status;
        if (s == null) {
            synchronized (Cuda.class) {
                s = status;
                if (s == null) status = s = probe();
            }
        }
        return s;
    }

    /** Throws a clear exception unless CUDA is usable. */
    public static void requireAvailable() {
        Status s = status();
        if (!s.available()) throw new IllegalStateException("CUDA is not available: " + s.reason());
    }

    /** Where the JNI glue sits on the class path (in jni-bridge's jar when it was built with nvcc). */
    private static String glueResource() {
        return "llava/cuda/" + Loader.getPlatform() + "/" + System.mapLibraryName("jniLlavaKernels");
    }

    /** Whether the CUDA natives were built into jni-bridge (whatever the machine running them). */
    static boolean nativesBuilt() {
        return Cuda.class.getClassLoader().getResource(glueResource()) != null;
    }

    private static Status probe() {
        if (!nativesBuilt()) {
            return new Status(false, 0, "the CUDA backend was not built into jni-bridge (built without nvcc or with -DskipNative;"
                + " no " + glueResource() + " on the class path)");
        }
        try {
            Loader.load(org.bytedeco.cuda.global.cudart.class);
        } catch (Throwable t) {
            return new Status(false, 0, "the CUDA runtime (org.bytedeco cudart preset) could not be loaded: " + describe(t));
        }
        try {
            Loader.load(LlavaKernels.class);
        } catch (Throwable t) {
            return new Status(false, 0, "the llava CUDA kernels could not be loaded: " + describe(t));
        }
        try {
            int[] n = new int[1];
            int rc = cudaGetDeviceCount(n);
            if (rc != cudaSuccess) {
                cudaGetLastError();
                return new Status(false, 0, "cudaGetDeviceCount failed: CUDA error " + rc + " (" + errorName(rc) + ")");
            }
            if (n[0] <= 0) return new Status(false, 0, "no CUDA device is visible");
            return new Status(true, n[0], "available: " + n[0] + " device(s), " + describeDevice(0));
        } catch (Throwable t) {
            return new Status(false, 0, "CUDA probe failed: " + describe(t));
        }
    }

    /** One line: the throwable and its root cause. */
    static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String s = t.getClass().getSimpleName() + ": " + t.getMessage();
        if (root != t) s += " (cause: " + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
        return s.replace('\n', ' ');
    }

    /** "cudaErrorX: text" for a cudaError_t, or the llava name of a LLAVA_ERR_* code. */
    public static String errorName(int code) {
        try {
            if (code >= LlavaKernels.LLAVA_ERR_INVALID_ARGUMENT) return LlavaKernels.llava_error_string(code);
            return cudaGetErrorName(code).getString() + ": " + cudaGetErrorString(code).getString();
        } catch (Throwable t) {
            return "error " + code;
        }
    }

    /** Throws CudaException naming op and the error when rc is not cudaSuccess (and clears it). */
    public static void check(int rc, String op) {
        if (rc != cudaSuccess) {
            cudaGetLastError();
            throw new CudaException(op, rc, errorName(rc));
        }
    }

    public static String describeDevice(int index) {
        cudaDeviceProp p = new cudaDeviceProp();
        try {
            check(cudaGetDeviceProperties(p, index), "cudaGetDeviceProperties");
            int[] rt = new int[1], drv = new int[1];
            cudaRuntimeGetVersion(rt);
            cudaDriverGetVersion(drv);
            return "cuda:" + index + " = " + p.name().getString() + " (sm_" + p.major() + p.minor() + ", "
                + (p.totalGlobalMem() >> 20) + " MiB, " + p.multiProcessorCount() + " SMs; runtime " + version(rt[0])
                + ", driver " + version(drv[0]) + ")";
        } finally {
            p.close();
        }
    }

    private static String version(int v) { return v / 1000 + "." + (v % 1000) / 10; }

    // ---- devices -------------------------------------------------------------------------

    private static final ThreadLocal<int[]> CURRENT = ThreadLocal.withInitial(() -> new int[] {-1});

    /** Makes device the current one of this thread (cached: a no-op when it already is). */
    public static void setDevice(int device) {
        int[] cur = CURRENT.get();
        if (cur[0] != device) {
            check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
            cur[0] = device;
        }
    }

    /** Free and total bytes of the current device. */
    public static long[] memGetInfo() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new long[] {free.get(), total.get()};
        }
    }

    // ---- memory --------------------------------------------------------------------------

    /** A Pointer at a raw address (device or pinned host memory we own); never frees. */
    static final class Raw extends Pointer {
        Raw(long address) { this.address = address; }
    }

    /** cudaMalloc on the current device: the address, or 0 when the device is out of memory. */
    public static long malloc(long bytes) {
        Pointer p = new Pointer();
        int rc = cudaMalloc(p, bytes);
        if (rc == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            return 0;
        }
        check(rc, "cudaMalloc(" + bytes + " bytes)");
        return p.address();
    }

    public static void free(long address) { check(cudaFree(new Raw(address)), "cudaFree"); }

    /** Page-locked host memory (for staging copies), or throws. */
    public static long hostAlloc(long bytes) {
        Pointer p = new Pointer();
        check(cudaHostAlloc(p, bytes, cudaHostAllocDefault), "cudaHostAlloc(" + bytes + " bytes)");
        return p.address();
    }

    public static final int H2D = cudaMemcpyHostToDevice, D2H = cudaMemcpyDeviceToHost, D2D = cudaMemcpyDeviceToDevice;

    public static void memcpyAsync(long dst, long src, long bytes, int kind, CUstream_st stream, String op) {
        check(cudaMemcpyAsync(new Raw(dst), new Raw(src), bytes, kind, stream), op);
    }

    // ---- streams and events ----------------------------------------------------------------

    /** A non-blocking stream on the current device (does not synchronise with the legacy default stream). */
    public static CUstream_st streamCreate() {
        CUstream_st s = new CUstream_st();
        check(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), "cudaStreamCreate");
        return s;
    }

    public static void streamSynchronize(CUstream_st s, String op) { check(cudaStreamSynchronize(s), op); }

    public static CUevent_st eventCreate(boolean timing) {
        CUevent_st e = new CUevent_st();
        check(timing ? cudaEventCreate(e) : cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreate");
        return e;
    }

    public static void eventRecord(CUevent_st e, CUstream_st s) { check(cudaEventRecord(e, s), "cudaEventRecord"); }

    public static void eventSynchronize(CUevent_st e, String op) { check(cudaEventSynchronize(e), op); }

    public static void eventDestroy(CUevent_st e) { check(cudaEventDestroy(e), "cudaEventDestroy"); }

    /** Milliseconds between two recorded events. */
    public static float elapsedMs(CUevent_st start, CUevent_st end) {
        float[] ms = new float[1];
        check(cudaEventElapsedTime(ms, start, end), "cudaEventElapsedTime");
        return ms[0];
    }
}
