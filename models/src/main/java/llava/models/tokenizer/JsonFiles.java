package llava.models.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import llava.core.io.AtomicFiles;

/** Reading and writing the JSON files of a tokenizer folder, with errors that name the file. */
final class JsonFiles {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonFiles() {}

    static JsonNode readObject(Path file) throws IOException {
        return parseObject(Files.readAllBytes(file), file);
    }

    /** Parses the bytes of {@code file} (named in errors) as one JSON object. */
    static JsonNode parseObject(byte[] bytes, Path file) throws IOException {
        JsonNode node;
        try {
            node = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || node.isMissingNode()) throw new TokenizerFormatException(file + ": empty JSON file");
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
