package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.graph.Var;

/** Layers applied one after another. Sub-layer i has parameter path prefix {@code i_kind/}. */
public final class Serial implements Layer {
    private final List<Layer> layers;

    /**
     * A serial block.
     *
     * @param layers the layers in application order, copied
     */
    public Serial(List<Layer> layers) {
        this.layers = List.copyOf(layers);
    }

    /**
     * The layers, in application order.
     *
     * @return an unmodifiable list of the layers
     */
    public List<Layer> layers() {
        return layers;
    }

    /** The parameter path prefix of sub-layer {@code i}. */
    static String childName(int i, Layer l) {
        return i + "_" + l.kind();
    }

    @Override
    public String kind() {
        return "serial";
    }

    @Override
    public List<int[]> outputShapes(List<int[]> in) {
        List<int[]> s = in;
        for (Layer l : layers) {
            s = l.outputShapes(s);
        }
        return s;
    }

    @Override
    public void declare(ParamScope scope, List<int[]> in) {
        List<int[]> s = in;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            l.declare(scope.child(childName(i, l)), s);
            s = l.outputShapes(s);
        }
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> in) {
        List<Var> v = in;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            v = l.apply(scope.child(childName(i, l)), v);
        }
        return v;
    }

    @Override
    public boolean independentExamples() {
        return layers.stream().allMatch(Layer::independentExamples);
    }

    @Override
    public String toString() {
        return "serial" + layers;
    }
}
