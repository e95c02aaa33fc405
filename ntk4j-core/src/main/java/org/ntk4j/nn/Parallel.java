package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.graph.Var;

/** Applies layer i to input i (after a {@code fanOut}); sub-layer i has path prefix {@code i_kind/}. */
public final class Parallel implements Layer {
    private final List<Layer> layers;

    /**
     * A parallel block.
     *
     * @param layers the branches, one per input, copied; at least one
     * @throws IllegalArgumentException if {@code layers} is empty
     */
    public Parallel(List<Layer> layers) {
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("parallel: needs at least one layer");
        }
        this.layers = List.copyOf(layers);
    }

    /**
     * The branches, branch i applied to input i.
     *
     * @return an unmodifiable list of the branches
     */
    public List<Layer> layers() {
        return layers;
    }

    @Override
    public String kind() {
        return "parallel";
    }

    private void check(int n) {
        if (n != layers.size()) {
            throw new IllegalArgumentException("parallel: has " + layers.size() + " branches but receives " + n
                    + " inputs (precede it with fanOut(" + layers.size() + "))");
        }
    }

    @Override
    public List<int[]> outputShapes(List<int[]> in) {
        check(in.size());
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            out.addAll(layers.get(i).outputShapes(List.of(in.get(i))));
        }
        return out;
    }

    @Override
    public void declare(ParamScope scope, List<int[]> in) {
        check(in.size());
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            l.declare(scope.child(Serial.childName(i, l)), List.of(in.get(i)));
        }
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> in) {
        check(in.size());
        List<Var> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            out.addAll(l.apply(scope.child(Serial.childName(i, l)), List.of(in.get(i))));
        }
        return out;
    }

    @Override
    public boolean independentExamples() {
        return layers.stream().allMatch(Layer::independentExamples);
    }

    @Override
    public String toString() {
        return "parallel" + layers;
    }
}
