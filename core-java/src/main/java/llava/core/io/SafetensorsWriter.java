package llava.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import llava.core.DType;
import llava.core.Shapes;
import llava.core.Tensor;

/**
 * Writes .safetensors files the way the reference (Rust/Python) library does, byte for byte:
 * tensors ordered by dtype alignment (largest first) then by name, the header as compact JSON with
 * "__metadata__" first, padded with spaces to a multiple of 8 bytes so that the data section is
 * 8-byte aligned, then the tensors back to back.
 *
 * <p>Every file is written to a temporary name in the target folder, flushed to disk, then renamed
 * over the target, so a crash never leaves a half-written checkpoint under the real name. Sharded
 * checkpoints follow HuggingFace transformers: {@code model-00001-of-00003.safetensors}, ...
 * plus {@code model.safetensors.index.json}, written last.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {}

    /** A tensor to write: its declared dtype and shape, and how to get its data. */
    private record Pending(String name, DType dtype, int[] shape, Opener opener) {
        long nbytes() { return Shapes.numelLong(shape) * dtype.byteSize(); }
    }

    private interface Opener {
        Tensor open() throws IOException;
    }

    // =========================================================================================
    // single files
    // =========================================================================================

    /** Writes tensors (any dtype, device and strides) and string metadata (may be null) to file. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        writeFile(file, fromMap(tensors), metadata);
    }

    /** Writes the named tensors of source to file, loading them one at a time. */
    public static void write(Path file, TensorSource source, Collection<String> names, Map<String, String> metadata) throws IOException {
        writeFile(file, fromSource(source, names), metadata);
    }

    private static List<Pending> fromMap(Map<String, Tensor> tensors) {
        List<Pending> out = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (t == null) throw new IllegalArgumentException("tensor '" + e.getKey() + "' is null");
            out.add(new Pending(e.getKey(), t.dtype(), t.shape(), t::detach)); // a handle of our own, closed after writing
        }
        return checkNames(out);
    }

    private static List<Pending> fromSource(TensorSource source, Collection<String> names) throws IOException {
        List<Pending> out = new ArrayList<>(names.size());
        for (String n : names) {
            if (!source.contains(n)) throw new IllegalArgumentException("no tensor '" + n + "' in " + source.describe());
            out.add(new Pending(n, source.dtype(n), source.shape(n), () -> source.load(n)));
        }
        return checkNames(out);
    }

    /** Refuses null, reserved and repeated names, before anything is written (a later shard's too). */
    private static List<Pending> checkNames(List<Pending> items) {
        Set<String> seen = new HashSet<>();
        for (Pending p : items) {
            if (p.name() == null) throw new IllegalArgumentException("tensor names must not be null");
            if (p.name().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
            if (!seen.add(p.name())) throw new IllegalArgumentException("duplicate tensor name '" + p.name() + "'");
        }
        return items;
    }

    private static void writeFile(Path file, List<Pending> items, Map<String, String> metadata) throws IOException {
        List<Pending> ordered = new ArrayList<>(items);
        ordered.sort(WRITE_ORDER);
        byte[] header = header(ordered, metadata);
        AtomicFiles.write(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeAll(ch, len);
            writeAll(ch, ByteBuffer.wrap(header));
            for (Pending p : ordered) {
                try (Tensor t = p.opener().open()) {
                    if (t.dtype() != p.dtype() || !Arrays.equals(t.shape(), p.shape())) {
                        throw new IOException("tensor '" + p.name() + "' changed while writing " + file + ": declared "
                            + p.dtype() + " " + Arrays.toString(p.shape()) + ", got " + t.dtype() + " " + Arrays.toString(t.shape()));
                    }
                    TensorBytes.write(ch, t, ByteOrder.LITTLE_ENDIAN);
                }
            }
            long expected = 8L + header.length + ordered.stream().mapToLong(Pending::nbytes).sum();
            if (ch.position() != expected) {
                throw new IOException("wrote " + ch.position() + " bytes to " + file + " but expected " + expected);
            }
        });
    }

    /** The reference order: descending dtype alignment, then name (by code point, as Rust compares UTF-8). */
    private static final Comparator<Pending> WRITE_ORDER = Comparator
        .comparingInt((Pending p) -> -alignmentRank(p.dtype()))
        .thenComparing(Pending::name, SafetensorsWriter::compareCodePoints);

    /** Position of the dtype in the reference library's Dtype enum (declared in increasing alignment). */
    private static int alignmentRank(DType d) {
        return switch (d) {
            case BOOL -> 0; case U8 -> 1; case F16 -> 7; case BF16 -> 8; case I32 -> 9;
            case F32 -> 11; case F64 -> 12; case I64 -> 13;
        };
    }

    static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** The header bytes for tensors in write order, padded with spaces to a multiple of 8. */
    static byte[] header(List<Pending> ordered, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (metadata != null) {
            sb.append("\"__metadata__\":{");
            TreeMap<String, String> sorted = new TreeMap<>(SafetensorsWriter::compareCodePoints);
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) throw new IllegalArgumentException("metadata keys and values must not be null");
                sorted.put(e.getKey(), e.getValue());
            }
            boolean firstMeta = true;
            for (Map.Entry<String, String> e : sorted.entrySet()) {
                if (!firstMeta) sb.append(',');
                firstMeta = false;
                jsonString(sb, e.getKey(), false);
                sb.append(':');
                jsonString(sb, e.getValue(), false);
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (Pending p : ordered) {
            if (!first) sb.append(',');
            first = false;
            jsonString(sb, p.name(), false);
            sb.append(":{\"dtype\":\"").append(p.dtype().safetensorsName()).append("\",\"shape\":[");
            int[] shape = p.shape();
            for (int i = 0; i < shape.length; i++) {
                if (i > 0) sb.append(',');
                sb.append(shape[i]);
            }
            long end = offset + p.nbytes();
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /**
     * A JSON string as serde_json writes it (ensureAscii false: only '"', '\\' and control
     * characters escaped) or as Python's json.dumps does by default (ensureAscii true: also every
     * char outside printable ASCII, escaped per UTF-16 unit). Hex digits are lowercase in both.
     */
    static void jsonString(StringBuilder sb, String s, boolean ensureAscii) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    // =========================================================================================
    // sharded checkpoints
    // =========================================================================================

    /**
     * Writes tensors as a checkpoint in folder: one file {@code weightsName} (e.g.
     * "model.safetensors") when they fit in maxShardBytes, otherwise shards of at most
     * maxShardBytes of tensor data each (a bigger tensor gets a shard of its own) and the index
     * {@code weightsName + ".index.json"}. Shards are filled greedily in the map's order, like
     * transformers' save_pretrained. Files of an earlier save under the same name that the new
     * one replaces (stale shards, index or single file) are removed. Returns the files written.
     */
    public static List<Path> writeSharded(Path folder, String weightsName, Map<String, Tensor> tensors,
                                          Map<String, String> metadata, long maxShardBytes) throws IOException {
        return writeShards(folder, weightsName, fromMap(tensors), metadata, maxShardBytes);
    }

    /** {@link #writeSharded(Path, String, Map, Map, long)} streaming the named tensors from source. */
    public static List<Path> writeSharded(Path folder, String weightsName, TensorSource source, Collection<String> names,
                                          Map<String, String> metadata, long maxShardBytes) throws IOException {
        return writeShards(folder, weightsName, fromSource(source, names), metadata, maxShardBytes);
    }

    private static final Pattern WEIGHTS_NAME = Pattern.compile("(.+)\\.safetensors");

    private static List<Path> writeShards(Path folder, String weightsName, List<Pending> items,
                                          Map<String, String> metadata, long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) throw new IllegalArgumentException("max shard size must be positive, got " + maxShardBytes);
        Matcher wm = WEIGHTS_NAME.matcher(weightsName);
        if (!wm.matches() || weightsName.contains("/") || weightsName.contains("\\")) {
            throw new IllegalArgumentException("weights file name must look like NAME.safetensors, got '" + weightsName + "'");
        }
        String stem = wm.group(1);
        Files.createDirectories(folder);
        List<List<Pending>> shards = new ArrayList<>();
        long current = 0;
        for (Pending p : items) {
            if (shards.isEmpty() || (current + p.nbytes() > maxShardBytes && !shards.get(shards.size() - 1).isEmpty())) {
                shards.add(new ArrayList<>());
                current = 0;
            }
            shards.get(shards.size() - 1).add(p);
            current += p.nbytes();
        }
        Path index = folder.resolve(weightsName + ".index.json");
        Pattern shardPattern = Pattern.compile(Pattern.quote(stem) + "-\\d{5}-of-\\d{5}\\.safetensors");
        List<Path> written = new ArrayList<>();
        if (shards.size() <= 1) {
            Path single = folder.resolve(weightsName);
            writeFile(single, items, metadata);
            written.add(single);
            Files.deleteIfExists(index);
            removeStale(folder, shardPattern, Set.of());
            return written;
        }
        TreeMap<String, String> weightMap = new TreeMap<>(SafetensorsWriter::compareCodePoints);
        long totalSize = 0;
        Set<String> names = new HashSet<>();
        for (int i = 0; i < shards.size(); i++) {
            String shardName = String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", stem, i + 1, shards.size());
            Path shard = folder.resolve(shardName);
            writeFile(shard, shards.get(i), metadata);
            written.add(shard);
            names.add(shardName);
            for (Pending p : shards.get(i)) {
                weightMap.put(p.name(), shardName);
                totalSize += p.nbytes();
            }
        }
        AtomicFiles.writeString(index, indexJson(totalSize, weightMap));
        written.add(index);
        Files.deleteIfExists(folder.resolve(weightsName));
        removeStale(folder, shardPattern, names);
        return written;
    }

    /** The index file as transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n". */
    static String indexJson(long totalSize, Map<String, String> sortedWeightMap) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize).append("\n  },\n  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : sortedWeightMap.entrySet()) {
            sb.append(first ? "\n    " : ",\n    ");
            first = false;
            jsonString(sb, e.getKey(), true);
            sb.append(": ");
            jsonString(sb, e.getValue(), true);
        }
        sb.append(first ? "}\n}\n" : "\n  }\n}\n");
        return sb.toString();
    }

    private static void removeStale(Path folder, Pattern shardPattern, Set<String> keep) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (shardPattern.matcher(n).matches() && !keep.contains(n) && Files.isRegularFile(p)) Files.delete(p);
            }
        }
    }

    /**
     * Parses a size as transformers does: a number of bytes, or a number with KB/MB/GB/TB (powers
     * of 1000) or KiB/MiB/GiB/TiB (powers of 1024), case-insensitive: "5GB", "500MiB", "2000000".
     */
    public static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long[] mult = {1L << 40, 1L << 30, 1L << 20, 1L << 10, 1_000_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L, 1L};
        String[] units = {"TIB", "GIB", "MIB", "KIB", "TB", "GB", "MB", "KB", "B"};
        for (int i = 0; i < units.length; i++) {
            if (t.endsWith(units[i])) return scaled(s, t.substring(0, t.length() - units[i].length()).trim(), mult[i]);
        }
        return scaled(s, t, 1);
    }

    private static long scaled(String original, String number, long mult) {
        try {
            double v = Double.parseDouble(number);
            if (!(v > 0) || v * mult >= Long.MAX_VALUE) throw new NumberFormatException();
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad size '" + original + "' (expected e.g. 5GB, 500MiB or a number of bytes)");
        }
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
