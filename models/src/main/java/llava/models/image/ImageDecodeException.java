package llava.models.image;

import java.io.IOException;

/**
 * An image file that cannot be turned into pixels: missing, unreadable, truncated, corrupt, of an
 * unsupported kind, or over the pixel limit. The message names the file and the problem.
 */
public class ImageDecodeException extends IOException {
    public ImageDecodeException(String source, String problem) {
        super(source + ": " + problem);
    }

    public ImageDecodeException(String source, String problem, Throwable cause) {
        super(source + ": " + problem, cause);
    }
}
