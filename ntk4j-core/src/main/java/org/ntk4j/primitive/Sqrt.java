package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = √x. */
public final class Sqrt extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Sqrt INSTANCE = new Sqrt();

    private Sqrt() {
    }

    @Override
    public String name() {
        return "sqrt";
    }

    @Override
    protected double apply(double x) {
        return Math.sqrt(x);
    }

    /** d/dx √x = 1/(2y). */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.builder().scalar(0.5, x.dtype()).div(y);
    }
}
