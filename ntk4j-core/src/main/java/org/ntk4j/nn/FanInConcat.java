package org.ntk4j.nn;

import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/** Concatenates its inputs along a per-example axis (default -1, the channels). */
public final class FanInConcat implements Layer {
    private final int axis;

    /**
     * A concatenation; the axis is resolved against the inputs' rank by {@link #outputShapes}.
     *
     * @param axis the per-example axis (excluding the example axis) to join along; negative counts from the end
     */
    public FanInConcat(int axis) {
        this.axis = axis;
    }

    @Override
    public String kind() {
        return "fan_in_concat";
    }

    /**
     * The axis this concatenation joins along, for per-example inputs of rank {@code rank}.
     *
     * @param rank the inputs' per-example rank (without the example axis)
     * @return the axis, 0 to rank − 1
     * @throws IllegalArgumentException if the axis is outside the rank
     */
    public int axis(int rank) {
        return resolve(rank);
    }

    private int resolve(int rank) {
        return Shapes.axis("fan_in_concat", axis, rank);
    }

    @Override
    public List<int[]> outputShapes(List<int[]> in) {
        int[] first = in.get(0);
        int a = resolve(first.length);
        int[] out = first.clone();
        out[a] = 0;
        for (int[] s : in) {
            if (s.length != first.length) {
                throw new IllegalArgumentException("fan_in_concat: inputs must have equal ranks, got "
                        + Shapes.str(first) + " and " + Shapes.str(s));
            }
            for (int i = 0; i < s.length; i++) {
                if (i != a && s[i] != first[i]) {
                    throw new IllegalArgumentException("fan_in_concat: inputs must agree except on axis " + axis
                            + ", got " + Shapes.str(first) + " and " + Shapes.str(s));
                }
            }
            out[a] += s[a];
        }
        return List.of(out);
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> in) {
        int a = resolve(in.get(0).rank() - 1) + 1;
        return List.of(Var.concatenate(a, in.toArray(new Var[0])));
    }
}
