package llava.core.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Progress of a long task on stderr. On a terminal it redraws one line in place; otherwise it
 * prints a line every 10 %, and only for tasks marked large (so logs and tests stay quiet).
 * {@code -Dllava.progress=never|always|auto} overrides the choice (default auto).
 */
public final class ProgressBar implements AutoCloseable {
    private enum Mode { OFF, TERMINAL, LINES }

    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintStream out;
    private final Mode mode;
    private final String label;
    private final long total;
    private final long startNanos = System.nanoTime();
    private long done;
    private long lastDraw;
    private int lastDecile = -1;
    private boolean closed;

    private ProgressBar(PrintStream out, Mode mode, String label, long total) {
        this.out = out;
        this.mode = mode;
        this.label = label;
        this.total = Math.max(0, total);
    }

    /**
     * A bar for total bytes of work. Shown on a terminal; shown as periodic lines elsewhere only
     * when {@code large} is true.
     */
    public static ProgressBar start(String label, long totalBytes, boolean large) {
        String setting = System.getProperty("llava.progress", "auto").toLowerCase(Locale.ROOT);
        Mode mode;
        switch (setting) {
            case "never", "false", "off" -> mode = Mode.OFF;
            case "always", "true", "on" -> mode = stderrIsTerminal() ? Mode.TERMINAL : Mode.LINES;
            default -> mode = stderrIsTerminal() ? Mode.TERMINAL : large ? Mode.LINES : Mode.OFF;
        }
        return new ProgressBar(System.err, mode, label, totalBytes);
    }

    /** A bar drawn to out, as lines (for tests). */
    static ProgressBar lines(PrintStream out, String label, long total) {
        return new ProgressBar(out, Mode.LINES, label, total);
    }

    public boolean visible() { return mode != Mode.OFF; }

    /** Records amount more bytes done. */
    public synchronized void advance(long amount) {
        done += amount;
        if (mode == Mode.OFF || closed) return;
        if (mode == Mode.TERMINAL) {
            long now = System.nanoTime();
            if (now - lastDraw >= REDRAW_NANOS) {
                lastDraw = now;
                out.print("\r" + line());
                out.flush();
            }
        } else {
            int decile = total == 0 ? 10 : (int) Math.min(10, done * 10 / total);
            if (decile > lastDecile) {
                lastDecile = decile;
                out.println(line());
            }
        }
    }

    private String line() {
        double frac = total == 0 ? 1 : Math.min(1, (double) done / total);
        int filled = (int) Math.round(frac * WIDTH);
        double secs = (System.nanoTime() - startNanos) / 1e9;
        return String.format(Locale.ROOT, "%s [%s%s] %3d%% %s/%s %.1fs", label, "#".repeat(filled), ".".repeat(WIDTH - filled),
            Math.round(frac * 100), human(done), human(total), secs);
    }

    static String human(long bytes) {
        if (bytes < 1000) return bytes + " B";
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (mode == Mode.TERMINAL) {
            out.print("\r" + line() + "\n");
            out.flush();
        } else if (mode == Mode.LINES && lastDecile < 10) {
            out.println(line());
        }
    }

    /** True when this process's stderr is a terminal (Linux: /proc/self/fd/2; elsewhere: a console is attached). */
    public static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return System.console() != null;
        }
    }
}
