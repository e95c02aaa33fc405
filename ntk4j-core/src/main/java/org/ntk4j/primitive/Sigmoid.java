package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = 1 / (1 + e^-x), the logistic function. */
public final class Sigmoid extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
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

    /**
     * σ'(x) = σ(x) σ(-x), the same number of operations as y (1 - y) but without its cancellation: 1 - y
     * rounds to 0 once y rounds to 1 (x &gt; 37 in f64, x &gt; 17 in f32), where σ(-x) keeps full precision.
     */
    @Override
    protected Var derivative(Var x, Var y) {
        return y.mul(x.neg().sigmoid());
    }
}
