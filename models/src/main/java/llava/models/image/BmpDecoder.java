package llava.models.image;

/**
 * Windows BMP to RGB as Pillow's BmpImagePlugin reads it: OS/2 (12-byte) and Windows v3-v5
 * headers; 1, 4 and 8-bit palette images (uncompressed, RLE8, RLE4); 16-bit 5-5-5 and 5-6-5
 * (components scaled with {@code v * 255 / 31} and {@code v * 255 / 63}); 24-bit; 32-bit with
 * the bit-field layouts Pillow accepts. Alpha is dropped. Rows are bottom-up unless the height
 * is negative. A palette of grey levels 0..n-1 makes Pillow read indices as grey (the same
 * pixels, except for indices past the palette, which are then grey rather than black).
 */
final class BmpDecoder {
    private BmpDecoder() {}

    private static final int RAW = 0, RLE8 = 1, RLE4 = 2, BITFIELDS = 3;

    static RgbImage decode(byte[] d, DecodeContext ctx) throws ImageDecodeException {
        if (d.length < 18) throw ctx.truncated("BMP");
        long offset = u32(d, 10);
        long headerSize = u32(d, 14);
        int h0 = 18; // header fields after its size
        long width, height;
        int bits, compression, paletteStride;
        long colors = 0;
        boolean topDown = false;
        long rMask = 0, gMask = 0, bMask = 0, aMask = 0;
        int pos;
        if (headerSize == 12) {
            if (d.length < 26) throw ctx.truncated("BMP");
            width = u16(d, h0);
            height = u16(d, h0 + 2);
            bits = u16(d, h0 + 6);
            compression = RAW;
            paletteStride = 3;
            pos = 26;
        } else if (headerSize == 40 || headerSize == 52 || headerSize == 56 || headerSize == 64 || headerSize == 108 || headerSize == 124) {
            if (d.length < 14 + headerSize) throw ctx.truncated("BMP");
            width = u32(d, h0);
            long rawHeight = u32(d, h0 + 4);
            topDown = (d[h0 + 7] & 0xFF) == 0xFF;
            height = topDown ? (1L << 32) - rawHeight : rawHeight;
            bits = u16(d, h0 + 10);
            long comp = u32(d, h0 + 12);
            compression = comp > 5 ? -1 : (int) comp;
            colors = u32(d, h0 + 28);
            paletteStride = 4;
            pos = 14 + (int) headerSize;
            if (compression == BITFIELDS) {
                if (headerSize >= 52) {
                    rMask = u32(d, h0 + 36);
                    gMask = u32(d, h0 + 40);
                    bMask = u32(d, h0 + 44);
                    aMask = headerSize >= 56 ? u32(d, h0 + 48) : 0;
                } else {
                    // a 40-byte header is followed by the three masks
                    if (pos + 12 > d.length) throw ctx.truncated("BMP");
                    rMask = u32(d, pos);
                    gMask = u32(d, pos + 4);
                    bMask = u32(d, pos + 8);
                    pos += 12;
                }
            }
        } else {
            throw ctx.error("unsupported BMP header type (" + headerSize + ")");
        }
        if (width == 0 || height == 0 || width > Integer.MAX_VALUE || height > Integer.MAX_VALUE) {
            throw ctx.error("BMP header gives an invalid size " + width + "x" + height);
        }
        int w = (int) width, h = (int) height;
        ctx.checkSize(w, h, "BMP");
        if (colors == 0) colors = 1L << Math.min(bits, 32);
        if (offset == 14 + headerSize && bits <= 8) offset += paletteStride * colors;
        if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
            throw ctx.error("unsupported BMP pixel depth (" + bits + ")");
        }
        if (compression == BITFIELDS && bits == 32 && rMask == 0 && gMask == 0 && bMask == 0 && aMask == 0) {
            // Pillow reads all-zero 32-bit masks as BGRA
            rMask = 0xFF0000L;
            gMask = 0xFF00L;
            bMask = 0xFFL;
        } else if (compression == BITFIELDS) {
            boolean ok = switch (bits) {
                case 32 -> supported32(rMask, gMask, bMask, aMask);
                case 24 -> rMask == 0xFF0000L && gMask == 0xFF00L && bMask == 0xFFL;
                case 16 -> bMask == 0x1FL && ((rMask == 0xF800L && gMask == 0x7E0L) || (rMask == 0x7C00L && gMask == 0x3E0L));
                default -> false;
            };
            if (!ok) throw ctx.error("unsupported BMP bitfields layout");
        } else if (compression == RAW) {
            rMask = bits == 16 ? 0x7C00L : 0xFF0000L;
            gMask = bits == 16 ? 0x3E0L : 0xFF00L;
            bMask = bits == 16 ? 0x1FL : 0xFFL;
        } else if (compression == RLE8 || compression == RLE4) {
            if (bits > 8) throw ctx.error("BMP run-length compression needs a palette image, not " + bits + " bits");
        } else {
            throw ctx.error("unsupported BMP compression (" + (compression < 0 ? "unknown" : compression == 4 ? "JPEG" : "PNG") + ")");
        }

        byte[] palette = null;
        int entries = 0;
        boolean grey = false;
        if (bits <= 8) {
            if (colors <= 0 || colors > 65536) throw ctx.error("unsupported BMP palette size (" + colors + ")");
            entries = (int) colors;
            long need = (long) pos + (long) paletteStride * entries;
            if (need > d.length) throw ctx.truncated("BMP");
            palette = new byte[entries * 3];
            grey = true;
            for (int i = 0; i < entries; i++) {
                int p = pos + paletteStride * i;
                palette[3 * i] = d[p + 2];
                palette[3 * i + 1] = d[p + 1];
                palette[3 * i + 2] = d[p];
                int expect = entries == 2 ? (i == 0 ? 0 : 255) : i;
                if ((d[p] & 0xFF) != expect || (d[p + 1] & 0xFF) != expect || (d[p + 2] & 0xFF) != expect) grey = false;
            }
        }
        if (offset > d.length) throw ctx.truncated("BMP");
        byte[] rgb = new byte[w * h * 3];
        if (compression == RLE8 || compression == RLE4) {
            byte[] indices = rle(d, (int) offset, w, h, compression == RLE4);
            for (int row = 0; row < h; row++) {
                int y = topDown ? row : h - 1 - row;
                for (int x = 0; x < w; x++) {
                    putIndex(rgb, (y * w + x) * 3, indices[row * w + x] & 0xFF, palette, entries, grey && entries != 2);
                }
            }
            return new RgbImage(w, h, rgb);
        }
        long stride = (((long) w * bits + 31) >> 3) & ~3L;
        if (offset + stride * h > d.length) throw ctx.truncated("BMP");
        for (int row = 0; row < h; row++) {
            int y = topDown ? row : h - 1 - row;
            int p = (int) (offset + stride * row);
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                switch (bits) {
                    case 1, 4, 8 -> {
                        int perByte = 8 / bits;
                        int shift = 8 - bits * (x % perByte + 1);
                        int idx = ((d[p + x / perByte] & 0xFF) >> shift) & ((1 << bits) - 1);
                        putIndex(rgb, o, idx, palette, entries, grey && bits == 8);
                    }
                    case 16 -> {
                        int v = (d[p + 2 * x] & 0xFF) | ((d[p + 2 * x + 1] & 0xFF) << 8);
                        rgb[o] = (byte) scaledField(v, rMask);
                        rgb[o + 1] = (byte) scaledField(v, gMask);
                        rgb[o + 2] = (byte) scaledField(v, bMask);
                    }
                    case 24 -> {
                        rgb[o] = d[p + 3 * x + 2];
                        rgb[o + 1] = d[p + 3 * x + 1];
                        rgb[o + 2] = d[p + 3 * x];
                    }
                    default -> {
                        long v = u32(d, p + 4 * x);
                        rgb[o] = (byte) byteField(v, rMask);
                        rgb[o + 1] = (byte) byteField(v, gMask);
                        rgb[o + 2] = (byte) byteField(v, bMask);
                    }
                }
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /** The 32-bit layouts Pillow reads, all byte-aligned. */
    private static boolean supported32(long r, long g, long b, long a) {
        long[][] ok = {
            {0xFF0000L, 0xFF00L, 0xFFL, 0x0L}, {0xFF000000L, 0xFF0000L, 0xFF00L, 0x0L},
            {0xFF000000L, 0xFF00L, 0xFFL, 0x0L}, {0xFF000000L, 0xFF0000L, 0xFF00L, 0xFFL},
            {0xFFL, 0xFF00L, 0xFF0000L, 0xFF000000L}, {0xFF0000L, 0xFF00L, 0xFFL, 0xFF000000L},
            {0xFF000000L, 0xFF00L, 0xFFL, 0xFF0000L},
        };
        for (long[] m : ok) if (m[0] == r && m[1] == g && m[2] == b && m[3] == a) return true;
        return false;
    }

    /** A byte-aligned 8-bit field. */
    private static int byteField(long v, long mask) {
        return (int) ((v & mask) >>> Long.numberOfTrailingZeros(mask));
    }

    /** A 5- or 6-bit field scaled to 0..255 with Pillow's integer division. */
    private static int scaledField(int v, long mask) {
        int shift = Long.numberOfTrailingZeros(mask);
        int max = (int) (mask >>> shift);
        return ((v >> shift) & max) * 255 / max;
    }

    private static void putIndex(byte[] rgb, int o, int idx, byte[] palette, int entries, boolean indexIsGrey) {
        if (indexIsGrey) {
            rgb[o] = rgb[o + 1] = rgb[o + 2] = (byte) idx;
        } else if (idx < entries) {
            rgb[o] = palette[3 * idx];
            rgb[o + 1] = palette[3 * idx + 1];
            rgb[o + 2] = palette[3 * idx + 2];
        }
    }

    /**
     * Pillow's BmpRleDecoder: indices in file row order (first row = bottom unless top-down); it
     * stops quietly at the end of the data or an end-of-bitmap code, leaving index 0 behind.
     */
    private static byte[] rle(byte[] d, int p, int w, int h, boolean rle4) {
        int total = w * h;
        byte[] out = new byte[total];
        long n = 0; // may run past the end by a delta or a run
        int x = 0;
        while (n < total) {
            if (p + 2 > d.length) break;
            int count = d[p] & 0xFF, value = d[p + 1] & 0xFF;
            p += 2;
            if (count != 0) {
                if (x + count > w) count = Math.max(0, w - x);
                for (int i = 0; i < count; i++) {
                    int v = !rle4 ? value : (i % 2 == 0 ? value >> 4 : value & 15);
                    if (n < total) out[(int) n] = (byte) v;
                    n++;
                }
                x += count;
            } else if (value == 0) {
                n = (n + w - 1) / w * w; // end of line: pad to the row's end
                x = 0;
            } else if (value == 1) {
                break;
            } else if (value == 2) {
                if (p + 2 > d.length) break;
                int right = d[p] & 0xFF, up = d[p + 1] & 0xFF;
                p += 2;
                n += right + up * w;
                x = (int) (n % w);
            } else {
                int byteCount = rle4 ? value / 2 : value;
                int avail = Math.min(byteCount, d.length - p);
                for (int i = 0; i < avail; i++) {
                    int b = d[p + i] & 0xFF;
                    if (rle4) {
                        if (n < total) out[(int) n] = (byte) (b >> 4);
                        n++;
                        if (n < total) out[(int) n] = (byte) (b & 15);
                        n++;
                    } else {
                        if (n < total) out[(int) n] = (byte) b;
                        n++;
                    }
                }
                p += avail;
                if (avail < byteCount) break;
                x += value;
                if (p % 2 != 0) p++; // Pillow aligns the file position to 16 bits
            }
        }
        return out;
    }

    private static int u16(byte[] d, int p) {
        return (d[p] & 0xFF) | ((d[p + 1] & 0xFF) << 8);
    }

    private static long u32(byte[] d, int p) {
        return (d[p] & 0xFFL) | ((d[p + 1] & 0xFFL) << 8) | ((d[p + 2] & 0xFFL) << 16) | ((d[p + 3] & 0xFFL) << 24);
    }
}
