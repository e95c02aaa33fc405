package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.Fixtures.assertExact;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.Fixtures;
import org.ntk4j.cpu.Elementwise.BinaryOp;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** {@link Elementwise}: hand-computed broadcasting (rank 0 included), every operation, the parallel paths. */
class ElementwiseTest {

    private static Tensor bin(BinaryOp op, DType dt, double[] a, int[] sa, double[] b, int[] sb) {
        try (Tensor ta = Tensor.of(dt, a, sa); Tensor tb = Tensor.of(dt, b, sb)) {
            return Elementwise.binary(op, ta, tb);
        }
    }

    /**
     * Long rows (past the heap path's segment of 4096) against the scalar definition, element by element: a
     * full operand with a full one ([3, 9001] op [3, 9001], the flat path), with a row broadcast down ([9001])
     * and with a column broadcast across ([3, 1], a stride-0 operand over the long inner axis).
     */
    @ParameterizedTest
    @EnumSource(DType.class)
    void longRowsInSegments(DType dt) {
        int m = 9001;
        try (Tensor a = Tensor.randomNormal(dt, 1, 3, m); Tensor full = Tensor.randomNormal(dt, 2, 3, m);
             Tensor row = Tensor.randomNormal(dt, 3, m); Tensor col = Tensor.randomNormal(dt, 4, 3, 1)) {
            for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.MUL, BinaryOp.MAX}) {
                for (Tensor b : new Tensor[] {full, row, col}) {
                    try (Tensor c = Elementwise.binary(op, a, b)) {
                        for (int i = 0; i < c.size(); i++) {
                            int bi = b == full ? i : b == row ? i % m : i / m;
                            double want = Elementwise.apply(op, a.getFlat(i), b.getFlat(bi));
                            assertThat(c.getFlat(i)).as("%s %s element %d", op, Shapes.str(b.shape()), i)
                                    .isEqualTo(dt == DType.F32 ? (double) (float) want : want);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void broadcastingByHand(DType dt) {
        // [2,3] + [3]
        try (Tensor c = bin(BinaryOp.ADD, dt, d(1, 2, 3, 4, 5, 6), s(2, 3), d(10, 20, 30), s(3))) {
            assertExact(c, s(2, 3), 11, 22, 33, 14, 25, 36);
        }
        // [3] - [2,3]: the broadcast operand on the left
        try (Tensor c = bin(BinaryOp.SUB, dt, d(10, 20, 30), s(3), d(1, 2, 3, 4, 5, 6), s(2, 3))) {
            assertExact(c, s(2, 3), 9, 18, 27, 6, 15, 24);
        }
        // [2,1] * [1,3]: both broadcast
        try (Tensor c = bin(BinaryOp.MUL, dt, d(1, 2), s(2, 1), d(3, 4, 5), s(1, 3))) {
            assertExact(c, s(2, 3), 3, 4, 5, 6, 8, 10);
        }
        // [2,1,2] / [3,1]: result [2,3,2]
        try (Tensor c = bin(BinaryOp.DIV, dt, d(2, 4, 6, 8), s(2, 1, 2), d(1, 2, 4), s(3, 1))) {
            assertExact(c, s(2, 3, 2), 2, 4, 1, 2, 0.5, 1, 6, 8, 3, 4, 1.5, 2);
        }
        // [3,1] with [3]: the inner axis broadcasts on the left operand only
        try (Tensor c = bin(BinaryOp.SUB, dt, d(1, 2, 3), s(3, 1), d(1, 10, 100), s(3))) {
            assertExact(c, s(3, 3), 0, -9, -99, 1, -8, -98, 2, -7, -97);
        }
        // rank 0 with rank 2, both orders, and rank 0 with rank 0
        try (Tensor c = bin(BinaryOp.SUB, dt, d(10), s(), d(1, 2, 3, 4), s(2, 2))) {
            assertExact(c, s(2, 2), 9, 8, 7, 6);
        }
        try (Tensor c = bin(BinaryOp.DIV, dt, d(1, 2, 3, 4), s(2, 2), d(2), s())) {
            assertExact(c, s(2, 2), 0.5, 1, 1.5, 2);
        }
        try (Tensor c = bin(BinaryOp.MUL, dt, d(3), s(), d(-4), s())) {
            assertExact(c, s(), -12);
        }
        // rank 0 with [1]: a rank-1 result
        try (Tensor c = bin(BinaryOp.ADD, dt, d(3), s(), d(4), s(1))) {
            assertExact(c, s(1), 7);
        }
        // [1,1] with [2]: rank grows to 2
        try (Tensor c = bin(BinaryOp.ADD, dt, d(1), s(1, 1), d(1, 2), s(2))) {
            assertExact(c, s(1, 2), 2, 3);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void everyOperation(DType dt) {
        double[] a = {1, -2, 3, 2, 0.5};
        double[] b = {2, -2, 1, 3, 2};
        int[] sh = {5};
        try (Tensor c = bin(BinaryOp.MAX, dt, a, sh, b, sh)) {
            assertExact(c, sh, 2, -2, 3, 3, 2);
        }
        try (Tensor c = bin(BinaryOp.MIN, dt, a, sh, b, sh)) {
            assertExact(c, sh, 1, -2, 1, 2, 0.5);
        }
        try (Tensor c = bin(BinaryOp.EQ, dt, a, sh, b, sh)) {
            assertExact(c, sh, 0, 1, 0, 0, 0);
        }
        try (Tensor c = bin(BinaryOp.GT, dt, a, sh, b, sh)) {
            assertExact(c, sh, 0, 0, 1, 0, 0);
        }
        try (Tensor c = bin(BinaryOp.POW, dt, a, sh, b, sh)) {
            assertExact(c, sh, 1, 0.25, 3, 8, 0.25);
        }
        // the same operations through the broadcasting path ([5] against [1])
        try (Tensor c = bin(BinaryOp.MAX, dt, a, sh, d(1.5), s(1))) {
            assertExact(c, sh, 1.5, 1.5, 3, 2, 1.5);
        }
        try (Tensor c = bin(BinaryOp.POW, dt, d(2), s(1), b, sh)) {
            assertExact(c, sh, 4, 0.25, 2, 8, 4);
        }
        try (Tensor c = bin(BinaryOp.DIV, dt, d(1, -1, 0), s(3), d(0), s())) {
            assertExact(c, s(3), Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN);
        }
    }

    @Test
    void scalarDefinitions() {
        assertThat(Elementwise.apply(BinaryOp.ADD, 2, 3)).isEqualTo(5);
        assertThat(Elementwise.apply(BinaryOp.SUB, 2, 3)).isEqualTo(-1);
        assertThat(Elementwise.apply(BinaryOp.MUL, 2, 3)).isEqualTo(6);
        assertThat(Elementwise.apply(BinaryOp.DIV, 3, 2)).isEqualTo(1.5);
        assertThat(Elementwise.apply(BinaryOp.MAX, 2, 3)).isEqualTo(3);
        assertThat(Elementwise.apply(BinaryOp.MIN, 2, 3)).isEqualTo(2);
        assertThat(Elementwise.apply(BinaryOp.EQ, 2, 2)).isEqualTo(1);
        assertThat(Elementwise.apply(BinaryOp.GT, 2, 2)).isEqualTo(0);
        assertThat(Elementwise.apply(BinaryOp.POW, 2, 10)).isEqualTo(1024);
        assertThat(Elementwise.apply(BinaryOp.MAX, Double.NaN, 1)).isNaN();
    }

    @Test
    void emptyShapes() {
        try (Tensor a = Tensor.zeros(DType.F64, 0, 3); Tensor b = Fixtures.f64(d(1, 2, 3), 3);
             Tensor c = Elementwise.binary(BinaryOp.ADD, a, b)) {
            assertThat(c.shape()).containsExactly(0, 3);
        }
        try (Tensor a = Tensor.zeros(DType.F32, 2, 0); Tensor c = Elementwise.map(a, Math::exp)) {
            assertThat(c.shape()).containsExactly(2, 0);
        }
    }

    @Test
    void dtypesMustAgree() {
        try (Tensor a = Fixtures.f32(d(1, 2), 2); Tensor b = Fixtures.f64(d(1, 2), 2)) {
            assertThatThrownBy(() -> Elementwise.binary(BinaryOp.ADD, a, b))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll("add", "f32", "f64");
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void mapRoundsToTheDtype(DType dt) {
        try (Tensor x = Tensor.of(dt, d(0, 1, 2, -1), 2, 2); Tensor y = Elementwise.map(x, v -> v / 3)) {
            assertThat(y.dtype()).isEqualTo(dt);
            if (dt == DType.F32) {
                assertExact(y, s(2, 2), 0, (float) (1.0 / 3), (float) (2.0 / 3), (float) (-1.0 / 3));
            } else {
                assertExact(y, s(2, 2), 0, 1.0 / 3, 2.0 / 3, -1.0 / 3);
            }
        }
    }

    /** Reference: each output element from its multi-index, read through the broadcast rule directly. */
    private static double[] reference(BinaryOp op, Tensor a, Tensor b, int[] out) {
        int n = Shapes.size(out);
        double[] r = new double[n];
        for (int i = 0; i < n; i++) {
            int[] idx = Fixtures.unravel(i, out);
            r[i] = Elementwise.apply(op, a.getFlat(Fixtures.broadcastRead(a.shape(), idx)),
                    b.getFlat(Fixtures.broadcastRead(b.shape(), idx)));
        }
        return r;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void largeOperandsSplitAcrossCoresAgreeWithTheReference(DType dt) {
        // above the parallel grain both in the broadcasting (row) path and in the flat path, and a scalar (or a
        // tensor of one element) against a whole tensor, one row split across the cores, on either side
        int[][][] pairs = {{{64, 1, 600}, {1, 40, 600}}, {{50, 1}, {50, 2000}}, {{200, 300}, {200, 300}},
            {{}, {100000}}, {{100000}, {}}, {{4, 50, 600}, {1, 1, 1}}};
        for (int[][] p : pairs) {
            for (BinaryOp op : new BinaryOp[] {BinaryOp.SUB, BinaryOp.MUL, BinaryOp.MAX}) {
                try (Tensor a = Tensor.randomNormal(dt, 1, p[0]); Tensor b = Tensor.randomNormal(dt, 2, p[1]);
                     Tensor c = Elementwise.binary(op, a, b)) {
                    int[] out = Shapes.broadcast("test", p[0], p[1]);
                    double[] expected = reference(op, a, b, out);
                    if (dt == DType.F32) {
                        for (int i = 0; i < expected.length; i++) {
                            expected[i] = (float) expected[i]; // float ops round like double ops then rounding
                        }
                    }
                    assertExact(c, out, expected);
                }
            }
        }
        try (Tensor x = Tensor.randomNormal(dt, 3, 300, 400); Tensor y = Elementwise.map(x, Math::sin)) {
            for (int i = 0; i < x.size(); i += 997) {
                double e = Math.sin(x.getFlat(i));
                assertThat(y.getFlat(i)).isEqualTo(dt == DType.F32 ? (float) e : e);
            }
            assertThat(y.getFlat(x.size() - 1)).isEqualTo(dt == DType.F32 ? (float) Math.sin(x.getFlat(x.size() - 1))
                    : Math.sin(x.getFlat(x.size() - 1)));
        }
    }
    /**
     * Broadcasts whose rows span several trailing axes (a stack of cotangents times a per-example mask, a size-1
     * axis inside the run, a scalar-like operand over the whole suffix) and ones that cannot merge, element by
     * element against the index definition.
     */
    @Test
    void broadcastRowsOverSeveralTrailingAxesMatchTheDefinition() {
        int[][][] pairs = {
            {{3, 4, 5, 6}, {4, 5, 6}},       // [K, N, H·W·C] rows
            {{3, 4, 1, 6}, {4, 1, 6}},       // a size-1 axis inside the run
            {{2, 3, 40, 50}, {1, 1, 1, 1}},  // one value over everything
            {{2, 3, 40, 50}, {2, 3, 1, 1}},  // one value per row
            {{3, 4, 5, 6}, {4, 1, 6}},       // cannot merge past the broadcast axis
            {{5, 1, 7}, {1, 6, 7}},          // both broadcast, on different axes
        };
        for (int[][] p : pairs) {
            for (DType dtype : DType.values()) {
                try (Tensor a = Tensor.randomNormal(dtype, 1, p[0]); Tensor b = Tensor.randomNormal(dtype, 2, p[1]);
                     Tensor c = Elementwise.binary(BinaryOp.MUL, a, b);
                     Tensor c2 = Elementwise.binary(BinaryOp.SUB, b, a)) {
                    int[] out = c.shape();
                    for (int i = 0; i < c.size(); i++) {
                        int[] idx = Fixtures.unravel(i, out);
                        double x = a.getFlat(Fixtures.broadcastRead(p[0], idx));
                        double y = b.getFlat(Fixtures.broadcastRead(p[1], idx));
                        double mul = dtype == DType.F32 ? (float) (x * y) : x * y;
                        double sub = dtype == DType.F32 ? (float) (y - x) : y - x;
                        assertThat(c.getFlat(i)).as("%s at %d", Shapes.str(out), i).isEqualTo(mul);
                        assertThat(c2.getFlat(i)).as("%s at %d", Shapes.str(out), i).isEqualTo(sub);
                    }
                }
            }
        }
    }
}
