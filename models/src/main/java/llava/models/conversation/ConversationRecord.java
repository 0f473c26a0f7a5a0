package llava.models.conversation;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One LLaVA training record: {@code {"id": ..., "image": "file.jpg", "conversations": [{"from": "human",
 * "value": ...}, {"from": "gpt", "value": ...}, ...]}}. The image is optional (text-only samples).
 */
public record ConversationRecord(String id, String image, List<Turn> conversations) {
    /** One sentence of a record: {@code from} is "human" or "gpt" in LLaVA data. */
    public record Turn(String from, String value) {
        public Turn {
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(value, "value");
        }
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();

    public ConversationRecord {
        conversations = List.copyOf(conversations);
    }

    public boolean hasImage() { return image != null; }

    /** A record from its JSON object; {@code where} (file and position) prefixes error messages. */
    public static ConversationRecord fromJson(JsonNode node, String where) {
        if (node == null || !node.isObject()) throw new IllegalArgumentException(where + ": a record must be a JSON object");
        JsonNode idNode = node.path("id");
        String id = idNode.isValueNode() && !idNode.isNull() ? idNode.asText() : null;
        String at = id == null ? where : where + " (id " + id + ")";
        JsonNode imageNode = node.path("image");
        String image = null;
        if (imageNode.isTextual()) image = imageNode.asText();
        else if (!imageNode.isMissingNode() && !imageNode.isNull()) throw new IllegalArgumentException(at + ": \"image\" must be a string");
        JsonNode conv = node.path("conversations");
        if (!conv.isArray() || conv.isEmpty()) throw new IllegalArgumentException(at + ": \"conversations\" must be a non-empty list");
        List<Turn> turns = new ArrayList<>();
        for (int i = 0; i < conv.size(); i++) {
            JsonNode t = conv.get(i);
            if (!t.path("from").isTextual() || !t.path("value").isTextual()) {
                throw new IllegalArgumentException(at + ": conversations[" + i + "] needs string fields \"from\" and \"value\"");
            }
            turns.add(new Turn(t.get("from").asText(), t.get("value").asText()));
        }
        return new ConversationRecord(id, image, turns);
    }

    /**
     * Reads a data file: a JSON list of records (LLaVA's format, read as a stream so large files
     * need no tree of the whole file), or JSON lines (one record per line).
     */
    public static List<ConversationRecord> readAll(Path file) throws IOException {
        List<ConversationRecord> out = new ArrayList<>();
        try (InputStream raw = Files.newInputStream(file); PushbackInputStream in = new PushbackInputStream(raw, 8)) {
            int first;
            do {
                first = in.read();
            } while (first == ' ' || first == '\n' || first == '\r' || first == '\t');
            if (first < 0) return out;
            in.unread(first);
            if (first == '[') readArray(file, in, out);
            else readLines(file, out);
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        return out;
    }

    private static void readArray(Path file, InputStream in, List<ConversationRecord> out) throws IOException {
        try (JsonParser p = MAPPER.getFactory().createParser(in)) {
            if (p.nextToken() != JsonToken.START_ARRAY) throw new IOException(file + ": expected a JSON list of records");
            while (p.nextToken() != JsonToken.END_ARRAY) {
                if (p.currentToken() == null) throw new IOException(file + ": the list of records is not closed");
                JsonNode node = p.readValueAsTree();
                out.add(fromJson(node, file + ": record " + out.size()));
            }
        }
    }

    private static void readLines(Path file, List<ConversationRecord> out) throws IOException {
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            JsonNode node;
            try {
                node = MAPPER.readTree(lines.get(i));
            } catch (JsonProcessingException e) {
                throw new IOException(file + ":" + (i + 1) + ": malformed JSON: " + e.getOriginalMessage(), e);
            }
            out.add(fromJson(node, file + ":" + (i + 1)));
        }
    }
}
