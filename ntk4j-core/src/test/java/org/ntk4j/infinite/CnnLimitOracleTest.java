package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;
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
            for (int c = 2; c < lines.size(); c += 7) {
                String spec = lines.get(c)[1];
                InfiniteLimit lim = InfiniteLimit.of(spec);
                worst = Math.max(worst, OracleFile.checkCase(lines, c, spec, lim, x1, x2, (i, j, self) -> 1e-12,
                        false));
                cases++;
            }
        }
        System.out.printf("cnn limit vs NumPy: largest error / scale %.3g%n", worst);
        assertThat(cases).isEqualTo(24);
    }

}
