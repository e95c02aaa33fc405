package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.ActivationDefinitions;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.primitive.ErfFunction;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ActivationDuals} of every activation against an independent two-dimensional integration written here:
 * composite 10-point Gauss–Legendre panels (NumPy's nodes) of width at most 1/2 in (z1, z2), graded towards the
 * splits, with u = s11 z1,
 * v = l21 z1 + l22 z2, split at z1 = 0 and at z2 = −l21 z1/l22 (where u and v cross the kinks of relu, leaky_relu,
 * abs and elu, so every panel's integrand is analytic), over |z| ≤ 9 (the density below 1e-18 beyond; exp's
 * range reaches 9 + 2 deviations, past its integrands' peaks). At variances up to 4 this is exact to rounding; the
 * duals are held to 1e-12 of max(1, |expectation|).
 */
class ActivationDualsOracleTest {
    /** NumPy's leggauss(10), the positive half. */
    private static final double[] NODE = {0.14887433898163122, 0.4333953941292472, 0.6794095682990244,
        0.8650633666889845, 0.9739065285171717};
    private static final double[] WEIGHT = {0.2955242247147528, 0.2692667193099965, 0.219086362515982,
        0.1494513491505804, 0.06667134430868814};
    private static final double[][] SIGMAS = {{1, 1, 0.6}, {2.25, 0.5, -0.7}, {0.3, 1.7, 0.05}, {4, 4, 3.9},
        {0.7, 1.9, 0.9999999 * Math.sqrt(0.7 * 1.9)}, {1.5, 1.5, 1.5}, {1.5, 1.5, -1.5}, {0, 2, 0}, {3, 0.2, 0},
        {0.01, 0.02, -0.01}};
    /** More covariances for the moment: variances beyond 4, where the rules' nodes spread. */
    private static final double[][] LARGER = {{9, 16, 5}, {25, 25, -20}};

    @Test
    void everyActivationsDualsMatchAnIndependentTwoDimensionalIntegration() {
        for (Activation.Kind kind : Activation.Kind.values()) {
            DoubleUnaryOperator phi = definition(kind);
            DoubleUnaryOperator slope = derivative(kind);
            for (double[] s : SIGMAS) {
                double[] dual = ActivationDuals.of(kind, s[0], s[1], s[2]);
                // exp's integrands e^{a z − z²/2} peak at z = a ≤ 2·deviation: the range reaches past that
                double limit = 9 + (kind == Activation.Kind.EXP ? 2 * Math.sqrt(Math.max(s[0], s[1])) : 0);
                double[] want = {integrate(phi, phi, s[0], s[0], s[0], limit),
                    integrate(phi, phi, s[1], s[1], s[1], limit), integrate(phi, phi, s[0], s[1], s[2], limit),
                    integrate(slope, slope, s[0], s[1], s[2], limit)};
                for (int j = 0; j < 4; j++) {
                    assertThat(dual[j]).as("%s at %s, expectation %d", kind, java.util.Arrays.toString(s), j)
                            .isCloseTo(want[j], within(1e-12 * Math.max(1, Math.abs(want[j]))));
                }
            }
        }
    }

    /**
     * The expectation a normalisation's scale needs at the activation after it, E[φ'(u)φ'(v)·u·v]
     * ({@link ActivationDuals#crossAndMoment}: closed forms, or the numerical rules with one more integrand), of every
     * activation against the same independent integration of φ'(u)u · φ'(v)v, to 1e-13 of max(1, √(k11 k22),
     * |expectation|) (the integrand's size; 1e-14 seen, tanh, exp and elu), also at variances up to 25; its first
     * two entries are {@link ActivationDuals#cross}'s to the bit.
     */
    @Test
    void everyActivationsMomentMatchesAnIndependentTwoDimensionalIntegration() {
        ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
        double[] got = new double[3];
        double[] plain = new double[2];
        for (Activation.Kind kind : Activation.Kind.values()) {
            Activation act = new Activation(kind);
            DoubleUnaryOperator slope = derivative(kind);
            DoubleUnaryOperator times = x -> slope.applyAsDouble(x) * x;
            for (double[] s : concat(SIGMAS, LARGER)) {
                ActivationDuals.crossAndMoment(act, s[0], s[1], s[2], got, scratch);
                ActivationDuals.cross(act, s[0], s[1], s[2], plain, scratch);
                double limit = 9 + (kind == Activation.Kind.EXP ? 2 * Math.sqrt(Math.max(s[0], s[1])) : 0);
                double want = integrate(times, times, s[0], s[1], s[2], limit);
                double size = Math.max(1, Math.max(Math.sqrt(s[0] * s[1]), Math.abs(want)));
                assertThat(got[2]).as("%s at %s", kind, java.util.Arrays.toString(s))
                        .isCloseTo(want, within(1e-13 * size));
                assertThat(new double[] {got[0], got[1]}).as("%s at %s", kind, java.util.Arrays.toString(s))
                        .containsExactly(plain);
            }
        }
    }

    private static double[][] concat(double[][] a, double[][] b) {
        double[][] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /**
     * elu's E[φ(u)²] in closed form, k/2 + e^{2k}Φ(−2√k) − 2e^{k/2}Φ(−√k) + 1/2 (the halves u &gt; 0 and u &lt; 0,
     * with E[e^{au}; u &lt; 0] = e^{a²k/2}Φ(−a√k)), written with erfcx: at variances 1e-6..1e12, within 1e-13 of
     * max(1, k) (the closed form's cancellation at small k, and the rule's at large, stay far below).
     */
    @Test
    void elusMeanSquareMatchesItsClosedForm() {
        for (double k : new double[] {1e-6, 1e-2, 0.5, 1, 3, 30, 1e3, 1e6, 1e12}) {
            double s = Math.sqrt(k);
            double want = k / 2 + ErfFunction.erfcx(Math.sqrt(2) * s) / 2 - ErfFunction.erfcx(s / Math.sqrt(2)) + 0.5;
            double got = ActivationDuals.of(Activation.Kind.ELU, k, k, k)[0];
            assertThat(got).as("k = %s", k).isCloseTo(want, within(1e-13 * Math.max(1, k)));
            // identical inputs: the cross term is the mean square to the bit (c = 1 stays exact through the layers)
            assertThat(ActivationDuals.of(Activation.Kind.ELU, k, k, k)[2]).isEqualTo(got);
        }
    }

    /**
     * The closed forms by hand at points where they are elementary: exp at c = ±1 and 0, gaussian (neural-tangents'
     * e^{−x²}: E = 1/√((1+2k11)(1+2k22) − 4k12²), E' = 4k12/D^{3/2}), cos (E[cos u cos v] = e^{−(k11+k22)/2}
     * cosh k12), abs (E = k12 at c = 1, (2/π)√(k11 k22) at c = 0; E[sign u sign v] = (2/π) arcsin c) and the zero
     * variances, where φ'(0) decides: abs' 0, elu' 1, silu' 1/2.
     */
    @Test
    void closedFormsByHandAndAtZeroVariances() {
        double[] e = ActivationDuals.of(Activation.Kind.EXP, 0.5, 0.5, 0.5);
        assertThat(e).containsExactly(new double[] {Math.E, Math.E, Math.E, Math.E}, within(1e-15 * Math.E));
        assertThat(ActivationDuals.of(Activation.Kind.EXP, 0.5, 0.5, -0.5)[2]).isCloseTo(1, within(1e-15));
        double[] g = ActivationDuals.of(Activation.Kind.GAUSSIAN, 1, 2, 0.5);
        double det = 3 * 5 - 4 * 0.25;
        assertThat(g).containsExactly(new double[] {1 / Math.sqrt(5), 1 / 3.0, 1 / Math.sqrt(det),
            4 * 0.5 / Math.pow(det, 1.5)}, within(1e-15));
        double[] c = ActivationDuals.of(Activation.Kind.COS, 1, 2, 0.5);
        assertThat(c[2]).isCloseTo(Math.exp(-1.5) * Math.cosh(0.5), within(1e-15));
        assertThat(c[3]).isCloseTo(Math.exp(-1.5) * Math.sinh(0.5), within(1e-15));
        assertThat(c[0]).isCloseTo((1 + Math.exp(-2)) / 2, within(1e-15));
        double[] a = ActivationDuals.of(Activation.Kind.ABS, 2, 2, 2);
        assertThat(a).containsExactly(new double[] {2, 2, 2, 1}, within(1e-15));
        double[] o = ActivationDuals.of(Activation.Kind.ABS, 1, 4, 0);
        assertThat(o[2]).isCloseTo(2 / Math.PI * 2, within(1e-15));
        assertThat(o[3]).isCloseTo(0, within(1e-15));
        double[] anti = ActivationDuals.of(Activation.Kind.ABS, 3, 3, -3);
        assertThat(anti[2]).isCloseTo(3, within(1e-15));
        assertThat(anti[3]).isCloseTo(-1, within(1e-15));
        // zero variances: φ(0)² and φ'(0)², or φ'(0)·E[φ'(v)]
        assertThat(ActivationDuals.of(Activation.Kind.ABS, 0, 0, 0)[3]).isEqualTo(0.0);
        assertThat(ActivationDuals.of(Activation.Kind.ABS, 0, 2, 0)[3]).isEqualTo(0.0);
        assertThat(ActivationDuals.of(Activation.Kind.ELU, 0, 0, 0)[3]).isCloseTo(1.0, within(1e-15));
        assertThat(ActivationDuals.of(Activation.Kind.SILU, 0, 0, 0)[3]).isCloseTo(0.25, within(1e-15));
        assertThat(ActivationDuals.of(Activation.Kind.GAUSSIAN, 0, 0, 0)).containsExactly(1.0, 1.0, 1.0, 0.0);
        assertThat(ActivationDuals.of(Activation.Kind.COS, 0, 0, 0)).containsExactly(1.0, 1.0, 1.0, 0.0);
        assertThat(ActivationDuals.of(Activation.Kind.EXP, 0, 0, 0)).containsExactly(1.0, 1.0, 1.0, 1.0);
    }

    /**
     * At variances of 1e30 and 1e300 silu and elu are relu on the Gaussian's scale (their bends, of width 1, are
     * 1e-15 and 1e-150 of the deviation): the duals equal relu's to 1e-10 relative, with no NaN or ∞.
     */
    @Test
    void hugeVariancesGiveReluForSiluAndElu() {
        for (double k : new double[] {1e30, 1e300}) {
            for (double c : new double[] {0.3, -0.8, 1, 0}) {
                double[] relu = ActivationDuals.of(Activation.Kind.RELU, k, k, c * k);
                for (Activation.Kind kind : new Activation.Kind[] {Activation.Kind.SILU, Activation.Kind.ELU}) {
                    double[] d = ActivationDuals.of(kind, k, k, c * k);
                    for (int j = 0; j < 4; j++) {
                        assertThat(d[j]).as("%s k=%s c=%s %d", kind, k, c, j)
                                .isCloseTo(relu[j], within(1e-10 * Math.max(1, Math.abs(relu[j]))));
                    }
                }
            }
        }
    }

    /**
     * exp of large pre-activations: the limit overflows float64 (E[e^{2u}] = e^{2k} beyond k ≈ 355) and the eNTK
     * (e^x beyond 709.8); both refuse the kernel, naming the overflow and exp, rather than return ∞.
     */
    @Test
    void expOverflowIsRefusedNamingTheCause() {
        String spec = "fcn(depth=2,width=8,out=1,act=exp,w_std=1,b_std=0)";
        try (Tensor x = Tensor.full(DType.F64, 30, 2, 4)) { // k = x·x/d = 900 at the first layer
            assertThatThrownBy(() -> FcnLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64))
                    .isInstanceOf(NonFiniteKernelException.class)
                    .hasMessageContaining("it overflows f64 at these inputs")
                    .hasMessageContaining("exponentially through act=exp");
        }
        Model m = Zoo.parse(spec);
        try (Tensor x = Tensor.full(DType.F64, 1e3, 2, 4); Params p = m.init(3, new int[] {4}, DType.F64)) {
            assertThatThrownBy(() -> EmpiricalNtk.of(m, p).ntk(x, null))
                    .isInstanceOf(NonFiniteKernelException.class)
                    .hasMessageContaining("not finite at these inputs (an overflow of f64, such as exp of a large "
                            + "pre-activation");
        }
    }

    /** erfcx against mpmath's e^{x²} erfc(x) (30 digits), from 0 through the switch at x² = 1.5 to 1e9. */
    @Test
    void erfcxMatchesTabulatedValues() {
        double[][] table = {{0, 1}, {0.3, 0.73459933456765514229}, {1, 0.42758357615580700441},
            {1.2247, 0.37317529105374067828}, {2, 0.25539567631050574387}, {5, 0.11070463773306862637},
            {30, 0.018795888861416751497}, {1e3, 0.0005641893014533876542}, {1e9, 5.6418958354775628667e-10}};
        for (double[] row : table) {
            assertThat(ErfFunction.erfcx(row[0])).as("erfcx(%s)", row[0]).isCloseTo(row[1], within(2e-15 * row[1]));
        }
        assertThat(ErfFunction.erfcx(Double.POSITIVE_INFINITY)).isEqualTo(0.0);
        assertThatThrownBy(() -> ErfFunction.erfcx(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("erfcx: x must be at least 0, got -1.0");
    }

    /**
     * E[f(u) g(v)] by the composite rule described in the class comment (also {@link ComposedLimitNormTest}'s
     * oracle for the activations after a normalisation).
     */
    static double integrate(DoubleUnaryOperator f, DoubleUnaryOperator g, double k11, double k22,
                                    double k12, double limit) {
        double s11 = Math.sqrt(k11);
        double s22 = Math.sqrt(k22);
        double c = k11 > 0 && k22 > 0 ? Math.max(-1, Math.min(1, k12 / (s11 * s22))) : 0;
        double l21 = c * s22;
        double l22 = s22 * Math.sqrt(Math.max(0, 1 - c * c));
        double[] total = {0};
        panels(-limit, 0, limit, z1 -> {
            double fu = f.applyAsDouble(s11 * z1);
            double inner;
            if (l22 == 0) {
                inner = g.applyAsDouble(l21 * z1);
            } else {
                double kink = Math.max(-limit, Math.min(limit, -l21 * z1 / l22));
                double[] sum = {0};
                panels(-limit, kink, limit, z2 -> g.applyAsDouble(l21 * z1 + l22 * z2), sum, false);
                inner = sum[0];
            }
            return fu * inner;
        }, total, true);
        return total[0];
    }

    /**
     * Adds ∫ h(z) ϕ(z) dz over [lo, split] and [split, hi] to sum[0], by panels of width at most 1/2; graded (the
     * outer integral), the two touching the split halved again and again down to 1e-13: near c = ±1 the inner
     * integral turns over within l22/|l21| of z1 = 0, which equal panels would not resolve.
     */
    private static void panels(double lo, double split, double hi, DoubleUnaryOperator h, double[] sum,
                               boolean graded) {
        for (double[] range : new double[][] {{lo, split}, {split, hi}}) {
            double length = range[1] - range[0];
            if (length <= 0) {
                continue;
            }
            int n = (int) Math.ceil(length / 0.5);
            double width = length / n;
            boolean up = range[0] == split;
            for (int p = 0; p < n; p++) {
                double a = range[0] + p * width;
                double b = a + width;
                boolean touching = graded && (up ? p == 0 : p == n - 1);
                if (!touching) {
                    panel(a, b, h, sum);
                    continue;
                }
                // graded: [split + w/2, split + w], [split + w/4, split + w/2], …, then [split, split + 1e-13]
                double w = width;
                while (w > 1e-13) {
                    panel(up ? split + w / 2 : split - w, up ? split + w : split - w / 2, h, sum);
                    w /= 2;
                }
                panel(up ? split : split - w, up ? split + w : split, h, sum);
            }
        }
    }

    private static void panel(double a, double b, DoubleUnaryOperator h, double[] sum) {
        double mid = (a + b) / 2;
        double half = (b - a) / 2;
        for (int i = 0; i < NODE.length; i++) {
            for (int sign = -1; sign <= 1; sign += 2) {
                double z = mid + sign * NODE[i] * half;
                sum[0] += WEIGHT[i] * half * Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI) * h.applyAsDouble(z);
            }
        }
    }

    private static DoubleUnaryOperator definition(Activation.Kind kind) {
        return ActivationDefinitions.of(kind);
    }

    private static DoubleUnaryOperator derivative(Activation.Kind kind) {
        return ActivationDefinitions.derivative(kind);
    }
}
