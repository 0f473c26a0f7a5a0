package llava.models.conversation;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The conversation templates of LLaVA 0.1.0 (haotian-liu/LLaVA b6e01a44, llava/conversation.py),
 * with their system texts, roles, few-shot messages and separators, and its {@code conv_templates}
 * registry. {@link #get} accepts the registry keys ("llava_v1", "multimodal", "vicuna_v1_1", ...)
 * and the module's variable names ("conv_v1_2", "simple_conv_multimodal", ...) and returns a fresh
 * copy each time.
 */
public final class ConversationTemplates {
    private ConversationTemplates() {}

    private static final String HUMAN_SYSTEM = "A chat between a curious human and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the human's questions.";
    private static final String USER_SYSTEM = "A chat between a curious user and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the user's questions.";
    private static final String LLAVA_SYSTEM = "You are LLaVA, a large language and vision assistant trained by UW Madison WAIV Lab."
            + "You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language."
            + "Follow the instructions carefully and explain your answers in detail.";
    private static final List<String> HUMAN_ASSISTANT = List.of("Human", "Assistant");
    private static final List<String> USER_ASSISTANT = List.of("USER", "ASSISTANT");
    private static final List<String> MPT_ROLES = List.of("<|im_start|>user\n", "<|im_start|>assistant\n");
    private static final String MPT_SEP = "<|im_end|>";

    private static Conversation.Message m(String role, String text) {
        return new Conversation.Message(role, text);
    }

    public static final String CONV_V1 = "conv_v1";
    public static final String CONV_V1_2 = "conv_v1_2";
    public static final String CONV_VICUNA_V1_1 = "conv_vicuna_v1_1";
    public static final String CONV_MPT = "conv_mpt";
    public static final String CONV_MPT_TEXT = "conv_mpt_text";
    public static final String CONV_BAIR_V1 = "conv_bair_v1";
    public static final String SIMPLE_CONV = "simple_conv";
    public static final String SIMPLE_CONV_MULTIMODAL = "simple_conv_multimodal";
    public static final String SIMPLE_CONV_MPT_MULTIMODAL = "simple_conv_mpt_multimodal";
    public static final String SIMPLE_CONV_LEGACY = "simple_conv_legacy";
    public static final String CONV_LLAVA_V1 = "conv_llava_v1";

    /** The templates by upstream variable name. */
    private static final Map<String, Conversation> BY_VARIABLE = new LinkedHashMap<>();
    /** Upstream's conv_templates: registry key -> variable name. */
    private static final Map<String, String> REGISTRY = new LinkedHashMap<>();

    static {
        BY_VARIABLE.put(CONV_V1, new Conversation(HUMAN_SYSTEM, HUMAN_ASSISTANT, List.of(
                m("Human", "Give three tips for staying healthy."),
                m("Assistant", "Sure, here are three tips for staying healthy:\n"
                        + "1. Exercise regularly: Regular physical activity can help improve your overall health and wellbeing. "
                        + "It can also help reduce your risk of chronic conditions such as obesity, diabetes, heart disease, "
                        + "and certain cancers. Aim for at least 150 minutes of moderate-intensity aerobic exercise or "
                        + "75 minutes of vigorous-intensity aerobic exercise per week, along with muscle-strengthening "
                        + "activities at least two days per week.\n"
                        + "2. Eat a balanced diet: Eating a balanced diet that is rich in fruits, "
                        + "vegetables, whole grains, lean proteins, and healthy fats can help support "
                        + "your overall health. Try to limit your intake of processed and high-sugar foods, "
                        + "and aim to drink plenty of water throughout the day.\n"
                        + "3. Get enough sleep: Getting enough quality sleep is essential for your physical "
                        + "and mental health. Adults should aim for seven to nine hours of sleep per night. "
                        + "Establish a regular sleep schedule and try to create a relaxing bedtime routine to "
                        + "help improve the quality of your sleep.")),
                2, SeparatorStyle.SINGLE, "###", null, "Unknown"));
        BY_VARIABLE.put(CONV_V1_2, new Conversation(HUMAN_SYSTEM, HUMAN_ASSISTANT, List.of(
                m("Human", "What are the key differences between renewable and non-renewable energy sources?"),
                m("Assistant", "Renewable energy sources are those that can be replenished naturally in a relatively "
                        + "short amount of time, such as solar, wind, hydro, geothermal, and biomass. "
                        + "Non-renewable energy sources, on the other hand, are finite and will eventually be "
                        + "depleted, such as coal, oil, and natural gas. Here are some key differences between "
                        + "renewable and non-renewable energy sources:\n"
                        + "1. Availability: Renewable energy sources are virtually inexhaustible, while non-renewable "
                        + "energy sources are finite and will eventually run out.\n"
                        + "2. Environmental impact: Renewable energy sources have a much lower environmental impact "
                        + "than non-renewable sources, which can lead to air and water pollution, greenhouse gas emissions, "
                        + "and other negative effects.\n"
                        + "3. Cost: Renewable energy sources can be more expensive to initially set up, but they typically "
                        + "have lower operational costs than non-renewable sources.\n"
                        + "4. Reliability: Renewable energy sources are often more reliable and can be used in more remote "
                        + "locations than non-renewable sources.\n"
                        + "5. Flexibility: Renewable energy sources are often more flexible and can be adapted to different "
                        + "situations and needs, while non-renewable sources are more rigid and inflexible.\n"
                        + "6. Sustainability: Renewable energy sources are more sustainable over the long term, while "
                        + "non-renewable sources are not, and their depletion can lead to economic and social instability.\n")),
                2, SeparatorStyle.SINGLE, "###", null, "Unknown"));
        BY_VARIABLE.put(CONV_VICUNA_V1_1, new Conversation(USER_SYSTEM, USER_ASSISTANT, List.of(),
                0, SeparatorStyle.TWO, " ", "</s>", "v1"));
        BY_VARIABLE.put(CONV_MPT, new Conversation("<|im_start|>system\n"
                + "- You are a helpful language and vision assistant.\n"
                + "- You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.\n"
                + "- You should follow the instructions carefully and explain your answers in detail.",
                MPT_ROLES, List.of(), 0, SeparatorStyle.MPT, MPT_SEP, null, "mpt"));
        BY_VARIABLE.put(CONV_MPT_TEXT, new Conversation("<|im_start|>system\n"
                + "- You are a helpful assistant chatbot trained by MosaicML.\n"
                + "- You answer questions.\n"
                + "- You are excited to be able to help the user, but will refuse to do anything that could be considered harmful to the user.\n"
                + "- You are more than just an information source, you are also able to write poetry, short stories, and make jokes.",
                MPT_ROLES, List.of(), 0, SeparatorStyle.MPT, MPT_SEP, null, "mpt"));
        BY_VARIABLE.put(CONV_BAIR_V1, new Conversation("BEGINNING OF CONVERSATION:", List.of("USER", "GPT"), List.of(),
                0, SeparatorStyle.TWO, " ", "</s>", "Unknown"));
        BY_VARIABLE.put(SIMPLE_CONV, new Conversation(HUMAN_SYSTEM, HUMAN_ASSISTANT, List.of(
                m("Human", "Hi!"), m("Assistant", "Hi there! How can I help you today?")),
                2, SeparatorStyle.SINGLE, "###", null, "Unknown"));
        BY_VARIABLE.put(SIMPLE_CONV_MULTIMODAL, new Conversation(LLAVA_SYSTEM, HUMAN_ASSISTANT, List.of(
                m("Human", "Hi!"), m("Assistant", "Hi there!  How can I help you today?\n")),
                2, SeparatorStyle.SINGLE, "###", null, "Unknown"));
        BY_VARIABLE.put(SIMPLE_CONV_MPT_MULTIMODAL, new Conversation("<|im_start|>system\n"
                + "- You are LLaVA, a large language and vision assistant trained by UW Madison WAIV Lab.\n"
                + "- You are able to understand the visual content that the user provides, and assist the user with a variety of tasks using natural language.\n"
                + "- You should follow the instructions carefully and explain your answers in detail.",
                MPT_ROLES, List.of(), 0, SeparatorStyle.MPT, MPT_SEP, null, "mpt"));
        BY_VARIABLE.put(SIMPLE_CONV_LEGACY, new Conversation("You are LLaVA, a large language model trained by UW Madison WAIV Lab."
                + "You are designed to assist human with a variety of tasks using natural language."
                + "Follow the instructions carefully.", HUMAN_ASSISTANT, List.of(
                m("Human", "Hi!\n\n### Response:"), m("Assistant", "Hi there!  How can I help you today?\n")),
                2, SeparatorStyle.SINGLE, "###", null, "Unknown"));
        BY_VARIABLE.put(CONV_LLAVA_V1, new Conversation(LLAVA_SYSTEM, USER_ASSISTANT, List.of(),
                0, SeparatorStyle.TWO, " ", "</s>", "v1"));

        REGISTRY.put("default", CONV_V1_2);
        REGISTRY.put("simple", SIMPLE_CONV);
        REGISTRY.put("simple_legacy", SIMPLE_CONV_LEGACY);
        REGISTRY.put("multimodal", SIMPLE_CONV_MULTIMODAL);
        REGISTRY.put("mpt_multimodal", SIMPLE_CONV_MPT_MULTIMODAL);
        REGISTRY.put("llava_v1", CONV_LLAVA_V1);
        REGISTRY.put("v1", CONV_V1_2);
        REGISTRY.put("bair_v1", CONV_BAIR_V1);
        REGISTRY.put("vicuna_v1_1", CONV_VICUNA_V1_1);
        REGISTRY.put("mpt", CONV_MPT);
        REGISTRY.put("mpt_text", CONV_MPT_TEXT);
    }

    /** A fresh copy of a template, by registry key (conv_templates) or upstream variable name. */
    public static Conversation get(String name) {
        String variable = REGISTRY.getOrDefault(name, name);
        Conversation c = BY_VARIABLE.get(variable);
        if (c == null) {
            throw new IllegalArgumentException("unknown conversation template '" + name + "'; known: " + REGISTRY.keySet()
                    + " and " + BY_VARIABLE.keySet());
        }
        return c.copy();
    }

    /** upstream's default_conversation (conv_v1_2), the template of the "v0" training path. */
    public static Conversation defaultConversation() {
        return get(CONV_V1_2);
    }

    /** The keys of upstream's conv_templates, in its order. */
    public static Set<String> registryKeys() {
        return Collections.unmodifiableSet(REGISTRY.keySet());
    }

    /** The upstream variable names of all templates. */
    public static Set<String> variableNames() {
        return Collections.unmodifiableSet(BY_VARIABLE.keySet());
    }
}
