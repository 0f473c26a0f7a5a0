package llava.models.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.models.Fixtures;
import llava.models.image.ImageProcessor;
import llava.models.llava.LlavaPipeline;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Stop strings, EOS, streaming text and seeded sampling through the pipeline. */
class PipelineGenerationTest {
    static LlavaPipeline p;
    static Tensor image;
    static String prompt;

    @BeforeAll static void load() throws Exception {
        p = LlavaPipeline.load(Fixtures.path("tiny-llava-v1"), DType.F32, Device.CPU);
        image = p.loadImages(List.of(Fixtures.path("images/cat_landscape.jpg")), ImageProcessor.AspectRatio.SQUARE);
        prompt = p.imagePrompt("llava_v1", "What is unusual about this image?", true);
    }

    @AfterAll static void free() {
        image.close();
        p.close();
    }

    @Test void stopStringEndsGenerationAndIsCut() {
        LlavaPipeline.Answer full = p.generate(prompt, image, SamplingParams.greedy(12), "</s>", null);
        assertEquals("next replaced sometimes top\ufffd sin escape Linear&\\ secretary ns obviously", full.text());
        StringBuilder streamed = new StringBuilder();
        LlavaPipeline.Answer cut = p.generate(prompt, image, SamplingParams.greedy(12), " escape", streamed::append);
        assertEquals("stop", cut.stopReason());
        assertEquals(7, cut.tokens().length, "stops at the token that completes the stop string");
        assertEquals("next replaced sometimes top\ufffd sin", cut.text());
        assertTrue(streamed.toString().strip().startsWith("next replaced sometimes top"), streamed.toString());
        assertTrue(streamed.toString().endsWith(" escape"), "streamed text holds everything generated: " + streamed);
    }

    @Test void eosStopsGeneration() {
        // with the EOS id set to the second greedy token, generation stops right there
        long[] ids = java.util.Arrays.stream(p.tokenizer.encode(prompt, true)).asLongStream().toArray();
        Generation.Result r = Generation.generate(p.model, ids, image, SamplingParams.greedy(12), 8611, null);
        assertEquals("eos", r.stopReason());
        assertEquals(2, r.tokens().length);
    }

    @Test void samplingIsSeeded() {
        SamplingParams a = new SamplingParams(10, 0.8, 0.9, 7), b = new SamplingParams(10, 0.8, 0.9, 8);
        String x1 = p.generate(prompt, image, a, null, null).text();
        String x2 = p.generate(prompt, image, a, null, null).text();
        String y = p.generate(prompt, image, b, null, null).text();
        assertEquals(x1, x2, "same seed, same text");
        assertTrue(!x1.equals(y), "another seed gives another text");
    }
}
