package llava.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
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
 * are mapped and converted only when it is loaded (see {@link TensorBytes}). Format: u64
 * little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets},
 * "__metadata__": {string: string}}, then the little-endian data; offsets are relative to the
 * start of the data.
 *
 * <p>Every header field is checked before it is used: a malformed file raises an IOException
 * naming the file and the problem. Gaps between tensors and bytes after the last one are
 * tolerated (only overlaps and out-of-range offsets are errors).
 */
public final class SafetensorsFile implements TensorSource {
    /** Largest header accepted: the limit of the reference implementation (100 MB). */
    static final long MAX_HEADER = 100_000_000L;

    /** Where one tensor lives in the file: [begin, end) relative to the data section. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        @Override public int[] shape() { return shape.clone(); }
        public long nbytes() { return end - begin; }
    }

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
            readFully(ch, lenBuf, 0, path);
            long headerLen = lenBuf.getLong(0); // a u64; values >= 2^63 read as negative and fail below
            if (headerLen < 2 || headerLen > MAX_HEADER) {
                throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " is not plausible (must be 2.." + MAX_HEADER + ")");
            }
            if (headerLen > size - 8) {
                throw bad(path, "header length " + headerLen + " runs past the end of the file (" + size + " bytes)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8, path);
            hb.flip();
            JsonNode root = StrictJson.parseObject(hb, path, "malformed safetensors file", "header");
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
                    for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
                        Map.Entry<String, JsonNode> kv = m.next();
                        if (!kv.getValue().isTextual()) {
                            throw bad(path, "__metadata__ value of '" + kv.getKey() + "' is not a string (" + kv.getValue().getNodeType() + ")");
                        }
                        meta.put(kv.getKey(), kv.getValue().textValue());
                    }
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
        DType dtype = DType.fromSafetensorsName(dt.textValue());
        if (dtype == null) {
            String known = KNOWN_UNSUPPORTED.contains(dt.textValue()) ? "the safetensors dtype " + dt.textValue()
                + ", which this engine does not support" : "an unknown dtype '" + dt.textValue() + "'";
            throw bad(path, "tensor '" + name + "' has " + known + " (supported: F64, F32, BF16, F16, I64, I32, U8, BOOL)");
        }
        if (sh == null || !sh.isArray()) throw bad(path, "tensor '" + name + "' has no shape");
        int[] shape = new int[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0 || d.longValue() > Integer.MAX_VALUE) {
                throw bad(path, "tensor '" + name + "' has an invalid dimension " + d + " in its shape " + sh);
            }
            shape[i] = (int) d.longValue();
            numel *= shape[i]; // each factor <= 2^31 and numel <= 2^31 before it: no overflow
            if (numel > Integer.MAX_VALUE) {
                throw bad(path, "tensor '" + name + "' of shape " + sh + " has more than " + Integer.MAX_VALUE + " elements");
            }
        }
        if (off == null || !off.isArray() || off.size() != 2 || !isLong(off.get(0)) || !isLong(off.get(1))) {
            throw bad(path, "tensor '" + name + "' has invalid data_offsets " + off + " (expected [begin, end])");
        }
        long b = off.get(0).longValue(), e = off.get(1).longValue();
        if (b < 0 || e < b || e > dataLen) {
            throw bad(path, "tensor '" + name + "' data_offsets [" + b + ", " + e + "] fall outside the data section of "
                + dataLen + " bytes");
        }
        long need = numel * dtype.byteSize();
        if (e - b != need) {
            throw bad(path, "tensor '" + name + "' of shape " + Arrays.toString(shape) + " and dtype " + dtype
                + " needs " + need + " bytes but its data_offsets span " + (e - b));
        }
        return new Entry(name, dtype, shape, b, e);
    }

    /** Safetensors dtypes that exist in the format but not in {@link DType}. */
    private static final Set<String> KNOWN_UNSUPPORTED = Set.of("I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2",
        "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64");

    private static boolean isLong(JsonNode n) {
        return n != null && n.isIntegralNumber() && n.canConvertToLong();
    }

    private static void checkOverlaps(Path path, Map<String, Entry> entries) throws IOException {
        Entry[] es = entries.values().stream().filter(e -> e.end > e.begin).toArray(Entry[]::new);
        Arrays.sort(es, (x, y) -> Long.compare(x.begin, y.begin));
        for (int i = 1; i < es.length; i++) {
            if (es[i].begin < es[i - 1].end) {
                throw bad(path, "tensors '" + es[i - 1].name + "' [" + es[i - 1].begin + ", " + es[i - 1].end + ") and '"
                    + es[i].name + "' [" + es[i].begin + ", " + es[i].end + ") overlap");
            }
        }
    }

    static IOException bad(Path path, String msg) {
        return new IOException("malformed safetensors file " + path + ": " + msg);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path path) throws IOException {
        long start = pos;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, start + buf.position());
            if (n < 0) throw bad(path, "unexpected end of file at byte " + (start + buf.position()));
        }
    }

    public Path path() { return path; }
    @Override public Set<String> keys() { return entries.keySet(); }
    @Override public boolean contains(String name) { return entries.containsKey(name); }
    /** The "__metadata__" strings (empty when absent). */
    public Map<String, String> metadata() { return metadata; }
    /** Byte offset of the data section in the file. */
    public long dataStart() { return dataStart; }
    @Override public String describe() { return path.toString(); }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        return e;
    }

    @Override public DType dtype(String name) { return entry(name).dtype(); }
    @Override public int[] shape(String name) { return entry(name).shape(); }
    @Override public long nbytes(String name) { return entry(name).nbytes(); }

    /** The tensor converted to dtype on device, converted chunk by chunk from the mapped file. */
    @Override
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        Entry e = entry(name);
        return TensorBytes.read(channel, dataStart + e.begin(), e.dtype(), ByteOrder.LITTLE_ENDIAN, e.shape(),
            dtype, device, path + " (tensor '" + name + "')");
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
