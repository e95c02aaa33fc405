package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The NumPy oracles' output files (test resources of this package): lines of space-separated tokens. */
final class OracleFile {
    private OracleFile() {
    }

    /** The resource's lines, each split at its spaces. */
    static List<String[]> lines(String resource) throws IOException {
        List<String[]> lines = new ArrayList<>();
        try (InputStream s = OracleFile.class.getResourceAsStream(resource);
             BufferedReader r = new BufferedReader(new InputStreamReader(s, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                lines.add(line.split(" "));
            }
        }
        return lines;
    }

    /** A line "name N H W C v..." as the images [N, H, W, C] it holds. */
    static Tensor images(String[] t) {
        int[] shape = new int[4];
        for (int a = 0; a < 4; a++) {
            shape[a] = Integer.parseInt(t[1 + a]);
        }
        return Tensor.of(Arrays.stream(t, 5, t.length).mapToDouble(Double::parseDouble).toArray(), shape);
    }

    /** A line "name v..." as the values it holds. */
    static double[] values(String[] t) {
        return Arrays.stream(t, 1, t.length).mapToDouble(Double::parseDouble).toArray();
    }

    /** The tolerance of entry (i, j), relative to its scale √(|k(x,x)| |k(x',x')|); {@code self}: x2 = x1. */
    interface Tolerance {
        /**
         * @param i the row (an example of x1)
         * @param j the column (an example of x2, or of x1 where {@code self})
         * @param self whether the kernel is x1's with itself
         * @return the tolerance relative to the entry's scale
         */
        double at(int i, int j, boolean self);
    }

    /**
     * Checks the oracle's case at line {@code c}: lines c + 1 and c + 2 hold the NNGP K and the NTK Θ of x1 against
     * x2, c + 3 and c + 4 those of x1 with itself, c + 5 and c + 6 x2's own diagonals; each kernel of {@code lim},
     * against x2 and with x2 = null, within {@code tol} of each entry's scale (Cauchy–Schwarz), exactly where the
     * scale is 0 unless {@code positiveScales} requires it to be positive.
     *
     * @return the largest error relative to the entries' scales
     */
    static double checkCase(List<String[]> lines, int c, String name, InfiniteLimit lim, Tensor x1, Tensor x2,
                            Tolerance tol, boolean positiveScales) {
        int n1 = x1.dim(0);
        double worst = 0;
        for (int g = 0; g < 2; g++) {
            LimitKernel which = LimitKernel.values()[g]; // the oracle's lines: K (NNGP), then Θ (NTK)
            double[] self = values(lines.get(c + 3 + g));
            double[] d1 = new double[n1];
            for (int i = 0; i < n1; i++) {
                d1[i] = self[i * n1 + i];
            }
            double[] d2 = values(lines.get(c + 5 + g));
            worst = Math.max(worst, check(name, which, lim, x1, x2, values(lines.get(c + 1 + g)), d1, d2, tol,
                    positiveScales));
            worst = Math.max(worst, check(name, which, lim, x1, null, self, d1, d1, tol, positiveScales));
        }
        return worst;
    }

    private static double check(String name, LimitKernel which, InfiniteLimit lim, Tensor x1, Tensor x2,
                                double[] want, double[] d1, double[] d2, Tolerance tol, boolean positiveScales) {
        double worst = 0;
        try (Tensor k = lim.kernel(KernelKind.trace(), x1, x2, which, DType.F64)) {
            assertThat(k.shape()).containsExactly(d1.length, d2.length);
            for (int i = 0; i < d1.length; i++) {
                for (int j = 0; j < d2.length; j++) {
                    double scale = Math.sqrt(Math.abs(d1[i]) * Math.abs(d2[j]));
                    if (positiveScales) {
                        assertThat(scale).isGreaterThan(0);
                    }
                    double w = want[i * d2.length + j];
                    assertThat(k.get(i, j)).as("%s %s (%d, %d)%s", name, which, i, j,
                            x2 == null ? " x2 = x1" : "").isCloseTo(w, within(tol.at(i, j, x2 == null) * scale));
                    if (scale > 0) {
                        worst = Math.max(worst, Math.abs(k.get(i, j) - w) / scale);
                    }
                }
            }
        }
        return worst;
    }
}
