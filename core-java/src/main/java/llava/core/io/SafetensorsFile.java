package llava.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;

/**
 * A .safetensors file, read lazily: the header is parsed and checked on open; each tensor's bytes
 * are mapped and converted only when it is loaded. Format: u64 little-endian header length, a
 * JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the format's own limit is 100 MB). */
    static final long MAX_HEADER = 100L * 1024 * 1024;

    /** Where one tensor lives in the file. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) throw bad(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER) {
                throw bad(path, "header length " + headerLen + " is not plausible (must be 2.." + MAX_HEADER + ")");
            }
            if (8 + headerLen > size) {
                throw bad(path, "header length " + headerLen + " runs past the end of the file (" + size + " bytes)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(new String(hb.array(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw bad(path, "header is not valid JSON: " + e.getMessage());
            }
            if (root == null || !root.isObject()) throw bad(path, "header is not a JSON object");
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String name = f.getKey();
                JsonNode v = f.getValue();
                if (name.equals("__metadata__")) {
                    if (!v.isObject()) throw bad(path, "__metadata__ is not an object");
                    v.fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                entries.put(name, parseEntry(path, name, v, dataLen));
            }
            checkOverlaps(path, entries);
            return new SafetensorsFile(path, ch, dataStart, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Entry parseEntry(Path path, String name, JsonNode v, long dataLen) throws IOException {
        if (!v.isObject()) throw bad(path, "entry '" + name + "' is not an object");
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw bad(path, "tensor '" + name + "' has no dtype");
        DType dtype = DType.fromSafetensorsName(dt.asText());
        if (dtype == null) throw bad(path, "tensor '" + name + "' has unsupported dtype " + dt.asText());
        if (sh == null || !sh.isArray()) throw bad(path, "tensor '" + name + "' has no shape");
        int[] shape = new int[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw bad(path, "tensor '" + name + "' has an invalid dimension " + d);
            }
            shape[i] = (int) d.asLong();
            numel *= shape[i];
            if (numel > Integer.MAX_VALUE) throw bad(path, "tensor '" + name + "' has too many elements");
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw bad(path, "tensor '" + name + "' has invalid data_offsets");
        }
        long b = off.get(0).asLong(), e = off.get(1).asLong();
        if (b < 0 || e < b || e > dataLen) {
            throw bad(path, "tensor '" + name + "' data_offsets [" + b + ", " + e + "] fall outside the data section of " + dataLen + " bytes");
        }
        if (e - b != numel * dtype.byteSize()) {
            throw bad(path, "tensor '" + name + "' of shape " + java.util.Arrays.toString(shape) + " and dtype " + dtype
                + " needs " + numel * dtype.byteSize() + " bytes but its offsets span " + (e - b));
        }
        return new Entry(name, dtype, shape, b, e);
    }

    private static void checkOverlaps(Path path, Map<String, Entry> entries) throws IOException {
        Entry[] es = entries.values().toArray(new Entry[0]);
        java.util.Arrays.sort(es, (x, y) -> Long.compare(x.begin, y.begin));
        for (int i = 1; i < es.length; i++) {
            if (es[i].begin < es[i - 1].end) {
                throw bad(path, "tensors '" + es[i - 1].name + "' and '" + es[i].name + "' overlap");
            }
        }
    }

    private static IOException bad(Path path, String msg) {
        return new IOException("malformed safetensors file " + path + ": " + msg);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    public Path path() { return path; }
    public Set<String> keys() { return entries.keySet(); }
    public boolean contains(String name) { return entries.containsKey(name); }
    public Map<String, String> metadata() { return metadata; }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        return e;
    }

    /** The tensor in its stored dtype, on the CPU. */
    public Tensor load(String name) throws IOException {
        Entry e = entry(name);
        int n = (int) ((e.end - e.begin) / e.dtype.byteSize());
        ByteBuffer bb = map(e);
        Object arr = llava.core.Storage.newHostArray(e.dtype, n);
        switch (e.dtype) {
            case F64 -> bb.asDoubleBuffer().get((double[]) arr);
            case F32 -> bb.asFloatBuffer().get((float[]) arr);
            case BF16, F16 -> bb.asShortBuffer().get((short[]) arr);
            case I64 -> bb.asLongBuffer().get((long[]) arr);
            case I32 -> bb.asIntBuffer().get((int[]) arr);
            case U8, BOOL -> bb.get((byte[]) arr);
        }
        return Tensor.fromHostArray(arr, e.dtype, Device.CPU, e.shape);
    }

    /** The tensor converted to dtype and moved to device (integer tensors keep their dtype). */
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        try (Tensor t = load(name)) {
            return t.dtype().isFloating() ? t.to(dtype, device) : t.to(device);
        }
    }

    private ByteBuffer map(Entry e) throws IOException {
        long len = e.end - e.begin;
        if (len == 0) return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin, len);
        return mb.order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
