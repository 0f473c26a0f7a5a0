package llava.models.conversation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import llava.models.conversation.ConversationRecord.Turn;
import llava.models.tokenizer.PythonStrings;
import llava.models.tokenizer.Tokenizer;

/**
 * Turns LLaVA training records into token ids and labels exactly as LLaVA 0.1.0's train.py does
 * ({@code preprocess_multimodal}, then {@code preprocess}), quirks included. The template decides
 * the path, as upstream's {@code default_conversation} does:
 * <ul>
 *   <li>version "v1" (conv_vicuna_v1_1): {@code preprocess_v1} — the prompt of the template, split
 *       on sep2 into rounds; in each round the part up to "ASSISTANT: " is masked, using lengths of
 *       the separately tokenized round and instruction (minus 2 for BOS and the trailing space);
 *       if the lengths do not add up to the non-pad tokens, the whole example is masked;</li>
 *   <li>version "mpt": {@code preprocess_mpt} (ported, but not checked against upstream outputs);</li>
 *   <li>anything else ("v0", conv_v1_2): {@code preprocess} — {@code "### Role: text\n"} per turn
 *       after a {@code system + "\n\n"} header; the header and every human turn are masked using
 *       separately tokenized lengths, which shifts the masked spans by a token or two. This is
 *       upstream behaviour and is kept.</li>
 * </ul>
 * Every tokenization is truncated to model_max_length. Pad is the tokenizer's pad token, or
 * {@code <unk>} where it has none (train.py's v1 branch sets {@code pad_token = unk_token}).
 */
public final class SupervisedPreprocessor {
    /** Label of positions the loss ignores (PyTorch's CrossEntropyLoss ignore_index). */
    public static final int IGNORE_INDEX = -100;

    /**
     * Data options of train.py. {@code multimodal} is data_args.is_multimodal; {@code useImStartEnd}
     * wraps image patches in {@code <im_start>}/{@code <im_end>}; {@code sepImageConvFront} moves
     * the image to the front of the first turn (LLaVA's sep_image_conv_front, off by default).
     */
    public record Settings(int modelMaxLength, boolean multimodal, boolean useImStartEnd, boolean sepImageConvFront) {
        public Settings {
            if (modelMaxLength < 1) throw new IllegalArgumentException("model_max_length must be positive, got " + modelMaxLength);
        }

        /** The multimodal fine-tuning set-up: images on, start/end tokens as given, image kept in place. */
        public static Settings multimodal(int modelMaxLength, boolean useImStartEnd) {
            return new Settings(modelMaxLength, true, useImStartEnd, false);
        }
    }

    private static final System.Logger LOG = System.getLogger(SupervisedPreprocessor.class.getName());

    private final Tokenizer tokenizer;
    private final Conversation template;
    private final Settings settings;
    private final int padId;

    public SupervisedPreprocessor(Tokenizer tokenizer, Conversation template, Settings settings) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.template = template.copy();
        this.settings = Objects.requireNonNull(settings, "settings");
        this.padId = tokenizer.padId() >= 0 ? tokenizer.padId() : tokenizer.unkId();
        if (padId < 0) throw new IllegalArgumentException("the tokenizer has neither a pad nor an unk token");
        if ("v1".equals(template.version()) && template.sepStyle() != SeparatorStyle.TWO) {
            throw new IllegalArgumentException("the v1 preprocessing needs a template of style TWO");
        }
        if ("mpt".equals(template.version()) && template.sepStyle() != SeparatorStyle.MPT) {
            throw new IllegalArgumentException("the mpt preprocessing needs a template of style MPT");
        }
    }

    /**
     * The preprocessing that train.py picks for {@code --version}: "v0" uses conv_v1_2 and the
     * "###" path; any other version uses conv_vicuna_v1_1 (or conv_mpt when {@code mptModel}).
     */
    public static SupervisedPreprocessor forVersion(String version, boolean mptModel, Tokenizer tokenizer, Settings settings) {
        String name = "v0".equals(version) ? ConversationTemplates.CONV_V1_2
                : mptModel ? ConversationTemplates.CONV_MPT : ConversationTemplates.CONV_VICUNA_V1_1;
        return new SupervisedPreprocessor(tokenizer, ConversationTemplates.get(name), settings);
    }

    /** The pad id the collator should use with these examples. */
    public int padId() { return padId; }

    public Settings settings() { return settings; }

    /**
     * One record, as LazySupervisedDataset.__getitem__: image tokens are expanded (with
     * {@code imagePatches} patches) only when the record has an image and the data is multimodal.
     */
    public TokenizedExample process(ConversationRecord record, int imagePatches) {
        List<Turn> source = record.conversations();
        if (record.hasImage() && settings.multimodal()) source = preprocessMultimodal(source, imagePatches);
        try {
            return preprocess(source);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("record " + record.id() + ": " + e.getMessage(), e);
        }
    }

    /** preprocess_multimodal: {@code <image>} becomes the image tokens in every sentence. */
    public List<Turn> preprocessMultimodal(List<Turn> source, int imagePatches) {
        if (!settings.multimodal()) return source;
        List<Turn> out = new ArrayList<>(source);
        if (settings.sepImageConvFront()) {
            Turn first = out.get(0);
            if (!first.value().contains(ImageTokens.IMAGE)) {
                throw new IllegalArgumentException("sep_image_conv_front needs " + ImageTokens.IMAGE + " in the first sentence");
            }
            String rest = PythonStrings.strip(first.value().replace(ImageTokens.IMAGE, ""));
            out.set(0, new Turn(first.from(), ImageTokens.IMAGE + template.sep() + template.roles().get(0) + ": " + rest));
        }
        String replacement = ImageTokens.replacement(imagePatches, settings.useImStartEnd());
        out.replaceAll(t -> new Turn(t.from(), t.value().replace(ImageTokens.IMAGE, replacement)));
        return out;
    }

    /** preprocess: prompt, ids and labels of one conversation (sentences already multimodal-processed). */
    public TokenizedExample preprocess(List<Turn> source) {
        if (source.isEmpty()) throw new IllegalArgumentException("empty conversation");
        return switch (template.version()) {
            case "v1" -> preprocessV1(source);
            case "mpt" -> preprocessMpt(source);
            default -> preprocessV0(source);
        };
    }

    private TokenizedExample preprocessV0(List<Turn> source) {
        String header = template.system() + "\n\n";
        StringBuilder conversation = new StringBuilder(header);
        List<String> sentences = new ArrayList<>();
        for (Turn t : source) {
            String from = t.from().toLowerCase(Locale.ROOT);
            String role = from.equals("human") ? template.roles().get(0) : from.equals("gpt") ? template.roles().get(1) : "unknown";
            String sentence = "### " + role + ": " + t.value() + "\n";
            sentences.add(sentence);
            conversation.append(sentence);
        }
        conversation.append("### ");
        String prompt = conversation.toString();
        int[] ids = tokenize(prompt);
        int[] labels = ids.clone();
        // _mask_targets over the lengths of the separately tokenized header and sentences
        int cur = nonPadLength(tokenize(header));
        mask(labels, 0, cur);
        for (int i = 0; i < source.size(); i++) {
            int len = nonPadLength(tokenize(sentences.get(i)));
            if (source.get(i).from().equals("human")) mask(labels, cur + 2, cur + len);
            cur += len;
        }
        return new TokenizedExample(prompt, ids, labels);
    }

    /** preprocess_v1: rounds split on sep2; BOS, then in each round the text up to "ASSISTANT: " masked. */
    private TokenizedExample preprocessV1(List<Turn> source) {
        Conversation conv = fillTemplate(source);
        String prompt = conv.prompt();
        // round lengths count their BOS; the instruction's minus 2 drops its BOS and the trailing space
        return maskRounds(prompt, PythonStrings.split(prompt, conv.sep2()), conv.sep() + conv.roles().get(1) + ": ", 1, 0, -2);
    }

    /** preprocess_mpt: system + first exchange, then every later exchange, is a round; sep ends each. */
    private TokenizedExample preprocessMpt(List<Turn> source) {
        Conversation conv = fillTemplate(source);
        String prompt = conv.prompt();
        List<String> rounds = PythonStrings.split(prompt, conv.sep());
        List<String> reRounds = new ArrayList<>();
        reRounds.add(String.join(conv.sep(), rounds.subList(0, Math.min(3, rounds.size())))); // system + user + gpt
        for (int i = 3; i < rounds.size(); i += 2) {
            reRounds.add(String.join(conv.sep(), rounds.subList(i, Math.min(i + 2, rounds.size())))); // user + gpt
        }
        int sepLen = tokenizer.encode(conv.sep()).length;
        return maskRounds(prompt, reRounds, conv.sep() + conv.roles().get(1), 0, sepLen, 0);
    }

    /**
     * The masking loop that preprocess_v1 and preprocess_mpt share: the first {@code start}
     * tokens are masked, then each round's instruction (its text up to and including
     * {@code sep}), counting tokens of the separately tokenized round and instruction plus the
     * given corrections; the loop stops at an empty round or one without exactly one sep.
     */
    private TokenizedExample maskRounds(String prompt, List<String> rounds, String sep, int start, int roundExtra,
                                        int instructionExtra) {
        int[] ids = tokenize(prompt);
        int[] labels = ids.clone();
        int total = nonPadLength(ids);
        int cur = start;
        mask(labels, 0, cur);
        for (String round : rounds) {
            if (round.isEmpty()) break;
            List<String> parts = PythonStrings.split(round, sep);
            if (parts.size() != 2) break;
            int roundLen = tokenizer.encode(round).length + roundExtra;
            int instructionLen = tokenizer.encode(parts.get(0) + sep).length + instructionExtra;
            mask(labels, cur, cur + instructionLen);
            cur += roundLen;
        }
        mask(labels, cur, labels.length);
        checkLengths(labels, cur, total);
        return new TokenizedExample(prompt, ids, labels);
    }

    /** The template with the record's turns; a leading non-human turn is dropped, roles must alternate. */
    private Conversation fillTemplate(List<Turn> source) {
        Conversation conv = template.copy().clearMessages();
        Map<String, String> roles = Map.of("human", conv.roles().get(0), "gpt", conv.roles().get(1));
        List<Turn> turns = source;
        if (!conv.roles().get(0).equals(roleOf(roles, turns.get(0), 0))) turns = turns.subList(1, turns.size());
        for (int j = 0; j < turns.size(); j++) {
            String role = roleOf(roles, turns.get(j), j);
            if (!role.equals(conv.roles().get(j % 2))) {
                throw new IllegalArgumentException("turn " + j + " is from '" + turns.get(j).from() + "' but should be from "
                        + (j % 2 == 0 ? "human" : "gpt") + " (turns must alternate)");
            }
            conv.appendMessage(role, turns.get(j).value());
        }
        return conv;
    }

    private static String roleOf(Map<String, String> roles, Turn t, int index) {
        String role = roles.get(t.from());
        if (role == null) throw new IllegalArgumentException("turn " + index + " has from '" + t.from() + "'; expected human or gpt");
        return role;
    }

    /** Upstream masks everything when its length bookkeeping disagrees with the tokenization. */
    private void checkLengths(int[] labels, int cur, int total) {
        if (cur < settings.modelMaxLength() && cur != total) {
            Arrays.fill(labels, IGNORE_INDEX);
            LOG.log(System.Logger.Level.WARNING, "tokenization mismatch: " + cur + " vs. " + total + " (ignored)");
        }
    }

    /** {@code tokenizer(text, max_length=model_max_length, truncation=True).input_ids}. */
    private int[] tokenize(String text) {
        int[] ids = tokenizer.encode(text);
        return ids.length > settings.modelMaxLength() ? Arrays.copyOf(ids, settings.modelMaxLength()) : ids;
    }

    private int nonPadLength(int[] ids) {
        int n = 0;
        for (int id : ids) if (id != padId) n++;
        return n;
    }

    /** {@code labels[from:to] = IGNORE_INDEX} with Python's slice rules (negative bounds count from the end). */
    private static void mask(int[] labels, int from, int to) {
        int n = labels.length;
        int a = from < 0 ? Math.max(0, from + n) : Math.min(from, n);
        int b = to < 0 ? Math.max(0, to + n) : Math.min(to, n);
        if (b > a) Arrays.fill(labels, a, b, IGNORE_INDEX);
    }
}
