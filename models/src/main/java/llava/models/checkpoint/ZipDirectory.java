package llava.models.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The central directory of a zip file (as torch.save writes it: entries stored uncompressed,
 * zip64 for big files), read with every size and offset checked against the file, so that the
 * stored entries can be memory-mapped where they lie.
 */
final class ZipDirectory {
    /** One entry: where its data starts in the file and how long it is. */
    record Entry(String name, int method, long compressedSize, long size, long localHeaderOffset) {
        boolean stored() { return method == 0; }
    }

    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;
    /** Central directories of real checkpoints are a few MB at most. */
    private static final long MAX_CENTRAL_DIRECTORY = 256L << 20;

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final Map<String, Entry> entries;

    private ZipDirectory(Path path, FileChannel channel, long fileSize, Map<String, Entry> entries) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.entries = entries;
    }

    Map<String, Entry> entries() { return entries; }

    static ZipDirectory read(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        int tail = (int) Math.min(size, 22 + 65535);
        ByteBuffer end = readAt(ch, size - tail, tail, path);
        int eocd = -1;
        for (int i = tail - 22; i >= 0; i--) {
            if (end.getInt(i) == EOCD_SIG && i + 22 + (end.getShort(i + 20) & 0xFFFF) <= tail) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) throw bad(path, "no end-of-central-directory record (not a zip file, or truncated)");
        long eocdPos = size - tail + eocd;
        long count = end.getShort(eocd + 10) & 0xFFFF;
        long cdSize = end.getInt(eocd + 12) & 0xFFFFFFFFL;
        long cdOffset = end.getInt(eocd + 16) & 0xFFFFFFFFL;
        long cdLimit = eocdPos;
        if (count == 0xFFFF || cdSize == 0xFFFFFFFFL || cdOffset == 0xFFFFFFFFL) {
            if (eocdPos < 20) throw bad(path, "zip64 end-of-central-directory locator missing");
            ByteBuffer loc = readAt(ch, eocdPos - 20, 20, path);
            if (loc.getInt(0) != ZIP64_LOCATOR_SIG) throw bad(path, "zip64 end-of-central-directory locator missing");
            long z64 = loc.getLong(8);
            if (z64 < 0 || z64 > eocdPos - 20 - 56) throw bad(path, "zip64 end-of-central-directory offset " + z64 + " is out of range");
            ByteBuffer rec = readAt(ch, z64, 56, path);
            if (rec.getInt(0) != ZIP64_EOCD_SIG) throw bad(path, "zip64 end-of-central-directory record missing at " + z64);
            count = rec.getLong(32);
            cdSize = rec.getLong(40);
            cdOffset = rec.getLong(48);
            cdLimit = z64;
        }
        if (cdOffset < 0 || cdSize < 0 || cdSize > MAX_CENTRAL_DIRECTORY || cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
            throw bad(path, "central directory [" + cdOffset + ", +" + cdSize + ") does not fit in the file");
        }
        ByteBuffer cd = readAt(ch, cdOffset, (int) cdSize, path);
        Map<String, Entry> entries = new LinkedHashMap<>();
        int p = 0;
        while (p < cdSize) {
            if (cdSize - p < 46 || cd.getInt(p) != CENTRAL_SIG) throw bad(path, "corrupt central directory entry at " + (cdOffset + p));
            int flags = cd.getShort(p + 8) & 0xFFFF;
            int method = cd.getShort(p + 10) & 0xFFFF;
            long csize = cd.getInt(p + 20) & 0xFFFFFFFFL;
            long usize = cd.getInt(p + 24) & 0xFFFFFFFFL;
            int nameLen = cd.getShort(p + 28) & 0xFFFF;
            int extraLen = cd.getShort(p + 30) & 0xFFFF;
            int commentLen = cd.getShort(p + 32) & 0xFFFF;
            long local = cd.getInt(p + 42) & 0xFFFFFFFFL;
            int next = p + 46 + nameLen + extraLen + commentLen;
            if (next > cdSize) throw bad(path, "central directory entry at " + (cdOffset + p) + " runs past the directory");
            byte[] nb = new byte[nameLen];
            cd.get(p + 46, nb);
            String name = new String(nb, StandardCharsets.UTF_8);
            if ((flags & 1) != 0) throw bad(path, "entry '" + name + "' is encrypted");
            // zip64 extra field: 64-bit values for the 32-bit fields that hold 0xFFFFFFFF, in this order
            int x = p + 46 + nameLen;
            int xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = cd.getShort(x) & 0xFFFF;
                int len = cd.getShort(x + 2) & 0xFFFF;
                if (x + 4 + len > xEnd) throw bad(path, "corrupt extra field of entry '" + name + "'");
                if (id == 0x0001) {
                    int q = x + 4;
                    int qEnd = q + len;
                    if (usize == 0xFFFFFFFFL) { usize = need8(cd, q, qEnd, path, name); q += 8; }
                    if (csize == 0xFFFFFFFFL) { csize = need8(cd, q, qEnd, path, name); q += 8; }
                    if (local == 0xFFFFFFFFL) { local = need8(cd, q, qEnd, path, name); }
                }
                x += 4 + len;
            }
            if (usize < 0 || csize < 0 || local < 0 || local >= size) {
                throw bad(path, "entry '" + name + "' has an out-of-range size or offset");
            }
            if (entries.put(name, new Entry(name, method, csize, usize, local)) != null) {
                throw bad(path, "entry '" + name + "' appears twice");
            }
            p = next;
        }
        if (entries.size() != count) {
            throw bad(path, "central directory lists " + entries.size() + " entries, the end record says " + count);
        }
        return new ZipDirectory(path, ch, size, Collections.unmodifiableMap(entries));
    }

    private static long need8(ByteBuffer b, int q, int qEnd, Path path, String name) throws IOException {
        if (q + 8 > qEnd) throw bad(path, "zip64 extra field of entry '" + name + "' is too short");
        return b.getLong(q);
    }

    /** File offset of an entry's data, from its local header, checked to lie inside the file. */
    long dataOffset(Entry e) throws IOException {
        if (e.localHeaderOffset() > fileSize - 30) throw bad(path, "local header of entry '" + e.name() + "' lies past the end of the file");
        ByteBuffer lh = readAt(channel, e.localHeaderOffset(), 30, path);
        if (lh.getInt(0) != LOCAL_SIG) throw bad(path, "entry '" + e.name() + "' has no local header at " + e.localHeaderOffset());
        long data = e.localHeaderOffset() + 30 + (lh.getShort(26) & 0xFFFF) + (lh.getShort(28) & 0xFFFF);
        if (data > fileSize || e.compressedSize() > fileSize - data) {
            throw bad(path, "data of entry '" + e.name() + "' [" + data + ", +" + e.compressedSize() + ") runs past the end of the file ("
                + fileSize + " bytes)");
        }
        return data;
    }

    /** The whole content of a small stored entry. */
    byte[] readSmall(Entry e, long max) throws IOException {
        if (!e.stored()) throw bad(path, "entry '" + e.name() + "' is compressed (method " + e.method() + "); torch.save stores entries uncompressed");
        if (e.size() > max) throw bad(path, "entry '" + e.name() + "' is " + e.size() + " bytes, more than the " + max + " accepted");
        return readAt(channel, dataOffset(e), (int) e.size(), path).array(); // a heap buffer of exactly that size
    }

    /** len bytes at pos, little-endian, ready to read; the file ending first is an error naming it. */
    static ByteBuffer readAt(FileChannel ch, long pos, int len, Path path) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) throw bad(path, "unexpected end of file at " + (pos + b.position()));
        }
        b.flip();
        return b;
    }

    static IOException bad(Path path, String msg) {
        return new IOException("malformed PyTorch checkpoint " + path + ": " + msg);
    }
}
