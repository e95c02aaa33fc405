package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = a / b. dz = da/b - db·z/b. */
public final class Div extends BinaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Div INSTANCE = new Div();

    private Div() {
        super(Elementwise.BinaryOp.DIV);
    }

    @Override
    public String name() {
        return "div";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank()).div(p[1]);
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank()).mul(out.div(p[1])).neg();
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? Stacked.unbroadcast(ct.div(p[1]), p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcast(ct.mul(out.div(p[1])).neg(), p[1].shape()) : null};
    }
}
