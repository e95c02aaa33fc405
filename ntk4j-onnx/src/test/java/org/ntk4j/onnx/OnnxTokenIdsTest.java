package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.doubles;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.ints;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Token ids through the operators that move them (Cast to int32, Flatten) into a Gather on axis 1 of a table, then a
 * Transpose: a hand-built graph whose forward pass and eNTK have closed forms. The output
 * {@code y[n, r, j] = T[r, ids[n, j] mod V]} is linear in T, so the eNTK summed over the outputs is
 * {@code R · #{j : ids[n, j] ≡ ids[m, j] (mod V)}} (R = 4 rows, V = 5), and its trace (the mean over the R · 6
 * outputs) {@code #{...} / 6}.
 */
class OnnxTokenIdsTest {
    private static final int ROWS = 4;
    private static final int V = 5;

    @TempDir
    Path dir;

    private Path file(String gatherIndices) throws Exception {
        double[] table = new double[ROWS * V];
        for (int i = 0; i < table.length; i++) {
            table[i] = Math.sin(1.0 + i);
        }
        GraphProto g = GraphProto.newBuilder().setName("ids")
                .addInput(info("ids", TensorProto.DataType.INT64_VALUE, "batch", 2, 3))
                .addOutput(info("y", DOUBLE, "batch", ROWS, 6))
                .addInitializer(doubles("table", table, ROWS, V))
                .addNode(node("Cast", "cast", new String[] {"ids"}, new String[] {"ids32"},
                        attr("to", TensorProto.DataType.INT32_VALUE)))
                .addNode(node("Flatten", "flatten", new String[] {"ids32"}, new String[] {"flat"}, attr("axis", 1)))
                .addNode(node("Neg", "negate", new String[] {"flat"}, new String[] {"negated"}))
                .addNode(node("Gather", "gather", new String[] {"table", gatherIndices}, new String[] {"g"},
                        attr("axis", 1)))
                .addNode(node("Transpose", "transpose", new String[] {"g"}, new String[] {"y"}, ints("perm", 1, 0, 2)))
                .build();
        return Onnx.write(dir.resolve(gatherIndices + ".onnx"), model(17, g));
    }

    @Test
    void idsThroughCastAndFlattenGatherOnAxis1ExactlyWithTheClosedFormKernel() throws Exception {
        OnnxModel onnx = OnnxModel.load(file("flat"));
        assertThat(onnx.idInput()).isTrue();
        assertThat(onnx.parameterNames()).containsExactly("table");
        assertThat(onnx.independentExamples()).isTrue();
        double[] ids = {0, 4, -1, 2, 2, -5, 3, 1, 0, 4, -3, 2, -2, -4, 1, 0, 0, 3};
        int n = 3;
        try (Params p = onnx.params(DType.F64); Tensor x = Tensor.of(ids, n, 2, 3);
             Tensor y = onnx.model().apply(p, x)) {
            onnx.checkIds("x", x);
            assertThat(y.shape()).containsExactly(n, ROWS, 6);
            for (int e = 0; e < n; e++) {
                for (int r = 0; r < ROWS; r++) {
                    for (int j = 0; j < 6; j++) {
                        int id = Math.floorMod((int) ids[6 * e + j], V);
                        assertThat(y.get(e, r, j)).isEqualTo(Math.sin(1.0 + r * V + id));
                    }
                }
            }
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor k = EmpiricalNtk.of(onnx.model(), p).traceAxes(1, 2).method(m).ntk(x, null)) {
                    for (int a = 0; a < n; a++) {
                        for (int b = 0; b < n; b++) {
                            int same = 0;
                            for (int j = 0; j < 6; j++) {
                                same += Math.floorMod((int) ids[6 * a + j], V) == Math.floorMod((int) ids[6 * b + j],
                                        V) ? 1 : 0;
                            }
                            // the trace averages over the R · 6 outputs
                            assertThat(k.get(a, b)).as("%s K[%d, %d]", m, a, b).isCloseTo(same / 6.0,
                                    org.assertj.core.data.Offset.offset(1e-12));
                        }
                    }
                }
            }
        }
    }

    /** Ids changed by arithmetic (-ids) are not followed to a Gather: refused in one line naming the node. */
    @Test
    void idsChangedByArithmeticBeforeTheGatherAreRefused() throws Exception {
        Path f = file("negated");
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": node 'gather' (Gather): input 1 (indices) must be known at import, but 'negated' "
                        + "is computed from the input x");
    }
}
