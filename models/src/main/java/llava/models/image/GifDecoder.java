package llava.models.image;

import java.util.Arrays;

/**
 * The first frame of a GIF as Pillow shows it after {@code convert("RGB")}: a canvas of the
 * logical screen size (grown if the frame sticks out), filled with the frame's transparent index
 * if it has one and with index 0 otherwise, the frame's pixels drawn at its offset, then every
 * index looked up in the local or global colour table. Without a colour table, or with one that is
 * the identity grey ramp, Pillow uses the index itself as a grey level. Indices past the end of
 * the table give black (Pillow 10.1 and later).
 */
final class GifDecoder {
    private GifDecoder() {}

    static RgbImage decode(byte[] d, DecodeContext ctx) throws ImageDecodeException {
        if (d.length < 13) throw ctx.truncated("GIF");
        int width = u16(d, 6), height = u16(d, 8);
        int flags = d[10] & 0xFF;
        int pos = 13;
        byte[] palette = null; // RGB triples; null: indices are grey levels
        if ((flags & 0x80) != 0) {
            palette = colourTable(d, pos, flags, ctx);
            pos += tableBytes(flags);
        }
        Integer transparency = null;
        while (true) {
            if (pos >= d.length) throw ctx.truncated("GIF");
            int b = d[pos++] & 0xFF;
            if (b == ';') throw ctx.error("GIF has no image (trailer before the first frame)");
            if (b == '!') {
                if (pos >= d.length) throw ctx.truncated("GIF");
                int label = d[pos++] & 0xFF;
                boolean first = true;
                while (true) {
                    if (pos >= d.length) throw ctx.truncated("GIF");
                    int size = d[pos++] & 0xFF;
                    if (size == 0) break;
                    if (pos + size > d.length) throw ctx.truncated("GIF");
                    if (label == 0xF9 && first && size >= 4 && (d[pos] & 1) != 0) transparency = d[pos + 3] & 0xFF;
                    first = false;
                    pos += size;
                }
                continue;
            }
            if (b != ',') continue; // Pillow skips bytes it does not recognise between blocks
            if (pos + 9 > d.length) throw ctx.truncated("GIF");
            int x0 = u16(d, pos), y0 = u16(d, pos + 2), fw = u16(d, pos + 4), fh = u16(d, pos + 6);
            int imageFlags = d[pos + 8] & 0xFF;
            pos += 9;
            width = Math.max(width, x0 + fw);
            height = Math.max(height, y0 + fh);
            ctx.checkSize(width, height, "GIF");
            if ((imageFlags & 0x80) != 0) {
                palette = colourTable(d, pos, imageFlags, ctx);
                pos += tableBytes(imageFlags);
            }
            boolean interlaced = (imageFlags & 0x40) != 0;
            if (pos >= d.length) throw ctx.truncated("GIF");
            int minCodeSize = d[pos++] & 0xFF;
            byte[] indices = new byte[width * height];
            if (transparency != null) Arrays.fill(indices, (byte) (int) transparency);
            new Lzw(d, pos, minCodeSize, ctx).decodeInto(indices, width, x0, y0, fw, fh, interlaced);
            byte[] rgb = new byte[width * height * 3];
            for (int i = 0; i < indices.length; i++) {
                int idx = indices[i] & 0xFF;
                if (palette == null) {
                    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (byte) idx;
                } else if (3 * idx < palette.length) {
                    rgb[3 * i] = palette[3 * idx];
                    rgb[3 * i + 1] = palette[3 * idx + 1];
                    rgb[3 * i + 2] = palette[3 * idx + 2];
                }
            }
            return new RgbImage(width, height, rgb);
        }
    }

    /** Bytes of the colour table that the low bits of a screen or image descriptor's flags announce. */
    private static int tableBytes(int flags) {
        return 3 << ((flags & 7) + 1);
    }

    /**
     * The colour table at pos, or null when it is the identity grey ramp, whose indices Pillow
     * uses as grey levels.
     */
    private static byte[] colourTable(byte[] d, int pos, int flags, DecodeContext ctx) throws ImageDecodeException {
        int bytes = tableBytes(flags);
        if (pos + bytes > d.length) throw ctx.truncated("GIF");
        return paletteNeeded(d, pos, bytes / 3) ? Arrays.copyOfRange(d, pos, pos + bytes) : null;
    }

    /** Pillow's _is_palette_needed: false when entry i is (i, i, i) for every entry. */
    private static boolean paletteNeeded(byte[] d, int pos, int entries) {
        for (int i = 0; i < entries; i++) {
            int p = pos + 3 * i;
            if ((d[p] & 0xFF) != i || (d[p + 1] & 0xFF) != i || (d[p + 2] & 0xFF) != i) return true;
        }
        return false;
    }

    private static int u16(byte[] d, int p) {
        return (d[p] & 0xFF) | ((d[p + 1] & 0xFF) << 8);
    }

    /** GIF's variable-width LZW over length-prefixed sub-blocks. */
    private static final class Lzw {
        private final byte[] d;
        private final DecodeContext ctx;
        private final int minCodeSize;
        private int pos;       // next byte of the current sub-block
        private int blockLeft; // bytes left in it
        private boolean ended; // a zero-length sub-block was read
        private int bitBuf, bitCount;

        Lzw(byte[] d, int pos, int minCodeSize, DecodeContext ctx) throws ImageDecodeException {
            if (minCodeSize < 1 || minCodeSize > 11) throw ctx.error("GIF LZW code size " + minCodeSize + " is invalid");
            this.d = d;
            this.pos = pos;
            this.minCodeSize = minCodeSize;
            this.ctx = ctx;
        }

        /** Next code of the given width, or -1 at the end of the data. */
        private int nextCode(int width) throws ImageDecodeException {
            while (bitCount < width) {
                if (blockLeft == 0) {
                    if (ended) return -1;
                    if (pos >= d.length) throw ctx.truncated("GIF");
                    blockLeft = d[pos++] & 0xFF;
                    if (blockLeft == 0) {
                        ended = true;
                        return -1;
                    }
                }
                if (pos >= d.length) throw ctx.truncated("GIF");
                bitBuf |= (d[pos++] & 0xFF) << bitCount;
                bitCount += 8;
                blockLeft--;
            }
            int code = bitBuf & ((1 << width) - 1);
            bitBuf >>>= width;
            bitCount -= width;
            return code;
        }

        void decodeInto(byte[] out, int stride, int x0, int y0, int fw, int fh, boolean interlaced) throws ImageDecodeException {
            int clear = 1 << minCodeSize, end = clear + 1;
            int[] prefix = new int[4096];
            byte[] suffix = new byte[4096];
            byte[] firstByte = new byte[4096];
            byte[] stack = new byte[4097];
            for (int i = 0; i < clear; i++) {
                suffix[i] = (byte) i;
                firstByte[i] = (byte) i;
                prefix[i] = -1;
            }
            int width = minCodeSize + 1, next = end + 1, prev = -1;
            long total = (long) fw * fh, written = 0;
            int row = 0, col = 0, pass = 0;
            int rowStep = interlaced ? 8 : 1;
            while (written < total) {
                int code = nextCode(width);
                if (code < 0 || code == end) break; // the rest keeps the canvas fill, as in Pillow
                if (code == clear) {
                    width = minCodeSize + 1;
                    next = end + 1;
                    prev = -1;
                    continue;
                }
                int sp = 0, cur;
                if (prev < 0) {
                    if (code >= clear) throw ctx.error("GIF image data is corrupt (LZW code " + code + " after a clear code)");
                    cur = code;
                } else if (code < next) {
                    cur = code;
                } else if (code == next) {
                    stack[sp++] = firstByte[prev];
                    cur = prev;
                } else {
                    throw ctx.error("GIF image data is corrupt (LZW code " + code + " beyond the table)");
                }
                int first = firstByte[cur] & 0xFF;
                while (cur >= 0) {
                    stack[sp++] = suffix[cur];
                    cur = prefix[cur];
                }
                if (prev >= 0 && next < 4096) {
                    prefix[next] = prev;
                    suffix[next] = (byte) first;
                    firstByte[next] = firstByte[prev];
                    next++;
                    if (next == (1 << width) && width < 12) width++;
                }
                prev = code;
                while (sp > 0 && written < total) {
                    out[(y0 + row) * stride + x0 + col] = stack[--sp];
                    written++;
                    if (++col == fw) {
                        col = 0;
                        row += rowStep;
                        while (interlaced && row >= fh && pass < 3) {
                            pass++;
                            row = pass == 1 ? 4 : pass == 2 ? 2 : 1;
                            rowStep = pass == 1 ? 8 : pass == 2 ? 4 : 2;
                        }
                        if (row >= fh) written = total;
                    }
                }
            }
        }
    }
}
