package llava.core;

import java.util.ServiceLoader;
import llava.core.cpu.CpuBackend;

/**
 * Finds the backend of a device. The CPU backend is built in; others (CUDA, from jni-bridge)
 * are found through {@link ServiceLoader} as {@link BackendProvider}s. A provider whose device
 * is unusable (no driver, no GPU, library missing) reports why, once, with a clear message.
 */
public final class Backends {
    private Backends() {}

    private static final Backend CPU = new CpuBackend();
    private static volatile BackendProvider cudaProvider;
    private static volatile boolean cudaSearched;

    public static Backend get(Device device) {
        if (device.isCpu()) return CPU;
        BackendProvider p = cuda();
        if (p == null) {
            throw new IllegalStateException("device " + device + " is not available: no CUDA backend on the class path "
                + "(the jni-bridge module was not built or is not a dependency)");
        }
        if (!p.isAvailable()) {
            throw new IllegalStateException("device " + device + " is not available: " + p.unavailableReason());
        }
        Backend b = p.backend();
        if (device.index() >= p.deviceCount()) {
            throw new IllegalStateException("device " + device + " does not exist: " + p.deviceCount() + " CUDA device(s) visible");
        }
        return b;
    }

    public static Backend cpu() { return CPU; }

    /** True when CUDA device 0 is usable. */
    public static boolean cudaAvailable() {
        BackendProvider p = cuda();
        return p != null && p.isAvailable() && p.deviceCount() > 0;
    }

    /** Why CUDA is not usable (or "available"). */
    public static String cudaStatus() {
        BackendProvider p = cuda();
        if (p == null) return "no CUDA backend on the class path";
        if (!p.isAvailable()) return p.unavailableReason();
        return "available: " + p.deviceCount() + " device(s)";
    }

    private static BackendProvider cuda() {
        if (!cudaSearched) {
            synchronized (Backends.class) {
                if (!cudaSearched) {
                    for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
                        if (p.deviceType() == Device.Type.CUDA) {
                            cudaProvider = p;
                            break;
                        }
                    }
                    cudaSearched = true;
                }
            }
        }
        return cudaProvider;
    }
}
