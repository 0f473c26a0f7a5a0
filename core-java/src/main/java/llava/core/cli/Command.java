package llava.core.cli;

/**
 * A subcommand of the {@code ./llava} launcher. Implementations in any module register in
 * META-INF/services/llava.core.cli.Command and are found by {@link Main}.
 */
public interface Command {
    /** The word after ./llava, e.g. "tokenize". */
    String name();

    /** One line for ./llava --help. */
    String summary();

    /** Runs the command; returns the process exit code. Print usage for --help. */
    int run(String[] args) throws Exception;
}
