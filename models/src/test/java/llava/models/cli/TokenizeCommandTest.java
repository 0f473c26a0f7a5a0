package llava.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ServiceLoader;
import llava.core.cli.Args;
import llava.core.cli.Command;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizeCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    private static String run(String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, new TokenizeCommand().run(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void registeredAsService() {
        boolean found = false;
        for (Command c : ServiceLoader.load(Command.class)) found |= c instanceof TokenizeCommand && c.name().equals("tokenize");
        assertTrue(found);
    }

    @Test
    void text() throws Exception {
        String dir = Fixtures.path("tiny-llava-v1").toString();
        JsonNode out = JSON.readTree(run("--tokenizer", dir, "--text", "Hello world <im_patch>"));
        assertEquals("[1,15043,3186,32000]", out.get("ids").toString());
        assertEquals("[\"<s>\",\"▁Hello\",\"▁world\",\"<im_patch>\"]", out.get("tokens").toString());
        out = JSON.readTree(run("--tokenizer", dir, "--no-bos", "--text", "café"));
        assertEquals("café", out.get("text").asText());
        int[] expected = llava.models.tokenizer.Tokenizer.fromPretrained(Fixtures.path("tiny-llava-v1")).encode("café", false);
        assertEquals(JSON.valueToTree(expected), out.get("ids"));
        assertTrue(run("--tokenizer", dir, "--text", "日本").chars().allMatch(c -> c < 128), "ASCII-only output");
        assertTrue(run("--help").contains("--tokenizer"));
    }

    @Test
    void inputFile(@TempDir Path tmp) throws Exception {
        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, "{\"text\": \"Hello world\"}\n\n{\"text\": \"\", \"other\": 1}\n");
        String[] lines = run("--tokenizer", Fixtures.path("tokenizer").toString(), "--input", in.toString()).split("\n");
        assertEquals(2, lines.length);
        assertEquals("{\"text\":\"Hello world\",\"ids\":[1,15043,3186]}", lines[0]);
        assertEquals("{\"text\":\"\",\"ids\":[1]}", lines[1]);
    }

    @Test
    void errors(@TempDir Path tmp) throws IOException {
        String dir = Fixtures.path("tokenizer").toString();
        assertThrows(Args.UsageException.class, () -> new TokenizeCommand().run(new String[] {"--tokenizer", dir}));
        assertThrows(Args.UsageException.class, () -> new TokenizeCommand().run(new String[] {"--text", "x"}));
        assertThrows(Args.UsageException.class,
                () -> new TokenizeCommand().run(new String[] {"--tokenizer", dir, "--text", "x", "--input", "y"}));
        Path in = tmp.resolve("bad.jsonl");
        Files.writeString(in, "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            IOException e = assertThrows(IOException.class, () -> new TokenizeCommand().run(new String[] {"--tokenizer", dir, "--input", in.toString()}));
            assertTrue(e.getMessage().contains(in + ":2"), e.getMessage());
            Files.writeString(in, "{\"text\": ");
            e = assertThrows(IOException.class, () -> new TokenizeCommand().run(new String[] {"--tokenizer", dir, "--input", in.toString()}));
            assertTrue(e.getMessage().contains(in + ":1: malformed JSON"), e.getMessage());
            e = assertThrows(IOException.class, () -> new TokenizeCommand().run(new String[] {"--tokenizer", tmp.toString(), "--text", "x"}));
            assertTrue(e.getMessage().contains(tmp.toString()), e.getMessage());
        } finally {
            System.setOut(old);
        }
    }
}
