package llava.models.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a SentencePiece {@code tokenizer.model} (a serialized ModelProto) that encoding
 * and decoding need: every piece with its score and type, the trainer settings (model type, byte
 * fallback, special ids) and the normalizer settings (dummy prefix, whitespace handling).
 * Unsupported models (unigram, a precompiled normalization table) are rejected with a clear error.
 */
public final class SentencePieceModel {
    /** TrainerSpec.ModelType.BPE. */
    static final int MODEL_TYPE_BPE = 2;
    /** SentencePiece's default surface of the unknown piece (" ⁇ "). */
    static final String DEFAULT_UNK_SURFACE = " \u2047 ";
    /** Upper bound on the number of pieces, far above any real vocabulary. */
    private static final int MAX_PIECES = 10_000_000;

    final String source;
    final byte[] serialized;
    final String[] pieces;
    final float[] scores;
    final PieceType[] types;
    final boolean byteFallback;
    final boolean addDummyPrefix;
    final boolean removeExtraWhitespaces;
    final boolean escapeWhitespaces;
    final String unkSurface;

    private SentencePieceModel(String source, byte[] serialized, String[] pieces, float[] scores, PieceType[] types,
                               boolean byteFallback, boolean addDummyPrefix, boolean removeExtraWhitespaces,
                               boolean escapeWhitespaces, String unkSurface) {
        this.source = source;
        this.serialized = serialized;
        this.pieces = pieces;
        this.scores = scores;
        this.types = types;
        this.byteFallback = byteFallback;
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
        this.unkSurface = unkSurface;
    }

    /** Reads and checks a {@code tokenizer.model} file. */
    public static SentencePieceModel load(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "SentencePiece model file not found");
        }
        return parse(bytes, file.toString());
    }

    /** Parses a serialized ModelProto; {@code source} names it in error messages. */
    public static SentencePieceModel parse(byte[] bytes, String source) throws TokenizerFormatException {
        if (bytes.length == 0) throw new TokenizerFormatException(source + ": SentencePiece model file is empty");
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<PieceType> types = new ArrayList<>();
        int modelType = 1; // proto default: UNIGRAM
        boolean byteFallback = false, treatWhitespaceAsSuffix = false;
        boolean addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true; // proto defaults
        String unkSurface = DEFAULT_UNK_SURFACE;
        String normalizerName = "";
        int charsmapBytes = 0, denormCharsmapBytes = 0;
        boolean sawTrainer = false;

        ProtoReader top = new ProtoReader(bytes, source);
        while (top.next()) {
            switch (top.field()) {
                case 1 -> {
                    if (pieces.size() >= MAX_PIECES) throw top.error("more than " + MAX_PIECES + " pieces");
                    ProtoReader p = top.readMessage();
                    String piece = null;
                    float score = 0;
                    int type = 1;
                    while (p.next()) {
                        switch (p.field()) {
                            case 1 -> piece = p.readString();
                            case 2 -> score = p.readFloat();
                            case 3 -> type = p.readInt32();
                            default -> p.skip();
                        }
                    }
                    PieceType t = PieceType.fromProto(type);
                    if (piece == null) throw top.error("piece " + pieces.size() + " has no text");
                    if (t == null) throw top.error("piece " + pieces.size() + " ('" + piece + "') has unknown type " + type);
                    pieces.add(piece);
                    scores.add(score);
                    types.add(t);
                }
                case 2 -> {
                    sawTrainer = true;
                    ProtoReader t = top.readMessage();
                    while (t.next()) {
                        switch (t.field()) {
                            case 3 -> modelType = t.readInt32();
                            case 24 -> treatWhitespaceAsSuffix = t.readBool();
                            case 35 -> byteFallback = t.readBool();
                            case 44 -> unkSurface = t.readString();
                            default -> t.skip();
                        }
                    }
                }
                case 3 -> {
                    ProtoReader n = top.readMessage();
                    while (n.next()) {
                        switch (n.field()) {
                            case 1 -> normalizerName = n.readString();
                            case 2 -> charsmapBytes = n.readMessage().remainingBytes();
                            case 3 -> addDummyPrefix = n.readBool();
                            case 4 -> removeExtraWhitespaces = n.readBool();
                            case 5 -> escapeWhitespaces = n.readBool();
                            default -> n.skip();
                        }
                    }
                }
                case 5 -> {
                    ProtoReader n = top.readMessage();
                    while (n.next()) {
                        if (n.field() == 2) denormCharsmapBytes = n.readMessage().remainingBytes();
                        else n.skip();
                    }
                }
                default -> top.skip();
            }
        }
        if (pieces.isEmpty()) throw new TokenizerFormatException(source + ": SentencePiece model has no pieces (not a tokenizer.model file?)");
        if (!sawTrainer) throw new TokenizerFormatException(source + ": SentencePiece model has no trainer_spec (not a tokenizer.model file?)");
        if (modelType != MODEL_TYPE_BPE) {
            throw new TokenizerFormatException(source + ": unsupported SentencePiece model type " + modelType + " (only BPE, type 2, is implemented)");
        }
        if (charsmapBytes > 0 || denormCharsmapBytes > 0) {
            throw new TokenizerFormatException(source + ": normalizer '" + normalizerName
                    + "' uses a precompiled normalization table, which is not supported (only identity normalization)");
        }
        if (treatWhitespaceAsSuffix) {
            throw new TokenizerFormatException(source + ": treat_whitespace_as_suffix is not supported");
        }
        float[] scoreArray = new float[scores.size()];
        for (int i = 0; i < scoreArray.length; i++) scoreArray[i] = scores.get(i);
        return new SentencePieceModel(source, bytes, pieces.toArray(new String[0]), scoreArray,
                types.toArray(new PieceType[0]), byteFallback, addDummyPrefix, removeExtraWhitespaces,
                escapeWhitespaces, unkSurface);
    }

    /** Number of pieces. */
    public int size() { return pieces.length; }

    public String piece(int id) { return pieces[id]; }

    public float score(int id) { return scores[id]; }

    public PieceType type(int id) { return types[id]; }

    public boolean byteFallback() { return byteFallback; }

    public boolean addDummyPrefix() { return addDummyPrefix; }

    public boolean removeExtraWhitespaces() { return removeExtraWhitespaces; }
}
