package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = cos x. */
public final class Cos extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Cos INSTANCE = new Cos();

    private Cos() {
    }

    @Override
    public String name() {
        return "cos";
    }

    @Override
    protected double apply(double x) {
        return Math.cos(x);
    }

    /** d/dx cos x = -sin x. */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.sin().neg();
    }
}
