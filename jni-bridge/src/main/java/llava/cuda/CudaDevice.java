package llava.cuda;

import llava.core.Device;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * What the backend keeps per GPU: its compute stream (every kernel and copy of this device is
 * queued on it, in order), its caching allocator, the pinned staging buffers for host copies and,
 * when first needed, a cuBLAS handle bound to the stream.
 */
public final class CudaDevice {
    private final int index;
    private final Device device;
    private final CUstream_st stream;
    private final long streamAddress;
    private final CachingAllocator allocator;
    private final PinnedStaging staging;
    private volatile Cublas cublas;

    CudaDevice(int index) {
        this.index = index;
        this.device = Device.cuda(index);
        Cuda.setDevice(index);
        this.stream = Cuda.streamCreate();
        this.streamAddress = stream.address();
        this.allocator = new CachingAllocator(device.toString(), new CachingAllocator.DeviceMemory() {
            @Override public long malloc(long bytes) {
                Cuda.setDevice(index);
                return Cuda.malloc(bytes);
            }

            @Override public void free(long address) {
                Cuda.setDevice(index);
                Cuda.free(address);
            }

            @Override public void synchronize() { CudaDevice.this.synchronize(); }

            @Override public long[] info() {
                Cuda.setDevice(index);
                return Cuda.memGetInfo();
            }
        });
        this.staging = new PinnedStaging(stream);
    }

    public int index() { return index; }
    public Device device() { return device; }
    public CUstream_st stream() { return stream; }
    /** The stream as the kernels take it (a cudaStream_t). */
    public long streamAddress() { return streamAddress; }
    public CachingAllocator allocator() { return allocator; }
    PinnedStaging staging() { return staging; }

    /** Makes this device current on the calling thread. */
    public void activate() { Cuda.setDevice(index); }

    public void synchronize() {
        activate();
        Cuda.streamSynchronize(stream, "synchronize " + device);
    }

    /** The cuBLAS handle of this device (created on first use; throws if cuBLAS cannot be loaded). */
    public Cublas cublas() {
        Cublas c = cublas;
        if (c == null) {
            synchronized (this) {
                c = cublas;
                if (c == null) {
                    activate();
                    cublas = c = new Cublas(this);
                }
            }
        }
        return c;
    }
}
