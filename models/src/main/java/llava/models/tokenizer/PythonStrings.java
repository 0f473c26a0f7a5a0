package llava.models.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Python {@code str} semantics that upstream LLaVA and transformers rely on: Unicode whitespace as
 * {@code str.isspace()} defines it (which, unlike {@link Character#isWhitespace}, includes
 * no-break spaces), {@code strip()} and friends, and {@code split(sep)} keeping empty parts.
 */
public final class PythonStrings {
    private PythonStrings() {}

    /** Python's {@code str.isspace()} for one code point. */
    public static boolean isSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    public static String strip(String s) {
        return rstrip(lstrip(s));
    }

    public static String lstrip(String s) {
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (!isSpace(cp)) break;
            i += Character.charCount(cp);
        }
        return s.substring(i);
    }

    public static String rstrip(String s) {
        int end = s.length();
        while (end > 0) {
            int cp = s.codePointBefore(end);
            if (!isSpace(cp)) break;
            end -= Character.charCount(cp);
        }
        return s.substring(0, end);
    }

    /** {@code s.split(sep)}: every occurrence splits, empty parts are kept ("a,".split(",") == ["a", ""]). */
    public static List<String> split(String s, String sep) {
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        List<String> parts = new ArrayList<>();
        int from = 0;
        while (true) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            parts.add(s.substring(from, at));
            from = at + sep.length();
        }
        parts.add(s.substring(from));
        return parts;
    }
}
