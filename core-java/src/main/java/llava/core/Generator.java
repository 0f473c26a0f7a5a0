package llava.core;

/**
 * Seeded random numbers: the same seed gives the same numbers on every run and every device
 * (values are generated on the host and copied). xoshiro256** seeded through SplitMix64.
 */
public final class Generator {
    private long s0, s1, s2, s3;
    private double spareNormal;
    private boolean hasSpare;

    public Generator(long seed) {
        manualSeed(seed);
    }

    private static final Generator DEFAULT = new Generator(0x5EEDL);

    /** The process-wide default generator (seed it with {@link #manualSeed}). */
    public static Generator defaultGenerator() { return DEFAULT; }

    public synchronized Generator manualSeed(long seed) {
        long x = seed;
        s0 = splitmix(x += 0x9E3779B97F4A7C15L);
        s1 = splitmix(x += 0x9E3779B97F4A7C15L);
        s2 = splitmix(x += 0x9E3779B97F4A7C15L);
        s3 = splitmix(x += 0x9E3779B97F4A7C15L);
        hasSpare = false;
        return this;
    }

    private static long splitmix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A snapshot of the state (for activation checkpointing and exact resume). */
    public synchronized long[] getState() {
        return new long[] {s0, s1, s2, s3, hasSpare ? 1 : 0, Double.doubleToRawLongBits(spareNormal)};
    }

    public synchronized void setState(long[] st) {
        if (st.length != 6) throw new IllegalArgumentException("generator state must have 6 words");
        s0 = st[0]; s1 = st[1]; s2 = st[2]; s3 = st[3];
        hasSpare = st[4] != 0;
        spareNormal = Double.longBitsToDouble(st[5]);
    }

    public synchronized long nextLong() {
        long result = Long.rotateLeft(s1 * 5, 7) * 9;
        long t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = Long.rotateLeft(s3, 45);
        return result;
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform integer in [0, bound). */
    public long nextLong(long bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive");
        long r = nextLong() >>> 1;
        long m = bound - 1;
        if ((bound & m) == 0) return r & m;
        long u = r;
        while (u - (r = u % bound) + m < 0) u = nextLong() >>> 1;
        return r;
    }

    /** Standard normal (Box-Muller, polar form). */
    public synchronized double nextGaussian() {
        if (hasSpare) {
            hasSpare = false;
            return spareNormal;
        }
        double u, v, s;
        do {
            u = nextDouble() * 2 - 1;
            v = nextDouble() * 2 - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double mul = Math.sqrt(-2 * Math.log(s) / s);
        spareNormal = v * mul;
        hasSpare = true;
        return u * mul;
    }
}
