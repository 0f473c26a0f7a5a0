package llava.models.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import llava.core.io.SafetensorsFile;
import llava.core.io.SafetensorsWriter;
import llava.models.Fixtures;

/**
 * Makes the in-repo copies of the checkpoint fixtures from ../shared/fixtures: tiny-llava-v1 as a
 * 2-shard safetensors checkpoint (its 8 MiB model.safetensors is over the 5 MiB per-file limit)
 * written by {@link SafetensorsWriter} with tensors byte-identical to the original, plus its small
 * files; tiny-clip-vit-p14-56 as it is. Run from the models folder after test-compile:
 * {@code java -cp <test classpath> llava.models.checkpoint.FixtureCopies}.
 */
public final class FixtureCopies {
    private FixtureCopies() {}

    /** Shard size limit (bytes of tensor data, as transformers counts it). */
    static final long MAX_SHARD_BYTES = 5_000_000L;
    static final List<String> TINY_LLAVA_SMALL_FILES = List.of("added_tokens.json", "config.json", "generation_config.json",
        "special_tokens_map.json", "tokenizer.model", "tokenizer_config.json");
    static final List<String> TINY_CLIP_FILES = List.of("config.json", "preprocessor_config.json", "model.safetensors", "pytorch_model.bin");

    /** Writes the sharded copy of an original tiny-llava-v1/model.safetensors into out. */
    static List<Path> writeShardedTinyLlava(Path originalSafetensors, Path out) throws IOException {
        try (SafetensorsFile sf = SafetensorsFile.open(originalSafetensors)) {
            return SafetensorsWriter.writeSharded(out, "model.safetensors", sf, sf.keys(), sf.metadata(), MAX_SHARD_BYTES);
        }
    }

    public static void main(String[] args) throws IOException {
        Path shared = Fixtures.shared();
        if (shared == null) throw new IllegalStateException("../shared/fixtures is not present");
        Path root = Paths.get("src", "test", "resources", "fixtures").toAbsolutePath();
        Path llava = root.resolve("tiny-llava-v1");
        Files.createDirectories(llava);
        for (Path p : writeShardedTinyLlava(shared.resolve("tiny-llava-v1/model.safetensors"), llava)) System.out.println("wrote " + p);
        for (String f : TINY_LLAVA_SMALL_FILES) copy(shared.resolve("tiny-llava-v1").resolve(f), llava.resolve(f));
        Path clip = root.resolve("tiny-clip-vit-p14-56");
        Files.createDirectories(clip);
        for (String f : TINY_CLIP_FILES) copy(shared.resolve("tiny-clip-vit-p14-56").resolve(f), clip.resolve(f));
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        to.toFile().setWritable(true, true);
        System.out.println("copied " + to);
    }
}
