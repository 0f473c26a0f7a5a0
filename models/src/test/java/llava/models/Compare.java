package llava.models;

/** Element-wise comparison with the fixture README's tolerance form (atol + rtol * |expected|). */
public final class Compare {
    private Compare() {}

    /** Largest |a - e| over all elements; throws naming the first element out of tolerance. */
    public static double assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": " + actual.length + " values, expected " + expected.length);
        }
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) expected[i] - actual[i]);
            max = Math.max(max, d);
            if (!(d <= atol + rtol * Math.abs(expected[i]))) {
                throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]
                    + " (|diff| " + d + " > " + atol + " + " + rtol + " * |expected|)");
            }
        }
        return max;
    }
}
