package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;

/** z = 1 where a == b, else 0. */
public final class Equal extends ComparisonPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Equal INSTANCE = new Equal();

    private Equal() {
        super(Elementwise.BinaryOp.EQ);
    }

    @Override
    public String name() {
        return "eq";
    }
}
