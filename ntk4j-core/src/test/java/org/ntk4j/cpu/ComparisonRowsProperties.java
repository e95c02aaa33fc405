package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.cpu.Elementwise.BinaryOp;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The vectorised row loops of max, min, gt and eq (gt without a branch, through the sign of y - x) against the
 * scalar definition {@link Elementwise#apply}, element for element and bit for bit (a NaN as any NaN), on rows
 * long enough for the heap-row path, with the values where a shortcut would go wrong mixed in: ±0, ±∞, NaN, the
 * largest and the smallest (subnormal) values, equal neighbours, and operands whose difference overflows or
 * underflows.
 */
class ComparisonRowsProperties {
    private static final double[] SPECIAL = {0.0, -0.0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
        Double.NaN, 1.0, -1.0, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.MIN_NORMAL, Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_VALUE, -Double.MIN_VALUE, 1e-300, 3.5};

    private static double draw(Random r, DType dt) {
        switch (r.nextInt(4)) {
            case 0:
                return SPECIAL[r.nextInt(SPECIAL.length)];
            case 1:
                return r.nextGaussian();
            case 2:
                return (r.nextBoolean() ? 1 : -1) * Math.scalb(1.0 + r.nextDouble(), r.nextInt(600) - 300);
            default:
                return dt == DType.F32 ? Float.intBitsToFloat(r.nextInt()) : Double.longBitsToDouble(r.nextLong());
        }
    }

    @Property(tries = 300)
    void comparisonsAndExtremaMatchTheScalarDefinition(@ForAll @IntRange(min = 1, max = 9000) int size,
                                                        @ForAll boolean f64, @ForAll long seed,
                                                        @ForAll boolean scalarRight) {
        DType dt = f64 ? DType.F64 : DType.F32;
        Random r = new Random(seed);
        try (Tensor a = Tensor.empty(dt, size); Tensor b = scalarRight ? Tensor.empty(dt) : Tensor.empty(dt, size)) {
            for (int i = 0; i < size; i++) {
                a.setFlat(i, draw(r, dt));
            }
            for (int i = 0; i < b.size(); i++) {
                // half of the time the same value as a's: equal operands
                b.setFlat(i, !scalarRight && r.nextBoolean() ? a.getFlat(i) : draw(r, dt));
            }
            for (BinaryOp op : new BinaryOp[] {BinaryOp.GT, BinaryOp.EQ, BinaryOp.MAX, BinaryOp.MIN}) {
                try (Tensor out = Elementwise.binary(op, a, b)) {
                    for (int i = 0; i < size; i++) {
                        double x = a.getFlat(i);
                        double y = b.getFlat(scalarRight ? 0 : i);
                        double want = Elementwise.apply(op, x, y);
                        if (dt == DType.F32) {
                            want = (float) want;
                        }
                        double got = out.getFlat(i);
                        if (Double.isNaN(want)) {
                            // a NaN's payload is not specified (the JIT's max may return either operand's)
                            assertThat(got).as("%s(%s, %s) %s", op, x, y, dt).isNaN();
                        } else {
                            assertThat(Double.doubleToRawLongBits(got)).as("%s(%s, %s) %s", op, x, y, dt)
                                    .isEqualTo(Double.doubleToRawLongBits(want)); // bit for bit: ±0 too
                        }
                    }
                }
            }
        }
    }
}
