package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.Fixtures.assertValues;
import static org.ntk4j.Fixtures.d;
import static org.ntk4j.Fixtures.s;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.Fixtures;
import org.ntk4j.NaiveDot;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * {@link DotGeneralKernel}: hand-computed products, every operand layout it reads in place ([B,M,K] or [B,K,M]
 * lhs, [B,K,N] or [B,N,K] rhs) and layouts that need a transposed copy, against the nested-loop definition.
 */
class DotGeneralKernelTest {

    @Test
    void twoByTwoByHand() {
        try (Tensor a = Fixtures.f64(d(1, 2, 3, 4), 2, 2); Tensor b = Fixtures.f64(d(5, 6, 7, 8), 2, 2)) {
            // a·b
            try (Tensor c = DotGeneralKernel.dot(a, b, s(1), s(0), s(), s())) {
                assertValues(c, s(2, 2), d(19, 22, 43, 50), 0);
            }
            // a·bᵀ (rhs read as [N,K])
            try (Tensor c = DotGeneralKernel.dot(a, b, s(1), s(1), s(), s())) {
                assertValues(c, s(2, 2), d(17, 23, 39, 53), 0);
            }
            // aᵀ·b (lhs read as [K,M])
            try (Tensor c = DotGeneralKernel.dot(a, b, s(0), s(0), s(), s())) {
                assertValues(c, s(2, 2), d(26, 30, 38, 44), 0);
            }
            // aᵀ·bᵀ = (b·a)ᵀ
            try (Tensor c = DotGeneralKernel.dot(a, b, s(0), s(1), s(), s())) {
                assertValues(c, s(2, 2), d(23, 31, 34, 46), 0);
            }
            // batch over rows: per-row inner products
            try (Tensor c = DotGeneralKernel.dot(a, b, s(1), s(1), s(0), s(0))) {
                assertValues(c, s(2), d(17, 53), 0);
            }
            // no contraction: the outer product, [2,2,2,2]
            try (Tensor c = DotGeneralKernel.dot(a, b, s(), s(), s(), s())) {
                assertThat(c.shape()).containsExactly(2, 2, 2, 2);
                assertThat(c.get(1, 0, 0, 1)).isEqualTo(3 * 6);
                assertThat(c.get(0, 1, 1, 0)).isEqualTo(2 * 7);
            }
        }
    }

    @Test
    void aRepeatedProductReusesItsPlanAndGivesTheSameBits() {
        // shapes no other test uses, so the first call adds exactly one plan
        try (Tensor a = Tensor.randomNormal(DType.F64, 5, 3, 37, 41);
             Tensor b = Tensor.randomNormal(DType.F64, 6, 3, 43, 41);
             Tensor first = DotGeneralKernel.dot(a, b, s(2), s(2), s(0), s(0))) {
            int plans = DotGeneralKernel.cachedPlans();
            try (Tensor again = DotGeneralKernel.dot(a, b, s(2), s(2), s(0), s(0))) {
                assertThat(DotGeneralKernel.cachedPlans()).isEqualTo(plans);
                for (int i = 0; i < first.size(); i++) {
                    assertThat(again.getFlat(i)).isEqualTo(first.getFlat(i));
                }
            }
            // another contraction of the same operands is planned anew (one more entry, or a cleared cache of
            // one when the cache was full), and is still the definition
            try (Tensor other = DotGeneralKernel.dot(a, b, s(2), s(2), s(), s())) {
                assertThat(DotGeneralKernel.cachedPlans()).isNotEqualTo(plans);
                assertThat(other.shape()).containsExactly(3, 37, 3, 43);
                double want = 0;
                for (int k = 0; k < 41; k++) {
                    want += a.get(1, 2, k) * b.get(2, 5, k);
                }
                assertThat(other.get(1, 2, 2, 5)).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
    }

    @Test
    void float32ByHand() {
        try (Tensor a = Fixtures.f32(d(1, 2, 3, 4, 5, 6), 2, 3); Tensor b = Fixtures.f32(d(1, 0, 2, 1, 0, 3), 3, 2);
             Tensor c = DotGeneralKernel.dot(a, b, s(1), s(0), s(), s())) {
            assertThat(c.dtype()).isEqualTo(DType.F32);
            assertValues(c, s(2, 2), d(5, 11, 14, 23), 0);
        }
    }

    /** lhs shape, rhs shape, lc, rc, lb, rb, whether the lhs and the rhs are read in place. */
    static Stream<Arguments> layouts() {
        int[] n = {};
        return Stream.of(
                // [B,M,K] x [B,K,N]
                Arguments.of("BMK.BKN", s(2, 3, 4), s(2, 4, 5), s(2), s(1), s(0), s(0), true, true),
                // [B,K,M] x [B,K,N]
                Arguments.of("BKM.BKN", s(2, 4, 3), s(2, 4, 5), s(1), s(1), s(0), s(0), true, true),
                // [B,M,K] x [B,N,K]
                Arguments.of("BMK.BNK", s(2, 3, 4), s(2, 5, 4), s(2), s(2), s(0), s(0), true, true),
                // [B,K,M] x [B,N,K]
                Arguments.of("BKM.BNK", s(2, 4, 3), s(2, 5, 4), s(1), s(2), s(0), s(0), true, true),
                // unbatched, with multi-axis M, K, N
                Arguments.of("MMK.KN", s(2, 3, 4), s(4, 5), s(2), s(0), n, n, true, true),
                Arguments.of("KMM.NNK", s(4, 2, 3), s(5, 2, 4), s(0), s(2), n, n, true, true),
                Arguments.of("MKK.KKN", s(3, 2, 4), s(2, 4, 5), s(1, 2), s(0, 1), n, n, true, true),
                // size-1 axes do not break "in place"
                Arguments.of("size-1 batch after M", s(3, 1, 4), s(1, 4, 5), s(2), s(1), s(1), s(0), true, true),
                // copies: batch axis not leading, contracting axes split around M, rhs contracting order reversed
                Arguments.of("MBK.BKN", s(3, 2, 4), s(2, 4, 5), s(2), s(1), s(1), s(0), false, true),
                Arguments.of("KMK.KKN", s(2, 3, 4), s(2, 4, 5), s(0, 2), s(0, 1), n, n, false, true),
                Arguments.of("MKK.KKN reversed", s(3, 2, 4), s(4, 2, 5), s(1, 2), s(1, 0), n, n, true, false),
                Arguments.of("BMK.KNB", s(2, 3, 4), s(4, 5, 2), s(2), s(0), s(0), s(2), true, false),
                Arguments.of("two batch axes swapped", s(2, 3, 4), s(3, 2, 4, 5), s(2), s(2), s(0, 1), s(1, 0), true,
                        false),
                Arguments.of("contracting pairs listed out of lhs order", s(3, 2, 4), s(2, 4, 5), s(2, 1), s(1, 0), n,
                        n, true, true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layouts")
    void layoutsAgreeWithTheDefinition(String name, int[] ls, int[] rs, int[] lc, int[] rc, int[] lb, int[] rb,
                                       boolean lhsInPlace, boolean rhsInPlace) {
        for (DType dt : DType.values()) {
            try (Tensor l = Tensor.randomNormal(dt, 1, ls); Tensor r = Tensor.randomNormal(dt, 2, rs);
                 Tensor c = DotGeneralKernel.dot(l, r, lc, rc, lb, rb)) {
                double[] expected = NaiveDot.dot(l, r, lc, rc, lb, rb);
                assertValues(c, NaiveDot.shape(ls, rs, lc, rc, lb, rb), expected, dt == DType.F32 ? 1e-5 : 1e-13);
            }
        }
        // the layout test the kernel makes (contracting pairs ordered by lhs axis, as it does)
        int[] order = sortedBy(lc);
        int[] lcs = pick(lc, order);
        int[] rcs = pick(rc, order);
        int[] lf = NaiveDot.free(ls.length, lc, lb);
        int[] rf = NaiveDot.free(rs.length, rc, rb);
        boolean lhs = DotGeneralKernel.isIdentity(ls, Shapes.concat(lb, lf, lcs))
                || DotGeneralKernel.isIdentity(ls, Shapes.concat(lb, lcs, lf));
        boolean rhs = DotGeneralKernel.isIdentity(rs, Shapes.concat(rb, rcs, rf))
                || DotGeneralKernel.isIdentity(rs, Shapes.concat(rb, rf, rcs));
        assertThat(lhs).as("lhs read in place").isEqualTo(lhsInPlace);
        assertThat(rhs).as("rhs read in place").isEqualTo(rhsInPlace);
    }

    @Test
    void isIdentityIgnoresAxesOfSizeOne() {
        assertThat(DotGeneralKernel.isIdentity(s(2, 3), s(0, 1))).isTrue();
        assertThat(DotGeneralKernel.isIdentity(s(2, 3), s(1, 0))).isFalse();
        assertThat(DotGeneralKernel.isIdentity(s(1, 3), s(1, 0))).isTrue();
        assertThat(DotGeneralKernel.isIdentity(s(2, 1, 3), s(1, 0, 2))).isTrue();
        assertThat(DotGeneralKernel.isIdentity(s(2, 1, 3), s(2, 1, 0))).isFalse();
    }

    @Test
    void emptyContractionGivesZerosAndEmptyOperandsGiveEmptyResults() {
        try (Tensor a = Tensor.zeros(DType.F64, 2, 0); Tensor b = Tensor.zeros(DType.F64, 0, 3);
             Tensor c = DotGeneralKernel.dot(a, b, s(1), s(0), s(), s())) {
            assertValues(c, s(2, 3), new double[6], 0);
        }
        try (Tensor a = Tensor.zeros(DType.F32, 0, 4); Tensor b = Tensor.randomNormal(DType.F32, 1, 4, 3);
             Tensor c = DotGeneralKernel.dot(a, b, s(1), s(0), s(), s())) {
            assertThat(c.shape()).containsExactly(0, 3);
        }
    }

    @Test
    void largeBatchedProductAgreesWithTheDefinition() {
        int[] ls = {3, 40, 50};
        int[] rs = {3, 60, 50};
        try (Tensor l = Tensor.randomNormal(DType.F64, 5, ls); Tensor r = Tensor.randomNormal(DType.F64, 6, rs);
             Tensor c = DotGeneralKernel.dot(l, r, s(2), s(2), s(0), s(0))) {
            assertValues(c, s(3, 40, 60), NaiveDot.dot(l, r, s(2), s(2), s(0), s(0)), 1e-12);
        }
    }

    private static int[] sortedBy(int[] keys) {
        Integer[] o = new Integer[keys.length];
        for (int i = 0; i < o.length; i++) {
            o[i] = i;
        }
        java.util.Arrays.sort(o, (p, q) -> Integer.compare(keys[p], keys[q]));
        int[] r = new int[o.length];
        for (int i = 0; i < o.length; i++) {
            r[i] = o[i];
        }
        return r;
    }

    private static int[] pick(int[] a, int[] idx) {
        int[] r = new int[idx.length];
        for (int i = 0; i < idx.length; i++) {
            r[i] = a[idx[i]];
        }
        return r;
    }
}
