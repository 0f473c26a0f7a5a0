package llava.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import llava.core.BinaryOp;
import llava.core.DType;
import llava.core.ReduceOp;
import llava.core.UnaryOp;
import org.junit.jupiter.api.Test;

/**
 * The Java side agrees with cuda-kernels/include/llava_kernels.h (read as text, no GPU or native
 * library needed): every C function has a mapped method of the same name and arity, op codes
 * follow the Java enums, and dtype and error codes are the same numbers.
 */
class KernelHeaderContractTest {
    private static final Path HEADER = Path.of("..", "cuda-kernels", "include", "llava_kernels.h");

    private static String header() throws IOException {
        String text = Files.readString(HEADER);
        return text.replaceAll("(?s)/\\*.*?\\*/", " "); // comments out
    }

    @Test
    void everyFunctionIsMappedWithTheSameArity() throws IOException {
        Map<String, Integer> c = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^\\s*(?:const\\s+char\\s*\\*|int64_t|int)\\s+(llava_\\w+)\\s*\\(([^;]*?)\\)\\s*;").matcher(header());
        while (m.find()) {
            String params = m.group(2).trim();
            c.put(m.group(1), params.isEmpty() || params.equals("void") ? 0 : params.split(",").length);
        }
        assertTrue(c.size() >= 30, "parsed only " + c.size() + " functions from " + HEADER);
        Map<String, Integer> java = new TreeMap<>();
        for (Method jm : LlavaKernels.class.getDeclaredMethods()) {
            if (Modifier.isNative(jm.getModifiers())) java.put(jm.getName(), jm.getParameterCount());
        }
        assertEquals(c, java, "C functions (name -> parameter count) vs LlavaKernels native methods");
    }

    private static List<String> enumNames(String text, String enumName) {
        Matcher m = Pattern.compile("enum\\s+" + enumName + "\\s*\\{([^}]*)\\}").matcher(text);
        assertTrue(m.find(), "enum " + enumName + " not found");
        List<String> names = new ArrayList<>();
        for (String s : m.group(1).split(",")) if (!s.isBlank()) names.add(s.trim());
        return names;
    }

    @Test
    void opCodesFollowTheJavaEnums() throws IOException {
        String h = header();
        List<String> unary = new ArrayList<>(), binary = new ArrayList<>(), reduce = new ArrayList<>();
        for (UnaryOp op : UnaryOp.values()) unary.add("LLAVA_UNARY_" + op.name());
        for (BinaryOp op : BinaryOp.values()) binary.add("LLAVA_BINARY_" + op.name());
        for (ReduceOp op : ReduceOp.values()) reduce.add("LLAVA_REDUCE_" + op.name());
        assertEquals(unary, enumNames(h, "llava_unary_op"));
        assertEquals(binary, enumNames(h, "llava_binary_op"));
        assertEquals(reduce, enumNames(h, "llava_reduce_op"));
    }

    private static int define(String h, String name) {
        Matcher m = Pattern.compile("#define\\s+" + name + "\\s+(\\d+)").matcher(h);
        assertTrue(m.find(), name + " not defined");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void dtypeErrorAndLimitCodesAgree() throws IOException {
        String h = header();
        for (DType dt : DType.values()) {
            assertEquals(define(h, "LLAVA_DTYPE_" + dt.name()), CudaBackend.code(dt), "dtype code of " + dt);
        }
        assertEquals(define(h, "LLAVA_ERR_INVALID_ARGUMENT"), LlavaKernels.LLAVA_ERR_INVALID_ARGUMENT);
        assertEquals(define(h, "LLAVA_ERR_UNSUPPORTED"), LlavaKernels.LLAVA_ERR_UNSUPPORTED);
        assertEquals(define(h, "LLAVA_ERR_INDEX"), LlavaKernels.LLAVA_ERR_INDEX);
        assertEquals(define(h, "LLAVA_MAX_DIMS"), LlavaKernels.LLAVA_MAX_DIMS);
    }
}
