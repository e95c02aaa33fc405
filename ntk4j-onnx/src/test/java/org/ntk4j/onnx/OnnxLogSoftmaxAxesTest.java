package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * LogSoftmax's axis rules, which it shares with Softmax, against hand-derived forward passes and kernels (review of
 * the ONNX activations, 2026-12-07, evening): opsets 11-12 flatten the axes from {@code axis} (default 1) into one
 * group, opset 13 on takes one axis (default −1); an axis of size 1 gives 0 with derivative 0. The model is
 * h = x·W (W a 4×4 parameter), reshaped to [N, A, B], LogSoftmax, reshaped back to [N, 4]: with J = ∂y/∂h (per group
 * of elements normalised together, J[o, k] = δ(o, k) − p_k for k in o's group, else 0),
 * K[n1, n2, o1, o2] = (x_n1 · x_n2) Σ_k J_n1[o1, k] J_n2[o2, k]. One example's logits lie 1,800 apart, where a log
 * of the softmax would be −∞. Float64, 1e-12 relative to max(1, |K|).
 */
class OnnxLogSoftmaxAxesTest {
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    private static final double[] W = {1, 0.5, -2, 0.25, -1, 2, 0.5, -0.75, 0.5, -0.25, 1, 2, 0.125, 1, -0.5, 1};
    /** Two examples of 4 features: moderate logits, then logits about 1,800 apart. */
    private static final double[] X = {0.5, -1, 0.25, 2, 400, -500, 0, 1};

    @TempDir
    Path dir;

    /**
     * One file: the opset, LogSoftmax's axis (null: the attribute left out), the shape [A, B] h is reshaped to, and
     * the groups of h's 4 elements (flat index a·B + b) that the operator normalises together.
     */
    private record Case(int opset, Long axis, int a, int b, int[][] groups) {
    }

    @Test
    void logSoftmaxFollowsEachOpsetsAxisRulesWithHandDerivedKernels() throws Exception {
        List<Case> cases = List.of(
                // opset 11, the default axis 1 of [N, 2, 2]: axes 1 and 2 flattened, one group of 4
                new Case(11, null, 2, 2, new int[][] {{0, 1, 2, 3}}),
                // opset 11, axis 2: each row of 2
                new Case(11, 2L, 2, 2, new int[][] {{0, 1}, {2, 3}}),
                // opset 13, the default axis -1: each row of 2 (not the 4 together, opset 11's default)
                new Case(13, null, 2, 2, new int[][] {{0, 1}, {2, 3}}),
                // opset 13, axis 1 of [N, 2, 2]: each column, elements 2 apart
                new Case(13, 1L, 2, 2, new int[][] {{0, 2}, {1, 3}}),
                // an axis of size 1, opset 13 and (flattened from axis 2 of [N, 4, 1]) opset 11: y = 0, derivative 0
                new Case(13, -1L, 4, 1, new int[][] {{0}, {1}, {2}, {3}}),
                new Case(11, 2L, 4, 1, new int[][] {{0}, {1}, {2}, {3}}));
        List<String> failures = new ArrayList<>();
        for (Case k : cases) {
            String name = "LogSoftmax opset " + k.opset() + " axis " + k.axis() + " [" + k.a() + ", " + k.b() + "]";
            AttributeProto[] attrs = k.axis() == null ? new AttributeProto[0]
                    : new AttributeProto[] {Onnx.attr("axis", k.axis())};
            GraphProto g = GraphProto.newBuilder().setName("lsm")
                    .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 4))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 4))
                    .addInitializer(Onnx.doubles("w", W, 4, 4))
                    .addInitializer(Onnx.int64s("shape3", new long[] {-1, k.a(), k.b()}, 3))
                    .addInitializer(Onnx.int64s("shape2", new long[] {-1, 4}, 2))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                    .addNode(Onnx.node("Reshape", "r3", new String[] {"h", "shape3"}, new String[] {"h3"}))
                    .addNode(Onnx.node("LogSoftmax", "lsm", new String[] {"h3"}, new String[] {"y3"}, attrs))
                    .addNode(Onnx.node("Reshape", "r2", new String[] {"y3", "shape2"}, new String[] {"y"}))
                    .build();
            Path file = Onnx.write(dir.resolve("lsm" + k.opset() + "_" + k.axis() + "_" + k.a() + ".onnx"),
                    Onnx.model(k.opset(), g));
            OnnxModel onnx = OnnxModel.load(file);
            double[][] h = new double[2][4];
            double[][][] jac = new double[2][][];
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < 4; o++) {
                    for (int i = 0; i < 4; i++) {
                        h[n][o] += X[4 * n + i] * W[4 * i + o];
                    }
                }
                jac[n] = jacobian(h[n], k.groups());
            }
            try (Params params = onnx.params(DType.F64); Tensor xs = Tensor.of(DType.F64, X, 2, 4);
                 Tensor f = onnx.model().apply(params, xs)) {
                for (int n = 0; n < 2; n++) {
                    double[] y = forward(h[n], k.groups());
                    for (int o = 0; o < 4; o++) {
                        check(failures, f.getFlat(n * 4 + o), y[o], 1e-12 * Math.max(1, Math.abs(y[o])),
                                name + " forward [" + n + ", " + o + "]");
                    }
                }
                for (Method m : METHODS) {
                    try (Tensor kernel = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(xs, null)) {
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                double dot = 0;
                                for (int i = 0; i < 4; i++) {
                                    dot += X[4 * n1 + i] * X[4 * n2 + i];
                                }
                                for (int o1 = 0; o1 < 4; o1++) {
                                    for (int o2 = 0; o2 < 4; o2++) {
                                        double e = 0;
                                        for (int j = 0; j < 4; j++) {
                                            e += dot * jac[n1][o1][j] * jac[n2][o2][j];
                                        }
                                        check(failures, kernel.getFlat(((n1 * 2 + n2) * 4 + o1) * 4 + o2), e,
                                                1e-12 * Math.max(1, Math.abs(e)), name + " by " + m + " at [" + n1
                                                + ", " + n2 + ", " + o1 + ", " + o2 + "]");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    /** y_o = h_o − m − ln Σ_{k in o's group} e^(h_k − m), m the group's maximum. */
    private static double[] forward(double[] h, int[][] groups) {
        double[] y = new double[h.length];
        for (int[] grp : groups) {
            double m = Double.NEGATIVE_INFINITY;
            for (int k : grp) {
                m = Math.max(m, h[k]);
            }
            double s = 0;
            for (int k : grp) {
                s += Math.exp(h[k] - m);
            }
            for (int o : grp) {
                y[o] = h[o] - m - Math.log(s);
            }
        }
        return y;
    }

    /** J[o, k] = δ(o, k) − p_k within a group (p its softmax), 0 across groups. */
    private static double[][] jacobian(double[] h, int[][] groups) {
        double[] y = forward(h, groups);
        double[][] j = new double[h.length][h.length];
        for (int[] grp : groups) {
            for (int o : grp) {
                for (int k : grp) {
                    j[o][k] = (o == k ? 1 : 0) - Math.exp(y[k]);
                }
            }
        }
        return j;
    }

    private static void check(List<String> failures, double got, double expected, double tolerance, String what) {
        if (!(Math.abs(got - expected) <= tolerance)) {
            failures.add(what + ": " + got + ", expected " + expected);
        }
    }
}
