package org.ntk4j.nn;

import java.util.Arrays;
import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Sums its inputs (the end of a residual block); all must have the same shape. */
public final class FanInSum implements Layer {
    @Override
    public String kind() {
        return "fan_in_sum";
    }

    @Override
    public List<int[]> outputShapes(List<int[]> in) {
        for (int[] s : in) {
            if (!Arrays.equals(s, in.get(0))) {
                throw new IllegalArgumentException("fan_in_sum: inputs must have equal shapes, got "
                        + Shapes.str(in.get(0)) + " and " + Shapes.str(s));
            }
        }
        return List.of(in.get(0));
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> in) {
        Var s = in.get(0);
        for (int i = 1; i < in.size(); i++) {
            s = s.add(in.get(i));
        }
        return List.of(s);
    }
}
