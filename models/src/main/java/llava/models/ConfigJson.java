package llava.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading HuggingFace config.json fields with defaults and clear errors. */
public final class ConfigJson {
    private ConfigJson() {}

    /** config.json as transformers writes it: json.dumps may emit NaN and Infinity. */
    private static final ObjectMapper MAPPER = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    /** Configs are a few KB; refuse to parse anything absurd. */
    private static final long MAX_BYTES = 16L << 20;

    public static JsonNode read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("config file not found: " + file);
        long size = Files.size(file);
        if (size > MAX_BYTES) throw new IOException("config " + file + " is " + size + " bytes, too large to be a config");
        try {
            JsonNode n = MAPPER.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new IOException("config " + file + " is not a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("config " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    public static int requireInt(JsonNode n, String key, String what) {
        JsonNode v = n.get(key);
        if (v == null || !v.canConvertToInt()) throw new IllegalArgumentException(what + ": missing or invalid integer field '" + key + "'");
        int i = v.asInt();
        if (i <= 0) throw new IllegalArgumentException(what + ": field '" + key + "' must be positive, got " + i);
        return i;
    }

    public static int optInt(JsonNode n, String key, int def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asInt(def);
    }

    public static double optDouble(JsonNode n, String key, double def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asDouble(def);
    }

    public static boolean optBool(JsonNode n, String key, boolean def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asBoolean(def);
    }

    public static String optString(JsonNode n, String key, String def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asText();
    }
}
