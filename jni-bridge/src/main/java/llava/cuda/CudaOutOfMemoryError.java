package llava.cuda;

/**
 * Device memory exhausted even after the allocator returned its cached blocks. An
 * {@link IllegalStateException} as {@link llava.core.Backend#allocate} documents, so callers can
 * catch it and recover (for example by halving a batch); the message names the request and the
 * allocator's state.
 */
public final class CudaOutOfMemoryError extends IllegalStateException {
    private final long requestedBytes;

    public CudaOutOfMemoryError(String message, long requestedBytes) {
        super(message);
        this.requestedBytes = requestedBytes;
    }

    public long requestedBytes() { return requestedBytes; }
}
