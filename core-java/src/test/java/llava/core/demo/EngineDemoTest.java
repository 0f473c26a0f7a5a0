package llava.core.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ServiceLoader;
import llava.core.Backends;
import llava.core.cli.Args;
import llava.core.cli.Command;
import org.junit.jupiter.api.Test;

class EngineDemoTest {
    static final String[] SHORT = {"--steps", "60", "--log_every", "15", "--length", "4", "--eval_size", "40", "--seed", "3"};

    @Test void shortRunLearnsAndIsReproducible() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        EngineDemo demo = new EngineDemo(new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertEquals(0, demo.run(SHORT));
        String text = buf.toString(StandardCharsets.UTF_8);
        EngineDemo.Result r = demo.lastResult();
        System.out.print(text);
        assertEquals(4, r.windowLosses().size(), "one progress line per 15 steps");
        assertTrue(r.firstLoss() > 1.5, "the first steps start near chance (ln 12 = 2.48): " + r.windowLosses());
        assertTrue(r.lastLoss() < 0.75 * r.firstLoss(), "the loss fell: " + r.windowLosses());
        assertTrue(text.contains("step    60/60") && text.contains("held-out:"), text);
        assertTrue(r.digitAccuracy() > 0.1, "better than chance on held-out digits: " + r.digitAccuracy());

        EngineDemo again = new EngineDemo(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        again.run(SHORT);
        assertEquals(r, again.lastResult(), "same seed, same losses and accuracy");
    }

    @Test void bf16RunLearns() {
        EngineDemo demo = new EngineDemo(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertEquals(0, demo.run(new String[] {"--steps", "40", "--log_every", "10", "--length", "4", "--eval_size", "20",
            "--dtype", "bf16", "--task", "copy"}));
        EngineDemo.Result r = demo.lastResult();
        assertTrue(r.lastLoss() < 0.75 * r.firstLoss(), "the loss fell: " + r.windowLosses());
    }

    @Test void registeredAsTheDemoCommand() {
        boolean found = false;
        for (Command c : ServiceLoader.load(Command.class)) found |= c.name().equals("demo") && c instanceof EngineDemo;
        assertTrue(found, "META-INF/services registers llava.core.demo.EngineDemo");
    }

    @Test void badFlagsAreUsageErrors() {
        EngineDemo demo = new EngineDemo(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertTrue(assertThrows(Args.UsageException.class, () -> demo.run(new String[] {"--dtype", "f8"})).getMessage().contains("f8"));
        assertTrue(assertThrows(Args.UsageException.class, () -> demo.run(new String[] {"--task", "add"})).getMessage().contains("add"));
        assertThrows(Args.UsageException.class, () -> demo.run(new String[] {"--steps", "0"}));
        assertThrows(Args.UsageException.class, () -> demo.run(new String[] {"--bogus", "1"}));
        assertTrue(assertThrows(Args.UsageException.class, () -> demo.run(new String[] {"--length", "2"})).getMessage()
            .contains("at most 50"), "500 held-out problems do not fit in the 100 two-digit ones");
        if (!Backends.cudaAvailable()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> demo.run(new String[] {"--device", "cuda", "--steps", "1"}));
            assertTrue(e.getMessage().contains("not available"), e.getMessage());
        }
    }
}
