package llava.models.checkpoint;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import llava.core.DType;

/**
 * A restricted unpickler for the pickles torch.save writes. It implements only data opcodes
 * (those of protocol 2 that torch.save uses, plus the protocol-4 framing ones that
 * {@code torch.save(pickle_protocol=4)} adds) and calls nothing: the few globals it accepts are
 * the tensor-rebuilding functions and storage classes of torch.save, interpreted here as data
 * (a {@link TensorRef}). Any other global, any opcode that would construct an arbitrary object
 * (INST, OBJ, NEWOBJ, EXT*) and any unsupported opcode are rejected with an error naming it.
 *
 * <p>Values: None = null, bool = Boolean, int = Long (BigInteger when larger), float = Double,
 * str = String, tuple = {@link Tuple}, list = ArrayList, dict = LinkedHashMap.
 */
final class TorchUnpickler {

    /** An immutable Python tuple. */
    static final class Tuple extends AbstractList<Object> {
        private final Object[] items;
        Tuple(Object... items) { this.items = items; }
        @Override public Object get(int i) { return items[i]; }
        @Override public int size() { return items.length; }
    }

    /** A global the pickle referenced (only allowed ones are ever created). */
    record Global(String module, String name) {
        String qualified() { return module + "." + name; }
    }

    /** A storage as persistent_load describes it: dtype, element count, and (legacy views) a window of it. */
    record StorageRef(String key, DType dtype, long numel, long viewOffset, long viewSize) {}

    /** A tensor as _rebuild_tensor_v2 describes it: a strided view of a storage. */
    record TensorRef(StorageRef storage, long offset, int[] shape, long[] stride, boolean requiresGrad) {}

    /** Resolves persistent ids (the storages) of one file format. */
    interface PersistentLoader {
        Object load(Object pid, long at) throws IOException;
    }

    /** Bytes to unpickle, read sequentially. */
    interface Input {
        int read() throws IOException; // -1 at the end
        byte[] read(int n) throws IOException;
        long position();
        long remaining();
    }

    static final String ORDERED_DICT = "collections.OrderedDict";
    static final String REBUILD_TENSOR = "torch._utils._rebuild_tensor_v2";
    static final String REBUILD_PARAMETER = "torch._utils._rebuild_parameter";
    static final String REBUILD_PARAMETER_WITH_STATE = "torch._utils._rebuild_parameter_with_state";

    /** The typed storage classes torch.save names in persistent ids, and their dtypes (null: unsupported here). */
    static final Map<String, DType> STORAGE_TYPES = new LinkedHashMap<>();
    static {
        STORAGE_TYPES.put("torch.DoubleStorage", DType.F64);
        STORAGE_TYPES.put("torch.FloatStorage", DType.F32);
        STORAGE_TYPES.put("torch.HalfStorage", DType.F16);
        STORAGE_TYPES.put("torch.BFloat16Storage", DType.BF16);
        STORAGE_TYPES.put("torch.LongStorage", DType.I64);
        STORAGE_TYPES.put("torch.IntStorage", DType.I32);
        STORAGE_TYPES.put("torch.ByteStorage", DType.U8);
        STORAGE_TYPES.put("torch.BoolStorage", DType.BOOL);
        STORAGE_TYPES.put("torch.ShortStorage", null);
        STORAGE_TYPES.put("torch.CharStorage", null);
    }

    private static final List<String> CALLABLES = List.of(ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE);

    private final Input in;
    private final Path path;
    private final PersistentLoader persistentLoader;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();
    private long opStart;

    TorchUnpickler(Input in, Path path, PersistentLoader persistentLoader) {
        this.in = in;
        this.path = path;
        this.persistentLoader = persistentLoader;
    }

    /** Unpickles one object (up to and including its STOP opcode). */
    Object load() throws IOException {
        stack.clear();
        marks.clear();
        memo.clear();
        while (true) {
            opStart = in.position();
            int op = in.read();
            if (op < 0) throw bad("the pickle ends without a STOP opcode");
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 5) throw bad("unsupported pickle protocol " + proto);
                }
                case 0x95 -> le(8); // FRAME: a length hint, nothing to do
                case '.' -> { // STOP
                    Object v = pop();
                    if (!stack.isEmpty() || !marks.isEmpty()) throw bad("values left on the stack at STOP");
                    return v;
                }
                case '(' -> marks.add(stack.size()); // MARK
                case '}' -> push(new LinkedHashMap<Object, Object>()); // EMPTY_DICT
                case ']' -> push(new ArrayList<Object>()); // EMPTY_LIST
                case ')' -> push(new Tuple()); // EMPTY_TUPLE
                case 't' -> push(new Tuple(popMark().toArray())); // TUPLE
                case 0x85 -> push(new Tuple(pop())); // TUPLE1
                case 0x86 -> { Object b = pop(), a = pop(); push(new Tuple(a, b)); } // TUPLE2
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); push(new Tuple(a, b, c)); } // TUPLE3
                case 'a' -> { Object v = pop(); list(peek(), "APPEND").add(v); } // APPEND
                case 'e' -> { List<Object> vs = popMark(); list(peek(), "APPENDS").addAll(vs); } // APPENDS
                case 's' -> { Object v = pop(), k = pop(); put(dict(peek(), "SETITEM"), k, v); } // SETITEM
                case 'u' -> { // SETITEMS
                    List<Object> kv = popMark();
                    if (kv.size() % 2 != 0) throw bad("SETITEMS with an odd number of values");
                    Map<Object, Object> d = dict(peek(), "SETITEMS");
                    for (int i = 0; i < kv.size(); i += 2) put(d, kv.get(i), kv.get(i + 1));
                }
                case 'J' -> push((long) (int) le(4)); // BININT (signed)
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push(le(2)); // BININT2
                case 0x8a -> push(long1(u8())); // LONG1
                case 'N' -> push(null); // NONE
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'G' -> push(ByteBuffer.wrap(in.read(8)).order(ByteOrder.BIG_ENDIAN).getDouble()); // BINFLOAT
                case 'X' -> push(utf8(length(le(4)))); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 'T' -> push(utf8(length((int) le(4)))); // BINSTRING (Python 2 str)
                case 'U' -> push(utf8(u8())); // SHORT_BINSTRING (Python 2 str)
                case 'c' -> { String module = line(), name = line(); push(global(module, name)); } // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw bad("STACK_GLOBAL of non-strings");
                    push(global(m, n));
                }
                case 'R' -> { Object args = pop(), fn = pop(); push(reduce(fn, args)); } // REDUCE
                case 'b' -> build(pop(), peek()); // BUILD
                case 'Q' -> push(persistentLoader.load(pop(), opStart)); // BINPERSID
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(le(4), peek()); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(le(4))); // LONG_BINGET
                default -> throw bad("unsupported pickle opcode 0x" + Integer.toHexString(op)
                    + (op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : "")
                    + "; only the data opcodes torch.save writes are accepted");
            }
        }
    }

    // ---- globals and the calls torch.save pickles ----------------------------------------

    private Global global(String module, String name) throws IOException {
        String q = module + "." + name;
        if (CALLABLES.contains(q) || STORAGE_TYPES.containsKey(q)) return new Global(module, name);
        throw new IOException("refusing to load " + path + ": its pickle references the global '" + q + "' (at byte " + opStart
            + "), which torch.save does not write for tensors; only " + String.join(", ", CALLABLES)
            + " and torch.*Storage classes are accepted, and nothing is ever called");
    }

    private Object reduce(Object fn, Object argsObj) throws IOException {
        if (!(fn instanceof Global g) || !CALLABLES.contains(g.qualified())) {
            throw bad("REDUCE of " + describe(fn) + ", which is not one of the accepted calls " + CALLABLES);
        }
        if (!(argsObj instanceof Tuple args)) throw bad("REDUCE arguments of " + g.qualified() + " are not a tuple");
        switch (g.qualified()) {
            case ORDERED_DICT -> {
                if (!args.isEmpty()) throw bad("collections.OrderedDict called with arguments; torch.save passes none");
                return new LinkedHashMap<Object, Object>();
            }
            case REBUILD_TENSOR -> { return rebuildTensor(args); }
            default -> { // _rebuild_parameter(data, requires_grad, hooks[, state])
                int n = g.qualified().equals(REBUILD_PARAMETER) ? 3 : 4;
                if (args.size() != n || !(args.get(0) instanceof TensorRef t) || !(args.get(1) instanceof Boolean rg)) {
                    throw bad(g.qualified() + " expects (tensor, requires_grad, hooks" + (n == 4 ? ", state" : "") + "), got " + describe(args));
                }
                return new TensorRef(t.storage(), t.offset(), t.shape(), t.stride(), rg);
            }
        }
    }

    /** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
    private TensorRef rebuildTensor(Tuple a) throws IOException {
        if ((a.size() != 6 && a.size() != 7) || !(a.get(0) instanceof StorageRef s) || !(a.get(1) instanceof Long offset)
            || !(a.get(2) instanceof Tuple size) || !(a.get(3) instanceof Tuple stride) || !(a.get(4) instanceof Boolean rg)) {
            throw bad(REBUILD_TENSOR + " expects (storage, offset, size, stride, requires_grad, hooks), got " + describe(a));
        }
        if (size.size() != stride.size()) throw bad("tensor size " + size + " and stride " + stride + " differ in length");
        int[] shape = new int[size.size()];
        long[] strides = new long[size.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(size.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE) throw bad("invalid tensor size " + size);
            if (!(stride.get(i) instanceof Long st) || st < 0) throw bad("invalid tensor stride " + stride);
            shape[i] = (int) (long) d;
            strides[i] = st;
            numel *= d;
            if (numel > Integer.MAX_VALUE) throw bad("tensor of size " + size + " has more than " + Integer.MAX_VALUE + " elements");
        }
        if (offset < 0) throw bad("negative storage offset " + offset);
        if (numel > 0) {
            long last = offset; // index of the last element: offset + sum (size-1)*stride
            try {
                for (int i = 0; i < shape.length; i++) last = Math.addExact(last, Math.multiplyExact(shape[i] - 1L, strides[i]));
            } catch (ArithmeticException e) {
                throw bad("tensor of size " + size + ", stride " + stride + " and offset " + offset + " overflows");
            }
            if (last >= s.viewSize()) {
                throw bad("tensor of size " + size + ", stride " + stride + " and offset " + offset + " reaches element " + last
                    + " of storage '" + s.key() + "', which has " + s.viewSize());
            }
        }
        return new TensorRef(s, offset, shape, strides, rg);
    }

    private void build(Object state, Object target) throws IOException {
        // OrderedDict attributes (a state_dict's _metadata) and parameter state carry no tensor data
        if (!(target instanceof Map) && !(target instanceof TensorRef)) throw bad("BUILD on " + describe(target));
    }

    // ---- stack and helpers ----------------------------------------------------------------

    private void push(Object v) { stack.add(v); }

    private Object pop() throws IOException {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw bad("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() throws IOException {
        if (stack.isEmpty()) throw bad("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws IOException {
        if (marks.isEmpty()) throw bad("no MARK on the stack");
        int m = marks.remove(marks.size() - 1);
        List<Object> sub = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return sub;
    }

    private Object memoGet(long i) throws IOException {
        if (!memo.containsKey(i)) throw bad("memo entry " + i + " read before it was written");
        return memo.get(i);
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) throws IOException {
        if (!(o instanceof ArrayList)) throw bad(op + " on " + describe(o));
        return (List<Object>) o;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) throws IOException {
        if (!(o instanceof LinkedHashMap)) throw bad(op + " on " + describe(o));
        return (Map<Object, Object>) o;
    }

    private void put(Map<Object, Object> d, Object k, Object v) throws IOException {
        if (!(k == null || k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Boolean
            || k instanceof Double || k instanceof Tuple)) {
            throw bad("dict key of unhashable type " + describe(k));
        }
        d.put(k, v);
    }

    private int u8() throws IOException {
        int b = in.read();
        if (b < 0) throw bad("unexpected end of the pickle");
        return b;
    }

    /** An unsigned little-endian integer of n bytes (n <= 4) or a signed 8-byte one. */
    private long le(int n) throws IOException {
        byte[] b = in.read(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[i] & 0xFF);
        return v;
    }

    private int length(long n) throws IOException {
        if (n < 0 || n > in.remaining()) throw bad("string length " + n + " runs past the end of the pickle");
        return (int) n;
    }

    private Object long1(int n) throws IOException {
        if (n == 0) return 0L;
        byte[] b = in.read(n);
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = b[n - 1 - i];
        BigInteger v = new BigInteger(be); // two's complement, as pickle's LONG1
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String utf8(int n) throws IOException {
        return new String(in.read(n), StandardCharsets.UTF_8);
    }

    /** A newline-terminated ASCII line of a GLOBAL opcode (at most 256 bytes). */
    private String line() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int b = u8();
            if (b == '\n') return sb.toString();
            if (sb.length() >= 256 || b < 0x20 || b >= 0x7f) throw bad("malformed GLOBAL name");
            sb.append((char) b);
        }
    }

    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return "the global " + g.qualified();
        if (o instanceof TensorRef) return "a tensor";
        if (o instanceof StorageRef) return "a storage";
        if (o instanceof Tuple t) return "a tuple of " + t.size();
        if (o instanceof List<?> l) return "a list of " + l.size();
        if (o instanceof Map<?, ?> m) return "a dict of " + m.size();
        if (o instanceof String s) return "the string '" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        return o.getClass().getSimpleName() + " " + o;
    }

    IOException bad(String msg) {
        return new IOException("malformed PyTorch checkpoint " + path + ": " + msg + " (pickle byte " + opStart + ")");
    }

    // ---- inputs ---------------------------------------------------------------------------

    /** A pickle held in memory (data.pkl of a zip checkpoint). */
    static Input of(byte[] data) {
        return new Input() {
            private int pos;
            @Override public int read() { return pos < data.length ? data[pos++] & 0xFF : -1; }
            @Override public byte[] read(int n) throws IOException {
                if (n < 0 || n > data.length - pos) throw new IOException("unexpected end of the pickle at byte " + pos);
                byte[] out = java.util.Arrays.copyOfRange(data, pos, pos + n);
                pos += n;
                return out;
            }
            @Override public long position() { return pos; }
            @Override public long remaining() { return data.length - pos; }
        };
    }

    /**
     * Pickles read sequentially from a file from a position (legacy checkpoints: several pickles,
     * then data), at most maxBytes of them in all.
     */
    static Input of(FileChannel ch, long start, long maxBytes, Path path) throws IOException {
        long size = ch.size();
        long end = Math.min(size, start + maxBytes);
        return new Input() {
            private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
            private long bufStart = start; // file position of buf[0]
            { buf.limit(0); }

            private boolean fill() throws IOException {
                bufStart += buf.limit();
                if (bufStart >= end) {
                    if (end < size) throw new IOException("malformed PyTorch checkpoint " + path + ": pickles longer than " + maxBytes + " bytes");
                    return false;
                }
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), end - bufStart));
                int n = ch.read(buf, bufStart);
                buf.flip();
                return n > 0;
            }
            @Override public int read() throws IOException {
                if (!buf.hasRemaining() && !fill()) return -1;
                return buf.get() & 0xFF;
            }
            @Override public byte[] read(int n) throws IOException {
                if (n < 0 || n > remaining()) throw new IOException("unexpected end of the pickle at byte " + position());
                byte[] out = new byte[n];
                int off = 0;
                while (off < n) {
                    if (!buf.hasRemaining() && !fill()) throw new IOException("unexpected end of file at byte " + position());
                    int k = Math.min(n - off, buf.remaining());
                    buf.get(out, off, k);
                    off += k;
                }
                return out;
            }
            @Override public long position() { return bufStart + buf.position(); }
            @Override public long remaining() { return end - position(); }
        };
    }
}
