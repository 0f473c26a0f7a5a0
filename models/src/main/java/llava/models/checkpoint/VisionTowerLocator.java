package llava.models.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds the vision tower of an original-layout LLaVA checkpoint. Its config.json names the tower
 * in {@code mm_vision_tower} (older: {@code vision_tower}) as upstream passes it to
 * {@code CLIPVisionModel.from_pretrained}: a local path (absolute, or relative to the working
 * directory), a path relative to the folder that contains the checkpoint (how the tiny fixture
 * refers to its tower) or to the checkpoint folder itself, or a HuggingFace hub id ("openai/clip-vit-large-patch14") already
 * downloaded into a hub cache ({@code models--ORG--NAME/snapshots/REV/} with
 * {@code refs/main} naming REV). A candidate counts when it is a folder with a config.json.
 */
public final class VisionTowerLocator {
    private VisionTowerLocator() {}

    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9._-]+");

    /** The vision tower folder of a checkpoint, using this process's environment and directories. */
    public static Path locate(CheckpointFolder checkpoint) throws IOException {
        return locate(checkpoint, System.getenv(), Paths.get(System.getProperty("user.home")), Paths.get("").toAbsolutePath());
    }

    /** {@link #locate(CheckpointFolder)} with explicit environment, home and working directory (for tests). */
    public static Path locate(CheckpointFolder checkpoint, Map<String, String> env, Path home, Path workingDir) throws IOException {
        JsonNode cfg = checkpoint.config();
        String key = cfg.hasNonNull("mm_vision_tower") ? "mm_vision_tower" : "vision_tower";
        JsonNode v = cfg.get(key);
        Path configFile = checkpoint.folder().resolve(CheckpointFolder.CONFIG);
        if (v == null || !v.isTextual() || v.textValue().isBlank()) {
            throw new IOException(configFile + " names no vision tower (no mm_vision_tower string); is this an original-layout LLaVA checkpoint?");
        }
        return resolve(v.textValue(), "mm_vision_tower in " + configFile, checkpoint.folder(), env, home, workingDir);
    }

    /** {@link #resolve(String, String, Path, Map, Path, Path)} with this process's environment and directories. */
    public static Path resolve(String spec, String origin, Path checkpointFolder) throws IOException {
        return resolve(spec, origin, checkpointFolder, System.getenv(), Paths.get(System.getProperty("user.home")),
            Paths.get("").toAbsolutePath());
    }

    /**
     * Resolves a vision tower name; {@code origin} says where the name came from, for the error,
     * which lists every place tried and why it did not fit.
     */
    public static Path resolve(String spec, String origin, Path checkpointFolder, Map<String, String> env, Path home,
                               Path workingDir) throws IOException {
        List<String> tried = new ArrayList<>();
        Path asPath = null;
        try {
            asPath = Paths.get(expandHome(spec, home));
        } catch (InvalidPathException e) {
            tried.add("'" + spec + "' as a path (not a valid path)");
        }
        if (asPath != null) {
            Path local = asPath.isAbsolute() ? asPath : workingDir.resolve(asPath);
            Path found = check(local, "as given", tried);
            if (found != null) return found;
            Path parent = checkpointFolder.toAbsolutePath().normalize().getParent();
            if (!asPath.isAbsolute() && parent != null) {
                found = check(parent.resolve(asPath), "relative to the checkpoint's parent folder", tried);
                if (found != null) return found;
                found = check(checkpointFolder.resolve(asPath), "inside the checkpoint folder", tried);
                if (found != null) return found;
            }
        }
        if (HUB_ID.matcher(spec).matches() && !spec.contains("..")) {
            String repoDir = "models--" + spec.replace("/", "--");
            for (Path cache : hubCaches(env, home)) {
                Path found = fromCache(cache.resolve(repoDir), tried);
                if (found != null) return found;
            }
        } else {
            tried.add("the HuggingFace caches ('" + spec + "' is not a hub id)");
        }
        StringBuilder sb = new StringBuilder("cannot find the vision tower '" + spec + "' (" + origin + "); tried:");
        for (String t : tried) sb.append("\n  - ").append(t);
        sb.append("\nDownload it (e.g. huggingface-cli download ").append(spec)
            .append("), point HF_HOME / HF_HUB_CACHE at the cache that holds it, or set mm_vision_tower to its folder.");
        throw new IOException(sb.toString());
    }

    /** Hub cache folders in the order huggingface_hub and transformers 4.28 consult their variables. */
    static List<Path> hubCaches(Map<String, String> env, Path home) {
        Set<Path> out = new LinkedHashSet<>();
        for (String var : new String[] {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"}) {
            String v = env.get(var);
            if (v != null && !v.isBlank()) out.add(Paths.get(expandHome(v, home)));
        }
        String hfHome = env.get("HF_HOME");
        if (hfHome != null && !hfHome.isBlank()) out.add(Paths.get(expandHome(hfHome, home)).resolve("hub"));
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) out.add(Paths.get(expandHome(xdg, home)).resolve("huggingface").resolve("hub"));
        out.add(home.resolve(".cache").resolve("huggingface").resolve("hub"));
        return new ArrayList<>(out);
    }

    /** The snapshot refs/main points at (or the only snapshot when there is no ref). */
    private static Path fromCache(Path repo, List<String> tried) throws IOException {
        if (!Files.isDirectory(repo)) {
            tried.add(repo + " (hub cache entry does not exist)");
            return null;
        }
        Path snapshots = repo.resolve("snapshots");
        Path ref = repo.resolve("refs").resolve("main");
        if (Files.isRegularFile(ref)) {
            String rev = Files.readString(ref).trim();
            if (!REVISION.matcher(rev).matches() || rev.length() > 100) {
                tried.add(ref + " (does not hold a revision)");
                return null;
            }
            return check(snapshots.resolve(rev), "snapshot named by " + ref, tried);
        }
        List<Path> revs = new ArrayList<>();
        if (Files.isDirectory(snapshots)) {
            try (Stream<Path> s = Files.list(snapshots)) {
                s.filter(Files::isDirectory).forEach(revs::add);
            }
        }
        if (revs.size() == 1) return check(revs.get(0), "the only snapshot, no refs/main", tried);
        tried.add(repo + " (no refs/main and " + revs.size() + " snapshots)");
        return null;
    }

    private static Path check(Path candidate, String how, List<String> tried) {
        Path p = candidate.toAbsolutePath().normalize();
        if (!Files.isDirectory(p)) {
            tried.add(p + " (" + how + ": does not exist)");
            return null;
        }
        if (!Files.isRegularFile(p.resolve(CheckpointFolder.CONFIG))) {
            tried.add(p + " (" + how + ": a folder without config.json)");
            return null;
        }
        return p;
    }

    private static String expandHome(String s, Path home) {
        if (s.equals("~")) return home.toString();
        if (s.startsWith("~/")) return home.resolve(s.substring(2)).toString();
        return s;
    }
}
