package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = max(a, b). The derivative follows the larger operand (b on ties), through the mask a &gt; b. */
public final class Max extends BinaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Max INSTANCE = new Max();

    private Max() {
        super(Elementwise.BinaryOp.MAX);
    }

    @Override
    public String name() {
        return "max";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var mask = p[0].greater(p[1]);
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank()).mul(mask);
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank()).mul(mask.neg().add(1.0));
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        Var mask = p[0].greater(p[1]);
        return new Var[] {
            needed[0] ? Stacked.unbroadcast(ct.mul(mask), p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcast(ct.mul(mask.neg().add(1.0)), p[1].shape()) : null};
    }
}
