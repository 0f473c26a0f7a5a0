package llava.models.conversation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import llava.models.Fixtures;
import llava.models.conversation.ConversationRecord.Turn;
import llava.models.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Multi-round conversations, truncation, upstream's masking quirks, image placement, record files, the collator. */
class PreprocessBehaviourTest {
    static Tokenizer tokenizer;
    static SupervisedPreprocessor v1;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
        v1 = SupervisedPreprocessor.forVersion("v1", false, tokenizer, SupervisedPreprocessor.Settings.multimodal(2048, true));
    }

    static ConversationRecord record(String id, String image, String... fromValue) {
        Turn[] turns = new Turn[fromValue.length / 2];
        for (int i = 0; i < turns.length; i++) turns[i] = new Turn(fromValue[2 * i], fromValue[2 * i + 1]);
        return new ConversationRecord(id, image, List.of(turns));
    }

    @Test
    void multiRoundV1LabelsEveryAnswer() {
        TokenizedExample e = v1.process(record("r", "x.jpg", "human", "<image>\nWhat is it?", "gpt", "A cat.",
                "human", "What colour?", "gpt", "Grey and white."), 4);
        int[] expected = PreprocessFixtureTest.concat(
                PreprocessFixtureTest.concat(tokenizer.encode("A cat.", false), new int[] {2}),
                PreprocessFixtureTest.concat(tokenizer.encode("Grey and white.", false), new int[] {2}));
        assertArrayEquals(expected, PreprocessFixtureTest.labelled(e));
        assertTrue(e.prompt().contains("USER: <im_start><im_patch><im_patch><im_patch><im_patch><im_end>\nWhat is it? ASSISTANT: A cat.</s>USER: What colour?"));
    }

    /**
     * preprocess_mpt, with a tokenizer that knows the MPT markup and prepends no BOS (as MPT's
     * does): every answer is labelled up to and including its {@code <|im_end|>}.
     */
    @Test
    void multiRoundMptLabelsEveryAnswerWithItsEnd(@TempDir Path dir) throws IOException {
        Files.copy(Fixtures.path("tiny-llava-v1/tokenizer.model"), dir.resolve("tokenizer.model"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"add_bos_token\": false}");
        Files.writeString(dir.resolve("added_tokens.json"), "{\"<|im_start|>\": 32000, \"<|im_end|>\": 32001}");
        Tokenizer t = Tokenizer.fromPretrained(dir);
        SupervisedPreprocessor mpt = SupervisedPreprocessor.forVersion("v1", true, t, SupervisedPreprocessor.Settings.multimodal(2048, false));
        TokenizedExample e = mpt.process(record("r", null, "human", "What is it?", "gpt", "A cat.",
                "human", "What colour?", "gpt", "Grey and white."), 0);
        assertTrue(e.prompt().endsWith("<|im_start|>user\nWhat colour?<|im_end|><|im_start|>assistant\nGrey and white.<|im_end|>"), e.prompt());
        int[] labelled = PreprocessFixtureTest.labelled(e);
        assertEquals("A cat.<|im_end|>Grey and white.<|im_end|>", t.decodeSentencePiece(labelled));
        int end = t.tokenId("<|im_end|>");
        assertEquals(10, labelled.length);
        assertEquals(end, labelled[3]);
        assertEquals(end, labelled[9]);
    }

    @Test
    void leadingAssistantTurnIsDropped() {
        TokenizedExample e = v1.process(record("r", null, "gpt", "ignored", "human", "Hi", "gpt", "Hello."), 0);
        assertFalse(e.prompt().contains("ignored"));
        assertArrayEquals(PreprocessFixtureTest.concat(tokenizer.encode("Hello.", false), new int[] {2}), PreprocessFixtureTest.labelled(e));
    }

    @Test
    void badTurnsNameTheRecord() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> v1.process(record("rec-7", null, "human", "a", "human", "b"), 0));
        assertTrue(e.getMessage().contains("rec-7") && e.getMessage().contains("alternate"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> v1.process(record("rec-8", null, "human", "a", "bot", "b"), 0));
        assertTrue(e.getMessage().contains("rec-8") && e.getMessage().contains("'bot'"), e.getMessage());
    }

    @Test
    void truncationKeepsTheLabelsOfThePrefix() {
        ConversationRecord r = record("r", "x.jpg", "human", "<image>\nDescribe the picture in detail please.", "gpt",
                "It shows a cat sitting on a wooden floor next to a window.");
        TokenizedExample full = v1.process(r, 16);
        SupervisedPreprocessor short1 = SupervisedPreprocessor.forVersion("v1", false, tokenizer,
                SupervisedPreprocessor.Settings.multimodal(full.length() - 5, true));
        TokenizedExample cut = short1.process(r, 16);
        assertEquals(full.length() - 5, cut.length());
        assertArrayEquals(Arrays.copyOf(full.inputIds(), cut.length()), cut.inputIds());
        assertArrayEquals(Arrays.copyOf(full.labels(), cut.length()), cut.labels());
        assertTrue(cut.labelledCount() > 0);
    }

    @Test
    void lengthMismatchMasksEverythingLikeUpstream() {
        // pad is <unk> (id 0): a literal "<unk>" is not counted as a real token, the bookkeeping disagrees,
        // and upstream then ignores the whole example.
        TokenizedExample e = v1.process(record("r", null, "human", "What is <unk>?", "gpt", "Unknown."), 0);
        assertEquals(0, e.labelledCount());
    }

    @Test
    void imagesAreExpandedOnlyForRecordsWithAnImage() {
        TokenizedExample withImage = v1.process(record("a", "x.jpg", "human", "Look: <image>", "gpt", "ok"), 2);
        assertTrue(withImage.prompt().contains("Look: <im_start><im_patch><im_patch><im_end>"));
        TokenizedExample textOnly = v1.process(record("b", null, "human", "Look: <image>", "gpt", "ok"), 2);
        assertTrue(textOnly.prompt().contains("Look: <image>"));
    }

    @Test
    void sepImageConvFrontMovesTheImageFirst() {
        SupervisedPreprocessor front = SupervisedPreprocessor.forVersion("v0", false, tokenizer,
                new SupervisedPreprocessor.Settings(2048, true, false, true));
        List<Turn> out = front.preprocessMultimodal(List.of(new Turn("human", "Describe this.\n<image>"), new Turn("gpt", "A cat.")), 2);
        assertEquals("<im_patch><im_patch>###Human: Describe this.", out.get(0).value());
        assertThrows(IllegalArgumentException.class,
                () -> front.preprocessMultimodal(List.of(new Turn("human", "no image"), new Turn("gpt", "x")), 2));
    }

    @Test
    void v0PromptFormat() {
        SupervisedPreprocessor v0 = SupervisedPreprocessor.forVersion("v0", false, tokenizer, SupervisedPreprocessor.Settings.multimodal(2048, false));
        TokenizedExample e = v0.process(record("r", null, "human", "Hi", "gpt", "Hello", "human", "Bye", "gpt", "Ciao"), 0);
        String system = ConversationTemplates.defaultConversation().system();
        assertEquals(system + "\n\n### Human: Hi\n### Assistant: Hello\n### Human: Bye\n### Assistant: Ciao\n### ", e.prompt());
        assertEquals(tokenizer.encode(e.prompt()).length, e.length());
        assertTrue(e.labelledCount() > 0);
    }

    @Test
    void recordFiles(@TempDir Path dir) throws IOException {
        Path json = dir.resolve("data.json");
        Files.writeString(json, "[{\"id\": \"1\", \"image\": \"a.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nHi\"},"
                + " {\"from\": \"gpt\", \"value\": \"Hello\"}]}, {\"id\": 2, \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]}]");
        List<ConversationRecord> records = ConversationRecord.readAll(json);
        assertEquals(2, records.size());
        assertEquals("a.jpg", records.get(0).image());
        assertEquals("2", records.get(1).id());
        assertFalse(records.get(1).hasImage());

        Path lines = dir.resolve("data.jsonl");
        Files.writeString(lines, "{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]}\n\n"
                + "{\"id\": \"b\", \"conversations\": []}\n");
        IOException e = assertThrows(IOException.class, () -> ConversationRecord.readAll(lines));
        assertTrue(e.getMessage().contains(lines + ":3") && e.getMessage().contains("id b"), e.getMessage());

        Files.writeString(json, "[{\"id\": \"1\", \"conversations\": [{\"from\": \"human\"}]}]");
        e = assertThrows(IOException.class, () -> ConversationRecord.readAll(json));
        assertTrue(e.getMessage().contains(json.toString()) && e.getMessage().contains("\"value\""), e.getMessage());
        Files.writeString(json, "[{\"id\": \"1\", ");
        e = assertThrows(IOException.class, () -> ConversationRecord.readAll(json));
        assertTrue(e.getMessage().contains(json.toString()), e.getMessage());
    }

    @Test
    void collatorPadsRightAndMasksPadTokens() {
        SupervisedCollator c = new SupervisedCollator(0);
        SupervisedCollator.Batch b = c.collate(List.of(
                new TokenizedExample("a", new int[] {1, 5, 6}, new int[] {-100, 5, 6}),
                new TokenizedExample("b", new int[] {1, 0, 7, 8, 9}, new int[] {-100, -100, 7, 8, 9})));
        assertArrayEquals(new long[] {1, 5, 6, 0, 0}, b.inputIds()[0]);
        assertArrayEquals(new long[] {-100, 5, 6, -100, -100}, b.labels()[0]);
        assertArrayEquals(new boolean[] {true, true, true, false, false}, b.attentionMask()[0]);
        assertArrayEquals(new boolean[] {true, false, true, true, true}, b.attentionMask()[1]);
        assertThrows(IllegalArgumentException.class, () -> c.collate(List.of()));
    }
}
