package llava.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import llava.models.Fixtures;

/** The upstream reference cases of fixtures/tokenizer_cases.jsonl. */
record TokenizerCases(String text, int[] ids, int[] idsNoBos, List<String> tokens, int[] spIds, String spDecode,
                      String hfDecode, String hfDecodeSkipSpecial, String hfBatchDecodeSkipSpecialStrip) {

    static final List<String> IMAGE_TOKENS = List.of("<im_patch>", "<im_start>", "<im_end>");

    static List<TokenizerCases> all() {
        ObjectMapper mapper = new ObjectMapper();
        List<TokenizerCases> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Fixtures.path("tokenizer_cases.jsonl"), StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonNode n = mapper.readTree(line);
                List<String> tokens = new ArrayList<>();
                n.get("tokens").forEach(t -> tokens.add(t.asText()));
                out.add(new TokenizerCases(n.get("text").asText(), ints(n.get("ids")), ints(n.get("ids_no_bos")), tokens,
                        ints(n.get("sp_ids")), n.get("sp_decode").asText(), n.get("hf_decode").asText(),
                        n.get("hf_decode_skip_special").asText(), n.get("hf_batch_decode_skip_special_strip").asText()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Whether the text contains an image token, which only the LLaVA checkpoint's tokenizer knows. */
    boolean usesImageTokens() {
        for (String t : IMAGE_TOKENS) if (text.contains(t)) return true;
        return false;
    }

    static int[] ints(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) a[i] = array.get(i).intValue();
        return a;
    }

    @Override
    public String toString() {
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }
}
