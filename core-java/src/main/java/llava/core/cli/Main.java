package llava.core.cli;

import java.util.ServiceLoader;
import java.util.TreeMap;

/** Entry point of the ./llava launcher: dispatches to the registered {@link Command}s. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        TreeMap<String, Command> commands = new TreeMap<>();
        for (Command c : ServiceLoader.load(Command.class)) commands.put(c.name(), c);
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            System.out.println("usage: ./llava <command> [args]   (./llava <command> --help for its flags)\n\ncommands:");
            for (Command c : commands.values()) System.out.printf("  %-10s %s%n", c.name(), c.summary());
            System.exit(args.length == 0 ? 2 : 0);
        }
        Command c = commands.get(args[0]);
        if (c == null) {
            System.err.println("unknown command '" + args[0] + "'; commands: " + String.join(", ", commands.keySet()));
            System.exit(2);
        }
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        int code;
        try {
            code = c.run(rest);
        } catch (Args.UsageException e) {
            System.err.println(c.name() + ": " + e.getMessage());
            code = 2;
        } catch (Exception e) {
            System.err.println(c.name() + ": error: " + e.getMessage());
            if (Boolean.getBoolean("llava.debug")) e.printStackTrace();
            code = 1;
        }
        System.exit(code);
    }
}
