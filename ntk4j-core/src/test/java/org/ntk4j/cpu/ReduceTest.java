package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.Fixtures.assertExact;
import static org.ntk4j.Fixtures.assertValues;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.cpu.Reduce.Kind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@link Reduce}: sums and maxima over axis sets, by hand, with NaN, empty axes and the parallel path. */
class ReduceTest {
    // [2,3,2]: x[i][j][k] = 100 i + 10 j + k
    private static final double[] X = {0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121};

    private static Tensor reduce(Kind kind, DType dt, double[] x, int[] shape, int... axes) {
        try (Tensor t = Tensor.of(dt, x, shape)) {
            return Reduce.reduce(kind, t, axes);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void sumsByHand(DType dt) {
        int[] sh = {2, 3, 2};
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 0)) {
            assertExact(r, s(3, 2), 100, 102, 120, 122, 140, 142);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 1)) {
            assertExact(r, s(2, 2), 30, 33, 330, 333);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 2)) {
            assertExact(r, s(2, 3), 1, 21, 41, 201, 221, 241);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 0, 2)) {
            assertExact(r, s(3), 202, 242, 282);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 2, 0)) {
            assertExact(r, s(3), 202, 242, 282);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh, 0, 1, 2)) {
            assertExact(r, s(), 726);
        }
        try (Tensor r = reduce(Kind.SUM, dt, X, sh)) {
            assertExact(r, sh, X);
        }
        try (Tensor r = reduce(Kind.SUM, dt, d(5), s())) {
            assertExact(r, s(), 5);
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void maximaByHand(DType dt) {
        double[] x = {3, -1, 7, 2, -5, 4}; // [2,3]
        try (Tensor r = reduce(Kind.MAX, dt, x, s(2, 3), 0)) {
            assertExact(r, s(3), 3, -1, 7);
        }
        try (Tensor r = reduce(Kind.MAX, dt, x, s(2, 3), 1)) {
            assertExact(r, s(2), 7, 4);
        }
        try (Tensor r = reduce(Kind.MAX, dt, X, s(2, 3, 2), 0, 2)) {
            assertExact(r, s(3), 101, 111, 121);
        }
        try (Tensor r = reduce(Kind.MAX, dt, d(Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY), s(2), 0)) {
            assertExact(r, s(), Double.NEGATIVE_INFINITY);
        }
        // NaN propagates, wherever it is in the block
        try (Tensor r = reduce(Kind.MAX, dt, d(1, Double.NaN, 3, 5, 4, Double.NaN), s(2, 3), 1)) {
            assertExact(r, s(2), Double.NaN, Double.NaN);
        }
        try (Tensor r = reduce(Kind.SUM, dt, d(1, Double.NaN, 3), s(3), 0)) {
            assertExact(r, s(), Double.NaN);
        }
    }

    @Test
    void float32SumsAccumulateInDouble() {
        // in float arithmetic 1e8 + 1 rounds back to 1e8; a double accumulator keeps the 1
        try (Tensor r = reduce(Kind.SUM, DType.F32, d(1e8, 1, -1e8), s(3), 0)) {
            assertExact(r, s(), 1);
        }
    }

    @Test
    void emptyAxes() {
        // summing an axis of size 0 gives zeros; a result with no elements is empty
        try (Tensor r = reduce(Kind.SUM, DType.F64, new double[0], s(3, 0), 1)) {
            assertExact(r, s(3), 0, 0, 0);
        }
        try (Tensor r = reduce(Kind.SUM, DType.F64, new double[0], s(0, 3), 1)) {
            assertThat(r.shape()).containsExactly(0);
        }
        try (Tensor t = Tensor.zeros(DType.F64, 3, 0)) {
            assertThatThrownBy(() -> Reduce.reduce(Kind.MAX, t, s(1)))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContainingAll("reduce_max", "[3, 0]");
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void largeReductionsAgreeWithLoops(DType dt) {
        int a = 70;
        int b = 30;
        int c = 40;
        try (Tensor x = Tensor.randomNormal(dt, 9, a, b, c)) {
            double[] sum02 = new double[b];
            double[] max1 = new double[a * c];
            java.util.Arrays.fill(max1, Double.NEGATIVE_INFINITY);
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < b; j++) {
                    for (int k = 0; k < c; k++) {
                        double v = x.get(i, j, k);
                        sum02[j] += v;
                        max1[i * c + k] = Math.max(max1[i * c + k], v);
                    }
                }
            }
            try (Tensor r = Reduce.reduce(Kind.SUM, x, s(0, 2))) {
                // accumulated in double, rounded once: within one float ulp of the loop's double sum (|sum| < 256)
                assertValues(r, s(b), sum02, dt == DType.F32 ? Math.ulp(256f) : 1e-10);
            }
            try (Tensor r = Reduce.reduce(Kind.MAX, x, s(1))) {
                assertExact(r, s(a, c), max1);
            }
            // many small blocks: split across cores by output element
            try (Tensor r = Reduce.reduce(Kind.SUM, x, s(2))) {
                assertThat(r.shape()).containsExactly(a, b);
                double e = 0;
                for (int k = 0; k < c; k++) {
                    e += x.get(a - 1, b - 1, k);
                }
                double tol = dt == DType.F32 ? 1e-5 : 1e-12;
                assertThat(r.get(a - 1, b - 1)).isCloseTo(dt == DType.F32 ? (float) e : e,
                        org.assertj.core.api.Assertions.within(tol));
            }
        }
    }

    /** The parallel scan finds the first non-finite element wherever the parts split, in both dtypes. */
    @Test
    void firstNonFiniteSplitAcrossCoresFindsTheFirst() {
        int n = 3 * (1 << 20) + 17; // several parts of at least 2^20 elements
        for (org.ntk4j.tensor.DType dtype : org.ntk4j.tensor.DType.values()) {
            try (Tensor t = Tensor.zeros(dtype, n)) {
                assertThat(Reduce.firstNonFinite(t)).isEqualTo(-1);
                t.setFlat(n - 2, Double.POSITIVE_INFINITY);
                assertThat(Reduce.firstNonFinite(t)).isEqualTo(n - 2);
                t.setFlat(n / 2 + 5, Double.NaN);
                assertThat(Reduce.firstNonFinite(t)).isEqualTo(n / 2 + 5);
                t.setFlat(3, Double.NEGATIVE_INFINITY);
                assertThat(Reduce.firstNonFinite(t)).isEqualTo(3).isEqualTo(t.firstNonFinite());
                assertThat(t.firstNonFinite(4, n)).isEqualTo(n / 2 + 5);
                assertThat(t.firstNonFinite(n / 2 + 6, n - 2)).isEqualTo(-1);
                assertThatThrownBy(() -> t.firstNonFinite(5, n + 1))
                        .isInstanceOf(IndexOutOfBoundsException.class);
            }
        }
    }

    /**
     * {@link Reduce#sumOfProducts}: a batch norm's rows Σ_spatial δ ⊙ x̂, δ [O, N, H, W, C] and x̂ [N, H, W, C],
     * are exactly (float64: the same products summed in the same order) the product formed and then reduced, and
     * so is the plain sum; by hand on [2, 3, 2]; and the call allocates nothing but its result (the product and
     * the reduction's moved copy were each as large as δ).
     */
    @Test
    void sumOfProductsIsTheReducedProductWithoutItsTemporaries() {
        try (Tensor delta = Tensor.randomNormal(DType.F64, 7, 3, 2, 5, 6, 4);
             Tensor xhat = Tensor.randomNormal(DType.F64, 8, 2, 5, 6, 4);
             Tensor product = Elementwise.binary(Elementwise.BinaryOp.MUL, delta, xhat);
             Tensor expected = Reduce.reduce(Kind.SUM, product, new int[] {2, 3});
             Tensor expectedSum = Reduce.reduce(Kind.SUM, delta, new int[] {2, 3})) {
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor rows = Reduce.sumOfProducts(delta, xhat, 2, 4)) {
                assertThat(Tensor.peakBytes() - base).as("only the result").isEqualTo(rows.bytes());
                assertThat(rows.shape()).containsExactly(3, 2, 4);
                assertThat(rows.toDoubleArray()).containsExactly(expected.toDoubleArray());
            }
            try (Tensor sum = Reduce.sumOfProducts(delta, null, 2, 4)) {
                assertThat(sum.toDoubleArray()).containsExactly(expectedSum.toDoubleArray());
            }
        }
        // by hand: x[i][j][k] = 100 i + 10 j + k summed over j, times y = 1 at k = 0 and 2 at k = 1
        try (Tensor x = Tensor.of(DType.F32, X, 2, 3, 2); Tensor y = Tensor.of(DType.F32, d(1, 2, 1, 2, 1, 2), 3, 2);
             Tensor r = Reduce.sumOfProducts(x, y, 1, 2); Tensor plain = Reduce.sumOfProducts(x, null, 1, 3)) {
            assertValues(r, new int[] {2, 2}, d(30, 66, 330, 666), 0);
            assertValues(plain, new int[] {2}, d(63, 663), 0);
        }
        try (Tensor x = Tensor.zeros(DType.F64, 2, 3, 4); Tensor y = Tensor.zeros(DType.F64, 3, 5)) {
            assertThatThrownBy(() -> Reduce.sumOfProducts(x, y, 1, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("y [3, 5] must be the trailing shape of x [2, 3, 4]");
            assertThatThrownBy(() -> Reduce.sumOfProducts(x, null, 2, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("summed axes [2, 2) of [2, 3, 4]");
        }
    }
}
