package llava.models.image;

import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * PNG to RGB with the results of Pillow's {@code Image.open(f).convert("RGB")}:
 * <ul>
 *   <li>alpha (RGBA, LA, tRNS) is dropped without compositing;
 *   <li>grayscale is replicated; 1-bit is 0/255, 2-bit and 4-bit are scaled by 0x55 and 0x11;
 *   <li>16-bit RGB, RGBA and gray+alpha keep the high byte of each sample; 16-bit gray opens as
 *       a 32-bit integer image in Pillow, whose conversion to RGB clips at 255 (so values above
 *       255 become white);
 *   <li>palette indices past the end of PLTE give black (Pillow 10.1 and later).
 * </ul>
 * Like Pillow, chunk CRCs are checked up to the image data (not for IDAT), chunks it does not
 * know are skipped, data after the last row is ignored and a missing IEND is tolerated.
 */
final class PngDecoder {

    static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    private static final int[][] ADAM7 = {
        // x0, y0, dx, dy
        {0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
    };

    private final byte[] data;
    private final DecodeContext ctx;
    private int width, height, bitDepth, colorType, channels;
    private boolean interlaced;
    private byte[] palette; // RGB triples
    private int paletteEntries;
    // the IDAT run, fed to the inflater chunk by chunk
    private int idatPos;   // position of the next chunk header after the current IDAT
    private boolean idatDone;

    private PngDecoder(byte[] data, DecodeContext ctx) {
        this.data = data;
        this.ctx = ctx;
    }

    static RgbImage decode(byte[] data, DecodeContext ctx) throws ImageDecodeException {
        return new PngDecoder(data, ctx).run();
    }

    private RgbImage run() throws ImageDecodeException {
        int pos = SIGNATURE.length;
        boolean haveHeader = false;
        while (true) {
            if (pos + 8 > data.length) throw ctx.truncated("PNG");
            long length = u32(pos);
            String type = chunkType(pos + 4);
            if (!haveHeader && !type.equals("IHDR")) throw ctx.error("PNG does not start with an IHDR chunk (found " + type + ")");
            if (type.equals("IDAT")) {
                // streamed like Pillow does: a cut-off chunk only matters if rows are missing
                idatPos = pos;
                return decodeImage();
            }
            if (length > Integer.MAX_VALUE || pos + 12 + length > data.length) throw ctx.truncated("PNG");
            int body = pos + 8, len = (int) length;
            checkCrc(pos, len, type);
            switch (type) {
                case "IHDR" -> {
                    if (haveHeader) throw ctx.error("PNG has two IHDR chunks");
                    readHeader(body, len);
                    haveHeader = true;
                }
                case "PLTE" -> {
                    if (len % 3 != 0) throw ctx.error("PNG PLTE chunk length " + len + " is not a multiple of 3");
                    paletteEntries = Math.min(len / 3, 256);
                    palette = new byte[256 * 3];
                    System.arraycopy(data, body, palette, 0, paletteEntries * 3);
                }
                case "IEND" -> throw ctx.error("PNG has no image data (IEND before any IDAT)");
                default -> { } // ancillary or unknown chunks: Pillow skips what it does not use
            }
            pos = body + len + 4;
        }
    }

    private void readHeader(int p, int len) throws ImageDecodeException {
        if (len != 13) throw ctx.error("PNG IHDR chunk has length " + len + ", expected 13");
        long w = u32(p), h = u32(p + 4);
        if (w == 0 || h == 0 || w > Integer.MAX_VALUE || h > Integer.MAX_VALUE) {
            throw ctx.error("PNG header gives an invalid size " + w + "x" + h);
        }
        width = (int) w;
        height = (int) h;
        bitDepth = data[p + 8] & 0xFF;
        colorType = data[p + 9] & 0xFF;
        int filterMethod = data[p + 11] & 0xFF, interlace = data[p + 12] & 0xFF;
        channels = switch (colorType) {
            case 0 -> 1;
            case 2 -> 3;
            case 3 -> 1;
            case 4 -> 2;
            case 6 -> 4;
            default -> throw ctx.error("PNG colour type " + colorType + " is not valid");
        };
        boolean okDepth = switch (colorType) {
            case 0 -> bitDepth == 1 || bitDepth == 2 || bitDepth == 4 || bitDepth == 8 || bitDepth == 16;
            case 3 -> bitDepth == 1 || bitDepth == 2 || bitDepth == 4 || bitDepth == 8;
            default -> bitDepth == 8 || bitDepth == 16;
        };
        if (!okDepth) throw ctx.error("PNG bit depth " + bitDepth + " is not valid for colour type " + colorType);
        if (filterMethod != 0) throw ctx.error("PNG filter method " + filterMethod + " is unknown");
        if (interlace > 1) throw ctx.error("PNG interlace method " + interlace + " is unknown");
        interlaced = interlace == 1;
        ctx.checkSize(width, height, "PNG");
    }

    private RgbImage decodeImage() throws ImageDecodeException {
        if (colorType == 3 && palette == null) throw ctx.error("PNG palette image has no PLTE chunk");
        byte[] out = new byte[width * height * 3];
        int bitsPerPixel = channels * bitDepth;
        int filterStride = Math.max(1, bitsPerPixel / 8);
        Inflater inflater = new Inflater();
        try {
            int[][] passes = interlaced ? ADAM7 : new int[][] {{0, 0, 1, 1}};
            for (int[] pass : passes) {
                int pw = width > pass[0] ? (width - pass[0] + pass[2] - 1) / pass[2] : 0;
                int ph = height > pass[1] ? (height - pass[1] + pass[3] - 1) / pass[3] : 0;
                if (pw == 0 || ph == 0) continue;
                int rowBytes = (int) (((long) pw * bitsPerPixel + 7) / 8);
                byte[] prev = new byte[rowBytes];
                byte[] cur = new byte[rowBytes];
                byte[] filterByte = new byte[1];
                for (int r = 0; r < ph; r++) {
                    inflateFully(inflater, filterByte, 1);
                    inflateFully(inflater, cur, rowBytes);
                    unfilter(filterByte[0] & 0xFF, cur, prev, filterStride);
                    emitRow(cur, out, pass[1] + r * pass[3], pass[0], pass[2], pw);
                    byte[] t = prev;
                    prev = cur;
                    cur = t;
                }
            }
        } finally {
            inflater.end();
        }
        return new RgbImage(width, height, out);
    }

    private void inflateFully(Inflater inflater, byte[] buf, int len) throws ImageDecodeException {
        int off = 0;
        try {
            while (off < len) {
                int n = inflater.inflate(buf, off, len - off);
                off += n;
                if (n > 0) continue;
                if (inflater.finished()) throw ctx.error("PNG image data ends before the last row (broken data stream)");
                if (inflater.needsDictionary()) throw ctx.error("PNG image data needs a zlib preset dictionary");
                if (inflater.needsInput()) feedNextIdat(inflater);
            }
        } catch (DataFormatException e) {
            throw ctx.error("PNG image data is corrupt (" + e.getMessage() + ")");
        }
    }

    /** Gives the inflater the next chunk of the consecutive IDAT run. */
    private void feedNextIdat(Inflater inflater) throws ImageDecodeException {
        while (true) {
            if (idatDone || idatPos + 8 > data.length) throw ctx.truncated("PNG");
            long length = u32(idatPos);
            String type = chunkType(idatPos + 4);
            if (!type.equals("IDAT")) {
                idatDone = true;
                throw ctx.error("PNG image data ends before the last row (next chunk is " + type + ")");
            }
            int body = idatPos + 8;
            if (length > Integer.MAX_VALUE || body + length > data.length) {
                // a cut-off last chunk still feeds what is there, as a streaming reader would
                int avail = data.length - body;
                idatDone = true;
                if (avail <= 0) throw ctx.truncated("PNG");
                inflater.setInput(data, body, avail);
                return;
            }
            idatPos = body + (int) length + 4;
            if (length > 0) {
                inflater.setInput(data, body, (int) length);
                return;
            }
        }
    }

    private void unfilter(int type, byte[] cur, byte[] prev, int bpp) throws ImageDecodeException {
        int n = cur.length;
        switch (type) {
            case 0 -> { }
            case 1 -> {
                for (int i = bpp; i < n; i++) cur[i] += cur[i - bpp];
            }
            case 2 -> {
                for (int i = 0; i < n; i++) cur[i] += prev[i];
            }
            case 3 -> {
                for (int i = 0; i < n; i++) {
                    int left = i >= bpp ? cur[i - bpp] & 0xFF : 0;
                    cur[i] += (byte) ((left + (prev[i] & 0xFF)) >>> 1);
                }
            }
            case 4 -> {
                for (int i = 0; i < n; i++) {
                    int a = i >= bpp ? cur[i - bpp] & 0xFF : 0;
                    int b = prev[i] & 0xFF;
                    int c = i >= bpp ? prev[i - bpp] & 0xFF : 0;
                    int p = a + b - c;
                    int pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
                    int pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                    cur[i] += (byte) pred;
                }
            }
            default -> throw ctx.error("PNG row filter type " + type + " is unknown (broken data stream)");
        }
    }

    /** Converts one unfiltered row of pw pixels to RGB at image row y, columns x0, x0 + dx, ... */
    private void emitRow(byte[] row, byte[] out, int y, int x0, int dx, int pw) {
        int base = y * width * 3;
        for (int i = 0; i < pw; i++) {
            int o = base + (x0 + i * dx) * 3;
            int r, g, b;
            switch (colorType) {
                case 0 -> {
                    int v = gray(row, i);
                    r = g = b = v;
                }
                case 3 -> {
                    int idx = subByteSample(row, i);
                    if (idx < paletteEntries) {
                        r = palette[idx * 3] & 0xFF;
                        g = palette[idx * 3 + 1] & 0xFF;
                        b = palette[idx * 3 + 2] & 0xFF;
                    } else {
                        r = g = b = 0;
                    }
                }
                case 4 -> r = g = b = row[i * 2 * (bitDepth / 8)] & 0xFF; // high byte of gray
                default -> { // 2 (RGB) and 6 (RGBA); high bytes of 16-bit samples
                    int step = bitDepth / 8, p = i * channels * step;
                    r = row[p] & 0xFF;
                    g = row[p + step] & 0xFF;
                    b = row[p + 2 * step] & 0xFF;
                }
            }
            out[o] = (byte) r;
            out[o + 1] = (byte) g;
            out[o + 2] = (byte) b;
        }
    }

    private int gray(byte[] row, int i) {
        switch (bitDepth) {
            case 16: {
                int v = ((row[2 * i] & 0xFF) << 8) | (row[2 * i + 1] & 0xFF);
                return Math.min(v, 255); // Pillow: mode I, then I -> RGB clips to 0..255
            }
            case 8:
                return row[i] & 0xFF;
            case 4:
                return subByteSample(row, i) * 0x11;
            case 2:
                return subByteSample(row, i) * 0x55;
            default:
                return subByteSample(row, i) != 0 ? 255 : 0;
        }
    }

    /** Sample i of a row packed at bitDepth bits (1, 2, 4 or 8), most significant bits first. */
    private int subByteSample(byte[] row, int i) {
        if (bitDepth == 8) return row[i] & 0xFF;
        int perByte = 8 / bitDepth;
        int shift = 8 - bitDepth * (i % perByte + 1);
        return ((row[i / perByte] & 0xFF) >> shift) & ((1 << bitDepth) - 1);
    }

    private void checkCrc(int pos, int len, String type) throws ImageDecodeException {
        CRC32 crc = new CRC32();
        crc.update(data, pos + 4, len + 4);
        if (crc.getValue() != u32(pos + 8 + len)) throw ctx.error("broken PNG file (bad checksum in the " + type + " chunk)");
    }

    private long u32(int p) {
        return ((long) (data[p] & 0xFF) << 24) | ((data[p + 1] & 0xFF) << 16) | ((data[p + 2] & 0xFF) << 8) | (data[p + 3] & 0xFF);
    }

    private String chunkType(int p) {
        char[] c = new char[4];
        for (int i = 0; i < 4; i++) {
            int v = data[p + i] & 0xFF;
            c[i] = v >= 0x20 && v < 0x7F ? (char) v : '?';
        }
        return new String(c);
    }
}
