package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/**
 * z = max(a, b). Where a &gt; b the derivative is a's, where a &lt; b b's; at a tie (a = b) it is b's for
 * {@link #INSTANCE} (the mask a &gt; b: relu = max(x, 0) has derivative 0 at 0, and max(c, x) with a constant c has
 * derivative 1 at x = c, a clamp's), and half of each for {@link #SPLITTING_TIES} (the mask (a &gt; b) + ½ (a = b):
 * PyTorch's {@code torch.maximum} and JAX's {@code lax.max}).
 */
public final class Max extends BinaryPrimitive {
    /** The maximum whose derivative goes to the second operand at a tie. */
    public static final Max INSTANCE = new Max(false);
    /** The maximum whose derivative is split evenly between the operands at a tie. */
    public static final Max SPLITTING_TIES = new Max(true);

    private final boolean split;

    private Max(boolean split) {
        super(Elementwise.BinaryOp.MAX);
        this.split = split;
    }

    @Override
    public String name() {
        return "max";
    }

    @Override
    public String params() {
        return split ? "ties=split" : "";
    }

    /** The weight of a's derivative: [a &gt; b], or ([a &gt; b] − [b &gt; a] + 1) / 2 when splitting ties. */
    private Var weightOfA(Var a, Var b) {
        Var gt = a.greater(b);
        return split ? gt.sub(b.greater(a)).add(1.0).mul(0.5) : gt;
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var mask = weightOfA(p[0], p[1]);
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank()).mul(mask);
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank()).mul(mask.neg().add(1.0));
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        Var mask = weightOfA(p[0], p[1]);
        return new Var[] {
            needed[0] ? Stacked.unbroadcast(ct.mul(mask), p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcast(ct.mul(mask.neg().add(1.0)), p[1].shape()) : null};
    }
}
