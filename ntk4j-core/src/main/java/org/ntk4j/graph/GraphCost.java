package org.ntk4j.graph;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Static costs of evaluating a graph, exact for the given shapes: the FLOPs of its equations and the peak
 * bytes the {@link Evaluator} holds (it frees each intermediate after its last use), counting the inputs,
 * the constants and the outputs as held.
 */
public final class GraphCost {
    private GraphCost() {
    }

    /**
     * Σ over equations of the primitive's FLOPs, as each primitive counts them for its operand and output types.
     *
     * @param g the graph
     * @return the floating-point operations of one evaluation
     */
    public static double flops(Graph g) {
        double f = 0;
        for (Equation e : g.equations()) {
            f += e.primitive().flops(types(e), e.output().type());
        }
        return f;
    }

    private static TensorType[] types(Equation e) {
        TensorType[] t = new TensorType[e.inputs().size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = e.input(i).type();
        }
        return t;
    }

    /**
     * The bytes of the largest value of an evaluation, an input (a stacked basis, say) or an equation's output:
     * what must fit in one tensor.
     *
     * @param g the graph
     * @return the largest {@link #bytes(TensorType)} among its inputs and its equations' outputs
     */
    public static long largestValueBytes(Graph g) {
        long m = 0;
        for (Var v : g.inputs()) {
            m = Math.max(m, bytes(v.type()));
        }
        for (Equation e : g.equations()) {
            m = Math.max(m, bytes(e.output().type()));
        }
        return m;
    }

    /**
     * Bytes of one value of type t (a tensor of no elements still takes one element).
     *
     * @param t the value's type
     * @return {@code max(1, size) * bytes per element}
     */
    public static long bytes(TensorType t) {
        return Math.max(1L, t.size()) * t.dtype().bytes();
    }

    /**
     * The largest total of simultaneously held bytes while the evaluator runs {@code g}: inputs and constants
     * throughout, each equation's output from its evaluation to its last use (outputs to the end), each kernel's
     * scratch while it runs, and at the end the copies handed out of outputs the evaluation does not own.
     *
     * @param g the graph
     * @return the peak in bytes, as {@link #bytes(TensorType)} counts values
     */
    public static long peakBytes(Graph g) {
        long live = 0;
        for (Var v : g.inputs()) {
            live += bytes(v.type());
        }
        for (Var v : g.constants().keySet()) {
            live += bytes(v.type());
        }
        List<Equation> eqs = g.equations();
        Map<Var, Integer> lastUse = new IdentityHashMap<>();
        for (int i = 0; i < eqs.size(); i++) {
            for (Var v : eqs.get(i).inputs()) {
                lastUse.put(v, i);
            }
        }
        Map<Var, Boolean> outputs = new IdentityHashMap<>();
        for (Var o : g.outputs()) {
            outputs.put(o, Boolean.TRUE);
        }
        Map<Var, Boolean> produced = new IdentityHashMap<>();
        long peak = live;
        for (int i = 0; i < eqs.size(); i++) {
            Equation e = eqs.get(i);
            Var moved = Evaluator.movableOperand(e, i, lastUse, outputs, produced);
            if (moved == null && Evaluator.isViewed(e, outputs, produced)) {
                continue; // a read view of a value that outlives the run: no bytes, never released
            }
            if (moved != null) {
                // the result takes over the operand's storage (Evaluator): bytes move, none are added
                produced.remove(moved);
                produced.put(e.output(), Boolean.TRUE);
                if (!lastUse.containsKey(e.output()) && !outputs.containsKey(e.output())) {
                    live -= bytes(e.output().type());
                    produced.remove(e.output());
                }
                continue;
            }
            live += bytes(e.output().type());
            produced.put(e.output(), Boolean.TRUE);
            peak = Math.max(peak, live + e.primitive().workspaceBytes(types(e), e.output().type()));
            for (Var v : e.inputs()) {
                if (produced.containsKey(v) && lastUse.get(v) == i && !outputs.containsKey(v)) {
                    live -= bytes(v.type());
                    produced.remove(v);
                }
            }
            if (!lastUse.containsKey(e.output()) && !outputs.containsKey(e.output())) {
                live -= bytes(e.output().type());
                produced.remove(e.output());
            }
        }
        // the evaluator hands out a copy of each output it does not own (an input, a constant, a view of one, an
        // output repeated), made while everything still held is
        long copies = 0;
        Map<Var, Boolean> handedOut = new IdentityHashMap<>();
        for (Var o : g.outputs()) {
            if (produced.containsKey(o) && handedOut.put(o, Boolean.TRUE) == null) {
                continue;
            }
            copies += bytes(o.type());
        }
        return Math.max(peak, live + copies);
    }
}
