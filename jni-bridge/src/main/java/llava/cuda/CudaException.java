package llava.cuda;

/** A CUDA runtime or kernel failure, naming the operation and the CUDA error. */
public class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String op, int code, String errorName) {
        super(op + ": CUDA error " + code + " (" + errorName + ")");
        this.code = code;
    }

    public CudaException(String message) {
        super(message);
        this.code = -1;
    }

    /** The cudaError_t or LLAVA_ERR_* value (-1 when none). */
    public int code() { return code; }
}
