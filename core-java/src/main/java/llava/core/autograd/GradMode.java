package llava.core.autograd;

/**
 * Whether ops record the autograd graph on this thread. {@code try (var g = GradMode.noGrad())}
 * switches recording off inside the block, like torch.no_grad().
 */
public final class GradMode implements AutoCloseable {
    private static final ThreadLocal<Boolean> ENABLED = ThreadLocal.withInitial(() -> Boolean.TRUE);

    private final boolean previous;

    private GradMode(boolean enabled) {
        previous = ENABLED.get();
        ENABLED.set(enabled);
    }

    public static boolean isEnabled() {
        return ENABLED.get();
    }

    /** Disables recording until the returned handle is closed. */
    public static GradMode noGrad() {
        return new GradMode(false);
    }

    /** Enables recording until the returned handle is closed (inside a noGrad block). */
    public static GradMode enableGrad() {
        return new GradMode(true);
    }

    @Override
    public void close() {
        ENABLED.set(previous);
    }
}
