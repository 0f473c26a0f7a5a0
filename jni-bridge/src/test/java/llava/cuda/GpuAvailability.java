package llava.cuda;

import llava.core.Backends;

/** Whether the CUDA backend can run here, decided once (never throws). */
public final class GpuAvailability {
    private GpuAvailability() {}

    public static boolean available() { return Backends.cudaAvailable(); }

    /** Why not (or a description of the device). */
    public static String reason() { return Backends.cudaStatus(); }
}
