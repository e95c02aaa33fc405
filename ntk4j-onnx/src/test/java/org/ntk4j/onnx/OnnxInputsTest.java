package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Npz;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Models with several inputs, exported from PyTorch in float64 by the test resource {@code torch_onnx_inputs.py}: a
 * two-input MLP f(a, b), and an embedding + nn.TransformerEncoderLayer whose padding mask comes from an
 * attention_mask input (PyTorch writes it as Equal, Reshape, Expand, Cast to bool and Where(mask, -inf, 0)). The model
 * takes the inputs packed ({@link OnnxModel#pack}); its forward pass and its eNTK by each exact method equal PyTorch's
 * (functorch jacrev, float64) to 1e-12.
 */
class OnnxInputsTest {
    @TempDir
    static Path exports;
    private static boolean exported;

    private static synchronized Path reference(String model) throws IOException, InterruptedException {
        TorchReference.requireTorch();
        if (!exported) {
            TorchReference.run(exports, "torch_onnx_inputs.py", "--out", exports.toString());
            exported = true;
        }
        return exports.resolve(model);
    }

    @Test
    void twoInputMlpMatchesJacrevInFloat64() throws Exception {
        Path dir = reference("two");
        OnnxModel onnx = compareAt(dir);
        assertThat(onnx.inputNames()).containsExactly("a", "b");
        assertThat(onnx.packedInputs()).isTrue();
        assertThat(onnx.inputShape()).containsExactly(7);
        assertThat(onnx.inputShape("b")).containsExactly(2, 2);
        assertThat(onnx.idInput()).isFalse();
        // the packed layout: example e is [a[e] (3 values), b[e] flattened (4 values)]
        Map<String, Tensor> in = Npz.readTensors(dir.resolve("x.npz"), DType.F64);
        try (Tensor a = in.get("a"); Tensor b = in.get("b"); Tensor x = onnx.pack(Map.of("b", b, "a", a))) {
            assertThat(x.shape()).containsExactly(3, 7);
            for (int e = 0; e < 3; e++) {
                for (int j = 0; j < 3; j++) {
                    assertThat(x.get(e, j)).isEqualTo(a.get(e, j));
                }
                for (int j = 0; j < 4; j++) {
                    assertThat(x.get(e, 3 + j)).isEqualTo(b.get(e, j / 2, j % 2));
                }
            }
        }
    }

    @Test
    void encoderWithAPaddingMaskFromAnAttentionMaskInputMatchesJacrev() throws Exception {
        Path dir = reference("encoder");
        OnnxModel onnx = compareAt(dir);
        assertThat(onnx.inputNames()).containsExactly("input_ids", "attention_mask");
        assertThat(onnx.inputShape()).containsExactly(10);
        assertThat(onnx.idInput()).isTrue();
        assertThat(OnnxTorchTest.valuesWithoutTheExampleAxisFirst(onnx, 5)).isEmpty();
        java.util.Set<String> ops = new java.util.TreeSet<>();
        onnx.graph().nodes.forEach(n -> ops.add(n.getOpType()));
        assertThat(ops).contains("Where", "Equal", "Expand", "Cast");
        // each integer input is checked against its own tables: ids against the embedding's 11 rows, the mask
        // (which indexes none) only for whole numbers
        double[] row = {1, 2, 3, 4, 11, 1, 1, 1, 1, 1};
        try (Tensor x = Tensor.of(row, 1, 10)) {
            assertThatThrownBy(() -> onnx.checkIds("--data", x)).hasMessage("--data: input 'input_ids' of model.onnx "
                    + "holds token ids (int64); example 0 has id 11, out of range for the 11 rows of 'emb.weight' "
                    + "(ids -11 to 10)");
        }
        row[4] = 10;
        row[9] = 0.5;
        try (Tensor x = Tensor.of(row, 1, 10)) {
            assertThatThrownBy(() -> onnx.checkIds("--data", x)).hasMessage("--data: input 'attention_mask' of "
                    + "model.onnx holds token ids (int64); example 0 has 0.5, not a whole number");
        }
        row[9] = 20;
        try (Tensor x = Tensor.of(row, 1, 10)) {
            onnx.checkIds("--data", x);
        }
    }

    /**
     * A Hugging Face BERT's pattern with three integer inputs and a dynamic sequence axis (given by name): the extended
     * mask (1 - mask) · finfo.min, and token_type_ids indexing a table of 2 rows while input_ids index one of 13 (each
     * input's ids are checked against its own tables).
     */
    @Test
    void bertPatternWithTokenTypesAndAnExtendedAttentionMaskMatchesJacrev() throws Exception {
        Path dir = reference("bert");
        assertThatThrownBy(() -> OnnxModel.load(dir.resolve("model.onnx"))).hasMessageContaining("input 'input_ids' "
                + "axis 1 is dynamic ('seq')");
        OnnxModel onnx = compareAt(dir, OnnxModel.Options.defaults().inputShape("input_ids", 6)
                .inputShape("token_type_ids", 6).inputShape("attention_mask", 6));
        assertThat(onnx.inputNames()).containsExactly("input_ids", "token_type_ids", "attention_mask");
        double[] row = new double[18];
        row[0] = 12;
        row[6] = 1;
        try (Tensor x = Tensor.of(row, 1, 18)) {
            onnx.checkIds("x", x);
        }
        row[7] = 2;
        try (Tensor x = Tensor.of(row, 1, 18)) {
            assertThatThrownBy(() -> onnx.checkIds("x", x)).hasMessage("x: input 'token_type_ids' of model.onnx holds "
                    + "token ids (int64); example 0 has id 2, out of range for the 2 rows of 'token_type.weight' (ids "
                    + "-2 to 1)");
        }
    }

    @Test
    void packRefusesAMissingOrUnknownInputAnotherNumberOfExamplesOrShapeInOneLine() throws Exception {
        OnnxModel onnx = OnnxModel.load(reference("two").resolve("model.onnx"));
        try (Tensor a = Tensor.zeros(DType.F64, 3, 3); Tensor b = Tensor.zeros(DType.F64, 3, 2, 2);
             Tensor b2 = Tensor.zeros(DType.F64, 2, 2, 2); Tensor b4 = Tensor.zeros(DType.F64, 3, 4);
             Tensor nan = Tensor.full(DType.F64, Double.NaN, 3, 3)) {
            assertThatThrownBy(() -> onnx.pack(Map.of("a", a))).hasMessage("model.onnx: input 'b' is missing; the "
                    + "model's inputs are [a, b], given [a]");
            Map<String, Tensor> extra = new LinkedHashMap<>(Map.of("a", a, "b", b));
            extra.put("c", a);
            assertThatThrownBy(() -> onnx.pack(extra)).hasMessage("model.onnx: 'c' is not one of the model's inputs "
                    + "[a, b]");
            assertThatThrownBy(() -> onnx.pack(Map.of("a", a, "b", b2))).hasMessage("model.onnx: input 'b' has 2 "
                    + "examples, input 'a' has 3; every input needs one row per example");
            assertThatThrownBy(() -> onnx.pack(Map.of("a", a, "b", b4))).hasMessage("model.onnx: input 'b' takes "
                    + "examples of shape [2, 2], got [4] (an array of shape [3, 4])");
            assertThatThrownBy(() -> onnx.pack(Map.of("a", nan, "b", b))).hasMessage("model.onnx: input 'a' holds "
                    + "NaN in example 0");
        }
    }

    @Test
    void inputShapesAreGivenByNameForAModelWithSeveralInputs() throws Exception {
        Path f = reference("two").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(f, OnnxModel.Options.defaults().inputShape(3)))
                .hasMessage(f + ": the model has 2 inputs [a, b]; give each input's shape by name "
                        + "(OnnxModel.Options.inputShape)");
        assertThatThrownBy(() -> OnnxModel.load(f, OnnxModel.Options.defaults().inputShape("c", 3)))
                .hasMessage(f + ": an input shape is given for 'c', which is not one of the model's inputs [a, b]");
        assertThatThrownBy(() -> OnnxModel.load(f, OnnxModel.Options.defaults().inputShape("b", 4)))
                .hasMessageContaining("input 'b' has 2 axes after the batch axis, the input shape given has 1");
        assertThat(OnnxModel.load(f, OnnxModel.Options.defaults().inputShape("b", 2, 2)).inputShape())
                .containsExactly(7);
    }

    /**
     * Loads {@code dir}/model.onnx and checks, on the inputs of x.npz packed, the forward pass against y.npy and the
     * eNTK of each exact method against k.npy, in float64, to 1e-12 (relative to the largest entry).
     */
    private static OnnxModel compareAt(Path dir) throws IOException {
        return compareAt(dir, OnnxModel.Options.defaults());
    }

    private static OnnxModel compareAt(Path dir, OnnxModel.Options options) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"), options);
        assertThat(onnx.independentExamples()).isTrue();
        Map<String, Tensor> in = Npz.readTensors(dir.resolve("x.npz"), DType.F64);
        try (Params params = onnx.params(DType.F64); Tensor x = onnx.pack(in);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            assertThat(maxAbsDiff(f, y)).as("forward").isLessThan(1e-12 * maxAbs(y));
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.shape()).containsExactly(k.shape());
                    assertThat(maxAbsDiff(ntk, k)).as("eNTK by %s", m).isLessThan(1e-12 * maxAbs(k));
                }
            }
        } finally {
            in.values().forEach(Tensor::close);
        }
        return onnx;
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        double r = 0;
        for (int i = 0; i < b.size(); i++) {
            r = Math.max(r, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return r;
    }

    private static double maxAbs(Tensor a) {
        double r = 0;
        for (int i = 0; i < a.size(); i++) {
            r = Math.max(r, Math.abs(a.getFlat(i)));
        }
        return r;
    }
}
