package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** A comparison giving 1 or 0 with broadcasting. Piecewise constant: both derivatives are zero. */
public abstract class ComparisonPrimitive extends BinaryPrimitive {
    /**
     * Creates the comparison.
     *
     * @param op the elementwise CPU kernel, which writes 1 where the comparison holds and 0 elsewhere
     */
    protected ComparisonPrimitive(Elementwise.BinaryOp op) {
        super(op);
    }

    @Override
    public final Var jvp(Var[] p, Var out, Var[] t, int k) {
        return null;
    }

    @Override
    public final Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {null, null};
    }
}
