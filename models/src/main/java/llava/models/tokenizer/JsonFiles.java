package llava.models.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

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

    /** Writes bytes to a temporary file beside {@code target}, then renames it into place. */
    static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static void writeJson(Path target, Object value) throws IOException {
        String text = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value) + "\n";
        writeAtomically(target, text.getBytes(StandardCharsets.UTF_8));
    }
}
