package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;

/** z = 1 where a &gt; b, else 0. */
public final class Greater extends ComparisonPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Greater INSTANCE = new Greater();

    private Greater() {
        super(Elementwise.BinaryOp.GT);
    }

    @Override
    public String name() {
        return "gt";
    }
}
