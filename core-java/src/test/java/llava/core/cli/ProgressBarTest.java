package llava.core.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void linesModePrintsOneLinePerTenPercent() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ProgressBar bar = ProgressBar.lines(new PrintStream(buf, true, StandardCharsets.UTF_8), "loading", 1000)) {
            for (int i = 0; i < 20; i++) bar.advance(50);
        }
        String[] lines = buf.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(11, lines.length, String.join("\n", lines)); // entering 0-9 %, 10-19 %, ..., 100 %
        assertTrue(lines[0].startsWith("loading [") && lines[0].contains("  5% 50 B/1.0 kB"), lines[0]);
        assertTrue(lines[10].contains("100% 1.0 kB/1.0 kB"), lines[10]);
    }

    @Test
    void humanSizes() {
        assertEquals("999 B", ProgressBar.human(999));
        assertEquals("1.5 kB", ProgressBar.human(1500));
        assertEquals("8.4 MB", ProgressBar.human(8_397_344));
        assertEquals("13.5 GB", ProgressBar.human(13_476_839_424L));
    }
}
