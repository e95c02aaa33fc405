package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = e^x. */
public final class Exp extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Exp INSTANCE = new Exp();

    private Exp() {
    }

    @Override
    public String name() {
        return "exp";
    }

    @Override
    protected double apply(double x) {
        return Math.exp(x);
    }

    /** d/dx e^x = y. */
    @Override
    protected Var derivative(Var x, Var y) {
        return y;
    }
}
