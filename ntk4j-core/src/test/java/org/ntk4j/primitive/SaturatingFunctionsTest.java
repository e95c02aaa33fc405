package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.UnaryOperator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** Logistic, softplus and tanh at large |x|: no overflow, no NaN, the right limits, finite derivatives. */
class SaturatingFunctionsTest {
    private static final double[] X = {Double.NEGATIVE_INFINITY, -1000, -745, -700, -40, -30, 0, 30, 40, 700, 1000,
        Double.POSITIVE_INFINITY};
    // e^-x-style tails worked out by hand: σ(-t) = e^-t / (1 + e^-t) ≈ e^-t, softplus(-t) = log1p(e^-t) ≈ e^-t
    private static final double[] SIGMOID = {0, 0, Math.exp(-745), Math.exp(-700), 4.248354255291589e-18,
        9.357622968840175e-14 / (1 + 9.357622968840175e-14), 0.5, 1 / (1 + 9.357622968840175e-14), 1, 1, 1, 1};
    private static final double[] SOFTPLUS = {0, 0, Math.exp(-745), Math.exp(-700), 4.248354255291589e-18,
        Math.log1p(9.357622968840175e-14), Math.log(2), 30 + Math.log1p(9.357622968840175e-14), 40, 700, 1000,
        Double.POSITIVE_INFINITY};
    // σ'(x) = σ(x)σ(-x)
    private static final double[] SIGMOID_PRIME = {0, 0, Math.exp(-745), Math.exp(-700), 4.248354255291589e-18,
        9.357622968838424e-14, 0.25, 9.357622968838424e-14, 4.248354255291589e-18, Math.exp(-700), 0, 0};

    private static void check(DType dt, UnaryOperator<Var> f, double[] expected, double[] expectedDerivative) {
        check(dt, f, expected, expectedDerivative, 0);
    }

    /** {@code derivativeAbsTol}: an absolute tolerance for the derivative on top of the relative one. */
    private static void check(DType dt, UnaryOperator<Var> f, double[] expected, double[] expectedDerivative,
                              double derivativeAbsTol) {
        int n = X.length;
        Graph g = Fixtures.trace1(v -> f.apply(v[0]), new TensorType(dt, n));
        double[] ones = new double[n];
        java.util.Arrays.fill(ones, 1.0);
        try (Tensor x = Tensor.of(dt, X, n); Tensor t = Tensor.of(dt, ones, 1, n)) {
            Tensor[] jv = Jvp.of(g, 1).evaluate(x, t);
            Tensor[] vj = Vjp.of(g, 1).evaluate(x, t);
            for (int i = 0; i < n; i++) {
                assertClose(dt, jv[0].getFlat(i), expected[i], 0, "f(" + X[i] + ")");
                assertClose(dt, jv[1].getFlat(i), expectedDerivative[i], derivativeAbsTol, "f'(" + X[i] + ") forward");
                assertClose(dt, vj[1].getFlat(i), expectedDerivative[i], derivativeAbsTol, "f'(" + X[i] + ") reverse");
            }
            Fixtures.closeAll(jv);
            Fixtures.closeAll(vj);
        }
    }

    private static void assertClose(DType dt, double actual, double expected, double absTol, String what) {
        assertThat(actual).as(what).isNotNaN();
        if (Double.isInfinite(expected)) {
            assertThat(actual).as(what).isEqualTo(expected);
            return;
        }
        double e = dt == DType.F32 ? (double) (float) expected : expected;
        double rel = dt == DType.F32 ? 1e-6 : 1e-14;
        double abs = Math.max(absTol, dt == DType.F32 ? 1e-37 : 1e-320);
        assertThat(Math.abs(actual - e)).as("%s = %s, expected %s", what, actual, e)
                .isLessThanOrEqualTo(Math.max(abs, rel * Math.abs(e)));
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void logistic(DType dt) {
        check(dt, Var::sigmoid, SIGMOID, SIGMOID_PRIME);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void softplus(DType dt) {
        // softplus' = σ, which is 1 at +∞
        double[] d = SIGMOID.clone();
        check(dt, Var::softplus, SOFTPLUS, d);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void tanhAndErfSaturate(DType dt) {
        double[] tanh = new double[X.length];
        double[] tanhPrime = new double[X.length];
        double[] erf = new double[X.length];
        double[] erfPrime = new double[X.length];
        for (int i = 0; i < X.length; i++) {
            tanh[i] = Math.tanh(X[i]);
            tanhPrime[i] = 1 / (Math.cosh(X[i]) * Math.cosh(X[i]));
            erf[i] = Math.signum(X[i]) * (Math.abs(X[i]) > 6 ? 1 : Math.abs(ErfFunctionTest.referenceErf(X[i])));
            erfPrime[i] = 2 / Math.sqrt(Math.PI) * Math.exp(-X[i] * X[i]);
        }
        // tanh' is formed as 1 - y² (as in JAX): exact to a unit in the last place of 1, not relative to the
        // tiny derivative of a saturated unit
        check(dt, Var::tanh, tanh, tanhPrime, dt == DType.F32 ? 1.2e-7 : 2.3e-16);
        check(dt, Var::erf, erf, erfPrime);
    }
}
