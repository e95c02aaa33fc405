package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link CnnLimit} and {@link ResNetLimit} against cnn_limit_oracle.txt, written by the test resource
 * cnn_limit_oracle.py: a NumPy computation of the same kernels from the layer recursions, in float64, over all
 * examples and the whole map of pixel pairs at once (also for flatten, whose readout takes its diagonal: ntk4j
 * recurses over the diagonal only). 16 cnns (relu and erf, both parameterisations, gap and flatten, depth 2 with
 * filter 3 and biases, depth 3 with filter 2 and none) and 8 resnets (relu and erf, both parameterisations, 1 block
 * with biases, 2 without) on six 4×5×2 images (an identical copy, a negation and a zero image among them) against
 * three (rectangular) and against themselves.
 */
class CnnLimitOracleTest {
    /**
     * Every entry within 1e-12 of its scale √(|k(x,x)| |k(x',x')|) (Cauchy–Schwarz), exactly 0 where that is 0 (the
     * zero image without biases), identical images included: their correlation is 1 at p = p' at every layer, which
     * both keep exactly (arccos near 1 would otherwise turn a rounding of the correlation into an error of 1e-8).
     */
    @Test
    void matchesTheNumPyOracleOnBothPoolsTheResnetAndRectangularInputs() throws IOException {
        List<String[]> lines = OracleFile.lines("cnn_limit_oracle.txt");
        int cases = 0;
        double worst = 0;
        try (Tensor x1 = OracleFile.images(lines.get(0)); Tensor x2 = OracleFile.images(lines.get(1))) {
            int n1 = x1.dim(0);
            int n2 = x2.dim(0);
            for (int c = 2; c < lines.size(); c += 7) {
                String spec = lines.get(c)[1];
                InfiniteLimit lim = InfiniteLimit.of(spec);
                for (int g = 0; g < 2; g++) {
                    LimitKernel which = LimitKernel.values()[g]; // the oracle's lines: K (NNGP), then Θ (NTK)
                    double[] self = values(lines.get(c + 3 + g));
                    double[] d1 = new double[n1];
                    for (int i = 0; i < n1; i++) {
                        d1[i] = self[i * n1 + i];
                    }
                    double[] d2 = values(lines.get(c + 5 + g));
                    worst = Math.max(worst, check(spec, which, lim, x1, x2, values(lines.get(c + 1 + g)), d1,
                            d2));
                    worst = Math.max(worst, check(spec, which, lim, x1, null, self, d1, d1));
                }
                cases++;
            }
        }
        System.out.printf("cnn limit vs NumPy: largest error / scale %.3g%n", worst);
        assertThat(cases).isEqualTo(24);
    }

    /** Checks one kernel; returns its largest error relative to the entries' scales. */
    private static double check(String spec, LimitKernel which, InfiniteLimit lim, Tensor x1, Tensor x2,
                                double[] want, double[] d1, double[] d2) {
        double worst = 0;
        try (Tensor k = lim.kernel(KernelKind.trace(), x1, x2, which, DType.F64)) {
            assertThat(k.shape()).containsExactly(d1.length, d2.length);
            for (int i = 0; i < d1.length; i++) {
                for (int j = 0; j < d2.length; j++) {
                    double scale = Math.sqrt(Math.abs(d1[i]) * Math.abs(d2[j]));
                    double w = want[i * d2.length + j];
                    assertThat(k.get(i, j)).as("%s %s (%d, %d)%s", spec, which, i, j,
                            x2 == null ? " x2 = x1" : "").isCloseTo(w, within(1e-12 * scale));
                    if (scale > 0) {
                        worst = Math.max(worst, Math.abs(k.get(i, j) - w) / scale);
                    }
                }
            }
        }
        return worst;
    }

    private static double[] values(String[] t) {
        return Arrays.stream(t, 1, t.length).mapToDouble(Double::parseDouble).toArray();
    }
}
