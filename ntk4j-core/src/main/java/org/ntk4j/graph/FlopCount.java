package org.ntk4j.graph;

import java.util.concurrent.atomic.LongAdder;

/**
 * The floating-point operations the library has run, counted as it runs them by the same rules the cost model
 * predicts with: the {@link Evaluator} adds each equation's {@link org.ntk4j.primitive.Primitive#flops} as it
 * evaluates it, and the NTK methods add each contraction step's own FLOP rule as they run the step. A caller
 * reads {@link #total()} before and after a computation; the difference is what that computation counted (on
 * all threads, so it is exact when nothing else runs meanwhile).
 */
public final class FlopCount {
    private static final LongAdder TOTAL = new LongAdder();

    private FlopCount() {
    }

    /**
     * Adds the FLOPs of work that has just run.
     *
     * @param flops a whole number of floating-point operations, 0 or more (rounded to the nearest long)
     */
    public static void add(double flops) {
        TOTAL.add(Math.round(flops));
    }

    /**
     * The FLOPs counted since the JVM started.
     *
     * @return the running total
     */
    public static long total() {
        return TOTAL.sum();
    }
}
