package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The limits' predicted time follows the node count of the numerical integrations ({@link
 * ActivationDuals#relativeNodes}): before 2026-12-07 every expectation was priced at {@link
 * InfiniteLimit#NUMERICAL_SECONDS}, measured at small variances, so an fcn with w_std = 2.5, whose layers' variances
 * reach about 4 to 30, was predicted at half its time or less.
 */
class InfinitePredictedCostTest {
    private static final double R = 0.5 / ActivationDuals.STEP;

    /**
     * The nodes of the rule m(t) = R asinh((δ/R) sinh t), t = j·STEP, within |z| ≤ 9, counted one by one (δ =
     * min(1, pole/√k)): the cross term weighs those of z1 ≥ 0 of the outer variable's rule (26 at δ = 1) times all
     * of the inner one's (51), and {@link ActivationDuals#relativeNodes} is the square root of that product for
     * both variables at k, over δ = 1's; 1 where δ = 1 and for a closed form.
     */
    @Test
    void relativeNodesIsTheRatioOfTheRulesNodeCounts() {
        assertThat(counted(1, false)).isEqualTo(51);
        assertThat(counted(1, true)).isEqualTo(26);
        assertThat(ActivationDuals.UNIT_CROSS_NODES).isEqualTo(26 * 51);
        for (Activation.Kind kind : new Activation.Kind[] {Activation.Kind.TANH, Activation.Kind.SIGMOID}) {
            Activation act = new Activation(kind);
            double pole = kind == Activation.Kind.TANH ? Math.PI / 2 : Math.PI;
            for (double k : new double[] {0.01, 1, 2.4, 4, 9, 30, 100, 1e4, 1e8}) {
                double delta = Math.min(1, pole / Math.sqrt(k));
                double expected = Math.sqrt((double) counted(delta, true) * counted(delta, false) / (26 * 51));
                assertThat(ActivationDuals.relativeNodes(act, k)).as("%s at variance %s", kind, k)
                        .isCloseTo(expected, org.assertj.core.data.Percentage.withPercentage(1e-12));
                if (delta == 1) {
                    assertThat(ActivationDuals.relativeNodes(act, k)).isEqualTo(1.0);
                }
            }
        }
        assertThat(ActivationDuals.relativeNodes(new Activation(Activation.Kind.TANH), 4)).isCloseTo(1.078,
                org.assertj.core.data.Offset.offset(1e-3));
        assertThat(ActivationDuals.relativeNodes(new Activation(Activation.Kind.RELU), 1e4)).isEqualTo(1.0);
    }

    /**
     * The weights the cross term evaluates ({@link ActivationDuals.Scratch#weighed}, counted as the rule runs) are
     * the predicted {@link ActivationDuals#crossNodes} for uncorrelated variables (k12 = 0) of any two variances,
     * and relativeNodes(k11)·relativeNodes(k22) times δ = 1's within 1% (exactly for k11 = k22); a correlated pair
     * of equal variances weighs no more than predicted but for one node per outer node (the inner rule centred off 0
     * selects its nodes on either side by two roundings), and a pair of correlation 1 one node per outer node.
     */
    @Test
    void thePredictedNodesAreTheNodesTheCrossTermWeighs() {
        for (Activation.Kind kind : new Activation.Kind[] {Activation.Kind.TANH, Activation.Kind.SOFTPLUS}) {
            Activation act = new Activation(kind);
            double[] variances = {0.3, 2.4, 4, 30, 1e3, 1e8};
            for (double k11 : variances) {
                for (double k22 : variances) {
                    long weighed = weighed(act, k11, k22, 0);
                    String at = kind + " at " + k11 + ", " + k22;
                    assertThat((double) weighed).as(at).isEqualTo(ActivationDuals.crossNodes(act, k11, k22));
                    double product = ActivationDuals.relativeNodes(act, k11) * ActivationDuals.relativeNodes(act, k22)
                            * ActivationDuals.UNIT_CROSS_NODES;
                    assertThat(product).as(at).isCloseTo(weighed, org.assertj.core.data.Percentage.withPercentage(
                            k11 == k22 ? 1e-12 : 1));
                }
                int outer = sideOf(act, k11);
                for (double c : new double[] {0.3, -0.6, 0.99}) {
                    assertThat((double) weighed(act, k11, k11, c * k11)).as("%s at %s, c = %s", kind, k11, c)
                            .isLessThanOrEqualTo(ActivationDuals.crossNodes(act, k11, k11) + outer);
                }
                assertThat(weighed(act, k11, k11, k11)).isEqualTo(outer);
            }
        }
    }

    /** {@link ActivationDuals.Scratch#weighed} of one cross term. */
    private static long weighed(Activation act, double k11, double k22, double k12) {
        ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
        ActivationDuals.cross(act, k11, k22, k12, new double[2], scratch);
        return scratch.weighed;
    }

    /** The nodes of z ≥ 0 of the rule at variance k, counted one by one. */
    private static int sideOf(Activation act, double k) {
        double pole = act.function() == Activation.Kind.TANH ? Math.PI / 2 : Math.PI;
        return counted(Math.min(1, pole / Math.sqrt(k)), true);
    }

    /** The nodes of the rule of δ centred at 0 within |z| ≤ 9, or (half) those of z ≥ 0, counted one by one. */
    private static int counted(double delta, boolean half) {
        int count = 0;
        for (int j = half ? 0 : -10000; j <= 10000; j++) {
            double m = R * asinh(delta / R * Math.sinh(j * ActivationDuals.STEP));
            if (Math.abs(m) <= 9) {
                count++;
            }
        }
        return count;
    }

    private static double asinh(double x) {
        return Math.signum(x) * Math.log(Math.abs(x) + Math.sqrt(1 + x * x));
    }

    /**
     * An fcn's weighted count, against every pair and layer summed one by one with the layer's variances from the
     * recursion run through {@link ActivationDuals#of} (k ← w²·E[φ(u)²] + b²): equal to 1e-12, for x2 = x1 (each
     * unordered pair once) and for another x2; the plain count at w_std = 1 (every variance below π²/4), and
     * larger at w_std = 2.5; a closed form's prediction is the shapes' one.
     */
    @Test
    void anFcnWeighsEachPairAndLayerByItsNodes() {
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 1, 5, 6);
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, 3, 6)) {
            for (String w : new String[] {"1", "2.5"}) {
                FcnLimit lim = FcnLimit.of("fcn(depth=3,act=tanh,w_std=" + w + ",b_std=0.3)");
                for (Tensor y : new Tensor[] {null, x2}) {
                    double oracle = 0;
                    Tensor b = y == null ? x1 : y;
                    for (int i = 0; i < 5; i++) {
                        for (int j = y == null ? i : 0; j < b.dim(0); j++) {
                            double[] ki = variances(Double.parseDouble(w), x1, i);
                            double[] kj = variances(Double.parseDouble(w), b, j);
                            for (int l = 0; l < 3; l++) {
                                oracle += ActivationDuals.relativeNodes(new Activation(Activation.Kind.TANH), ki[l])
                                        * ActivationDuals.relativeNodes(new Activation(Activation.Kind.TANH), kj[l]);
                            }
                        }
                    }
                    double weighted = lim.weightedExpectations(x1, y);
                    assertThat(weighted).isCloseTo(oracle, org.assertj.core.data.Percentage.withPercentage(1e-10));
                    double plain = lim.expectations(5, y == null ? 0 : 3, new int[] {6});
                    if (w.equals("1")) {
                        assertThat(weighted).isEqualTo(plain);
                    } else {
                        assertThat(weighted).isGreaterThan(1.1 * plain);
                    }
                    assertThat(lim.predictedSeconds(x1, y)).isCloseTo(weighted * InfiniteLimit.NUMERICAL_SECONDS
                            / org.ntk4j.cpu.Parallel.threads(), org.assertj.core.data.Percentage.withPercentage(1e-10));
                }
            }
            InfiniteLimit relu = FcnLimit.of("fcn(depth=3,act=relu,w_std=2.5)");
            assertThat(relu.predictedSeconds(x1, x2)).isEqualTo(relu.predictedSeconds(5, 3, new int[] {6}));
        }
    }

    /** The pre-activation variances of example i at the fcn's three activations, by the pair recursion itself. */
    private static double[] variances(double w, Tensor x, int i) {
        double xx = 0;
        for (int c = 0; c < 6; c++) {
            xx += x.get(i, c) * x.get(i, c);
        }
        double[] k = new double[3];
        double v = w * w * xx / 6 + 0.09;
        for (int l = 0; l < 3; l++) {
            k[l] = v;
            v = w * w * ActivationDuals.of(Activation.Kind.TANH, v, v, v)[0] + 0.09;
        }
        return k;
    }

    /**
     * A cnn and a resnet: their weighted count is the plain one where every variance is small (w_std = 1 on
     * inputs of variance 0.25), and between it and the plain count times the largest weight squared at w_std =
     * 2.5; inputs with NaN are refused naming x1, as the kernel refuses them.
     */
    @Test
    void convolutionalLimitsWeighTheirPixelPairs() {
        try (Tensor x = Tensor.randomNormal(DType.F64, 3, 3, 4, 4, 2)) {
            Tensor small = org.ntk4j.cpu.Elementwise.map(x, v -> 0.5 * v);
            for (String spec : new String[] {"cnn(depth=2,act=tanh,pool=gap,w_std=%s)",
                "cnn(depth=2,act=sigmoid,pool=flatten,w_std=%s)", "resnet(blocks=1,act=tanh,w_std=%s)"}) {
                InfiniteLimit one = InfiniteLimit.of(String.format(spec, "1"));
                double plain = one.expectations(3, 0, new int[] {4, 4, 2});
                assertThat(one.weightedExpectations(small, null)).as(spec).isEqualTo(plain);
                InfiniteLimit large = InfiniteLimit.of(String.format(spec, "2.5"));
                double weighted = large.weightedExpectations(x, null);
                assertThat(weighted).as(spec).isGreaterThan(plain)
                        .isLessThan(plain * Math.pow(ActivationDuals.relativeNodes(
                                new Activation(Activation.Kind.TANH), 1e3), 2));
                assertThat(large.weightedExpectations(x, small)).as(spec).isGreaterThan(
                        large.expectations(3, 3, new int[] {4, 4, 2}));
            }
            small.close();
            x.setFlat(5, Double.NaN);
            assertThatThrownBy(() -> InfiniteLimit.of("cnn(act=tanh)").predictedSeconds(x, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x1");
        }
    }
}
