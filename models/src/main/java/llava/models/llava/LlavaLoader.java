package llava.models.llava;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import llava.core.DType;
import llava.core.Device;
import llava.core.Generator;
import llava.core.io.TensorSource;
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
        return load(dir, dtype, device, c -> c);
    }

    /** Loads with the config adjusted first (e.g. mm_use_im_start_end overridden at run time). */
    public static LlavaModel load(Path dir, DType dtype, Device device, java.util.function.UnaryOperator<LlavaConfig> adjust)
            throws IOException {
        JsonNode cfgJson = ConfigJson.read(dir.resolve("config.json"));
        LlavaConfig cfg = adjust.apply(LlavaConfig.fromJson(cfgJson));
        try (CheckpointFolder src = CheckpointFolder.open(dir)) {
            CheckpointLayout layout = CheckpointLayout.detect(src.keys());
            LlavaModel.ImageTokens tokens = layout.holdsVisionTower()
                ? new LlavaModel.ImageTokens(ConfigJson.optInt(cfgJson, "image_token_index", 32000), -1, -1)
                : imageTokens(dir);
            LlavaModel model;
            try (Init.SkipBlock skip = Init.skip()) {
                model = new LlavaModel(cfg, tokens, dtype, device, new Generator(0));
            }
            try {
                ModelWeights.load(model, src, layout::checkpointName, layout::ignoredByLanguageModel, dtype, device,
                    layout.name() + " checkpoint " + dir);
                if (layout.holdsVisionTower()) {
                    model.setVisionTower(loadVisionTower(ClipVisionConfig.fromJson(cfgJson), src, layout.towerPrefix(), dtype, device), dir);
                } else if (cfg.visionTower() != null) {
                    Path towerDir = VisionTowerLocator.resolve(cfg.visionTower(), "mm_vision_tower in " + dir.resolve("config.json"), dir);
                    model.setVisionTower(loadVisionTower(towerDir, dtype, device), towerDir);
                }
            } catch (IOException | RuntimeException e) {
                model.close();
                throw e;
            }
            return model;
        }
    }

    /** A CLIP vision tower from a CLIPVisionModel or CLIPModel folder (text weights ignored). */
    public static ClipVisionTower loadVisionTower(Path dir, DType dtype, Device device) throws IOException {
        ClipVisionConfig c = ClipVisionConfig.fromJson(ConfigJson.read(dir.resolve("config.json")));
        try (CheckpointFolder src = CheckpointFolder.open(dir)) {
            return loadVisionTower(c, src, "", dtype, device);
        }
    }

    /** The tower's tensors from source, under prefix + "vision_model." (other keys ignored). */
    static ClipVisionTower loadVisionTower(ClipVisionConfig c, TensorSource src, String prefix, DType dtype, Device device)
            throws IOException {
        ClipVisionTower tower;
        try (Init.SkipBlock skip = Init.skip()) {
            tower = new ClipVisionTower(c, dtype, device, new Generator(0));
        }
        try {
            ModelWeights.load(tower, src, k -> prefix + k,
                k -> !k.startsWith(prefix + "vision_model.") || k.equals(prefix + "vision_model.embeddings.position_ids"),
                dtype, device, "vision tower in " + src.describe());
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
