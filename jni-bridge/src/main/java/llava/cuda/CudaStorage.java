package llava.cuda;

import llava.core.DType;
import llava.core.Device;
import llava.core.Storage;

/**
 * Device memory of one tensor storage: a block of its device's caching allocator. Host copies go
 * through pinned staging buffers on the device's compute stream (copies to the device return
 * once queued; copies to the host return with the data).
 */
public final class CudaStorage extends Storage {
    private final CudaDevice device;
    private final CachingAllocator.Block block;

    CudaStorage(CudaDevice device, DType dtype, long numel, CachingAllocator.Block block) {
        super(dtype, numel);
        this.device = device;
        this.block = block;
    }

    @Override
    public Device device() { return device.device(); }

    /** Device address of element 0. */
    public long address() {
        if (isFreed()) throw new IllegalStateException("CUDA storage on " + device.device() + " already freed");
        return block.address();
    }

    @Override
    protected void free() {
        device.allocator().free(block);
    }

    @Override
    public void copyToHost(long offset, long count, Object dst, int dstOffset) {
        checkRange(offset, count, dst, dstOffset);
        if (count == 0) return;
        device.activate();
        device.staging().toHost(address() + offset * dtype().byteSize(), dst, dstOffset, count, dtype());
    }

    @Override
    public void copyFromHost(Object src, int srcOffset, long offset, long count) {
        checkRange(offset, count, src, srcOffset);
        if (count == 0) return;
        device.activate();
        device.staging().toDevice(src, srcOffset, address() + offset * dtype().byteSize(), count, dtype());
    }

    private void checkRange(long offset, long count, Object array, int arrayOffset) {
        if (offset < 0 || count < 0 || offset + count > numel()) {
            throw new IndexOutOfBoundsException("CUDA storage range [" + offset + ", " + (offset + count) + ") outside [0, "
                + numel() + ")");
        }
        Class<?> want = Storage.newHostArray(dtype(), 0).getClass();
        if (array == null || array.getClass() != want) {
            throw new IllegalArgumentException("host array for " + dtype() + " must be " + want.getSimpleName() + ", got "
                + (array == null ? "null" : array.getClass().getSimpleName()));
        }
        int len = java.lang.reflect.Array.getLength(array);
        if (arrayOffset < 0 || arrayOffset + count > len) {
            throw new IndexOutOfBoundsException("host array range [" + arrayOffset + ", " + (arrayOffset + count)
                + ") outside [0, " + len + ")");
        }
    }
}
