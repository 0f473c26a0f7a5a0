package llava.models.conversation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A conversation in the prompt format of one template, with the behaviour of LLaVA 0.1.0's
 * {@code conversation.Conversation}: {@link #appendMessage}, {@link #prompt()} (get_prompt),
 * {@link #copy()}. A message whose text is null or empty is an open turn: the prompt ends with
 * the role and a colon (or just the role, for MPT) so that the model writes the reply.
 *
 * <p>Get templates from {@link ConversationTemplates}; each call returns a fresh copy.
 */
public final class Conversation {
    /** One turn: the role's display name (e.g. "USER", "Human") and its text (null: the turn to generate). */
    public record Message(String role, String text) {
        public Message {
            Objects.requireNonNull(role, "role");
        }
    }

    private final String system;
    private final List<String> roles;
    private final List<Message> messages;
    private final int offset;
    private final SeparatorStyle sepStyle;
    private final String sep;
    private final String sep2;
    private final String version;

    public Conversation(String system, List<String> roles, List<Message> messages, int offset, SeparatorStyle sepStyle,
                 String sep, String sep2, String version) {
        if (roles.size() != 2) throw new IllegalArgumentException("a conversation has two roles, got " + roles);
        if (sepStyle == SeparatorStyle.TWO && sep2 == null) throw new IllegalArgumentException("style TWO needs sep2");
        this.system = Objects.requireNonNull(system);
        this.roles = List.copyOf(roles);
        this.messages = new ArrayList<>(messages);
        this.offset = offset;
        this.sepStyle = Objects.requireNonNull(sepStyle);
        this.sep = Objects.requireNonNull(sep);
        this.sep2 = sep2;
        this.version = Objects.requireNonNull(version);
    }

    /** Adds a turn; {@code text} null leaves the turn open for the model to complete. */
    public Conversation appendMessage(String role, String text) {
        messages.add(new Message(role, text));
        return this;
    }

    /** Removes all turns, the few-shot examples of the template included ({@code conv.messages = []}). */
    public Conversation clearMessages() {
        messages.clear();
        return this;
    }

    /** The prompt text (get_prompt). */
    public String prompt() {
        StringBuilder sb = new StringBuilder(system);
        switch (sepStyle) {
            case SINGLE -> {
                sb.append(sep);
                for (Message m : messages) {
                    if (isOpen(m)) sb.append(m.role()).append(':');
                    else sb.append(m.role()).append(": ").append(m.text()).append(sep);
                }
            }
            case TWO -> {
                sb.append(sep);
                for (int i = 0; i < messages.size(); i++) {
                    Message m = messages.get(i);
                    if (isOpen(m)) sb.append(m.role()).append(':');
                    else sb.append(m.role()).append(": ").append(m.text()).append(i % 2 == 0 ? sep : sep2);
                }
            }
            case MPT -> {
                sb.append(sep);
                for (Message m : messages) {
                    if (isOpen(m)) sb.append(m.role());
                    else sb.append(m.role()).append(m.text()).append(sep);
                }
            }
        }
        return sb.toString();
    }

    /** Python's {@code if message:}: None and "" both leave the turn open. */
    private static boolean isOpen(Message m) {
        return m.text() == null || m.text().isEmpty();
    }

    /** The text that ends a reply: sep2 for style TWO, sep otherwise (as run_llava.py and the model worker choose it). */
    public String stopString() {
        return sepStyle == SeparatorStyle.TWO ? sep2 : sep;
    }

    public Conversation copy() {
        return new Conversation(system, roles, messages, offset, sepStyle, sep, sep2, version);
    }

    public String system() { return system; }

    /** The two roles: user first, assistant second. */
    public List<String> roles() { return roles; }

    public List<Message> messages() { return Collections.unmodifiableList(messages); }

    /** Number of leading few-shot messages that a chat front end does not show. */
    public int offset() { return offset; }

    public SeparatorStyle sepStyle() { return sepStyle; }

    public String sep() { return sep; }

    /** Second separator (style TWO), or null. */
    public String sep2() { return sep2; }

    /** "v1", "mpt" or "Unknown": selects the training preprocessing, as in upstream train.py. */
    public String version() { return version; }
}
