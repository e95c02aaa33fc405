package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class StandardizerTest {
    @Test
    void globalUsesOneMeanAndThePopulationStdOfTheTrainingSet() {
        // x = [[1, 2], [3, 6]]: mean 3, variance ((4 + 1 + 0 + 9) / 4) = 3.5.
        try (Tensor train = Tensor.of(new double[] {1, 2, 3, 6}, 2, 2);
             Tensor test = Tensor.of(new double[] {3, 3 + Math.sqrt(3.5)}, 1, 2)) {
            Standardizer s = Standardizer.fit(train, Standardizer.Mode.GLOBAL);
            assertThat(s.mean()).containsExactly(3.0);
            assertThat(s.std()[0]).isCloseTo(Math.sqrt(3.5), within(1e-15));
            try (Tensor t = s.apply(test)) {
                assertThat(t.getFlat(0)).isEqualTo(0.0);
                assertThat(t.getFlat(1)).isCloseTo(1.0, within(1e-15));
                assertThat(t.shape()).containsExactly(1, 2);
            }
            assertThat(train.toDoubleArray()).as("apply leaves its argument alone").containsExactly(1, 2, 3, 6);
        }
    }

    /**
     * Statistics kept as numbers (a training run's record) standardise exactly as the fit they came from, bit for
     * bit, in both modes; malformed ones are refused naming what was expected.
     */
    @Test
    void statisticsGivenBackApplyAsTheFitDid() {
        Random r = new Random(4);
        double[] v = new double[60];
        for (int i = 0; i < v.length; i++) {
            v[i] = 3 + 2 * r.nextGaussian();
        }
        v[0] = 7; // feature 0 of 3 ...
        for (int e = 1; e < 20; e++) {
            v[3 * e] = 7; // ... is constant: σ reported as 1, only centred
        }
        try (Tensor train = Tensor.of(v, 20, 3); Tensor test = Tensor.randomNormal(DType.F64, 5, 4, 3)) {
            for (Standardizer.Mode mode : Standardizer.Mode.values()) {
                Standardizer fit = Standardizer.fit(train, mode);
                Standardizer back = Standardizer.of(mode, fit.mean(), fit.std());
                assertThat(back.mode()).isEqualTo(mode);
                assertThat(back.mean()).containsExactly(fit.mean());
                assertThat(back.std()).containsExactly(fit.std());
                try (Tensor a = fit.apply(test); Tensor b = back.apply(test)) {
                    assertThat(b.toDoubleArray()).as("%s", mode).containsExactly(a.toDoubleArray());
                }
            }
            assertThat(Standardizer.fit(train, Standardizer.Mode.PER_FEATURE).std()[0]).isEqualTo(1.0);
        }
        assertThatThrownBy(() -> Standardizer.of(Standardizer.Mode.GLOBAL, new double[] {0, 1}, new double[] {1, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("standardisation: global expected 1 mean(s) and std(s), got 2 and 2");
        assertThatThrownBy(() -> Standardizer.of(Standardizer.Mode.PER_FEATURE, new double[] {0, 1},
                new double[] {1})).hasMessage("standardisation: per-feature expected one mean and one std per "
                        + "feature (at least one), got 2 and 1");
        assertThatThrownBy(() -> Standardizer.of(Standardizer.Mode.GLOBAL, new double[] {0}, new double[] {0}))
                .hasMessage("standardisation: expected a finite mean and a finite positive std, got mean 0.0 and "
                        + "std 0.0 at 0");
    }

    @Test
    void perFeatureLeavesConstantFeaturesCentredOnly() {
        try (Tensor train = Tensor.of(new double[] {0, 5, 10, 0, 7, 30}, 2, 3);
             Tensor test = Tensor.of(new double[] {1, 6, 20}, 1, 3)) {
            Standardizer s = Standardizer.fit(train, Standardizer.Mode.PER_FEATURE);
            assertThat(s.mean()).containsExactly(0, 6, 20);
            assertThat(s.std()).containsExactly(1, 1, 10); // feature 0 is constant: σ = 0, reported as 1
            try (Tensor t = s.apply(test)) {
                assertThat(t.toDoubleArray()).containsExactly(1, 0, 0);
            }
            try (Tensor wrong = Tensor.zeros(DType.F64, 1, 4)) {
                assertThatThrownBy(() -> s.apply(wrong)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("standardisation: fitted on 3 features per example, applied to data with 4");
            }
        }
    }

    @Test
    void noneIsTheIdentityAndModesParse() {
        try (Tensor x = Tensor.of(new float[] {1.5f, -2f}, 2, 1);
             Tensor y = Standardizer.fit(x, Standardizer.Mode.NONE).apply(x)) {
            assertThat(y.toFloatArray()).containsExactly(1.5f, -2f);
            assertThat(y.dtype()).isEqualTo(DType.F32);
        }
        assertThat(Standardizer.Mode.parse("Per_Feature")).isEqualTo(Standardizer.Mode.PER_FEATURE);
        assertThat(Standardizer.Mode.parse("global")).isEqualTo(Standardizer.Mode.GLOBAL);
        assertThatThrownBy(() -> Standardizer.Mode.parse("zscore")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("standardisation: expected global, per-feature or none, got 'zscore'");
    }

    /**
     * One NaN in the training inputs made every statistic NaN, so every standardised input was NaN and the kernel's
     * refusal named flat index 0 of x1, not the bad value: it is refused at the fit, where it is.
     */
    @Test
    void aNonFiniteTrainingValueIsRefusedAtTheFitNamingItsPlace() {
        for (Standardizer.Mode mode : new Standardizer.Mode[] {Standardizer.Mode.GLOBAL,
            Standardizer.Mode.PER_FEATURE}) {
            try (Tensor train = Tensor.of(new double[] {1, 2, 3, Double.NaN, 5, 6}, 3, 2)) {
                assertThatThrownBy(() -> Standardizer.fit(train, mode)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("standardisation: the training inputs: contains a non-finite value (NaN) at flat "
                                + "index 3");
            }
        }
        assertThatThrownBy(() -> Standardizer.fit(null, Standardizer.Mode.GLOBAL))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("standardisation: the training inputs must not be null");
    }

    @Test
    void datasetsKeepTheirLabels() {
        try (Dataset d = new Dataset("d", Tensor.of(new double[] {1, 3}, 2, 1), new int[] {1, 0}, 2);
             Dataset s = Standardizer.fit(d.x(), Standardizer.Mode.GLOBAL).apply(d)) {
            assertThat(s.x().toDoubleArray()).containsExactly(-1, 1);
            assertThat(s.labels()).containsExactly(1, 0);
            assertThat(s.numClasses()).isEqualTo(2);
        }
    }

    /**
     * Fitted on a set and applied to it, GLOBAL gives mean 0, std 1; PER_FEATURE the same per feature.
     *
     * <p>The mean of the standardised values is (μ − μ̂)/σ, where μ̂ is the mean as summed in double precision: its
     * rounding error is at most about m·ε·max|x| for m summed values, so the mean of z is zero within
     * m·ε·max|x|/σ, which grows without bound as σ shrinks against |x| (two draws of a feature of mean 100 can lie
     * 0.005 apart, and then the cancellation alone is 1e-11). The tolerance is that bound, doubled for the test's own
     * sum, with a floor of 1e-12; the variance is not subject to it (the shift cancels in z − mean(z)).
     */
    @Property(tries = 60)
    void standardisedTrainingSetHasZeroMeanUnitStd(@ForAll @IntRange(min = 2, max = 40) int n,
            @ForAll @IntRange(min = 1, max = 12) int d, @ForAll long seed) {
        Random r = new Random(seed);
        double[] v = new double[n * d];
        for (int i = 0; i < v.length; i++) {
            v[i] = 100 + 7 * r.nextGaussian() + (i % d);
        }
        try (Tensor x = Tensor.of(v, n, d);
             Tensor g = Standardizer.fit(x, Standardizer.Mode.GLOBAL).apply(x);
             Tensor f = Standardizer.fit(x, Standardizer.Mode.PER_FEATURE).apply(x)) {
            double[] gv = g.toDoubleArray();
            assertThat(mean(gv, 0, 1, gv.length)).isCloseTo(0, within(meanTolerance(v, 0, 1, v.length)));
            double mean = 0;
            double sq = 0;
            for (double a : gv) {
                mean += a / gv.length;
            }
            for (double a : gv) {
                sq += (a - mean) * (a - mean) / gv.length;
            }
            assertThat(sq).isCloseTo(1, within(1e-12));
            double[] fv = f.toDoubleArray();
            for (int j = 0; j < d; j++) {
                double m = 0;
                double s = 0;
                for (int i = 0; i < n; i++) {
                    m += fv[i * d + j] / n;
                }
                for (int i = 0; i < n; i++) {
                    s += (fv[i * d + j] - m) * (fv[i * d + j] - m) / n;
                }
                assertThat(m).isCloseTo(0, within(meanTolerance(v, j, d, n)));
                assertThat(s).isCloseTo(1, within(1e-11));
            }
        }
    }

    /** The mean of {@code count} values of {@code x} from {@code start}, {@code stride} apart. */
    private static double mean(double[] x, int start, int stride, int count) {
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += x[start + i * stride];
        }
        return sum / count;
    }

    /** 2·m·ε·max|x|/σ (population σ) of those values, at least 1e-12: how far from 0 their standardised mean may be. */
    private static double meanTolerance(double[] x, int start, int stride, int count) {
        double mu = mean(x, start, stride, count);
        double max = 0;
        double var = 0;
        for (int i = 0; i < count; i++) {
            double a = x[start + i * stride];
            max = Math.max(max, Math.abs(a));
            var += (a - mu) * (a - mu) / count;
        }
        return Math.max(1e-12, 2 * count * Math.ulp(1.0) * max / Math.sqrt(var));
    }

    /**
     * Standardisation is scale-free: inputs ×2^1000 standardise to the same values, bit for bit, and inputs ×1e300
     * (≈ 2^997, squares beyond float64) to the same values within round-off; the statistics scale with them. Before
     * 2026-12-07 their squares overflowed: σ = ∞, and every standardised input was 0 with no word.
     */
    @Test
    void hugeInputsStandardiseAsTheirUnscaledSelves() {
        double[] values = {1, 2, 3, 6, -4, 0.5, 7, 2};
        for (Standardizer.Mode mode : new Standardizer.Mode[] {Standardizer.Mode.GLOBAL,
            Standardizer.Mode.PER_FEATURE}) {
            for (double scale : new double[] {Math.scalb(1.0, 1000), 1e300, 1e-300}) {
                double[] scaled = values.clone();
                for (int i = 0; i < scaled.length; i++) {
                    scaled[i] *= scale;
                }
                try (Tensor x = Tensor.of(values, 4, 2); Tensor big = Tensor.of(scaled, 4, 2)) {
                    Standardizer plain = Standardizer.fit(x, mode);
                    Standardizer large = Standardizer.fit(big, mode);
                    try (Tensor a = plain.apply(x); Tensor b = large.apply(big)) {
                        double[] expected = a.toDoubleArray();
                        double[] got = b.toDoubleArray();
                        for (int i = 0; i < expected.length; i++) {
                            if (scale == Math.scalb(1.0, 1000)) {
                                assertThat(got[i]).as("%s ×2^1000 [%d]", mode, i).isEqualTo(expected[i]);
                            } else {
                                assertThat(got[i]).as("%s ×%s [%d]", mode, scale, i)
                                        .isCloseTo(expected[i], within(1e-14));
                            }
                        }
                    }
                    for (int j = 0; j < plain.std().length; j++) {
                        assertThat(large.std()[j] / scale).isCloseTo(plain.std()[j], within(1e-14 * plain.std()[j]));
                        assertThat(large.mean()[j] / scale).isCloseTo(plain.mean()[j],
                                within(1e-14 * Math.abs(plain.mean()[j])));
                    }
                }
            }
        }
        // an oracle for the unscaled fit: np.std([1, 2, 3, 6, -4, 0.5, 7, 2]) = sqrt(80.96875 / 8) = 3.18136664...
        try (Tensor x = Tensor.of(values, 4, 2)) {
            assertThat(Standardizer.fit(x, Standardizer.Mode.GLOBAL).std()[0])
                    .isCloseTo(Math.sqrt(80.96875 / 8), within(1e-15));
        }
    }

    @Test
    void allConstantWhenNothingVaries() {
        try (Tensor constant = Tensor.of(new double[] {2, 2, 2, 2}, 2, 2);
             Tensor columns = Tensor.of(new double[] {1, 5, 1, 5}, 2, 2);
             Tensor varied = Tensor.of(new double[] {1, 5, 2, 5}, 2, 2)) {
            assertThat(Standardizer.fit(constant, Standardizer.Mode.GLOBAL).allConstant()).isTrue();
            assertThat(Standardizer.fit(constant, Standardizer.Mode.PER_FEATURE).allConstant()).isTrue();
            assertThat(Standardizer.fit(constant, Standardizer.Mode.NONE).allConstant()).isFalse();
            // each column constant, but not the whole: global scales it, per-feature leaves zeros
            assertThat(Standardizer.fit(columns, Standardizer.Mode.GLOBAL).allConstant()).isFalse();
            assertThat(Standardizer.fit(columns, Standardizer.Mode.PER_FEATURE).allConstant()).isTrue();
            assertThat(Standardizer.fit(varied, Standardizer.Mode.PER_FEATURE).allConstant()).isFalse();
        }
    }

    /**
     * np.full((1000, 3), 0.1) in float64: the two-pass σ is a rounding error (about 1e-17), not 0; dividing by it
     * made every input ±1 with no warning. Constancy is min == max: the inputs become exactly 0.
     */
    @Test
    void constantFloat64InputsAreFoundExactlyAndBecomeZeros() {
        double[] values = new double[1000 * 3];
        java.util.Arrays.fill(values, 0.1);
        double[] mixed = values.clone();
        for (int e = 0; e < 1000; e++) {
            mixed[3 * e] = e; // feature 0 varies, features 1 and 2 are the constant 0.1
        }
        try (Tensor constant = Tensor.of(values, 1000, 3); Tensor columns = Tensor.of(mixed, 1000, 3)) {
            for (Standardizer.Mode mode : new Standardizer.Mode[] {Standardizer.Mode.GLOBAL,
                Standardizer.Mode.PER_FEATURE}) {
                Standardizer s = Standardizer.fit(constant, mode);
                assertThat(s.allConstant()).as("%s", mode).isTrue();
                try (Tensor t = s.apply(constant)) {
                    assertThat(t.toDoubleArray()).as("%s", mode).containsOnly(0.0);
                }
            }
            Standardizer s = Standardizer.fit(columns, Standardizer.Mode.PER_FEATURE);
            assertThat(s.allConstant()).isFalse();
            assertThat(s.std()[1]).as("a constant feature is not scaled").isEqualTo(1.0);
            assertThat(s.mean()[1]).isEqualTo(0.1);
            try (Tensor t = s.apply(columns)) {
                for (int e = 0; e < 1000; e++) {
                    assertThat(t.getFlat(3 * e + 1)).isEqualTo(0.0);
                    assertThat(t.getFlat(3 * e + 2)).isEqualTo(0.0);
                }
                assertThat(t.getFlat(0)).isCloseTo(-999 / 2.0 / Math.sqrt((1000.0 * 1000 - 1) / 12), within(1e-12));
            }
        }
    }
}
