package llava.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad files give clear errors naming the file; a hand-built model exercises unused and user-defined pieces. */
class TokenizerErrorsTest {
    @TempDir
    Path dir;

    @Test
    void missingFolderOrFiles() throws IOException {
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Tokenizer.fromPretrained(dir.resolve("nope")));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        e = assertThrows(NoSuchFileException.class, () -> Tokenizer.fromPretrained(dir));
        assertTrue(e.getMessage().contains("no tokenizer.model or tokenizer.json"), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> Tokenizer.fromSentencePiece(dir.resolve("tokenizer.model")));
    }

    @Test
    void corruptModelFiles() throws IOException {
        byte[] good = Files.readAllBytes(Fixtures.path("tokenizer/tokenizer.model"));
        Path f = dir.resolve("tokenizer.model");
        for (byte[] bad : new byte[][] {new byte[0], Arrays.copyOf(good, 1000), Arrays.copyOf(good, good.length - 7), randomBytes(5000)}) {
            Files.write(f, bad);
            TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        }
        // A length field claiming more bytes than the file has must not allocate them.
        Files.write(f, new byte[] {0x0a, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07});
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromSentencePiece(f));
        assertTrue(e.getMessage().contains("claims"), e.getMessage());
    }

    @Test
    void unsupportedModels() throws IOException {
        Path f = dir.resolve("unigram.model");
        Files.write(f, tinyModel(1, false));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromSentencePiece(f));
        assertTrue(e.getMessage().contains("model type 1"), e.getMessage());

        Path json = dir.resolve("tokenizer.json");
        Files.writeString(json, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromTokenizerJson(json));
        assertTrue(e.getMessage().contains(json.toString()) && e.getMessage().contains("WordPiece"), e.getMessage());
        Files.writeString(json, "{\"model\": {\"type\": \"BPE\", ");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromTokenizerJson(json));
        assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
        Files.writeString(json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"a\": 1}, \"merges\": [\"a b\"], \"unk_token\": \"<unk>\"}}");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromTokenizerJson(json));
        assertTrue(e.getMessage().contains("merge 0") && e.getMessage().contains("'b'"), e.getMessage());
    }

    @Test
    void badConfigFiles() throws IOException {
        Files.copy(Fixtures.path("tiny-llava-v1/tokenizer.model"), dir.resolve("tokenizer.model"));
        Path added = dir.resolve("added_tokens.json");
        Files.writeString(added, "{\"<im_patch>\": 32005}");
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
        assertTrue(e.getMessage().contains(added.toString()) && e.getMessage().contains("32000"), e.getMessage());
        Files.writeString(added, "{\"<im_patch>\": \"x\"}");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
        assertTrue(e.getMessage().contains("not an integer"), e.getMessage());
        Files.writeString(added, "[1, 2]");
        assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
        Files.delete(added);
        Path map = dir.resolve("special_tokens_map.json");
        Files.writeString(map, "{\"pad_token\": 5}");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
        assertTrue(e.getMessage().contains(map.toString()) && e.getMessage().contains("pad_token"), e.getMessage());
        Files.writeString(map, "{\"pad_token\": \"<unk>\"");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromPretrained(dir));
        assertTrue(e.getMessage().contains(map.toString()), e.getMessage());
    }

    @Test
    void badIds() throws IOException {
        Tokenizer t = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {1, 32003}, false));
        assertTrue(e.getMessage().contains("32003"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.decodeSentencePiece(new int[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> t.streamingDecoder().next(40000));
        assertThrows(IllegalArgumentException.class, () -> t.tokenId("<image>"));
        assertTrue(t.findTokenId("<image>").isEmpty());
    }

    @Test
    void unusedPiecesSplitBackAndUserDefinedPiecesStayWhole() throws IOException {
        Path f = dir.resolve("tiny.model");
        Files.write(f, tinyModel(2, false));
        Tokenizer t = Tokenizer.fromSentencePiece(f);
        // "ab" is UNUSED: it takes part in merging ("ab" + "c" -> "abc") but alone it is split back into a, b.
        assertEquals(java.util.List.of("\u2581", "abc"), t.tokens(t.encodeSentencePiece("abc")));
        assertEquals(java.util.List.of("\u2581", "a", "b"), t.tokens(t.encodeSentencePiece("ab")));
        // "<sep>" is USER_DEFINED: matched whole, never merged; unknown characters become <unk> without byte fallback.
        assertArrayEquals(new int[] {3, 4, 9, 0}, t.encodeSentencePiece("a<sep>z"));
        assertEquals(" \u2047 ", t.decodeSentencePiece(new int[] {0}));
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(3).nextBytes(b);
        return b;
    }

    /** A ModelProto with pieces <unk>, <s>, </s>, ▁, a, b, c, ab (unused), abc, <sep> (user-defined). */
    private static byte[] tinyModel(int modelType, boolean byteFallback) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Object[][] pieces = {{"<unk>", 0f, 2}, {"<s>", 0f, 3}, {"</s>", 0f, 3}, {"\u2581", -1f, 1}, {"a", -2f, 1},
                {"b", -3f, 1}, {"c", -4f, 1}, {"ab", 5f, 5}, {"abc", 4f, 1}, {"<sep>", 0f, 4}};
        for (Object[] p : pieces) {
            ByteArrayOutputStream sp = new ByteArrayOutputStream();
            writeString(sp, 1, (String) p[0]);
            writeTag(sp, 2, 5);
            int bits = Float.floatToIntBits((Float) p[1]);
            for (int k = 0; k < 4; k++) sp.write(bits >>> (8 * k));
            writeTag(sp, 3, 0);
            writeVarint(sp, (Integer) p[2]);
            writeBytes(out, 1, sp.toByteArray());
        }
        ByteArrayOutputStream trainer = new ByteArrayOutputStream();
        writeTag(trainer, 3, 0);
        writeVarint(trainer, modelType);
        writeTag(trainer, 35, 0);
        writeVarint(trainer, byteFallback ? 1 : 0);
        writeBytes(out, 2, trainer.toByteArray());
        ByteArrayOutputStream norm = new ByteArrayOutputStream();
        writeString(norm, 1, "identity");
        writeTag(norm, 4, 0);
        writeVarint(norm, 0);
        writeBytes(out, 3, norm.toByteArray());
        return out.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream out, int field, String s) {
        writeBytes(out, field, s.getBytes(StandardCharsets.UTF_8));
    }

    private static void writeBytes(ByteArrayOutputStream out, int field, byte[] b) {
        writeTag(out, field, 2);
        writeVarint(out, b.length);
        out.writeBytes(b);
    }

    private static void writeTag(ByteArrayOutputStream out, int field, int wire) {
        writeVarint(out, field << 3 | wire);
    }

    private static void writeVarint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) (v & 0x7f) | 0x80);
            v >>>= 7;
        }
        out.write((int) v);
    }
}
