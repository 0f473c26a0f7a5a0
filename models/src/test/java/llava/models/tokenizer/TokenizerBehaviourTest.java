package llava.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import llava.models.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding of the upstream model inputs/outputs, properties on random inputs, an independent BPE reference, saving. */
class TokenizerBehaviourTest {
    static Tokenizer llava, llamaJson;
    static SentencePieceModel spm;
    static java.util.Map<String, Integer> normalPieces;

    @BeforeAll
    static void load() throws IOException {
        llava = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
        llamaJson = Tokenizer.fromTokenizerJson(Fixtures.path("tokenizer/tokenizer.json"));
        spm = SentencePieceModel.load(Fixtures.path("tiny-llava-v1/tokenizer.model"));
    }

    @Test
    void decodesTheTrainingInputsLikeUpstream() throws IOException {
        JsonNode cases = new ObjectMapper().readTree(Fixtures.path("refs/cases.json").toFile());
        int checked = 0;
        for (String name : List.of("v1", "v0", "batch", "text_only")) {
            JsonNode c = cases.get(name);
            for (int b = 0; b < c.get("input_ids").size(); b++) {
                int[] ids = TokenizerCases.ints(c.get("input_ids").get(b));
                assertEquals(c.get("decoded_input_hf_cae78c46").get(b).asText(), llava.decode(ids, false), name + "[" + b + "]");
                checked++;
            }
        }
        assertEquals(5, checked);
    }

    @Test
    void decodesGeneratedTokensLikeRunLlava() throws IOException {
        JsonNode gen = new ObjectMapper().readTree(Fixtures.path("refs/generation.json").toFile());
        for (String name : List.of("gen0", "gen1")) {
            JsonNode g = gen.get(name);
            int[] ids = TokenizerCases.ints(g.get("new_token_ids"));
            List<String> pieces = new ArrayList<>();
            g.get("new_tokens").forEach(t -> pieces.add(t.asText()));
            assertEquals(pieces, llava.tokens(ids), name);
            // run_llava.py: batch_decode(skip_special_tokens=True)[0].strip(), drop a trailing stop string, strip again.
            String out = llava.decodeStripped(ids);
            String stop = g.get("stop_str").asText();
            if (out.endsWith(stop)) out = out.substring(0, out.length() - stop.length());
            assertEquals(g.get("decoded_output_run_llava_postprocessed").asText(), PythonStrings.strip(out), name);
            assertArrayEquals(TokenizerCases.ints(g.get("input_ids")), llava.encode(g.get("prompt").asText()), name + " prompt ids");
        }
    }

    @Test
    void sentencePieceEncodingIsLosslessOnRandomText() {
        Random rnd = new Random(1234);
        String alphabet = "aAbBcxyz  \t\n.,!?'-0123456789éüßñ€中文日本語한국어🦙👍🏽\u00a0\u200b\u3000<>/s";
        int[] cps = alphabet.codePoints().toArray();
        for (int trial = 0; trial < 300; trial++) {
            StringBuilder sb = new StringBuilder();
            int len = rnd.nextInt(60);
            for (int i = 0; i < len; i++) sb.appendCodePoint(cps[rnd.nextInt(cps.length)]);
            String text = sb.toString();
            for (Tokenizer t : List.of(llava, llamaJson)) {
                int[] ids = t.encodeSentencePiece(text);
                assertEquals(text, t.decodeSentencePiece(ids), () -> "round trip of '" + text + "'");
                assertEquals(text, TokenizerFixtureTest.streamed(t, ids));
            }
            assertArrayEquals(llava.encodeSentencePiece(text), llamaJson.encodeSentencePiece(text), () -> "model vs json on '" + text + "'");
        }
    }

    @Test
    void heapBpeEqualsNaiveReferenceOnRandomText() {
        // The reference re-scans every adjacent pair after each merge (quadratic, obviously right).
        Random rnd = new Random(99);
        for (int trial = 0; trial < 200; trial++) {
            StringBuilder sb = new StringBuilder("\u2581");
            int words = 1 + rnd.nextInt(12);
            for (int w = 0; w < words; w++) {
                String p = spm.piece(3 + 256 + rnd.nextInt(spm.size() - 259));
                sb.append(p);
                if (rnd.nextInt(3) == 0) sb.append("\u2581");
            }
            String normalized = sb.toString();
            assertEquals(naiveBpe(normalized), pieces(llava, encodeNormalized(llava, normalized)), normalized);
        }
    }

    @Test
    void streamingNeverSplitsCharactersOnRandomIds() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 500; trial++) {
            int n = rnd.nextInt(30);
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) {
                int kind = rnd.nextInt(4);
                // mostly byte pieces (ids 3..258) so that multi-byte characters straddle many calls
                ids[i] = kind < 2 ? 3 + rnd.nextInt(256) : kind == 2 ? 3 + 0xE0 + rnd.nextInt(32) : rnd.nextInt(llava.vocabSize());
            }
            String full = llava.decodeSentencePiece(ids);
            assertEquals(full, TokenizerFixtureTest.streamed(llava, ids));
        }
        // A 4-byte character fed byte by byte appears exactly when its last byte arrives.
        int[] llama = {3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99};
        StreamingDecoder d = llava.streamingDecoder();
        assertEquals("", d.next(llama[0]));
        assertEquals("", d.next(llama[1]));
        assertEquals("", d.next(llama[2]));
        assertEquals("🦙", d.next(llama[3]));
        // An incomplete character becomes U+FFFD per byte, as in SentencePiece (the generated "<0xF0>" of the fixtures).
        assertEquals("\uFFFD\uFFFD", llava.decodeSentencePiece(new int[] {llama[0], llama[1]}));
        assertEquals("\uFFFD sin", llava.decodeSentencePiece(new int[] {llama[0], llava.tokenId("▁sin")}));
    }

    @Test
    void longInputsEncodeAndRoundTrip() {
        StringBuilder sb = new StringBuilder();
        Random rnd = new Random(5);
        String[] words = {"the", "cat", "sat", "on", "a", "mat", "photograph", "\n", "ASSISTANT:", "😀", "über", "  "};
        while (sb.length() < 200_000) sb.append(words[rnd.nextInt(words.length)]).append(' ');
        String text = sb.toString();
        int[] ids = llava.encodeSentencePiece(text);
        assertEquals(text, llava.decodeSentencePiece(ids));
        assertTrue(ids.length > 25_000);
        // One long run without spaces: every merge happens inside a single word.
        String word = "ab".repeat(50_000);
        assertEquals(word, llava.decodeSentencePiece(llava.encodeSentencePiece(word)));
    }

    @Test
    void specialTokenSplittingAndStripping() {
        int patch = llava.tokenId("<im_patch>");
        assertArrayEquals(new int[] {1, patch, patch}, llava.encode("  <im_patch>\n\t<im_patch>  "));
        // no-break spaces are whitespace for Python's strip, so they go too
        assertArrayEquals(llava.encode("a<im_patch>b"), llava.encode("a\u00a0<im_patch>\u00a0b"));
        assertArrayEquals(new int[] {1, 2, 2}, llava.encode("</s></s>"));
        assertArrayEquals(new int[] {}, llava.encode("", false));
    }

    @Test
    void addedTokensAndSaving(@TempDir Path dir) throws IOException {
        Tokenizer plain = Tokenizer.fromPretrained(Fixtures.path("tokenizer"));
        Tokenizer more = plain.withAddedTokens(List.of("<im_patch>", "<im_start>", "<im_end>", "<im_patch>", "▁Hello"));
        assertEquals(32003, more.vocabSize(), "duplicates and known pieces are skipped");
        assertArrayEquals(llava.encode("x <im_start><im_patch><im_end> y"), more.encode("x <im_start><im_patch><im_end> y"));
        Tokenizer padded = more.withPadToken("<unk>");
        assertEquals(0, padded.padId());
        Tokenizer newPad = more.withPadToken("[PAD]");
        assertEquals(32003, newPad.padId(), "a new pad token is added after the others");
        newPad.savePretrained(dir);
        Tokenizer back = Tokenizer.fromPretrained(dir);
        assertEquals(newPad.vocabSize(), back.vocabSize());
        assertEquals(32003, back.padId());
        assertEquals(newPad.addedTokens(), back.addedTokens());
        for (TokenizerCases c : TokenizerCases.all()) assertArrayEquals(newPad.encode(c.text()), back.encode(c.text()), c.toString());
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    /** Saved files get the permissions of any new file (umask), not the owner-only mode of a temporary file. */
    @Test
    void savedFilesAreReadableLikeAnyNewFile(@TempDir Path dir) throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX permissions");
        Path plain = Files.createFile(dir.resolve("plain.txt"));
        Path out = dir.resolve("saved");
        llava.savePretrained(out);
        try (var files = Files.list(out)) {
            for (Path f : files.toList()) {
                assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(f), f.getFileName().toString());
            }
        }
    }

    @Test
    void tokenizerJsonFolderWithoutModelFile(@TempDir Path dir) throws IOException {
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            Files.copy(Fixtures.path("tokenizer/" + f), dir.resolve(f));
        }
        Files.writeString(dir.resolve("added_tokens.json"), "{\"<im_patch>\": 32000, \"<im_start>\": 32001, \"<im_end>\": 32002}");
        Tokenizer t = Tokenizer.fromPretrained(dir);
        assertEquals(32003, t.vocabSize());
        for (TokenizerCases c : TokenizerCases.all()) {
            assertArrayEquals(c.ids(), t.encode(c.text()), c.toString());
            assertEquals(c.hfDecode(), t.decode(c.ids(), false), c.toString());
        }
    }

    /** Added tokens past the vocabulary of a tokenizer.json take ids in order; those marked special are special. */
    @Test
    void tokenizerJsonAddedTokensPastTheVocabulary(@TempDir Path dir) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(Fixtures.path("tokenizer/tokenizer.json").toFile());
        var added = root.withArray("added_tokens");
        added.addObject().put("id", 32001).put("content", "<b>").put("special", false);
        added.addObject().put("id", 32000).put("content", "<a>").put("special", true);
        added.addObject().put("id", 32002).put("content", "<c>").put("special", true);
        Path json = dir.resolve("tokenizer.json");
        mapper.writeValue(json.toFile(), root);
        Tokenizer t = Tokenizer.fromTokenizerJson(json);
        assertEquals(List.of("<a>", "<b>", "<c>"), t.addedTokens());
        assertTrue(t.isSpecial(32000) && t.isSpecial(32002) && !t.isSpecial(32001));
        assertArrayEquals(new int[] {1, 32000, 32001, 32002}, t.encode("<a> <b> <c>"));
        t.savePretrained(dir.resolve("saved"));
        JsonNode map = mapper.readTree(dir.resolve("saved/special_tokens_map.json").toFile());
        assertEquals("[\"<a>\",\"<c>\"]", map.get("additional_special_tokens").toString());
    }

    private static int[] encodeNormalized(Tokenizer t, String normalized) {
        // normalized text has its dummy prefix already; the sentencepiece normalizer would add another
        String text = normalized.substring(1).replace('\u2581', ' ');
        return t.encodeSentencePiece(text);
    }

    private static List<String> pieces(Tokenizer t, int[] ids) {
        return t.tokens(ids);
    }

    /** Textbook BPE by score: merge the best adjacent pair (leftmost on ties) until none is in the vocabulary. */
    private static List<String> naiveBpe(String normalized) {
        if (normalPieces == null) {
            normalPieces = new java.util.HashMap<>();
            for (int i = 0; i < spm.size(); i++) if (spm.type(i) == PieceType.NORMAL) normalPieces.put(spm.piece(i), i);
        }
        java.util.Map<String, Integer> ids = normalPieces;
        List<String> sym = new ArrayList<>();
        normalized.codePoints().forEach(cp -> sym.add(new String(Character.toChars(cp))));
        while (true) {
            int best = -1;
            float bestScore = Float.NEGATIVE_INFINITY;
            for (int i = 0; i + 1 < sym.size(); i++) {
                Integer id = ids.get(sym.get(i) + sym.get(i + 1));
                if (id != null && spm.score(id) > bestScore) {
                    best = i;
                    bestScore = spm.score(id);
                }
            }
            if (best < 0) break;
            sym.set(best, sym.get(best) + sym.remove(best + 1));
        }
        List<String> out = new ArrayList<>();
        for (String s : sym) {
            if (ids.containsKey(s)) out.add(s);
            else for (byte b : s.getBytes(StandardCharsets.UTF_8)) out.add(String.format("<0x%02X>", b & 0xff));
        }
        return out;
    }
}
