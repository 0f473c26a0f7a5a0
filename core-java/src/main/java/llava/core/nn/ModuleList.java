package llava.core.nn;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Children named "0", "1", ... (as torch.nn.ModuleList, so names match state-dict keys). */
public class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final List<M> items = new ArrayList<>();

    public M add(M m) {
        registerModule(Integer.toString(items.size()), m);
        items.add(m);
        return m;
    }

    public M get(int i) { return items.get(i); }
    public int size() { return items.size(); }

    @Override
    public Iterator<M> iterator() { return items.iterator(); }
}
