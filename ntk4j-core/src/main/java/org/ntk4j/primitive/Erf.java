package org.ntk4j.primitive;

import org.ntk4j.graph.Var;

/** y = erf x, the Gauss error function, to about 1e-15 relative (see {@link ErfFunction}). */
public final class Erf extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Erf INSTANCE = new Erf();

    private Erf() {
    }

    @Override
    public String name() {
        return "erf";
    }

    @Override
    protected double apply(double x) {
        return ErfFunction.erf(x);
    }

    /** erf' = 2/√π · e^{-x²}. */
    @Override
    protected Var derivative(Var x, Var y) {
        return x.square().neg().exp().mul(2.0 / Math.sqrt(Math.PI));
    }
}
