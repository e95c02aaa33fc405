package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link Tensor#firstNonFinite()}, which scans blocks of 4096 elements without branches, against the element-by-
 * element definition: sizes around the block boundaries, NaN and both infinities at any place (also several),
 * and the extreme finite values (largest, smallest subnormal, negative zero), which must never count.
 */
class FirstNonFiniteProperties {

    private static final double[] BAD = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
    private static final double[] EXTREME_F32 = {Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -0.0,
        Float.MIN_NORMAL};
    private static final double[] EXTREME_F64 = {Double.MAX_VALUE, -Double.MAX_VALUE, Double.MIN_VALUE, -0.0,
        Double.MIN_NORMAL, 1e300};

    private static int reference(Tensor t) {
        for (int i = 0; i < t.size(); i++) {
            if (!Double.isFinite(t.getFlat(i))) {
                return i;
            }
        }
        return -1;
    }

    @Property(tries = 200)
    void findsTheFirstNonFiniteElement(@ForAll @IntRange(min = 1, max = 3 * 4096 + 3) int size,
                                       @ForAll boolean f64, @ForAll @IntRange(min = 0, max = 3) int bad,
                                       @ForAll long seed) {
        java.util.Random r = new java.util.Random(seed);
        DType dtype = f64 ? DType.F64 : DType.F32;
        try (Tensor t = Tensor.randomNormal(dtype, seed, size)) {
            double[] extreme = f64 ? EXTREME_F64 : EXTREME_F32;
            for (int k = 0; k < 5; k++) {
                t.setFlat(r.nextInt(size), extreme[r.nextInt(extreme.length)]);
            }
            for (int k = 0; k < bad; k++) {
                // near a block boundary half of the time
                int at = r.nextBoolean() ? r.nextInt(size) : 4096 * r.nextInt(4) + r.nextInt(3) - 1;
                t.setFlat(Math.max(0, Math.min(size - 1, at)), BAD[r.nextInt(BAD.length)]);
            }
            int expected = reference(t);
            assertThat(t.firstNonFinite()).isEqualTo(expected);
            if (bad == 0) {
                assertThat(expected).isEqualTo(-1);
            }
        }
    }

    @Property(tries = 50)
    void aSingleNonFiniteElementAnywhereIsFound(@ForAll @IntRange(min = 1, max = 9000) int size,
                                               @ForAll @IntRange(min = 0, max = 8999) int where, @ForAll boolean f64) {
        int at = where % size;
        try (Tensor t = Tensor.zeros(f64 ? DType.F64 : DType.F32, size)) {
            t.setFlat(at, Double.NaN);
            assertThat(t.firstNonFinite()).isEqualTo(at);
            t.setFlat(at, Double.NEGATIVE_INFINITY);
            assertThat(t.firstNonFinite()).isEqualTo(at);
            t.setFlat(at, f64 ? Double.MAX_VALUE : Float.MAX_VALUE);
            assertThat(t.firstNonFinite()).isEqualTo(-1);
        }
    }
}
