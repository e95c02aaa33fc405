package org.ntk4j.nn;

import java.util.Collections;
import java.util.List;
import org.ntk4j.graph.Var;

/** Copies one input into {@code n} (the start of a residual or multi-branch block). */
public final class FanOut implements Layer {
    private final int n;

    /**
     * A fan-out.
     *
     * @param n the number of copies, at least 1
     * @throws IllegalArgumentException if {@code n} &lt; 1
     */
    public FanOut(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("fan_out: the number of branches must be >= 1, got " + n);
        }
        this.n = n;
    }

    @Override
    public String kind() {
        return "fan_out";
    }

    @Override
    public List<int[]> outputShapes(List<int[]> in) {
        if (in.size() != 1) {
            throw new IllegalArgumentException("fan_out: expects one input, got " + in.size());
        }
        return Collections.nCopies(n, in.get(0));
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> in) {
        return Collections.nCopies(n, in.get(0));
    }
}
