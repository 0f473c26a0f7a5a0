package llava.models.conversation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.List;
import llava.models.Fixtures;
import llava.models.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

/** Templates, prompts and the inference prompts of refs/generation.json (run_llava.py of LLaVA 0.1.0). */
class ConversationTest {
    @Test
    void inferencePromptsMatchRunLlava() throws IOException {
        Tokenizer tokenizer = Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1"));
        JsonNode gen = new ObjectMapper().readTree(Fixtures.path("refs/generation.json").toFile());
        for (String name : List.of("gen0", "gen1")) {
            JsonNode g = gen.get(name);
            Conversation conv = ConversationTemplates.get(g.get("conv_mode").asText());
            String query = ImageTokens.appendToQuery(g.get("query").asText(), ImageTokens.patchCount(56, 56, 14), true);
            conv.appendMessage(conv.roles().get(0), query).appendMessage(conv.roles().get(1), null);
            assertEquals(g.get("prompt").asText(), conv.prompt(), name);
            assertArrayEquals(PreprocessFixtureTest.ints(g.get("input_ids")), tokenizer.encode(conv.prompt()), name);
        }
        assertEquals("</s>", ConversationTemplates.get("llava_v1").stopString());
        assertEquals("###", ConversationTemplates.get("multimodal").stopString());
    }

    @Test
    void registryHasEveryUpstreamKey() {
        assertEquals(List.of("default", "simple", "simple_legacy", "multimodal", "mpt_multimodal", "llava_v1", "v1",
                "bair_v1", "vicuna_v1_1", "mpt", "mpt_text"), List.copyOf(ConversationTemplates.registryKeys()));
        for (String key : ConversationTemplates.registryKeys()) assertTrue(ConversationTemplates.get(key).prompt().length() > 0);
        assertEquals(ConversationTemplates.get("v1").prompt(), ConversationTemplates.get("conv_v1_2").prompt());
        assertEquals(ConversationTemplates.get("default").prompt(), ConversationTemplates.defaultConversation().prompt());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConversationTemplates.get("llava_v2"));
        assertTrue(e.getMessage().contains("llava_v2") && e.getMessage().contains("vicuna_v1_1"), e.getMessage());
    }

    @Test
    void templatesAreFreshCopies() {
        Conversation a = ConversationTemplates.get("vicuna_v1_1");
        a.appendMessage("USER", "hello");
        assertEquals(0, ConversationTemplates.get("vicuna_v1_1").messages().size());
        Conversation b = a.copy();
        b.appendMessage("ASSISTANT", "hi");
        assertEquals(1, a.messages().size());
        assertEquals(2, b.messages().size());
    }

    @Test
    void promptFormatsFollowTheSeparatorStyle() {
        // TWO: system + sep, then "ROLE: text" followed by sep / sep2 alternately; an open turn ends with "ROLE:".
        Conversation v = ConversationTemplates.get("vicuna_v1_1");
        v.appendMessage("USER", "q1").appendMessage("ASSISTANT", "a1").appendMessage("USER", "q2").appendMessage("ASSISTANT", null);
        assertEquals(v.system() + " USER: q1 ASSISTANT: a1</s>USER: q2 ASSISTANT:", v.prompt());

        // SINGLE: every turn ends with sep, few-shot messages of the template come first.
        Conversation s = ConversationTemplates.get("simple");
        s.appendMessage("Human", "q").appendMessage("Assistant", "");
        assertEquals(s.system() + "###Human: Hi!###Assistant: Hi there! How can I help you today?###Human: q###Assistant:", s.prompt());
        assertEquals(2, s.offset());

        // MPT: roles carry the markup, no colon.
        Conversation m = ConversationTemplates.get("mpt");
        m.appendMessage(m.roles().get(0), "hi").appendMessage(m.roles().get(1), null);
        assertEquals(m.system() + "<|im_end|><|im_start|>user\nhi<|im_end|><|im_start|>assistant\n", m.prompt());
        assertEquals("<|im_end|>", m.stopString());
    }

    @Test
    void templateDetails() {
        Conversation v = ConversationTemplates.get("vicuna_v1_1");
        assertEquals("A chat between a curious user and an artificial intelligence assistant. "
                + "The assistant gives helpful, detailed, and polite answers to the user's questions.", v.system());
        assertEquals(List.of("USER", "ASSISTANT"), v.roles());
        assertEquals("v1", v.version());
        assertEquals(SeparatorStyle.TWO, v.sepStyle());
        Conversation d = ConversationTemplates.defaultConversation();
        assertEquals(List.of("Human", "Assistant"), d.roles());
        assertEquals("Unknown", d.version());
        assertEquals(2, d.messages().size());
        assertEquals(List.of("USER", "GPT"), ConversationTemplates.get("bair_v1").roles());
        assertEquals("mpt", ConversationTemplates.get("mpt_multimodal").version());
        assertEquals(11, ConversationTemplates.variableNames().size());
    }

    @Test
    void imagePlaceholders() {
        assertEquals("<im_start><im_patch><im_patch><im_end>", ImageTokens.replacement(2, true));
        assertEquals("<im_patch><im_patch><im_patch>", ImageTokens.replacement(3, false));
        assertEquals("a <im_patch> b <im_patch>", ImageTokens.expand("a <image> b <image>", 1, false));
        assertEquals(256, ImageTokens.patchCount(224, 224, 14));
        assertEquals(12, ImageTokens.patchCount(56, 42, 14));
        assertThrows(IllegalArgumentException.class, () -> ImageTokens.patchCount(0, 56, 14));
    }
}
