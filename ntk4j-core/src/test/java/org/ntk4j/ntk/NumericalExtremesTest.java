package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The activations, primitives and normalisations at numerical extremes: pre-activations of ±1,000 and ±800 in
 * float64 (past e^709.8's overflow, and e^(−x²)'s underflow), ±100 and ±90 in float32 (past e^88.7's). A probe layer
 * computes h = x·w, w a 3×2 parameter whose first two rows are the identity (so h is x's first two columns exactly),
 * then the layer or function under test; the forward pass and the eNTK by each method equal the hand-derived ones,
 * K[n1, n2, o1, o2] = Σ_p J[n1, o1, p] J[n2, o2, p] over every parameter p, with J the Jacobian worked out by hand
 * (for an element-wise g, J[n, o, w_io'] = δ(o, o') g'(h_no) x_ni). Derivatives at the limits are the true limits
 * (σ' → 0, softplus' → 1 or 0, tanh' and erf' → 0, GELU' and SiLU' → 1 or 0, ELU' → 1 or 0), never ∞ · 0 = NaN.
 * Tolerances: float64 1e-12 relative (the kernel's offset relative to max(1, |K|)); float32 1e-5 relative (a few
 * float32 roundings), with an absolute floor of 1e-37 for float32's subnormal results (σ(−100) = 3.7e-44). Exp is
 * tested on negative inputs only: e^1000 overflows in the forward pass itself, which the kernel's check refuses.
 */
class NumericalExtremesTest {
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    private static final double[] MIXED64 = {1000, -800, 0.5, -1000, 800, 2};
    private static final double[] MIXED32 = {100, -90, 0.5, -100, 90, 2};
    private static final double[] POSITIVE64 = {1000, 800, 0.5, 900, 700, 2};
    private static final double[] POSITIVE32 = {100, 90, 0.5, 95, 85, 2};
    private static final double[] NEGATIVE64 = {-1000, -800, 0.5, -900, -700, 2};
    private static final double[] NEGATIVE32 = {-100, -90, 0.5, -95, -85, 2};
    private static final double EPS = 1e-5;

    private enum Inputs { MIXED, POSITIVE, NEGATIVE }

    /** h = x·w, then f(h). */
    private static final class Probe implements Layer {
        private final UnaryOperator<Var> f;

        Probe(UnaryOperator<Var> f) {
            this.f = f;
        }

        @Override
        public String kind() {
            return "probe";
        }

        @Override
        public List<int[]> outputShapes(List<int[]> in) {
            return List.of(new int[] {2});
        }

        @Override
        public void declare(ParamScope scope, List<int[]> in) {
            scope.declare("w", new int[] {3, 2}, 1.0, 0);
        }

        @Override
        public List<Var> apply(ParamScope scope, List<Var> in) {
            return List.of(f.apply(in.get(0).matmul(scope.get("w"))));
        }
    }

    /** The Jacobian of the model's outputs, [n][o][parameter], from x [n][3] and h [n][2]. */
    private interface Jacobian {
        double[][][] of(double[][] x, double[][] h);
    }

    private record Case(String name, Inputs inputs, Layer layer, DoubleUnaryOperator[] forward, Jacobian jacobian) {
    }

    private static double sigmoid(double t) {
        return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
    }

    private static double softplus(double t) {
        return Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
    }

    /** erf at |t| ≥ 6, where it rounds to ±1 in float64. */
    private static double erfTail(double t) {
        assertThat(Math.abs(t)).isGreaterThanOrEqualTo(6);
        return Math.signum(t);
    }

    /** g applied to h element-wise, by {@code layer} after the probe's x·w. */
    private static Case elementwise(String name, Inputs inputs, Layer layer, DoubleUnaryOperator g,
            DoubleUnaryOperator dg) {
        return new Case(name, inputs, layer, new DoubleUnaryOperator[] {g}, (x, h) -> {
            double[][][] j = new double[2][2][6];
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 2; o++) {
                    for (int i = 0; i < 3; i++) {
                        j[n][o][2 * i + o] = dg.applyAsDouble(h[n][o]) * x[n][i];
                    }
                }
            }
            return j;
        });
    }

    private static Case activation(String name, Inputs inputs, Layer act, DoubleUnaryOperator g,
            DoubleUnaryOperator dg) {
        return elementwise(name, inputs, Layers.serial(new Probe(v -> v), act), g, dg);
    }

    private static Case function(String name, Inputs inputs, UnaryOperator<Var> f, DoubleUnaryOperator g,
            DoubleUnaryOperator dg) {
        return elementwise(name, inputs, new Probe(f), g, dg);
    }

    /**
     * Normalisation of each row of h over its 2 features (layer norm) or of each column over the 2 examples (batch
     * norm), then · scale + shift (1 and 0): with c the centred values and σ² = mean(c²) + ε over the group, ∂y_a/∂h_b
     * = (δ_ab − 1/2)/σ − c_a c_b/(2σ³) within a group, ∂y/∂scale = c/σ and ∂y/∂shift = 1 for the feature's own.
     */
    private static Case normalisation(boolean layer) {
        Jacobian jac = (x, h) -> {
            double[][][] j = new double[2][2][10];
            for (int g = 0; g < 2; g++) {
                // the group's two members (n, o)
                int[][] m = layer ? new int[][] {{g, 0}, {g, 1}} : new int[][] {{0, g}, {1, g}};
                double mean = (h[m[0][0]][m[0][1]] + h[m[1][0]][m[1][1]]) / 2;
                double[] c = {h[m[0][0]][m[0][1]] - mean, h[m[1][0]][m[1][1]] - mean};
                double sd = Math.sqrt((c[0] * c[0] + c[1] * c[1]) / 2 + EPS);
                for (int a = 0; a < 2; a++) {
                    int n = m[a][0];
                    int o = m[a][1];
                    for (int b = 0; b < 2; b++) {
                        double d = ((a == b ? 1 : 0) - 0.5) / sd - c[a] * c[b] / (2 * sd * sd * sd);
                        // h[m_b] = Σ_i x[m_b.n, i] w[i, m_b.o]
                        for (int i = 0; i < 3; i++) {
                            j[n][o][2 * i + m[b][1]] += d * x[m[b][0]][i];
                        }
                    }
                    j[n][o][6 + o] = c[a] / sd;
                    j[n][o][8 + o] = 1;
                }
            }
            return j;
        };
        return new Case(layer ? "layer_norm" : "batch_norm", Inputs.MIXED, Layers.serial(new Probe(v -> v),
                layer ? Layers.layerNorm() : Layers.batchNorm()), null, jac);
    }

    private static List<Case> cases() {
        List<Case> all = new ArrayList<>();
        all.add(activation("sigmoid", Inputs.MIXED, Layers.sigmoid(), NumericalExtremesTest::sigmoid,
                h -> sigmoid(h) * sigmoid(-h)));
        all.add(activation("tanh", Inputs.MIXED, Layers.tanh(), Math::tanh, h -> 1 / (Math.cosh(h) * Math.cosh(h))));
        all.add(activation("erf", Inputs.MIXED, Layers.erf(), NumericalExtremesTest::erfTail,
                h -> 2 / Math.sqrt(Math.PI) * Math.exp(-h * h)));
        all.add(activation("softplus", Inputs.MIXED, Layers.softplus(), NumericalExtremesTest::softplus,
                NumericalExtremesTest::sigmoid));
        all.add(activation("gelu", Inputs.MIXED, Layers.gelu(), h -> 0.5 * h * (1 + erfTail(h / Math.sqrt(2))),
                h -> 0.5 * (1 + erfTail(h / Math.sqrt(2))) + h * Math.exp(-h * h / 2) / Math.sqrt(2 * Math.PI)));
        all.add(activation("silu", Inputs.MIXED, Layers.silu(), h -> h * sigmoid(h),
                h -> sigmoid(h) + h * sigmoid(h) * sigmoid(-h)));
        all.add(activation("elu", Inputs.MIXED, Layers.elu(), h -> h > 0 ? h : Math.expm1(h),
                h -> h > 0 ? 1 : Math.exp(h)));
        all.add(activation("gaussian", Inputs.MIXED, Layers.gaussian(), h -> Math.exp(-h * h),
                h -> -2 * h * Math.exp(-h * h)));
        all.add(activation("exp", Inputs.NEGATIVE, Layers.exp(), Math::exp, Math::exp));
        all.add(function("log", Inputs.POSITIVE, Var::log, Math::log, h -> 1 / h));
        all.add(function("sqrt", Inputs.POSITIVE, Var::sqrt, Math::sqrt, h -> 0.5 / Math.sqrt(h)));
        all.add(function("reciprocal", Inputs.MIXED, v -> v.builder().scalar(1.0, v.dtype()).div(v), h -> 1 / h,
                h -> -1 / (h * h)));
        // mish, x tanh(softplus(x)), of the primitives
        all.add(function("mish", Inputs.MIXED, v -> v.mul(v.softplus().tanh()), h -> h * Math.tanh(softplus(h)),
                h -> Math.tanh(softplus(h)) + h * sigmoid(h) / (Math.cosh(softplus(h)) * Math.cosh(softplus(h)))));
        all.add(normalisation(true));
        all.add(normalisation(false));
        return all;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void activationsAndNormalisationsAtExtremeInputsMatchTheirHandDerivedKernels(DType dt) {
        boolean f64 = dt == DType.F64;
        double rel = f64 ? 1e-12 : 1e-5;
        double floor = f64 ? 1e-300 : 1e-37;
        List<String> failures = new ArrayList<>();
        for (Case k : cases()) {
            double[] flat = switch (k.inputs()) {
                case MIXED -> f64 ? MIXED64 : MIXED32;
                case POSITIVE -> f64 ? POSITIVE64 : POSITIVE32;
                case NEGATIVE -> f64 ? NEGATIVE64 : NEGATIVE32;
            };
            double[][] x = {{flat[0], flat[1], flat[2]}, {flat[3], flat[4], flat[5]}};
            double[][] h = {{flat[0], flat[1]}, {flat[3], flat[4]}};
            Model model = new Model(k.layer(), k.name());
            try (Params params = model.init(3, new int[] {3}, dt); Tensor xs = Tensor.of(dt, flat, 2, 3)) {
                double[] w = {1, 0, 0, 1, 0, 0};
                for (int i = 0; i < 6; i++) {
                    tensor(params, "w").setFlat(i, w[i]);
                }
                for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
                    // normalisations: scale 1 and shift 0, as initialised
                    for (int i = 0; e.getKey().endsWith("scale") && i < 2; i++) {
                        e.getValue().setFlat(i, 1);
                    }
                    for (int i = 0; e.getKey().endsWith("shift") && i < 2; i++) {
                        e.getValue().setFlat(i, 0);
                    }
                }
                try (Tensor y = model.apply(params, xs)) {
                    for (int n = 0; n < 2; n++) {
                        for (int o = 0; o < 2; o++) {
                            double e = forward(k, x, h, n, o);
                            e = f64 ? e : (float) e;
                            check(failures, y.getFlat(2 * n + o), e, Math.max(floor, rel * Math.abs(e)),
                                    k.name() + " " + dt + " forward [" + n + ", " + o + "]");
                        }
                    }
                }
                double[][][] j = k.jacobian().of(x, h);
                for (Method m : METHODS) {
                    try (Tensor kernel = EmpiricalNtk.of(model, params).traceAxes().method(m).ntk(xs, null)) {
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                for (int o1 = 0; o1 < 2; o1++) {
                                    for (int o2 = 0; o2 < 2; o2++) {
                                        double e = 0;
                                        for (int p = 0; p < j[n1][o1].length; p++) {
                                            e += j[n1][o1][p] * j[n2][o2][p];
                                        }
                                        check(failures, kernel.getFlat(((n1 * 2 + n2) * 2 + o1) * 2 + o2), e,
                                                rel * Math.max(1, Math.abs(e)), k.name() + " " + dt + " by " + m
                                                + " at [" + n1 + ", " + n2 + ", " + o1 + ", " + o2 + "]");
                                    }
                                }
                            }
                        }
                    } catch (RuntimeException e) {
                        failures.add(k.name() + " " + dt + " by " + m + ": " + e.getMessage());
                    }
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    /** The expected output [n, o]: g(h) for an element-wise case, else the normalised value (scale 1, shift 0). */
    private static double forward(Case k, double[][] x, double[][] h, int n, int o) {
        if (k.forward() != null) {
            return k.forward()[0].applyAsDouble(h[n][o]);
        }
        boolean layer = k.name().equals("layer_norm");
        double a = layer ? h[n][0] : h[0][o];
        double b = layer ? h[n][1] : h[1][o];
        double c = h[n][o] - (a + b) / 2;
        return c / Math.sqrt(((a - b) * (a - b) / 4) + EPS);
    }

    private static void check(List<String> failures, double got, double expected, double tolerance, String what) {
        if (!(Math.abs(got - expected) <= tolerance)) {
            failures.add(what + ": " + got + ", expected " + expected);
        }
    }

    private static Tensor tensor(Params params, String name) {
        for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
            if (e.getKey().equals(name) || e.getKey().endsWith("/" + name)) {
                return e.getValue();
            }
        }
        throw new AssertionError("no parameter " + name + " in " + params.tensors().keySet());
    }
}
