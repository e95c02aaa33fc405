package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Slice with negative steps and Pad at the edges of ONNX's rules, on x [N, 3, 4, 2] with x[n, i, j, k] =
 * flat(i, j, k) + 1000 n, against index arithmetic by the spec (and NumPy's slicing and np.pad, which it follows).
 */
class OnnxReverseEdgesTest {
    private static final int[] S = {3, 4, 2};

    @TempDir
    Path dir;

    private Tensor run(GraphProto.Builder ops, int opset) throws IOException {
        int size = S[0] * S[1] * S[2];
        GraphProto g = ops.addInput(info("x", DOUBLE, "N", S[0], S[1], S[2])).addOutput(info("y", DOUBLE)).build();
        OnnxModel m = OnnxModel.load(Onnx.write(dir.resolve("m" + System.nanoTime() + ".onnx"), model(opset, g)));
        double[] xv = new double[2 * size];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = i % size + 1000 * (i / size);
        }
        try (Params p = m.params(DType.F64); Tensor x = Tensor.of(xv, 2, S[0], S[1], S[2])) {
            return m.model().apply(p, x);
        }
    }

    private static double x(int n, int i, int j, int k) {
        return (i * S[1] + j) * S[2] + k + 1000 * n;
    }

    /**
     * A negative step on an empty axis takes nothing (NumPy's x[::-1] of an empty axis is empty; ONNX's clamping of
     * start to [0, dim - 1] has no index to give): traced and at import, the empty flip concatenated to x is x.
     */
    @Test
    void aNegativeStepOnAnEmptyAxisTakesNothing() throws IOException {
        long[] c = new long[S[0] * S[1] * S[2]];
        for (int i = 0; i < c.length; i++) {
            c[i] = i;
        }
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("C", c, 1, S[0], S[1], S[2]))
                .addInitializer(Onnx.int64s("one", new long[] {1}, 1))
                .addInitializer(Onnx.int64s("ax", new long[] {1}, 1))
                .addInitializer(Onnx.int64s("last", new long[] {-1}, 1))
                .addInitializer(Onnx.int64s("min", new long[] {Long.MIN_VALUE}, 1))
                .addInitializer(Onnx.int64s("back", new long[] {-1}, 1))
                .addNode(node("Slice", "ex", new String[] {"x", "one", "one", "ax"}, new String[] {"ex"}))
                .addNode(node("Slice", "fx", new String[] {"ex", "last", "min", "ax", "back"}, new String[] {"fx"}))
                .addNode(node("Slice", "ec", new String[] {"C", "one", "one", "ax"}, new String[] {"ec"}))
                .addNode(node("Slice", "fc", new String[] {"ec", "last", "min", "ax", "back"}, new String[] {"fc"}))
                .addNode(node("Concat", "cc", new String[] {"C", "fc"}, new String[] {"cc"}, Onnx.attr("axis", 1)))
                .addNode(node("Cast", "cf", new String[] {"cc"}, new String[] {"cf"}, Onnx.attr("to", DOUBLE)))
                .addNode(node("Concat", "cx", new String[] {"x", "fx"}, new String[] {"cx"}, Onnx.attr("axis", 1)))
                .addNode(node("Add", "add", new String[] {"cx", "cf"}, new String[] {"y"}));
        try (Tensor y = run(g, 13)) {
            assertThat(y.shape()).containsExactly(2, S[0], S[1], S[2]);
            for (int i = 0; i < y.size(); i++) {
                int n = i / (S[0] * S[1] * S[2]);
                int f = i % (S[0] * S[1] * S[2]);
                assertThat(y.getFlat(i)).as("flat %d", i).isEqualTo(2 * f + 1000 * n);
            }
        }
    }

    /**
     * Steps of ±(2⁶³ − 1) and −2⁶³ take the first element from start only (ONNX's arithmetic is int64; the count of
     * elements must not overflow): x[:, last], x[:, first] of axis 2.
     */
    @Test
    void theLargestStepsTakeOneElement() throws IOException {
        for (long step : new long[] {-Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE}) {
            boolean back = step < 0;
            GraphProto.Builder g = GraphProto.newBuilder()
                    .addInitializer(Onnx.int64s("starts", new long[] {back ? -1 : 0}, 1))
                    .addInitializer(Onnx.int64s("ends", new long[] {back ? Long.MIN_VALUE : Long.MAX_VALUE}, 1))
                    .addInitializer(Onnx.int64s("axes", new long[] {2}, 1))
                    .addInitializer(Onnx.int64s("steps", new long[] {step}, 1))
                    .addNode(node("Slice", "s", new String[] {"x", "starts", "ends", "axes", "steps"},
                            new String[] {"y"}));
            try (Tensor y = run(g, 13)) {
                assertThat(y.shape()).as("step %d", step).containsExactly(2, S[0], 1, S[2]);
                int j = back ? S[1] - 1 : 0;
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < S[0]; i++) {
                        for (int k = 0; k < S[2]; k++) {
                            assertThat(y.get(n, i, 0, k)).as("step %d", step).isEqualTo(x(n, i, j, k));
                        }
                    }
                }
            }
        }
    }

    /**
     * A reversal of axis 1 with a step of 2⁶³ − 1 from index 1 of axis 2, traced on x and evaluated at import on an
     * int64 C = flat (where stepping j += step past the end overflowed to a negative index): both x[:, ::-1, 1:2] and
     * C's, y = x' + Cast(C').
     */
    @Test
    void aLargestStepBesideANegativeOneIsOneElementAtImportToo() throws IOException {
        long[] c = new long[S[0] * S[1] * S[2]];
        for (int i = 0; i < c.length; i++) {
            c[i] = i;
        }
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("C", c, 1, S[0], S[1], S[2]))
                .addInitializer(Onnx.int64s("starts", new long[] {-1, 1}, 2))
                .addInitializer(Onnx.int64s("ends", new long[] {Long.MIN_VALUE, Long.MAX_VALUE}, 2))
                .addInitializer(Onnx.int64s("axes", new long[] {1, 2}, 2))
                .addInitializer(Onnx.int64s("steps", new long[] {-1, Long.MAX_VALUE}, 2))
                .addNode(node("Slice", "sx", new String[] {"x", "starts", "ends", "axes", "steps"},
                        new String[] {"sx"}))
                .addNode(node("Slice", "sc", new String[] {"C", "starts", "ends", "axes", "steps"},
                        new String[] {"sc"}))
                .addNode(node("Cast", "cf", new String[] {"sc"}, new String[] {"cf"}, Onnx.attr("to", DOUBLE)))
                .addNode(node("Add", "add", new String[] {"sx", "cf"}, new String[] {"y"}));
        try (Tensor y = run(g, 13)) {
            assertThat(y.shape()).containsExactly(2, S[0], 1, S[2]);
            for (int n = 0; n < 2; n++) {
                for (int i = 0; i < S[0]; i++) {
                    for (int k = 0; k < S[2]; k++) {
                        assertThat(y.get(n, i, 0, k)).isEqualTo(x(n, S[0] - 1 - i, 1, k) + x(0, S[0] - 1 - i, 1, k));
                    }
                }
            }
        }
    }

    /**
     * A transposed x (held as a view of x) sliced backwards on two axes and reflect-padded on a third: y[n, a, b, c]
     * of t = x.transpose(0, 3, 1, 2) [N, 2, 3, 4], t[:, ::-1, :, -2::-2] (axis 1 reversed, axis 3 indices 2, 0),
     * then axis 2 reflected by 1 before and 2 after (indices 1 0 1 2 1 0).
     */
    @Test
    void backwardSlicesAndReflectionsOfATransposedValueFollowItsAxes() throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("starts", new long[] {-1, -2}, 2))
                .addInitializer(Onnx.int64s("ends", new long[] {Long.MIN_VALUE, -5}, 2))
                .addInitializer(Onnx.int64s("axes", new long[] {1, 3}, 2))
                .addInitializer(Onnx.int64s("steps", new long[] {-1, -2}, 2))
                .addInitializer(Onnx.int64s("pads", new long[] {0, 0, 1, 0, 0, 0, 2, 0}, 8))
                .addNode(node("Transpose", "t", new String[] {"x"}, new String[] {"t"}, Onnx.ints("perm", 0, 3, 1, 2)))
                .addNode(node("Slice", "s", new String[] {"t", "starts", "ends", "axes", "steps"},
                        new String[] {"s"}))
                .addNode(node("Pad", "p", new String[] {"s", "pads"}, new String[] {"y"},
                        Onnx.string("mode", "reflect")));
        try (Tensor y = run(g, 13)) {
            assertThat(y.shape()).containsExactly(2, 2, 6, 2);
            int[] axis2 = {1, 0, 1, 2, 1, 0};
            int[] axis3 = {2, 0};
            for (int n = 0; n < 2; n++) {
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 6; b++) {
                        for (int c = 0; c < 2; c++) {
                            // t[n, k, i, j] = x[n, i, j, k]
                            assertThat(y.get(n, a, b, c)).isEqualTo(x(n, axis2[b], axis3[c], 1 - a));
                        }
                    }
                }
            }
        }
    }

    /**
     * Opset 18's axes input, a negative axis among them, with reflect: pads [b(−1), b(1), e(−1), e(1)] =
     * [1, 2, 0, −1] reflect axis 3 (size 2) by 1 before and axis 1 (size 3) by 2 before, cropping 1 after: as
     * np.pad then a crop.
     */
    @Test
    void opset18AxesWithANegativeAxisPadTheAxesNamed() throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("pads", new long[] {1, 2, 0, -1}, 4))
                .addInitializer(Onnx.int64s("axes", new long[] {-1, 1}, 2))
                .addNode(node("Pad", "p", new String[] {"x", "pads", "", "axes"}, new String[] {"y"},
                        Onnx.string("mode", "reflect")));
        try (Tensor y = run(g, 18)) {
            assertThat(y.shape()).containsExactly(2, 4, S[1], 3);
            int[] axis1 = {2, 1, 0, 1}; // reflect [0 1 2] by 2 before: 2 1 0 1 2, less the last
            int[] axis3 = {1, 0, 1};
            for (int n = 0; n < 2; n++) {
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < S[1]; j++) {
                        for (int k = 0; k < 3; k++) {
                            assertThat(y.get(n, i, j, k)).isEqualTo(x(n, axis1[i], j, axis3[k]));
                        }
                    }
                }
            }
        }
    }
}
