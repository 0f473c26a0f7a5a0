package llava.models.checkpoint;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import llava.core.DType;
import llava.core.Device;
import llava.core.Shapes;
import llava.core.Tensor;
import llava.core.cpu.CpuStorage;
import llava.core.io.ShardedCheckpoint;
import llava.core.io.TensorBytes;
import llava.core.io.TensorSource;
import llava.models.checkpoint.TorchUnpickler.Global;
import llava.models.checkpoint.TorchUnpickler.StorageRef;
import llava.models.checkpoint.TorchUnpickler.TensorRef;
import llava.models.checkpoint.TorchUnpickler.Tuple;

/**
 * A PyTorch state dict saved by torch.save ({@code pytorch_model.bin}), read without running any
 * pickle code (see {@link TorchUnpickler}) and loaded lazily: opening parses the pickle and
 * locates every storage; each tensor's bytes are mapped and converted only when it is loaded.
 *
 * <p>Both formats: the zip format of torch >= 1.6 ({@code PREFIX/data.pkl} + {@code
 * PREFIX/data/KEY} storages, optional {@code PREFIX/byteorder}) and the legacy format (magic
 * number, protocol and system-info pickles, the state dict pickle, the storage key list, then
 * each storage as an int64 element count followed by its little-endian elements).
 */
public final class TorchBinFile implements TensorSource {
    /** torch.save's legacy magic number and protocol version. */
    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long LEGACY_PROTOCOL = 1001;
    /** The pickle of a state dict is a few hundred KB even for 70B models; refuse absurd ones. */
    private static final long MAX_PICKLE = 64L << 20;

    /** Where one storage's data lies in the file. */
    private record Located(long offset, long nbytes) {}

    private final Path path;
    private final FileChannel channel;
    private final ByteOrder order;
    private final Map<String, TensorRef> tensors;
    private final Map<String, Located> storages;

    private TorchBinFile(Path path, FileChannel channel, ByteOrder order, Map<String, TensorRef> tensors, Map<String, Located> storages) {
        this.path = path;
        this.channel = channel;
        this.order = order;
        this.tensors = tensors;
        this.storages = storages;
    }

    public static TorchBinFile open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            ByteBuffer le = ZipDirectory.readAt(ch, 0, (int) Math.min(ch.size(), 512), path);
            if (le.remaining() >= 4 && le.getInt(0) == 0x04034b50) return openZip(path, ch); // "PK\3\4"
            if (le.remaining() >= 2 && (le.get(0) & 0xFF) == 0x80) return openLegacy(path, ch);
            if (le.remaining() >= 262 && new String(bytes(le, 257, 5), StandardCharsets.US_ASCII).equals("ustar")) {
                throw ZipDirectory.bad(path, "this is the tar-based format of PyTorch < 0.4, which is not supported; re-save it with a recent torch");
            }
            throw ZipDirectory.bad(path, "neither a zip (torch >= 1.6) nor a legacy pickle checkpoint");
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static byte[] bytes(ByteBuffer b, int at, int n) {
        byte[] out = new byte[n];
        b.get(at, out);
        return out;
    }

    // ---- zip format -----------------------------------------------------------------------

    private static TorchBinFile openZip(Path path, FileChannel ch) throws IOException {
        ZipDirectory zip = ZipDirectory.read(path, ch);
        String prefix = null;
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash).equals("/data.pkl")) {
                if (prefix != null) throw ZipDirectory.bad(path, "more than one data.pkl (" + prefix + ", " + name.substring(0, slash) + ")");
                prefix = name.substring(0, slash);
            }
        }
        if (prefix == null) throw ZipDirectory.bad(path, "zip archive without a PREFIX/data.pkl entry: not a torch.save file");
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        ZipDirectory.Entry bo = zip.entries().get(prefix + "/byteorder");
        if (bo != null) {
            String s = new String(zip.readSmall(bo, 16), StandardCharsets.US_ASCII).trim();
            if (s.equals("big")) order = ByteOrder.BIG_ENDIAN;
            else if (!s.equals("little")) throw ZipDirectory.bad(path, "unknown byteorder '" + s + "'");
        }
        byte[] pkl = zip.readSmall(zip.entries().get(prefix + "/data.pkl"), MAX_PICKLE);
        Map<String, StorageRef> refs = new HashMap<>();
        String dataPrefix = prefix + "/data/";
        TorchUnpickler u = new TorchUnpickler(TorchUnpickler.of(pkl), path, (pid, at) -> {
            // ('storage', storage_type, key, location, numel)
            Tuple t = storageTuple(path, pid, 5, at);
            StorageRef s = storageRef(path, t, null);
            return dedupe(path, refs, s);
        });
        Object root = u.load();
        Map<String, TensorRef> tensors = stateDict(path, root);
        Map<String, Located> located = new HashMap<>();
        for (TensorRef t : tensors.values()) {
            String key = t.storage().key();
            if (located.containsKey(key)) continue;
            ZipDirectory.Entry e = zip.entries().get(dataPrefix + key);
            if (e == null) throw ZipDirectory.bad(path, "storage '" + key + "' has no entry " + dataPrefix + key);
            if (!e.stored()) throw ZipDirectory.bad(path, "storage entry " + e.name() + " is compressed; torch.save stores them uncompressed");
            located.put(key, new Located(zip.dataOffset(e), e.size()));
        }
        checkStorageSizes(path, tensors, located);
        return new TorchBinFile(path, ch, order, tensors, located);
    }

    // ---- legacy format --------------------------------------------------------------------

    private static TorchBinFile openLegacy(Path path, FileChannel ch) throws IOException {
        TorchUnpickler.Input in = TorchUnpickler.of(ch, 0, MAX_PICKLE, path);
        TorchUnpickler.PersistentLoader none = (pid, at) -> {
            throw ZipDirectory.bad(path, "unexpected persistent id in a header pickle");
        };
        Object magic = new TorchUnpickler(in, path, none).load();
        if (!(magic instanceof BigInteger m) || !m.equals(LEGACY_MAGIC)) {
            throw ZipDirectory.bad(path, "a pickle without torch.save's magic number: not a PyTorch checkpoint");
        }
        Object protocol = new TorchUnpickler(in, path, none).load();
        if (!(protocol instanceof Long p) || p != LEGACY_PROTOCOL) {
            throw ZipDirectory.bad(path, "legacy protocol version " + protocol + " is not supported (expected " + LEGACY_PROTOCOL + ")");
        }
        Object sysInfo = new TorchUnpickler(in, path, none).load();
        if (sysInfo instanceof Map<?, ?> si && Boolean.FALSE.equals(si.get("little_endian"))) {
            throw ZipDirectory.bad(path, "saved on a big-endian machine in the legacy format, which is not supported");
        }
        Map<String, StorageRef> refs = new HashMap<>();
        Object root = new TorchUnpickler(in, path, (pid, at) -> {
            // ('storage', storage_type, root_key, location, numel, view_metadata)
            Tuple t = storageTuple(path, pid, 6, at);
            Object view = t.get(5);
            if (view != null && !(view instanceof Tuple)) throw ZipDirectory.bad(path, "bad storage view metadata at pickle byte " + at);
            return dedupe(path, refs, storageRef(path, t, (Tuple) view));
        }).load();
        Object keys = new TorchUnpickler(in, path, none).load();
        if (!(keys instanceof List<?> keyList)) throw ZipDirectory.bad(path, "the storage key list is missing");
        Map<String, StorageRef> byKey = new HashMap<>();
        for (StorageRef s : refs.values()) byKey.putIfAbsent(s.key(), s);
        long pos = in.position();
        long size = ch.size();
        Map<String, Located> located = new HashMap<>();
        for (Object k : keyList) {
            if (!(k instanceof String key) || !byKey.containsKey(key)) throw ZipDirectory.bad(path, "storage key list names an unknown storage " + k);
            StorageRef s = byKey.get(key);
            if (pos > size - 8) throw ZipDirectory.bad(path, "storage '" + key + "' lies past the end of the file");
            long numel = ZipDirectory.readAt(ch, pos, 8, path).getLong(0);
            if (numel != s.numel()) {
                throw ZipDirectory.bad(path, "storage '" + key + "' has " + numel + " elements in the data but " + s.numel() + " in the pickle");
            }
            long nbytes = numel * s.dtype().byteSize();
            if (nbytes > size - pos - 8) throw ZipDirectory.bad(path, "storage '" + key + "' runs past the end of the file");
            located.put(key, new Located(pos + 8, nbytes));
            pos += 8 + nbytes;
        }
        Map<String, TensorRef> tensors = stateDict(path, root);
        for (TensorRef t : tensors.values()) {
            if (!located.containsKey(t.storage().key())) {
                throw ZipDirectory.bad(path, "storage '" + t.storage().key() + "' is not in the storage key list");
            }
        }
        checkStorageSizes(path, tensors, located);
        return new TorchBinFile(path, ch, ByteOrder.LITTLE_ENDIAN, tensors, located);
    }

    // ---- pickle contents ------------------------------------------------------------------

    private static Tuple storageTuple(Path path, Object pid, int n, long at) throws IOException {
        if (!(pid instanceof Tuple t) || t.size() != n || !"storage".equals(t.get(0))) {
            throw ZipDirectory.bad(path, "unexpected persistent id " + TorchUnpickler.describe(pid) + " at pickle byte " + at
                + " (expected ('storage', type, key, location, numel" + (n == 6 ? ", view" : "") + "))");
        }
        return t;
    }

    private static StorageRef storageRef(Path path, Tuple t, Tuple view) throws IOException {
        if (!(t.get(1) instanceof Global g) || !TorchUnpickler.STORAGE_TYPES.containsKey(g.qualified())) {
            throw ZipDirectory.bad(path, "storage type " + TorchUnpickler.describe(t.get(1)) + " is not a torch storage class");
        }
        DType dtype = TorchUnpickler.STORAGE_TYPES.get(g.qualified());
        if (dtype == null) throw ZipDirectory.bad(path, "tensors of " + g.qualified() + " are not supported by this engine");
        if (!(t.get(2) instanceof String key) || !(t.get(4) instanceof Long numel) || numel < 0) {
            throw ZipDirectory.bad(path, "storage persistent id " + t + " has a bad key or element count");
        }
        long viewOffset = 0, viewSize = numel;
        if (view != null) { // legacy storage views: (view_key, offset, size) inside the root storage
            if (view.size() != 3 || !(view.get(1) instanceof Long vo) || !(view.get(2) instanceof Long vs)
                || vo < 0 || vs < 0 || vo > numel || vs > numel - vo) {
                throw ZipDirectory.bad(path, "storage view " + view + " does not fit in storage '" + key + "' of " + numel + " elements");
            }
            viewOffset = vo;
            viewSize = vs;
        }
        return new StorageRef(key, dtype, numel, viewOffset, viewSize);
    }

    /** One StorageRef per (key, dtype, view); a key reused with another element count is an error. */
    private static StorageRef dedupe(Path path, Map<String, StorageRef> refs, StorageRef s) throws IOException {
        String id = s.key() + "/" + s.dtype() + "/" + s.viewOffset() + "/" + s.viewSize();
        StorageRef prev = refs.putIfAbsent(id, s);
        if (prev != null) return prev;
        for (StorageRef o : refs.values()) {
            if (o.key().equals(s.key()) && o.numel() * o.dtype().byteSize() != s.numel() * s.dtype().byteSize()) {
                throw ZipDirectory.bad(path, "storage '" + s.key() + "' is described with two different sizes");
            }
        }
        return s;
    }

    private static Map<String, TensorRef> stateDict(Path path, Object root) throws IOException {
        if (!(root instanceof Map<?, ?> m)) {
            throw ZipDirectory.bad(path, "the pickle holds " + TorchUnpickler.describe(root) + ", not a state dict");
        }
        Map<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (e.getValue() instanceof TensorRef t) {
                if (!(e.getKey() instanceof String name)) throw ZipDirectory.bad(path, "a tensor is stored under a non-string key " + e.getKey());
                out.put(name, t);
            } else if (containsTensor(e.getValue(), 0)) {
                throw ZipDirectory.bad(path, "tensors are nested under '" + e.getKey() + "' (a training checkpoint?); only flat state dicts "
                    + "{name: tensor} are supported");
            }
        }
        return out;
    }

    private static boolean containsTensor(Object o, int depth) {
        if (o instanceof TensorRef) return true;
        if (depth > 100) return false;
        if (o instanceof Map<?, ?> m) return m.values().stream().anyMatch(v -> containsTensor(v, depth + 1));
        if (o instanceof List<?> l) return l.stream().anyMatch(v -> containsTensor(v, depth + 1));
        return false;
    }

    private static void checkStorageSizes(Path path, Map<String, TensorRef> tensors, Map<String, Located> located) throws IOException {
        for (Map.Entry<String, TensorRef> e : tensors.entrySet()) {
            StorageRef s = e.getValue().storage();
            long need = s.numel() * s.dtype().byteSize();
            Located l = located.get(s.key());
            if (l.nbytes() < need) {
                throw ZipDirectory.bad(path, "storage '" + s.key() + "' of tensor '" + e.getKey() + "' needs " + need + " bytes but the file holds "
                    + l.nbytes());
            }
        }
    }

    // ---- TensorSource ---------------------------------------------------------------------

    public Path path() { return path; }
    @Override public Set<String> keys() { return Collections.unmodifiableSet(tensors.keySet()); }
    @Override public boolean contains(String name) { return tensors.containsKey(name); }
    @Override public String describe() { return path.toString(); }

    private TensorRef ref(String name) {
        TensorRef t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        return t;
    }

    @Override public DType dtype(String name) { return ref(name).storage().dtype(); }
    @Override public int[] shape(String name) { return ref(name).shape().clone(); }
    /** Whether the tensor was saved with requires_grad (an nn.Parameter usually was). */
    public boolean requiresGrad(String name) { return ref(name).requiresGrad(); }

    @Override
    public Tensor load(String name, DType dtype, Device device) throws IOException {
        TensorRef t = ref(name);
        StorageRef s = t.storage();
        DType stored = s.dtype();
        int es = stored.byteSize();
        long base = storages.get(s.key()).offset() + (s.viewOffset() + t.offset()) * es;
        String what = path + " (tensor '" + name + "')";
        int[] shape = t.shape();
        if (Shapes.numelLong(shape) == 0 || contiguous(shape, t.stride())) {
            return TensorBytes.read(channel, base, stored, order, shape, dtype, device, what);
        }
        // a strided view (e.g. saved from a transpose or a slice): read the span it covers, then gather
        long span = 1;
        for (int i = 0; i < shape.length; i++) span += (shape[i] - 1L) * t.stride()[i];
        if (span > Integer.MAX_VALUE) throw new IOException(what + ": strided tensor spans " + span + " elements of its storage, too many");
        try (Tensor spanned = TensorBytes.read(channel, base, stored, order, new int[] {(int) span}, stored, Device.CPU, what);
             Tensor gathered = Tensor.empty(stored, Device.CPU, shape)) {
            gather(((CpuStorage) spanned.storage()).array(), ((CpuStorage) gathered.storage()).array(), shape, t.stride());
            return gathered.to(dtype, device);
        }
    }

    private static boolean contiguous(int[] shape, long[] stride) {
        int[] st = new int[stride.length];
        for (int i = 0; i < st.length; i++) {
            if (shape[i] == 1) continue; // any stride of a size-1 dim is fine
            if (stride[i] > Integer.MAX_VALUE) return false; // a contiguous stride is below numel < 2^31
            st[i] = (int) stride[i];
        }
        return Shapes.isContiguous(shape, st);
    }

    /** dst (row-major) = src viewed with the given strides from element 0; works on any primitive array type. */
    static void gather(Object src, Object dst, int[] shape, long[] stride) {
        int rank = shape.length;
        int inner = shape[rank - 1];
        long innerStride = stride[rank - 1];
        int[] idx = new int[rank];
        long srcOff = 0;
        int dstOff = 0;
        int n = Shapes.numel(shape);
        while (dstOff < n) {
            if (innerStride == 1) {
                System.arraycopy(src, (int) srcOff, dst, dstOff, inner);
            } else {
                for (int j = 0; j < inner; j++) System.arraycopy(src, (int) (srcOff + j * innerStride), dst, dstOff + j, 1);
            }
            dstOff += inner;
            // advance the outer index (odometer over dims 0..rank-2)
            for (int d = rank - 2; d >= 0; d--) {
                idx[d]++;
                srcOff += stride[d];
                if (idx[d] < shape[d]) break;
                srcOff -= stride[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    // ---- sharded .bin ---------------------------------------------------------------------

    /** The index name of sharded PyTorch checkpoints. */
    public static final String INDEX = "pytorch_model.bin.index.json";

    /** A sharded .bin checkpoint ({@value #INDEX} + its shards), shards opened lazily. */
    public static ShardedCheckpoint openSharded(Path indexFile) throws IOException {
        return ShardedCheckpoint.open(indexFile, TorchBinFile::open);
    }
}
