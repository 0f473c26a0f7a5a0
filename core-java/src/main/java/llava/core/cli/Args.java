package llava.core.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Command-line flags in upstream LLaVA style: {@code --name value}, {@code --name=value}, and
 * bare boolean flags ({@code --backward}); booleans also accept true/false/True/False values.
 * Flags with dashes and underscores are the same flag (--max-new-tokens == --max_new_tokens).
 * Unknown flags are an error listing the known ones.
 */
public final class Args {
    /** Bad command-line usage (the launcher prints it without a stack trace). */
    public static final class UsageException extends IllegalArgumentException {
        public UsageException(String msg) { super(msg); }
    }

    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private final Map<String, String> known = new LinkedHashMap<>();

    private Args() {}

    private static String norm(String name) {
        return name.replace('-', '_');
    }

    /**
     * Parses args. {@code flags} maps each known flag name (without dashes) to a help text;
     * names listed in {@code booleans} may appear without a value.
     */
    public static Args parse(String[] args, Map<String, String> flags, java.util.Set<String> booleans) {
        Args a = new Args();
        for (Map.Entry<String, String> e : flags.entrySet()) a.known.put(norm(e.getKey()), e.getValue());
        java.util.Set<String> bools = new java.util.HashSet<>();
        for (String b : booleans) bools.add(norm(b));
        for (int i = 0; i < args.length; i++) {
            String s = args[i];
            if (!s.startsWith("--")) {
                a.positional.add(s);
                continue;
            }
            String name = s.substring(2), value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            name = norm(name);
            if (!a.known.containsKey(name)) {
                throw new UsageException("unknown flag --" + name + "; known flags: --" + String.join(", --", a.known.keySet()));
            }
            if (value == null) {
                boolean nextIsValue = i + 1 < args.length && !args[i + 1].startsWith("--");
                if (bools.contains(name)) {
                    if (nextIsValue && isBool(args[i + 1])) value = args[++i];
                    else value = "true";
                } else if (nextIsValue) {
                    value = args[++i];
                } else {
                    throw new UsageException("flag --" + name + " needs a value");
                }
            }
            a.values.put(name, value);
        }
        return a;
    }

    private static boolean isBool(String s) {
        String l = s.toLowerCase(java.util.Locale.ROOT);
        return l.equals("true") || l.equals("false");
    }

    public boolean has(String name) { return values.containsKey(norm(name)); }

    public String get(String name, String def) {
        String v = values.get(norm(name));
        return v == null ? def : v;
    }

    public String require(String name) {
        String v = values.get(norm(name));
        if (v == null) throw new UsageException("missing required flag --" + norm(name));
        return v;
    }

    public int getInt(String name, int def) {
        String v = get(name, null);
        if (v == null) return def;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException("--" + norm(name) + " expects an integer, got '" + v + "'");
        }
    }

    public double getDouble(String name, double def) {
        String v = get(name, null);
        if (v == null) return def;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new UsageException("--" + norm(name) + " expects a number, got '" + v + "'");
        }
    }

    public boolean getBool(String name, boolean def) {
        String v = get(name, null);
        if (v == null) return def;
        if (!isBool(v)) throw new UsageException("--" + norm(name) + " expects true or false, got '" + v + "'");
        return Boolean.parseBoolean(v.toLowerCase(java.util.Locale.ROOT));
    }

    public List<String> positional() { return positional; }

    /** One line per known flag, for --help. */
    public static String usage(String command, Map<String, String> flags) {
        StringBuilder sb = new StringBuilder("usage: ./llava " + command + " [flags]\n");
        for (Map.Entry<String, String> e : flags.entrySet()) {
            sb.append(String.format("  --%-28s %s%n", e.getKey(), e.getValue()));
        }
        return sb.toString();
    }
}
