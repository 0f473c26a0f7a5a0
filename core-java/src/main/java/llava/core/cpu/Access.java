package llava.core.cpu;

import llava.core.DType;
import llava.core.Half;

/** Typed block loads and stores between storage arrays and double/float buffers. */
final class Access {
    private Access() {}

    static void load(Object arr, DType dt, int off, int inc, int n, double[] dst) {
        switch (dt) {
            case F64 -> { double[] a = (double[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc]; }
            case F32 -> { float[] a = (float[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc]; }
            case BF16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) dst[i] = Half.bf16ToFloat(a[off + i * inc]); }
            case F16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) dst[i] = Half.f16ToFloat(a[off + i * inc]); }
            case I64 -> { long[] a = (long[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc]; }
            case I32 -> { int[] a = (int[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc]; }
            case U8 -> { byte[] a = (byte[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc] & 0xFF; }
            case BOOL -> { byte[] a = (byte[]) arr; for (int i = 0; i < n; i++) dst[i] = a[off + i * inc] != 0 ? 1 : 0; }
        }
    }

    static void store(double[] src, int n, Object arr, DType dt, int off, int inc) {
        switch (dt) {
            case F64 -> { double[] a = (double[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = src[i]; }
            case F32 -> { float[] a = (float[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = (float) src[i]; }
            case BF16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = Half.floatToBf16((float) src[i]); }
            case F16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = Half.floatToF16((float) src[i]); }
            case I64 -> { long[] a = (long[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = (long) src[i]; }
            case I32 -> { int[] a = (int[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = (int) src[i]; }
            case U8 -> { byte[] a = (byte[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = (byte) (int) src[i]; }
            case BOOL -> { byte[] a = (byte[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = (byte) (src[i] != 0 ? 1 : 0); }
        }
    }

    /** Loads n elements as floats (F32 math for float types). */
    static void loadF(Object arr, DType dt, int off, int inc, int n, float[] dst, int dstOff) {
        loadF(arr, dt, off, inc, n, dst, dstOff, 1);
    }

    /** Loads n elements as floats into dst[dstOff + i * dstInc]. */
    static void loadF(Object arr, DType dt, int off, int inc, int n, float[] dst, int dstOff, int dstInc) {
        switch (dt) {
            case F32 -> {
                float[] a = (float[]) arr;
                if (inc == 1 && dstInc == 1) System.arraycopy(a, off, dst, dstOff, n);
                else for (int i = 0; i < n; i++) dst[dstOff + i * dstInc] = a[off + i * inc];
            }
            case BF16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) dst[dstOff + i * dstInc] = Half.bf16ToFloat(a[off + i * inc]); }
            case F16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) dst[dstOff + i * dstInc] = Half.f16ToFloat(a[off + i * inc]); }
            case F64 -> { double[] a = (double[]) arr; for (int i = 0; i < n; i++) dst[dstOff + i * dstInc] = (float) a[off + i * inc]; }
            default -> {
                double[] tmp = new double[n];
                load(arr, dt, off, inc, n, tmp);
                for (int i = 0; i < n; i++) dst[dstOff + i * dstInc] = (float) tmp[i];
            }
        }
    }

    static void storeF(float[] src, int srcOff, int n, Object arr, DType dt, int off, int inc) {
        switch (dt) {
            case F32 -> {
                float[] a = (float[]) arr;
                if (inc == 1) System.arraycopy(src, srcOff, a, off, n);
                else for (int i = 0; i < n; i++) a[off + i * inc] = src[srcOff + i];
            }
            case BF16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = Half.floatToBf16(src[srcOff + i]); }
            case F16 -> { short[] a = (short[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = Half.floatToF16(src[srcOff + i]); }
            case F64 -> { double[] a = (double[]) arr; for (int i = 0; i < n; i++) a[off + i * inc] = src[srcOff + i]; }
            default -> {
                double[] tmp = new double[n];
                for (int i = 0; i < n; i++) tmp[i] = src[srcOff + i];
                store(tmp, n, arr, dt, off, inc);
            }
        }
    }
}
