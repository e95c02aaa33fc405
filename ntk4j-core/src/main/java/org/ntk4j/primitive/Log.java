package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = ln x. */
public final class Log extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Log INSTANCE = new Log();

    private Log() {
    }

    @Override
    public String name() {
        return "log";
    }

    @Override
    protected double apply(double x) {
        return Math.log(x);
    }

    /** d/dx ln x = 1/x. */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.builder().scalar(1.0, x.dtype()).div(x);
    }
}
