package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = tanh x. */
public final class Tanh extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Tanh INSTANCE = new Tanh();

    private Tanh() {
    }

    @Override
    public String name() {
        return "tanh";
    }

    @Override
    protected double apply(double x) {
        return Math.tanh(x);
    }

    /** d/dx tanh x = 1 - y². */
    @Override
    protected Var derivative(Var x, Var y) {
        return y.square().neg().add(1.0);
    }
}
