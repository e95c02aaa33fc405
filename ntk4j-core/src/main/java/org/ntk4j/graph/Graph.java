package org.ntk4j.graph;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.ntk4j.tensor.Tensor;

/**
 * A traced program: typed inputs, a list of primitive equations in evaluation order, constants, and outputs.
 * Shapes are static, so the cost of running it (FLOPs, bytes) is known before anything runs. Graphs are
 * immutable; transformations (JVP, VJP, the NTK methods) build new graphs.
 */
public final class Graph {
    private final List<Var> inputs;
    private final List<Equation> equations;
    private final List<Var> outputs;
    private final Map<Var, Tensor> constants;

    Graph(List<Var> inputs, List<Equation> equations, List<Var> outputs, Map<Var, Tensor> constants) {
        this.inputs = Collections.unmodifiableList(inputs);
        this.equations = Collections.unmodifiableList(equations);
        this.outputs = Collections.unmodifiableList(outputs);
        this.constants = Collections.unmodifiableMap(new IdentityHashMap<>(constants));
    }

    /**
     * Traces {@code fn} on symbolic inputs of the given types: every operation it applies to the
     * {@link Var}s is recorded as an equation.
     */
    public static Graph trace(List<TensorType> inputTypes, Function<Var[], Var[]> fn) {
        GraphBuilder b = new GraphBuilder();
        Var[] in = new Var[inputTypes.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = b.input(inputTypes.get(i));
        }
        return b.build(fn.apply(in));
    }

    public List<Var> inputs() {
        return inputs;
    }

    public List<Equation> equations() {
        return equations;
    }

    public List<Var> outputs() {
        return outputs;
    }

    /** Constant values by their variables. */
    public Map<Var, Tensor> constants() {
        return constants;
    }

    /** Evaluates the graph on the CPU; the caller owns (and should close) the returned tensors. */
    public Tensor[] evaluate(Tensor... args) {
        return Evaluator.run(this, args);
    }

    /** The readable, jaxpr-like listing of the graph. */
    @Override
    public String toString() {
        return GraphPrinter.print(this);
    }
}
