package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.Var;

/**
 * The table of parameter consumers of a traced network f(θ_1..θ_m, x): every equation where a value
 * computed from parameters alone (a parameter, or e.g. σ_b·b) meets a value that depends on the examples.
 * At such an equation y = g(p', a) the per-example Jacobian with respect to p' is the equation's own
 * parameter-VJP applied to the cotangent ∂f/∂y of one example, and ∂f/∂θ follows from it through the
 * (example-independent) path θ → p'.
 */
final class ParameterConsumers {
    /** One consumer: the equation and the index of its parameter-only operand. */
    static final class Consumer {
        final Equation equation;
        final int operand;

        Consumer(Equation equation, int operand) {
            this.equation = equation;
            this.operand = operand;
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
    /** True when every example-dependent value has the example axis first with size N. */
    final boolean exampleAxisFirst;

    ParameterConsumers(Graph graph, int nParams) {
        this.graph = graph;
        this.params = graph.inputs().subList(0, nParams);
        this.x = graph.inputs().get(nParams);
        int n = x.dim(0);
        exampleDependent.add(x);
        parameterOnly.addAll(params);
        boolean axisFirst = true;
        for (Equation e : graph.equations()) {
            boolean dep = false;
            boolean par = false;
            for (Var v : e.inputs()) {
                dep |= exampleDependent.contains(v);
                par |= parameterOnly.contains(v);
            }
            if (dep) {
                exampleDependent.add(e.output());
                axisFirst &= e.output().rank() > 0 && e.output().dim(0) == n;
                for (int i = 0; i < e.inputs().size(); i++) {
                    if (parameterOnly.contains(e.input(i))) {
                        consumers.add(new Consumer(e, i));
                    }
                }
            } else if (par) {
                parameterOnly.add(e.output());
            }
        }
        this.exampleAxisFirst = axisFirst;
    }

    /** True when parameter-only value {@code v} is computed from parameter {@code p} (or is p). */
    boolean reaches(Var p, Var v) {
        if (p == v) {
            return true;
        }
        Set<Var> from = Collections.newSetFromMap(new IdentityHashMap<>());
        from.add(p);
        for (Equation e : graph.equations()) {
            if (!parameterOnly.contains(e.output())) {
                continue;
            }
            for (Var in : e.inputs()) {
                if (from.contains(in)) {
                    from.add(e.output());
                    break;
                }
            }
            if (e.output() == v) {
                return from.contains(v);
            }
        }
        return false;
    }
}
