package llava.core;

/** A non-CPU backend, registered in META-INF/services/llava.core.BackendProvider. */
public interface BackendProvider {
    Device.Type deviceType();

    /** Whether the device can be used; must never throw (catch loading errors and report them). */
    boolean isAvailable();

    /** Why it cannot be used (one line, naming the missing piece). */
    String unavailableReason();

    int deviceCount();

    /** The backend; only called when {@link #isAvailable()}. */
    Backend backend();
}
