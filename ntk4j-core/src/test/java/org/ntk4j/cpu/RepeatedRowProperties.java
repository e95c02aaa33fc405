package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.cpu.Elementwise.BinaryOp;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * One operand a single row that every row of the other repeats — a per-channel scale or bias [C] (or [1, 1, C])
 * against [K, N, H, C], on either side — goes through flat segments of whole rows: every operation, both dtypes,
 * rows of 1 to 70 elements, element counts across the parallel grain and the segments' ends, against the scalar
 * definition {@link Elementwise#apply} element for element.
 */
class RepeatedRowProperties {

    @Property(tries = 200)
    void aRepeatedRowAgainstAFullOperandMatchesTheDefinition(@ForAll @IntRange(min = 1, max = 70) int c,
                                                             @ForAll @IntRange(min = 1, max = 9) int k,
                                                             @ForAll @IntRange(min = 1, max = 700) int positions,
                                                             @ForAll boolean f64, @ForAll boolean rowOnTheLeft,
                                                             @ForAll boolean withUnitAxes, @ForAll long seed) {
        DType dt = f64 ? DType.F64 : DType.F32;
        int[] fullShape = {k, positions, c};
        int[] rowShape = withUnitAxes ? new int[] {1, 1, c} : new int[] {c};
        try (Tensor full = Tensor.randomNormal(dt, seed, fullShape);
             Tensor row = Tensor.randomNormal(dt, seed + 1, rowShape)) {
            row.setFlat(0, 0.0); // a zero in the row: division by it, comparisons of equals
            full.setFlat(0, 0.0);
            for (BinaryOp op : BinaryOp.values()) {
                Tensor a = rowOnTheLeft ? row : full;
                Tensor b = rowOnTheLeft ? full : row;
                try (Tensor out = Elementwise.binary(op, a, b)) {
                    assertThat(out.shape()).containsExactly(fullShape);
                    for (int i = 0; i < out.size(); i++) {
                        double x = rowOnTheLeft ? row.getFlat(i % c) : full.getFlat(i);
                        double y = rowOnTheLeft ? full.getFlat(i) : row.getFlat(i % c);
                        double want = Elementwise.apply(op, x, y);
                        if (dt == DType.F32) {
                            want = (float) want;
                        }
                        double got = out.getFlat(i);
                        if (Double.isNaN(want)) {
                            assertThat(got).as("%s element %d", op, i).isNaN();
                        } else {
                            assertThat(got).as("%s element %d of [%d, %d, %d]", op, i, k, positions, c)
                                    .isEqualTo(want);
                        }
                    }
                }
            }
        }
    }
}
