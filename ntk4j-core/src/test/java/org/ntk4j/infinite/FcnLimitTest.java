package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
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
     * The closed forms and the numerical integration of every activation against a direct Monte-Carlo integral of
     * their defining expectations, 10⁶ samples of (u, v) ~ N(0, Σ) with a fixed seed, φ and φ' written here from
     * their definitions. The tolerance is 5 standard errors of each Monte-Carlo mean (the sample standard deviation
     * over √10⁶, a few 1e-3 here): a wrong formula misses by far more.
     */
    @Test
    void everyActivationMatchesAMonteCarloIntegralOfItsExpectations() {
        for (Activation.Kind act : Activation.Kind.values()) {
            for (double[] s : SIGMAS) {
                double k11 = s[0];
                double k22 = s[1];
                double k12 = s[2];
                // exp's expectations are lognormal: their Monte-Carlo variance e^{8k} − e^{4k} needs k ≤ 1/2 for the
                // standard error to stay under 5e-3 of the mean (its closed form is checked tightly elsewhere)
                double[] sigma = act == Activation.Kind.EXP ? new double[] {s[0] / 8, s[1] / 8, s[2] / 8} : s;
                double[] dual = ActivationDuals.of(act, sigma[0], sigma[1], sigma[2]);
                matchesMonteCarlo(act.toString(), dual, sigma, x -> phi(act, x), x -> derivative(act, x));
            }
        }
    }

    /**
     * {@code dual} = {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]} against their Monte-Carlo means over 10⁶
     * samples of (u, v) ~ N(0, [[s0, s2], [s2, s1]]) (fixed seed), within 5 standard errors.
     */
    private static void matchesMonteCarlo(String what, double[] dual, double[] s, DoubleUnaryOperator phi,
                                          DoubleUnaryOperator derivative) {
        double k11 = s[0];
        double k22 = s[1];
        double k12 = s[2];
        SplittableRandom rng = new SplittableRandom(20261124L);
        double l11 = Math.sqrt(k11);
        double l21 = k12 / l11;
        double l22 = Math.sqrt(k22 - l21 * l21);
        double[] sum = new double[4];
        double[] sq = new double[4];
        double[] f = new double[4];
        for (int i = 0; i < SAMPLES; i++) {
            double z1 = rng.nextGaussian();
            double z2 = rng.nextGaussian();
            double u = l11 * z1;
            double v = l21 * z1 + l22 * z2;
            double pu = phi.applyAsDouble(u);
            double pv = phi.applyAsDouble(v);
            f[0] = pu * pu;
            f[1] = pv * pv;
            f[2] = pu * pv;
            f[3] = derivative.applyAsDouble(u) * derivative.applyAsDouble(v);
            for (int j = 0; j < 4; j++) {
                sum[j] += f[j];
                sq[j] += f[j] * f[j];
            }
        }
        for (int j = 0; j < 4; j++) {
            double mean = sum[j] / SAMPLES;
            double se = Math.sqrt((sq[j] / SAMPLES - mean * mean) / SAMPLES);
            assertThat(dual[j]).as("%s, Σ = %s, expectation %d (MC %s ± %s)", what,
                    java.util.Arrays.toString(s), j, mean, se).isCloseTo(mean, within(5 * se + 1e-12));
            assertThat(se).isLessThan(5e-3 * Math.max(1, Math.abs(mean)));
        }
    }

    /**
     * leaky_relu with the spec's slope α (neural-tangents' {@code LeakyRelu(alpha)}, ABRelu a = α, b = 1) against
     * the Monte-Carlo integral of max(x, αx) and its derivative (as {@link
     * #everyActivationMatchesAMonteCarloIntegralOfItsExpectations}); at α = 0.7 E[φ'φ'] differs from that of the
     * default 0.01 by more than 0.1, far more than the tolerance. The ends are exact: α = 0 is relu, α = 1 identity.
     */
    @Test
    void leakyReluWithASlopeMatchesAMonteCarloIntegralAndRelusAndIdentitysAtItsEnds() {
        for (double alpha : new double[] {0.2, 0.7}) {
            Activation act = new Activation(Activation.Kind.LEAKY_RELU, alpha);
            for (double[] s : SIGMAS) {
                double[] dual = ActivationDuals.of(act, s[0], s[1], s[2]);
                matchesMonteCarlo("leaky_relu, slope " + alpha, dual, s, x -> Math.max(x, alpha * x),
                        x -> x > 0 ? 1 : alpha);
                double[] out = new double[2];
                ActivationDuals.cross(act, s[0], s[1], s[2], out, new ActivationDuals.Scratch());
                assertThat(out).containsExactly(dual[2], dual[3]);
                double[] defaultSlope = ActivationDuals.of(Activation.Kind.LEAKY_RELU, s[0], s[1], s[2]);
                assertThat(Math.abs(dual[3] - defaultSlope[3])).isGreaterThan(alpha > 0.5 ? 0.1 : 0);
            }
        }
        for (double[] s : SIGMAS) {
            double[] relu = ActivationDuals.of(Activation.Kind.RELU, s[0], s[1], s[2]);
            double[] identity = ActivationDuals.of(Activation.Kind.IDENTITY, s[0], s[1], s[2]);
            double[] zero = ActivationDuals.of(new Activation(Activation.Kind.LEAKY_RELU, 0), s[0], s[1], s[2]);
            double[] one = ActivationDuals.of(new Activation(Activation.Kind.LEAKY_RELU, 1), s[0], s[1], s[2]);
            for (int j = 0; j < 4; j++) {
                assertThat(zero[j]).isCloseTo(relu[j], within(1e-15));
                assertThat(one[j]).isCloseTo(identity[j], within(1e-15));
            }
            assertThat(identity[2]).isCloseTo(s[2], within(1e-15));
        }
    }

    /**
     * depth = 1 with leaky_relu's slope 0.5 (both parameterisations): the one hidden layer's pre-activations are
     * exactly Gaussian at any width, so the mean over 800 initialisations of the width-16 network's eNTK (and of
     * f(x)·f(x')/O for the NNGP) equals the limit; every entry within 4.5 standard errors, the standard error under
     * 4% of the scale √(K(x,x) K(x',x')), and the limit at the default slope 0.01 more than 5 standard errors from
     * the mean at some entry (it fails that test, by about 7 for the NNGP: a slope lost on either side shows).
     */
    @Test
    void depthOneEnsembleMeanWithASlopeEqualsItsLimit() {
        for (String param : new String[] {"ntk", "standard"}) {
            String spec = "fcn(depth=1,width=16,out=4,act=leaky_relu,slope=0.5,param=" + param
                    + ",w_std=1.4,b_std=0.3)";
            int[] per = {5};
            Model m = Zoo.parse(spec);
            FcnLimit lim = FcnLimit.of(spec);
            FcnLimit defaultSlope = FcnLimit.of(spec.replace(",slope=0.5", ""));
            try (Tensor x = Tensor.randomNormal(DType.F64, 17, 3, 5)) {
                org.ntk4j.ntk.Ensemble e = org.ntk4j.ntk.Ensemble.of(m, 0, 800, per, DType.F64);
                for (LimitKernel which : LimitKernel.values()) {
                    try (org.ntk4j.ntk.Ensemble.Mean mean = which == LimitKernel.NNGP ? e.nngp(x, null)
                            : e.kernel(KernelKind.trace(), x, null);
                         Tensor want = lim.kernel(KernelKind.trace(), x, null, which, DType.F64);
                         Tensor other = defaultSlope.kernel(KernelKind.trace(), x, null, which, DType.F64)) {
                        double farthest = 0;
                        for (int i = 0; i < 3; i++) {
                            for (int j = i; j < 3; j++) {
                                double sem = mean.sem().get(i, j);
                                double w = want.get(i, j);
                                double scale = Math.sqrt(want.get(i, i) * want.get(j, j));
                                assertThat(Math.abs(mean.mean().get(i, j) - w) / sem).as("%s %s (%d, %d): mean %s "
                                        + "± %s, limit %s", spec, which, i, j, mean.mean().get(i, j),
                                        sem, w).isLessThan(4.5);
                                assertThat(sem).as("%s (%d, %d)", spec, i, j).isLessThan(0.04 * scale);
                                farthest = Math.max(farthest, Math.abs(other.get(i, j) - mean.mean().get(i, j)) / sem);
                            }
                        }
                        assertThat(farthest).as("%s %s: the default slope's limit", spec, which).isGreaterThan(5);
                    }
                }
            }
        }
    }

    /** φ from its definition (the zoo's Activation), independently of ActivationDuals. */
    private static double phi(Activation.Kind act, double x) {
        switch (act) {
            case RELU:
                return Math.max(x, 0);
            case LEAKY_RELU:
                return x > 0 ? x : 0.01 * x;
            case ERF:
                return ErfFunction.erf(x);
            case TANH:
                return Math.tanh(x);
            case SIGMOID:
                return 1 / (1 + Math.exp(-x));
            case GELU:
                return x / 2 * (1 + ErfFunction.erf(x / Math.sqrt(2)));
            case SOFTPLUS:
                return Math.log(1 + Math.exp(x));
            case SIN:
                return Math.sin(x);
            case IDENTITY:
                return x;
            case ABS:
                return Math.abs(x);
            case EXP:
                return Math.exp(x);
            case GAUSSIAN:
                return Math.exp(-x * x);
            case COS:
                return Math.cos(x);
            case SILU:
                return x / (1 + Math.exp(-x));
            case ELU:
                return x > 0 ? x : Math.exp(x) - 1;
            default:
                throw new AssertionError(act);
        }
    }

    /** φ' from its definition. */
    private static double derivative(Activation.Kind act, double x) {
        switch (act) {
            case RELU:
                return x > 0 ? 1 : 0;
            case LEAKY_RELU:
                return x > 0 ? 1 : 0.01;
            case ERF:
                return 2 / Math.sqrt(Math.PI) * Math.exp(-x * x);
            case TANH:
                return 1 - Math.tanh(x) * Math.tanh(x);
            case SIGMOID:
            case SOFTPLUS:
                return 1 / (1 + Math.exp(-x)) * (act == Activation.Kind.SIGMOID ? 1 / (1 + Math.exp(x)) : 1);
            case GELU:
                return (1 + ErfFunction.erf(x / Math.sqrt(2))) / 2 + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
            case SIN:
                return Math.cos(x);
            case IDENTITY:
                return 1;
            case ABS:
                return Math.signum(x);
            case EXP:
                return Math.exp(x);
            case GAUSSIAN:
                return -2 * x * Math.exp(-x * x);
            case COS:
                return -Math.sin(x);
            case SILU:
                return 1 / (1 + Math.exp(-x)) * (1 + x / (1 + Math.exp(x)));
            case ELU:
                return x > 0 ? 1 : Math.exp(x);
            default:
                throw new AssertionError(act);
        }
    }

    private static final Activation.Kind[] NUMERICAL = {Activation.Kind.TANH, Activation.Kind.SIGMOID,
        Activation.Kind.SOFTPLUS, Activation.Kind.SILU};

    /**
     * The numerical integration against the same rule with a third of the step (about 3 times the nodes per
     * dimension, converging like e^{−π²/(2·step)}: a reference good to far below 1e-15), over variances 1e-3..1e6,
     * correlations 0 to ±1 and a zero variance: within 1e-13 of the scale of the expectations (1 for tanh and
     * sigmoid, max(1, variance) for softplus and silu), far below float32 rounding.
     */
    /** The cross expectations alone (what the pixel-pair maps read) are exactly those of the four. */
    @Test
    void crossExpectationsAreTheFourExpectationsCrossTerms() {
        SplittableRandom rnd = new SplittableRandom(11);
        double[] out = new double[2];
        for (Activation.Kind act : Activation.Kind.values()) {
            for (int trial = 0; trial < 20; trial++) {
                double k11 = Math.exp(rnd.nextDouble(-4, 4));
                double k22 = trial % 5 == 0 ? k11 : Math.exp(rnd.nextDouble(-4, 4));
                double k12 = trial % 5 == 0 ? k11 : rnd.nextDouble(-1, 1) * Math.sqrt(k11) * Math.sqrt(k22);
                double[] all = ActivationDuals.of(act, k11, k22, k12);
                ActivationDuals.cross(new Activation(act), k11, k22, k12, out, new ActivationDuals.Scratch());
                assertThat(out[0]).as("%s E[φφ] at %s, %s, %s", act, k11, k22, k12).isEqualTo(all[2]);
                assertThat(out[1]).as("%s E[φ'φ'] at %s, %s, %s", act, k11, k22, k12).isEqualTo(all[3]);
            }
        }
    }

    @Test
    void theNumericalIntegrationAgreesWithAMuchFinerOneTo1e13() {
        double[] variances = {1e-3, 0.3, 1, 2.25, 4, 16, 100, 1e4, 1e6};
        double[] correlations = {0, 0.6, -0.7, 0.99, -0.9999999, 1, -1};
        for (Activation.Kind act : NUMERICAL) {
            for (double k : variances) {
                for (double c : correlations) {
                    double k22 = 0.8 * k;
                    double k12 = c * Math.sqrt(k * k22);
                    double[] coarse = ActivationDuals.quadrature(act, ActivationDuals.STEP, k, k22, k12);
                    double[] fine = ActivationDuals.quadrature(act, ActivationDuals.STEP / 3, k, k22, k12);
                    double scale = act == Activation.Kind.SOFTPLUS || act == Activation.Kind.SILU ? Math.max(1, k) : 1;
                    for (int j = 0; j < 4; j++) {
                        assertThat(coarse[j]).as("%s k=%s c=%s expectation %d", act, k, c, j)
                                .isCloseTo(fine[j], within(1e-13 * scale));
                    }
                }
            }
            double[] zero = ActivationDuals.of(act, 0, 2, 0);
            double[] both = ActivationDuals.of(act, 0, 0, 0);
            double at0 = phi(act, 0);
            assertThat(zero[0]).isCloseTo(at0 * at0, within(1e-15));
            assertThat(both[2]).isCloseTo(at0 * at0, within(1e-15));
            assertThat(both[3]).isCloseTo(derivative(act, 0) * derivative(act, 0), within(1e-15));
        }
        // u ≡ 0: E[φ(0)φ(v)] = φ(0)·E[φ(v)]: 1/2 · 1/2 for sigmoid (σ(v) − 1/2 is odd), 0 for tanh
        assertThat(ActivationDuals.of(Activation.Kind.SIGMOID, 0, 3, 0)[2]).isCloseTo(0.25, within(1e-15));
        assertThat(ActivationDuals.of(Activation.Kind.TANH, 0, 3, 0)[2]).isCloseTo(0, within(1e-15));
    }

    /**
     * The numerical integration against the closed forms of erf and gelu, run through the same rule: within 3e-12
     * (gelu: of max(1, variance)) over variances 1e-2..1e8 and correlations up to 1 − 1e-7 and ±1 (at variance 1e8
     * and c = 1 erf's arcsin, at an argument 1 − 1e-9, turns rounding into 1e-12 of the closed form). These bend on a
     * scale of 1 as tanh does, so the rule resolves the same features; a Gauss–Hermite rule of 128² nodes errs by
     * 1e-4 here at variance 16.
     */
    @Test
    void theNumericalIntegrationMatchesTheClosedFormsOfErfAndGelu() {
        double[] variances = {1e-2, 0.3, 1, 4, 16, 100, 1e4, 1e6, 1e8};
        double[] correlations = {0, 0.6, -0.7, 0.99, -0.999, 0.9999999, 1, -1};
        for (Activation.Kind act : new Activation.Kind[] {Activation.Kind.ERF, Activation.Kind.GELU}) {
            for (double k : variances) {
                for (double c : correlations) {
                    double k22 = 0.8 * k;
                    double k12 = c * Math.sqrt(k * k22);
                    double[] numerical = ActivationDuals.quadrature(act, ActivationDuals.STEP, k, k22, k12);
                    double[] closed = ActivationDuals.of(act, k, k22, k12);
                    double scale = act == Activation.Kind.GELU ? Math.max(1, k) : 1;
                    for (int j = 0; j < 4; j++) {
                        assertThat(numerical[j]).as("%s k=%s c=%s expectation %d", act, k, c, j)
                                .isCloseTo(closed[j], within(3e-12 * scale));
                    }
                }
            }
        }
    }

    /**
     * At variances of 1e30 and 1e300 tanh and sigmoid are steps and softplus is relu on the scale of the Gaussian:
     * E[sign u sign v] = (2/π) arcsin c, sigmoid's 1/4 + that/4, softplus' the arc-cosine kernel, derivatives ~0.
     * Nothing is NaN or infinite (softplus' E ≈ variance/2 stays finite below 1e308).
     */
    @Test
    void hugeVariancesGiveTheStepAndReluLimitsWithoutNaN() {
        for (double k : new double[] {1e30, 1e300}) {
            for (double c : new double[] {0.3, -0.8, 1}) {
                double k12 = c * k;
                double step = 2 / Math.PI * Math.asin(c);
                double[] tanh = ActivationDuals.of(Activation.Kind.TANH, k, k, k12);
                assertThat(tanh[2]).as("tanh k=%s c=%s", k, c).isCloseTo(step, within(1e-10));
                assertThat(tanh[0]).isCloseTo(1, within(1e-10));
                assertThat(tanh[3]).isBetween(0.0, 1e-10);
                double[] sigmoid = ActivationDuals.of(Activation.Kind.SIGMOID, k, k, k12);
                assertThat(sigmoid[2]).isCloseTo(0.25 + step / 4, within(1e-10));
                double[] softplus = ActivationDuals.of(Activation.Kind.SOFTPLUS, k, k, k12);
                double[] relu = ActivationDuals.of(Activation.Kind.RELU, k, k, k12);
                for (int j = 0; j < 4; j++) {
                    assertThat(softplus[j]).as("softplus k=%s c=%s %d", k, c, j)
                            .isCloseTo(relu[j], within(1e-10 * Math.max(1, Math.abs(relu[j]))));
                }
            }
        }
        // erf: (2/π) arcsin(2k/(1 + 2k)) → 1, and E[φ'φ'] = (4/π)/√(1 + 4k) ≈ 1.3e-150 (NaN: k² overflowed)
        double[] erf = ActivationDuals.of(Activation.Kind.ERF, 1e300, 1e300, 1e300);
        assertThat(erf[2]).isCloseTo(1, within(1e-12));
        assertThat(erf[3]).isCloseTo(4 / Math.PI / Math.sqrt(4e300), within(1e-162));
        for (Activation.Kind act : Activation.Kind.values()) {
            for (double[] s : new double[][] {{1e300, 1e300, 1e300}, {1e300, 1e-300, 0}, {1e150, 1e150, -1e150}}) {
                for (double e : ActivationDuals.of(act, s[0], s[1], s[2])) {
                    assertThat(Double.isNaN(e)).as("%s at %s", act, java.util.Arrays.toString(s)).isFalse();
                }
            }
        }
    }

    /** The closed forms of gelu and sin at a degenerate covariance: u ≡ 0 or v = ±u. */
    @Test
    void geluAndSinClosedFormsAtDegenerateCovariances() {
        // gelu: φ(0) = 0, φ'(0) = 1/2 and E[φ'(v)] = 1/2, so E[φ(u)φ(v)] = 0 and E[φ'(u)φ'(v)] = 1/4
        double[] g = ActivationDuals.of(Activation.Kind.GELU, 0, 2, 0);
        assertThat(g[2]).isEqualTo(0.0);
        assertThat(g[3]).isCloseTo(0.25, within(1e-15));
        // v = u: the cross terms are the diagonal ones; sin: E[sin² u] = (1 − e^{−2k})/2 and E[cos² u] the rest
        for (double k : new double[] {1e-8, 0.5, 3}) {
            double[] gg = ActivationDuals.of(Activation.Kind.GELU, k, k, k);
            assertThat(gg[2]).isCloseTo(gg[0], within(1e-15 * Math.max(1, k)));
            double[] ss = ActivationDuals.of(Activation.Kind.SIN, k, k, k);
            assertThat(ss[2]).isCloseTo(ss[0], within(1e-15));
            assertThat(ss[0] + ss[3]).isCloseTo(1, within(1e-15));
            double[] anti = ActivationDuals.of(Activation.Kind.SIN, k, k, -k);
            assertThat(anti[2]).isCloseTo(-ss[0], within(1e-15));
        }
    }

    /** ReLU's closed form on the diagonal is E[relu(u)²] = K/2, and the derivative term at c = 1 is 1/2. */
    @Test
    void reluClosedFormOnTheDiagonalIsHalfTheVariance() {
        double[] e = ActivationDuals.of(Activation.Kind.RELU, 2.0, 2.0, 2.0);
        assertThat(e[2]).isCloseTo(1.0, within(1e-12));
        assertThat(e[3]).isCloseTo(0.5, within(1e-12));
        // orthogonal: (1/2π)·√(k11 k22) and 1/4
        double[] o = ActivationDuals.of(Activation.Kind.RELU, 1.0, 4.0, 0.0);
        assertThat(o[2]).isCloseTo(2.0 / (2 * Math.PI), within(1e-12));
        assertThat(o[3]).isCloseTo(0.25, within(1e-12));
    }

    /**
     * depth = 0 is the linear network dense(out), whatever the act (never applied): its eNTK does not depend on the
     * parameters, so the limit must equal the eNTK of any finite network exactly (to rounding), in both
     * parameterisations and for every act:
     * σ_w² x·x'/d + σ_b² (NTK) and x·x' + 1 (standard).
     */
    @Test
    void depthZeroLimitIsTheExactEmpiricalKernelInBothParameterisations() {
        for (Activation.Kind act : Activation.Kind.values()) {
            for (String param : new String[] {"ntk", "standard"}) {
                depthZeroMatchesTheEmpiricalKernel("fcn(depth=0,out=3,w_std=1.3,b_std=0.2,param=" + param + ",act="
                        + act.name().toLowerCase(java.util.Locale.ROOT) + ")", param.equals("ntk"));
            }
        }
    }

    private static void depthZeroMatchesTheEmpiricalKernel(String spec, boolean ntk) {
        Model m = Zoo.parse(spec);
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, 6, 7); Params p = m.init(1, new int[] {7}, DType.F64);
             Tensor e = EmpiricalNtk.of(m, p).ntk(x, null);
             Tensor a = FcnLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 6; j++) {
                    assertThat(a.get(i, j)).as("%s (%d, %d)", spec, i, j).isCloseTo(e.get(i, j),
                            within(1e-12 * Math.abs(e.get(i, j)) + 1e-13));
                }
            }
            double xx = 0;
            for (int f = 0; f < 7; f++) {
                xx += x.get(0, f) * x.get(0, f);
            }
            double want = ntk ? 1.3 * 1.3 * xx / 7 + 0.04 : xx + 1;
            assertThat(a.get(0, 0)).isCloseTo(want, within(1e-12 * want));
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
        for (Activation.Kind act : Activation.Kind.values()) {
            double[] e = ActivationDuals.of(act, k11, k22, k12);
            FcnLimit ntk = new FcnLimit(1, 100, 2, new Activation(act), Parameterization.NTK, 2.0, 0.3);
            double[] r = ntk.pair(xx, yy, xy, d);
            assertThat(r[0]).isCloseTo(w2 * e[2] + b2, within(1e-14));
            assertThat(r[1]).isCloseTo(w2 * e[2] + b2 + w2 * e[3] * k12, within(1e-14));
            FcnLimit std = new FcnLimit(1, 100, 2, new Activation(act), Parameterization.STANDARD, 2.0, 0.3);
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
             Tensor t = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor f = lim.kernel(KernelKind.full(), x, null, LimitKernel.NTK, DType.F64);
             Tensor dg = lim.kernel(KernelKind.parse("diagonal", 0), x, null, LimitKernel.NTK, DType.F64);
             Tensor pu = lim.kernel(KernelKind.parse("pntk-unscaled", 0), x, null, LimitKernel.NTK, DType.F64)) {
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
                LimitKernel.NTK, DType.F64)).hasMessageContaining("no infinite-width counterpart");
    }

    @Test
    void otherModelsAndActivationsAreRefusedNamingWhatIsSupported() {
        assertThatThrownBy(() -> FcnLimit.of("cnn(depth=2)")).hasMessage("--infinite: the analytic infinite-width "
                + "kernels are implemented for " + InfiniteLimit.SUPPORTED + " only, not 'cnn'");
        assertThatThrownBy(() -> FcnLimit.of("fcn(act=mish)")).hasMessage("fcn: option act must be one of relu, "
                + "leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu, elu, "
                + "got 'mish'");
        assertThat(FcnLimit.of("fcn(act=Leaky_ReLU)").toString()).contains("act=leaky_relu, slope=0.01,");
        assertThat(FcnLimit.of("fcn(act=leaky_relu,slope=0.25)").toString()).contains("act=leaky_relu, slope=0.25,");
        assertThat(FcnLimit.of("fcn(act=tanh)").toString()).contains("act=tanh, param=").doesNotContain("slope");
        assertThatThrownBy(() -> FcnLimit.of("fcn(act=tanh,slope=0.2)")).hasMessage("fcn: option slope is the "
                + "negative slope of act=leaky_relu, got slope=0.2 with act=tanh");
        assertThatThrownBy(() -> FcnLimit.of("fcn(slope=0.2)")).hasMessageEndingWith("got slope=0.2 with act=relu");
        assertThatThrownBy(() -> FcnLimit.of("fcn(act=leaky_relu,slope=1.5)")).hasMessage("fcn: option slope must "
                + "be in [0, 1] (max(x, slope·x) is a leaky ReLU only there), got 1.5");
        assertThatThrownBy(() -> FcnLimit.of("fcn(act=leaky_relu,slope=-0.1)")).hasMessage("fcn: option slope must "
                + "be a finite number >= 0.0, got -0.1");
        assertThatThrownBy(() -> FcnLimit.of("fcn(widht=3)")).hasMessageContaining("unknown option 'widht'");
    }

    /**
     * A null kind, kernel or x1 is named in one line, for every limit, composed ones included (it was a
     * NullPointerException from inside).
     */
    @Test
    void aNullKindKernelOrInputIsNamed() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 1, 2, 2, 2, 1)) {
            InfiniteLimit composed = InfiniteLimit.of(new org.ntk4j.nn.Model(org.ntk4j.nn.Layers.serial(
                    org.ntk4j.nn.Layers.flatten(), org.ntk4j.nn.Layers.dense(3), org.ntk4j.nn.Layers.relu(),
                    org.ntk4j.nn.Layers.dense(1)), "mlp"), new int[] {2, 2, 1});
            for (String spec : new String[] {"fcn(depth=1)", "cnn(depth=1)", "resnet(blocks=1)", "composed"}) {
                InfiniteLimit limit = spec.equals("composed") ? composed : InfiniteLimit.of(spec);
                assertThatThrownBy(() -> limit.kernel(null, x, null, LimitKernel.NTK, DType.F64)).as(spec)
                        .isInstanceOf(IllegalArgumentException.class).hasMessage("kind: must not be null");
                assertThatThrownBy(() -> limit.kernel(KernelKind.trace(), x, null, null, DType.F64)).as(spec)
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("which: expected LimitKernel.NNGP or LimitKernel.NTK, got null");
                assertThatThrownBy(() -> limit.kernel(KernelKind.trace(), null, x, LimitKernel.NTK, DType.F64))
                        .as(spec).isInstanceOf(IllegalArgumentException.class).hasMessage("x1: must not be null");
                // both kernels of the same call are the two of kernels(), which computes them in one pass
                try (Tensor k = limit.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                     Tensor t = limit.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
                     org.ntk4j.predict.GpInference.Kernels both = limit.kernels(x, null, DType.F64)) {
                    assertThat(k.get(0, 0)).as(spec).isCloseTo(both.nngp().get(0, 0),
                            within(1e-14 * Math.abs(k.get(0, 0))));
                    assertThat(t.get(0, 0)).as(spec).isCloseTo(both.ntk().get(0, 0),
                            within(1e-14 * Math.abs(t.get(0, 0))));
                    assertThat(t.get(0, 0)).as(spec + ": Θ is not K").isNotCloseTo(k.get(0, 0),
                            within(1e-3 * Math.abs(t.get(0, 0))));
                }
            }
        }
    }
}
