package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.graph.Graph;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Every activation's value, first and second derivative as the autodiff computes them (the traced layer, its JVP
 * graph, and the JVP of that: the second order that taylor2 and the Hessian paths take) against φ written here from
 * its definition and fourth-order central differences of it (float64): φ' against differences of φ, φ'' against
 * differences of the autodiff's own φ', each within 1e-9 of max(1, |value|) (the stencil's error, h⁴φ⁽⁵⁾/30 at
 * h = 1e-3, plus rounding ε/h, is about 1e-12 here). The points avoid the kinks of relu, leaky_relu, abs and elu'
 * (at 0, checked apart).
 */
class ActivationCalculusTest {
    private static final double[] POINTS = {-3.1, -1.3, -0.4, 0.25, 0.7, 1.9, 3.3};
    private static final double H = 1e-3;

    @Test
    void valuesAndFirstAndSecondDerivativesMatchTheDefinitionsAndFiniteDifferences() {
        for (Activation.Kind kind : Activation.Kind.values()) {
            double[][] d = derivatives(kind, POINTS);
            DoubleUnaryOperator phi = ActivationDefinitions.of(kind);
            for (int i = 0; i < POINTS.length; i++) {
                double x = POINTS[i];
                assertThat(d[0][i]).as("%s(%s)", kind, x).isCloseTo(phi.applyAsDouble(x),
                        within(1e-15 * Math.max(1, Math.abs(d[0][i]))));
                double first = fourthOrder(phi, x);
                assertThat(d[1][i]).as("%s'(%s)", kind, x).isCloseTo(first,
                        within(1e-9 * Math.max(1, Math.abs(first))));
                double second = fourthOrder(t -> derivatives(kind, new double[] {t})[1][0], x);
                assertThat(d[2][i]).as("%s''(%s)", kind, x).isCloseTo(second,
                        within(1e-9 * Math.max(1, Math.abs(second))));
            }
        }
    }

    /**
     * At 0 the piecewise activations take one side's derivative, as the duals' zero-variance cases assume: relu 0,
     * leaky_relu α, abs sign(0) = 0 (JAX's and torch's), elu 1 (both sides agree; its second derivative jumps from 1
     * to 0 and the autodiff takes the left side's 1 there).
     */
    @Test
    void piecewiseActivationsTakeTheirDocumentedDerivativeAtZero() {
        assertThat(derivatives(Activation.Kind.RELU, new double[] {0})[1][0]).isEqualTo(0.0);
        assertThat(derivatives(Activation.Kind.LEAKY_RELU, new double[] {0})[1][0])
                .isEqualTo(Activation.DEFAULT_LEAKY_RELU_ALPHA);
        assertThat(derivatives(Activation.Kind.ABS, new double[] {0})[1][0]).isEqualTo(0.0);
        double[][] elu = derivatives(Activation.Kind.ELU, new double[] {0, 800, -800});
        assertThat(elu[0]).containsExactly(0.0, 800.0, -1.0);
        assertThat(elu[1]).containsExactly(1.0, 1.0, 0.0);
        assertThat(elu[2]).containsExactly(1.0, 0.0, 0.0);
        // silu and gelu are smooth: φ'(0) = 1/2
        assertThat(derivatives(Activation.Kind.SILU, new double[] {0})[1][0]).isEqualTo(0.5);
    }

    /** swish is silu's other name; the names parse in any case, and an unknown one names them all. */
    @Test
    void namesParseAndSwishIsSilu() {
        assertThat(Activation.parse("Swish").function()).isEqualTo(Activation.Kind.SILU);
        for (String name : new String[] {"abs", "exp", "gaussian", "cos", "silu", "ELU"}) {
            assertThat(Activation.parse(name).kind()).isEqualTo(name.toLowerCase(java.util.Locale.ROOT));
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Activation.parse("mish"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("act: unknown activation 'mish'; expected one of relu, leaky_relu, erf, tanh, sigmoid, "
                        + "gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu (swish), elu");
        assertThat(Zoo.activation(ModelSpec.parse("fcn(act=swish)")).function()).isEqualTo(Activation.Kind.SILU);
    }

    /** (f(x−2h) − 8f(x−h) + 8f(x+h) − f(x+2h))/(12h). */
    private static double fourthOrder(DoubleUnaryOperator f, double x) {
        return (f.applyAsDouble(x - 2 * H) - 8 * f.applyAsDouble(x - H) + 8 * f.applyAsDouble(x + H)
                - f.applyAsDouble(x + 2 * H)) / (12 * H);
    }

    /** {φ(x), φ'(x), φ''(x)} at the points, from the traced layer, its JVP and the JVP of its JVP. */
    private static double[][] derivatives(Activation.Kind kind, double[] xs) {
        int n = xs.length;
        Model m = new Model(new Activation(kind), kind.name());
        Graph g = m.trace(1, new int[] {n}, DType.F64);
        Graph jvp = Jvp.of(g, 1);
        Graph second = Jvp.of(jvp, 1, new boolean[] {true, false});
        double[] ones = new double[n];
        java.util.Arrays.fill(ones, 1);
        try (Tensor x = Tensor.of(xs, 1, n); Tensor t = Tensor.of(ones, 1, 1, n); Tensor s = Tensor.of(ones, 1, 1, n)) {
            Tensor[] r = second.evaluate(new Tensor[] {x, t, s});
            double[][] out = {r[0].toDoubleArray(), r[1].toDoubleArray(), r[3].toDoubleArray()};
            for (Tensor e : r) {
                e.close();
            }
            return out;
        }
    }
}
