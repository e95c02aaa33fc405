package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.Fixtures;
import org.ntk4j.cpu.Elementwise.BinaryOp;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * One operand repeating one row over blocks of consecutive rows while the other runs through them — a per-channel
 * scale or bias [C] (or [1, 1, C]) against [K, P, C]; one row per leading index, [K, 1, C] against [K, P, C]; a
 * stacked tangent [K, 1, 1, C] of a per-channel parameter against [P1, P2, C], which itself repeats over K — goes
 * through flat segments of whole rows: every operation, both dtypes, either side, rows of 1 to 70 elements, element
 * counts across the parallel grain and the segments' ends, against the scalar definition {@link Elementwise#apply}
 * at every element.
 */
class RepeatedRowProperties {

    @Property(tries = 120)
    void rowsRepeatedOverBlocksMatchTheDefinition(@ForAll @IntRange(min = 1, max = 70) int c,
                                                  @ForAll @IntRange(min = 1, max = 9) int k,
                                                  @ForAll @IntRange(min = 1, max = 30) int p1,
                                                  @ForAll @IntRange(min = 1, max = 30) int p2,
                                                  @ForAll @IntRange(min = 0, max = 3) int layout,
                                                  @ForAll boolean f64, @ForAll boolean rowOnTheLeft,
                                                  @ForAll long seed) {
        DType dt = f64 ? DType.F64 : DType.F32;
        int[][] shapes = {
            {c}, {k, p1, p2, c},                // one row for everything
            {1, 1, c}, {k, p1 * p2, c},         // the same with unit axes
            {k, 1, 1, c}, {k, p1, p2, c},       // one row per leading index
            {k, 1, 1, c}, {p1, p2, c}};         // one row per leading index, the other repeated over it
        int[] rowShape = shapes[2 * layout];
        int[] otherShape = shapes[2 * layout + 1];
        try (Tensor other = Tensor.randomNormal(dt, seed, otherShape);
             Tensor row = Tensor.randomNormal(dt, seed + 1, rowShape)) {
            row.setFlat(0, 0.0); // a zero: division by it, comparisons of equal values
            other.setFlat(0, 0.0);
            Tensor a = rowOnTheLeft ? row : other;
            Tensor b = rowOnTheLeft ? other : row;
            int[] shape = Shapes.broadcast("test", a.shape(), b.shape());
            for (BinaryOp op : BinaryOp.values()) {
                try (Tensor out = Elementwise.binary(op, a, b)) {
                    assertThat(out.shape()).containsExactly(shape);
                    for (int i = 0; i < out.size(); i++) {
                        int[] idx = Fixtures.unravel(i, shape);
                        double want = Elementwise.apply(op, a.getFlat(Fixtures.broadcastRead(a.shape(), idx)),
                                b.getFlat(Fixtures.broadcastRead(b.shape(), idx)));
                        if (dt == DType.F32) {
                            want = (float) want;
                        }
                        double got = out.getFlat(i);
                        if (Double.isNaN(want)) {
                            assertThat(got).as("%s element %d", op, i).isNaN();
                        } else {
                            assertThat(got).as("%s element %d of %s op %s", op, i, Shapes.str(a.shape()),
                                    Shapes.str(b.shape())).isEqualTo(want);
                        }
                    }
                }
            }
        }
    }

    /**
     * One long row (more than a quarter of the heap segment) repeated for every row of the other operand, as a mask
     * [N, H, W, C] against a stack of cotangents [K, N, H, W, C]: the cores split the positions and each segment of
     * the row is read once for all rows. Rows from just past the threshold to past two parallel grains and several
     * segments, 2 to 5 rows, the row with or without a leading unit axis, either side, both dtypes, every operation,
     * against the scalar definition at every element.
     */
    @Property(tries = 25)
    void oneLongRowForAllRowsMatchesTheDefinition(@ForAll @IntRange(min = 1025, max = 40_000) int inner,
                                                  @ForAll @IntRange(min = 2, max = 5) int k,
                                                  @ForAll boolean unitAxis, @ForAll boolean f64,
                                                  @ForAll boolean rowOnTheLeft, @ForAll long seed) {
        DType dt = f64 ? DType.F64 : DType.F32;
        try (Tensor other = Tensor.randomNormal(dt, seed, k, inner);
             Tensor row = Tensor.randomNormal(dt, seed + 1, unitAxis ? new int[] {1, inner} : new int[] {inner})) {
            row.setFlat(inner - 1, 0.0); // a zero: division by it, comparisons of equal values
            other.setFlat(inner - 1, 0.0);
            Tensor a = rowOnTheLeft ? row : other;
            Tensor b = rowOnTheLeft ? other : row;
            for (BinaryOp op : BinaryOp.values()) {
                try (Tensor out = Elementwise.binary(op, a, b)) {
                    assertThat(out.shape()).containsExactly(k, inner);
                    for (int i = 0; i < out.size(); i++) {
                        double r = row.getFlat(i % inner);
                        double o = other.getFlat(i);
                        double want = rowOnTheLeft ? Elementwise.apply(op, r, o) : Elementwise.apply(op, o, r);
                        if (dt == DType.F32) {
                            want = (float) want;
                        }
                        double got = out.getFlat(i);
                        if (Double.isNaN(want)) {
                            assertThat(got).as("%s element %d", op, i).isNaN();
                        } else if (got != want) {
                            assertThat(got).as("%s element %d of [%d, %d], row on the left %s", op, i, k, inner,
                                    rowOnTheLeft).isEqualTo(want);
                        }
                    }
                }
            }
        }
    }
}
