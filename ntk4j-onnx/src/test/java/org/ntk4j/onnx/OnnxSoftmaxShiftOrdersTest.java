package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.nn.Linearized;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The softmax family's shift by the maximum carries no derivative (MoreOperators.ShiftConstant), which is exact to
 * every order, not only the first: the result does not depend on the shift at all, so neither does any derivative
 * of it. Checked in float64 through a second-order Taylor expansion (a JVP of a JVP, differentiated once more by
 * the kernel), at parameters away from the expansion point, by every method, against the same formula written
 * without a shift in the ONNX file (Exp, ReduceSum, Div or Log: finite for these small logits).
 */
class OnnxSoftmaxShiftOrdersTest {
    private static final int N = 5;
    private static final int F = 4;
    private static final int O = 6;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"Softmax", "LogSoftmax", "ReduceLogSumExp"})
    void secondOrderTaylorKernelEqualsTheUnshiftedFormulas(String op) throws Exception {
        Random rnd = new Random(11);
        double[] w = new double[F * O];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextGaussian();
        }
        double[] x = new double[N * F];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextGaussian();
        }
        // ties in the maximum too: example 4's inputs are 0 (all its logits tie), and example 3 is example 2
        for (int f = 0; f < F; f++) {
            x[3 * F + f] = x[2 * F + f];
            x[4 * F + f] = 0;
        }
        OnnxModel shifted = load(op, w, build(op, true));
        OnnxModel plain = load(op + "-plain", w, build(op, false));
        try (Params theta0 = shifted.params(DType.F64); Params plain0 = plain.params(DType.F64);
             Tensor xs = Tensor.of(DType.F64, x, N, F)) {
            // θ away from θ0, so that the second-order term and its derivative are not zero
            Tensor moved = theta0.tensors().get("w").copy();
            for (int i = 0; i < moved.size(); i++) {
                moved.setFlat(i, moved.getFlat(i) + 0.3 * rnd.nextGaussian());
            }
            try (Params theta = new Params(Map.of("w", moved))) {
                Model ref = Linearized.taylor2(plain.model(), plain0);
                double[] expected;
                try (Tensor k = EmpiricalNtk.of(ref, theta).method(Method.JACOBIAN_CONTRACTION)
                        .kernel(KernelKind.full(), xs, null)) {
                    expected = k.toDoubleArray();
                }
                double scale = 0;
                for (double v : expected) {
                    scale = Math.max(scale, Math.abs(v));
                }
                assertThat(scale).isGreaterThan(1e-3);
                Model model = Linearized.taylor2(shifted.model(), theta0);
                for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {
                    try (Tensor k = EmpiricalNtk.of(model, theta).method(m).kernel(KernelKind.full(), xs, null)) {
                        double[] got = k.toDoubleArray();
                        for (int i = 0; i < got.length; i++) {
                            assertThat(Math.abs(got[i] - expected[i])).as("%s, %s, entry %d", op, m, i)
                                    .isLessThan(1e-12 * scale);
                        }
                    }
                }
            }
        }
    }

    private OnnxModel load(String name, double[] w, NodeProto[] nodes) throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder().setName(name)
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", F))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", name.startsWith("ReduceLogSumExp") ? 1 : O))
                .addInitializer(Onnx.doubles("w", w, F, O))
                .addInitializer(Onnx.int64s("axes", new long[] {1}, 1))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}));
        for (NodeProto n : nodes) {
            g.addNode(n);
        }
        return OnnxModel.load(Onnx.write(dir.resolve(name + ".onnx"), Onnx.model(18, g.build())));
    }

    /** h → y by the operator, or ({@code !withOp}) by its formula without a shift (LSE keeps its axis). */
    private static NodeProto[] build(String op, boolean withOp) {
        if (withOp) {
            return op.equals("ReduceLogSumExp")
                    ? new NodeProto[] {Onnx.node(op, "op", new String[] {"h", "axes"}, new String[] {"y"})}
                    : new NodeProto[] {Onnx.node(op, "op", new String[] {"h"}, new String[] {"y"})};
        }
        NodeProto exp = Onnx.node("Exp", "exp", new String[] {"h"}, new String[] {"e"});
        NodeProto sum = Onnx.node("ReduceSum", "sum", new String[] {"e", "axes"}, new String[] {"s"});
        switch (op) {
            case "Softmax":
                return new NodeProto[] {exp, sum, Onnx.node("Div", "div", new String[] {"e", "s"}, new String[] {"y"})};
            case "LogSoftmax":
                return new NodeProto[] {exp, sum, Onnx.node("Log", "log", new String[] {"s"}, new String[] {"l"}),
                    Onnx.node("Sub", "sub", new String[] {"h", "l"}, new String[] {"y"})};
            default:
                return new NodeProto[] {exp, sum, Onnx.node("Log", "log", new String[] {"s"}, new String[] {"y"})};
        }
    }
}
