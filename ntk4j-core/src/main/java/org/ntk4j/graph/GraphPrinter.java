package org.ntk4j.graph;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Prints a graph like a jaxpr:
 * <pre>
 * { lambda ; a:f32[4,3] b:f32[3,2]. let
 *     c:f32[4,2] = dot_general[contract=([1],[0]) batch=([],[])] a b
 *     d:f32[4,2] = tanh c
 *   in (d) }
 * </pre>
 * Constants come first, as {@code name:type}, followed by {@code =value} when they hold one element; a float32
 * value prints as the shortest decimal that reads back as that float ({@code 0.1}, not 0.10000000149011612).
 */
public final class GraphPrinter {
    private GraphPrinter() {
    }

    /** Assigns a, b, ..., z, ba, bb, ... in order of first appearance. */
    static final class Names {
        private final Map<Var, String> names = new IdentityHashMap<>();

        String of(Var v) {
            return names.computeIfAbsent(v, k -> name(names.size()));
        }

        private static String name(int i) {
            StringBuilder sb = new StringBuilder();
            do {
                sb.insert(0, (char) ('a' + i % 26));
                i /= 26;
            } while (i > 0);
            return sb.toString();
        }
    }

    /**
     * The whole graph as a jaxpr-like listing: constants, inputs, one equation a line, outputs. Variables are named
     * a, b, ..., z, ba, bb, ... in order of first appearance.
     *
     * @param g the graph
     * @return the multi-line listing
     */
    public static String print(Graph g) {
        Names names = new Names();
        StringBuilder sb = new StringBuilder("{ lambda ");
        java.util.List<Var> constants = new java.util.ArrayList<>(g.constants().keySet());
        constants.sort(java.util.Comparator.comparingInt(Var::id));
        for (Var c : constants) {
            org.ntk4j.tensor.Tensor value = g.constants().get(c);
            sb.append(names.of(c)).append(':').append(c.type());
            if (value.size() == 1) {
                sb.append('=');
                if (value.dtype() == org.ntk4j.tensor.DType.F32) {
                    sb.append((float) value.getFlat(0));
                } else {
                    sb.append(value.getFlat(0));
                }
            }
            sb.append(' ');
        }
        sb.append(';');
        for (Var v : g.inputs()) {
            sb.append(' ').append(names.of(v)).append(':').append(v.type());
        }
        sb.append(". let\n");
        for (Equation e : g.equations()) {
            sb.append("    ").append(equation(e, names)).append('\n');
        }
        sb.append("  in (");
        for (int i = 0; i < g.outputs().size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(names.of(g.outputs().get(i)));
        }
        return sb.append(") }").toString();
    }

    static String equation(Equation e, Names names) {
        StringBuilder sb = new StringBuilder();
        sb.append(names.of(e.output())).append(':').append(e.output().type()).append(" = ")
                .append(e.primitive().name());
        String params = e.primitive().params();
        if (!params.isEmpty()) {
            sb.append('[').append(params).append(']');
        }
        for (Var v : e.inputs()) {
            sb.append(' ').append(names.of(v));
        }
        return sb.toString();
    }
}
