package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * The graphs of a parameter's way to the data, built once per side plan: a consumer's one-example row graph (its
 * own parameter-VJP) and the stacked VJP of the parameter-only path θ → p' with the helpers that find it.
 */
final class ParameterPaths {
    private ParameterPaths() {
    }

    /**
     * The parameter-VJP of one consumer for a single example: inputs the consumer's non-constant operands
     * (example-dependent ones with a batch of 1) and the stacked cotangent [O, 1, ...]; output [O] + shape(p').
     */
    static Graph rowGraph(ParameterConsumers pc, ParameterConsumers.Consumer cons, int o) {
        Graph g = pc.graph;
        Equation e = cons.equation;
        GraphBuilder b = new GraphBuilder();
        Var[] ins = new Var[e.inputs().size()];
        for (int i = 0; i < ins.length; i++) {
            Var v = e.input(i);
            if (g.constants().containsKey(v)) {
                ins[i] = b.constant(g.constants().get(v));
                continue;
            }
            int[] s = v.shape();
            if (pc.exampleDependent.contains(v)) {
                s[0] = 1;
            }
            ins[i] = b.input(v.dtype(), s);
        }
        Var out = b.apply(e.primitive(), ins);
        Var ct = b.input(out.type().stacked(o));
        boolean[] needed = new boolean[ins.length];
        needed[cons.operand] = true;
        Var r = e.primitive().vjp(ins, out, ct, needed)[cons.operand];
        return b.build(r != null ? r : b.zeros(cons.parameterValue().type().stacked(o)));
    }

    /**
     * The stacked VJP (K = O·N) of the parameter path θ → p' for the given consumers and parameters: inputs the
     * parameters {@link #pathParameters} then one stacked cotangent per consumer; outputs the consumers' p' then
     * the cotangents of the {@code selected} parameters (ascending).
     */
    static Graph pathVjp(ParameterConsumers pc, List<ParameterConsumers.Consumer> cons, List<Integer> selected,
                         int k) {
        int[] inputs = pathParameters(pc, cons, selected);
        boolean[] wrt = new boolean[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            wrt[i] = selected.contains(inputs[i]);
        }
        return Vjp.of(parameterPath(pc, cons, inputs), k, wrt);
    }

    /**
     * The consumers whose parameter value is computed from one of the {@code selected} parameters, in graph
     * order; linear in what they consume, not in the size of the network.
     */
    static List<ParameterConsumers.Consumer> consumersOf(ParameterConsumers pc, List<Integer> selected) {
        if (selected.size() == 1) {
            return pc.consumersOf(selected.get(0));
        }
        java.util.TreeMap<Integer, ParameterConsumers.Consumer> byIndex = new java.util.TreeMap<>();
        for (int p : selected) {
            for (ParameterConsumers.Consumer c : pc.consumersOf(p)) {
                byIndex.put(c.index, c);
            }
        }
        return new ArrayList<>(byIndex.values());
    }

    /**
     * The parameters (ascending indices) that the path graph of {@code cons} takes as inputs: the
     * {@code selected} ones and every other parameter their consumers' p' is computed from.
     */
    static int[] pathParameters(ParameterConsumers pc, List<ParameterConsumers.Consumer> cons, List<Integer> selected) {
        java.util.TreeSet<Integer> ps = new java.util.TreeSet<>(selected);
        for (ParameterConsumers.Consumer c : cons) {
            for (int p : pc.sources(c.parameterValue())) {
                ps.add(p);
            }
        }
        return ps.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The parameter-only equations that the consumers' p' are computed by, in graph order: only their cone, so
     * that planning one parameter costs the size of its own path, not of the whole network.
     */
    static List<Equation> pathEquations(ParameterConsumers pc, List<ParameterConsumers.Consumer> cons) {
        Map<Equation, Boolean> seen = new IdentityHashMap<>();
        List<Equation> postOrder = new ArrayList<>();
        java.util.ArrayDeque<Object[]> stack = new java.util.ArrayDeque<>(); // {equation, next input to visit}
        for (ParameterConsumers.Consumer c : cons) {
            Equation root = pc.producer.get(c.parameterValue());
            if (root == null || seen.put(root, Boolean.TRUE) != null) {
                continue;
            }
            stack.push(new Object[] {root, 0});
            while (!stack.isEmpty()) {
                Object[] top = stack.peek();
                Equation e = (Equation) top[0];
                int i = (Integer) top[1];
                if (i == e.inputs().size()) {
                    stack.pop();
                    postOrder.add(e); // after every equation it reads: a topological order
                    continue;
                }
                top[1] = i + 1;
                Equation producer = pc.producer.get(e.input(i));
                if (producer != null && seen.put(producer, Boolean.TRUE) == null) {
                    stack.push(new Object[] {producer, 0});
                }
            }
        }
        return postOrder;
    }

    /** The parameter-only part of the network for {@code cons}: inputs θ_{inputs[i]}, outputs p' of the consumers. */
    static Graph parameterPath(ParameterConsumers pc, List<ParameterConsumers.Consumer> cons, int[] inputs) {
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> map = new IdentityHashMap<>();
        for (int p : inputs) {
            map.put(pc.params.get(p), b.input(pc.params.get(p).type()));
        }
        for (Equation e : pathEquations(pc, cons)) {
            Var[] in = new Var[e.inputs().size()];
            for (int i = 0; i < in.length; i++) {
                Var v = e.input(i);
                Tensor constant = pc.graph.constants().get(v);
                in[i] = constant != null ? map.computeIfAbsent(v, u -> b.constant(constant)) : map.get(v);
            }
            map.put(e.output(), b.apply(e.primitive(), in));
        }
        Var[] outs = new Var[cons.size()];
        for (int c = 0; c < outs.length; c++) {
            outs[c] = map.get(cons.get(c).parameterValue());
        }
        return b.build(outs);
    }
}
