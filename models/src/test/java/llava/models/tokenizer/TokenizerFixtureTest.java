package llava.models.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import llava.models.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every case of fixtures/tokenizer_cases.jsonl (outputs of sentencepiece 0.1.97 and transformers
 * cae78c46) must match exactly, for the LLaVA checkpoint's tokenizer, the plain LLaMA
 * tokenizer.model and the tokenizer.json form of the same vocabulary.
 */
class TokenizerFixtureTest {
    static List<TokenizerCases> cases;
    static Tokenizer llava, llama, llamaJson;

    @BeforeAll
    static void load() throws IOException {
        cases = TokenizerCases.all();
        llava = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
        llama = Tokenizer.fromPretrained(Fixtures.path("tokenizer"));
        llamaJson = Tokenizer.fromTokenizerJson(Fixtures.path("tokenizer/tokenizer.json"));
    }

    @Test
    void fixtureHasAllCases() {
        assertEquals(63, cases.size());
    }

    @Test
    void vocabularies() {
        assertEquals(32003, llava.vocabSize());
        assertEquals(32000, llama.vocabSize());
        assertEquals(32000, llamaJson.vocabSize());
        assertEquals(List.of("<im_patch>", "<im_start>", "<im_end>"), llava.addedTokens());
        assertEquals(32000, llava.tokenId("<im_patch>"));
        assertEquals(32001, llava.tokenId("<im_start>"));
        assertEquals(32002, llava.tokenId("<im_end>"));
        for (Tokenizer t : List.of(llava, llama, llamaJson)) {
            assertEquals(1, t.bosId());
            assertEquals(2, t.eosId());
            assertEquals(0, t.unkId());
            assertEquals(13, t.tokenId("<0x0A>"));
            assertEquals("▁Hello", t.piece(15043));
        }
        assertEquals(0, llava.padId(), "special_tokens_map.json sets pad = <unk>");
        assertEquals(-1, llama.padId(), "the plain LLaMA tokenizer has no pad token");
        assertEquals(2048, llava.modelMaxLength());
        for (int id = 0; id < 32000; id++) assertEquals(llama.piece(id), llamaJson.piece(id), "piece " + id);
    }

    @Test
    void llavaCheckpointTokenizerMatchesEveryCase() {
        for (TokenizerCases c : cases) checkAll(llava, c);
    }

    @Test
    void llamaTokenizerModelMatchesEveryCaseWithoutImageTokens() {
        int checked = 0;
        for (TokenizerCases c : cases) {
            assertArrayEquals(c.spIds(), llama.encodeSentencePiece(c.text()), () -> "sp_ids of " + c);
            if (c.usesImageTokens()) continue; // these three tokens exist only in the LLaVA checkpoint
            checkAll(llama, c);
            checked++;
        }
        assertEquals(51, checked);
    }

    @Test
    void tokenizerJsonMatchesEveryCaseWithoutImageTokens() {
        int checked = 0;
        for (TokenizerCases c : cases) {
            assertArrayEquals(c.spIds(), llamaJson.encodeSentencePiece(c.text()), () -> "sp_ids of " + c);
            if (c.usesImageTokens()) continue;
            checkAll(llamaJson, c);
            checked++;
        }
        assertEquals(51, checked);
    }

    @Test
    void streamingDecodeEqualsFullDecode() {
        for (Tokenizer t : List.of(llava, llama, llamaJson)) {
            for (TokenizerCases c : cases) {
                int[][] sequences = c.usesImageTokens() && t != llava ? new int[][] {c.spIds()} : new int[][] {c.spIds(), c.ids()};
                for (int[] ids : sequences) {
                    StreamingDecoder d = t.streamingDecoder();
                    StringBuilder sb = new StringBuilder();
                    for (int id : ids) sb.append(checkedDelta(d.next(id)));
                    sb.append(checkedDelta(d.finish()));
                    assertEquals(t.decodeSentencePiece(ids), sb.toString(), () -> "streaming decode of " + c);
                }
                assertEquals(c.spDecode(), streamed(t, c.spIds()), () -> "streamed sp_decode of " + c);
            }
        }
    }

    static String streamed(Tokenizer t, int[] ids) {
        StreamingDecoder d = t.streamingDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(checkedDelta(d.next(id)));
        return sb.append(checkedDelta(d.finish())).toString();
    }

    /** A delta must never end inside a character: no unpaired surrogate anywhere. */
    static String checkedDelta(String delta) {
        for (int i = 0; i < delta.length(); i++) {
            char ch = delta.charAt(i);
            if (Character.isHighSurrogate(ch)) {
                assertTrue(i + 1 < delta.length() && Character.isLowSurrogate(delta.charAt(i + 1)), "split surrogate pair in " + delta);
                i++;
            } else {
                assertTrue(!Character.isLowSurrogate(ch), "lone low surrogate in " + delta);
            }
        }
        return delta;
    }

    private static void checkAll(Tokenizer t, TokenizerCases c) {
        String what = t + " on " + c;
        assertArrayEquals(c.ids(), t.encode(c.text(), true), () -> "ids: " + what);
        assertArrayEquals(c.ids(), t.encode(c.text()), () -> "ids (config default BOS): " + what);
        assertArrayEquals(c.idsNoBos(), t.encode(c.text(), false), () -> "ids_no_bos: " + what);
        assertEquals(c.tokens(), t.tokens(c.idsNoBos()), () -> "tokens: " + what);
        assertArrayEquals(c.spIds(), t.encodeSentencePiece(c.text()), () -> "sp_ids: " + what);
        assertEquals(c.spDecode(), t.decodeSentencePiece(c.spIds()), () -> "sp_decode: " + what);
        assertEquals(c.hfDecode(), t.decode(c.ids(), false), () -> "hf_decode: " + what);
        assertEquals(c.hfDecodeSkipSpecial(), t.decode(c.ids(), true), () -> "hf_decode_skip_special: " + what);
        assertEquals(c.hfBatchDecodeSkipSpecialStrip(), t.decodeStripped(c.idsNoBos()), () -> "hf_batch_decode_skip_special_strip: " + what);
    }
}
