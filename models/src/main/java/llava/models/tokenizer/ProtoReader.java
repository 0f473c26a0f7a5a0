package llava.models.tokenizer;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;

/**
 * Reads the protobuf wire format (just what a SentencePiece ModelProto needs). Every length is
 * checked against the bytes that remain, so a corrupt file gives a {@link TokenizerFormatException}
 * instead of a huge allocation or an index error.
 */
final class ProtoReader {
    static final int VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5;

    private final byte[] buf;
    private final String source;
    private int pos;
    private final int limit;
    private int tag;

    ProtoReader(byte[] buf, String source) {
        this(buf, 0, buf.length, source);
    }

    private ProtoReader(byte[] buf, int offset, int limit, String source) {
        this.buf = buf;
        this.pos = offset;
        this.limit = limit;
        this.source = source;
    }

    /** Advances to the next field; false at the end of this message. */
    boolean next() throws TokenizerFormatException {
        if (pos >= limit) return false;
        long key = readVarint();
        if (key >>> 3 == 0 || key > Integer.MAX_VALUE) throw error("invalid field key " + key);
        tag = (int) key;
        return true;
    }

    int field() { return tag >>> 3; }

    int wireType() { return tag & 7; }

    long readVarint() throws TokenizerFormatException {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= limit) throw error("truncated varint");
            byte b = buf[pos++];
            result |= (long) (b & 0x7f) << shift;
            if (b >= 0) return result;
        }
        throw error("varint longer than 10 bytes");
    }

    int readInt32() throws TokenizerFormatException {
        expect(VARINT);
        return (int) readVarint();
    }

    boolean readBool() throws TokenizerFormatException {
        expect(VARINT);
        return readVarint() != 0;
    }

    float readFloat() throws TokenizerFormatException {
        expect(FIXED32);
        if (limit - pos < 4) throw error("truncated float");
        int bits = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return Float.intBitsToFloat(bits);
    }

    /** A length-delimited field as strict UTF-8 text. */
    String readString() throws TokenizerFormatException {
        int len = readLength();
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, pos, len)).toString();
            pos += len;
            return s;
        } catch (CharacterCodingException e) {
            throw error("string field " + field() + " is not valid UTF-8");
        }
    }

    /** A length-delimited field as a nested message reader; this reader moves past it. */
    ProtoReader readMessage() throws TokenizerFormatException {
        int len = readLength();
        ProtoReader r = new ProtoReader(buf, pos, pos + len, source);
        pos += len;
        return r;
    }

    /** Bytes left in this message (used for fields whose size is all we need). */
    int remainingBytes() { return limit - pos; }

    void skip() throws TokenizerFormatException {
        switch (wireType()) {
            case VARINT -> readVarint();
            case FIXED64 -> skipBytes(8);
            case LENGTH_DELIMITED -> skipBytes(readLength());
            case FIXED32 -> skipBytes(4);
            default -> throw error("unsupported wire type " + wireType() + " for field " + field());
        }
    }

    private void skipBytes(int n) throws TokenizerFormatException {
        if (limit - pos < n) throw error("field " + field() + " runs past the end of its message");
        pos += n;
    }

    private int readLength() throws TokenizerFormatException {
        expect(LENGTH_DELIMITED);
        long len = readVarint();
        if (len < 0 || len > limit - pos) {
            throw error("field " + field() + " claims " + len + " bytes but only " + (limit - pos) + " remain");
        }
        return (int) len;
    }

    private void expect(int wireType) throws TokenizerFormatException {
        if (wireType() != wireType) {
            throw error("field " + field() + " has wire type " + wireType() + ", expected " + wireType);
        }
    }

    TokenizerFormatException error(String problem) {
        return new TokenizerFormatException(source + ": corrupt SentencePiece model: " + problem + " (at byte " + pos + ")");
    }
}
