package llava.cuda;

import llava.core.Backend;
import llava.core.BackendProvider;
import llava.core.Device;

/**
 * Registers the CUDA backend with core's {@link llava.core.Backends} (ServiceLoader). Whether
 * CUDA is usable is decided once by {@link Cuda#status()}; this never throws.
 */
public final class CudaBackendProvider implements BackendProvider {
    private static volatile CudaBackend backend;

    @Override
    public Device.Type deviceType() { return Device.Type.CUDA; }

    @Override
    public boolean isAvailable() { return Cuda.status().available(); }

    @Override
    public String unavailableReason() { return Cuda.status().reason(); }

    @Override
    public int deviceCount() { return Cuda.status().deviceCount(); }

    @Override
    public Backend backend() { return instance(); }

    /** The process-wide CUDA backend (one per process: it owns the devices' allocators and streams). */
    public static CudaBackend instance() {
        CudaBackend b = backend;
        if (b == null) {
            synchronized (CudaBackendProvider.class) {
                b = backend;
                if (b == null) {
                    Cuda.requireAvailable();
                    backend = b = new CudaBackend(Cuda.status().deviceCount());
                }
            }
        }
        return b;
    }
}
