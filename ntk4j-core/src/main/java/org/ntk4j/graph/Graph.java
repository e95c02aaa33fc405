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
     * {@link Var}s is recorded as an equation. Equations the returned outputs do not depend on are dropped.
     *
     * @param inputTypes the type of each graph input, in order
     * @param fn the function to trace; it receives one {@link Var} per input type and returns the outputs, which
     *           must be variables of the same trace
     * @return the traced graph
     * @throws IllegalArgumentException when an operation in {@code fn} gets operands of types it does not accept,
     *         or an output belongs to another graph
     */
    public static Graph trace(List<TensorType> inputTypes, Function<Var[], Var[]> fn) {
        GraphBuilder b = new GraphBuilder();
        Var[] in = new Var[inputTypes.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = b.input(inputTypes.get(i));
        }
        return b.build(fn.apply(in));
    }

    /**
     * The graph's inputs, in the order {@link #evaluate} takes the arguments.
     *
     * @return an unmodifiable list of the input variables
     */
    public List<Var> inputs() {
        return inputs;
    }

    /**
     * The equations in evaluation order: each reads only inputs, constants and outputs of earlier equations.
     *
     * @return an unmodifiable list of the equations
     */
    public List<Equation> equations() {
        return equations;
    }

    /**
     * The graph's outputs, in the order {@link #evaluate} returns them; an output may be an input, a constant, or
     * appear more than once.
     *
     * @return an unmodifiable list of the output variables
     */
    public List<Var> outputs() {
        return outputs;
    }

    /**
     * Constant values by their variables. The tensors belong to whoever created the constants; the graph neither
     * copies nor closes them.
     *
     * @return an unmodifiable identity map from constant variable to its value
     */
    public Map<Var, Tensor> constants() {
        return constants;
    }

    /**
     * Evaluates the graph on the CPU through {@link Evaluator#run}.
     *
     * @param args one tensor per graph input, each of exactly that input's dtype and shape; not closed
     * @return one new tensor per output, owned by the caller, who should close them
     * @throws IllegalArgumentException when the number, dtype or shape of the arguments does not match the inputs,
     *         or a primitive refuses its operand values
     */
    public Tensor[] evaluate(Tensor... args) {
        return Evaluator.run(this, args);
    }

    /** The readable, jaxpr-like listing of the graph. */
    @Override
    public String toString() {
        return GraphPrinter.print(this);
    }
}
