package llava.models.llama;

import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.autograd.GradMode;

/**
 * Keys and values of past tokens for incremental decoding: per layer [B, Hkv, capacity, D],
 * filled up to {@link #length()} (the same for every row; padding is expressed by the key mask).
 */
public final class KvCache implements AutoCloseable {
    private final Tensor[] keys, values;
    private final int capacity;
    private int length;

    public KvCache(LlamaConfig c, int batch, int capacity, DType dtype, Device device) {
        if (capacity <= 0) throw new IllegalArgumentException("KV cache capacity must be positive");
        this.capacity = capacity;
        keys = new Tensor[c.numLayers()];
        values = new Tensor[c.numLayers()];
        for (int l = 0; l < c.numLayers(); l++) {
            keys[l] = llava.core.Scope.detach(Tensor.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim()));
            values[l] = llava.core.Scope.detach(Tensor.zeros(dtype, device, batch, c.numKvHeads(), capacity, c.headDim()));
        }
    }

    public int length() { return length; }
    public int capacity() { return capacity; }

    /**
     * Stores k, v [B, Hkv, T, D] of layer l at positions [length, length + T) and returns views
     * of all keys and values so far. Call {@link #advance} once all layers have appended.
     */
    Tensor[] append(int layer, Tensor k, Tensor v) {
        int t = k.size(2);
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full: " + length + " + " + t + " tokens exceed its capacity " + capacity);
        }
        try (GradMode ng = GradMode.noGrad();
             Tensor ks = keys[layer].narrow(2, length, t); Tensor vs = values[layer].narrow(2, length, t)) {
            ks.copy_(k);
            vs.copy_(v);
        }
        return new Tensor[] {keys[layer].narrow(2, 0, length + t), values[layer].narrow(2, 0, length + t)};
    }

    void advance(int t) { length += t; }

    /** Forgets everything (the memory is kept for reuse). */
    public void reset() { length = 0; }

    @Override
    public void close() {
        for (Tensor t : keys) t.close();
        for (Tensor t : values) t.close();
    }
}
