package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.ntk4j.infinite.ComposedLimitTest.largestDifference;
import static org.ntk4j.infinite.ComposedLimitTest.meanEmpiricalIsNear;
import static org.ntk4j.infinite.ComposedLimitTest.model;
import static org.ntk4j.infinite.ComposedLimitWindowsTest.matchesTheOracle;

import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.ActivationDefinitions;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.ToImage;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The composed limit's layer_norm and batch_norm_eval (with their learnable scale γ and shift β at initialisation,
 * γ = 1, β = 0): against recursions written by hand and {@link MapOracle} in float64 to 1e-12 (1e-10 where the
 * hand recursion's activation expectations are integrated numerically), against the mean
 * empirical NTK of wide networks, and the compositions where the rules would not be the limit, refused.
 */
class ComposedLimitNormTest {
    private static final double W = 1.3;
    private static final double B = 0.2;
    private static final double EPS = 1e-5;
    private static final int[] ONE = {1, 1};

    /**
     * dense(n) → layer_norm → erf → dense(n) → batch_norm_eval (running mean 0, running variance v) → relu →
     * dense(1) by hand, for 3 examples of d features: K¹ = σ_w² x·x'/d + σ_b², Θ¹ = K¹ (NTK) or x·x' + [b]
     * (standard); the layer_norm K̂ = K¹/√((K¹(x,x) + ε)(K¹(x',x') + ε)), Θ̂ = Θ¹/√(...) + K̂ + 1 (the last two: γ's
     * and β's gradients, when {@code affine}); erf's arcsine kernels, Θ² = E[φ'φ'] (Θ̂ − K̂) + E[φ'(u)φ'(v) u v]
     * (γ's term is the unit's own u·v, not independent of it); dense; the batch_norm K⁴ = K³/(v + ε),
     * Θ⁴ = Θ³/(v + ε) + K⁴ + 1; relu's arc-cosine kernels, Θ⁵ = J₀ (Θ⁴ − K⁴) + J₁; the readout. {@code norm},
     * {@code bn}: whether the network has the layer_norm and the batch_norm; {@code ownTerm}: whether γ's term is taken
     * as the unit's own u·v in the activations (else as independent of it, E[φ'φ'] K̂). Both false, and
     * {@code affine} false, are the alternatives a wrong rule would give. Returns {K, Θ} [3][3].
     */
    private static double[][][] byHand(double[][] x, int n, double wStd, double bStd, boolean std, double v,
                                       double eps, boolean norm, boolean bn, boolean affine, boolean ownTerm) {
        double w2 = wStd * wStd;
        double b2 = bStd * bStd;
        double bias = bStd != 0 ? 1 : 0;
        int d = x[0].length;
        double[][] k = new double[3][3];
        double[][] t = new double[3][3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double dot = 0;
                for (int f = 0; f < d; f++) {
                    dot += x[i][f] * x[j][f];
                }
                k[i][j] = w2 * dot / d + b2;
                t[i][j] = std ? dot + bias : k[i][j];
            }
        }
        if (norm) {
            double[] own = diagonal(k);
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    double s = Math.sqrt((own[i] + eps) * (own[j] + eps));
                    k[i][j] /= s;
                    t[i][j] = t[i][j] / s + (affine ? k[i][j] + 1 : 0);
                }
            }
        }
        double[] own = diagonal(k);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double a = 1 + 2 * own[i];
                double c = 1 + 2 * own[j];
                double kij = k[i][j];
                double det = a * c - 4 * kij * kij;
                k[i][j] = 2 / Math.PI * Math.asin(Math.max(-1, Math.min(1, 2 * kij / Math.sqrt(a * c))));
                // γ's term K̂ is the unit's own u·v: E[erf'(u) erf'(v) u v] = (4/π) K̂ / det^{3/2}
                double gamma = norm && affine && ownTerm ? 1 : 0;
                t[i][j] = 4 / Math.PI / Math.sqrt(det) * (t[i][j] - gamma * kij)
                        + gamma * 4 / Math.PI * kij / Math.pow(det, 1.5);
            }
        }
        dense(k, t, n, w2, b2, bias, std);
        if (bn) {
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    k[i][j] /= v + eps;
                    t[i][j] = t[i][j] / (v + eps) + (affine ? k[i][j] + 1 : 0);
                }
            }
        }
        own = diagonal(k);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double s = Math.sqrt(own[i] * own[j]);
                double th = Math.acos(Math.max(-1, Math.min(1, k[i][j] / s)));
                double j1 = s * (Math.sin(th) + (Math.PI - th) * Math.cos(th)) / (2 * Math.PI);
                // γ's term K⁴ is the unit's own u·v: E[relu'(u) relu'(v) u v] = E[relu(u) relu(v)] = J₁
                double gamma = bn && affine && ownTerm ? 1 : 0;
                t[i][j] = (Math.PI - th) / (2 * Math.PI) * (t[i][j] - gamma * k[i][j]) + gamma * j1;
                k[i][j] = j1;
            }
        }
        dense(k, t, n, w2, b2, bias, std);
        return new double[][][] {k, t};
    }

    private static double[] diagonal(double[][] k) {
        return new double[] {k[0][0], k[1][1], k[2][2]};
    }

    /** dense of fan-in n on the states: K ← σ_w² K + σ_b², Θ ← K_new (NTK) or n K + [b] (standard), + σ_w² Θ. */
    private static void dense(double[][] k, double[][] t, int n, double w2, double b2, double bias, boolean std) {
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double kn = w2 * k[i][j] + b2;
                t[i][j] = (std ? n * k[i][j] + bias : kn) + w2 * t[i][j];
                k[i][j] = kn;
            }
        }
    }

    /** The network {@link #byHand} writes out, the batch_norm's running statistics given as the model's buffers. */
    private static Model vectorNet(int n, double wStd, double bStd, Parameterization p, double v, boolean norm,
                                   boolean bn) {
        Layer ln = norm ? Layers.layerNorm() : Layers.identity();
        Layer bnLayer = bn ? Layers.batchNormEval() : Layers.identity();
        Model m = new Model(Layers.serial(Layers.dense(n, wStd, bStd, p), ln, Layers.erf(),
                Layers.dense(n, wStd, bStd, p), bnLayer, Layers.relu(), Layers.dense(1, wStd, bStd, p)), "norms");
        return bn ? m.withBuffers(Map.of("4_batch_norm_eval/running_var", Tensor.full(DType.F64, v, n),
                "4_batch_norm_eval/running_mean", Tensor.zeros(DType.F64, n))) : m;
    }

    private static double[][] rows(Tensor x) {
        double[][] r = new double[x.dim(0)][x.dim(1)];
        for (int i = 0; i < r.length; i++) {
            for (int f = 0; f < r[0].length; f++) {
                r[i][f] = x.get(i, f);
            }
        }
        return r;
    }

    /**
     * The vector network of {@link #byHand} (n = 50, v = 2.5), both parameterisations, σ_b = B and 0, equals the
     * hand recursion to 1e-12 (relative), NNGP and NTK, every entry of 3 examples, the third of them tiny (its K¹ of
     * the order of ε = 1e-5 when σ_b = 0): ε enters as the forward pass has it, √(var + ε) — the rule without it is
     * more than 10% off there — and without the scale's and shift's terms the NTK is more than 5% off.
     */
    @Test
    void aVectorNetworkMatchesTheHandWrittenRecursion() {
        int n = 50;
        double v = 2.5;
        try (Tensor x = inputsWithASmallExample(51)) {
            double[][] xs = rows(x);
            for (Parameterization p : Parameterization.values()) {
                boolean std = p == Parameterization.STANDARD;
                for (double b : new double[] {B, 0}) {
                    InfiniteLimit lim = InfiniteLimit.of(vectorNet(n, W, b, p, v, true, true), new int[] {6});
                    double[][][] want = byHand(xs, n, W, b, std, v, EPS, true, true, true, true);
                    try (Tensor nngp = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                         Tensor ntk = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
                        assertMatches(nngp, ntk, want, p + " b=" + b);
                        double[][][] noAffine = byHand(xs, n, W, b, std, v, EPS, true, true, false, true);
                        assertThat(Math.abs(noAffine[1][0][0] - ntk.get(0, 0))).isGreaterThan(0.05 * ntk.get(0, 0));
                        if (b == 0) {
                            double[][][] noEps = byHand(xs, n, W, b, std, v, 0, true, true, true, true);
                            assertThat(Math.abs(noEps[0][2][2] - nngp.get(2, 2)))
                                    .isGreaterThan(0.1 * nngp.get(2, 2));
                        }
                    }
                }
            }
        }
    }

    /**
     * neural-tangents' LayerNorm ({@link Layers#layerNormStax()}: no scale or shift, ε = 1e-12) in dense(50) →
     * layer_norm → erf → dense(50) → relu → dense(1), both parameterisations, σ_b = B and 0: the hand recursion
     * without the scale's and shift's terms (K̂ = K¹/√(...), Θ̂ = Θ¹/√(...), no K̂ + 1, no γ term in erf's Θ) to 1e-12
     * relative, NNGP and NTK, every entry; the affine rule is more than 0.1% away from its Θ (2% or more seen). A
     * network that ends in it (normalising over the O logits, a finite axis) is refused as any output that is not a
     * dense layer's.
     */
    @Test
    void staxLayerNormWithoutParametersMatchesTheHandWrittenRecursion() {
        int n = 50;
        double eps = 1e-12;
        try (Tensor x = inputsWithASmallExample(53)) {
            double[][] xs = rows(x);
            for (Parameterization p : Parameterization.values()) {
                boolean std = p == Parameterization.STANDARD;
                for (double b : new double[] {B, 0}) {
                    Model m = new Model(Layers.serial(Layers.dense(n, W, b, p), Layers.layerNormStax(),
                            Layers.erf(), Layers.dense(n, W, b, p), Layers.relu(), Layers.dense(1, W, b, p)),
                            "stax-norm");
                    assertThat(m.paramSpecs(new int[] {6})).as("no scale or shift")
                            .noneMatch(s -> s.path().startsWith("1_"));
                    InfiniteLimit lim = InfiniteLimit.of(m, new int[] {6});
                    double[][][] want = byHand(xs, n, W, b, std, 1, eps, true, false, false, true);
                    double[][][] affine = byHand(xs, n, W, b, std, 1, eps, true, false, true, true);
                    try (Tensor nngp = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                         Tensor ntk = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
                        assertMatches(nngp, ntk, want, p + " b=" + b);
                        assertThat(Math.abs(affine[1][0][0] - ntk.get(0, 0))).isGreaterThan(1e-3 * ntk.get(0, 0));
                    }
                }
            }
        }
        Model last = new Model(Layers.serial(Layers.dense(n), Layers.erf(), Layers.dense(3), Layers.layerNormStax()),
                "ends-normalised");
        assertThatThrownBy(() -> InfiniteLimit.of(last, new int[] {6})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be a vector from a dense layer");
    }

    /** Three examples of 6 features, the third scaled by 3e-3 (small enough that ε matters for it). */
    private static Tensor inputsWithASmallExample(long seed) {
        try (Tensor raw = Tensor.randomNormal(DType.F64, seed, 3, 6)) {
            double[] flat = raw.toDoubleArray();
            for (int f = 12; f < 18; f++) {
                flat[f] *= 3e-3;
            }
            return Tensor.of(DType.F64, flat, 3, 6);
        }
    }

    /** Every entry of the limit's NNGP and NTK against the hand recursion {K, Θ}, to 1e-12 relative. */
    private static void assertMatches(Tensor nngp, Tensor ntk, double[][][] want, String what) {
        for (int i = 0; i < want[0].length; i++) {
            for (int j = 0; j < want[0].length; j++) {
                assertThat(nngp.get(i, j)).as("%s K(%d, %d)", what, i, j)
                        .isCloseTo(want[0][i][j], within(1e-12 * Math.abs(want[0][i][j])));
                assertThat(ntk.get(i, j)).as("%s Θ(%d, %d)", what, i, j)
                        .isCloseTo(want[1][i][j], within(1e-12 * Math.abs(want[1][i][j])));
            }
        }
    }

    /**
     * dense(n) → layer_norm → φ → dense(1) by hand, for the examples x: K¹ and Θ¹ as {@link #byHand}, the layer_norm
     * K̂ = K¹/√((K¹(x,x) + ε)(K¹(x',x') + ε)), Θ̂ = Θ¹/√(...) + K̂ + 1, then φ with the expectations {@code e} of
     * {@link #expectationsAfterLayerNorm}: K² = E[φ(u)φ(v)], Θ² = E[φ'φ'](Θ̂ − K̂) + E[φ'(u)u φ'(v)v]
     * ({@code ownTerm}; else E[φ'φ'] Θ̂, γ's term taken as independent of the unit), and the readout. Returns
     * {K, Θ} [N][N].
     */
    private static double[][][] afterLayerNorm(double[][] x, double[][][] e, int n, double wStd, double bStd,
                                               boolean std, boolean ownTerm) {
        int m = x.length;
        double w2 = wStd * wStd;
        double b2 = bStd * bStd;
        double bias = bStd != 0 ? 1 : 0;
        double[][][] first = firstLayer(x, wStd, bStd, std);
        double[][] k = new double[m][m];
        double[][] t = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double s = Math.sqrt((first[0][i][i] + EPS) * (first[0][j][j] + EPS));
                double kHat = first[0][i][j] / s;
                double tHat = first[1][i][j] / s + kHat + 1;
                double t2 = ownTerm ? e[2][i][j] * (tHat - kHat) + e[3][i][j] : e[2][i][j] * tHat;
                double k2 = e[1][i][j];
                k[i][j] = w2 * k2 + b2;
                t[i][j] = (std ? n * k2 + bias : k[i][j]) + w2 * t2;
            }
        }
        return new double[][][] {k, t};
    }

    /** The first dense layer's {K¹, Θ¹} (NTK or standard parameterisation) of the examples x. */
    private static double[][][] firstLayer(double[][] x, double wStd, double bStd, boolean std) {
        int m = x.length;
        double[][] k = new double[m][m];
        double[][] t = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double dot = 0;
                for (int f = 0; f < x[0].length; f++) {
                    dot += x[i][f] * x[j][f];
                }
                k[i][j] = wStd * wStd * dot / x[0].length + bStd * bStd;
                t[i][j] = std ? dot + (bStd != 0 ? 1 : 0) : k[i][j];
            }
        }
        return new double[][][] {k, t};
    }

    /**
     * {K̂, E[φ(u)φ(v)], E[φ'(u)φ'(v)], E[φ'(u)u φ'(v)v]} [N][N] after dense(·, wStd, bStd) → layer_norm (K̂ does not
     * depend on the parameterisation), the expectations from {@link ActivationDualsOracleTest#integrate}, an
     * independent 2-D integration, for (u, v) of the covariance of K̂ (each pair once: they are symmetric).
     */
    private static double[][][] expectationsAfterLayerNorm(double[][] x, Activation.Kind kind, double wStd,
                                                           double bStd) {
        int m = x.length;
        double[][] k1 = firstLayer(x, wStd, bStd, false)[0];
        double[][][] r = new double[4][m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                r[0][i][j] = k1[i][j] / Math.sqrt((k1[i][i] + EPS) * (k1[j][j] + EPS));
            }
        }
        DoubleUnaryOperator phi = ActivationDefinitions.of(kind);
        DoubleUnaryOperator slope = ActivationDefinitions.derivative(kind);
        DoubleUnaryOperator times = z -> slope.applyAsDouble(z) * z;
        double limit = 9 + (kind == Activation.Kind.EXP ? 4 : 0); // exp: past its integrands' peaks (variance ≤ 1)
        for (int i = 0; i < m; i++) {
            for (int j = i; j < m; j++) {
                double a = r[0][i][i];
                double b = r[0][j][j];
                double c = r[0][i][j];
                r[1][i][j] = ActivationDualsOracleTest.integrate(phi, phi, a, b, c, limit);
                r[2][i][j] = ActivationDualsOracleTest.integrate(slope, slope, a, b, c, limit);
                r[3][i][j] = ActivationDualsOracleTest.integrate(times, times, a, b, c, limit);
                for (int q = 1; q < 4; q++) {
                    r[q][j][i] = r[q][i][j];
                }
            }
        }
        return r;
    }

    /**
     * dense(n) → layer_norm → φ → dense(1) for every activation the limit integrates after a normalisation with
     * E[φ'(u)φ'(v)·u·v] other than relu, leaky_relu and erf (closed forms and numerical rules alike), both
     * parameterisations, 3 examples (the third tiny, its K¹ near ε): K and Θ equal {@link #afterLayerNorm} to 1e-10
     * of the largest diagonal entry, and the rule taking γ's term as independent of the unit (E[φ'φ'] Θ̂) is more
     * than 1e-3 of it away from Θ for each (so the moment is what the test checks). gelu, whose moment alone is
     * numerical, counts as integrating numerically there (its costs), and only there.
     */
    @Test
    void everyActivationAfterALayerNormMatchesTheHandWrittenRecursion() {
        int n = 50;
        Activation.Kind[] kinds = {Activation.Kind.TANH, Activation.Kind.SIGMOID, Activation.Kind.GELU,
            Activation.Kind.SOFTPLUS, Activation.Kind.SIN, Activation.Kind.ABS, Activation.Kind.EXP,
            Activation.Kind.GAUSSIAN, Activation.Kind.COS, Activation.Kind.SILU, Activation.Kind.ELU};
        try (Tensor raw = Tensor.randomNormal(DType.F64, 58, 3, 6)) {
            double[] values = raw.toDoubleArray();
            for (int f = 12; f < 18; f++) {
                values[f] *= 3e-3;
            }
            try (Tensor x = Tensor.of(DType.F64, values, 3, 6)) {
                double[][] xs = rows(x);
                for (Activation.Kind kind : kinds) {
                    double[][][] e = expectationsAfterLayerNorm(xs, kind, W, B);
                    for (Parameterization p : Parameterization.values()) {
                        boolean std = p == Parameterization.STANDARD;
                        Model m = model(Layers.dense(n, W, B, p), Layers.layerNorm(),
                                new Activation(kind), Layers.dense(1, W, B, p));
                        InfiniteLimit lim = InfiniteLimit.of(m, new int[] {6});
                        // gelu's E[φ'φ' u v] is integrated numerically (its other expectations are closed)
                        assertThat(lim.integratesNumerically()).as("%s", kind).isEqualTo(kind != Activation.Kind.SIN
                                && kind != Activation.Kind.ABS && kind != Activation.Kind.EXP
                                && kind != Activation.Kind.GAUSSIAN && kind != Activation.Kind.COS);
                        double[][][] want = afterLayerNorm(xs, e, n, W, B, std, true);
                        double[][][] independent = afterLayerNorm(xs, e, n, W, B, std, false);
                        try (Tensor nngp = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                             Tensor ntk = lim.kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
                            double scaleK = Math.max(want[0][0][0], Math.max(want[0][1][1], want[0][2][2]));
                            double scaleT = Math.max(want[1][0][0], Math.max(want[1][1][1], want[1][2][2]));
                            double away = 0;
                            for (int i = 0; i < 3; i++) {
                                for (int j = 0; j < 3; j++) {
                                    assertThat(nngp.get(i, j)).as("%s %s K(%d, %d)", kind, p, i, j)
                                            .isCloseTo(want[0][i][j], within(1e-10 * scaleK));
                                    assertThat(ntk.get(i, j)).as("%s %s Θ(%d, %d)", kind, p, i, j)
                                            .isCloseTo(want[1][i][j], within(1e-10 * scaleT));
                                    away = Math.max(away, Math.abs(independent[1][i][j] - ntk.get(i, j)));
                                }
                            }
                            assertThat(away).as("%s %s", kind, p).isGreaterThan(1e-3 * scaleT);
                        }
                    }
                }
                assertThat(InfiniteLimit.of(model(Layers.dense(n), Layers.gelu(), Layers.dense(1)), new int[] {6})
                        .integratesNumerically()).isFalse();
            }
        }
    }

    /**
     * dense(2048) → layer_norm → tanh → dense(1), NTK parameterisation, σ_w = 1.5, σ_b = 0.1 (tanh's expectations
     * and E[φ'φ' u v] integrated numerically): the mean eNTK of 4 networks is within 5% of the largest diagonal
     * entry of the limit (deviations seen: 1.8%), and the limit is {@link #afterLayerNorm}'s to 1e-10, while the rule
     * taking γ's term as independent of the unit (E[φ'φ'] Θ̂) is at least 10% away (25% seen).
     */
    @Test
    void aWideTanhNetworkAfterALayerNormApproachesTheLimit() {
        Parameterization ntk = Parameterization.NTK;
        Model m = model(Layers.dense(2048, 1.5, 0.1, ntk), Layers.layerNorm(), Layers.tanh(),
                Layers.dense(1, 1.5, 0.1, ntk));
        int[] shape = {6};
        try (Tensor x = Tensor.randomNormal(DType.F64, 59, 3, 6);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 900);
            double[][] xs = rows(x);
            double[][][] e = expectationsAfterLayerNorm(xs, Activation.Kind.TANH, 1.5, 0.1);
            double[][][] want = afterLayerNorm(xs, e, 2048, 1.5, 0.1, false, true);
            double[][][] independent = afterLayerNorm(xs, e, 2048, 1.5, 0.1, false, false);
            double independentDiff = 0;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    independentDiff = Math.max(independentDiff, Math.abs(independent[1][i][j] - lim.get(i, j)));
                    assertThat(lim.get(i, j)).isCloseTo(want[1][i][j], within(1e-10 * scale));
                }
            }
            // γ's term taken as independent of the unit: 25% of the scale away
            assertThat(independentDiff).isGreaterThan(0.1 * scale);
        }
    }

    /**
     * On 4 × 4 × 2 images: conv(n, 3 × 3, SAME) → layer_norm (per pixel, over the channels) → relu →
     * batch_norm_eval (running variance 0.5) → conv(n, 2 × 2, VALID) → avg_pool(2 × 2, VALID) → layer_norm →
     * relu → flatten or global_avg_pool → dense(1) (a layer_norm after a pool: each example's own pass needs the full
     * maps for the pooled variances), and conv(n, 2 × 2, explicit padding) → avg_pool(2 × 2) → flatten →
     * layer_norm (over every feature of the flattened image: one variance, the mean of the diagonal) → relu → dense,
     * both parameterisations: K and Θ of (x, y), (x, x) and (y, y) equal {@link MapOracle}'s to 1e-12 (relative).
     */
    @Test
    void imageNetworksMatchTheMapOracle() {
        int n = 5;
        int[][] same = {{1, 1}, {1, 1}};
        int[][] explicit = {{0, 1}, {0, 1}};
        for (Parameterization p : Parameterization.values()) {
            boolean std = p == Parameterization.STANDARD;
            for (boolean gap : new boolean[] {false, true}) {
                Model m = new Model(Layers.serial(Layers.conv(n, new int[] {3, 3}, ONE, "SAME", W, B, p),
                        Layers.layerNorm(), Layers.relu(), Layers.batchNormEval(),
                        Layers.conv(n, new int[] {2, 2}, ONE, "VALID", W, B, p),
                        Layers.avgPool(new int[] {2, 2}, ONE, "VALID"), Layers.layerNorm(), Layers.relu(),
                        gap ? Layers.globalAvgPool() : Layers.flatten(), Layers.dense(1, W, B, p)), "norms")
                        .withBuffers(Map.of("3_batch_norm_eval/running_var", Tensor.full(DType.F64, 0.5, n)));
                InfiniteLimit lim = matchesTheOracle(m, 4, 4, 2, std, 52, o -> o.conv(n, 3, 3, 1, 1, same)
                        .layerNorm(EPS, false).relu().batchNorm(0.5, EPS).conv(n, 2, 2, 1, 1, new int[2][2])
                        .pool(2, 2, 1, 1, new int[2][2], true).layerNorm(EPS, false).relu().readout(gap));
                assertThat(lim.toString()).contains("(2 activations").endsWith("every pixel pair)");
                // per pair one expectation per pixel pair of each relu's map (4 × 4, then 2 × 2 pixels); the own
                // passes are full (a layer_norm after the pool): none for the layer_norms
                assertThat(lim.expectations(3, 0, new int[] {4, 4, 2})).isEqualTo(6 * (256 + 16) + 3 * (256 + 16));
            }
            Model flat = new Model(Layers.serial(Layers.conv(n, new int[] {2, 2}, ONE, explicit, W, B, p),
                    Layers.avgPool(new int[] {2, 2}, ONE, "VALID"), Layers.flatten(), Layers.layerNorm(),
                    Layers.relu(), Layers.dense(1, W, B, p)), "flat norm");
            matchesTheOracle(flat, 4, 4, 2, std, 53, o -> o.conv(n, 2, 2, 1, 1, explicit)
                    .pool(2, 2, 1, 1, new int[2][2], true).layerNorm(EPS, true).relu().readout(false));
        }
    }

    /**
     * dense(2048) → layer_norm → erf → dense(2048) → batch_norm_eval (running variance 0.5) → relu → dense(1), NTK
     * parameterisation, σ_w = 1.5, σ_b = 0.1: the mean eNTK of 4 networks is within 5% of the largest diagonal entry
     * of the limit (the fluctuation is O(1/√width), ≈ 1.1% for the mean of 4 at 2048, times a constant of order 1;
     * the gradient through the layer_norm's mean and variance is O(1/width)), while the rule without the scale's and
     * shift's terms, and the networks without the layer_norm or without the batch_norm, are at least 15% away, and
     * the rule taking γ's term as independent of the unit at least 10% (deviations seen: 2.8%).
     */
    @Test
    void aWideVectorNetworksEmpiricalKernelApproachesTheLimit() {
        int width = 2048;
        double v = 0.5;
        Parameterization ntk = Parameterization.NTK;
        Model m = vectorNet(width, 1.5, 0.1, ntk, v, true, true);
        int[] shape = {6};
        try (Tensor x = Tensor.randomNormal(DType.F64, 54, 3, 6);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 700);
            double[][][] hand = byHand(rows(x), width, 1.5, 0.1, false, v, EPS, true, true, true, true);
            double[][][] noAffine = byHand(rows(x), width, 1.5, 0.1, false, v, EPS, true, true, false, true);
            double[][][] independent = byHand(rows(x), width, 1.5, 0.1, false, v, EPS, true, true, true, false);
            double handDiff = 0;
            double noAffineDiff = 0;
            double independentDiff = 0;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    handDiff = Math.max(handDiff, Math.abs(hand[1][i][j] - lim.get(i, j)));
                    noAffineDiff = Math.max(noAffineDiff, Math.abs(noAffine[1][i][j] - lim.get(i, j)));
                    independentDiff = Math.max(independentDiff, Math.abs(independent[1][i][j] - lim.get(i, j)));
                }
            }
            assertThat(handDiff).isLessThan(1e-12 * scale);
            assertThat(noAffineDiff).isGreaterThan(0.15 * scale);
            // γ's term taken as independent of the unit (E[φ'φ'] K̂): 16% of the scale away
            assertThat(independentDiff).isGreaterThan(0.1 * scale);
            for (Model other : new Model[] {vectorNet(width, 1.5, 0.1, ntk, v, false, true),
                vectorNet(width, 1.5, 0.1, ntk, v, true, false)}) {
                try (Tensor o = InfiniteLimit.of(other, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                        DType.F64)) {
                    assertThat(largestDifference(o, lim)).isGreaterThan(0.15 * scale);
                }
            }
        }
    }

    /**
     * conv(1024, 3 × 3) → layer_norm (per pixel) → relu → global_avg_pool → dense(1) on 3 × 3 × 2 images, NTK
     * parameterisation, σ_w = 1.5, σ_b = 0.1: the mean eNTK of 4 networks is within 5% of the largest diagonal entry
     * of the limit (fluctuation O(1/√channels)), while the network without the layer_norm is at least 15% away.
     */
    @Test
    void aWideConvNetWithALayerNormApproachesTheLimit() {
        Parameterization ntk = Parameterization.NTK;
        Layer conv = Layers.conv(1024, new int[] {3, 3}, ONE, "SAME", 1.5, 0.1, ntk);
        Model m = new Model(Layers.serial(conv, Layers.layerNorm(), Layers.relu(), Layers.globalAvgPool(),
                Layers.dense(1, 1.5, 0.1, ntk)), "wide conv norm");
        Model without = new Model(Layers.serial(conv, Layers.relu(), Layers.globalAvgPool(),
                Layers.dense(1, 1.5, 0.1, ntk)), "without");
        int[] shape = {3, 3, 2};
        try (Tensor x = Tensor.randomNormal(DType.F64, 55, 3, 3, 3, 2);
             Tensor lim = InfiniteLimit.of(m, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64);
             Tensor o = InfiniteLimit.of(without, shape).kernel(KernelKind.trace(), x, null, LimitKernel.NTK,
                     DType.F64)) {
            double scale = meanEmpiricalIsNear(m, shape, x, lim, 800);
            assertThat(largestDifference(o, lim)).isGreaterThan(0.15 * scale);
        }
    }

    /**
     * A layer_norm of a value that is not a zero-mean Gaussian alike in every unit (an activation's output, the
     * inputs), or of another axis than the channels; a batch_norm_eval whose running statistics are not a zero mean
     * and one variance for every channel; a buffer the model does not declare; and a network ending in either
     * layer (its logits' NTK would be random, γ's term per logit) are refused in one line naming the layer and its
     * path. A layer_norm's output keeps its heads for a residual sum, so a residual block after it composes, while
     * the sum of two layer_norms of the same layer is refused as correlated.
     */
    @Test
    void compositionsWithoutALimitAreRefused() {
        int[] v = {4};
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.relu(), Layers.layerNorm(),
                Layers.dense(2)), v)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("infinite limit: layer layer_norm (at path 2_layer_norm) normalises a value "
                        + "that is not Gaussian in the limit (an activation's output");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.layerNorm(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer layer_norm (at path 0_layer_norm) normalises the "
                        + "inputs themselves");
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.layerNorm(), new ToImage(),
                Layers.conv(2, ONE, ONE, "SAME"), Layers.flatten(), Layers.dense(2)), new int[] {4, 4}))
                .hasMessage("infinite limit: layer layer_norm (at path 0_layer_norm) normalises the last axis of "
                        + "per-example values [4, 4], which the limit covers for vectors and the channels of images "
                        + "[H, W, C] only");
        // γ's term is the unit's own u·v: any activation right after a normalisation, none after a sum with it
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.layerNorm(),
                Layers.residual(Layers.relu(), Layers.dense(8)), Layers.tanh(), Layers.dense(2)), v))
                .hasMessage("infinite limit: layer tanh (at path 3_tanh) acts on a sum with a layer_norm's or "
                        + "batch_norm_eval's output, whose scale's gradient, that output's own value, is correlated "
                        + "with the sum in a way the kernels do not carry (the branches' joint moments); the limit "
                        + "covers any activation right after the normalisation (and pools, flatten), not after a sum");
        Model bn = model(Layers.dense(3), Layers.batchNormEval(), Layers.relu(), Layers.dense(2));
        assertThatThrownBy(() -> InfiniteLimit.of(bn.withBuffers(Map.of("1_batch_norm_eval/running_mean",
                Tensor.of(DType.F64, new double[] {0, 0.5, 0}, 3))), v))
                .hasMessage("infinite limit: layer batch_norm_eval (at path 1_batch_norm_eval) has running_mean 0.5 "
                        + "at channel 1, where the limit covers zero running means (a nonzero one gives the units "
                        + "nonzero means, which the rules' zero-mean Gaussians are not)");
        assertThatThrownBy(() -> InfiniteLimit.of(bn.withBuffers(Map.of("1_batch_norm_eval/running_var",
                Tensor.of(DType.F64, new double[] {1, 1, 2}, 3))), v))
                .hasMessageStartingWith("infinite limit: layer batch_norm_eval (at path 1_batch_norm_eval) has "
                        + "running_var 1.0 at channel 0 and 2.0 at channel 2");
        assertThatThrownBy(() -> InfiniteLimit.of(bn.withBuffers(Map.of("1_batch_norm_eval/running_var",
                Tensor.full(DType.F64, -1, 3))), v))
                .hasMessage("infinite limit: layer batch_norm_eval (at path 1_batch_norm_eval) has running_var -1.0, "
                        + "where var + ε must be > 0 (ε = 1.0E-5: the forward pass takes its square root)");
        assertThatThrownBy(() -> InfiniteLimit.of(bn.withBuffers(Map.of("1_batch_norm/running_var",
                Tensor.full(DType.F64, 2, 3))), v))
                .hasMessage("infinite limit: test: buffer '1_batch_norm/running_var' is not one of the model's "
                        + "(1_batch_norm_eval/running_mean, 1_batch_norm_eval/running_var)");
        assertThatThrownBy(() -> InfiniteLimit.of(bn.withBuffers(Map.of("1_batch_norm_eval/running_var",
                Tensor.full(DType.F64, 2, 4))), v))
                .hasMessage("infinite limit: test: buffer '1_batch_norm_eval/running_var' must have shape [3], "
                        + "has [4]");
        // a batch_norm_eval of the inputs themselves, also once flattened or pooled: its γ and β are one per input
        // feature, so their share of the NTK stays random at any width (and its mean is not the rule's: the mean
        // eNTK of 8 width-4096 relu networks on 2 features was up to 51% off it), refused as the layer_norm's is
        String raw = "normalises the inputs themselves, whose scale and shift (one per input feature, which the "
                + "width does not grow) give the NTK a share that stays random as the width grows, so it has no "
                + "limit; standardise the examples instead, or put a dense or conv layer before it";
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.batchNormEval(), Layers.dense(8), Layers.relu(),
                Layers.dense(2)), v)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("infinite limit: layer batch_norm_eval (at path 0_batch_norm_eval) " + raw);
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.flatten(), Layers.batchNormEval(), Layers.dense(2)),
                new int[] {2, 2, 3})).hasMessage("infinite limit: layer batch_norm_eval (at path 1_batch_norm_eval) "
                + raw);
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.globalAvgPool(), Layers.batchNormEval(),
                Layers.dense(2)), new int[] {2, 2, 3})).hasMessage("infinite limit: layer batch_norm_eval (at path "
                + "1_batch_norm_eval) " + raw);
        for (Layer last : new Layer[] {Layers.layerNorm(), Layers.batchNormEval()}) {
            assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.dense(2), last), v))
                    .hasMessageStartingWith("infinite limit: the network's output (shape [2]) must be a vector from "
                            + "a dense layer").hasMessageContaining("it ends with " + last.kind() + " (at path 2_");
        }
        // a residual block after a layer_norm composes: K = K_norm + K_branch
        try (Tensor x = Tensor.randomNormal(DType.F64, 56, 2, 4)) {
            InfiniteLimit res = InfiniteLimit.of(model(Layers.dense(8), Layers.layerNorm(),
                    Layers.residual(Layers.relu(), Layers.dense(8)), Layers.dense(1)), v);
            InfiniteLimit plain = InfiniteLimit.of(model(Layers.dense(8), Layers.layerNorm(), Layers.dense(1)), v);
            InfiniteLimit branch = InfiniteLimit.of(model(Layers.dense(8), Layers.layerNorm(), Layers.relu(),
                    Layers.dense(8), Layers.dense(1)), v);
            try (Tensor a = res.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                 Tensor b = plain.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64);
                 Tensor c = branch.kernel(KernelKind.trace(), x, null, LimitKernel.NNGP, DType.F64)) {
                // dense(1) reads K as σ_w² K + σ_b² (the defaults σ_w = 1, σ_b = 0: so the readouts add)
                double want = b.get(0, 1) + c.get(0, 1);
                assertThat(a.get(0, 1)).isCloseTo(want, within(1e-12 * Math.abs(want)));
            }
        }
        assertThatThrownBy(() -> InfiniteLimit.of(model(Layers.dense(8), Layers.fanOut(2),
                Layers.parallel(Layers.layerNorm(), Layers.layerNorm()), Layers.fanInSum(), Layers.dense(2)), v))
                .hasMessageStartingWith("infinite limit: layer fan_in_sum (at path 3_fan_in_sum) sums branches 0 and "
                        + "1, which are correlated");
    }

    /**
     * A layer_norm is scale-free: without biases before it, inputs scaled by 1e100 give the limit of inputs scaled by
     * 1e4 (where ε = 1e-5 is 1e-13 of the variances) to 1e-12, NNGP and NTK, both parameterisations, on vectors and
     * per pixel on images. The product of the two examples' variances, 1e400, overflowed to ∞ and the normalised
     * covariance was 0.
     */
    @Test
    void aLayerNormOfHugeValuesIsScaleFree() {
        for (Parameterization p : Parameterization.values()) {
            Model vector = model(Layers.dense(8, 1.3, 0, p), Layers.layerNorm(), Layers.relu(),
                    Layers.dense(1, 1.3, 0.2, p));
            Model image = model(Layers.conv(8, new int[] {2, 2}, ONE, "SAME", 1.3, 0, p), Layers.layerNorm(),
                    Layers.erf(), Layers.globalAvgPool(), Layers.dense(1, 1.3, 0.2, p));
            scaleFree(vector, new int[] {4}, 61);
            scaleFree(image, new int[] {2, 3, 2}, 62);
        }
    }

    private static Tensor scaled(Tensor x, double by, int[] shape) {
        double[] v = x.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= by;
        }
        return Tensor.of(DType.F64, v, shape);
    }

    private static void scaleFree(Model m, int[] shape, long seed) {
        InfiniteLimit lim = InfiniteLimit.of(m, shape);
        int[] all = new int[shape.length + 1];
        all[0] = 3;
        System.arraycopy(shape, 0, all, 1, shape.length);
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, all);
             Tensor moderate = scaled(x, 1e4, all);
             Tensor huge = scaled(x, 1e100, all)) {
            for (LimitKernel which : LimitKernel.values()) {
                try (Tensor a = lim.kernel(KernelKind.trace(), moderate, null, which, DType.F64);
                     Tensor b = lim.kernel(KernelKind.trace(), huge, null, which, DType.F64)) {
                    double scale = Math.max(a.get(0, 0), Math.max(a.get(1, 1), a.get(2, 2)));
                    assertThat(largestDifference(a, b)).as("%s %s", m, which).isLessThan(1e-12 * scale);
                }
            }
        }
    }

    /**
     * leaky_relu of slope 1 is the identity: after a layer_norm (γ's term taken out before it and E[φ(u)φ(v)] added
     * after it) its limit equals the network without it, to 1e-12, K and Θ; and leaky_relu(0.2) differs from it.
     */
    @Test
    void aLeakyReluOfSlopeOneAfterALayerNormIsTheIdentity() {
        int[] v = {5};
        try (Tensor x = Tensor.randomNormal(DType.F64, 57, 3, 5)) {
            for (LimitKernel which : LimitKernel.values()) {
                try (Tensor a = InfiniteLimit.of(model(Layers.dense(8, W, B, Parameterization.NTK), Layers.layerNorm(),
                        Layers.leakyRelu(1), Layers.dense(1, W, B, Parameterization.NTK)), v)
                        .kernel(KernelKind.trace(), x, null, which, DType.F64);
                     Tensor b = InfiniteLimit.of(model(Layers.dense(8, W, B, Parameterization.NTK), Layers.layerNorm(),
                             Layers.dense(1, W, B, Parameterization.NTK)), v)
                             .kernel(KernelKind.trace(), x, null, which, DType.F64);
                     Tensor c = InfiniteLimit.of(model(Layers.dense(8, W, B, Parameterization.NTK), Layers.layerNorm(),
                             Layers.leakyRelu(0.2), Layers.dense(1, W, B, Parameterization.NTK)), v)
                             .kernel(KernelKind.trace(), x, null, which, DType.F64)) {
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 3; j++) {
                            assertThat(a.get(i, j)).as("%s (%d, %d)", which, i, j)
                                    .isCloseTo(b.get(i, j), within(1e-12 * Math.abs(b.get(i, j))));
                        }
                    }
                    assertThat(largestDifference(c, b)).isGreaterThan(0.05 * b.get(0, 0));
                }
            }
        }
    }
}
