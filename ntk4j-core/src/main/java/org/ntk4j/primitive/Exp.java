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

    /** The same function as {@link #apply(double)}, as a loop of its own. */
    @Override
    protected void applyAll(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = (float) Math.exp(x[i]);
        }
    }

    /** The same function as {@link #apply(double)}, as a loop of its own. */
    @Override
    protected void applyAll(double[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = Math.exp(x[i]);
        }
    }

    /** d/dx e^x = y. */
    @Override
    protected Var derivative(Var x, Var y) {
        return y;
    }
}
