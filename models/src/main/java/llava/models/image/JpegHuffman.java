package llava.models.image;

/**
 * A JPEG Huffman table (code lengths + symbols, as in a DHT segment) with the lookups the decoder
 * needs: a direct table for codes of up to {@link #LOOKAHEAD} bits and canonical max-code limits
 * for longer ones.
 */
final class JpegHuffman {
    static final int LOOKAHEAD = 9;

    /** Symbols in code order. */
    final byte[] symbols;
    /** maxCode[l]: largest code of length l, or -1 when none (index 17 is a sentinel). */
    final int[] maxCode = new int[18];
    /** valOffset[l]: symbols index of the first code of length l, minus that code. */
    final int[] valOffset = new int[18];
    /** For a LOOKAHEAD-bit window: (code length << 8) | symbol, or 0 when the code is longer. */
    final int[] lookup = new int[1 << LOOKAHEAD];

    /** Builds the lookups of a table that {@link #of} has validated. */
    private JpegHuffman(int[] counts, byte[] symbols) {
        this.symbols = symbols;
        int code = 0, k = 0;
        for (int len = 1; len <= 16; len++) {
            valOffset[len] = k - code;
            if (counts[len - 1] > 0) {
                code += counts[len - 1];
                k += counts[len - 1];
                maxCode[len] = code - 1;
            } else {
                maxCode[len] = -1;
            }
            code <<= 1;
        }
        maxCode[17] = Integer.MAX_VALUE;
        // fill the direct lookup
        code = 0;
        k = 0;
        for (int len = 1; len <= LOOKAHEAD; len++) {
            for (int i = 0; i < counts[len - 1]; i++, k++, code++) {
                int shift = LOOKAHEAD - len;
                int entry = (len << 8) | (symbols[k] & 0xFF);
                for (int j = 0; j < (1 << shift); j++) lookup[(code << shift) | j] = entry;
            }
            code <<= 1;
        }
    }

    /**
     * Parses counts[16] and symbols; throws IllegalArgumentException for tables libjpeg rejects:
     * more than 256 symbols, codes that overflow their length, DC symbols above 15.
     */
    static JpegHuffman of(int[] counts, byte[] symbols, boolean dc) {
        int total = 0;
        for (int c : counts) total += c;
        if (total > 256 || total != symbols.length) throw new IllegalArgumentException("bad Huffman table (" + total + " symbols)");
        int code = 0;
        for (int len = 1; len <= 16; len++) {
            code += counts[len - 1];
            if (code > (1 << len)) throw new IllegalArgumentException("bad Huffman table (code lengths overflow)");
            code <<= 1;
        }
        if (dc) {
            for (byte s : symbols) {
                if ((s & 0xFF) > 15) throw new IllegalArgumentException("bad Huffman table (DC symbol " + (s & 0xFF) + ")");
            }
        }
        return new JpegHuffman(counts.clone(), symbols.clone());
    }

    // The standard tables of the JPEG spec (Annex K.3), which libjpeg-turbo installs for tables 0
    // and 1 when a file defines none (Motion-JPEG frames).
    static final JpegHuffman STD_DC_LUMA = standard(
        new int[] {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, "000102030405060708090a0b", true);
    static final JpegHuffman STD_DC_CHROMA = standard(
        new int[] {0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, "000102030405060708090a0b", true);
    static final JpegHuffman STD_AC_LUMA = standard(
        new int[] {0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125},
        "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a"
            + "3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a"
            + "92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2"
            + "e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa", false);
    static final JpegHuffman STD_AC_CHROMA = standard(
        new int[] {0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119},
        "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a26"
            + "2728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a828384858687"
            + "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9da"
            + "e2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa", false);

    private static JpegHuffman standard(int[] counts, String hex, boolean dc) {
        byte[] sym = new byte[hex.length() / 2];
        for (int i = 0; i < sym.length; i++) sym[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        return of(counts, sym, dc);
    }
}
