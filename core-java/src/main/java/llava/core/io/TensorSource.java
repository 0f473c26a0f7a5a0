package llava.core.io;

import java.io.IOException;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Shapes;
import llava.core.Tensor;

/**
 * Named tensors stored somewhere (a safetensors file, a sharded checkpoint, a PyTorch .bin),
 * listed without loading them and loaded one at a time on demand.
 */
public interface TensorSource extends AutoCloseable {

    /** Tensor names, in the order the source stores them. */
    Set<String> keys();

    default boolean contains(String name) { return keys().contains(name); }

    /** The stored dtype of a tensor. */
    DType dtype(String name) throws IOException;

    /** The shape of a tensor (a copy). */
    int[] shape(String name) throws IOException;

    /** Bytes the tensor occupies in its stored dtype. */
    default long nbytes(String name) throws IOException {
        return Shapes.numelLong(shape(name)) * dtype(name).byteSize();
    }

    /** The tensor converted to dtype and placed on device; the caller closes it. */
    Tensor load(String name, DType dtype, Device device) throws IOException;

    /** The tensor in its stored dtype, on the CPU. */
    default Tensor load(String name) throws IOException {
        return load(name, dtype(name), Device.CPU);
    }

    /** Where the tensors come from, for messages (a file or folder path). */
    String describe();

    @Override
    void close() throws IOException;
}
