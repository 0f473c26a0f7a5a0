package llava.core.nn;

import llava.core.F;
import llava.core.Generator;
import llava.core.Tensor;

/** Inverted dropout, active only in training mode. */
public class Dropout extends Module implements UnaryModule {
    public final double p;
    private final Generator gen;

    public Dropout(double p, Generator gen) {
        if (p < 0 || p >= 1) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        this.p = p;
        this.gen = gen;
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.dropout(x, p, isTraining(), gen);
    }

    @Override
    protected String describe() { return "[p=" + p + "]"; }
}
