package llava.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;

/**
 * The LLaMA tokenizer exactly as LLaVA 0.1 used it: transformers' slow {@code LlamaTokenizer}
 * (commit cae78c46) over a SentencePiece BPE model.
 *
 * <p>Encoding: the text is split on the no-split tokens (the special tokens {@code <s>},
 * {@code </s>}, {@code <unk>} and every added token such as {@code <im_patch>}); whitespace on
 * both sides of such a token is removed; every other chunk is encoded separately by SentencePiece
 * (so each gets its own dummy-prefix {@code ▁}); BOS is prepended when asked. No EOS is appended.
 *
 * <p>Decoding: {@link #decode(int[], boolean)} reproduces that transformers version's
 * {@code decode} with its spacing quirks (a leading space, added tokens joined by spaces, clean-up
 * of spaces before punctuation); {@link #decodeSentencePiece(int[])} is SentencePiece's own
 * decode; {@link #streamingDecoder()} is the incremental form of the latter.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class Tokenizer {
    public static final String DEFAULT_BOS = "<s>";
    public static final String DEFAULT_EOS = "</s>";
    public static final String DEFAULT_UNK = "<unk>";
    /** model_max_length of a tokenizer whose config sets none (transformers' VERY_LARGE_INTEGER, capped). */
    public static final int UNLIMITED_LENGTH = Integer.MAX_VALUE;

    private static final String MODEL_FILE = "tokenizer.model";
    private static final String JSON_FILE = "tokenizer.json";
    private static final String ADDED_TOKENS_FILE = "added_tokens.json";
    private static final String SPECIAL_TOKENS_FILE = "special_tokens_map.json";
    private static final String CONFIG_FILE = "tokenizer_config.json";

    /** Where the vocabulary came from, kept so {@link #savePretrained} can write it back. */
    private record Base(String fileName, byte[] bytes, String description) {}

    /** A vocabulary file as read: the model, its Base, and the added (and special added) tokens it defines. */
    private record Vocabulary(BpeModel model, Base base, List<String> added, List<String> specialAdded) {
        static Vocabulary sentencePiece(Path file) throws IOException {
            SentencePieceModel spm = SentencePieceModel.load(file);
            return new Vocabulary(BpeModel.scored(spm), new Base(MODEL_FILE, spm.serialized, file.toString()), List.of(), List.of());
        }

        static Vocabulary tokenizerJson(Path file) throws IOException {
            TokenizerJson tj = TokenizerJson.load(file);
            return new Vocabulary(tj.model, new Base(JSON_FILE, tj.bytes, file.toString()), tj.addedTokens, tj.specialAddedTokens);
        }

        /** The tokenizer of this file alone: LLaMA's default special tokens, no pad token. */
        Tokenizer withDefaults() {
            return new Tokenizer(model, base, added, DEFAULT_BOS, DEFAULT_EOS, DEFAULT_UNK, null, specialAdded, true, UNLIMITED_LENGTH);
        }
    }

    private final BpeModel model;
    private final Base base;
    private final List<String> added;
    private final Map<String, Integer> addedIds;
    private final String bosToken, eosToken, unkToken, padToken;
    private final List<String> additionalSpecialTokens;
    private final boolean addBosToken;
    private final int modelMaxLength;

    private final Set<String> specialTokens;
    private final Set<Integer> specialIds;
    /** No-split tokens by first character, longest first. */
    private final Map<Character, String[]> noSplitByFirstChar;
    private final int bosId, eosId, unkId, padId;

    private Tokenizer(BpeModel model, Base base, List<String> added, String bosToken, String eosToken, String unkToken,
                      String padToken, List<String> additionalSpecialTokens, boolean addBosToken, int modelMaxLength) {
        this.model = model;
        this.base = base;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.unkToken = unkToken;
        this.padToken = padToken;
        this.additionalSpecialTokens = List.copyOf(additionalSpecialTokens);
        this.addBosToken = addBosToken;
        this.modelMaxLength = modelMaxLength;

        // Like transformers' sanitize_special_tokens: special tokens missing from the vocabulary become added tokens.
        List<String> all = new ArrayList<>(added);
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < all.size(); i++) ids.put(all.get(i), model.size() + i);
        LinkedHashSet<String> specials = new LinkedHashSet<>();
        for (String s : Arrays.asList(bosToken, eosToken, unkToken, padToken)) if (s != null) specials.add(s);
        specials.addAll(this.additionalSpecialTokens);
        for (String s : specials) {
            if (model.pieceId(s) < 0 && !ids.containsKey(s)) {
                ids.put(s, model.size() + all.size());
                all.add(s);
            }
        }
        this.added = Collections.unmodifiableList(all);
        this.addedIds = Collections.unmodifiableMap(ids);
        this.specialTokens = Collections.unmodifiableSet(specials);
        Set<Integer> sids = new HashSet<>();
        for (String s : specials) sids.add(idOf(s));
        this.specialIds = Collections.unmodifiableSet(sids);
        this.bosId = bosToken == null ? -1 : idOf(bosToken);
        this.eosId = eosToken == null ? -1 : idOf(eosToken);
        this.unkId = unkToken == null ? -1 : idOf(unkToken);
        this.padId = padToken == null ? -1 : idOf(padToken);

        Set<String> noSplit = new LinkedHashSet<>(specials);
        noSplit.addAll(all);
        Map<Character, List<String>> byFirst = new HashMap<>();
        for (String t : noSplit) if (!t.isEmpty()) byFirst.computeIfAbsent(t.charAt(0), c -> new ArrayList<>()).add(t);
        Map<Character, String[]> sorted = new HashMap<>();
        byFirst.forEach((c, list) -> {
            list.sort((a, b) -> b.length() - a.length());
            sorted.put(c, list.toArray(new String[0]));
        });
        this.noSplitByFirstChar = sorted;
    }

    // ------------------------------------------------------------------ loading

    /**
     * Loads a checkpoint's tokenizer folder like {@code AutoTokenizer.from_pretrained(dir, use_fast=False)}:
     * {@code tokenizer.model} (or, when absent, {@code tokenizer.json}), then {@code added_tokens.json},
     * {@code tokenizer_config.json} and {@code special_tokens_map.json} where present.
     */
    public static Tokenizer fromPretrained(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "tokenizer folder not found");
        Path modelFile = dir.resolve(MODEL_FILE), jsonFile = dir.resolve(JSON_FILE);
        Vocabulary vocab;
        if (Files.isRegularFile(modelFile)) {
            vocab = Vocabulary.sentencePiece(modelFile);
        } else if (Files.isRegularFile(jsonFile)) {
            vocab = Vocabulary.tokenizerJson(jsonFile);
        } else {
            throw new NoSuchFileException(dir.toString(), null, "no " + MODEL_FILE + " or " + JSON_FILE + " in the tokenizer folder");
        }
        List<String> added = new ArrayList<>(vocab.added());

        Path addedFile = dir.resolve(ADDED_TOKENS_FILE);
        if (Files.isRegularFile(addedFile)) mergeAddedTokens(addedFile, vocab.model(), added);

        String[] special = {DEFAULT_BOS, DEFAULT_EOS, DEFAULT_UNK, null};
        String[] keys = {"bos_token", "eos_token", "unk_token", "pad_token"};
        List<String> additional = new ArrayList<>(vocab.specialAdded());
        boolean addBos = true;
        int maxLength = UNLIMITED_LENGTH;
        Path configFile = dir.resolve(CONFIG_FILE);
        if (Files.isRegularFile(configFile)) {
            JsonNode cfg = JsonFiles.readObject(configFile);
            readSpecialTokens(cfg, configFile, keys, special, additional);
            if (cfg.has("add_bos_token")) {
                if (!cfg.get("add_bos_token").isBoolean()) throw new TokenizerFormatException(configFile + ": add_bos_token must be true or false");
                addBos = cfg.get("add_bos_token").booleanValue();
            }
            JsonNode len = cfg.path("model_max_length");
            if (len.isNumber()) {
                double v = len.asDouble();
                if (!(v >= 1)) throw new TokenizerFormatException(configFile + ": model_max_length must be positive, got " + len);
                maxLength = v >= Integer.MAX_VALUE ? UNLIMITED_LENGTH : (int) v;
            } else if (!len.isMissingNode() && !len.isNull()) {
                throw new TokenizerFormatException(configFile + ": model_max_length must be a number, got " + len);
            }
        }
        Path mapFile = dir.resolve(SPECIAL_TOKENS_FILE);
        if (Files.isRegularFile(mapFile)) {
            // transformers applies special_tokens_map.json after the config, so it wins.
            readSpecialTokens(JsonFiles.readObject(mapFile), mapFile, keys, special, additional);
        }
        return new Tokenizer(vocab.model(), vocab.base(), added, special[0], special[1], special[2], special[3],
                new ArrayList<>(new LinkedHashSet<>(additional)), addBos, maxLength);
    }

    /** A bare SentencePiece model with LLaMA's default special tokens and no pad token. */
    public static Tokenizer fromSentencePiece(Path modelFile) throws IOException {
        return Vocabulary.sentencePiece(modelFile).withDefaults();
    }

    /** A bare Hugging Face tokenizer.json with LLaMA's default special tokens and no pad token. */
    public static Tokenizer fromTokenizerJson(Path jsonFile) throws IOException {
        return Vocabulary.tokenizerJson(jsonFile).withDefaults();
    }

    private static void mergeAddedTokens(Path file, BpeModel model, List<String> added) throws IOException {
        JsonNode node = JsonFiles.readObject(file);
        TreeMap<Integer, String> byId = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt()) {
                throw new TokenizerFormatException(file + ": id of '" + e.getKey() + "' is not an integer: " + e.getValue());
            }
            if (byId.put(e.getValue().intValue(), e.getKey()) != null) {
                throw new TokenizerFormatException(file + ": two tokens have id " + e.getValue());
            }
        }
        for (Map.Entry<Integer, String> e : byId.entrySet()) {
            int id = e.getKey();
            String token = e.getValue();
            int existing = id - model.size();
            if (existing >= 0 && existing < added.size() && added.get(existing).equals(token)) continue;
            // transformers: "Non-consecutive added token ... found. Should have index N but has index M".
            if (id != model.size() + added.size()) {
                throw new TokenizerFormatException(file + ": added token '" + token + "' has id " + id + " but the next free id is "
                        + (model.size() + added.size()) + " (added token ids must be consecutive after the vocabulary)");
            }
            if (model.pieceId(token) >= 0 || added.contains(token)) {
                throw new TokenizerFormatException(file + ": added token '" + token + "' is already in the vocabulary");
            }
            added.add(token);
        }
    }

    private static void readSpecialTokens(JsonNode obj, Path file, String[] keys, String[] values, List<String> additional)
            throws TokenizerFormatException {
        for (int k = 0; k < keys.length; k++) {
            if (obj.has(keys[k])) values[k] = tokenText(obj.get(keys[k]), file, keys[k]);
        }
        JsonNode extra = obj.path("additional_special_tokens");
        if (extra.isArray()) {
            for (JsonNode t : extra) {
                String s = tokenText(t, file, "additional_special_tokens");
                if (s != null) additional.add(s);
            }
        } else if (!extra.isMissingNode() && !extra.isNull()) {
            throw new TokenizerFormatException(file + ": additional_special_tokens must be a list");
        }
    }

    /** A special token written as a string or as an AddedToken object {"content": ...}; null stays null. */
    private static String tokenText(JsonNode node, Path file, String key) throws TokenizerFormatException {
        if (node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.isObject() && node.path("content").isTextual()) return node.get("content").asText();
        throw new TokenizerFormatException(file + ": " + key + " must be a string or an object with \"content\", got " + node);
    }

    // ------------------------------------------------------------------ derived tokenizers and saving

    /**
     * This tokenizer with more added tokens, like {@code tokenizer.add_tokens(tokens, special_tokens=True)}:
     * tokens already in the vocabulary are skipped, the others get the next ids, in order.
     */
    public Tokenizer withAddedTokens(Collection<String> tokens) {
        List<String> more = new ArrayList<>(added);
        for (String t : tokens) {
            Objects.requireNonNull(t, "token");
            if (t.isEmpty()) throw new IllegalArgumentException("cannot add an empty token");
            if (model.pieceId(t) < 0 && !more.contains(t)) more.add(t);
        }
        return new Tokenizer(model, base, more, bosToken, eosToken, unkToken, padToken, additionalSpecialTokens,
                addBosToken, modelMaxLength);
    }

    /** This tokenizer with another pad token (added to the vocabulary if it is new), like setting {@code tokenizer.pad_token}. */
    public Tokenizer withPadToken(String token) {
        Objects.requireNonNull(token, "token");
        return new Tokenizer(model, base, added, bosToken, eosToken, unkToken, token, additionalSpecialTokens,
                addBosToken, modelMaxLength);
    }

    /** This tokenizer with another model_max_length. */
    public Tokenizer withModelMaxLength(int length) {
        if (length < 1) throw new IllegalArgumentException("model_max_length must be positive, got " + length);
        return new Tokenizer(model, base, added, bosToken, eosToken, unkToken, padToken, additionalSpecialTokens,
                addBosToken, length);
    }

    /**
     * Writes the tokenizer folder that {@link #fromPretrained} (and transformers) reads back: the
     * vocabulary file, added_tokens.json, special_tokens_map.json and tokenizer_config.json. Each
     * file is written under a temporary name and renamed into place.
     */
    public void savePretrained(Path dir) throws IOException {
        Files.createDirectories(dir);
        JsonFiles.writeAtomically(dir.resolve(base.fileName()), base.bytes());
        Map<String, Object> addedMap = new LinkedHashMap<>();
        for (int i = 0; i < added.size(); i++) addedMap.put(added.get(i), model.size() + i);
        if (!addedMap.isEmpty()) JsonFiles.writeJson(dir.resolve(ADDED_TOKENS_FILE), addedMap);
        Map<String, Object> specials = new LinkedHashMap<>();
        specials.put("bos_token", bosToken);
        specials.put("eos_token", eosToken);
        specials.put("unk_token", unkToken);
        specials.put("pad_token", padToken);
        if (!additionalSpecialTokens.isEmpty()) specials.put("additional_special_tokens", additionalSpecialTokens);
        JsonFiles.writeJson(dir.resolve(SPECIAL_TOKENS_FILE), specials);
        Map<String, Object> config = new LinkedHashMap<>(specials);
        config.put("add_bos_token", addBosToken);
        config.put("add_eos_token", false);
        config.put("model_max_length", modelMaxLength);
        config.put("padding_side", "right");
        config.put("tokenizer_class", "LlamaTokenizer");
        JsonFiles.writeJson(dir.resolve(CONFIG_FILE), config);
    }

    // ------------------------------------------------------------------ vocabulary

    /** Number of ids: the model's pieces plus the added tokens. */
    public int vocabSize() { return model.size() + added.size(); }

    /** Id of a piece or added token; throws if there is none. */
    public int tokenId(String token) {
        OptionalInt id = findTokenId(token);
        if (id.isEmpty()) throw new IllegalArgumentException("no token '" + token + "' in the vocabulary of " + vocabSize());
        return id.getAsInt();
    }

    public OptionalInt findTokenId(String token) {
        Integer a = addedIds.get(token);
        if (a != null) return OptionalInt.of(a);
        int id = model.pieceId(token);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The piece (or added token text) of an id, e.g. "▁Hello", "<0x0A>", "<im_patch>". */
    public String piece(int id) {
        checkId(id);
        return id < model.size() ? model.pieces[id] : added.get(id - model.size());
    }

    /** Pieces of ids ({@code convert_ids_to_tokens}). */
    public List<String> tokens(int[] ids) {
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) out.add(piece(id));
        return out;
    }

    /** Whether the id is one of the special tokens (bos, eos, unk, pad, additional special tokens). */
    public boolean isSpecial(int id) { return specialIds.contains(id); }

    /** The added tokens (ids from the end of the model's vocabulary on), in id order. */
    public List<String> addedTokens() { return added; }

    /** Id of {@code <s>}, or -1 if the tokenizer has no BOS token. */
    public int bosId() { return bosId; }

    /** Id of {@code </s>}, or -1. */
    public int eosId() { return eosId; }

    /** Id of {@code <unk>}, or -1. */
    public int unkId() { return unkId; }

    /** Id of the pad token, or -1 when none is set (the plain LLaMA tokenizer has none; LLaVA checkpoints use {@code <unk>}). */
    public int padId() { return padId; }

    public String bosToken() { return bosToken; }

    public String eosToken() { return eosToken; }

    public String unkToken() { return unkToken; }

    public String padToken() { return padToken; }

    /** The model_max_length of tokenizer_config.json, or {@link #UNLIMITED_LENGTH}. */
    public int modelMaxLength() { return modelMaxLength; }

    /** Whether {@link #encode(String)} prepends BOS (add_bos_token of the config, default true). */
    public boolean addsBos() { return addBosToken; }

    // ------------------------------------------------------------------ encoding

    /** {@code tokenizer(text).input_ids}: BOS as configured (add_bos_token), special-token splitting. */
    public int[] encode(String text) {
        return encode(text, addBosToken);
    }

    /** Encodes with the slow tokenizer's special-token splitting; prepends BOS when {@code addBos}. */
    public int[] encode(String text, boolean addBos) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos) {
            if (bosId < 0) throw new IllegalStateException("this tokenizer has no BOS token");
            out.add(bosId);
        }
        List<Object> parts = splitOnNoSplitTokens(text);
        for (int i = 0; i < parts.size(); i++) {
            if (parts.get(i) instanceof Integer) {
                // The slow tokenizer strips whitespace on both sides of a no-split token.
                if (i > 0 && parts.get(i - 1) instanceof String s) parts.set(i - 1, PythonStrings.rstrip(s));
                if (i + 1 < parts.size() && parts.get(i + 1) instanceof String s) parts.set(i + 1, PythonStrings.lstrip(s));
            }
        }
        for (Object p : parts) {
            if (p instanceof Integer id) out.add(id);
            else if (!((String) p).isEmpty()) model.encode((String) p, out);
        }
        return out.toArray();
    }

    /** Plain SentencePiece {@code encode(text)}: no BOS, no special-token splitting ("<s>" is three pieces). */
    public int[] encodeSentencePiece(String text) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 3 + 4);
        model.encode(text, out);
        return out.toArray();
    }

    /** Alternating text (String) and no-split token id (Integer) parts; tokens match leftmost, longest first. */
    private List<Object> splitOnNoSplitTokens(String text) {
        List<Object> parts = new ArrayList<>();
        int segment = 0;
        for (int i = 0; i < text.length(); ) {
            String[] candidates = noSplitByFirstChar.get(text.charAt(i));
            String match = null;
            if (candidates != null) {
                for (String c : candidates) {
                    if (text.startsWith(c, i)) {
                        match = c;
                        break;
                    }
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            if (i > segment) parts.add(text.substring(segment, i));
            parts.add(idOf(match));
            i += match.length();
            segment = i;
        }
        if (segment < text.length()) parts.add(text.substring(segment));
        return parts;
    }

    // ------------------------------------------------------------------ decoding

    /** SentencePiece's canonical {@code decode(ids)}; added tokens appear as their text. */
    public String decodeSentencePiece(int[] ids) {
        StreamingDecoder d = streamingDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.next(id));
        return sb.append(d.finish()).toString();
    }

    /** An incremental decoder whose output concatenates to {@link #decodeSentencePiece(int[])}. */
    public StreamingDecoder streamingDecoder() {
        return new StreamingDecoder(this, model);
    }

    /**
     * {@code tokenizer.decode(ids, skip_special_tokens=...)} of transformers cae78c46, quirks included:
     * every run of ordinary pieces decodes with a leading space, a special token inside such a run
     * gets a space before it unless it follows another special token, added tokens are joined to
     * their neighbours with single spaces, and spaces before . ? ! , and in "n't", "'s" etc. are removed.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> subTexts = new ArrayList<>();
        IntList run = new IntList(ids.length);
        for (int id : ids) {
            checkId(id);
            if (skipSpecialTokens && specialIds.contains(id)) continue;
            if (id >= model.size()) {
                if (run.size() > 0) subTexts.add(piecesToString(run));
                run = new IntList(ids.length);
                subTexts.add(added.get(id - model.size()));
            } else {
                run.add(id);
            }
        }
        if (run.size() > 0) subTexts.add(piecesToString(run));
        return cleanUpTokenization(String.join(" ", subTexts));
    }

    /** {@code batch_decode([ids], skip_special_tokens=True)[0].strip()}: what run_llava.py does with generated ids. */
    public String decodeStripped(int[] ids) {
        return PythonStrings.strip(decode(ids, true));
    }

    /** LlamaTokenizer.convert_tokens_to_string of that version (its prefix space applies to every run). */
    private String piecesToString(IntList ids) {
        StringBuilder out = new StringBuilder(" ");
        IntList current = new IntList(ids.size());
        boolean prevIsSpecial = false;
        for (int i = 0; i < ids.size(); i++) {
            int id = ids.get(i);
            String piece = model.pieces[id];
            if (specialTokens.contains(piece)) {
                if (!prevIsSpecial) out.append(' ');
                out.append(decodeSentencePiece(current.toArray())).append(piece);
                prevIsSpecial = true;
                current = new IntList(ids.size());
            } else {
                current.add(id);
                prevIsSpecial = false;
            }
        }
        return out.append(decodeSentencePiece(current.toArray())).toString();
    }

    /** PreTrainedTokenizerBase.clean_up_tokenization. */
    private static String cleanUpTokenization(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    // ------------------------------------------------------------------ internals

    void checkId(int id) {
        if (id < 0 || id >= vocabSize()) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (vocabSize() - 1) + ")");
        }
    }

    String addedTokenContent(int id) {
        return added.get(id - model.size());
    }

    private int idOf(String token) {
        return findTokenId(token).orElseThrow(() -> new IllegalStateException("token '" + token + "' has no id"));
    }

    @Override
    public String toString() {
        return "Tokenizer(" + base.description() + ", " + vocabSize() + " tokens)";
    }
}
