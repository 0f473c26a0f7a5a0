package llava.models;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Test data copied from ../shared/fixtures (outputs of the upstream PyTorch code) into
 * models/src/test/resources/fixtures, keeping the fixture-relative paths, so that the tests run
 * on a fresh clone.
 */
public final class Fixtures {
    private Fixtures() {}

    /** Root of the copied fixtures. */
    public static Path root() {
        Path p = Paths.get("src", "test", "resources", "fixtures").toAbsolutePath();
        if (!Files.isDirectory(p)) throw new IllegalStateException("fixtures folder missing: " + p);
        return p;
    }

    /** A fixture file by its path relative to the fixture root, e.g. "refs/cases.json". */
    public static Path path(String relative) {
        Path p = root().resolve(relative);
        if (!Files.exists(p)) throw new IllegalStateException("fixture file missing: " + p);
        return p;
    }

    /** The full shared fixture folder (../shared/fixtures), when present, for optional extra checks. */
    public static Path shared() {
        Path p = Paths.get("..", "..", "shared", "fixtures").toAbsolutePath().normalize();
        return Files.isDirectory(p) ? p : null;
    }
}
