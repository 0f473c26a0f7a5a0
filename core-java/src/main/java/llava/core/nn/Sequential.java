package llava.core.nn;

import llava.core.Scope;
import llava.core.Tensor;

/** Applies its children in order; intermediate outputs are freed as it goes. */
public class Sequential extends ModuleList<Module> implements UnaryModule {

    @SuppressWarnings("unchecked")
    public <M extends Module & UnaryModule> Sequential(M... modules) {
        for (M m : modules) add(m);
    }

    @Override
    public Module add(Module m) {
        if (!(m instanceof UnaryModule)) {
            throw new IllegalArgumentException("Sequential takes UnaryModules, got " + m.getClass().getSimpleName());
        }
        return super.add(m);
    }

    @Override
    public Tensor forward(Tensor x) {
        try (Scope s = Scope.open()) {
            Tensor h = x;
            for (Module m : this) h = ((UnaryModule) m).forward(h);
            return s.keep(h == x ? x.alias() : h);
        }
    }
}
