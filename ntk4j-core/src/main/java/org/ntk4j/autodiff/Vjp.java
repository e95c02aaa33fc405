package org.ntk4j.autodiff;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.Stacked;

/**
 * Reverse mode as a graph transformation. For a graph f(x_1..x_n) -> (y_1..y_m) and a stack size K it builds
 * <pre>  (x_1..x_n, c_1..c_m) -> (y_1..y_m, x̄_i for each selected input i)</pre>
 * where each output cotangent c_j has shape [K] + shape(y_j) and x̄_i = Σ_j c_j · ∂y_j/∂x_i has shape
 * [K] + shape(x_i): K vector-Jacobian products at once, so that O cotangents cost GEMMs, not O passes.
 * Only equations on a path from a selected input to an output are transposed.
 */
public final class Vjp {
    private Vjp() {
    }

    /**
     * The VJP graph with cotangents for the inputs where {@code wrt[i]} is true.
     *
     * @param g the primal graph
     * @param k the stack size K, at least 1
     * @param wrt one flag per input of {@code g}
     * @return the graph {@code (x..., c...) -> (y..., x̄_i...)}; a selected input no output depends on gets a zero
     *         cotangent
     * @throws IllegalArgumentException if the flags do not match the inputs or {@code k < 1}
     */
    public static Graph of(Graph g, int k, boolean[] wrt) {
        if (wrt.length != g.inputs().size()) {
            throw new IllegalArgumentException("vjp: wrt has " + wrt.length + " entries, the graph "
                    + g.inputs().size() + " inputs");
        }
        List<Var> targets = new ArrayList<>();
        for (int i = 0; i < wrt.length; i++) {
            if (wrt[i]) {
                targets.add(g.inputs().get(i));
            }
        }
        return build(g, k, targets, g.outputs());
    }

    /**
     * A graph {@code (x_1..x_n, c_1..c_m) -> (p_1.., v̄_1..)}: the primal values of {@code primals} (variables of
     * {@code g}) and the stacked cotangents [K] + shape(v) at the variables {@code at} of {@code g}, i.e.
     * Σ_j c_j · ∂y_j/∂v, for any intermediate v. This is how the NTK methods read ∂f/∂y at the equations that
     * consume parameters, in one backward pass.
     *
     * @param g the primal graph
     * @param k the stack size K, at least 1
     * @param at variables of {@code g} whose cotangents are wanted
     * @param primals variables of {@code g} whose primal values are output first
     * @return the graph {@code (x..., c...) -> (primals..., v̄...)}
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public static Graph cotangentsAt(Graph g, int k, List<Var> at, List<Var> primals) {
        return build(g, k, at, primals);
    }

    private static Graph build(Graph g, int k, List<Var> targets, List<Var> primalsOut) {
        if (k < 1) {
            throw new IllegalArgumentException("vjp: the stack size K must be at least 1, got " + k);
        }
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> primal = new IdentityHashMap<>();
        for (Var x : g.inputs()) {
            primal.put(x, b.input(x.type()));
        }
        List<Var> outCts = new ArrayList<>();
        for (Var y : g.outputs()) {
            outCts.add(b.input(y.type().stacked(k)));
        }
        for (Map.Entry<Var, org.ntk4j.tensor.Tensor> c : g.constants().entrySet()) {
            primal.put(c.getKey(), b.constant(c.getValue()));
        }
        // forward: replay, and mark the values that depend on a target
        Set<Var> active = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        active.addAll(targets);
        for (Equation e : g.equations()) {
            Var[] in = new Var[e.inputs().size()];
            boolean any = false;
            for (int i = 0; i < in.length; i++) {
                in[i] = primal.get(e.input(i));
                any |= active.contains(e.input(i));
            }
            primal.put(e.output(), b.apply(e.primitive(), in));
            if (any) {
                active.add(e.output());
            }
        }
        // backward: accumulate cotangents in reverse order
        Map<Var, Var> ct = new IdentityHashMap<>();
        Map<Var, Var> atTargets = new IdentityHashMap<>();
        Set<Var> targetSet = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        targetSet.addAll(targets);
        for (int j = 0; j < g.outputs().size(); j++) {
            Var y = g.outputs().get(j);
            if (active.contains(y)) {
                ct.put(y, Stacked.add(ct.get(y), outCts.get(j)));
            }
        }
        List<Equation> eqs = g.equations();
        for (int e = eqs.size() - 1; e >= 0; e--) {
            Equation eq = eqs.get(e);
            Var c = ct.remove(eq.output());
            if (c == null) {
                continue;
            }
            if (targetSet.contains(eq.output())) {
                atTargets.put(eq.output(), c); // complete: every consumer of this value came later
            }
            Var[] in = new Var[eq.inputs().size()];
            boolean[] needed = new boolean[in.length];
            boolean any = false;
            for (int i = 0; i < in.length; i++) {
                in[i] = primal.get(eq.input(i));
                // active = downstream of a target: values upstream of every target get no cotangent
                needed[i] = active.contains(eq.input(i));
                any |= needed[i];
            }
            if (!any) {
                continue;
            }
            Var[] cin = eq.primitive().vjp(in, primal.get(eq.output()), c, needed);
            for (int i = 0; i < in.length; i++) {
                if (needed[i] && cin[i] != null) {
                    ct.put(eq.input(i), Stacked.add(ct.get(eq.input(i)), cin[i]));
                }
            }
        }
        for (Var t : targets) {
            if (!atTargets.containsKey(t) && ct.containsKey(t)) {
                atTargets.put(t, ct.get(t)); // graph inputs and constants
            }
        }
        List<Var> outs = new ArrayList<>();
        for (Var y : primalsOut) {
            outs.add(primal.get(y));
        }
        for (Var t : targets) {
            Var c = atTargets.get(t);
            outs.add(c != null ? c : b.zeros(t.type().stacked(k)));
        }
        return b.build(outs.toArray(new Var[0]));
    }


    /**
     * The VJP graph with cotangents for every input.
     *
     * @param g the primal graph
     * @param k the stack size K, at least 1
     * @return the graph {@code (x..., c...) -> (y..., x̄...)}
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public static Graph of(Graph g, int k) {
        boolean[] all = new boolean[g.inputs().size()];
        java.util.Arrays.fill(all, true);
        return of(g, k, all);
    }
}
