package llava.core;

import java.util.Objects;

/** Where a tensor lives: the CPU, or CUDA device i. */
public final class Device {
    public enum Type { CPU, CUDA }

    public static final Device CPU = new Device(Type.CPU, 0);

    private final Type type;
    private final int index;

    private Device(Type type, int index) {
        this.type = type;
        this.index = index;
    }

    public static Device cuda(int index) {
        if (index < 0) throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
        return new Device(Type.CUDA, index);
    }

    public static Device cuda() { return cuda(0); }

    /** Parses "cpu", "cuda", "cuda:1". */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda") || t.equals("gpu")) return cuda(0);
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device '" + s + "'");
            }
        }
        throw new IllegalArgumentException("unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
    }

    public Type type() { return type; }
    public int index() { return index; }
    public boolean isCpu() { return type == Type.CPU; }
    public boolean isCuda() { return type == Type.CUDA; }

    @Override public boolean equals(Object o) {
        return o instanceof Device d && d.type == type && d.index == index;
    }
    @Override public int hashCode() { return Objects.hash(type, index); }
    @Override public String toString() { return type == Type.CPU ? "cpu" : "cuda:" + index; }
}
