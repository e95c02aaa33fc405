package org.ntk4j.onnx;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** An imported ONNX graph as one ntk4j layer: parameters named as the file's initializers. */
final class OnnxLayer implements Layer {
    private final OnnxGraph graph;
    /** The parameters (initializer names, in file order) with their initialisation moments. */
    private final List<String> params;
    private final int[] outputShape;
    private final boolean independent;
    /** The nodes that broadcast a parameter to the examples' count, found at import (Tracer#followingExamples). */
    private final java.util.Set<String> followingExamples;
    /** Per parameter, the stored values' mean and standard deviation. */
    private final double[][] moments;
    /**
     * Graph constants of the initializers that are not parameters, per dtype; kept for the layer's life (bounded by
     * the file's initializers: the same for every batch size). Values computed during a trace are the trace's.
     */
    private final Map<DType, Map<String, Tensor>> constants = new ConcurrentHashMap<>();

    OnnxLayer(OnnxGraph graph, List<String> params, int[] outputShape, boolean independent,
              java.util.Set<String> followingExamples) {
        this.graph = graph;
        this.followingExamples = followingExamples;
        this.params = List.copyOf(params);
        this.outputShape = outputShape.clone();
        this.independent = independent;
        this.moments = new double[params.size()][];
        for (int i = 0; i < params.size(); i++) {
            moments[i] = moments(graph.initializers.get(params.get(i)));
        }
    }

    @Override
    public String kind() {
        return "onnx";
    }

    @Override
    public List<int[]> outputShapes(List<int[]> inputShapes) {
        if (inputShapes.size() != 1 || !java.util.Arrays.equals(inputShapes.get(0), graph.inputShape)) {
            throw new IllegalArgumentException(graph.file + ": the model's input '" + graph.inputName
                    + (graph.packed() ? "' (several inputs, packed per example) takes" : "' takes")
                    + " examples of shape " + Shapes.str(graph.inputShape) + " (its own layout), got "
                    + (inputShapes.size() == 1 ? Shapes.str(inputShapes.get(0)) : inputShapes.size() + " inputs"));
        }
        return List.of(outputShape.clone());
    }

    @Override
    public void declare(ParamScope scope, List<int[]> inputShapes) {
        for (int i = 0; i < params.size(); i++) {
            // a re-initialisation (Model.init) draws from the stored weights' mean and standard deviation
            scope.declare(params.get(i), graph.initializers.get(params.get(i)).shape, moments[i][1], moments[i][0]);
        }
    }

    private static double[] moments(InitializerData d) {
        int n = d.size();
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += d.get(i);
        }
        mean /= Math.max(n, 1);
        double sq = 0;
        for (int i = 0; i < n; i++) {
            sq += (d.get(i) - mean) * (d.get(i) - mean);
        }
        return new double[] {mean, Math.sqrt(sq / Math.max(n, 1))};
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> inputs) {
        Var x = inputs.get(0);
        Map<String, Var> values = new LinkedHashMap<>();
        for (String name : params) {
            values.put(name, scope.get(name));
        }
        Tracer t = new Tracer(graph, x.builder(), x.dtype(), values,
                constants.computeIfAbsent(x.dtype(), d -> new ConcurrentHashMap<>()), followingExamples);
        return List.of(t.run(x).var());
    }

    @Override
    public boolean independentExamples() {
        return independent;
    }
}
