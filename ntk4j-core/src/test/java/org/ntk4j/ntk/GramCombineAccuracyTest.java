package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives' Gram order in float32: the last step sums R² products per kernel element (R positions
 * of a convolution on each side). Those sums are taken in double, as the per-output and per-example forms take
 * theirs, so a float32 element is the exact sum rounded once (then added to the kernel), whatever R is. Summed
 * in float, 65,536 positive terms (R = 256, a 16×16 feature map) drift by about √(R²/3)·2⁻²⁴ ≈ 9e-6 relative,
 * 150 times a float32 rounding. Also the other sizes of R, which take other loops (below 16 no copy to heap
 * arrays; R not a multiple of the dot product's eight sums), and a side with itself (only the blocks n2 ≥ n1
 * accumulated, the others left as they were).
 */
class GramCombineAccuracyTest {
    private static final int N1 = 2;
    private static final int N2 = 2;
    private static final int O = 2;

    @ParameterizedTest(name = "R = {0}, upper = {1}")
    @CsvSource({"256, false", "256, true", "67, false", "16, true", "15, false", "9, true", "2, false"})
    void float32GramOrderSumsItsPositionPairsToFloat32Rounding(int r, boolean upper) {
        Random rnd = new Random(11);
        float[] ga = new float[N1 * r * N2 * r];
        float[] gd = new float[N1 * O * r * N2 * O * r];
        float[] acc0 = new float[N1 * O * N2 * O];
        // positive terms of one size, as a relu network's activations give: the float sum's drift is largest
        for (int i = 0; i < ga.length; i++) {
            ga[i] = 0.5f + rnd.nextFloat();
        }
        for (int i = 0; i < gd.length; i++) {
            gd[i] = 0.5f + rnd.nextFloat();
        }
        for (int i = 0; i < acc0.length; i++) {
            acc0[i] = 1000f * rnd.nextFloat();
        }
        double s2 = 0.75;
        try (Tensor acc = Tensor.of(acc0.clone(), N1, O, N2, O);
             Tensor a = Tensor.of(ga, N1, r, N2, r);
             Tensor d = Tensor.of(gd, N1, O, r, N2, O, r)) {
            GramCombine.combine(acc, s2, a, d, N1, O, r, N2, upper);
            double worst = 0;
            for (int i1 = 0; i1 < N1; i1++) {
                for (int q1 = 0; q1 < O; q1++) {
                    for (int j2 = 0; j2 < N2; j2++) {
                        for (int q2 = 0; q2 < O; q2++) {
                            // the oracle: each float product is exact in double; their double sum is off by
                            // about 1e-16·√(R²) relative, nothing beside a float32 rounding
                            double sum = 0;
                            for (int r1 = 0; r1 < r; r1++) {
                                for (int r2 = 0; r2 < r; r2++) {
                                    sum += (double) ga[((i1 * r + r1) * N2 + j2) * r + r2]
                                            * gd[((((i1 * O + q1) * r + r1) * N2 + j2) * O + q2) * r + r2];
                                }
                            }
                            int k = ((i1 * O + q1) * N2 + j2) * O + q2;
                            if (upper && j2 < i1) {
                                assertThat(acc.getFlat(k)).as("a block below the diagonal").isEqualTo(acc0[k]);
                                continue;
                            }
                            double want = acc0[k] + s2 * sum;
                            worst = Math.max(worst, Math.abs(acc.getFlat(k) - want) / Math.abs(want));
                        }
                    }
                }
            }
            // two float32 roundings at most (the sum's, the addition's): 2 · 2⁻²⁴ = 1.2e-7; 2.4e-7 leaves
            // margin, and a float sum (about 9e-6 here) is far outside it
            assertThat(worst).isLessThan(2.4e-7);
        }
    }
}
