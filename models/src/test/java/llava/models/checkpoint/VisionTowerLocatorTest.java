package llava.models.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import llava.models.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VisionTowerLocatorTest {
    @TempDir Path dir;

    private static final String REV = "8d052a0f05efbaefbc9e8786ba291cfdf93e5bff";

    /** A hub cache entry models--ORG--NAME with refs/main and one snapshot holding a config.json. */
    private static Path cacheEntry(Path cache, String repo, String rev, boolean withRef) throws IOException {
        Path r = cache.resolve("models--" + repo.replace("/", "--"));
        Path snap = r.resolve("snapshots").resolve(rev);
        Files.createDirectories(snap);
        Files.writeString(snap.resolve("config.json"), "{}");
        if (withRef) {
            Files.createDirectories(r.resolve("refs"));
            Files.writeString(r.resolve("refs/main"), rev + "\n");
        }
        return snap;
    }

    /** The fixture names its tower relative to the folder that contains the checkpoint. */
    @Test
    void fixtureTowerIsFoundNextToTheCheckpoint() throws IOException {
        try (CheckpointFolder ck = CheckpointFolder.open(Fixtures.path("tiny-llava-v1"))) {
            Path tower = VisionTowerLocator.locate(ck, Map.of(), dir, dir);
            assertEquals(Fixtures.path("tiny-clip-vit-p14-56").toAbsolutePath().normalize(), tower);
            try (CheckpointFolder t = CheckpointFolder.open(tower)) {
                assertEquals("clip_vision_model", t.config().get("model_type").asText());
            }
        }
    }

    @Test
    void localPathsAbsoluteOrRelativeToTheWorkingDirectory() throws IOException {
        Path tower = Files.createDirectories(dir.resolve("towers/clip"));
        Files.writeString(tower.resolve("config.json"), "{}");
        Path ck = Files.createDirectories(dir.resolve("ckpts/llava"));
        assertEquals(tower, VisionTowerLocator.resolve(tower.toString(), "test", ck, Map.of(), dir, Path.of("/")));
        assertEquals(tower, VisionTowerLocator.resolve("towers/clip", "test", ck, Map.of(), dir, dir));
        assertEquals(tower, VisionTowerLocator.resolve("~/towers/clip", "test", ck, Map.of(), dir, Path.of("/")));
    }

    @Test
    void hubIdsResolveInTheCacheByItsVariables() throws IOException {
        Path ck = Files.createDirectories(dir.resolve("ckpt"));
        Path home = Files.createDirectories(dir.resolve("home"));
        String id = "openai/clip-vit-large-patch14";
        // default: ~/.cache/huggingface/hub
        Path snapDefault = cacheEntry(home.resolve(".cache/huggingface/hub"), id, REV, true);
        assertEquals(snapDefault, VisionTowerLocator.resolve(id, "test", ck, Map.of(), home, dir));
        // HF_HOME/hub is looked at before the default
        Path snapHfHome = cacheEntry(dir.resolve("hfhome/hub"), id, REV, true);
        assertEquals(snapHfHome, VisionTowerLocator.resolve(id, "test", ck, Map.of("HF_HOME", dir.resolve("hfhome").toString()), home, dir));
        // HUGGINGFACE_HUB_CACHE before HF_HOME; a snapshot without refs/main is used when it is the only one
        Path snapLegacy = cacheEntry(dir.resolve("legacy-cache"), id, "abc123", false);
        assertEquals(snapLegacy, VisionTowerLocator.resolve(id, "test", ck,
            Map.of("HF_HOME", dir.resolve("hfhome").toString(), "HUGGINGFACE_HUB_CACHE", dir.resolve("legacy-cache").toString()), home, dir));
        // refs/main picks its snapshot among several
        Path other = cacheEntry(dir.resolve("hfhome/hub"), id, "0000000000000000000000000000000000000000", false);
        assertTrue(Files.isDirectory(other));
        assertEquals(snapHfHome, VisionTowerLocator.resolve(id, "test", ck, Map.of("HF_HOME", dir.resolve("hfhome").toString()), home, dir));
    }

    @Test
    void failureListsEverythingTried() throws IOException {
        Path ck = Files.createDirectories(dir.resolve("parent/ckpt"));
        Files.createDirectories(dir.resolve("parent/openai/clip-vit-large-patch14")); // exists, but no config.json
        IOException e = assertThrows(IOException.class, () -> VisionTowerLocator.resolve("openai/clip-vit-large-patch14",
            "mm_vision_tower in x/config.json", ck, Map.of("HF_HOME", dir.resolve("hf").toString()), dir.resolve("home"), dir));
        String m = e.getMessage();
        assertTrue(m.contains("'openai/clip-vit-large-patch14' (mm_vision_tower in x/config.json)"), m);
        assertTrue(m.contains(dir.resolve("openai/clip-vit-large-patch14") + " (as given: does not exist)"), m);
        assertTrue(m.contains(dir.resolve("parent/openai/clip-vit-large-patch14") + " (relative to the checkpoint's parent folder: a folder without config.json)"), m);
        assertTrue(m.contains(dir.resolve("hf/hub/models--openai--clip-vit-large-patch14") + " (hub cache entry does not exist)"), m);
        assertTrue(m.contains(dir.resolve("home/.cache/huggingface/hub/models--openai--clip-vit-large-patch14").toString()), m);
        // a broken ref is reported, not followed
        Path repo = Files.createDirectories(dir.resolve("hf/hub/models--openai--clip-vit-large-patch14/refs"));
        Files.writeString(repo.resolve("main"), "../../../etc");
        IOException e2 = assertThrows(IOException.class, () -> VisionTowerLocator.resolve("openai/clip-vit-large-patch14", "t", ck,
            Map.of("HF_HOME", dir.resolve("hf").toString()), dir.resolve("home"), dir));
        assertTrue(e2.getMessage().contains("does not hold a revision"), e2.getMessage());
    }

    @Test
    void checkpointWithoutTowerSaysSo() throws IOException {
        try (CheckpointFolder ck = CheckpointFolder.open(Fixtures.path("tiny-clip-vit-p14-56"))) {
            IOException e = assertThrows(IOException.class, () -> VisionTowerLocator.locate(ck, Map.of(), dir, dir));
            assertTrue(e.getMessage().contains("names no vision tower"), e.getMessage());
        }
    }
}
