package llava.models.llava;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.nn.Init;
import llava.models.ConfigJson;
import llava.models.ModelWeights;
import llava.models.checkpoint.CheckpointFolder;
import llava.models.checkpoint.VisionTowerLocator;
import llava.models.clip.ClipVisionConfig;
import llava.models.clip.ClipVisionTower;

/** Loads a LLaVA checkpoint folder (original LLaVA layout) with its vision tower. */
public final class LlavaLoader {
    private LlavaLoader() {}

    public static LlavaModel load(Path dir, DType dtype, Device device) throws IOException {
        JsonNode cfgJson = ConfigJson.read(dir.resolve("config.json"));
        LlavaConfig cfg = LlavaConfig.fromJson(cfgJson);
        LlavaModel.ImageTokens tokens = imageTokens(dir);
        LlavaModel model;
        try (AutoCloseable skip = Init.skip()) {
            model = new LlavaModel(cfg, tokens, dtype, device, new Generator(0));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        try (CheckpointFolder src = CheckpointFolder.open(dir)) {
            ModelWeights.load(model, src, k -> k, k -> k.endsWith(".rotary_emb.inv_freq"), dtype, device,
                "LLaVA checkpoint " + dir);
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
        if (cfg.visionTower() != null) {
            Path towerDir = VisionTowerLocator.resolve(cfg.visionTower(), "mm_vision_tower in " + dir.resolve("config.json"), dir);
            model.setVisionTower(loadVisionTower(towerDir, dtype, device));
        }
        return model;
    }

    /** A CLIP vision tower from a CLIPVisionModel or CLIPModel folder (text weights ignored). */
    public static ClipVisionTower loadVisionTower(Path dir, DType dtype, Device device) throws IOException {
        ClipVisionConfig c = ClipVisionConfig.fromJson(ConfigJson.read(dir.resolve("config.json")));
        ClipVisionTower tower;
        try (AutoCloseable skip = Init.skip()) {
            tower = new ClipVisionTower(c, dtype, device, new Generator(0));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        try (CheckpointFolder src = CheckpointFolder.open(dir)) {
            ModelWeights.load(tower, src, k -> k,
                k -> !k.startsWith("vision_model.") || k.equals("vision_model.embeddings.position_ids"),
                dtype, device, "vision tower " + dir);
        } catch (IOException | RuntimeException e) {
            tower.close();
            throw e;
        }
        return tower;
    }

    /** Image token ids from added_tokens.json (<im_patch>, <im_start>, <im_end>). */
    static LlavaModel.ImageTokens imageTokens(Path dir) throws IOException {
        Path f = dir.resolve("added_tokens.json");
        int patch = -1, start = -1, end = -1;
        if (Files.isRegularFile(f)) {
            JsonNode n = ConfigJson.read(f);
            patch = ConfigJson.optInt(n, "<im_patch>", -1);
            start = ConfigJson.optInt(n, "<im_start>", -1);
            end = ConfigJson.optInt(n, "<im_end>", -1);
        }
        return new LlavaModel.ImageTokens(patch, start, end);
    }
}
