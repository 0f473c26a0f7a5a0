package llava.models.conversation;

/** How a conversation template joins its turns (LLaVA 0.1.0's conversation.SeparatorStyle). */
public enum SeparatorStyle {
    /** {@code system + sep}, then {@code role + ": " + message + sep} per turn ("###" templates). */
    SINGLE,
    /** Like SINGLE, but turns alternate between {@code sep} and {@code sep2} (Vicuna v1.1: " " and "</s>"). */
    TWO,
    /** {@code system + sep}, then {@code role + message + sep}; roles carry their own markup (MPT chat). */
    MPT
}
