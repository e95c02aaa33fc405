package org.ntk4j.graph;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.tensor.Tensor;

/**
 * Runs a graph on the CPU. Each intermediate tensor is closed right after its last use, so peak memory is
 * the largest set of simultaneously live values, not the sum of all of them. Each equation's FLOPs (its
 * primitive's own rule, as {@link GraphCost#flops} predicts them) are added to {@link FlopCount} as it runs.
 */
public final class Evaluator {
    private Evaluator() {
    }

    /**
     * Evaluates {@code graph} on {@code args}. The returned tensors are new and owned by the caller (an output that
     * is an input, a constant or a repeated output is copied); the arguments and the graph's constants are not
     * closed. Intermediates are closed after their last use, and on failure every intermediate is closed.
     *
     * @param graph the graph to run
     * @param args one tensor per graph input, matching its type exactly
     * @return one new tensor per graph output, in order, owned by the caller
     * @throws IllegalArgumentException when the number of arguments differs from the graph's inputs, an argument is
     *         null or does not match its input's dtype and shape, or a primitive refuses its operands (the message
     *         then names the equation)
     */
    public static Tensor[] run(Graph graph, Tensor... args) {
        // Small methods, one loop each: one method holding every loop was compiled by C2 five times during the
        // first seconds (once per loop by on-stack replacement, then whole), 0.2-0.3 s of compiler time each, on
        // the cores the kernels run on
        Map<Var, Tensor> values = bindInputs(graph, args);
        values.putAll(graph.constants());
        Graph.Schedule schedule = graph.schedule();
        Map<Var, Boolean> owned = new IdentityHashMap<>();
        try {
            List<Equation> eqs = graph.equations();
            for (int e = 0; e < eqs.size(); e++) {
                step(eqs.get(e), e, values, schedule, owned);
            }
            return handOut(graph, values, owned);
        } finally {
            closeOwned(values, owned);
        }
    }

    /** The arguments by their input variables, each checked against its input's type. */
    private static Map<Var, Tensor> bindInputs(Graph graph, Tensor[] args) {
        List<Var> inputs = graph.inputs();
        if (args.length != inputs.size()) {
            throw new IllegalArgumentException("evaluate: the graph takes " + inputs.size() + " inputs, got "
                    + args.length);
        }
        Map<Var, Tensor> values = new IdentityHashMap<>();
        for (int i = 0; i < args.length; i++) {
            TensorType t = inputs.get(i).type();
            if (args[i] == null || !t.matches(args[i])) {
                throw new IllegalArgumentException("evaluate: input " + i + " must be " + t + ", got "
                        + (args[i] == null ? "null" : TensorType.of(args[i])));
            }
            values.put(inputs.get(i), args[i]);
        }
        return values;
    }

    /**
     * Runs equation {@code e}: its result joins {@code values} (and {@code owned}); the intermediates it reads for
     * the last time are closed, and so is its result when nobody reads it and it is no output.
     */
    private static void step(Equation eq, int e, Map<Var, Tensor> values, Graph.Schedule schedule,
                             Map<Var, Boolean> owned) {
        Map<Var, Integer> lastUse = schedule.lastUse();
        Map<Var, Boolean> isOutput = schedule.isOutput();
        List<Var> inputs = eq.inputs();
        Tensor[] in = new Tensor[inputs.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = values.get(inputs.get(i));
        }
        Tensor out;
        Var moved = movableOperand(eq, e, lastUse, isOutput, owned);
        boolean view = moved == null && isViewed(eq, isOutput, owned);
        if (moved != null) {
            // a reshape of a value read here for the last time takes over its storage: no copy
            out = values.remove(moved).reshapeMove(eq.output().type().shape());
            owned.remove(moved);
        } else if (view) {
            // a reshape of a value that outlives the run (an argument, a constant, a graph output, or a view of
            // one): a read view of its storage, owned by nobody (the primitives never write their operands)
            out = in[0].readView(eq.output().type().shape());
        } else {
            try {
                out = eq.primitive().evaluate(in);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("evaluating " + eq + ": " + ex.getMessage(), ex);
            }
        }
        FlopCount.add(eq.primitive().flops(types(eq), eq.output().type()));
        values.put(eq.output(), out);
        if (!view) {
            owned.put(eq.output(), Boolean.TRUE);
        }
        for (int i = 0; i < inputs.size(); i++) {
            Var v = inputs.get(i);
            if (lastUse.get(v) == e && owned.containsKey(v) && !isOutput.containsKey(v)) {
                Tensor t = values.remove(v);
                owned.remove(v);
                if (t != null) {
                    t.close();
                }
            }
        }
        // a value nobody reads and nobody asked for is dropped at once (closing a view frees nothing)
        if (!lastUse.containsKey(eq.output()) && !isOutput.containsKey(eq.output())) {
            values.remove(eq.output()).close();
            owned.remove(eq.output());
        }
    }

    /**
     * The outputs, in order: a value this evaluation produced is handed out (and leaves {@code owned}), an input,
     * a constant or a repeated output is copied; every other value still owned is closed.
     */
    private static Tensor[] handOut(Graph graph, Map<Var, Tensor> values, Map<Var, Boolean> owned) {
        Tensor[] result = new Tensor[graph.outputs().size()];
        Map<Var, Boolean> handedOut = new IdentityHashMap<>();
        for (int i = 0; i < result.length; i++) {
            Var o = graph.outputs().get(i);
            Tensor t = values.get(o);
            if (owned.containsKey(o) && !handedOut.containsKey(o)) {
                result[i] = t;
                handedOut.put(o, Boolean.TRUE);
            } else {
                result[i] = t.copy(); // an input, a constant or a repeated output: the caller gets its own
            }
        }
        for (Map.Entry<Var, Boolean> e : owned.entrySet()) {
            if (!handedOut.containsKey(e.getKey())) {
                values.get(e.getKey()).close();
            }
        }
        owned.clear();
        return result;
    }

    /** Closes every value still owned (after a failure; nothing is left after a successful run). */
    private static void closeOwned(Map<Var, Tensor> values, Map<Var, Boolean> owned) {
        for (Var v : owned.keySet()) {
            Tensor t = values.get(v);
            if (t != null) {
                t.close();
            }
        }
    }

    /**
     * Operand 0 of equation {@code e} when its result may take over that operand's storage
     * ({@link org.ntk4j.primitive.Primitive#resultIsOperandReshaped}): a value this evaluation produced, read
     * for the last time here and by no other operand of it, and not a graph output; null otherwise. The memory
     * model applies the same rule ({@link GraphCost#peakBytes}).
     */
    static Var movableOperand(Equation eq, int e, Map<Var, Integer> lastUse, Map<Var, ?> outputs,
                              Map<Var, ?> produced) {
        if (!eq.primitive().resultIsOperandReshaped() || eq.inputs().size() != 1) {
            return null;
        }
        Var v = eq.input(0);
        Integer last = lastUse.get(v);
        return produced.containsKey(v) && last != null && last == e && !outputs.containsKey(v) ? v : null;
    }

    /**
     * Whether equation {@code e}'s result is a read view of its operand's storage: a reshape-like primitive
     * ({@link org.ntk4j.primitive.Primitive#resultIsOperandReshaped}) of a value this evaluation does not close
     * before it ends — an argument, a constant or a view ({@code produced} does not hold them), or a graph output.
     * A view is never handed out (an output that is one is copied, as an argument is) and never closed; the memory
     * model counts it as no bytes ({@link GraphCost#peakBytes}).
     */
    static boolean isViewed(Equation e, Map<Var, ?> outputs, Map<Var, ?> produced) {
        if (!e.primitive().resultIsOperandReshaped() || e.inputs().size() != 1) {
            return false;
        }
        Var v = e.input(0);
        return !produced.containsKey(v) || outputs.containsKey(v);
    }

    private static TensorType[] types(Equation e) {
        TensorType[] t = new TensorType[e.inputs().size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = e.input(i).type();
        }
        return t;
    }
}
