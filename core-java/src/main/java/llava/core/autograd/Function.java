package llava.core.autograd;

import java.util.HashMap;
import java.util.Map;
import llava.core.Tensor;

/**
 * A user-defined differentiable function, like torch.autograd.Function:
 *
 * <pre>{@code
 * class Cube extends Function {
 *     protected Tensor forward(Context ctx, Tensor... in) { ctx.save(in[0]); return in[0].pow(3); }
 *     protected Tensor[] backward(Context ctx, Tensor g) { return new Tensor[] {g.mul(ctx.saved(0).square()).mul(3)}; }
 * }
 * Tensor y = new Cube().apply(x);
 * }</pre>
 * forward runs without recording; backward runs with grad mode off.
 */
public abstract class Function {

    /** What forward passes to backward. */
    public static final class Context {
        private Tensor[] saved = new Tensor[0];
        private final Map<String, Object> values = new HashMap<>();
        private SavedContext node;

        /** Saves tensors for backward (they are kept alive until backward has run). */
        public void save(Tensor... ts) { saved = ts.clone(); }

        public Tensor saved(int i) { return node.saved(i); }

        /** Non-tensor values (shapes, flags). */
        public void put(String key, Object v) { values.put(key, v); }

        @SuppressWarnings("unchecked")
        public <T> T get(String key) { return (T) values.get(key); }

        /** Whether input i needs a gradient (valid in backward). */
        public boolean needsInputGrad(int i) { return node.needs(i); }
    }

    protected abstract Tensor forward(Context ctx, Tensor... inputs);

    /** One gradient per input (null where not needed). */
    protected abstract Tensor[] backward(Context ctx, Tensor gradOutput);

    public final Tensor apply(Tensor... inputs) {
        Context ctx = new Context();
        Tensor out;
        try (GradMode ng = GradMode.noGrad()) {
            out = forward(ctx, inputs);
        }
        return Autograd.record(getClass().getSimpleName() + "Backward", out, inputs, ctx.saved, (sc, g) -> {
            ctx.node = sc;
            return backward(ctx, g);
        });
    }
}
