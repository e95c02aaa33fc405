package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.primitive.ErfFunction;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class FcnLimitTest {
    /** A few covariances: positively, negatively and weakly correlated, unequal variances. */
    private static final double[][] SIGMAS = {{1.0, 1.0, 0.6}, {2.25, 0.5, -0.7}, {0.3, 1.7, 0.05}, {4.0, 4.0, 3.9}};
    private static final int SAMPLES = 1_000_000;

    /**
     * The closed forms against a direct Monte-Carlo integral of their defining expectations, 10⁶ samples of
     * (u, v) ~ N(0, Σ) with a fixed seed. The tolerance is 5 standard errors of each Monte-Carlo mean (the sample
     * standard deviation over √10⁶, a few 1e-3 here): a wrong formula misses by far more.
     */
    @Test
    void closedFormsMatchAMonteCarloIntegralOfTheirExpectations() {
        for (FcnLimit.Act act : FcnLimit.Act.values()) {
            for (double[] s : SIGMAS) {
                double k11 = s[0];
                double k22 = s[1];
                double k12 = s[2];
                double[] closed = act == FcnLimit.Act.RELU ? ActivationDuals.relu(k11, k22, k12) : ActivationDuals.erf(k11, k22, k12);
                SplittableRandom rng = new SplittableRandom(20261124L);
                double l11 = Math.sqrt(k11);
                double l21 = k12 / l11;
                double l22 = Math.sqrt(k22 - l21 * l21);
                double[] sum = new double[4];
                double[] sq = new double[4];
                for (int i = 0; i < SAMPLES; i++) {
                    double z1 = rng.nextGaussian();
                    double z2 = rng.nextGaussian();
                    double u = l11 * z1;
                    double v = l21 * z1 + l22 * z2;
                    double[] f = act == FcnLimit.Act.RELU
                            ? new double[] {Math.max(u, 0) * Math.max(u, 0), Math.max(v, 0) * Math.max(v, 0),
                                Math.max(u, 0) * Math.max(v, 0), (u > 0 ? 1 : 0) * (v > 0 ? 1 : 0)}
                            : new double[] {ErfFunction.erf(u) * ErfFunction.erf(u), ErfFunction.erf(v) * ErfFunction.erf(v),
                                ErfFunction.erf(u) * ErfFunction.erf(v),
                                4 / Math.PI * Math.exp(-u * u) * Math.exp(-v * v)};
                    for (int j = 0; j < 4; j++) {
                        sum[j] += f[j];
                        sq[j] += f[j] * f[j];
                    }
                }
                for (int j = 0; j < 4; j++) {
                    double mean = sum[j] / SAMPLES;
                    double se = Math.sqrt((sq[j] / SAMPLES - mean * mean) / SAMPLES);
                    assertThat(closed[j]).as("%s, Σ = %s, expectation %d (MC %s ± %s)", act,
                            java.util.Arrays.toString(s), j, mean, se).isCloseTo(mean, within(5 * se + 1e-12));
                    assertThat(se).isLessThan(5e-3);
                }
            }
        }
    }

    /** ReLU's closed form on the diagonal is E[relu(u)²] = K/2, and the derivative term at c = 1 is 1/2. */
    @Test
    void reluClosedFormOnTheDiagonalIsHalfTheVariance() {
        double[] e = ActivationDuals.relu(2.0, 2.0, 2.0);
        assertThat(e[2]).isCloseTo(1.0, within(1e-12));
        assertThat(e[3]).isCloseTo(0.5, within(1e-12));
        // orthogonal: (1/2π)·√(k11 k22) and 1/4
        double[] o = ActivationDuals.relu(1.0, 4.0, 0.0);
        assertThat(o[2]).isCloseTo(2.0 / (2 * Math.PI), within(1e-12));
        assertThat(o[3]).isCloseTo(0.25, within(1e-12));
    }

    /**
     * depth = 0 is the linear network dense(out): its eNTK and NNGP-free kernel do not depend on the parameters, so
     * the limit must equal the eNTK of any finite network exactly (to rounding), in both parameterisations:
     * σ_w² x·x'/d + σ_b² (NTK) and x·x' + 1 (standard).
     */
    @Test
    void depthZeroLimitIsTheExactEmpiricalKernelInBothParameterisations() {
        for (String param : new String[] {"ntk", "standard"}) {
            String spec = "fcn(depth=0,out=3,w_std=1.3,b_std=0.2,param=" + param + ")";
            Model m = Zoo.parse(spec);
            try (Tensor x = Tensor.randomNormal(DType.F64, 5, 6, 7); Params p = m.init(1, new int[] {7}, DType.F64);
                 Tensor e = EmpiricalNtk.of(m, p).ntk(x, null);
                 Tensor a = FcnLimit.of(spec).kernel(KernelKind.trace(), x, null, false, DType.F64)) {
                for (int i = 0; i < 6; i++) {
                    for (int j = 0; j < 6; j++) {
                        assertThat(a.get(i, j)).as("%s (%d, %d)", param, i, j).isCloseTo(e.get(i, j),
                                within(1e-12 * Math.abs(e.get(i, j)) + 1e-13));
                    }
                }
                double xx = 0;
                for (int f = 0; f < 7; f++) {
                    xx += x.get(0, f) * x.get(0, f);
                }
                double want = param.equals("ntk") ? 1.3 * 1.3 * xx / 7 + 0.04 : xx + 1;
                assertThat(a.get(0, 0)).isCloseTo(want, within(1e-12 * want));
            }
        }
    }

    /**
     * depth = 1 by hand: K¹ = σ_w² x·x'/d + σ_b², then K² = σ_w² E[φφ] + σ_b², Θ² = K² + σ_w² E[φ'φ'] K¹ (NTK) and
     * n·E[φφ] + 1 + σ_w² E[φ'φ'] (x·x' + 1) (standard), with the closed forms evaluated separately.
     */
    @Test
    void depthOneMatchesTheHandWrittenRecursion() {
        double xx = 3.0;
        double yy = 1.5;
        double xy = -0.8;
        int d = 4;
        double w2 = 2.0 * 2.0;
        double b2 = 0.3 * 0.3;
        double k11 = w2 * xx / d + b2;
        double k22 = w2 * yy / d + b2;
        double k12 = w2 * xy / d + b2;
        for (FcnLimit.Act act : FcnLimit.Act.values()) {
            double[] e = act == FcnLimit.Act.RELU ? ActivationDuals.relu(k11, k22, k12) : ActivationDuals.erf(k11, k22, k12);
            FcnLimit ntk = new FcnLimit(1, 100, 2, act, Parameterization.NTK, 2.0, 0.3);
            double[] r = ntk.pair(xx, yy, xy, d);
            assertThat(r[0]).isCloseTo(w2 * e[2] + b2, within(1e-14));
            assertThat(r[1]).isCloseTo(w2 * e[2] + b2 + w2 * e[3] * k12, within(1e-14));
            FcnLimit std = new FcnLimit(1, 100, 2, act, Parameterization.STANDARD, 2.0, 0.3);
            double[] s = std.pair(xx, yy, xy, d);
            assertThat(s[0]).isCloseTo(r[0], within(1e-14));
            assertThat(s[1]).isCloseTo(100 * e[2] + 1 + w2 * e[3] * (xy + 1), within(1e-12));
        }
    }

    /** Layout: full = Θ ⊗ I_O, diagonal repeats Θ per logit, trace = pntk = Θ, pntk-unscaled = O·Θ. */
    @Test
    void kindsAreLaidOutAsTheEmpiricalKernels() {
        FcnLimit lim = FcnLimit.of("fcn(depth=2,out=3,act=erf)");
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 5);
             Tensor t = lim.kernel(KernelKind.trace(), x, null, false, DType.F64);
             Tensor f = lim.kernel(KernelKind.full(), x, null, false, DType.F64);
             Tensor dg = lim.kernel(KernelKind.parse("diagonal", 0), x, null, false, DType.F64);
             Tensor pu = lim.kernel(KernelKind.parse("pntk-unscaled", 0), x, null, false, DType.F64)) {
            assertThat(f.shape()).containsExactly(4, 4, 3, 3);
            assertThat(dg.shape()).containsExactly(4, 4, 3);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    assertThat(t.get(i, j)).isEqualTo(t.get(j, i));
                    assertThat(pu.get(i, j)).isCloseTo(3 * t.get(i, j), within(1e-12));
                    for (int a = 0; a < 3; a++) {
                        assertThat(dg.get(i, j, a)).isEqualTo(t.get(i, j));
                        for (int b = 0; b < 3; b++) {
                            assertThat(f.get(i, j, a, b)).isEqualTo(a == b ? t.get(i, j) : 0.0);
                        }
                    }
                }
            }
        }
        assertThatThrownBy(() -> lim.kernel(KernelKind.parse("projected:64", 0), Tensor.zeros(DType.F64, 2, 5), null,
                false, DType.F64)).hasMessageContaining("no infinite-width counterpart");
    }

    @Test
    void otherModelsAndActivationsAreRefusedNamingWhatIsSupported() {
        assertThatThrownBy(() -> FcnLimit.of("cnn(depth=2)")).hasMessage("--infinite: the analytic infinite-width "
                + "kernels are implemented for fcn with act=relu or act=erf only, not 'cnn'");
        assertThatThrownBy(() -> FcnLimit.of("fcn(act=tanh)")).hasMessageEndingWith("not act=tanh");
        assertThatThrownBy(() -> FcnLimit.of("fcn(widht=3)")).hasMessageContaining("unknown option 'widht'");
    }
}
