package llava.models.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import llava.core.cli.Args;
import llava.core.cli.Command;
import llava.models.tokenizer.Tokenizer;

/**
 * {@code ./llava tokenize --tokenizer DIR [--no-bos] (--text TEXT | --input FILE.jsonl)}: token ids
 * as LLaVA's tokenizer produces them. With --text, one JSON line with the ids and pieces; with
 * --input, one JSON line {"text", "ids"} per input line (each a JSON object with a "text" field).
 * Output JSON escapes non-ASCII characters, so it is the same whatever the console encoding.
 */
public final class TokenizeCommand implements Command {
    private static final Map<String, String> FLAGS = new LinkedHashMap<>();

    static {
        FLAGS.put("tokenizer", "tokenizer folder (tokenizer.model or tokenizer.json, added_tokens.json, ...)");
        FLAGS.put("text", "text to tokenize");
        FLAGS.put("input", "JSON-lines file; each line an object with a \"text\" field");
        FLAGS.put("no-bos", "do not prepend <s>");
        FLAGS.put("help", "show this help");
    }

    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();

    @Override
    public String name() { return "tokenize"; }

    @Override
    public String summary() { return "turn text into LLaMA/LLaVA token ids"; }

    @Override
    public int run(String[] argv) throws Exception {
        Args args = Args.parse(argv, FLAGS, Set.of("no-bos", "help"));
        PrintStream out = System.out;
        if (args.getBool("help", false)) {
            out.print(Args.usage(name(), FLAGS));
            return 0;
        }
        if (!args.positional().isEmpty()) throw new Args.UsageException("unexpected argument '" + args.positional().get(0) + "'");
        if (args.has("text") == args.has("input")) throw new Args.UsageException("give exactly one of --text or --input");
        Tokenizer tokenizer = Tokenizer.fromPretrained(Path.of(args.require("tokenizer")));
        boolean bos = !args.getBool("no-bos", false);
        if (args.has("text")) {
            String text = args.require("text");
            int[] ids = tokenizer.encode(text, bos);
            ObjectNode line = JSON.createObjectNode();
            line.put("text", text);
            line.set("ids", JSON.valueToTree(ids));
            line.set("tokens", JSON.valueToTree(tokenizer.tokens(ids)));
            out.println(JSON.writeValueAsString(line));
        } else {
            Path input = Path.of(args.require("input"));
            try (BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
                String raw;
                for (int lineNo = 1; (raw = in.readLine()) != null; lineNo++) {
                    if (raw.isBlank()) continue;
                    String text = textOf(raw, input, lineNo);
                    ObjectNode line = JSON.createObjectNode();
                    line.put("text", text);
                    line.set("ids", JSON.valueToTree(tokenizer.encode(text, bos)));
                    out.println(JSON.writeValueAsString(line));
                }
            }
        }
        out.flush();
        return 0;
    }

    private static String textOf(String raw, Path file, int lineNo) throws IOException {
        JsonNode node;
        try {
            node = JSON.readTree(raw);
        } catch (JsonProcessingException e) {
            throw new IOException(file + ":" + lineNo + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.path("text").isTextual()) {
            throw new IOException(file + ":" + lineNo + ": expected an object with a string field \"text\"");
        }
        return node.get("text").asText();
    }
}
