package llava.core.cpu;

import java.util.concurrent.atomic.AtomicLong;
import llava.core.DType;
import llava.core.Device;
import llava.core.Storage;

/** CPU storage: a Java array of the dtype's host type. */
public final class CpuStorage extends Storage {
    static final AtomicLong LIVE_BYTES = new AtomicLong();
    static final AtomicLong PEAK_BYTES = new AtomicLong();

    private Object array;

    CpuStorage(DType dtype, int numel) {
        super(dtype, numel);
        this.array = newHostArray(dtype, numel);
        long live = LIVE_BYTES.addAndGet(nbytes());
        PEAK_BYTES.accumulateAndGet(live, Math::max);
    }

    @Override
    public Device device() { return Device.CPU; }

    /** The backing array (float[], double[], short[], long[], int[] or byte[]). */
    public Object array() {
        Object a = array;
        if (a == null) throw new IllegalStateException("storage already freed");
        return a;
    }

    @Override
    protected void free() {
        array = null;
        LIVE_BYTES.addAndGet(-nbytes());
    }

    @Override
    public void copyToHost(long offset, long count, Object dst, int dstOffset) {
        checkRange(offset, count);
        System.arraycopy(array(), (int) offset, dst, dstOffset, (int) count);
    }

    @Override
    public void copyFromHost(Object src, int srcOffset, long offset, long count) {
        checkRange(offset, count);
        System.arraycopy(src, srcOffset, array(), (int) offset, (int) count);
    }

    private void checkRange(long offset, long count) {
        if (offset < 0 || count < 0 || offset + count > numel()) {
            throw new IndexOutOfBoundsException("storage range [" + offset + ", " + (offset + count) + ") outside [0, " + numel() + ")");
        }
    }
}
