package llava.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import llava.models.Fixtures;
import llava.models.llava.LlavaPipeline;
import org.junit.jupiter.api.Test;

/** ./llava run end to end: prompt, greedy tokens and run_llava's post-processed answer as upstream. */
class RunCommandTest {

    static String runCapturing(String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, new RunCommand().run(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test void answersMatchUpstreamRunLlava() throws Exception {
        JsonNode gens = new ObjectMapper().readTree(Fixtures.path("refs/generation.json").toFile());
        for (String g : new String[] {"gen0", "gen1"}) {
            JsonNode c = gens.get(g);
            String model = Fixtures.path("tiny-llava-v1").toString();
            try (LlavaPipeline p = LlavaPipeline.load(Fixtures.path("tiny-llava-v1"), llava.core.DType.F32, llava.core.Device.CPU)) {
                String prompt = p.imagePrompt(c.get("conv_mode").asText(), c.get("query").asText(), true);
                assertEquals(c.get("prompt").asText(), prompt, g + " prompt");
                int[] ids = p.tokenizer.encode(prompt, true);
                int[] expected = new ObjectMapper().convertValue(c.get("input_ids"), int[].class);
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected, ids, g + " prompt ids");
                assertEquals(c.get("stop_str").asText(), LlavaPipeline.stopString(c.get("conv_mode").asText()));
            }
            String out = runCapturing("--model-path", model, "--image-file", Fixtures.path("images/" + c.get("image").asText()).toString(),
                "--query", c.get("query").asText(), "--conv-mode", c.get("conv_mode").asText(), "--temperature", "0",
                "--max-new-tokens", c.get("max_new_tokens").asText());
            assertEquals(c.get("decoded_output_run_llava_postprocessed").asText() + System.lineSeparator(), out, g + " answer");
        }
    }
}
