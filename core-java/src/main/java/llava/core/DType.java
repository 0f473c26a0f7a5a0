package llava.core;

/** Element types. Floating types compute in F32 (F64 for F64) on every backend. */
public enum DType {
    F64(8, true, "float64"),
    F32(4, true, "float32"),
    BF16(2, true, "bfloat16"),
    F16(2, true, "float16"),
    I64(8, false, "int64"),
    I32(4, false, "int32"),
    U8(1, false, "uint8"),
    BOOL(1, false, "bool");

    private final int byteSize;
    private final boolean floating;
    private final String torchName;

    DType(int byteSize, boolean floating, String torchName) {
        this.byteSize = byteSize;
        this.floating = floating;
        this.torchName = torchName;
    }

    public int byteSize() { return byteSize; }
    public boolean isFloating() { return floating; }
    public boolean isIntegral() { return !floating && this != BOOL; }
    /** True for the 16-bit floating types that are stored as shorts and computed in F32. */
    public boolean isHalf() { return this == BF16 || this == F16; }
    /** Name as PyTorch prints it (torch.float32, ...). */
    public String torchName() { return torchName; }

    /** The safetensors dtype string. */
    public String safetensorsName() {
        return switch (this) {
            case F64 -> "F64"; case F32 -> "F32"; case BF16 -> "BF16"; case F16 -> "F16";
            case I64 -> "I64"; case I32 -> "I32"; case U8 -> "U8"; case BOOL -> "BOOL";
        };
    }

    public static DType fromSafetensorsName(String s) {
        return switch (s) {
            case "F64" -> F64; case "F32" -> F32; case "BF16" -> BF16; case "F16" -> F16;
            case "I64" -> I64; case "I32" -> I32; case "U8" -> U8; case "BOOL" -> BOOL;
            default -> null;
        };
    }

    /** Parses user spellings: f32, float32, bf16, bfloat16, fp16, half, ... */
    public static DType parse(String s) {
        switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f64": case "float64": case "double": case "fp64": return F64;
            case "f32": case "float32": case "float": case "fp32": return F32;
            case "bf16": case "bfloat16": return BF16;
            case "f16": case "float16": case "half": case "fp16": return F16;
            case "i64": case "int64": case "long": return I64;
            case "i32": case "int32": case "int": return I32;
            case "u8": case "uint8": return U8;
            case "bool": return BOOL;
            default: throw new IllegalArgumentException("unknown dtype '" + s + "' (expected one of f32, bf16, f16, f64, i64, i32, u8, bool)");
        }
    }

    /** Result type of a binary op between a and b (PyTorch-like promotion, without 0-dim special cases). */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a.floating || b.floating) {
            if (!a.floating) return b;
            if (!b.floating) return a;
            if (a == F64 || b == F64) return F64;
            return F32; // F32 with anything, or BF16 with F16
        }
        if (a == BOOL) return b;
        if (b == BOOL) return a;
        if (a == I64 || b == I64) return I64;
        if (a == I32 || b == I32) return I32;
        return U8;
    }
}
