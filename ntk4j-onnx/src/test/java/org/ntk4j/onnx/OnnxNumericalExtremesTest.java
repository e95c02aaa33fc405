package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Element-wise operators at numerical extremes: pre-activations of ±1,000 and ±800 in float64 (past e^709.8's
 * overflow), ±100 and ±90 in float32 (past e^88.7's). Each operator g is applied to h = x·w, w a 3×2 parameter
 * whose first two rows are the identity (so h is x's first two columns exactly), and the forward pass and the eNTK
 * by each method are compared with hand-derived values: with D_n = ∂y_n/∂h_n (diagonal, g'(h), for an element-wise
 * g), K[n1, n2, o1, o2] = (x_n1 · x_n2) Σ_k D_n1[o1, k] D_n2[o2, k] (plus a second parameter's Jacobians where the
 * operator has one). Derivatives at the limits are the true limits (σ' → 0, softplus' → σ, tanh' → 0, erf' → 0,
 * Gelu' → 0 or 1), never ∞ · 0 = NaN. Tolerances: float64 1e-12 relative (the kernel's offset relative to
 * max(1, |K|)); float32 1e-5 relative (a few float32 roundings, amplified by at most the argument of an exp, about
 * 12 for Pow's e^(p ln x)), with an absolute floor of 1e-37 for float32's subnormal results (σ(−100) = 3.7e-44).
 * Operators whose forward value itself overflows there (Exp of a large positive input) are tested on negative inputs
 * only: ∞ is then the right value and the kernel's non-finite check refuses it. Two failed before 2026-12-07
 * (evening): Log(Sigmoid(x)), PyTorch's export of F.logsigmoid, was −∞ with a NaN kernel at x ≤ −800 (float64) and
 * −100 (float32), now −softplus(−x); and Pow 2.5 and 1.5 had a NaN kernel at x = 0 (e^(p ln 0) · p / 0 = 0 · ∞),
 * now PyTorch's derivative p · 0^(p−1) = 0.
 */
class OnnxNumericalExtremesTest {
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    /** [example][feature]: h = x[:, 0:2]; the third feature only enters x·x. */
    private static final double[] MIXED64 = {1000, -800, 0.5, -1000, 800, 2};
    private static final double[] MIXED32 = {100, -90, 0.5, -100, 90, 2};
    private static final double[] POSITIVE64 = {1000, 800, 0.5, 900, 700, 2};
    private static final double[] POSITIVE32 = {100, 90, 0.5, 95, 85, 2};
    private static final double[] NEGATIVE64 = {-1000, -800, 0.5, -900, -700, 2};
    private static final double[] NEGATIVE32 = {-100, -90, 0.5, -95, -85, 2};
    private static final double[] WITH_ZERO64 = {0, 1000, 0.5, 800, 0, 2};
    private static final double[] WITH_ZERO32 = {0, 100, 0.5, 90, 0, 2};

    @TempDir
    Path dir;

    /** Moderate values, for the standalone operators' formulas away from the extremes (and 1, ThresholdedRelu's α). */
    private static final double[] MODERATE = {0.7, -1.3, 0.5, 1, 2.1, 2};

    private enum Inputs { MIXED, POSITIVE, NEGATIVE, WITH_ZERO, MODERATE }

    /**
     * One operator (or chain of them) from h to y.
     *
     * @param name a label
     * @param opset the file's opset
     * @param outputs y's width
     * @param inputs the sign of the pre-activations
     * @param nodes the nodes from "h" to "y"
     * @param initializers extra float initializers (name, values, dims), parameters of the model
     * @param forward y of one example's h
     * @param jacobian ∂y/∂h of one example's h, [outputs][2]
     * @param extra ∂y/∂(the extra parameters) of one example's h, [outputs][their size], or null
     */
    private record Case(String name, int opset, int outputs, Inputs inputs, List<NodeProto> nodes,
            List<Object[]> initializers, Function<double[], double[]> forward,
            Function<double[], double[][]> jacobian, Function<double[], double[][]> extra) {
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

    private static Case elementwise(String name, Inputs inputs, DoubleUnaryOperator g, DoubleUnaryOperator dg,
            NodeProto... nodes) {
        return new Case(name, 18, 2, inputs, List.of(nodes), List.of(),
                h -> new double[] {g.applyAsDouble(h[0]), g.applyAsDouble(h[1])},
                h -> new double[][] {{dg.applyAsDouble(h[0]), 0}, {0, dg.applyAsDouble(h[1])}}, null);
    }

    private static NodeProto node(String op, AttributeProto... attrs) {
        return Onnx.node(op, op, new String[] {"h"}, new String[] {"y"}, attrs);
    }

    private static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    private static NodeProto constant(String name, TensorProto value) {
        return Onnx.node("Constant", name, new String[0], new String[] {name}, AttributeProto.newBuilder()
                .setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(value).build());
    }

    private static Case pow(double p, Inputs inputs) {
        TensorProto e = Onnx.doubles("p", new double[] {p});
        return elementwise("Pow " + p + " " + inputs, inputs, h -> Math.pow(h, p), h -> p * Math.pow(h, p - 1),
                constant("p", e), Onnx.node("Pow", "pow", new String[] {"h", "p"}, new String[] {"y"}));
    }

    /** y = Softmax(h) over its two elements: D = diag(y) − y yᵀ. */
    private static Case softmax() {
        Function<double[], double[]> f = h -> {
            double m = Math.max(h[0], h[1]);
            double s = Math.exp(h[0] - m) + Math.exp(h[1] - m);
            return new double[] {Math.exp(h[0] - m) / s, Math.exp(h[1] - m) / s};
        };
        return new Case("Softmax", 18, 2, Inputs.MIXED, List.of(node("Softmax", Onnx.attr("axis", -1))), List.of(),
                f, h -> {
                    double[] y = f.apply(h);
                    return new double[][] {{y[0] - y[0] * y[0], -y[0] * y[1]}, {-y[1] * y[0], y[1] - y[1] * y[1]}};
                }, null);
    }

    /**
     * y = LogSoftmax(h) over its two elements (F.log_softmax): y_o = h_o − log Σ e^h, D = I − 1 softmax(h)ᵀ. At
     * h = (1000, −800) the smaller is −1800, where a log of the softmax would be −∞.
     */
    private static Case logSoftmax() {
        Function<double[], double[]> p = h -> {
            double m = Math.max(h[0], h[1]);
            double s = Math.exp(h[0] - m) + Math.exp(h[1] - m);
            return new double[] {Math.exp(h[0] - m) / s, Math.exp(h[1] - m) / s};
        };
        return new Case("LogSoftmax", 18, 2, Inputs.MIXED, List.of(node("LogSoftmax", Onnx.attr("axis", -1))),
                List.of(), h -> {
                    double m = Math.max(h[0], h[1]);
                    double lse = m + Math.log(Math.exp(h[0] - m) + Math.exp(h[1] - m));
                    return new double[] {h[0] - lse, h[1] - lse};
                }, h -> {
                    double[] q = p.apply(h);
                    return new double[][] {{1 - q[0], -q[1]}, {-q[0], 1 - q[1]}};
                }, null);
    }

    /** y = log Σ e^h over h's two elements: D = softmax(h). */
    private static Case logSumExp() {
        return new Case("ReduceLogSumExp", 18, 1, Inputs.MIXED, List.of(constant("axes",
                Onnx.int64s("axes", new long[] {1}, 1)), Onnx.node("ReduceLogSumExp", "lse",
                new String[] {"h", "axes"}, new String[] {"y"}, Onnx.attr("keepdims", 0))), List.of(), h -> {
                    double m = Math.max(h[0], h[1]);
                    return new double[] {m + Math.log(Math.exp(h[0] - m) + Math.exp(h[1] - m))};
                }, h -> {
                    double m = Math.max(h[0], h[1]);
                    double s = Math.exp(h[0] - m) + Math.exp(h[1] - m);
                    return new double[][] {{Math.exp(h[0] - m) / s, Math.exp(h[1] - m) / s}};
                }, null);
    }

    /**
     * y = LayerNormalization(h) · s over h's two elements, s a parameter of ones: with c = h − mean(h) and σ² =
     * mean(c²) + ε, D = (I − 11ᵀ/2)/σ − c cᵀ/(2σ³), and ∂y_o/∂s_j = δ(o, j) c_o/σ.
     */
    private static Case layerNorm() {
        double eps = 1e-5f;
        Function<double[], double[]> f = h -> {
            double mean = (h[0] + h[1]) / 2;
            double[] c = {h[0] - mean, h[1] - mean};
            double sd = Math.sqrt((c[0] * c[0] + c[1] * c[1]) / 2 + eps);
            return new double[] {c[0] / sd, c[1] / sd};
        };
        return new Case("LayerNormalization", 18, 2, Inputs.MIXED, List.of(Onnx.node("LayerNormalization", "ln",
                new String[] {"h", "s"}, new String[] {"y"}, Onnx.attr("axis", -1))),
                List.<Object[]>of(new Object[] {"s", new double[] {1, 1}, new long[] {2}}), f, h -> {
                    double mean = (h[0] + h[1]) / 2;
                    double[] c = {h[0] - mean, h[1] - mean};
                    double sd = Math.sqrt((c[0] * c[0] + c[1] * c[1]) / 2 + eps);
                    double[][] d = new double[2][2];
                    for (int o = 0; o < 2; o++) {
                        for (int k = 0; k < 2; k++) {
                            d[o][k] = ((o == k ? 1 : 0) - 0.5) / sd - c[o] * c[k] / (2 * sd * sd * sd);
                        }
                    }
                    return d;
                }, h -> {
                    double[] y = f.apply(h);
                    return new double[][] {{y[0], 0}, {0, y[1]}};
                });
    }

    /**
     * A one-step RNN (hidden size 2, no initial state) with one activation: Y = f(x Wᵀ), W = wᵀ, so the same
     * h = x·w; R gets no derivative (it multiplies the zero initial state).
     */
    private static Case rnn(String activation, Float alpha, Float beta, DoubleUnaryOperator g,
            DoubleUnaryOperator dg) {
        AttributeProto.Builder acts = AttributeProto.newBuilder().setName("activations")
                .setType(AttributeProto.AttributeType.STRINGS).addStrings(ByteString.copyFromUtf8(activation));
        List<AttributeProto> attrs = new ArrayList<>(List.of(acts.build(), Onnx.attr("hidden_size", 2)));
        if (alpha != null) {
            attrs.add(AttributeProto.newBuilder().setName("activation_alpha")
                    .setType(AttributeProto.AttributeType.FLOATS).addFloats(alpha).build());
            attrs.add(AttributeProto.newBuilder().setName("activation_beta")
                    .setType(AttributeProto.AttributeType.FLOATS).addFloats(beta).build());
        }
        List<NodeProto> nodes = List.of(
                constant("axes0", Onnx.int64s("axes0", new long[] {0}, 1)),
                Onnx.node("Unsqueeze", "seq", new String[] {"x", "axes0"}, new String[] {"xs"}),
                Onnx.node("RNN", "rnn", new String[] {"xs", "W", "R"}, new String[] {"ys"},
                        attrs.toArray(new AttributeProto[0])),
                constant("axes01", Onnx.int64s("axes01", new long[] {0, 1}, 2)),
                Onnx.node("Squeeze", "unseq", new String[] {"ys", "axes01"}, new String[] {"y"}));
        List<Object[]> init = List.of(new Object[] {"W", new double[] {1, 0, 0, 0, 1, 0}, new long[] {1, 2, 3}},
                new Object[] {"R", new double[] {0.5, -0.25, 0.125, 1}, new long[] {1, 2, 2}});
        return new Case("RNN " + activation, 18, 2, Inputs.MIXED, nodes, init,
                h -> new double[] {g.applyAsDouble(h[0]), g.applyAsDouble(h[1])},
                h -> new double[][] {{dg.applyAsDouble(h[0]), 0}, {0, dg.applyAsDouble(h[1])}},
                h -> new double[][] {new double[4], new double[4]});
    }

    /** A scalar Constant node of the graph's type. */
    private static NodeProto scalar(boolean f64, String name, double v) {
        return constant(name, f64 ? Onnx.doubles(name, new double[] {v}) : Onnx.floats(name, new float[] {(float) v}));
    }

    private static List<Case> cases(boolean f64) {
        double c = Math.sqrt(2 / Math.PI);
        List<Case> all = new ArrayList<>();
        all.add(elementwise("Sigmoid", Inputs.MIXED, OnnxNumericalExtremesTest::sigmoid,
                h -> sigmoid(h) * sigmoid(-h), node("Sigmoid")));
        all.add(elementwise("Tanh", Inputs.MIXED, Math::tanh, h -> 1 / (Math.cosh(h) * Math.cosh(h)), node("Tanh")));
        all.add(elementwise("Erf", Inputs.MIXED, OnnxNumericalExtremesTest::erfTail,
                h -> 2 / Math.sqrt(Math.PI) * Math.exp(-h * h), node("Erf")));
        all.add(elementwise("Softplus", Inputs.MIXED, OnnxNumericalExtremesTest::softplus,
                OnnxNumericalExtremesTest::sigmoid, node("Softplus")));
        // Gelu: x Φ(x), whose tails are x (derivative 1) and 0 (derivative 0) at these inputs, in both forms
        all.add(elementwise("Gelu", Inputs.MIXED, h -> 0.5 * h * (1 + erfTail(h / Math.sqrt(2))),
                h -> 0.5 * (1 + erfTail(h / Math.sqrt(2))) + h * Math.exp(-h * h / 2) / Math.sqrt(2 * Math.PI),
                node("Gelu")));
        all.add(elementwise("Gelu tanh", Inputs.MIXED, h -> 0.5 * h * (1 + Math.tanh(c * (h + 0.044715 * h * h * h))),
                h -> {
                    double t = Math.tanh(c * (h + 0.044715 * h * h * h));
                    double sech2 = 1 / Math.cosh(c * (h + 0.044715 * h * h * h));
                    return 0.5 * (1 + t) + 0.5 * h * sech2 * sech2 * c * (1 + 3 * 0.044715 * h * h);
                }, node("Gelu", Onnx.string("approximate", "tanh"))));
        all.add(elementwise("HardSwish", Inputs.MIXED, h -> h >= 3 ? h : h <= -3 ? 0 : h * (h + 3) / 6,
                h -> h > 3 ? 1 : h < -3 ? 0 : (2 * h + 3) / 6, node("HardSwish")));
        all.add(elementwise("HardSigmoid", Inputs.MIXED, h -> Math.max(0, Math.min(1, 0.2f * h + 0.5f)),
                h -> 0, node("HardSigmoid")));
        all.add(elementwise("Exp", Inputs.NEGATIVE, Math::exp, Math::exp, node("Exp")));
        all.add(elementwise("Log", Inputs.POSITIVE, Math::log, h -> 1 / h, node("Log")));
        all.add(elementwise("Sqrt", Inputs.POSITIVE, Math::sqrt, h -> 0.5 / Math.sqrt(h), node("Sqrt")));
        all.add(elementwise("Reciprocal", Inputs.MIXED, h -> 1 / h, h -> -1 / (h * h), node("Reciprocal")));
        all.add(pow(3, Inputs.MIXED));
        all.add(pow(-2, Inputs.MIXED));
        all.add(pow(2.5, Inputs.POSITIVE));
        // x^2.5 at 0: 0, derivative 2.5 · 0^1.5 = 0 (PyTorch's), not e^(2.5 ln 0) · 2.5 / 0 = 0 · ∞
        all.add(pow(2.5, Inputs.WITH_ZERO));
        all.add(pow(1.5, Inputs.WITH_ZERO));
        // as PyTorch 1.13 exports F.mish (Softplus, Tanh, Mul), F.softsign (Abs, Add, Div) and F.silu (Sigmoid, Mul)
        all.add(elementwise("Mish", Inputs.MIXED, h -> h * Math.tanh(softplus(h)), h -> {
            double sp = softplus(h);
            return Math.tanh(sp) + h * sigmoid(h) / (Math.cosh(sp) * Math.cosh(sp));
        }, Onnx.node("Softplus", "sp", new String[] {"h"}, new String[] {"sp"}),
                Onnx.node("Tanh", "t", new String[] {"sp"}, new String[] {"t"}),
                Onnx.node("Mul", "m", new String[] {"h", "t"}, new String[] {"y"})));
        all.add(elementwise("Softsign", Inputs.MIXED, h -> h / (1 + Math.abs(h)),
                h -> 1 / ((1 + Math.abs(h)) * (1 + Math.abs(h))),
                Onnx.node("Abs", "abs", new String[] {"h"}, new String[] {"a"}), scalar(f64, "one", 1),
                Onnx.node("Add", "add", new String[] {"a", "one"}, new String[] {"d"}),
                Onnx.node("Div", "div", new String[] {"h", "d"}, new String[] {"y"})));
        all.add(elementwise("SiLU", Inputs.MIXED, h -> h * sigmoid(h), h -> sigmoid(h) + h * sigmoid(h) * sigmoid(-h),
                Onnx.node("Sigmoid", "sig", new String[] {"h"}, new String[] {"s"}),
                Onnx.node("Mul", "mul", new String[] {"h", "s"}, new String[] {"y"})));
        // the standalone operators (tf2onnx's Keras softsign, opset 18's Mish, ThresholdedRelu α = 1: 0 at α itself)
        for (Inputs in : new Inputs[] {Inputs.MIXED, Inputs.WITH_ZERO, Inputs.MODERATE}) {
            all.add(elementwise("Softsign op " + in, in, h -> h / (1 + Math.abs(h)),
                    h -> 1 / ((1 + Math.abs(h)) * (1 + Math.abs(h))), node("Softsign")));
            all.add(elementwise("Mish op " + in, in, h -> h * Math.tanh(softplus(h)), h -> {
                double sp = softplus(h);
                return Math.tanh(sp) + h * sigmoid(h) / (Math.cosh(sp) * Math.cosh(sp));
            }, node("Mish")));
            all.add(elementwise("ThresholdedRelu op " + in, in, h -> h > 1 ? h : 0, h -> h > 1 ? 1 : 0,
                    node("ThresholdedRelu")));
        }
        // F.logsigmoid as PyTorch exports it: Log(Sigmoid(x)), whose true value at x = −1,000 is −1,000
        all.add(elementwise("Log(Sigmoid)", Inputs.MIXED, h -> -softplus(-h), h -> sigmoid(-h),
                Onnx.node("Sigmoid", "sig", new String[] {"h"}, new String[] {"s"}),
                Onnx.node("Log", "log", new String[] {"s"}, new String[] {"y"})));
        all.add(softmax());
        all.add(logSoftmax());
        all.add(logSumExp());
        all.add(layerNorm());
        all.add(rnn("Softplus", null, null, OnnxNumericalExtremesTest::softplus, OnnxNumericalExtremesTest::sigmoid));
        all.add(rnn("Softsign", null, null, h -> h / (1 + Math.abs(h)),
                h -> 1 / ((1 + Math.abs(h)) * (1 + Math.abs(h)))));
        all.add(rnn("ScaledTanh", 1.5f, 0.5f, h -> 1.5 * Math.tanh(0.5 * h),
                h -> 1.5 * 0.5 / (Math.cosh(0.5 * h) * Math.cosh(0.5 * h))));
        return all;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void elementwiseOperatorsAtExtremeInputsMatchTheirHandDerivedKernels(DType dt) throws Exception {
        boolean f64 = dt == DType.F64;
        int elem = f64 ? Onnx.DOUBLE : Onnx.FLOAT;
        double rel = f64 ? 1e-12 : 1e-5;
        double floor = f64 ? 1e-300 : 1e-37;
        List<String> failures = new ArrayList<>();
        for (Case k : cases(f64)) {
            double[] x = switch (k.inputs()) {
                case MIXED -> f64 ? MIXED64 : MIXED32;
                case POSITIVE -> f64 ? POSITIVE64 : POSITIVE32;
                case NEGATIVE -> f64 ? NEGATIVE64 : NEGATIVE32;
                case WITH_ZERO -> f64 ? WITH_ZERO64 : WITH_ZERO32;
                case MODERATE -> MODERATE;
            };
            int o = k.outputs();
            GraphProto.Builder g = GraphProto.newBuilder().setName(k.name())
                    .addInput(Onnx.info("x", elem, "batch", 3))
                    .addOutput(Onnx.info("y", elem, "batch", o));
            if (!k.name().startsWith("RNN")) {
                g.addInitializer(initializer(f64, "w", new double[] {1, 0, 0, 1, 0, 0}, 3, 2))
                        .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}));
            }
            for (Object[] i : k.initializers()) {
                g.addInitializer(initializer(f64, (String) i[0], (double[]) i[1], (long[]) i[2]));
            }
            k.nodes().forEach(g::addNode);
            Path file = Onnx.write(dir.resolve(k.name().replaceAll("[^A-Za-z0-9.-]", "_") + dt + ".onnx"),
                    Onnx.model(k.opset(), g.build()));
            OnnxModel onnx = OnnxModel.load(file);
            double[][] h = {{x[0], x[1]}, {x[3], x[4]}};
            try (Params params = onnx.params(dt); Tensor xs = Tensor.of(dt, x, 2, 3);
                 Tensor f = onnx.model().apply(params, xs)) {
                for (int n = 0; n < 2; n++) {
                    double[] y = k.forward().apply(h[n]);
                    for (int i = 0; i < o; i++) {
                        double e = f64 ? y[i] : (float) y[i];
                        check(failures, f.getFlat(n * o + i), e, Math.max(floor, rel * Math.abs(e)),
                                k.name() + " " + dt + " forward [" + n + ", " + i + "]");
                    }
                }
                for (Method m : METHODS) {
                    try (Tensor kernel = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(xs, null)) {
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                double[][] e = expected(k, x, h, n1, n2);
                                for (int o1 = 0; o1 < o; o1++) {
                                    for (int o2 = 0; o2 < o; o2++) {
                                        check(failures, kernel.getFlat(((n1 * 2 + n2) * o + o1) * o + o2),
                                                e[o1][o2], rel * Math.max(1, Math.abs(e[o1][o2])), k.name() + " "
                                                + dt + " by " + m + " at [" + n1 + ", " + n2 + ", " + o1 + ", "
                                                + o2 + "]");
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

    /**
     * Pow with an exponent p &gt; 1 that is no integer (2.5, 1.5) keeps a negative base's NaN, PyTorch's
     * torch.pow(−1., 2.5), though a mask [x = 0] now gives 0 its derivative 0 (review, 2026-12-07, evening): the
     * forward pass at x = (−1, 0, 4) is (NaN, 0, 4^p), in float64 and float32.
     */
    @ParameterizedTest
    @EnumSource(DType.class)
    void powOfANegativeBaseStaysNaN(DType dt) throws Exception {
        boolean f64 = dt == DType.F64;
        int elem = f64 ? Onnx.DOUBLE : Onnx.FLOAT;
        for (double p : new double[] {2.5, 1.5}) {
            GraphProto g = GraphProto.newBuilder().setName("pow")
                    .addInput(Onnx.info("x", elem, "batch", 3))
                    .addOutput(Onnx.info("y", elem, "batch", 3))
                    .addInitializer(initializer(f64, "w", new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                    .addNode(scalar(f64, "p", p))
                    .addNode(Onnx.node("Pow", "pow", new String[] {"h", "p"}, new String[] {"y"}))
                    .build();
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("pow" + p + dt + ".onnx"), Onnx.model(18, g)));
            try (Params params = onnx.params(dt); Tensor xs = Tensor.of(dt, new double[] {-1, 0, 4}, 1, 3);
                 Tensor y = onnx.model().apply(params, xs)) {
                assertThat(y.getFlat(0)).as("(-1)^" + p + " " + dt).isNaN();
                assertThat(y.getFlat(1)).as("0^" + p + " " + dt).isEqualTo(0.0);
                assertThat(y.getFlat(2)).as("4^" + p + " " + dt).isCloseTo(Math.pow(4, p),
                        org.assertj.core.data.Offset.offset((f64 ? 1e-14 : 1e-6) * Math.pow(4, p)));
            }
        }
    }

    private static double[][] expected(Case k, double[] x, double[][] h, int n1, int n2) {
        double dot = 0;
        for (int i = 0; i < 3; i++) {
            dot += x[3 * n1 + i] * x[3 * n2 + i];
        }
        double[][] d1 = k.jacobian().apply(h[n1]);
        double[][] d2 = k.jacobian().apply(h[n2]);
        int o = k.outputs();
        double[][] e = new double[o][o];
        for (int o1 = 0; o1 < o; o1++) {
            for (int o2 = 0; o2 < o; o2++) {
                for (int j = 0; j < 2; j++) {
                    e[o1][o2] += dot * d1[o1][j] * d2[o2][j];
                }
                if (k.extra() != null) {
                    double[][] e1 = k.extra().apply(h[n1]);
                    double[][] e2 = k.extra().apply(h[n2]);
                    for (int j = 0; j < e1[o1].length; j++) {
                        e[o1][o2] += e1[o1][j] * e2[o2][j];
                    }
                }
            }
        }
        return e;
    }

    private static void check(List<String> failures, double got, double expected, double tolerance, String what) {
        if (!(Math.abs(got - expected) <= tolerance)) {
            failures.add(what + ": " + got + ", expected " + expected);
        }
    }

    private static TensorProto initializer(boolean f64, String name, double[] v, long... dims) {
        if (f64) {
            return Onnx.doubles(name, v, dims);
        }
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return Onnx.floats(name, f, dims);
    }
}
