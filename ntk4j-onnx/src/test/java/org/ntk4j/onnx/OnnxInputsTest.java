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
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
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
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_inputs.py");

    private static Path reference(String model) throws IOException, InterruptedException {
        return EXPORTS.in(exports, model);
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

    /**
     * The BERT pattern's extended mask (1 - mask) · finfo(float64).min computed in float32: the float64 constant
     * −1.797e308 is beyond float32's range and saturates to −Float.MAX_VALUE (it rounded to −∞, and the kept
     * positions' 0 · −∞ made the kernel NaN). Forward and every method's eNTK in float32 equal jacrev's float64 ones
     * within 1e-5 (relative; float32 rounding), with no NaN.
     */
    @Test
    void bertExtendedMaskOfFloat64FinfoMinComputesInFloat32() throws Exception {
        Path dir = reference("bert");
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"), OnnxModel.Options.defaults()
                .inputShape("input_ids", 6).inputShape("token_type_ids", 6).inputShape("attention_mask", 6));
        Map<String, Tensor> in = Npz.readTensors(dir.resolve("x.npz"), DType.F32);
        try (Params params = onnx.params(DType.F32); Tensor x = onnx.pack(in);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.dtype()).isEqualTo(DType.F32);
            assertThat(f.firstNonFinite()).isNegative();
            Signal.assertVariesRelative(y, 1, 1e-5, "forward of bert");
            Signal.assertVariesRelative(k, 2, 1e-5, "eNTK of bert");
            assertThat(OnnxTorchTest.relativeError(f, y)).as("forward").isLessThan(1e-5);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.firstNonFinite()).as("eNTK by %s", m).isNegative();
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("eNTK by %s", m).isLessThan(1e-5);
                }
            }
        } finally {
            in.values().forEach(Tensor::close);
        }
    }

    /**
     * A bool input (PyTorch's own src_key_padding_mask, True at padding, given to the encoder as it is and negated by
     * Not for the mean): imported as 0 and 1 without derivative, read from NumPy bools in x.npz; its data is checked
     * for 0 and 1.
     */
    @Test
    void boolPaddingMaskInputMatchesJacrev() throws Exception {
        Path dir = reference("boolmask");
        Map<String, Tensor> in = Npz.readTensors(dir.resolve("x.npz"), DType.F64);
        try (Tensor mask = in.get("padding_mask"); Tensor ids = in.get("input_ids")) {
            // example 1 is padded at its last two positions: exactly 0 (False) and 1 (True)
            assertThat(new double[] {mask.get(1, 2), mask.get(1, 3), mask.get(1, 4)}).containsExactly(0, 1, 1);
        }
        OnnxModel onnx = compareAt(dir);
        assertThat(onnx.inputNames()).containsExactly("input_ids", "padding_mask");
        assertThat(OnnxTorchTest.valuesWithoutTheExampleAxisFirst(onnx, 5)).isEmpty();
        java.util.Set<String> ops = new java.util.TreeSet<>();
        onnx.graph().nodes.forEach(n -> ops.add(n.getOpType()));
        assertThat(ops).contains("Not", "Where");
        double[] row = {1, 2, 3, 4, 5, 0, 0, 0, 1, 1};
        try (Tensor x = Tensor.of(row, 1, 10)) {
            onnx.checkIds("--data", x);
        }
        row[9] = 2;
        try (Tensor x = Tensor.of(row, 1, 10)) {
            assertThatThrownBy(() -> onnx.checkIds("--data", x)).hasMessage("--data: input 'padding_mask' of "
                    + "model.onnx holds a mask (bool); example 0 has 2.0, not 0 or 1 (false or true)");
        }
    }

    /**
     * Casts to int64 of masks: {@code (attention_mask == 0).long()}, arithmetic on the mask cast to double then back
     * to int64 ((3 mask - 1).clamp(min=0)), and integer arithmetic of them with int64 constants (keep - 2 pad + 1),
     * cast to double as pooling weights: whole numbers without derivative, which the casts keep.
     */
    @Test
    void integerCastsOfMasksAndIntegerArithmeticOnThemMatchJacrev() throws Exception {
        Path dir = reference("longmask");
        OnnxModel onnx = compareAt(dir);
        long intCasts = onnx.graph().nodes.stream().filter(n -> n.getOpType().equals("Cast")
                && n.getAttribute(0).getI() == TensorProto.DataType.INT64_VALUE).count();
        assertThat(intCasts).isEqualTo(2);
        assertThat(onnx.graph().nodes.stream().map(n -> n.getOpType())).contains("Equal", "Clip", "Sub", "Mul");
    }

    /**
     * A cast to an integer type of a value that depends on the parameters (round(W x) is a step function of W, with
     * no derivative to take) is refused in one line saying so; one of a value computed from the float input alone,
     * not known to hold whole numbers, is refused saying that the import does not round.
     */
    @Test
    void integerCastsOfValuesThatAreNotMasksAreRefusedInOneLine() throws Exception {
        Path f = Onnx.write(exports.resolve("cast.onnx"), Onnx.model(17, GraphProto.newBuilder().setName("cast")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 3))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4, 5, 6}, 3, 2))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"x", "w"}, new String[] {"h"}))
                .addNode(Onnx.node("Cast", "to_long", new String[] {"h"}, new String[] {"hl"},
                        Onnx.attr("to", TensorProto.DataType.INT64_VALUE)))
                .addNode(Onnx.node("Cast", "to_double", new String[] {"hl"}, new String[] {"y"},
                        Onnx.attr("to", Onnx.DOUBLE)))
                .build()));
        assertThatThrownBy(() -> OnnxModel.load(f)).hasMessage(f + ": node 'to_long' (Cast): a cast to int64 of 'h', "
                + "which depends on the parameters, is not differentiable (rounding towards zero is a step function "
                + "of them); only whole numbers without derivative are cast to an integer type (comparisons, bool and "
                + "integer inputs, and what moving, adding, subtracting or multiplying them makes)");
        Path g = Onnx.write(exports.resolve("castx.onnx"), Onnx.model(17, GraphProto.newBuilder().setName("castx")
                .addInput(Onnx.info("x", Onnx.DOUBLE, "batch", 2))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4}, 2, 2))
                .addNode(Onnx.node("Cast", "to_long", new String[] {"x"}, new String[] {"xl"},
                        Onnx.attr("to", TensorProto.DataType.INT64_VALUE)))
                .addNode(Onnx.node("Cast", "to_double", new String[] {"xl"}, new String[] {"xd"},
                        Onnx.attr("to", Onnx.DOUBLE)))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"xd", "w"}, new String[] {"y"}))
                .build()));
        assertThatThrownBy(() -> OnnxModel.load(g)).hasMessage(g + ": node 'to_long' (Cast): a cast to int64 of 'x', "
                + "computed from the input alone but not known to hold whole numbers, rounds it towards zero, which "
                + "the import does not compute; only whole numbers without derivative are cast to an integer type "
                + "(comparisons, bool and integer inputs, and what moving, adding, subtracting or multiplying them "
                + "makes)");
    }

    /**
     * ONNX's Div of integers truncates ((mask == 0).long() / mask.long() would be 0 or 1, not a fraction): refused in
     * one line rather than divided in floating point; the same Div of the masks cast to double imports.
     */
    @Test
    void integerDivisionOfComputedValuesIsRefusedInOneLine() throws Exception {
        for (int to : new int[] {TensorProto.DataType.INT64_VALUE, Onnx.DOUBLE}) {
            Path f = Onnx.write(exports.resolve("div" + to + ".onnx"), Onnx.model(17, GraphProto.newBuilder()
                    .setName("div")
                    .addInput(Onnx.info("m", TensorProto.DataType.INT64_VALUE, "batch", 2))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                    .addInitializer(Onnx.int64s("two", new long[] {2}))
                    .addInitializer(Onnx.doubles("w", new double[] {1, 2, 3, 4}, 2, 2))
                    .addNode(Onnx.node("Add", "plus", new String[] {"m", "two"}, new String[] {"a"}))
                    .addNode(Onnx.node("Cast", "cast_a", new String[] {"a"}, new String[] {"ac"}, Onnx.attr("to", to)))
                    .addNode(Onnx.node("Cast", "cast_m", new String[] {"m"}, new String[] {"mc"}, Onnx.attr("to", to)))
                    .addNode(Onnx.node("Div", "ratio", new String[] {"mc", "ac"}, new String[] {"r"}))
                    .addNode(Onnx.node("Cast", "to_double", new String[] {"r"}, new String[] {"rd"},
                            Onnx.attr("to", Onnx.DOUBLE)))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"rd", "w"}, new String[] {"y"}))
                    .build()));
            if (to == Onnx.DOUBLE) {
                OnnxModel onnx = OnnxModel.load(f);
                // y = (m / (m + 2)) · w: for m = [1, 2], r = [1/3, 1/2]
                try (Params p = onnx.params(DType.F64); Tensor x = Tensor.of(new double[] {1, 2}, 1, 2);
                     Tensor y = onnx.model().apply(p, x)) {
                    assertThat(y.get(0, 0)).isCloseTo(1 / 3.0 + 3 / 2.0, org.assertj.core.data.Offset.offset(1e-15));
                    assertThat(y.get(0, 1)).isCloseTo(2 / 3.0 + 4 / 2.0, org.assertj.core.data.Offset.offset(1e-15));
                }
            } else {
                assertThatThrownBy(() -> OnnxModel.load(f)).hasMessage(f + ": node 'ratio' (Div): a division of "
                        + "integers ('mc' / 'ac') truncates towards zero, which the import does not compute; cast them "
                        + "to a floating type first");
            }
        }
    }

    /**
     * ONNX's ReduceMean of an integer type is of that type (ONNX Runtime divides the sum by the count in integers:
     * the mean of ids [1, 2] is 1, not 1.5): refused in one line rather than computed as a fraction; the same mean
     * of the ids cast to double imports and is the fraction.
     */
    @Test
    void aMeanOfIntegersIsRefusedInOneLineAndTheMeanOfTheirFloatingCastImports() throws Exception {
        for (int to : new int[] {TensorProto.DataType.INT64_VALUE, Onnx.DOUBLE}) {
            Path f = Onnx.write(exports.resolve("mean" + to + ".onnx"), Onnx.model(13, GraphProto.newBuilder()
                    .setName("mean")
                    .addInput(Onnx.info("ids", TensorProto.DataType.INT64_VALUE, "batch", 2))
                    .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                    .addInitializer(Onnx.doubles("w", new double[] {1, 2}, 1, 2))
                    .addNode(Onnx.node("Cast", "cast", new String[] {"ids"}, new String[] {"c"}, Onnx.attr("to", to)))
                    .addNode(Onnx.node("ReduceMean", "mean", new String[] {"c"}, new String[] {"m"},
                            Onnx.ints("axes", 1), Onnx.attr("keepdims", 1)))
                    .addNode(Onnx.node("Cast", "to_double", new String[] {"m"}, new String[] {"md"},
                            Onnx.attr("to", Onnx.DOUBLE)))
                    .addNode(Onnx.node("MatMul", "linear", new String[] {"md", "w"}, new String[] {"y"}))
                    .build()));
            if (to == Onnx.DOUBLE) {
                OnnxModel onnx = OnnxModel.load(f);
                // y = mean(ids) · w: for ids [1, 2], mean 1.5
                try (Params p = onnx.params(DType.F64); Tensor x = Tensor.of(new double[] {1, 2}, 1, 2);
                     Tensor y = onnx.model().apply(p, x)) {
                    assertThat(y.get(0, 0)).isEqualTo(1.5);
                    assertThat(y.get(0, 1)).isEqualTo(3.0);
                }
            } else {
                assertThatThrownBy(() -> OnnxModel.load(f)).hasMessage(f + ": node 'mean' (ReduceMean): a mean of "
                        + "integers ('c') is an integer in ONNX, the sum divided by the count and truncated towards "
                        + "zero, which the import does not compute; cast them to a floating type first");
            }
        }
        // int64 values selected by a mask from integer constants (torch.where(ids > 4, 3, 1)) are integers too
        Path w = Onnx.write(exports.resolve("meanwhere.onnx"), Onnx.model(13, GraphProto.newBuilder()
                .setName("meanwhere")
                .addInput(Onnx.info("ids", TensorProto.DataType.INT64_VALUE, "batch", 2))
                .addOutput(Onnx.info("y", Onnx.DOUBLE, "batch", 2))
                .addInitializer(Onnx.doubles("w", new double[] {1, 2}, 1, 2))
                .addInitializer(Onnx.int64s("four", new long[] {4}))
                .addInitializer(Onnx.int64s("three", new long[] {3}))
                .addInitializer(Onnx.int64s("one", new long[] {1}))
                .addNode(Onnx.node("Greater", "large", new String[] {"ids", "four"}, new String[] {"g"}))
                .addNode(Onnx.node("Where", "weights", new String[] {"g", "three", "one"}, new String[] {"c"}))
                .addNode(Onnx.node("ReduceMean", "mean", new String[] {"c"}, new String[] {"m"},
                        Onnx.ints("axes", 1), Onnx.attr("keepdims", 1)))
                .addNode(Onnx.node("Cast", "to_double", new String[] {"m"}, new String[] {"md"},
                        Onnx.attr("to", Onnx.DOUBLE)))
                .addNode(Onnx.node("MatMul", "linear", new String[] {"md", "w"}, new String[] {"y"}))
                .build()));
        assertThatThrownBy(() -> OnnxModel.load(w)).hasMessageStartingWith(w + ": node 'mean' (ReduceMean): a mean of "
                + "integers ('c') is an integer in ONNX");
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
            Signal.assertVariesAbsolute(y, 1, 1e-12 * maxAbs(y), "forward of " + dir.getFileName());
            Signal.assertVariesAbsolute(k, 2, 1e-12 * maxAbs(k), "eNTK of " + dir.getFileName());
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
