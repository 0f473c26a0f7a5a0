package llava.models.image;

/**
 * JPEG to RGB with the pixels Pillow gets from libjpeg-turbo: Huffman-coded baseline, extended
 * and progressive files, 1, 3 or 4 components. It follows libjpeg's default decompression, which
 * Pillow does not change:
 * <ul>
 *   <li>the accurate integer IDCT (jidctint.c, "ISLOW") with libjpeg's range limiting;
 *   <li>"fancy" (triangle filter) upsampling of 2x1, 1x2 and 2x2 subsampled components, plain
 *       replication for other integer ratios and for components at most 2 samples wide;
 *   <li>libjpeg's fixed-point YCbCr to RGB and YCCK to CMYK tables; the colour space is guessed
 *       as libjpeg does (JFIF marker, Adobe transform flag, component ids);
 *   <li>four-component files are always treated as Adobe (inverted) CMYK, as Pillow's "CMYK;I"
 *       does, then converted with Pillow's CMYK to RGB formula.
 * </ul>
 * Corrupt entropy data is handled as libjpeg handles it (a marker inside the data ends it with
 * zero bits, skipping the rest of the restart interval; restart markers are resynchronised with
 * libjpeg's rules). A file that simply ends too early is an error, as it is in Pillow.
 * Not supported: arithmetic coding, lossless and hierarchical JPEG, 12-bit samples (libjpeg-turbo
 * 2.1 supports only the first), and libjpeg's block smoothing, which only applies to progressive
 * files whose scans never bring the lowest AC coefficients to full precision.
 */
final class JpegDecoder {
    /** Zigzag index to natural (row-major) index; the 16 extra entries are 63, as in libjpeg. */
    private static final int[] NATURAL = new int[80];

    static {
        int i = 0;
        for (int s = 0; s < 15; s++) {
            for (int t = 0; t <= s; t++) {
                int row = s % 2 == 0 ? s - t : t; // even diagonals run up-right, odd ones down-left
                int col = s - row;
                if (row < 8 && col < 8) NATURAL[i++] = row * 8 + col;
            }
        }
        for (; i < NATURAL.length; i++) NATURAL[i] = 63;
    }

    private static final class Component {
        int id, h, v, quantTable;
        int[] quant;            // latched at the component's first scan, natural order
        int width, height;      // samples of this component inside the image
        int blocksW, blocksH;   // allocated blocks (whole MCUs)
        short[] coef;
        int dcPred;
    }

    private final byte[] d;
    private final DecodeContext ctx;
    private int pos;

    private final int[][] quant = new int[4][];
    private final JpegHuffman[] dcTables = new JpegHuffman[4];
    private final JpegHuffman[] acTables = new JpegHuffman[4];
    private boolean frameSeen, progressive;
    private int width, height, hmax, vmax, mcusX, mcusY;
    private Component[] comps;
    private int restartInterval;
    private boolean sawJfif, sawAdobe;
    private int adobeTransform;
    private boolean multiScan;
    private int scans;

    // entropy decoder state
    private long bitBuf;
    private int bitCount;
    private boolean markerHit;
    private boolean endOfData;
    private boolean insufficientData;
    private int eobrun;
    private int nextRestart;

    private JpegDecoder(byte[] data, DecodeContext ctx) {
        this.d = data;
        this.ctx = ctx;
    }

    static RgbImage decode(byte[] data, DecodeContext ctx) throws ImageDecodeException {
        return new JpegDecoder(data, ctx).run();
    }

    private RgbImage run() throws ImageDecodeException {
        if (d.length < 2 || (d[0] & 0xFF) != 0xFF || (d[1] & 0xFF) != 0xD8) throw ctx.error("not a JPEG file (no SOI marker)");
        pos = 2;
        boolean done = false;
        while (!done) {
            int m = nextMarker();
            if (m < 0) {
                // a single sequential scan is output as it is decoded, so Pillow gets every row
                // even without EOI; multi-scan files are only output once EOI has been read
                if (scans == 1 && !multiScan) break;
                throw ctx.truncated("JPEG");
            }
            switch (m) {
                case 0xC0, 0xC1, 0xC2 -> readFrame(m == 0xC2);
                case 0xC3 -> throw ctx.error("lossless JPEG (SOF3) is not supported");
                case 0xC5, 0xC6, 0xC7 -> throw ctx.error("hierarchical JPEG (SOF" + (m - 0xC0) + ") is not supported");
                case 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF ->
                    throw ctx.error("arithmetic-coded JPEG (SOF" + (m - 0xC0) + ") is not supported");
                case 0xC4 -> readHuffmanTables();
                case 0xDB -> readQuantTables();
                case 0xDD -> readRestartInterval();
                case 0xDA -> readScan();
                case 0xD9 -> done = true;
                case 0xD8 -> throw ctx.error("invalid JPEG structure (a second SOI marker)");
                case 0xE0, 0xEE -> readApp(m);
                case 0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7 -> { } // no payload; ignored like libjpeg
                default -> {
                    if ((m >= 0xE1 && m <= 0xEF) || m == 0xFE || m == 0xDC || m == 0xCC) {
                        pos += segmentLength();
                    } else {
                        throw ctx.error(String.format("unsupported JPEG marker 0xFF%02X", m));
                    }
                }
            }
        }
        if (!frameSeen) throw ctx.error("JPEG has no frame header (SOF)");
        if (scans == 0) throw ctx.error("JPEG has no image data (no SOS)");
        return toRgb();
    }

    // -----------------------------------------------------------------------------------------
    // markers
    // -----------------------------------------------------------------------------------------

    /** libjpeg's next_marker: skips garbage and 0xFF fill bytes; -1 at the end of the data. */
    private int nextMarker() {
        while (true) {
            while (pos < d.length && (d[pos] & 0xFF) != 0xFF) pos++;
            while (pos < d.length && (d[pos] & 0xFF) == 0xFF) pos++;
            if (pos >= d.length) return -1;
            int m = d[pos++] & 0xFF;
            if (m != 0) return m;
        }
    }

    /** Reads a segment's length field at pos (checked against the data) and returns it. */
    private int segmentLength() throws ImageDecodeException {
        if (pos + 2 > d.length) throw ctx.truncated("JPEG");
        int len = u16(pos);
        if (len < 2) throw ctx.error("JPEG marker segment with invalid length " + len);
        if (pos + len > d.length) throw ctx.truncated("JPEG");
        return len;
    }

    private int u16(int p) {
        return ((d[p] & 0xFF) << 8) | (d[p + 1] & 0xFF);
    }

    private void readApp(int marker) throws ImageDecodeException {
        int len = segmentLength();
        int p = pos + 2, n = len - 2;
        if (marker == 0xE0 && n >= 14 && d[p] == 'J' && d[p + 1] == 'F' && d[p + 2] == 'I' && d[p + 3] == 'F' && d[p + 4] == 0) {
            sawJfif = true;
        } else if (marker == 0xEE && n >= 12 && d[p] == 'A' && d[p + 1] == 'd' && d[p + 2] == 'o' && d[p + 3] == 'b' && d[p + 4] == 'e') {
            sawAdobe = true;
            adobeTransform = d[p + 11] & 0xFF;
        }
        pos += len;
    }

    private void readRestartInterval() throws ImageDecodeException {
        int len = segmentLength();
        if (len != 4) throw ctx.error("JPEG DRI segment has length " + len + ", expected 4");
        restartInterval = u16(pos + 2);
        pos += len;
    }

    private void readQuantTables() throws ImageDecodeException {
        int len = segmentLength();
        int p = pos + 2, end = pos + len;
        while (p < end) {
            int precision = (d[p] & 0xFF) >> 4, id = d[p] & 15;
            if (id > 3) throw ctx.error("JPEG quantization table id " + id + " is out of range");
            if (precision > 1) throw ctx.error("JPEG quantization table precision " + precision + " is invalid");
            int n = precision == 1 ? 128 : 64;
            if (p + 1 + n > end) throw ctx.error("JPEG DQT segment is shorter than its tables");
            int[] t = new int[64];
            for (int k = 0; k < 64; k++) {
                int v = precision == 1 ? u16(p + 1 + 2 * k) : d[p + 1 + k] & 0xFF;
                t[NATURAL[k]] = (short) v; // libjpeg keeps the IDCT multipliers as 16-bit signed
            }
            quant[id] = t;
            p += 1 + n;
        }
        pos += len;
    }

    private void readHuffmanTables() throws ImageDecodeException {
        int len = segmentLength();
        int p = pos + 2, end = pos + len;
        while (p < end) {
            if (p + 17 > end) throw ctx.error("JPEG DHT segment is shorter than its tables");
            int cls = (d[p] & 0xFF) >> 4, id = d[p] & 15;
            if (cls > 1 || id > 3) throw ctx.error("JPEG Huffman table class " + cls + " id " + id + " is out of range");
            int[] counts = new int[16];
            int total = 0;
            for (int i = 0; i < 16; i++) total += counts[i] = d[p + 1 + i] & 0xFF;
            if (total > 256 || p + 17 + total > end) throw ctx.error("JPEG DHT segment has a bad Huffman table");
            byte[] symbols = new byte[total];
            System.arraycopy(d, p + 17, symbols, 0, total);
            try {
                JpegHuffman t = JpegHuffman.of(counts, symbols, cls == 0);
                if (cls == 0) dcTables[id] = t; else acTables[id] = t;
            } catch (IllegalArgumentException e) {
                throw ctx.error("JPEG has a " + e.getMessage());
            }
            p += 17 + total;
        }
        pos += len;
    }

    private void readFrame(boolean isProgressive) throws ImageDecodeException {
        int len = segmentLength();
        if (frameSeen) throw ctx.error("JPEG has more than one frame header (SOF)");
        if (len < 8) throw ctx.error("JPEG SOF segment is too short");
        int p = pos + 2;
        int precision = d[p] & 0xFF;
        height = u16(p + 1);
        width = u16(p + 3);
        int nc = d[p + 5] & 0xFF;
        if (precision != 8) throw ctx.error("JPEG with " + precision + "-bit samples is not supported");
        if (height == 0) throw ctx.error("JPEG height 0 (height in a DNL marker) is not supported");
        if (width == 0) throw ctx.error("JPEG header gives width 0");
        if (width > 65500 || height > 65500) throw ctx.error("JPEG of " + width + "x" + height + " exceeds libjpeg's 65500 pixel limit");
        if (nc != 1 && nc != 3 && nc != 4) throw ctx.error("JPEG with " + nc + " components is not supported (1, 3 or 4)");
        if (len != 8 + 3 * nc) throw ctx.error("JPEG SOF segment length " + len + " does not match " + nc + " components");
        ctx.checkSize(width, height, "JPEG");
        comps = new Component[nc];
        for (int i = 0; i < nc; i++) {
            Component c = new Component();
            int q = p + 6 + 3 * i;
            c.id = d[q] & 0xFF;
            c.h = (d[q + 1] & 0xFF) >> 4;
            c.v = d[q + 1] & 15;
            c.quantTable = d[q + 2] & 0xFF;
            if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw ctx.error("JPEG sampling factors " + c.h + "x" + c.v + " are invalid");
            if (c.quantTable > 3) throw ctx.error("JPEG quantization table id " + c.quantTable + " is out of range");
            hmax = Math.max(hmax, c.h);
            vmax = Math.max(vmax, c.v);
            comps[i] = c;
        }
        mcusX = ceilDiv(width, 8 * hmax);
        mcusY = ceilDiv(height, 8 * vmax);
        for (Component c : comps) {
            c.width = ceilDiv(width * c.h, hmax);
            c.height = ceilDiv(height * c.v, vmax);
            c.blocksW = mcusX * c.h;
            c.blocksH = mcusY * c.v;
            long n = (long) c.blocksW * c.blocksH * 64;
            if (n > Integer.MAX_VALUE - 16) throw ctx.error("JPEG of " + width + "x" + height + " is too large");
            c.coef = new short[(int) n];
        }
        progressive = isProgressive;
        frameSeen = true;
        pos += len;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    // -----------------------------------------------------------------------------------------
    // scans
    // -----------------------------------------------------------------------------------------

    private void readScan() throws ImageDecodeException {
        if (!frameSeen) throw ctx.error("JPEG scan (SOS) before the frame header (SOF)");
        int len = segmentLength();
        int p = pos + 2;
        int ns = d[p] & 0xFF;
        if (ns < 1 || ns > 4 || len != 6 + 2 * ns) throw ctx.error("JPEG SOS segment is malformed (" + ns + " components, length " + len + ")");
        Component[] sc = new Component[ns];
        int[] dcId = new int[ns], acId = new int[ns];
        for (int i = 0; i < ns; i++) {
            int id = d[p + 1 + 2 * i] & 0xFF;
            for (Component c : comps) {
                if (c.id == id) {
                    sc[i] = c;
                    break;
                }
            }
            if (sc[i] == null) throw ctx.error("JPEG scan refers to component id " + id + ", which the frame does not have");
            for (int j = 0; j < i; j++) {
                if (sc[j] == sc[i]) throw ctx.error("JPEG scan lists component id " + id + " twice");
            }
            dcId[i] = (d[p + 2 + 2 * i] & 0xFF) >> 4;
            acId[i] = d[p + 2 + 2 * i] & 15;
            if (dcId[i] > 3 || acId[i] > 3) throw ctx.error("JPEG scan refers to Huffman table " + Math.max(dcId[i], acId[i]));
        }
        int q = p + 1 + 2 * ns;
        int ss = d[q] & 0xFF, se = d[q + 1] & 0xFF, ah = (d[q + 2] & 0xFF) >> 4, al = d[q + 2] & 15;
        pos += len;

        if (ns > 1) {
            int blocks = 0;
            for (Component c : sc) blocks += c.h * c.v;
            if (blocks > 10) throw ctx.error("JPEG MCU of " + blocks + " blocks exceeds the limit of 10");
        }
        if (scans == 0) {
            multiScan = progressive || ns < comps.length;
        } else if (!multiScan) {
            // libjpeg: "Didn't expect more than one scan"; Pillow reports a broken data stream
            throw ctx.error("JPEG has a second scan after a scan that covered the whole image");
        }
        for (Component c : sc) {
            if (c.quant == null) {
                if (quant[c.quantTable] == null) throw ctx.error("JPEG quantization table " + c.quantTable + " was not defined");
                c.quant = quant[c.quantTable].clone();
            }
        }
        JpegHuffman[] dc = new JpegHuffman[ns], ac = new JpegHuffman[ns];
        if (progressive) {
            boolean dcBand = ss == 0;
            boolean bad = dcBand ? se != 0 : (ss > se || se > 63 || ns != 1);
            if (ah != 0 && al != ah - 1) bad = true;
            if (al > 13) bad = true;
            if (bad) throw ctx.error("JPEG has invalid progressive parameters Ss=" + ss + " Se=" + se + " Ah=" + ah + " Al=" + al);
            for (int i = 0; i < ns; i++) {
                if (dcBand && ah == 0) dc[i] = table(dcTables, dcId[i], true);
                if (!dcBand) ac[i] = table(acTables, acId[i], false);
            }
        } else {
            // libjpeg only warns about Ss/Se/Ah/Al in a sequential scan and decodes it fully
            for (int i = 0; i < ns; i++) {
                dc[i] = table(dcTables, dcId[i], true);
                ac[i] = table(acTables, acId[i], false);
            }
        }
        decodeScan(sc, dc, ac, ss, se, ah, al);
        scans++;
    }

    private JpegHuffman table(JpegHuffman[] tables, int id, boolean dc) throws ImageDecodeException {
        if (tables[id] != null) return tables[id];
        // libjpeg-turbo supplies the standard tables for ids 0 and 1 (Motion-JPEG)
        if (id == 0) return dc ? JpegHuffman.STD_DC_LUMA : JpegHuffman.STD_AC_LUMA;
        if (id == 1) return dc ? JpegHuffman.STD_DC_CHROMA : JpegHuffman.STD_AC_CHROMA;
        throw ctx.error("JPEG Huffman table " + (dc ? "DC " : "AC ") + id + " was not defined");
    }

    private void decodeScan(Component[] sc, JpegHuffman[] dc, JpegHuffman[] ac, int ss, int se, int ah, int al)
            throws ImageDecodeException {
        bitBuf = 0;
        bitCount = 0;
        markerHit = false;
        endOfData = false;
        insufficientData = false;
        eobrun = 0;
        nextRestart = 0;
        for (Component c : sc) c.dcPred = 0;
        boolean single = sc.length == 1;
        Component c0 = sc[0];
        int realBlocksW = ceilDiv(c0.width, 8);
        long mcuCount = single ? (long) realBlocksW * ceilDiv(c0.height, 8) : (long) mcusX * mcusY;
        int restartsToGo = restartInterval;
        for (long m = 0; m < mcuCount; m++) {
            if (restartInterval != 0) {
                if (restartsToGo == 0) {
                    processRestart(sc);
                    restartsToGo = restartInterval;
                }
                restartsToGo--;
            }
            if (insufficientData) continue; // libjpeg leaves the rest of the interval empty
            if (single) {
                int bx = (int) (m % realBlocksW), by = (int) (m / realBlocksW);
                decodeBlock(c0, (by * c0.blocksW + bx) * 64, dc[0], ac[0], ss, se, ah, al);
            } else {
                int mx = (int) (m % mcusX), my = (int) (m / mcusX);
                for (int i = 0; i < sc.length; i++) {
                    Component c = sc[i];
                    for (int v = 0; v < c.v; v++) {
                        for (int h = 0; h < c.h; h++) {
                            int off = ((my * c.v + v) * c.blocksW + mx * c.h + h) * 64;
                            decodeBlock(c, off, dc[i], ac[i], ss, se, ah, al);
                        }
                    }
                }
            }
        }
    }

    private void decodeBlock(Component c, int off, JpegHuffman dc, JpegHuffman ac, int ss, int se, int ah, int al)
            throws ImageDecodeException {
        if (!progressive) {
            decodeSequential(c, off, dc, ac);
        } else if (ss == 0) {
            if (ah == 0) {
                int s = decodeSymbol(dc);
                int diff = s != 0 ? extend(getBits(s), s) : 0;
                long sum = (long) c.dcPred + diff;
                if (sum != (int) sum) throw ctx.error("JPEG DC coefficient out of range (corrupt data)");
                c.dcPred = (int) sum;
                c.coef[off] = (short) (c.dcPred << al);
            } else if (getBits(1) != 0) {
                c.coef[off] |= (short) (1 << al);
            }
        } else if (ah == 0) {
            decodeAcFirst(c.coef, off, ac, ss, se, al);
        } else {
            decodeAcRefine(c.coef, off, ac, ss, se, al);
        }
    }

    private void decodeSequential(Component c, int off, JpegHuffman dc, JpegHuffman ac) throws ImageDecodeException {
        short[] coef = c.coef;
        int s = decodeSymbol(dc);
        if (s != 0) s = extend(getBits(s), s);
        c.dcPred += s; // wraps like libjpeg's unsigned sum
        coef[off] = (short) c.dcPred;
        for (int k = 1; k < 64; k++) {
            int sym = decodeSymbol(ac);
            int r = sym >> 4;
            s = sym & 15;
            if (s != 0) {
                k += r;
                coef[off + NATURAL[k]] = (short) extend(getBits(s), s);
            } else {
                if (r != 15) break;
                k += 15;
            }
        }
    }

    private void decodeAcFirst(short[] coef, int off, JpegHuffman ac, int ss, int se, int al) throws ImageDecodeException {
        if (eobrun > 0) {
            eobrun--;
            return;
        }
        for (int k = ss; k <= se; k++) {
            int sym = decodeSymbol(ac);
            int r = sym >> 4, s = sym & 15;
            if (s != 0) {
                k += r;
                coef[off + NATURAL[k]] = (short) (extend(getBits(s), s) << al);
            } else if (r == 15) {
                k += 15;
            } else {
                eobrun = 1 << r;
                if (r != 0) eobrun += getBits(r);
                eobrun--;
                break;
            }
        }
    }

    private void decodeAcRefine(short[] coef, int off, JpegHuffman ac, int ss, int se, int al) throws ImageDecodeException {
        int p1 = 1 << al, m1 = -1 << al;
        int k = ss;
        if (eobrun == 0) {
            for (; k <= se; k++) {
                int sym = decodeSymbol(ac);
                int r = sym >> 4, s = sym & 15;
                if (s != 0) {
                    s = getBits(1) != 0 ? p1 : m1; // a size other than 1 is corrupt; libjpeg goes on
                } else if (r != 15) {
                    eobrun = 1 << r;
                    if (r != 0) eobrun += getBits(r);
                    break;
                }
                // skip r zero coefficients, refining the nonzero ones passed on the way
                do {
                    int idx = off + NATURAL[k];
                    if (coef[idx] != 0) {
                        refine(coef, idx, p1, m1);
                    } else if (--r < 0) {
                        break;
                    }
                    k++;
                } while (k <= se);
                if (s != 0) coef[off + NATURAL[k]] = (short) s;
            }
        }
        if (eobrun > 0) {
            for (; k <= se; k++) {
                int idx = off + NATURAL[k];
                if (coef[idx] != 0) refine(coef, idx, p1, m1);
            }
            eobrun--;
        }
    }

    private void refine(short[] coef, int idx, int p1, int m1) throws ImageDecodeException {
        if (getBits(1) != 0 && (coef[idx] & p1) == 0) {
            coef[idx] += (short) (coef[idx] >= 0 ? p1 : m1);
        }
    }

    /** libjpeg's process_restart: drop buffered bits, read (or resynchronise to) the RST marker. */
    private void processRestart(Component[] sc) throws ImageDecodeException {
        bitBuf = 0;
        bitCount = 0;
        int want = 0xD0 + nextRestart;
        int markerStart = findMarker();
        int m = d[pos++] & 0xFF;
        while (true) {
            int action;
            if (m == want) {
                action = 1;
            } else if (m < 0xC0) {
                action = 2;
            } else if (m < 0xD0 || m > 0xD7) {
                action = 3;
            } else if (m == 0xD0 + ((nextRestart + 1) & 7) || m == 0xD0 + ((nextRestart + 2) & 7)) {
                action = 3;
            } else if (m == 0xD0 + ((nextRestart - 1) & 7) || m == 0xD0 + ((nextRestart - 2) & 7)) {
                action = 2;
            } else {
                action = 1;
            }
            if (action == 1) {
                markerHit = false;
                break;
            }
            if (action == 3) {
                // leave the marker for the marker reader; the next interval decodes as empty
                pos = markerStart;
                markerHit = true;
                break;
            }
            markerStart = findMarker();
            m = d[pos++] & 0xFF;
        }
        for (Component c : sc) c.dcPred = 0;
        eobrun = 0;
        nextRestart = (nextRestart + 1) & 7;
        if (!markerHit) insufficientData = false;
    }

    /**
     * Moves pos to the next marker's code byte (past garbage and fill bytes) and returns the
     * position of the 0xFF that starts it; the data ending first is a truncated file.
     */
    private int findMarker() throws ImageDecodeException {
        while (true) {
            while (pos < d.length && (d[pos] & 0xFF) != 0xFF) pos++;
            int start = pos;
            while (pos < d.length && (d[pos] & 0xFF) == 0xFF) pos++;
            if (pos >= d.length) throw ctx.truncated("JPEG");
            if (d[pos] != 0) return start;
            pos++;
        }
    }

    // -----------------------------------------------------------------------------------------
    // bits
    // -----------------------------------------------------------------------------------------

    /**
     * Loads whole bytes into the bit buffer until 57+ bits are there, a marker is reached or the
     * data ends (only bits actually used past the end make the file truncated, see consume).
     */
    private void fill() {
        while (bitCount <= 56 && !markerHit && !endOfData) {
            if (pos >= d.length) {
                endOfData = true;
                return;
            }
            int b = d[pos] & 0xFF;
            if (b == 0xFF) {
                int q = pos + 1;
                while (q < d.length && (d[q] & 0xFF) == 0xFF) q++;
                if (q >= d.length) {
                    endOfData = true;
                    return;
                }
                if (d[q] != 0) {
                    markerHit = true; // pos stays on the marker for the marker reader
                    return;
                }
                pos = q + 1; // 0xFF 0x00 is a data byte 0xFF
            } else {
                pos++;
            }
            bitBuf |= (long) b << (56 - bitCount);
            bitCount += 8;
        }
    }

    /**
     * Drops n bits. Past a marker the data reads as zeros and the rest of the interval is lost
     * (libjpeg: "Corrupt JPEG data: premature end of data segment"); past the end of the file the
     * image is incomplete, which Pillow reports as a truncated file.
     */
    private void consume(int n) throws ImageDecodeException {
        if (n > bitCount) {
            if (!markerHit) throw ctx.truncated("JPEG");
            insufficientData = true;
            bitBuf = 0;
            bitCount = 0;
            return;
        }
        bitBuf <<= n;
        bitCount -= n;
    }

    private int getBits(int n) throws ImageDecodeException {
        if (bitCount < n) fill();
        int v = (int) (bitBuf >>> (64 - n));
        consume(n);
        return v;
    }

    private int decodeSymbol(JpegHuffman t) throws ImageDecodeException {
        if (bitCount < 16) fill();
        int e = t.lookup[(int) (bitBuf >>> (64 - JpegHuffman.LOOKAHEAD))];
        if (e != 0) {
            consume(e >> 8);
            return e & 0xFF;
        }
        int code16 = (int) (bitBuf >>> 48);
        for (int len = JpegHuffman.LOOKAHEAD + 1; len <= 16; len++) {
            int code = code16 >>> (16 - len);
            if (code <= t.maxCode[len]) {
                consume(len);
                return t.symbols[code + t.valOffset[len]] & 0xFF;
            }
        }
        // no code matches: libjpeg warns, reads one more bit and returns symbol 0
        consume(16);
        getBits(1);
        return 0;
    }

    private static int extend(int v, int s) {
        return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
    }

    // -----------------------------------------------------------------------------------------
    // IDCT, upsampling, colour
    // -----------------------------------------------------------------------------------------

    private static final int CONST_BITS = 13, PASS1_BITS = 2;
    private static final long FIX_0_298631336 = 2446, FIX_0_390180644 = 3196, FIX_0_541196100 = 4433,
        FIX_0_765366865 = 6270, FIX_0_899976223 = 7373, FIX_1_175875602 = 9633, FIX_1_501321110 = 12299,
        FIX_1_847759065 = 15137, FIX_1_961570560 = 16069, FIX_2_053119869 = 16819, FIX_2_562915447 = 20995,
        FIX_3_072711026 = 25172;

    /** The samples of one component inside the image, [c.height][stride], from its coefficients. */
    private static byte[] componentSamples(Component c, int stride) {
        int bw = ceilDiv(c.width, 8), bh = ceilDiv(c.height, 8);
        byte[] plane = new byte[stride * bh * 8];
        int[] ws = new int[64];
        int[] q = c.quant != null ? c.quant : new int[64];
        for (int by = 0; by < bh; by++) {
            for (int bx = 0; bx < bw; bx++) {
                idctIslow(c.coef, (by * c.blocksW + bx) * 64, q, ws, plane, by * 8 * stride + bx * 8, stride);
            }
        }
        return plane;
    }

    private static long descale(long x, int n) {
        return (x + (1L << (n - 1))) >> n;
    }

    /** libjpeg's post-IDCT range limit: x + 128 clamped, with x taken modulo 1024 first. */
    private static byte rangeLimit(long x) {
        int v = (int) x & 1023;
        return (byte) (v < 128 ? v + 128 : v < 512 ? 255 : v < 896 ? 0 : v - 896);
    }

    /** jidctint.c: the slow-but-accurate integer IDCT of one dequantised block. */
    private static void idctIslow(short[] coef, int off, int[] q, int[] ws, byte[] out, int outOff, int stride) {
        for (int col = 0; col < 8; col++) {
            int i = off + col;
            if (coef[i + 8] == 0 && coef[i + 16] == 0 && coef[i + 24] == 0 && coef[i + 32] == 0
                && coef[i + 40] == 0 && coef[i + 48] == 0 && coef[i + 56] == 0) {
                int dcval = (coef[i] * q[col]) << PASS1_BITS;
                for (int r = 0; r < 8; r++) ws[r * 8 + col] = dcval;
                continue;
            }
            long z2 = coef[i + 16] * q[col + 16], z3 = coef[i + 48] * q[col + 48];
            long z1 = (z2 + z3) * FIX_0_541196100;
            long tmp2 = z1 + z3 * -FIX_1_847759065;
            long tmp3 = z1 + z2 * FIX_0_765366865;
            z2 = coef[i] * q[col];
            z3 = coef[i + 32] * q[col + 32];
            long tmp0 = (z2 + z3) << CONST_BITS;
            long tmp1 = (z2 - z3) << CONST_BITS;
            long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = coef[i + 56] * q[col + 56];
            tmp1 = coef[i + 40] * q[col + 40];
            tmp2 = coef[i + 24] * q[col + 24];
            tmp3 = coef[i + 8] * q[col + 8];
            z1 = tmp0 + tmp3;
            z2 = tmp1 + tmp2;
            z3 = tmp0 + tmp2;
            long z4 = tmp1 + tmp3;
            long z5 = (z3 + z4) * FIX_1_175875602;
            tmp0 *= FIX_0_298631336;
            tmp1 *= FIX_2_053119869;
            tmp2 *= FIX_3_072711026;
            tmp3 *= FIX_1_501321110;
            z1 *= -FIX_0_899976223;
            z2 *= -FIX_2_562915447;
            z3 *= -FIX_1_961570560;
            z4 *= -FIX_0_390180644;
            z3 += z5;
            z4 += z5;
            tmp0 += z1 + z3;
            tmp1 += z2 + z4;
            tmp2 += z2 + z3;
            tmp3 += z1 + z4;
            int n = CONST_BITS - PASS1_BITS;
            ws[col] = (int) descale(tmp10 + tmp3, n);
            ws[56 + col] = (int) descale(tmp10 - tmp3, n);
            ws[8 + col] = (int) descale(tmp11 + tmp2, n);
            ws[48 + col] = (int) descale(tmp11 - tmp2, n);
            ws[16 + col] = (int) descale(tmp12 + tmp1, n);
            ws[40 + col] = (int) descale(tmp12 - tmp1, n);
            ws[24 + col] = (int) descale(tmp13 + tmp0, n);
            ws[32 + col] = (int) descale(tmp13 - tmp0, n);
        }
        for (int row = 0; row < 8; row++) {
            int w = row * 8, o = outOff + row * stride;
            if (ws[w + 1] == 0 && ws[w + 2] == 0 && ws[w + 3] == 0 && ws[w + 4] == 0
                && ws[w + 5] == 0 && ws[w + 6] == 0 && ws[w + 7] == 0) {
                byte v = rangeLimit(descale(ws[w], PASS1_BITS + 3));
                for (int x = 0; x < 8; x++) out[o + x] = v;
                continue;
            }
            long z2 = ws[w + 2], z3 = ws[w + 6];
            long z1 = (z2 + z3) * FIX_0_541196100;
            long tmp2 = z1 + z3 * -FIX_1_847759065;
            long tmp3 = z1 + z2 * FIX_0_765366865;
            long tmp0 = ((long) ws[w] + ws[w + 4]) << CONST_BITS;
            long tmp1 = ((long) ws[w] - ws[w + 4]) << CONST_BITS;
            long tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

            tmp0 = ws[w + 7];
            tmp1 = ws[w + 5];
            tmp2 = ws[w + 3];
            tmp3 = ws[w + 1];
            z1 = tmp0 + tmp3;
            z2 = tmp1 + tmp2;
            z3 = tmp0 + tmp2;
            long z4 = tmp1 + tmp3;
            long z5 = (z3 + z4) * FIX_1_175875602;
            tmp0 *= FIX_0_298631336;
            tmp1 *= FIX_2_053119869;
            tmp2 *= FIX_3_072711026;
            tmp3 *= FIX_1_501321110;
            z1 *= -FIX_0_899976223;
            z2 *= -FIX_2_562915447;
            z3 *= -FIX_1_961570560;
            z4 *= -FIX_0_390180644;
            z3 += z5;
            z4 += z5;
            tmp0 += z1 + z3;
            tmp1 += z2 + z4;
            tmp2 += z2 + z3;
            tmp3 += z1 + z4;
            int n = CONST_BITS + PASS1_BITS + 3;
            out[o] = rangeLimit(descale(tmp10 + tmp3, n));
            out[o + 7] = rangeLimit(descale(tmp10 - tmp3, n));
            out[o + 1] = rangeLimit(descale(tmp11 + tmp2, n));
            out[o + 6] = rangeLimit(descale(tmp11 - tmp2, n));
            out[o + 2] = rangeLimit(descale(tmp12 + tmp1, n));
            out[o + 5] = rangeLimit(descale(tmp12 - tmp1, n));
            out[o + 3] = rangeLimit(descale(tmp13 + tmp0, n));
            out[o + 4] = rangeLimit(descale(tmp13 - tmp0, n));
        }
    }

    /**
     * One component brought to full resolution (width x height), with libjpeg's upsampling for
     * its sampling ratio.
     */
    private byte[] upsample(Component c) throws ImageDecodeException {
        if (hmax % c.h != 0 || vmax % c.v != 0) {
            throw ctx.error("JPEG sampling factors " + c.h + "x" + c.v + " of " + hmax + "x" + vmax + " are fractional (not supported by libjpeg)");
        }
        int rh = hmax / c.h, rv = vmax / c.v;
        int stride = ceilDiv(c.width, 8) * 8;
        byte[] in = componentSamples(c, stride);
        c.coef = null; // no longer needed
        int cw = c.width, ch = c.height;
        byte[] out = new byte[width * height];
        if (rh == 1 && rv == 1) {
            for (int y = 0; y < height; y++) System.arraycopy(in, y * stride, out, y * width, width);
        } else if (rh == 2 && rv == 1 && cw > 2) {
            for (int y = 0; y < height; y++) {
                int row = y * stride, o = y * width;
                for (int x = 0; x < width; x++) {
                    int j = x >> 1;
                    int here = 3 * (in[row + j] & 0xFF);
                    out[o + x] = (byte) ((x & 1) == 0
                        ? (here + (in[row + Math.max(j - 1, 0)] & 0xFF) + 1) >> 2
                        : (here + (in[row + Math.min(j + 1, cw - 1)] & 0xFF) + 2) >> 2);
                }
            }
        } else if (rh == 1 && rv == 2) {
            for (int y = 0; y < height; y++) {
                int i = y >> 1;
                boolean upper = (y & 1) == 0;
                int nbr = upper ? Math.max(i - 1, 0) : Math.min(i + 1, ch - 1);
                int bias = upper ? 1 : 2;
                int row = i * stride, nrow = nbr * stride, o = y * width;
                for (int x = 0; x < width; x++) {
                    out[o + x] = (byte) ((3 * (in[row + x] & 0xFF) + (in[nrow + x] & 0xFF) + bias) >> 2);
                }
            }
        } else if (rh == 2 && rv == 2 && cw > 2) {
            int[] colsum = new int[cw];
            for (int y = 0; y < height; y++) {
                int i = y >> 1;
                int nbr = (y & 1) == 0 ? Math.max(i - 1, 0) : Math.min(i + 1, ch - 1);
                int row = i * stride, nrow = nbr * stride, o = y * width;
                for (int j = 0; j < cw; j++) colsum[j] = 3 * (in[row + j] & 0xFF) + (in[nrow + j] & 0xFF);
                for (int x = 0; x < width; x++) {
                    int j = x >> 1;
                    out[o + x] = (byte) ((x & 1) == 0
                        ? (3 * colsum[j] + colsum[Math.max(j - 1, 0)] + 8) >> 4
                        : (3 * colsum[j] + colsum[Math.min(j + 1, cw - 1)] + 7) >> 4);
                }
            }
        } else {
            for (int y = 0; y < height; y++) {
                int row = (y / rv) * stride, o = y * width;
                for (int x = 0; x < width; x++) out[o + x] = in[row + x / rh];
            }
        }
        return out;
    }

    // libjpeg's YCbCr tables (jdcolor.c): 16 fraction bits, rounded
    private static final int[] CR_R = new int[256], CB_B = new int[256];
    private static final long[] CR_G = new long[256], CB_G = new long[256];

    static {
        long oneHalf = 1L << 15;
        for (int i = 0; i < 256; i++) {
            long x = i - 128;
            CR_R[i] = (int) ((fix(1.40200) * x + oneHalf) >> 16);
            CB_B[i] = (int) ((fix(1.77200) * x + oneHalf) >> 16);
            CR_G[i] = -fix(0.71414) * x;
            CB_G[i] = -fix(0.34414) * x + oneHalf;
        }
    }

    private static long fix(double x) {
        return (long) (x * (1L << 16) + 0.5);
    }

    private static int clamp(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }

    private RgbImage toRgb() throws ImageDecodeException {
        int n = width * height;
        byte[][] planes = new byte[comps.length][];
        for (int i = 0; i < comps.length; i++) planes[i] = upsample(comps[i]);
        byte[] rgb = new byte[n * 3];
        if (comps.length == 1) {
            byte[] g = planes[0];
            for (int i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
        } else if (comps.length == 3) {
            if (threeComponentsAreRgb()) {
                for (int i = 0; i < n; i++) {
                    rgb[3 * i] = planes[0][i];
                    rgb[3 * i + 1] = planes[1][i];
                    rgb[3 * i + 2] = planes[2][i];
                }
            } else {
                for (int i = 0; i < n; i++) {
                    int y = planes[0][i] & 0xFF, cb = planes[1][i] & 0xFF, cr = planes[2][i] & 0xFF;
                    rgb[3 * i] = (byte) clamp(y + CR_R[cr]);
                    rgb[3 * i + 1] = (byte) clamp(y + (int) ((CB_G[cb] + CR_G[cr]) >> 16));
                    rgb[3 * i + 2] = (byte) clamp(y + CB_B[cb]);
                }
            }
        } else {
            boolean ycck = sawAdobe && adobeTransform != 0; // libjpeg assumes YCCK for transform 2 and unknown values
            for (int i = 0; i < n; i++) {
                int c, m, yy;
                if (ycck) {
                    int y = planes[0][i] & 0xFF, cb = planes[1][i] & 0xFF, cr = planes[2][i] & 0xFF;
                    c = clamp(255 - (y + CR_R[cr]));
                    m = clamp(255 - (y + (int) ((CB_G[cb] + CR_G[cr]) >> 16)));
                    yy = clamp(255 - (y + CB_B[cb]));
                } else {
                    c = planes[0][i] & 0xFF;
                    m = planes[1][i] & 0xFF;
                    yy = planes[2][i] & 0xFF;
                }
                int k = planes[3][i] & 0xFF;
                // Pillow reads every CMYK JPEG as inverted ("CMYK;I"), then cmyk2rgb
                int nk = k; // 255 - (255 - k)
                rgb[3 * i] = (byte) (nk - mulDiv255(255 - c, nk));
                rgb[3 * i + 1] = (byte) (nk - mulDiv255(255 - m, nk));
                rgb[3 * i + 2] = (byte) (nk - mulDiv255(255 - yy, nk));
            }
        }
        return new RgbImage(width, height, rgb);
    }

    /** Pillow's MULDIV255: a * b / 255, rounded, without a division. */
    private static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    /** libjpeg's guess for a 3-component file: JFIF means YCbCr, then the Adobe flag, then ids 'R','G','B'. */
    private boolean threeComponentsAreRgb() {
        if (sawJfif) return false;
        if (sawAdobe) return adobeTransform == 0;
        return comps[0].id == 'R' && comps[1].id == 'G' && comps[2].id == 'B';
    }
}
