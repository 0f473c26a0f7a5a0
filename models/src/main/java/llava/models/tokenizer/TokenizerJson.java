package llava.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A Hugging Face {@code tokenizer.json} holding a BPE model with byte fallback (the Llama layout):
 * vocabulary, merge rules, the "prepend ▁ / replace space by ▁" normalizer, and added tokens.
 * Anything else (another model type, a pre-tokenizer, other normalizers) is rejected.
 */
final class TokenizerJson {
    /** An entry of "added_tokens". */
    private record AddedTokenEntry(int id, String content, boolean special) {}

    final BpeModel model;
    /** Added tokens whose ids lie past the BPE vocabulary, in id order. */
    final List<String> addedTokens;
    /** Those of them marked special, in file order. */
    final List<String> specialAddedTokens;
    /** The file's bytes, as read (what the model was parsed from). */
    final byte[] bytes;

    private TokenizerJson(BpeModel model, List<String> addedTokens, List<String> specialAddedTokens, byte[] bytes) {
        this.model = model;
        this.addedTokens = addedTokens;
        this.specialAddedTokens = specialAddedTokens;
        this.bytes = bytes;
    }

    static TokenizerJson load(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        JsonNode root = JsonFiles.parseObject(bytes, file);
        String src = file.toString();
        JsonNode m = root.path("model");
        if (!m.isObject()) throw new TokenizerFormatException(src + ": no \"model\" object");
        String type = m.path("type").asText("");
        if (!type.equals("BPE")) throw new TokenizerFormatException(src + ": model type '" + type + "' is not supported (only BPE)");
        if (!root.path("pre_tokenizer").isNull() && !root.path("pre_tokenizer").isMissingNode()) {
            throw new TokenizerFormatException(src + ": pre_tokenizer " + root.path("pre_tokenizer").path("type").asText("?")
                    + " is not supported (the Llama layout has none)");
        }
        if (m.path("ignore_merges").asBoolean(false)) throw new TokenizerFormatException(src + ": ignore_merges is not supported");
        if (!m.path("continuing_subword_prefix").asText("").isEmpty() || !m.path("end_of_word_suffix").asText("").isEmpty()) {
            throw new TokenizerFormatException(src + ": subword prefixes/suffixes are not supported");
        }
        if (m.path("dropout").isNumber() && m.path("dropout").asDouble() != 0) {
            throw new TokenizerFormatException(src + ": BPE dropout is not supported");
        }

        JsonNode vocab = m.path("vocab");
        if (!vocab.isObject() || vocab.isEmpty()) throw new TokenizerFormatException(src + ": model.vocab is missing or empty");
        int n = vocab.size();
        String[] pieces = new String[n];
        Iterator<Map.Entry<String, JsonNode>> it = vocab.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode idNode = e.getValue();
            if (!idNode.canConvertToInt() || !idNode.isIntegralNumber()) {
                throw new TokenizerFormatException(src + ": vocab entry '" + e.getKey() + "' has a non-integer id");
            }
            int id = idNode.intValue();
            if (id < 0 || id >= n) throw new TokenizerFormatException(src + ": vocab id " + id + " of '" + e.getKey() + "' is outside 0.." + (n - 1));
            if (pieces[id] != null) throw new TokenizerFormatException(src + ": vocab id " + id + " is used twice");
            pieces[id] = e.getKey();
        }

        boolean byteFallback = m.path("byte_fallback").asBoolean(false);
        String unk = m.path("unk_token").isTextual() ? m.path("unk_token").asText() : null;
        PieceType[] types = new PieceType[n];
        for (int i = 0; i < n; i++) {
            types[i] = pieces[i].equals(unk) ? PieceType.UNKNOWN
                    : byteFallback && BpeModel.parseBytePiece(pieces[i]) >= 0 ? PieceType.BYTE : PieceType.NORMAL;
        }

        List<String> added = new ArrayList<>(), specialAdded = new ArrayList<>();
        TreeMap<Integer, AddedTokenEntry> beyond = new TreeMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            if (!t.path("id").isIntegralNumber() || !t.path("content").isTextual()) {
                throw new TokenizerFormatException(src + ": an added_tokens entry lacks an integer id or a content string: " + t);
            }
            AddedTokenEntry e = new AddedTokenEntry(t.path("id").intValue(), t.path("content").asText(), t.path("special").asBoolean(false));
            if (e.id() < 0) throw new TokenizerFormatException(src + ": added token '" + e.content() + "' has negative id " + e.id());
            if (e.id() < n) {
                if (!pieces[e.id()].equals(e.content())) {
                    throw new TokenizerFormatException(src + ": added token '" + e.content() + "' has id " + e.id()
                            + ", which the vocabulary gives to '" + pieces[e.id()] + "'");
                }
                if (e.special() && types[e.id()] == PieceType.NORMAL) types[e.id()] = PieceType.CONTROL;
            } else if (beyond.put(e.id(), e) != null) {
                throw new TokenizerFormatException(src + ": two added tokens have id " + e.id());
            } else if (e.special()) {
                specialAdded.add(e.content());
            }
        }
        int expected = n;
        for (AddedTokenEntry e : beyond.values()) {
            if (e.id() != expected) throw new TokenizerFormatException(src + ": added token ids must follow the vocabulary without gaps; expected id "
                    + expected + " but found '" + e.content() + "' at " + e.id());
            added.add(e.content());
            expected++;
        }

        List<String[]> rules = new ArrayList<>();
        for (JsonNode r : m.path("merges")) {
            String a, b;
            if (r.isTextual()) {
                String s = r.asText();
                int sp = s.indexOf(' ');
                if (sp <= 0 || sp == s.length() - 1 || s.indexOf(' ', sp + 1) >= 0) {
                    throw new TokenizerFormatException(src + ": merge " + rules.size() + " ('" + s + "') is not two pieces separated by one space");
                }
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            } else if (r.isArray() && r.size() == 2 && r.get(0).isTextual() && r.get(1).isTextual()) {
                a = r.get(0).asText();
                b = r.get(1).asText();
            } else {
                throw new TokenizerFormatException(src + ": merge " + rules.size() + " is neither \"a b\" nor [a, b]: " + r);
            }
            rules.add(new String[] {a, b});
        }

        boolean prefix = false, escape = false;
        JsonNode norm = root.path("normalizer");
        List<JsonNode> steps = new ArrayList<>();
        if (norm.isObject() && norm.path("type").asText().equals("Sequence")) norm.path("normalizers").forEach(steps::add);
        else if (norm.isObject()) steps.add(norm);
        for (JsonNode step : steps) {
            String t = step.path("type").asText("");
            if (t.equals("Prepend") && step.path("prepend").asText().equals(String.valueOf(BpeModel.SPACE_SYMBOL))) {
                prefix = true;
            } else if (t.equals("Replace") && step.path("pattern").path("String").asText("").equals(" ")
                    && step.path("content").asText().equals(String.valueOf(BpeModel.SPACE_SYMBOL))) {
                escape = true;
            } else {
                throw new TokenizerFormatException(src + ": normalizer step " + step + " is not supported"
                        + " (only Prepend \"\u2581\" and Replace \" \" -> \"\u2581\")");
            }
        }
        if (prefix && !escape) {
            throw new TokenizerFormatException(src + ": a normalizer that prepends \u2581 without replacing spaces is not supported");
        }
        BpeModel model = BpeModel.ranked(src, pieces, types, rules, byteFallback, prefix, escape);
        return new TokenizerJson(model, added, specialAdded, bytes);
    }
}
