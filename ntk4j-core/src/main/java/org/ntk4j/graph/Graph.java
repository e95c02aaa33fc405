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
    /** What {@link Evaluator#run} reads each time, computed at the first run (a race computes it twice, alike). */
    private volatile Schedule schedule;

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
     * This graph with each output listed once, where it first appears. {@link #evaluate} hands out a copy for each
     * repeat of an output (every output tensor is the caller's own), so a graph read by position that lists a value
     * several times — cotangents at values that an identity-like VJP (an addition, a reshape) connects are the
     * same variable — pays for that value again each time.
     *
     * @return this graph when no output repeats, else one with the same inputs, equations and constants
     */
    public Graph distinctOutputs() {
        Map<Var, Boolean> seen = new IdentityHashMap<>();
        List<Var> unique = new java.util.ArrayList<>();
        for (Var v : outputs) {
            if (seen.put(v, Boolean.TRUE) == null) {
                unique.add(v);
            }
        }
        return unique.size() == outputs.size() ? this : new Graph(inputs, equations, unique, constants);
    }

    /**
     * This graph with more outputs: the values {@code extra} (inputs, constants or equation outputs of this graph)
     * that it does not already return, appended in order, each once. What {@link #evaluate} computes is the same;
     * it only keeps these values too.
     *
     * @param extra variables of this graph
     * @return this graph when every value of {@code extra} is already an output, else one with the same inputs,
     *     equations and constants
     * @throws IllegalArgumentException when a value of {@code extra} is not a variable of this graph
     */
    public Graph withOutputs(List<Var> extra) {
        Map<Var, Boolean> known = new IdentityHashMap<>();
        for (Var v : inputs) {
            known.put(v, Boolean.TRUE);
        }
        for (Equation e : equations) {
            known.put(e.output(), Boolean.TRUE);
        }
        Map<Var, Boolean> seen = new IdentityHashMap<>();
        List<Var> all = new java.util.ArrayList<>(outputs);
        for (Var v : outputs) {
            seen.put(v, Boolean.TRUE);
        }
        for (Var v : extra) {
            if (!known.containsKey(v) && !constants.containsKey(v)) {
                throw new IllegalArgumentException("withOutputs: " + v + " is not a value of this graph");
            }
            if (seen.put(v, Boolean.TRUE) == null) {
                all.add(v);
            }
        }
        return all.size() == outputs.size() ? this : new Graph(inputs, equations, all, constants);
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

    /**
     * Which equation reads each variable last, and which variables are outputs: the same for every run.
     *
     * @param lastUse the index of the last equation that reads each variable an equation reads
     * @param isOutput the graph's outputs (the values are {@code TRUE}); neither map is written after it is made
     */
    record Schedule(Map<Var, Integer> lastUse, Map<Var, Boolean> isOutput) {
    }

    Schedule schedule() {
        Schedule s = schedule;
        if (s == null) {
            Map<Var, Integer> lastUse = new IdentityHashMap<>();
            for (int e = 0; e < equations.size(); e++) {
                for (Var v : equations.get(e).inputs()) {
                    lastUse.put(v, e);
                }
            }
            Map<Var, Boolean> isOutput = new IdentityHashMap<>();
            for (Var o : outputs) {
                isOutput.put(o, Boolean.TRUE);
            }
            s = new Schedule(lastUse, isOutput); // never written after this: the maps stay as they are, unwrapped
            schedule = s;
        }
        return s;
    }

    /** The readable, jaxpr-like listing of the graph. */
    @Override
    public String toString() {
        return GraphPrinter.print(this);
    }
}
