package llava.models.checkpoint;

import static llava.core.io.IoTestUtil.assertSameTensor;
import static llava.models.checkpoint.CheckpointTestUtil.assertSameTensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import llava.core.DType;
import llava.core.Device;
import llava.core.Tensor;
import llava.core.io.SafetensorsFile;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchBinFileTest {
    @TempDir Path dir;

    private static Path crafted(String name) {
        Path p = Paths.get("src", "test", "resources", "checkpoint", name).toAbsolutePath();
        assertTrue(Files.isRegularFile(p), "missing test file " + p);
        return p;
    }

    /** Asserts that a .bin holds the tensors of a .safetensors file; returns how many were compared. */
    private static int comparedWith(Path bin, Path expected) throws IOException {
        try (TorchBinFile b = TorchBinFile.open(bin); SafetensorsFile e = SafetensorsFile.open(expected)) {
            return assertSameTensors(e, b);
        }
    }

    /** The upstream tiny CLIP tower: torch.save (torch 1.13 zip format) and safetensors hold the same tensors. */
    @Test
    void tinyClipBinLoadsIdenticalToItsSafetensors() throws IOException {
        try (TorchBinFile bin = TorchBinFile.open(Fixtures.path("tiny-clip-vit-p14-56/pytorch_model.bin"));
             SafetensorsFile st = SafetensorsFile.open(Fixtures.path("tiny-clip-vit-p14-56/model.safetensors"))) {
            int n = assertSameTensors(st, bin);
            assertTrue(n >= 30, "tensors compared: " + n);
            assertEquals(DType.I64, bin.dtype("vision_model.embeddings.position_ids"));
            assertArrayEquals(new int[] {1, 17}, bin.shape("vision_model.embeddings.position_ids"));
            try (Tensor ids = bin.load("vision_model.embeddings.position_ids")) {
                long[] v = ids.toLongArray();
                for (int i = 0; i < 17; i++) assertEquals(i, v[i]);
            }
        }
    }

    /** The 8 MiB tiny-llava .bin is not in the repo: this runs only where ../shared/fixtures exists. */
    @Test
    void tinyLlavaBinLoadsIdenticalToItsSafetensorsOnlyWhenSharedFixturesPresent() throws IOException {
        Path shared = Fixtures.shared();
        assumeTrue(shared != null, "../shared/fixtures not present");
        assertEquals(25, comparedWith(shared.resolve("tiny-llava-v1/pytorch_model.bin"), shared.resolve("tiny-llava-v1/model.safetensors")));
    }

    /**
     * Crafted torch.save zip (see make_torch_pickles.py): transposed, sliced, offset, stride-0,
     * permuted, 0-dim and empty tensors sharing storages, a Parameter, every supported storage
     * type; values checked against numpy's as_strided.
     */
    @Test
    void stridedTensorsComeOutRight() throws IOException {
        try (TorchBinFile bin = TorchBinFile.open(crafted("strided.bin"));
             SafetensorsFile expected = SafetensorsFile.open(crafted("expected.safetensors"))) {
            assertEquals(10, assertSameTensors(expected, bin));
            assertTrue(bin.requiresGrad("h"));
            assertFalse(bin.requiresGrad("w"));
            for (String k : new String[] {"wt", "permuted", "expanded", "h"}) {
                for (DType to : new DType[] {DType.F32, DType.BF16, DType.I64}) {
                    try (Tensor e = expected.load(k); Tensor ec = e.to(to); Tensor a = bin.load(k, to, Device.CPU)) {
                        assertSameTensor(ec, a, k + " as " + to);
                    }
                }
            }
        }
    }

    @Test
    void bigEndianZipCheckpointsAreSwapped() throws IOException {
        assertEquals(10, comparedWith(crafted("strided_bigendian.bin"), crafted("expected.safetensors")));
    }

    /** The legacy (pre-1.6, non-zip) format, including a storage view from view_metadata. */
    @Test
    void legacyFormatLoads() throws IOException {
        assertEquals(11, comparedWith(crafted("legacy.bin"), crafted("expected_legacy.safetensors")));
    }

    /**
     * torch.save switches to zip64 for checkpoints over 4 GiB (every real LLaVA-7B/13B .bin): the
     * same entries as strided.bin rewritten with zip64 central directory fields, which must be used.
     */
    @Test
    void zip64DirectoriesAreRead() throws IOException {
        java.util.List<String> names = new java.util.ArrayList<>();
        java.util.List<byte[]> datas = new java.util.ArrayList<>();
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(crafted("strided.bin").toFile())) {
            for (ZipEntry e : java.util.Collections.list(z.entries())) {
                names.add(e.getName());
                datas.add(z.getInputStream(e).readAllBytes());
            }
        }
        Path f = dir.resolve("zip64.bin");
        Files.write(f, zip64(names, datas));
        assertEquals(10, comparedWith(f, crafted("expected.safetensors")));
    }

    /** A stored zip whose central directory keeps sizes and offsets only in zip64 extra fields. */
    private static byte[] zip64(java.util.List<String> names, java.util.List<byte[]> datas) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long[] offsets = new long[names.size()];
        for (int i = 0; i < names.size(); i++) {
            byte[] n = names.get(i).getBytes(StandardCharsets.UTF_8), d = datas.get(i);
            offsets[i] = b.position();
            b.putInt(0x04034b50).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0).putInt(crc(d))
                .putInt(d.length).putInt(d.length).putShort((short) n.length).putShort((short) 0).put(n).put(d);
        }
        long cdStart = b.position();
        for (int i = 0; i < names.size(); i++) {
            byte[] n = names.get(i).getBytes(StandardCharsets.UTF_8), d = datas.get(i);
            b.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0).putShort((short) 0).putInt(0)
                .putInt(crc(d)).putInt(-1).putInt(-1).putShort((short) n.length).putShort((short) 28).putShort((short) 0)
                .putShort((short) 0).putShort((short) 0).putInt(0).putInt(-1).put(n)
                .putShort((short) 1).putShort((short) 24).putLong(d.length).putLong(d.length).putLong(offsets[i]);
        }
        long cdSize = b.position() - cdStart;
        long z64 = b.position();
        b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
            .putLong(names.size()).putLong(names.size()).putLong(cdSize).putLong(cdStart);
        b.putInt(0x07064b50).putInt(0).putLong(z64).putInt(1);
        b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) -1).putShort((short) -1).putInt(-1).putInt(-1).putShort((short) 0);
        return Arrays.copyOf(b.array(), b.position());
    }

    private static int crc(byte[] d) {
        CRC32 c = new CRC32();
        c.update(d);
        return (int) c.getValue();
    }

    // ---- malicious and malformed pickles ----------------------------------------------------

    /** A torch.save-like zip holding the given data.pkl (and optional storages). */
    private Path zipWith(String name, byte[] pickle, String... storageKeysAndBytes) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bos)) {
            stored(z, "archive/data.pkl", pickle);
            for (int i = 0; i < storageKeysAndBytes.length; i += 2) {
                stored(z, "archive/data/" + storageKeysAndBytes[i], storageKeysAndBytes[i + 1].getBytes(StandardCharsets.ISO_8859_1));
            }
            stored(z, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        Path p = dir.resolve(name);
        Files.write(p, bos.toByteArray());
        return p;
    }

    private static void stored(ZipOutputStream z, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        z.putNextEntry(e);
        z.write(data);
        z.closeEntry();
    }

    /** Pickle bytes from a string whose chars are bytes (\u0080 = 0x80, ...). */
    private static byte[] pk(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private void assertRejected(Path f, String... fragments) {
        IOException e = assertThrows(IOException.class, () -> TorchBinFile.open(f).close());
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), "names the file: " + m);
        for (String frag : fragments) assertTrue(m.contains(frag), "mentions '" + frag + "': " + m);
    }

    @Test
    void maliciousGlobalsAreRejectedByName() throws IOException {
        // os.system("ls") the classic way: GLOBAL + REDUCE
        assertRejected(zipWith("os.bin", pk("\u0080\u0002cos\nsystem\nX\u0002\u0000\u0000\u0000ls\u0085R.")), "'os.system'", "refusing");
        assertRejected(zipWith("posix.bin", pk("\u0080\u0002cposix\nsystem\nX\u0002\u0000\u0000\u0000ls\u0085R.")), "'posix.system'");
        assertRejected(zipWith("eval.bin", pk("\u0080\u0002c__builtin__\neval\nX\u0001\u0000\u0000\u00001\u0085R.")), "'__builtin__.eval'");
        assertRejected(zipWith("builtins.bin", pk("\u0080\u0002cbuiltins\ngetattr\n.")), "'builtins.getattr'");
        // a near miss of an allowed name
        assertRejected(zipWith("near.bin", pk("\u0080\u0002ctorch._utils\n_rebuild_tensor_v3\n.")), "'torch._utils._rebuild_tensor_v3'");
        // protocol 4: STACK_GLOBAL goes through the same check
        assertRejected(zipWith("stack.bin", pk("\u0080\u0004\u008c\u0002os\u008c\u0006system\u0093.")), "'os.system'");
        // hidden inside an otherwise plain state dict
        assertRejected(zipWith("nested.bin", pk("\u0080\u0002}(X\u0001\u0000\u0000\u0000acsubprocess\nPopen\nu.")), "'subprocess.Popen'");
    }

    @Test
    void objectBuildingOpcodesAreRejected() throws IOException {
        assertRejected(zipWith("inst.bin", pk("\u0080\u0002(ios\nsystem\n.")), "unsupported pickle opcode 0x69 ('i')");
        assertRejected(zipWith("obj.bin", pk("\u0080\u0002(o.")), "unsupported pickle opcode 0x6f ('o')");
        assertRejected(zipWith("newobj.bin", pk("\u0080\u0002ctorch\nFloatStorage\n)\u0081.")), "unsupported pickle opcode 0x81");
        assertRejected(zipWith("ext.bin", pk("\u0080\u0002\u0082\u0001.")), "unsupported pickle opcode 0x82");
        // an allowed global that is not callable
        assertRejected(zipWith("call.bin", pk("\u0080\u0002ctorch\nFloatStorage\n)R.")), "REDUCE of the global torch.FloatStorage");
        // OrderedDict called with arguments
        assertRejected(zipWith("od.bin", pk("\u0080\u0002ccollections\nOrderedDict\n]\u0085R.")), "OrderedDict called with arguments");
    }

    /** A minimal valid state dict {"w": FloatStorage tensor of size [n] stride [1] at offset off}. */
    private static byte[] oneTensor(String size, int offset, int numel) {
        return pk("\u0080\u0002}X\u0001\u0000\u0000\u0000wctorch._utils\n_rebuild_tensor_v2\n"
            + "((X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0001\u0000\u0000\u00000X\u0003\u0000\u0000\u0000cpuK"
            + (char) numel + "tQK" + (char) offset + size + "\u0089}tRs.");
    }

    @Test
    void minimalHandWrittenStateDictLoads() throws IOException {
        Path f = zipWith("one.bin", oneTensor("K\u0002\u0085K\u0001\u0085", 1, 3), "0", "\u0000\u0000\u0080?\u0000\u0000\u0000@\u0000\u0000@@");
        try (TorchBinFile bin = TorchBinFile.open(f); Tensor w = bin.load("w")) {
            assertArrayEquals(new float[] {2f, 3f}, w.toFloatArray());
        }
    }

    @Test
    void inconsistentTensorsAndStoragesAreRejected() throws IOException {
        String data = "\u0000\u0000\u0080?\u0000\u0000\u0000@\u0000\u0000@@";
        assertRejected(zipWith("extent.bin", oneTensor("K\u0003\u0085K\u0001\u0085", 1, 3), "0", data), "reaches element 3", "has 3");
        assertRejected(zipWith("short.bin", oneTensor("K\u0002\u0085K\u0001\u0085", 1, 3), "0", "\u0000\u0000"), "needs 12 bytes", "holds 2");
        assertRejected(zipWith("missing.bin", oneTensor("K\u0002\u0085K\u0001\u0085", 1, 3)), "no entry archive/data/0");
        assertRejected(zipWith("strides.bin", oneTensor("K\u0002\u0085)", 1, 3), "0", data), "differ in length");
        assertRejected(zipWith("list.bin", pk("\u0080\u0002]q\u0000.")), "not a state dict");
        assertRejected(zipWith("nest.bin", nestedStateDict(), "0", data), "nested under 'model'");
        assertRejected(zipWith("stop.bin", pk("\u0080\u0002}")), "without a STOP");
        assertRejected(zipWith("long.bin", pk("\u0080\u0002X\u00ff\u00ff\u00ff\u007f.")), "runs past the end of the pickle");
        assertRejected(zipWith("memo.bin", pk("\u0080\u0002h\u0005.")), "memo entry 5");
    }

    private static byte[] nestedStateDict() {
        byte[] inner = oneTensor("K\u0002\u0085K\u0001\u0085", 1, 3);
        // {"model": <inner dict>}: PROTO, EMPTY_DICT, key, then inner without its PROTO and STOP, SETITEM, STOP
        String innerBody = new String(Arrays.copyOfRange(inner, 2, inner.length - 1), StandardCharsets.ISO_8859_1);
        return pk("\u0080\u0002}X\u0005\u0000\u0000\u0000model" + innerBody + "s.");
    }

    @Test
    void brokenFilesAreReported() throws IOException {
        byte[] good = Files.readAllBytes(crafted("strided.bin"));
        Path cut = dir.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(good, good.length - 30));
        assertRejected(cut, "end-of-central-directory");
        Path junk = dir.resolve("junk.bin");
        Files.write(junk, pk("hello world, not a checkpoint"));
        assertRejected(junk, "neither a zip");
        Path noPkl = dir.resolve("nopkl.bin");
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bos)) {
            stored(z, "archive/other", new byte[3]);
        }
        Files.write(noPkl, bos.toByteArray());
        assertRejected(noPkl, "without a PREFIX/data.pkl");
        // legacy-looking file whose first pickle is malicious
        Path legacy = dir.resolve("legacy_evil.bin");
        Files.write(legacy, pk("\u0080\u0002cos\nsystem\nX\u0002\u0000\u0000\u0000ls\u0085R."));
        assertRejected(legacy, "'os.system'");
        // legacy file truncated inside its storages
        byte[] lg = Files.readAllBytes(crafted("legacy.bin"));
        Path lcut = dir.resolve("legacy_cut.bin");
        Files.write(lcut, Arrays.copyOf(lg, lg.length - 10));
        assertRejected(lcut, "runs past the end of the file");
    }
}
