package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.ConsumerRule;

/**
 * The table of parameter consumers of a traced network f(θ_1..θ_m, x): every equation where a value
 * computed from parameters alone (a parameter, or e.g. σ_b·b) meets a value that depends on the examples.
 * At such an equation y = g(p', a) the per-example Jacobian with respect to p' is the equation's own
 * parameter-VJP applied to the cotangent ∂f/∂y of one example, and ∂f/∂θ follows from it through the
 * (example-independent) path θ → p'.
 *
 * <p>Built in one pass over the graph, so that planning is linear in the graph's size: each parameter-only value
 * records the (sorted) indices of the parameters it is computed from, which answers {@link #reaches} by a binary
 * search and gives each parameter's consumers without a walk per pair.
 */
final class ParameterConsumers {
    /**
     * One consumer: the equation, the index of its parameter-only operand, its place in graph order, and the
     * structure its primitive declares for it ({@link org.ntk4j.primitive.Primitive#consumerRule}; null: none).
     */
    static final class Consumer {
        final Equation equation;
        final int operand;
        final int index;
        final ConsumerRule rule;

        Consumer(Equation equation, int operand, int index, Map<Var, org.ntk4j.tensor.Tensor> constants) {
            this.equation = equation;
            this.operand = operand;
            this.index = index;
            TensorType[] in = new TensorType[equation.inputs().size()];
            org.ntk4j.tensor.Tensor[] cs = new org.ntk4j.tensor.Tensor[in.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = equation.input(i).type();
                cs[i] = constants.get(equation.input(i));
            }
            this.rule = equation.primitive().consumerRule(in, equation.output().type(), operand, cs);
        }

        /** The rule when it is linear (dot_general, conv filter), else null. */
        ConsumerRule.Linear linear() {
            return rule instanceof ConsumerRule.Linear ? (ConsumerRule.Linear) rule : null;
        }

        /** The rule when it is an elementwise broadcast (add, sub, mul), else null. */
        ConsumerRule.Broadcast broadcast() {
            return rule instanceof ConsumerRule.Broadcast ? (ConsumerRule.Broadcast) rule : null;
        }

        /** The value of the data operand (the other one) of a consumer with a rule. */
        Var dataValue() {
            return equation.input(1 - operand);
        }

        Var parameterValue() {
            return equation.input(operand);
        }
    }

    final Graph graph;
    final List<Var> params;
    final Var x;
    final List<Consumer> consumers = new ArrayList<>();
    final Set<Var> exampleDependent = Collections.newSetFromMap(new IdentityHashMap<>());
    final Set<Var> parameterOnly = Collections.newSetFromMap(new IdentityHashMap<>());
    /**
     * True when every example-dependent value has the example axis first with size N — checked, when a witness is
     * given, on the same network traced at another batch size too: an axis of another meaning that happens to
     * have size N (W·x with W [N, ...] on the left) does not follow the batch size.
     */
    final boolean exampleAxisFirst;
    /** The equation computing each value (graph inputs and constants have none). */
    final Map<Var, Equation> producer = new IdentityHashMap<>();
    /** How many times each value is read as an equation's operand (a value read twice by one equation: 2). */
    final Map<Var, Integer> reads = new IdentityHashMap<>();
    /** For each parameter-only value, the sorted indices of the parameters it is computed from. */
    private final Map<Var, int[]> sources = new IdentityHashMap<>();
    /** For each parameter, the consumers whose parameter operand is computed from it, in graph order. */
    private final List<List<Consumer>> consumersOfParameter = new ArrayList<>();
    /**
     * The side plan these consumers are of (null for consumers made without one, in tests): what a cost walk holding
     * them asks for their derived graphs. Found by batch size instead, it may be another plan, traced anew after this
     * one was dropped by another thread meanwhile, whose caches the consumers of this trace would corrupt.
     */
    private volatile SidePlan side;

    /** Records the side plan these consumers are of (its constructor, once). */
    void ownedBy(SidePlan owner) {
        side = owner;
    }

    /** The side plan these consumers are of, or null when they were made without one. */
    SidePlan side() {
        return side;
    }

    /** Whether {@code c} is one of these consumers (not an equal one of another trace). */
    boolean owns(Consumer c) {
        return c.index < consumers.size() && consumers.get(c.index) == c;
    }

    /** The consumers of {@code graph} alone: see {@link #ParameterConsumers(Graph, int, Supplier)}. */
    ParameterConsumers(Graph graph, int nParams) {
        this(graph, nParams, null);
    }

    /**
     * The consumers of {@code graph}, f(θ_1..θ_nParams, x) traced for N examples.
     *
     * @param graph the traced network
     * @param nParams the number of parameter inputs, which come before x
     * @param witness the same network traced at another batch size, asked for only when every example-dependent
     *     value of {@code graph} has a first axis of size N and N is also the size of another axis (null: a first
     *     axis of size N is taken to be the example axis)
     */
    ParameterConsumers(Graph graph, int nParams, Supplier<Graph> witness) {
        this.graph = graph;
        this.params = graph.inputs().subList(0, nParams);
        this.x = graph.inputs().get(nParams);
        int n = x.dim(0);
        exampleDependent.add(x);
        parameterOnly.addAll(params);
        for (int p = 0; p < nParams; p++) {
            sources.put(params.get(p), new int[] {p});
            consumersOfParameter.add(new ArrayList<>());
        }
        boolean axisFirst = true;
        for (Equation e : graph.equations()) {
            producer.put(e.output(), e);
            boolean dep = false;
            boolean par = false;
            for (Var v : e.inputs()) {
                reads.merge(v, 1, Integer::sum);
                dep |= exampleDependent.contains(v);
                par |= parameterOnly.contains(v);
            }
            if (dep) {
                exampleDependent.add(e.output());
                axisFirst &= e.output().rank() > 0 && e.output().dim(0) == n;
                for (int i = 0; i < e.inputs().size(); i++) {
                    if (parameterOnly.contains(e.input(i))) {
                        Consumer c = new Consumer(e, i, consumers.size(), graph.constants());
                        consumers.add(c);
                        for (int p : sources(e.input(i))) {
                            consumersOfParameter.get(p).add(c);
                        }
                    }
                }
            } else if (par) {
                parameterOnly.add(e.output());
                sources.put(e.output(), union(e.inputs()));
            }
        }
        this.exampleAxisFirst = axisFirst && (witness == null || nOnlyAsExampleAxis(n)
                || followsTheBatchSize(witness, nParams));
    }

    /**
     * Whether N is the size of no axis but the first axis of example-dependent values: of no later axis of any
     * value and of no axis of a parameter-only value or constant. An axis of size N that is not the example axis
     * must then come from one that is (a reshape with a first axis of N keeps the examples' rows), so the witness
     * at another batch size is not needed — the common case (N = 16 beside widths of 512), which then traces once.
     */
    private boolean nOnlyAsExampleAxis(int n) {
        for (Var v : graph.inputs()) {
            if (hasAxisOfSize(v, n, !exampleDependent.contains(v))) {
                return false;
            }
        }
        for (Equation e : graph.equations()) {
            for (Var v : e.inputs()) {
                if (hasAxisOfSize(v, n, !exampleDependent.contains(v))) {
                    return false;
                }
            }
            if (hasAxisOfSize(e.output(), n, !exampleDependent.contains(e.output()))) {
                return false;
            }
        }
        return true;
    }

    /** Whether an axis of {@code v} has size n: any axis, or with {@code firstToo} false, any after the first. */
    private static boolean hasAxisOfSize(Var v, int n, boolean firstToo) {
        for (int a = firstToo ? 0 : 1; a < v.rank(); a++) {
            if (v.dim(a) == n) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@link #followsTheBatchSize(Graph, int)} on the witness; true when the network traces at this batch size
     * only (an ONNX file with its batch size written into its shapes), where the sizes at N are all there is.
     */
    private boolean followsTheBatchSize(Supplier<Graph> witness, int nParams) {
        Graph other;
        try {
            // its constants belong to whoever supplies the witness (a side plan closes them once it is built)
            other = witness.get();
        } catch (IllegalArgumentException tracesAtNoOtherBatchSize) {
            return true;
        }
        return followsTheBatchSize(other, nParams);
    }

    /**
     * Whether every example-dependent value's first axis is the batch size in {@code other}, this network traced
     * at another batch size (equation for equation: tracing does not depend on the batch size).
     */
    private boolean followsTheBatchSize(Graph other, int nParams) {
        List<Equation> mine = graph.equations();
        List<Equation> theirs = other.equations();
        int otherN = other.inputs().get(nParams).dim(0);
        if (mine.size() != theirs.size()) {
            return false;
        }
        for (int i = 0; i < mine.size(); i++) {
            Var out = theirs.get(i).output();
            if (exampleDependent.contains(mine.get(i).output()) && (out.rank() == 0 || out.dim(0) != otherN)) {
                return false;
            }
        }
        return true;
    }

    /** The sorted indices of the parameters that parameter-only value {@code v} is computed from. */
    int[] sources(Var v) {
        int[] s = sources.get(v);
        return s == null ? new int[0] : s;
    }

    /** The consumers whose parameter operand is computed from parameter {@code p}, in graph order. */
    List<Consumer> consumersOf(int p) {
        return Collections.unmodifiableList(consumersOfParameter.get(p));
    }

    /** The sorted union of the parameter sources of {@code inputs} (constants contribute none). */
    private int[] union(List<Var> inputs) {
        int[] first = sources(inputs.get(0));
        if (inputs.size() == 1) {
            return first;
        }
        int[] all = first;
        for (int i = 1; i < inputs.size(); i++) {
            int[] s = sources(inputs.get(i));
            if (s.length > 0 && !Arrays.equals(s, all)) {
                int[] merged = Arrays.copyOf(all, all.length + s.length);
                System.arraycopy(s, 0, merged, all.length, s.length);
                all = Arrays.stream(merged).sorted().distinct().toArray();
            }
        }
        return all;
    }

    /** True when parameter-only value {@code v} is computed from parameter {@code p} (or is p). */
    boolean reaches(Var p, Var v) {
        if (p == v) {
            return true;
        }
        int[] ps = sources(p);
        return ps.length == 1 && Arrays.binarySearch(sources(v), ps[0]) >= 0;
    }
}
