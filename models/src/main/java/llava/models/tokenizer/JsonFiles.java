package llava.models.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import llava.core.io.AtomicFiles;

/** Reading and writing the JSON files of a tokenizer folder, with errors that name the file. */
final class JsonFiles {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonFiles() {}

    static JsonNode read(Path file) throws IOException {
        try {
            JsonNode node = MAPPER.readTree(file.toFile());
            if (node == null || node.isMissingNode()) throw new TokenizerFormatException(file + ": empty JSON file");
            return node;
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
    }

    static JsonNode readObject(Path file) throws IOException {
        JsonNode node = read(file);
        if (!node.isObject()) throw new TokenizerFormatException(file + ": expected a JSON object at the top level");
        return node;
    }

    /**
     * Writes bytes through {@link AtomicFiles}: a temporary file beside {@code target}, flushed and
     * renamed into place, with the permissions of any new file.
     */
    static void writeAtomically(Path target, byte[] bytes) throws IOException {
        AtomicFiles.write(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    static void writeJson(Path target, Object value) throws IOException {
        AtomicFiles.writeString(target, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value) + "\n");
    }
}
