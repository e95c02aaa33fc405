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
        values.putAll(graph.constants());
        // index of the last equation that reads each intermediate
        Map<Var, Integer> lastUse = new IdentityHashMap<>();
        List<Equation> eqs = graph.equations();
        for (int e = 0; e < eqs.size(); e++) {
            for (Var v : eqs.get(e).inputs()) {
                lastUse.put(v, e);
            }
        }
        Map<Var, Boolean> isOutput = new IdentityHashMap<>();
        for (Var o : graph.outputs()) {
            isOutput.put(o, Boolean.TRUE);
        }
        Map<Var, Boolean> owned = new IdentityHashMap<>();
        try {
            for (int e = 0; e < eqs.size(); e++) {
                Equation eq = eqs.get(e);
                Tensor[] in = new Tensor[eq.inputs().size()];
                for (int i = 0; i < in.length; i++) {
                    in[i] = values.get(eq.input(i));
                }
                Tensor out;
                Var moved = movableOperand(eq, e, lastUse, isOutput, owned);
                if (moved != null) {
                    // a reshape of a value read here for the last time takes over its storage: no copy
                    out = values.remove(moved).reshapeMove(eq.output().type().shape());
                    owned.remove(moved);
                } else {
                    try {
                        out = eq.primitive().evaluate(in);
                    } catch (IllegalArgumentException ex) {
                        throw new IllegalArgumentException("evaluating " + eq + ": " + ex.getMessage(), ex);
                    }
                }
                FlopCount.add(eq.primitive().flops(types(eq), eq.output().type()));
                values.put(eq.output(), out);
                owned.put(eq.output(), Boolean.TRUE);
                for (Var v : eq.inputs()) {
                    if (lastUse.get(v) == e && owned.containsKey(v) && !isOutput.containsKey(v)) {
                        Tensor t = values.remove(v);
                        owned.remove(v);
                        if (t != null) {
                            t.close();
                        }
                    }
                }
                // a value nobody reads and nobody asked for is dropped at once
                if (!lastUse.containsKey(eq.output()) && !isOutput.containsKey(eq.output())) {
                    values.remove(eq.output()).close();
                    owned.remove(eq.output());
                }
            }
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
        } finally {
            for (Var v : owned.keySet()) {
                Tensor t = values.get(v);
                if (t != null) {
                    t.close();
                }
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

    private static TensorType[] types(Equation e) {
        TensorType[] t = new TensorType[e.inputs().size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = e.input(i).type();
        }
        return t;
    }
}
