package llava.models.conversation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import llava.models.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The training inputs of refs/cases.json (built by LLaVA 0.1.0's LazySupervisedDataset and
 * DataCollatorForSupervisedDataset) must be reproduced exactly: prompt text, ids and labels.
 */
class PreprocessFixtureTest {
    /** (56 / 14)^2 patches of the tiny vision tower. */
    static final int PATCHES = ImageTokens.patchCount(56, 56, 14);
    static JsonNode cases;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws IOException {
        cases = new ObjectMapper().readTree(Fixtures.path("refs/cases.json").toFile());
        tokenizer = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
    }

    static SupervisedPreprocessor preprocessorFor(JsonNode c) {
        boolean v0 = c.get("conversation_template").asText().startsWith("conv_v1_2");
        var settings = SupervisedPreprocessor.Settings.multimodal(tokenizer.modelMaxLength(), c.get("mm_use_im_start_end").asBoolean());
        return SupervisedPreprocessor.forVersion(v0 ? "v0" : "v1", false, tokenizer, settings);
    }

    static List<TokenizedExample> examples(String name) {
        JsonNode c = cases.get(name);
        SupervisedPreprocessor p = preprocessorFor(c);
        List<TokenizedExample> out = new ArrayList<>();
        for (JsonNode entry : c.get("entries")) out.add(p.process(ConversationRecord.fromJson(entry, name), PATCHES));
        return out;
    }

    @Test
    void everyCaseMatchesUpstream() {
        int checked = 0;
        for (String name : List.of("v1", "v0", "batch", "text_only")) {
            JsonNode c = cases.get(name);
            List<TokenizedExample> ex = examples(name);
            assertEquals(c.get("input_ids").size(), ex.size());
            for (int b = 0; b < ex.size(); b++) {
                String where = name + "[" + b + "]";
                assertEquals(c.get("prompt_text").get(b).asText(), ex.get(b).prompt(), where);
                assertArrayEquals(ints(c.get("input_ids").get(b)), ex.get(b).inputIds(), where);
                assertArrayEquals(ints(c.get("labels").get(b)), ex.get(b).labels(), where);
                List<String> tokens = new ArrayList<>();
                c.get("tokens").get(b).forEach(t -> tokens.add(t.asText()));
                assertEquals(tokens, tokenizer.tokens(ex.get(b).inputIds()), where);
                checked++;
            }
        }
        assertEquals(5, checked);
    }

    @Test
    void v1LabelsAreExactlyTheAnswerAndEos() {
        // Independent of the fixture: in a one-round v1 example only the answer tokens and </s> are labelled.
        for (String name : List.of("v1", "batch", "text_only")) {
            JsonNode entries = cases.get(name).get("entries");
            List<TokenizedExample> ex = examples(name);
            for (int b = 0; b < ex.size(); b++) {
                String answer = entries.get(b).get("conversations").get(1).get("value").asText();
                int[] expected = concat(tokenizer.encode(answer, false), new int[] {tokenizer.eosId()});
                assertArrayEquals(expected, labelled(ex.get(b)), name + "[" + b + "]");
            }
        }
    }

    @Test
    void batchCollatesLikeUpstream() throws IOException {
        SupervisedPreprocessor p = preprocessorFor(cases.get("batch"));
        SupervisedCollator.Batch batch = new SupervisedCollator(p.padId()).collate(examples("batch"));
        assertEquals(0, p.padId(), "pad = <unk>");
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path("refs/forward_batch.safetensors"));
             Tensor ids = f.load("input_ids"); Tensor labels = f.load("labels"); Tensor mask = f.load("attention_mask");
             Tensor ourIds = batch.inputIdsTensor(); Tensor ourLabels = batch.labelsTensor(); Tensor ourMask = batch.attentionMaskTensor()) {
            assertArrayEquals(ids.shape(), ourIds.shape());
            assertArrayEquals(ids.toLongArray(), ourIds.toLongArray());
            assertArrayEquals(labels.toLongArray(), ourLabels.toLongArray());
            assertArrayEquals(mask.toLongArray(), ourMask.toLongArray());
        }
        assertEquals(2, batch.batchSize());
        assertEquals(79, batch.length());
    }

    static int[] labelled(TokenizedExample e) {
        return java.util.Arrays.stream(e.labels()).filter(l -> l != SupervisedPreprocessor.IGNORE_INDEX).toArray();
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) a[i] = array.get(i).intValue();
        return a;
    }
}
