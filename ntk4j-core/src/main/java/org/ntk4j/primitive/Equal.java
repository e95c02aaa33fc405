package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = 1 where a == b, else 0. Piecewise constant: its derivatives are zero. */
public final class Equal extends BinaryPrimitive {
    public static final Equal INSTANCE = new Equal();

    private Equal() {
        super(Elementwise.BinaryOp.EQ);
    }

    @Override
    public String name() {
        return "eq";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return null;
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {null, null};
    }
}
