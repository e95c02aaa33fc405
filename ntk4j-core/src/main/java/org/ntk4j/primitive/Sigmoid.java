package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = 1 / (1 + e^-x), the logistic function. */
public final class Sigmoid extends UnaryPrimitive {
    public static final Sigmoid INSTANCE = new Sigmoid();

    private Sigmoid() {
    }

    @Override
    public String name() {
        return "logistic";
    }

    @Override
    protected double apply(double x) {
        return x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x));
    }

    /** σ' = y (1 - y). */
    @Override
    protected Var derivative(Var x, Var y) {
        return y.mul(y.neg().add(1.0));
    }
}
