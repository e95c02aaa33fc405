package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Every element-wise function evaluated over segments of heap arrays (the default loop, or a primitive's own
 * {@code applyAll}) against its scalar definition {@link UnaryPrimitive#apply(double)}, computed in double and
 * rounded to the dtype: element for element and bit for bit (a NaN as any NaN), both dtypes, sizes across the
 * 4,096-element segments and the split over cores, special values mixed in.
 */
class UnarySegmentsProperties {
    private static final UnaryPrimitive[] ALL = {Neg.INSTANCE, Exp.INSTANCE, Sqrt.INSTANCE, Log.INSTANCE,
        Sin.INSTANCE, Cos.INSTANCE, Tanh.INSTANCE, Sigmoid.INSTANCE, Softplus.INSTANCE, Erf.INSTANCE};
    private static final double[] SPECIAL = {0.0, -0.0, 1.0, -1.0, 0.5, 88.7, -103.9, 710.0, -745.2, 1e-30,
        Double.MIN_VALUE, Float.MIN_VALUE, Float.MAX_VALUE, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
        Double.NaN};

    @Property(tries = 40)
    void segmentsMatchTheScalarDefinition(@ForAll @IntRange(min = 1, max = 20_000) int size, @ForAll boolean f64,
                                          @ForAll long seed) {
        DType dt = f64 ? DType.F64 : DType.F32;
        Random r = new Random(seed);
        try (Tensor x = Tensor.empty(dt, size)) {
            for (int i = 0; i < size; i++) {
                x.setFlat(i, r.nextInt(8) == 0 ? SPECIAL[r.nextInt(SPECIAL.length)] : 4 * r.nextGaussian());
            }
            for (UnaryPrimitive p : ALL) {
                try (Tensor y = p.evaluate(x)) {
                    for (int i = 0; i < size; i++) {
                        double want = p.apply(x.getFlat(i));
                        if (dt == DType.F32) {
                            want = (float) want;
                        }
                        double got = y.getFlat(i);
                        if (Double.isNaN(want)) {
                            assertThat(got).as("%s(%s) at %d", p.name(), x.getFlat(i), i).isNaN();
                        } else {
                            assertThat(Double.doubleToRawLongBits(got)).as("%s(%s) at %d of %d: %s against %s",
                                    p.name(), x.getFlat(i), i, size, got, want)
                                    .isEqualTo(Double.doubleToRawLongBits(want));
                        }
                    }
                }
            }
        }
    }
}
