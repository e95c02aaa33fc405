package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@link PntkWidthStudy}: its error is ‖Θ − K ⊗ I‖_F / ‖Θ‖_F by hand; its rows hold their widths and seeds. */
class PntkWidthStudyTest {
    @Test
    void theErrorIsTheRelativeFrobeniusDistanceToKTimesI() {
        int n = 2;
        int o = 2;
        double[] k = {1, 2, 3, 4};
        double[] full = new double[n * n * o * o];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < o; i++) {
                    full[((a * n + b) * o + i) * o + i] = k[a * n + b];
                }
            }
        }
        try (Tensor theta = Tensor.of(full, n, n, o, o); Tensor kk = Tensor.of(k, n, n)) {
            assertThat(PntkWidthStudy.relativeError(theta, kk)).isZero();
        }
        // one off-diagonal logit entry of 3: ‖Θ − K ⊗ I‖ = 3, ‖Θ‖² = 2·(1 + 4 + 9 + 16) + 9 = 69
        full[((1 * n + 0) * o + 0) * o + 1] = 3;
        try (Tensor theta = Tensor.of(full, n, n, o, o); Tensor kk = Tensor.of(k, n, n)) {
            assertThat(PntkWidthStudy.relativeError(theta, kk)).isCloseTo(3 / Math.sqrt(69), within(1e-15));
        }
    }

    @Test
    void eachWidthHasItsRowOverItsSeeds() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 11, 5, 4)) {
            PntkWidthStudy.Result r = PntkWidthStudy.run(w -> Zoo.parse("fcn(depth=1,width=" + w + ",out=3)"),
                    new int[] {8, 64}, 2, 0, x, Method.AUTO);
            assertThat(r.rows()).extracting(PntkWidthStudy.Row::width).containsExactly(8, 64);
            for (PntkWidthStudy.Row row : r.rows()) {
                assertThat(row.minError()).isPositive().isLessThanOrEqualTo(row.meanError());
                assertThat(row.meanError()).isLessThanOrEqualTo(row.maxError()).isLessThan(1);
            }
            double expected = Math.log(r.rows().get(1).meanError() / r.rows().get(0).meanError()) / Math.log(8);
            assertThat(r.exponent()).isCloseTo(expected, within(1e-12));
        }
    }
}
