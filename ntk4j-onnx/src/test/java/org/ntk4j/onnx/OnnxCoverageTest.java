package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.assertj.core.api.SoftAssertions;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The operators added on 2026-12-07 (evening) for what common PyTorch modules and functions export, by
 * {@code torch_onnx_coverage.py} (torch 1.13, opsets 13 and 17, float64 modules and inputs, a dynamic batch axis):
 * nn.PixelShuffle (DepthToSpace, CRD), torch.var and torch.std (ReduceProd of the shape), torch.prod (ReduceProd
 * of values, zeros among them), torch.cumsum (CumSum), torch.atan, asin, acos, tan, floor, ceil, round,
 * nn.Hardshrink (Or), And and Xor of masks, and F.one_hot of token ids (OneHot). The forward pass and the full eNTK
 * on 4 inputs by each method equal PyTorch's (its own backward rules, by torch.autograd.functional.jacobian) within
 * 1e-12, relative (computed in float32, within 2e-6); an all-zero example puts the product's zeros, the roundings'
 * steps and halves and the shrink's bounds exactly in place. CumSum's exclusive and reverse attributes and
 * DepthToSpace's DCR mode and SpaceToDepth, which PyTorch does not write, against their definitions.
 */
class OnnxCoverageTest {
    private static final double TOLERANCE = 1e-12;
    /** float32 against PyTorch's float64, relative: float32's rounding (ε = 1.2e-7) gives 4e-8 to 2.1e-7 here. */
    private static final double TOLERANCE_F32 = 2e-6;
    private static final int INT64 = org.ntk4j.onnx.proto.OnnxProtos.TensorProto.DataType.INT64_VALUE;
    private static final String[] SPECS = {"pixelshuffle:17", "pixelshuffle:13", "stats:17", "stats:13",
        "elementwise:17", "elementwise:13", "onehot:17", "onehot:13"};
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_coverage.py",
            "--model", String.join(",", SPECS));

    @Test
    void pixelShuffleImportsAsDepthToSpace() throws Exception {
        for (String opset : new String[] {"_17", "_13"}) {
            assertThat(ops("pixelshuffle" + opset)).contains("DepthToSpace", "Conv");
            compare("pixelshuffle" + opset);
        }
    }

    @Test
    void varianceStdProductAndCumulativeSumFollowPyTorch() throws Exception {
        for (String opset : new String[] {"_17", "_13"}) {
            assertThat(ops("stats" + opset)).contains("ReduceProd", "CumSum", "ReduceMean", "Sqrt");
            compare("stats" + opset);
        }
    }

    @Test
    void inverseTrigonometryTanRoundingAndHardshrinkFollowPyTorch() throws Exception {
        for (String opset : new String[] {"_17", "_13"}) {
            assertThat(ops("elementwise" + opset)).contains("Atan", "Asin", "Acos", "Tan", "Floor", "Ceil", "Round",
                    "Or", "And", "Xor");
            compare("elementwise" + opset);
        }
    }

    @Test
    void oneHotOfTokenIdsFollowsPyTorch() throws Exception {
        for (String opset : new String[] {"_17", "_13"}) {
            assertThat(ops("onehot" + opset)).contains("OneHot", "Gather");
            compare("onehot" + opset);
        }
    }

    /**
     * CumSum's exclusive and reverse attributes, which torch.cumsum does not export, of h = x·w [N, 4] along axis
     * 1: y_j = Σ_i M[j, i] h_i with M[j, i] = [i ≤ j], [i &lt; j], [i ≥ j] or [i &gt; j]; the eNTK with respect to w
     * is K[n1, n2, o1, o2] = (x_n1 · x_n2) Σ_i M[o1, i] M[o2, i], exactly, by each method.
     */
    @Test
    void cumSumExclusiveAndReverseMatchTheirDefinition(@TempDir Path dir) throws Exception {
        double[] x = {1, -2, 0.5, -1, 3, 0.25};
        double[] w = {1, 2, 3, 4, 0.5, -1, 1.5, -2, 2, 0, -3, 1};
        for (int exclusive = 0; exclusive < 2; exclusive++) {
            for (int reverse = 0; reverse < 2; reverse++) {
                GraphProto g = GraphProto.newBuilder().setName("cumsum")
                        .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 3))
                        .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 4))
                        .addInitializer(Onnx.doubles("w", w, 3, 4))
                        .addInitializer(Onnx.int64s("axis", new long[] {-1}))
                        .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                        .addNode(Onnx.node("CumSum", "cumsum", new String[] {"h", "axis"}, new String[] {"y"},
                                Onnx.attr("exclusive", exclusive), Onnx.attr("reverse", reverse))).build();
                Path file = Onnx.write(dir.resolve("cumsum" + exclusive + reverse + ".onnx"), Onnx.model(13, g));
                OnnxModel onnx = OnnxModel.load(file);
                double[][] m = new double[4][4];
                for (int j = 0; j < 4; j++) {
                    for (int i = 0; i < 4; i++) {
                        boolean in = reverse == 1 ? (exclusive == 1 ? i > j : i >= j)
                                : (exclusive == 1 ? i < j : i <= j);
                        m[j][i] = in ? 1 : 0;
                    }
                }
                String what = "exclusive=" + exclusive + " reverse=" + reverse;
                try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 2, 3);
                     Tensor f = onnx.model().apply(params, xs)) {
                    for (int n = 0; n < 2; n++) {
                        for (int j = 0; j < 4; j++) {
                            double expected = 0;
                            for (int i = 0; i < 4; i++) {
                                for (int k = 0; k < 3; k++) {
                                    expected += m[j][i] * x[3 * n + k] * w[4 * k + i];
                                }
                            }
                            assertThat(f.getFlat(4 * n + j)).as("%s forward [%d, %d]", what, n, j)
                                    .isCloseTo(expected, Offset.offset(1e-13));
                        }
                    }
                    for (Method method : METHODS) {
                        try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method)
                                .ntk(xs, null)) {
                            for (int n1 = 0; n1 < 2; n1++) {
                                for (int n2 = 0; n2 < 2; n2++) {
                                    double dot = 0;
                                    for (int i = 0; i < 3; i++) {
                                        dot += x[3 * n1 + i] * x[3 * n2 + i];
                                    }
                                    for (int o1 = 0; o1 < 4; o1++) {
                                        for (int o2 = 0; o2 < 4; o2++) {
                                            double count = 0;
                                            for (int i = 0; i < 4; i++) {
                                                count += m[o1][i] * m[o2][i];
                                            }
                                            assertThat(k.getFlat(((n1 * 2 + n2) * 4 + o1) * 4 + o2))
                                                    .as("%s by %s at [%d, %d, %d, %d]", what, method, n1, n2, o1, o2)
                                                    .isCloseTo(dot * count, Offset.offset(1e-12));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * CumSum of s · log x where one x is 0: a sum that reaches the −∞ is −∞, one before it (in the summing order) is
     * finite, as PyTorch's and ONNX Runtime's sequential sums, for each exclusive and reverse. A constant 0/1 matrix
     * along the axis made the row NaN throughout (0 · −∞), and an axis of 46341 elements overflowed its int size.
     */
    @Test
    void cumSumKeepsTheSumsBeforeAnInfiniteElementFinite(@TempDir Path dir) throws Exception {
        double[] x = {0.5, 2, 0, 3, 1.5, 4, 0.25, 2};
        for (int exclusive = 0; exclusive < 2; exclusive++) {
            for (int reverse = 0; reverse < 2; reverse++) {
                GraphProto g = GraphProto.newBuilder().setName("cumsum")
                        .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 4))
                        .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 4))
                        .addInitializer(Onnx.doubles("s", new double[] {1.5}, 1))
                        .addInitializer(Onnx.int64s("axis", new long[] {1}))
                        .addNode(Onnx.node("Log", "log", new String[] {"x"}, new String[] {"l"}))
                        .addNode(Onnx.node("Mul", "scale", new String[] {"l", "s"}, new String[] {"h"}))
                        .addNode(Onnx.node("CumSum", "cumsum", new String[] {"h", "axis"}, new String[] {"y"},
                                Onnx.attr("exclusive", exclusive), Onnx.attr("reverse", reverse))).build();
                OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("cumsum.onnx"), Onnx.model(13, g)));
                try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 2, 4);
                     Tensor y = onnx.model().apply(params, xs)) {
                    for (int n = 0; n < 2; n++) {
                        for (int j = 0; j < 4; j++) {
                            double expected = 0;
                            for (int i = 0; i < 4; i++) {
                                boolean in = reverse == 1 ? (exclusive == 1 ? i > j : i >= j)
                                        : (exclusive == 1 ? i < j : i <= j);
                                expected += in ? 1.5 * Math.log(x[4 * n + i]) : 0;
                            }
                            double actual = y.getFlat(4 * n + j);
                            String what = String.format("exclusive=%d reverse=%d [%d, %d]", exclusive, reverse, n, j);
                            if (Double.isInfinite(expected)) {
                                assertThat(actual).as(what).isEqualTo(expected);
                            } else {
                                assertThat(actual).as(what).isCloseTo(expected, Offset.offset(1e-14));
                            }
                        }
                    }
                }
            }
        }
        // an axis of 50000 (n² past int's range): the running count 1.5 (j + 1) of ones, exact in float64
        int n = 50_000;
        GraphProto g = GraphProto.newBuilder().setName("long")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", n))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", n))
                .addInitializer(Onnx.doubles("s", new double[] {1.5}, 1))
                .addInitializer(Onnx.int64s("axis", new long[] {-1}))
                .addNode(Onnx.node("Mul", "scale", new String[] {"x", "s"}, new String[] {"h"}))
                .addNode(Onnx.node("CumSum", "cumsum", new String[] {"h", "axis"}, new String[] {"y"})).build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("long.onnx"), Onnx.model(13, g)));
        double[] ones = new double[2 * n];
        java.util.Arrays.fill(ones, 1);
        try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(ones, 2, n);
             Tensor y = onnx.model().apply(params, xs)) {
            for (int e = 0; e < 2 * n; e++) {
                assertThat(y.getFlat(e)).as("long [%d]", e).isEqualTo(1.5 * (e % n + 1));
            }
        }
    }

    /**
     * Over the examples' axis, CumSum and ReduceProd mix the examples: of h = x·w [N, 2], CumSum along axis 0 gives
     * y_n = Σ_{m ≤ n} h_m, whose eNTK is K[n1, n2, o1, o2] = δ(o1, o2) Σ_{m1 ≤ n1, m2 ≤ n2} x_m1 · x_m2 by each
     * method, and the model says its examples are not independent; y = h + ReduceProd(h over axis 0) says so too,
     * while either along axis 1 keeps them independent.
     */
    @Test
    void cumSumAndReduceProdOverTheExamplesMixThem(@TempDir Path dir) throws Exception {
        double[] x = {1, -2, 0.5, 3, -1, 0.25};
        double[] w = {1, 2, -0.5, 1.5};
        for (String op : new String[] {"CumSum", "ReduceProd"}) {
            for (int axis = 0; axis < 2; axis++) {
                GraphProto.Builder g = GraphProto.newBuilder().setName("mix")
                        .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 2))
                        .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                        .addInitializer(Onnx.doubles("w", w, 2, 2))
                        .addInitializer(Onnx.int64s("axis", new long[] {axis}))
                        .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}));
                if (op.equals("CumSum")) {
                    g.addNode(Onnx.node("CumSum", "op", new String[] {"h", "axis"}, new String[] {"y"}));
                } else {
                    g.addNode(Onnx.node("ReduceProd", "op", new String[] {"h"}, new String[] {"p"},
                            Onnx.ints("axes", axis)));
                    g.addNode(Onnx.node("Add", "add", new String[] {"h", "p"}, new String[] {"y"}));
                }
                OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("mix.onnx"), Onnx.model(13, g.build())));
                assertThat(onnx.independentExamples()).as("%s along %d", op, axis).isEqualTo(axis == 1);
                if (!op.equals("CumSum") || axis != 0) {
                    continue;
                }
                try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 3, 2)) {
                    for (Method method : METHODS) {
                        try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method)
                                .ntk(xs, null)) {
                            for (int n1 = 0; n1 < 3; n1++) {
                                for (int n2 = 0; n2 < 3; n2++) {
                                    double dots = 0;
                                    for (int m1 = 0; m1 <= n1; m1++) {
                                        for (int m2 = 0; m2 <= n2; m2++) {
                                            dots += x[2 * m1] * x[2 * m2] + x[2 * m1 + 1] * x[2 * m2 + 1];
                                        }
                                    }
                                    for (int o1 = 0; o1 < 2; o1++) {
                                        for (int o2 = 0; o2 < 2; o2++) {
                                            assertThat(k.getFlat(((n1 * 3 + n2) * 2 + o1) * 2 + o2))
                                                    .as("%s at [%d, %d, %d, %d]", method, n1, n2, o1, o2)
                                                    .isCloseTo(o1 == o2 ? dots : 0, Offset.offset(1e-12));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * DepthToSpace in its DCR mode (the default, TensorFlow's depth_to_space) and CRD (PyTorch's), and SpaceToDepth,
     * of s · x for a scalar weight s, flattened: each output element is the input element that ONNX's index formula
     * names (blocksize 2), and the eNTK is rank one, K[n1, n2, o1, o2] = z_n1[o1] z_n2[o2] for z the moved x.
     */
    @Test
    void depthToSpaceAndSpaceToDepthMoveElementsAsOnnxDefines(@TempDir Path dir) throws Exception {
        int b = 2;
        double[] x = new double[2 * 8 * 2 * 2];
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.sin(1.7 * i + 0.3);
        }
        for (String mode : new String[] {"DCR", "CRD", "SpaceToDepth"}) {
            boolean toDepth = mode.equals("SpaceToDepth");
            // DepthToSpace: [8, 2, 2] to [2, 4, 4]; SpaceToDepth: [2, 4, 4] to [8, 2, 2] (the same values)
            int[] inShape = toDepth ? new int[] {2, 4, 4} : new int[] {8, 2, 2};
            GraphProto g = GraphProto.newBuilder().setName(mode)
                    .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", inShape[0], inShape[1], inShape[2]))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 32))
                    .addInitializer(Onnx.doubles("s", new double[] {1.5}, 1))
                    .addNode(Onnx.node("Mul", "scale", new String[] {"x", "s"}, new String[] {"h"}))
                    .addNode(toDepth ? Onnx.node("SpaceToDepth", "move", new String[] {"h"}, new String[] {"z"},
                            Onnx.attr("blocksize", b))
                            : Onnx.node("DepthToSpace", "move", new String[] {"h"}, new String[] {"z"},
                            Onnx.attr("blocksize", b), Onnx.string("mode", mode)))
                    .addNode(Onnx.node("Flatten", "flat", new String[] {"z"}, new String[] {"y"})).build();
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve(mode + ".onnx"), Onnx.model(13, g)));
            double[] z = new double[x.length];
            for (int n = 0; n < 2; n++) {
                for (int f = 0; f < 32; f++) {
                    int src;
                    if (toDepth) {
                        // y[n, (i b + j) C + c, hh, ww] = x[n, c, hh b + i, ww b + j], C = 2, out [8, 2, 2]
                        int ch = f / 4;
                        int hh = f / 2 % 2;
                        int ww = f % 2;
                        int c = ch % 2;
                        int i = ch / 2 / b;
                        int j = ch / 2 % b;
                        src = (c * 4 + hh * b + i) * 4 + ww * b + j;
                    } else {
                        // out [2, 4, 4]: y[n, c, hh b + i, ww b + j]
                        int c = f / 16;
                        int hh = f / 4 % 4 / b;
                        int i = f / 4 % 4 % b;
                        int ww = f % 4 / b;
                        int j = f % 4 % b;
                        int ch = mode.equals("DCR") ? (i * b + j) * 2 + c : c * b * b + i * b + j;
                        src = (ch * 2 + hh) * 2 + ww;
                    }
                    z[32 * n + f] = x[32 * n + src];
                }
            }
            try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, new int[] {2, inShape[0],
                    inShape[1], inShape[2]}); Tensor f = onnx.model().apply(params, xs)) {
                for (int e = 0; e < z.length; e++) {
                    assertThat(f.getFlat(e)).as("%s forward %d", mode, e).isEqualTo(1.5 * z[e]);
                }
                for (Method method : METHODS) {
                    try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method).ntk(xs, null)) {
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                for (int o1 = 0; o1 < 32; o1++) {
                                    for (int o2 = 0; o2 < 32; o2++) {
                                        double expected = z[32 * n1 + o1] * z[32 * n2 + o2];
                                        assertThat(k.getFlat(((n1 * 2 + n2) * 32 + o1) * 32 + o2))
                                                .as("%s by %s", mode, method)
                                                .isCloseTo(expected, Offset.offset(1e-14));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * The new operators of values known at import are evaluated there (PyTorch's file: its Constant nodes are
     * constants, not weights): Floor, Ceil, Round (halves to even), Atan, Tan, CumSum (exclusive), OneHot of ids
     * with a negative one, Or of comparisons and ReduceProd without kept axes, each checked by its own definition
     * through y = (x·w) ⊙ k for the folded k.
     */
    @Test
    void constantsAreFoldedAtImport(@TempDir Path dir) throws Exception {
        double[] kv = {0.5, -1.5, 2.5};
        GraphProto.Builder g = GraphProto.newBuilder().setName("folded")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 2))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 3))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4, 5, 6}, 2, 3))
                .addInitializer(Onnx.int64s("axis", new long[] {0}))
                .addInitializer(Onnx.int64s("ids", new long[] {0, 2, -1}, 3))
                .addInitializer(Onnx.int64s("depth", new long[] {3}))
                .addInitializer(Onnx.doubles("onoff", new double[] {2, 3}, 2))
                .addInitializer(Onnx.doubles("zero", new double[] {0}))
                .addNode(Onnx.node("Constant", "kc", new String[0], new String[] {"k"},
                        org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.newBuilder().setName("value")
                                .setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.AttributeType.TENSOR)
                                .setT(Onnx.doubles("kv", kv, 3)).build()))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}));
        String[] unary = {"Floor", "Ceil", "Round", "Atan", "Tan"};
        for (String op : unary) {
            g.addNode(Onnx.node(op, op, new String[] {"k"}, new String[] {op}));
        }
        g.addNode(Onnx.node("CumSum", "cumsum", new String[] {"k", "axis"}, new String[] {"cs"},
                Onnx.attr("exclusive", 1)));
        // one-hot rows of off 2 and on 3: [3, 2, 2], [2, 2, 3], [2, 2, 3] (-1 is the last); ReduceProd over the
        // rows: [12, 8, 18]
        g.addNode(Onnx.node("OneHot", "onehot", new String[] {"ids", "depth", "onoff"}, new String[] {"oh"}));
        g.addNode(Onnx.node("ReduceProd", "prod", new String[] {"oh"}, new String[] {"pr"}, Onnx.ints("axes", 0),
                Onnx.attr("keepdims", 0)));
        // [k > 0] or [k < -1]: [1, 1, 1]; as double
        g.addNode(Onnx.node("Greater", "gt", new String[] {"k", "zero"}, new String[] {"gt"}));
        g.addNode(Onnx.node("Less", "lt", new String[] {"k", "zero"}, new String[] {"lt"}));
        g.addNode(Onnx.node("Or", "or", new String[] {"gt", "lt"}, new String[] {"or"}));
        g.addNode(Onnx.node("Cast", "cast", new String[] {"or"}, new String[] {"orf"}, Onnx.attr("to", Onnx.DOUBLE)));
        g.addNode(Onnx.node("Sum", "sum", new String[] {"Floor", "Ceil", "Round", "Atan", "Tan", "cs", "pr", "orf"},
                new String[] {"s"}));
        g.addNode(Onnx.node("Mul", "scale", new String[] {"h", "s"}, new String[] {"y"}));
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("folded.onnx"),
                Onnx.model(13, g.build()).toBuilder().setProducerName("pytorch").build()));
        assertThat(onnx.parameterNames()).containsExactly("w");
        double[] cs = {0, 0.5, -1};
        double[] pr = {12, 8, 18};
        double[] round = {0, -2, 2};
        double[] x = {1, -2, 0.5, 3};
        try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 2, 2);
             Tensor f = onnx.model().apply(params, xs)) {
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 3; o++) {
                    double k = kv[o];
                    double s = Math.floor(k) + Math.ceil(k) + round[o] + Math.atan(k) + Math.tan(k) + cs[o] + pr[o]
                            + 1;
                    double h = x[2 * n] * (o + 1) + x[2 * n + 1] * (o + 4);
                    assertThat(f.getFlat(3 * n + o)).as("[%d, %d]", n, o).isCloseTo(h * s, Offset.offset(1e-12));
                }
            }
        }
    }

    /**
     * A one-hot of computed real values is refused in one line naming the indices (it has no derivative and would
     * read them rounded), and an If says which PyTorch module writes one.
     */
    @Test
    void oneHotOfRealValuesAndAnIfAreRefusedInOneLine(@TempDir Path dir) throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("onehot")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 2))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2, 3))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4}, 2, 2))
                .addInitializer(Onnx.int64s("depth", new long[] {3}))
                .addInitializer(Onnx.doubles("onoff", new double[] {0, 1}, 2))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                .addNode(Onnx.node("OneHot", "onehot", new String[] {"h", "depth", "onoff"}, new String[] {"y"}))
                .build();
        Path file = Onnx.write(dir.resolve("onehot.onnx"), Onnx.model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(file + ": node 'onehot' (OneHot): indices 'h' must be whole numbers without derivative "
                        + "(token ids, or values known at import), but are computed real values");
        GraphProto branch = GraphProto.newBuilder().setName("if")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 2))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addNode(Onnx.node("If", "lrn", new String[] {"x"}, new String[] {"y"})).build();
        Path ifFile = Onnx.write(dir.resolve("if.onnx"), Onnx.model(13, branch));
        assertThatThrownBy(() -> OnnxModel.load(ifFile)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(ifFile + ": unsupported operator If in node 'lrn' (If): control flow (If, Loop, Scan) is "
                        + "not imported; nn.LocalResponseNorm exports an If on its input's rank");
    }

    /**
     * A OneHot is of its values' type, not its indices': of int64 token ids with float values [0, 1] its token
     * frequencies (a ReduceMean over the positions) import, y = f · w with the eNTK (f_n1 · f_n2) δ(o1, o2) by each
     * method; of whole float indices (a Floor of x) with int64 values, the same mean is of integers, which ONNX
     * truncates, and is refused in one line as for any integer mean (it was computed as a float mean).
     */
    @Test
    void oneHotIsOfItsValuesTypeNotOfItsIndices(@TempDir Path dir) throws Exception {
        double[] w = {1, 2, 3, 4, 5, 6, 7, 8};
        GraphProto frequencies = GraphProto.newBuilder().setName("frequencies")
                .addInput(Onnx.info("ids", INT64, "batch", 3))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", w, 4, 2))
                .addInitializer(Onnx.int64s("depth", new long[] {4}))
                .addNode(constant("onoff", Onnx.doubles("onoff", new double[] {0, 1}, 2)))
                .addNode(Onnx.node("OneHot", "oh", new String[] {"ids", "depth", "onoff"}, new String[] {"oh"}))
                .addNode(Onnx.node("ReduceMean", "mean", new String[] {"oh"}, new String[] {"m"}, Onnx.ints("axes", 1),
                        Onnx.attr("keepdims", 0)))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"m", "w"}, new String[] {"y"})).build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("frequencies.onnx"),
                Onnx.model(13, frequencies).toBuilder().setProducerName("pytorch").build()));
        double[] ids = {0, 1, 1, 3, 3, -1};
        // the ids' frequencies per example, -1 counted as 3
        double[][] f = {{1 / 3.0, 2 / 3.0, 0, 0}, {0, 0, 0, 1}};
        try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(ids, 2, 3);
             Tensor y = onnx.model().apply(params, xs)) {
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 2; o++) {
                    double expected = 0;
                    for (int v = 0; v < 4; v++) {
                        expected += f[n][v] * w[2 * v + o];
                    }
                    assertThat(y.getFlat(2 * n + o)).as("forward [%d, %d]", n, o)
                            .isCloseTo(expected, Offset.offset(1e-14));
                }
            }
            for (Method method : METHODS) {
                try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method).ntk(xs, null)) {
                    for (int n1 = 0; n1 < 2; n1++) {
                        for (int n2 = 0; n2 < 2; n2++) {
                            double dot = 0;
                            for (int v = 0; v < 4; v++) {
                                dot += f[n1][v] * f[n2][v];
                            }
                            for (int o1 = 0; o1 < 2; o1++) {
                                for (int o2 = 0; o2 < 2; o2++) {
                                    assertThat(k.getFlat(((n1 * 2 + n2) * 2 + o1) * 2 + o2))
                                            .as("%s at [%d, %d, %d, %d]", method, n1, n2, o1, o2)
                                            .isCloseTo(o1 == o2 ? dot : 0, Offset.offset(1e-14));
                                }
                            }
                        }
                    }
                }
            }
        }
        GraphProto counts = GraphProto.newBuilder().setName("counts")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 3))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", w, 4, 2))
                .addInitializer(Onnx.int64s("depth", new long[] {4}))
                .addInitializer(Onnx.int64s("onoff", new long[] {0, 1}, 2))
                .addNode(Onnx.node("Floor", "floor", new String[] {"x"}, new String[] {"ids"}))
                .addNode(Onnx.node("OneHot", "oh", new String[] {"ids", "depth", "onoff"}, new String[] {"oh"}))
                .addNode(Onnx.node("ReduceMean", "mean", new String[] {"oh"}, new String[] {"m"}, Onnx.ints("axes", 1),
                        Onnx.attr("keepdims", 0)))
                .addNode(Onnx.node("Cast", "cast", new String[] {"m"}, new String[] {"mf"},
                        Onnx.attr("to", Onnx.DOUBLE)))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"mf", "w"}, new String[] {"y"})).build();
        Path file = Onnx.write(dir.resolve("counts.onnx"), Onnx.model(13, counts));
        assertThatThrownBy(() -> OnnxModel.load(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(file + ": node 'mean' (ReduceMean): a mean of integers ('oh') is an integer "
                        + "in ONNX");
    }

    /**
     * Refused in one line, naming the input or attribute, its range and the value: a OneHot of computed indices
     * with an infinite value (off + mask · (on − off) would be NaN wherever the other is taken), a depth beyond int's
     * range, and a DepthToSpace or SpaceToDepth blocksize beyond its input's axes (2^32 was an int 0, and a
     * division by zero).
     */
    @Test
    void oneHotValuesAndDepthAndBlocksizesOutOfRangeAreRefusedInOneLine(@TempDir Path dir) throws Exception {
        // softly: each case is checked and reported on its own
        SoftAssertions softly = new SoftAssertions();
        for (double[] onoff : new double[][] {{Double.NEGATIVE_INFINITY, 0}, {0, Double.NaN}}) {
            Path file = Onnx.write(dir.resolve("values.onnx"), Onnx.model(13, oneHot(4, onoff)));
            softly.assertThatThrownBy(() -> OnnxModel.load(file)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(file + ": node 'oh' (OneHot): input 2 (values) must be finite for indices computed "
                            + "from the input x, got [" + onoff[0] + ", " + onoff[1] + "]");
        }
        Path depth = Onnx.write(dir.resolve("depth.onnx"), Onnx.model(13, oneHot(3_000_000_000L, new double[] {0, 1})));
        softly.assertThatThrownBy(() -> OnnxModel.load(depth)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(depth + ": node 'oh' (OneHot): input 1 (depth) must be a single number in [1, 2147483647), "
                        + "got [3.0E9]");
        for (long b : new long[] {3, 65536, 1L << 32, -1}) {
            for (String op : new String[] {"DepthToSpace", "SpaceToDepth"}) {
                GraphProto g = GraphProto.newBuilder().setName("blocks")
                        .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 4, 2, 2))
                        .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 1, 4, 4))
                        .addInitializer(Onnx.doubles("s", new double[] {1.5}, 1))
                        .addNode(Onnx.node("Mul", "scale", new String[] {"x", "s"}, new String[] {"h"}))
                        .addNode(Onnx.node(op, "move", new String[] {"h"}, new String[] {"y"},
                                Onnx.attr("blocksize", b))).build();
                Path file = Onnx.write(dir.resolve("blocks.onnx"), Onnx.model(13, g));
                softly.assertThatThrownBy(() -> OnnxModel.load(file)).as("%s %d", op, b)
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage(file + ": node 'move' (" + op + "): blocksize must be in [1, 2] for input [N, 4, "
                                + "2, 2], got " + b);
            }
        }
        softly.assertAll();
    }

    /**
     * Asin and Acos at ±1, where their derivative ±1 / √(1 − x²) is infinite (PyTorch's too), and beyond (NaN), of
     * h = x · w: the forward pass is finite at ±1 and every method refuses the kernel as not finite; inside, the
     * kernel is x1 x2 f'(h1) f'(h2).
     */
    @Test
    void asinAndAcosAtTheirBoundsGiveANonFiniteKernel(@TempDir Path dir) throws Exception {
        for (String op : new String[] {"Asin", "Acos"}) {
            GraphProto g = GraphProto.newBuilder().setName(op)
                    .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 1))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 1))
                    .addInitializer(Onnx.doubles("w", new double[] {0.5}, 1, 1))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                    .addNode(Onnx.node(op, "arc", new String[] {"h"}, new String[] {"y"})).build();
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve(op + ".onnx"), Onnx.model(13, g)));
            double sign = op.equals("Asin") ? 1 : -1;
            for (double x2 : new double[] {2, -2, 3, 1.5}) {
                double[] x = {0.5, x2};
                try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(x, 2, 1);
                     Tensor y = onnx.model().apply(params, xs)) {
                    double h = 0.5 * x2;
                    // NaN beyond ±1, as Math's (and PyTorch's)
                    assertThat(Double.valueOf(y.getFlat(1))).as("%s(%s)", op, h)
                            .isEqualTo(Double.valueOf(op.equals("Asin") ? Math.asin(h) : Math.acos(h)));
                    for (Method method : METHODS) {
                        if (Math.abs(h) >= 1) {
                            assertThatThrownBy(() -> EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method)
                                    .ntk(xs, null)).as("%s(%s) by %s", op, h, method)
                                    .isInstanceOf(org.ntk4j.ntk.NonFiniteKernelException.class);
                            continue;
                        }
                        try (Tensor k = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(method)
                                .ntk(xs, null)) {
                            for (int n1 = 0; n1 < 2; n1++) {
                                for (int n2 = 0; n2 < 2; n2++) {
                                    double d1 = sign / Math.sqrt(1 - 0.25 * x[n1] * x[n1]);
                                    double d2 = sign / Math.sqrt(1 - 0.25 * x[n2] * x[n2]);
                                    assertThat(k.getFlat(n1 * 2 + n2)).as("%s(%s) by %s", op, h, method)
                                            .isCloseTo(x[n1] * x[n2] * d1 * d2, Offset.offset(1e-14));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** y = OneHot(ids, depth, onoff) + b of int64 ids [N, 3] (depth 4 for the shape given), b [4] a weight. */
    private static GraphProto oneHot(long depth, double[] onoff) {
        return GraphProto.newBuilder().setName("onehot")
                .addInput(Onnx.info("ids", INT64, "batch", 3))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 3, 4))
                .addInitializer(Onnx.doubles("b", new double[] {1, 2, 3, 4}, 4))
                .addInitializer(Onnx.int64s("depth", new long[] {depth}))
                .addNode(constant("onoff", Onnx.doubles("onoff", onoff, 2)))
                .addNode(Onnx.node("OneHot", "oh", new String[] {"ids", "depth", "onoff"}, new String[] {"oh"}))
                .addNode(Onnx.node("Add", "add", new String[] {"oh", "b"}, new String[] {"y"})).build();
    }

    /** A Constant node of the tensor t, its output named {@code name}. */
    private static org.ntk4j.onnx.proto.OnnxProtos.NodeProto constant(String name,
            org.ntk4j.onnx.proto.OnnxProtos.TensorProto t) {
        return Onnx.node("Constant", name + "Constant", new String[0], new String[] {name},
                org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.newBuilder().setName("value")
                        .setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.AttributeType.TENSOR).setT(t).build());
    }

    private static Set<String> ops(String variant) throws IOException, InterruptedException {
        return OnnxTiesTest.opsOf(EXPORTS.in(exports, variant));
    }

    /**
     * The parameters (names, count), the forward pass and the eNTK by each method against PyTorch's: in float64
     * within 1e-12 ({@link OnnxTiesTest#compareInFloat64}), then in float32 within {@link #TOLERANCE_F32}.
     */
    private static void compare(String variant) throws IOException, InterruptedException {
        Path dir = EXPORTS.in(exports, variant);
        OnnxModel onnx = OnnxTiesTest.compareInFloat64(dir, variant);
        // in float32 (the new primitives' float loops and derivatives): PyTorch's float64 results within float32's
        // rounding through these small networks
        try (Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F32);
             Params params = onnx.params(DType.F32);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(OnnxTorchTest.relativeError(f, y)).as("float32 forward of %s", variant)
                    .isLessThan(TOLERANCE_F32);
            for (Method m : METHODS) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("float32 eNTK of %s by %s", variant, m)
                            .isLessThan(TOLERANCE_F32);
                }
            }
        }
    }
}
