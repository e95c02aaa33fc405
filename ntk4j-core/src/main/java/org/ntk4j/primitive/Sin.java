package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = sin x. */
public final class Sin extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Sin INSTANCE = new Sin();

    private Sin() {
    }

    @Override
    public String name() {
        return "sin";
    }

    @Override
    protected double apply(double x) {
        return Math.sin(x);
    }

    /** d/dx sin x = cos x. */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.cos();
    }
}
