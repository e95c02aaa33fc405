package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Ties and kinks, as real data reaches them (a zero background, repeated values, a value at a clamp's bound), by
 * {@code torch_onnx_ties.py} (torch 1.13, float64 modules and inputs, a dynamic batch axis): each module adds a
 * parameter holding repeated values (zeros among them) to a scaled input, so that the all-zero example puts every
 * window, reduction and activation exactly at its tie or kink, and where the derivative goes shows in the Jacobian
 * with respect to that parameter. The forward pass and the full eNTK on 4 inputs by each method equal PyTorch's (its
 * own backward rules, by torch.autograd.functional.jacobian) within 1e-12, relative: max pooling to each window's
 * first maximum in window order (padding, overlapping windows, ceil mode, a transposed input, 1-D, global),
 * ReduceMax and ReduceMin split evenly among the tied elements, Max and Min of two tied operands half each, Relu 0
 * at 0, LeakyRelu, PRelu, Elu, Selu and Celu the negative side's slope at 0, Abs and Sign 0, Clip 1 at its bounds,
 * HardSwish −½ at −3 and 1 at 3 (PyTorch's vectorised kernel), Where by its condition; and an MNIST-like CNN on
 * zero-background images.
 */
class OnnxTiesTest {
    private static final double TOLERANCE = 1e-12;
    private static final String[] SPECS = {"pools:17", "pools:13", "reductions:17", "reductions:13",
        "elementwise:17", "elementwise:13", "mnist:17", "mnist:13"};
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_ties.py",
            "--model", String.join(",", SPECS));

    /** Exports every variant in one Python process; once per class. */
    private static Path reference(String variant) throws IOException, InterruptedException {
        return EXPORTS.in(exports, variant);
    }

    @Test
    void maxPoolingRoutesEachWindowToItsFirstMaximum() throws Exception {
        for (String opset : new String[] {"_13", "_17"}) {
            assertThat(ops("pools" + opset)).contains("MaxPool", "Transpose");
            compare("pools" + opset);
        }
    }

    @Test
    void reduceMaxAndReduceMinSplitEvenlyAmongTies() throws Exception {
        for (String opset : new String[] {"_13", "_17"}) {
            assertThat(ops("reductions" + opset)).contains("ReduceMax", "ReduceMin");
            compare("reductions" + opset);
        }
    }

    @Test
    void elementwiseKinksFollowPyTorch() throws Exception {
        assertThat(ops("elementwise_17")).contains("Max", "Min", "Relu", "LeakyRelu", "Abs", "PRelu", "Elu", "Selu",
                "Celu", "Clip", "Where", "Greater", "GreaterOrEqual", "Sign", "HardSwish");
        assertThat(ops("elementwise_13")).doesNotContain("HardSwish");
        compare("elementwise_17");
        compare("elementwise_13");
    }

    @Test
    void anMnistLikeCnnOnZeroBackgroundsImportsExactly() throws Exception {
        for (String opset : new String[] {"_13", "_17"}) {
            assertThat(ops("mnist" + opset)).contains("Conv", "Relu", "MaxPool", "ReduceMax", "GlobalMaxPool");
            compare("mnist" + opset);
        }
    }

    /**
     * A {@code Clip} bound that is NaN has no agreed meaning (torch.clamp ignores one given alone and gives NaN
     * everywhere beside another bound; NumPy's clip ignores it), so it is refused in one line naming the node; an
     * absent bound is none. Before the second review of 2026-12-07, a NaN max made every output NaN, silently, and a
     * NaN min was read as none.
     */
    @Test
    void clipBoundsThatAreNaNAreRefusedAndAbsentOnesAreNone(@TempDir Path dir) throws Exception {
        double nan = Double.NaN;
        assertThatThrownBy(() -> OnnxModel.load(clip(dir, 0.0, nan))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(dir.resolve("clip.onnx") + ": node 'clamp' (Clip): min and max must be numbers, got min "
                        + "0.0, max NaN (a NaN bound has no agreed meaning; leave it out for no bound)");
        assertThatThrownBy(() -> OnnxModel.load(clip(dir, nan, 1.0))).hasMessageContaining("got min NaN, max 1.0");
        assertThatThrownBy(() -> OnnxModel.load(clip(dir, null, nan))).hasMessageContaining("got min -Infinity, "
                + "max NaN");
        // min 0 alone: relu of x·w, exactly
        OnnxModel onnx = OnnxModel.load(clip(dir, 0.0, null));
        try (Params params = onnx.params(DType.F64);
             Tensor x = Tensor.of(new double[] {1, -2, 0.5, -1, 1, -1}, 2, 3);
             Tensor f = onnx.model().apply(params, x)) {
            double[] w = {1, 2, 3, 4, 5, 6};
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 2; o++) {
                    double h = 0;
                    for (int i = 0; i < 3; i++) {
                        h += x.getFlat(3 * n + i) * w[2 * i + o];
                    }
                    assertThat(f.getFlat(2 * n + o)).isEqualTo(Math.max(h, 0));
                }
            }
        }
    }

    /**
     * Elu (α 0.7 and −0.4), Selu and Celu (α 1 and 2.5) of a large positive pre-activation (1,200 and 1,600, past
     * float64's e^709.8) stay finite:
     * their negative sides took e^x of every x, ∞ where x is large, and a derivative of ∞ · 0 is NaN. They now take
     * e^min(x, 0) (Celu e^(min(x, 0)/α)), which is the same function. The forward pass and the eNTK by each method
     * equal the hand-derived ones: for y_o = g(h_o), h = x·w, K[n1, n2, o1, o2] = δ(o1, o2) g'(h_n1,o) g'(h_n2,o)
     * (x_n1 · x_n2), g' = γ on the positive side and γ α e^h on the negative one (γ = 1 but for Selu).
     */
    @Test
    void eluSeluAndCeluOfLargeInputsHaveFiniteDerivatives(@TempDir Path dir) throws Exception {
        double[] x = {100, 200, 100, 1, -2, 0.5};
        double[] w = {1, 2, 3, 4, 5, 6};
        double seluAlpha = 1.6732632423543772848170429916717;
        double seluGamma = 1.0507009873554804934193349852946;
        // Elu of a negative α too (the operator refused α < 0; the specification allows any, as onnxruntime)
        Object[][] cases = {{"Elu", 0.7, 1.0}, {"Elu", -0.4, 1.0}, {"Selu", seluAlpha, seluGamma},
            {"Celu", 1.0, 1.0}, {"Celu", 2.5, 1.0}};
        for (Object[] c : cases) {
            String op = (String) c[0];
            double alpha = (Double) c[1];
            double gamma = (Double) c[2];
            NodeProto act = op.equals("Selu") ? Onnx.node(op, "act", new String[] {"h"}, new String[] {"y"})
                    : Onnx.node(op, "act", new String[] {"h"}, new String[] {"y"}, AttributeProto.newBuilder()
                    .setName("alpha").setType(AttributeProto.AttributeType.FLOAT).setF((float) alpha).build());
            alpha = (float) alpha; // the attributes, and Selu's defaults, are float32
            gamma = (float) gamma;
            GraphProto g = GraphProto.newBuilder().setName(op + alpha)
                    .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 3))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                    .addInitializer(Onnx.doubles("w", w, 3, 2))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                    .addNode(act).build();
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve(op + alpha + ".onnx"), Onnx.model(13, g)));
            double[] h = new double[4];
            double[] slope = new double[4];
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 2; o++) {
                    for (int i = 0; i < 3; i++) {
                        h[2 * n + o] += x[3 * n + i] * w[2 * i + o];
                    }
                    double he = h[2 * n + o];
                    // Celu's negative side α (e^(h/α) − 1) has slope e^(h/α); Elu's and Selu's α e^h
                    slope[2 * n + o] = gamma * (he > 0 ? 1 : op.equals("Celu") ? Math.exp(he / alpha)
                            : alpha * Math.exp(he));
                }
            }
            assertThat(h[0]).isGreaterThan(709.8); // e^h is ∞ in float64
            assertThat(h[2]).isLessThan(0);
            try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 2, 3);
                 Tensor f = onnx.model().apply(params, xs)) {
                for (int e = 0; e < 4; e++) {
                    double expected = gamma * (h[e] > 0 ? h[e] : alpha * Math.expm1(op.equals("Celu") ? h[e] / alpha
                            : h[e]));
                    assertThat(f.getFlat(e)).as("%s forward %d", op, e).isCloseTo(expected,
                            org.assertj.core.data.Percentage.withPercentage(1e-12));
                }
                for (Method m : METHODS) {
                    try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(xs, null)) {
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                double dot = 0;
                                for (int i = 0; i < 3; i++) {
                                    dot += x[3 * n1 + i] * x[3 * n2 + i];
                                }
                                for (int o1 = 0; o1 < 2; o1++) {
                                    for (int o2 = 0; o2 < 2; o2++) {
                                        double expected = o1 != o2 ? 0
                                                : slope[2 * n1 + o1] * slope[2 * n2 + o1] * dot;
                                        double got = k.getFlat(((n1 * 2 + n2) * 2 + o1) * 2 + o2);
                                        assertThat(got).as("%s by %s at [%d, %d, %d, %d]", op, m, n1, n2, o1, o2)
                                                .isCloseTo(expected, org.assertj.core.data.Offset.offset(
                                                        1e-12 * Math.max(1, Math.abs(expected))));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** y = Clip(x·w, lo, hi), lo and hi Constant nodes (null: the input left out), opset 13. */
    private static Path clip(Path dir, Double lo, Double hi) throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder().setName("clip")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 3))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4, 5, 6}, 3, 2))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}));
        for (String b : new String[] {"lo", "hi"}) {
            Double v = b.equals("lo") ? lo : hi;
            if (v != null) {
                g.addNode(Onnx.node("Constant", b, new String[0], new String[] {b}, AttributeProto.newBuilder()
                        .setName("value").setType(AttributeProto.AttributeType.TENSOR)
                        .setT(Onnx.doubles(b + "_value", new double[] {v})).build()));
            }
        }
        NodeProto clip = Onnx.node("Clip", "clamp", new String[] {"h", lo == null ? "" : "lo", hi == null ? "" : "hi"},
                new String[] {"y"});
        return Onnx.write(dir.resolve("clip.onnx"), Onnx.model(13, g.addNode(clip).build()));
    }

    private static Set<String> ops(String variant) throws IOException, InterruptedException {
        return opsOf(reference(variant));
    }

    /** The operator types of the export in {@code dir} (also {@link OnnxCoverageTest}'s). */
    static Set<String> opsOf(Path dir) throws IOException {
        Set<String> ops = new TreeSet<>();
        OnnxModel.load(dir.resolve("model.onnx")).graph().nodes.forEach(n -> ops.add(n.getOpType()));
        return ops;
    }

    private static void compare(String variant) throws IOException, InterruptedException {
        compareInFloat64(reference(variant), variant);
    }

    /**
     * The parameters (names, count), the forward pass and the eNTK by each method of the export in {@code dir}
     * against PyTorch's, in float64, within 1e-12 relative (also {@link OnnxCoverageTest}'s).
     *
     * @return the imported model
     */
    static OnnxModel compareInFloat64(Path dir, String variant) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        TorchReference.assertParameters(onnx, dir, name -> true, variant);
        assertThat(onnx.independentExamples()).as(variant).isTrue();
        try (Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Params params = onnx.params(DType.F64);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            Signal.assertVariesRelative(y, 1, TOLERANCE, "forward of " + variant);
            Signal.assertVariesRelative(k, 2, TOLERANCE, "eNTK of " + variant);
            assertThat(OnnxTorchTest.relativeError(f, y)).as("forward of %s", variant).isLessThan(TOLERANCE);
            for (Method m : METHODS) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.shape()).containsExactly(k.shape());
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("eNTK of %s by %s: %s", variant, m,
                            worst(ntk, k)).isLessThan(TOLERANCE);
                }
            }
        }
        return onnx;
    }

    /** The entry [n1, n2, a, b] farthest from the reference, for the message. */
    private static String worst(Tensor a, Tensor b) {
        int at = 0;
        for (int i = 0; i < b.size(); i++) {
            if (Math.abs(a.getFlat(i) - b.getFlat(i)) > Math.abs(a.getFlat(at) - b.getFlat(at))) {
                at = i;
            }
        }
        int[] s = b.shape();
        int[] idx = new int[s.length];
        for (int d = s.length - 1, r = at; d >= 0; d--) {
            idx[d] = r % s[d];
            r /= s[d];
        }
        return "worst at " + java.util.Arrays.toString(idx) + ": " + a.getFlat(at) + " vs PyTorch's " + b.getFlat(at);
    }
}
