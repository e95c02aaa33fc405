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
            double[] want = new double[n * ROWS * 6];
            double[] kernel = new double[n * n];
            for (int e = 0; e < n; e++) {
                for (int r = 0; r < ROWS; r++) {
                    for (int j = 0; j < 6; j++) {
                        want[(e * ROWS + r) * 6 + j] = Math.sin(1.0 + r * V + Math.floorMod((int) ids[6 * e + j], V));
                    }
                }
                for (int b = 0; b < n; b++) {
                    for (int j = 0; j < 6; j++) {
                        kernel[e * n + b] += Math.floorMod((int) ids[6 * e + j], V)
                                == Math.floorMod((int) ids[6 * b + j], V) ? 1 / 6.0 : 0;
                    }
                }
            }
            // the forward pass is compared exactly, the kernel within 1e-12
            Signal.assertVariesAbsolute(want, n, Math.ulp(1.0), "forward");
            Signal.assertVariesAbsolute(kernel, n * n, 1e-12, "eNTK");
            for (int e = 0; e < n; e++) {
                for (int r = 0; r < ROWS; r++) {
                    for (int j = 0; j < 6; j++) {
                        assertThat(y.get(e, r, j)).isEqualTo(want[(e * ROWS + r) * 6 + j]);
                    }
                }
            }
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor k = EmpiricalNtk.of(onnx.model(), p).traceAxes(1, 2).method(m).ntk(x, null)) {
                    for (int a = 0; a < n; a++) {
                        for (int b = 0; b < n; b++) {
                            // the trace averages over the R · 6 outputs: the share of positions with equal ids
                            assertThat(k.get(a, b)).as("%s K[%d, %d]", m, a, b).isCloseTo(kernel[a * n + b],
                                    org.assertj.core.data.Offset.offset(1e-12));
                        }
                    }
                }
            }
        }
    }

    /** An nn.Embedding [vocab, 3] of ids [batch, 4], flattened and read out by W [12, 2]. */
    private Path embedding(int vocab) throws Exception {
        double[] table = new double[vocab * 3];
        for (int i = 0; i < table.length; i++) {
            table[i] = Math.sin(0.5 + i);
        }
        double[] w = new double[24];
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.cos(1.0 + 2 * i);
        }
        GraphProto g = GraphProto.newBuilder().setName("embedding")
                .addInput(info("ids", TensorProto.DataType.INT64_VALUE, "batch", 4))
                .addOutput(info("y", DOUBLE, "batch", 2))
                .addInitializer(doubles("table", table, vocab, 3))
                .addInitializer(doubles("w", w, 12, 2))
                .addNode(node("Gather", "gather", new String[] {"table", "ids"}, new String[] {"e"}))
                .addNode(node("Flatten", "flatten", new String[] {"e"}, new String[] {"h"}, attr("axis", 1)))
                .addNode(node("MatMul", "readout", new String[] {"h", "w"}, new String[] {"y"}))
                .build();
        return Onnx.write(dir.resolve("embedding" + vocab + ".onnx"), model(17, g));
    }

    /**
     * The full eNTK of y = flatten(T[ids]) · W (T [V, 3] gathered on axis 0, the structured-derivatives rule of the
     * table) by every method against its closed form in float64: Θ[n, m, a, b] = Σ_{l, l'} [id_nl ≡ id_ml'] Σ_d
     * W[3l + d, a] W[3l' + d, b] (the table) + [a = b] ⟨h_n, h_m⟩ (W), with h_n = flatten(T[ids_n]) and ids
     * counted mod V.
     */
    @Test
    void embeddingOnAxis0MatchesTheClosedFormKernelByEveryMethod() throws Exception {
        int vocab = 40;
        OnnxModel onnx = OnnxModel.load(embedding(vocab));
        double[] ids = {0, 39, -1, 7, 7, 3, -40, 12, 25, 0, 7, 39, 1, 2, 3, 4};
        int n = 4;
        try (Params p = onnx.params(DType.F64); Tensor x = Tensor.of(ids, n, 4)) {
            double[][] h = new double[n][12];
            for (int e = 0; e < n; e++) {
                for (int l = 0; l < 4; l++) {
                    int row = Math.floorMod((int) ids[4 * e + l], vocab);
                    for (int d = 0; d < 3; d++) {
                        h[e][3 * l + d] = Math.sin(0.5 + 3 * row + d);
                    }
                }
            }
            double[] expected = new double[n * n * 4];
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    for (int oa = 0; oa < 2; oa++) {
                        for (int ob = 0; ob < 2; ob++) {
                            double e = 0;
                            for (int l = 0; l < 4; l++) {
                                for (int l2 = 0; l2 < 4; l2++) {
                                    if (Math.floorMod((int) ids[4 * a + l], vocab)
                                            != Math.floorMod((int) ids[4 * b + l2], vocab)) {
                                        continue;
                                    }
                                    for (int d = 0; d < 3; d++) {
                                        e += Math.cos(1.0 + 2 * (2 * (3 * l + d) + oa))
                                                * Math.cos(1.0 + 2 * (2 * (3 * l2 + d) + ob));
                                    }
                                }
                            }
                            if (oa == ob) {
                                for (int c = 0; c < 12; c++) {
                                    e += h[a][c] * h[b][c];
                                }
                            }
                            expected[((a * n + b) * 2 + oa) * 2 + ob] = e;
                        }
                    }
                }
            }
            Signal.assertVariesAbsolute(expected, n * n, 1e-12, "eNTK");
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor k = EmpiricalNtk.of(onnx.model(), p).traceAxes().method(m).ntk(x, null)) {
                    assertThat(k.shape()).containsExactly(n, n, 2, 2);
                    for (int a = 0; a < n; a++) {
                        for (int b = 0; b < n; b++) {
                            for (int oa = 0; oa < 2; oa++) {
                                for (int ob = 0; ob < 2; ob++) {
                                    assertThat(k.get(a, b, oa, ob)).as("%s K[%d, %d, %d, %d]", m, a, b, oa, ob)
                                            .isCloseTo(expected[((a * n + b) * 2 + oa) * 2 + ob],
                                                    org.assertj.core.data.Offset.offset(1e-12));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * An id out of range (40 for V = 40) or not whole, unchecked, gives NaN, never a silent zero row: the forward
     * pass's row of that id and every method's kernel, which each method reports in one line.
     */
    @Test
    void anIdOutOfRangeIsReportedByEveryMethod() throws Exception {
        OnnxModel onnx = OnnxModel.load(embedding(40));
        for (double bad : new double[] {40, -41, 2.5}) {
            double[] ids = {0, 1, 2, 3, 4, 5, bad, 6};
            try (Params p = onnx.params(DType.F64); Tensor x = Tensor.of(ids, 2, 4);
                 Tensor y = onnx.model().apply(p, x)) {
                assertThat(y.get(0, 0)).isNotNaN();
                assertThat(y.get(1, 0)).as("id %s", bad).isNaN();
                for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {
                    assertThatThrownBy(() -> EmpiricalNtk.of(onnx.model(), p).traceAxes().method(m).ntk(x, null))
                            .as("%s, id %s", m, bad).isInstanceOf(org.ntk4j.ntk.NonFiniteKernelException.class);
                }
            }
        }
    }

    /**
     * The cost model prices the gather as what it runs: the forward pass's FLOPs and structured derivatives' do not
     * grow with the vocabulary (the one-hot product cost 2·N·L·V·D per pass, and its data Gram 2·(NL)²·V), and
     * the vector products' only by the parameter-sized vectors they carry (O(V·D) per vector, not N·L·V·D).
     */
    @Test
    void costModelFlopsDoNotScaleWithTheVocabularyTimesTheIds() throws Exception {
        int n = 8;
        double[][] flops = new double[2][];
        int[] vocabs = {40, 40_000};
        for (int i = 0; i < 2; i++) {
            OnnxModel onnx = OnnxModel.load(embedding(vocabs[i]));
            org.ntk4j.ntk.CostModel cm = new org.ntk4j.ntk.CostModel(onnx.model(), new int[] {4}, DType.F32, n, 0,
                    new int[0], new int[0]);
            flops[i] = new double[] {
                org.ntk4j.graph.GraphCost.flops(onnx.model().trace(n, new int[] {4}, DType.F32)),
                cm.estimate(Method.STRUCTURED_DERIVATIVES).flops(), cm.estimate(Method.NTK_VECTOR_PRODUCTS).flops()};
        }
        assertThat(flops[1][0]).as("forward").isEqualTo(flops[0][0]);
        assertThat(flops[1][1]).as("structured derivatives").isEqualTo(flops[0][1]);
        // the one-hot forward pass alone was 2·N·L·V·D = 7.7 MFLOP at V = 40000
        double oneHotPass = 2.0 * n * 4 * vocabs[1] * 3;
        assertThat(flops[1][2] - flops[0][2]).as("vector products").isLessThan(oneHotPass);
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
