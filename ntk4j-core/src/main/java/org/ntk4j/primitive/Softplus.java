package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = ln(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so that it neither overflows nor loses precision. */
public final class Softplus extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Softplus INSTANCE = new Softplus();

    private Softplus() {
    }

    @Override
    public String name() {
        return "softplus";
    }

    @Override
    protected double apply(double x) {
        return Math.max(x, 0.0) + Math.log1p(Math.exp(-Math.abs(x)));
    }

    /** softplus' = σ(x). */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.sigmoid();
    }
}
