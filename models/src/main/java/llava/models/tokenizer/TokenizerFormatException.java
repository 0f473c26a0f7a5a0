package llava.models.tokenizer;

import java.io.IOException;

/** A tokenizer file that cannot be used: corrupt, malformed or unsupported. The message names the file. */
public class TokenizerFormatException extends IOException {
    public TokenizerFormatException(String message) {
        super(message);
    }

    public TokenizerFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
