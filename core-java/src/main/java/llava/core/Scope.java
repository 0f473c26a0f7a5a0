package llava.core;

import java.util.ArrayList;

/**
 * Deterministic release of intermediates. Every tensor created while a scope is open on this
 * thread belongs to the innermost scope; closing the scope closes every tensor it still owns.
 * {@link #keep} hands a tensor to the enclosing scope (or to the caller, when there is none).
 *
 * <pre>{@code
 * try (Scope s = Scope.open()) {
 *     Tensor h = x.matmul(w).relu();       // freed when s closes
 *     return s.keep(h.sum());              // survives
 * }
 * }</pre>
 *
 * Scopes nest and must be closed in reverse order of opening (try-with-resources does that).
 * Tensors created outside any scope are owned by the caller, who closes them.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final Scope parent;
    private final ArrayList<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Scope(Scope parent) {
        this.parent = parent;
    }

    public static Scope open() {
        Scope s = new Scope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /** The innermost open scope of this thread, or null. */
    public static Scope current() {
        return CURRENT.get();
    }

    static void register(Tensor t) {
        Scope s = CURRENT.get();
        if (s != null) {
            t.owner = s;
            s.owned.add(t);
        }
    }

    /** Moves t to the enclosing scope (or makes it unmanaged when there is none) and returns it. */
    public <T extends Tensor> T keep(T t) {
        if (t.owner == this) {
            t.owner = parent;
            if (parent != null) parent.owned.add(t);
        }
        return t;
    }

    /** Keeps several tensors. */
    public void keep(Tensor... ts) {
        for (Tensor t : ts) if (t != null) keep(t);
    }

    /** Removes t from whatever scope owns it: the caller now closes it. */
    public static <T extends Tensor> T detach(T t) {
        t.owner = null;
        return t;
    }

    /** Number of live tensors this scope owns (for diagnostics). */
    public int liveCount() {
        int n = 0;
        for (Tensor t : owned) if (t.owner == this && !t.isClosed()) n++;
        return n;
    }

    @Override
    public void close() {
        if (closed) return;
        if (CURRENT.get() != this) {
            throw new IllegalStateException("scopes must be closed in the reverse order of opening");
        }
        closed = true;
        CURRENT.set(parent);
        RuntimeException first = null;
        for (Tensor t : owned) {
            if (t.owner == this) {
                try {
                    t.close();
                } catch (RuntimeException e) {
                    if (first == null) first = e;
                }
            }
        }
        owned.clear();
        if (first != null) throw first;
    }
}
