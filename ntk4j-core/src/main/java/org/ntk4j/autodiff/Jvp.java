package org.ntk4j.autodiff;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;

/**
 * Forward mode as a graph transformation. For a graph f(x_1..x_n) -> (y_1..y_m) and a stack size K it builds
 * the graph
 * <pre>  (x_1..x_n, t_i for each selected input i) -> (y_1..y_m, ẏ_1..ẏ_m)</pre>
 * where each tangent t_i has shape [K] + shape(x_i) and ẏ_j = Σ_i ∂y_j/∂x_i · t_i has shape [K] + shape(y_j):
 * K Jacobian-vector products evaluated together, as one batched computation.
 */
public final class Jvp {
    private Jvp() {
    }

    /**
     * The JVP graph with tangents for the inputs where {@code withTangent[i]} is true.
     *
     * @param g the primal graph
     * @param k the stack size K, at least 1
     * @param withTangent one flag per input of {@code g}
     * @return the graph {@code (x..., t_i...) -> (y..., ẏ...)}; an output that does not depend on a selected input
     *     gets a zero tangent
     * @throws IllegalArgumentException if the flags do not match the inputs or {@code k < 1}
     */
    public static Graph of(Graph g, int k, boolean[] withTangent) {
        if (withTangent.length != g.inputs().size()) {
            throw new IllegalArgumentException("jvp: withTangent has " + withTangent.length + " entries, the graph "
                    + g.inputs().size() + " inputs");
        }
        if (k < 1) {
            throw new IllegalArgumentException("jvp: the stack size K must be at least 1, got " + k);
        }
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> primal = new IdentityHashMap<>();
        Map<Var, Var> tangent = new IdentityHashMap<>();
        for (Var x : g.inputs()) {
            primal.put(x, b.input(x.type()));
        }
        for (int i = 0; i < withTangent.length; i++) {
            if (withTangent[i]) {
                Var x = g.inputs().get(i);
                tangent.put(x, b.input(x.type().stacked(k)));
            }
        }
        for (Map.Entry<Var, org.ntk4j.tensor.Tensor> c : g.constants().entrySet()) {
            primal.put(c.getKey(), b.constant(c.getValue()));
        }
        for (Equation e : g.equations()) {
            Var[] in = new Var[e.inputs().size()];
            Var[] tin = new Var[in.length];
            boolean any = false;
            for (int i = 0; i < in.length; i++) {
                in[i] = primal.get(e.input(i));
                tin[i] = tangent.get(e.input(i));
                any |= tin[i] != null;
            }
            Var out = b.apply(e.primitive(), in);
            primal.put(e.output(), out);
            if (any) {
                Var t = e.primitive().jvp(in, out, tin, k);
                if (t != null) {
                    tangent.put(e.output(), t);
                }
            }
        }
        List<Var> outs = new ArrayList<>();
        for (Var y : g.outputs()) {
            outs.add(primal.get(y));
        }
        for (Var y : g.outputs()) {
            Var t = tangent.get(y);
            outs.add(t != null ? t : b.zeros(y.type().stacked(k)));
        }
        return b.build(outs.toArray(new Var[0]));
    }

    /**
     * The JVP graph with tangents for every input.
     *
     * @param g the primal graph
     * @param k the stack size K, at least 1
     * @return the graph {@code (x..., t...) -> (y..., ẏ...)}
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public static Graph of(Graph g, int k) {
        boolean[] all = new boolean[g.inputs().size()];
        java.util.Arrays.fill(all, true);
        return of(g, k, all);
    }
}
