package llava.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * JSON of file formats (safetensors headers, checkpoint indexes), parsed strictly: the bytes must
 * be valid UTF-8 holding exactly one JSON object with no duplicate keys. Errors name the file.
 */
public final class StrictJson {
    private StrictJson() {}

    private static final ObjectMapper MAPPER = JsonMapper.builder()
        .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .build();

    /**
     * Parses bytes (from the buffer's position to its limit) as one JSON object. Problems raise an
     * IOException "{@code problem} {@code path}: {@code what} ..." (e.g. "malformed safetensors
     * file /x: header is not valid UTF-8").
     */
    public static JsonNode parseObject(ByteBuffer bytes, Path path, String problem, String what) throws IOException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(bytes)
                .toString();
        } catch (CharacterCodingException e) {
            throw new IOException(problem + " " + path + ": " + what + " is not valid UTF-8");
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            String m = e.getOriginalMessage();
            if (m != null && m.startsWith("Duplicate field")) {
                throw new IOException(problem + " " + path + ": " + what + " has a duplicate key: " + m);
            }
            if (m != null && m.startsWith("Trailing token")) {
                throw new IOException(problem + " " + path + ": " + what + " is not valid JSON: more data follows the JSON object");
            }
            String at = e.getLocation() != null && e.getLocation().getCharOffset() >= 0
                ? " (at character " + e.getLocation().getCharOffset() + ")" : "";
            throw new IOException(problem + " " + path + ": " + what + " is not valid JSON: " + m + at);
        }
        if (root == null || root.isMissingNode()) throw new IOException(problem + " " + path + ": " + what + " is empty");
        if (!root.isObject()) {
            throw new IOException(problem + " " + path + ": " + what + " is not a JSON object (found " + root.getNodeType() + ")");
        }
        return root;
    }

    /** Reads a whole JSON file of at most maxBytes and parses it as one object. */
    public static JsonNode readObject(Path path, long maxBytes, String problem) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > maxBytes) throw new IOException(problem + " " + path + ": " + size + " bytes, more than the " + maxBytes + " accepted");
            ByteBuffer b = ByteBuffer.allocate((int) size);
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) throw new IOException(problem + " " + path + ": file shrank while being read");
            }
            b.flip();
            return parseObject(b, path, problem, "content");
        }
    }
}
