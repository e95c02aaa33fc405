package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.FLOAT;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.doubles;
import static org.ntk4j.onnx.Onnx.floats;
import static org.ntk4j.onnx.Onnx.floatsRaw;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.StringStringEntryProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The import on small files built with the generated protobuf classes: a linear model whose forward pass and NTK
 * are known in closed form, every way of storing weights (typed fields, raw_data, external data), the choice of
 * parameters, and one clear message for each kind of bad file.
 */
class OnnxImportTest {
    private static final double[] W = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5};
    private static final float[] B = {0.5f, -1.25f};

    /** y = (x·W + b)·s with W [3, 2] float64 (double_data), b [2] float32 (raw_data), s a float64 scalar. */
    private static GraphProto.Builder linear(TensorProto w) {
        return GraphProto.newBuilder().setName("linear")
                .addInput(info("x", DOUBLE, "batch", 3))
                .addOutput(info("y", DOUBLE, "batch", 2))
                .addInitializer(w)
                .addInitializer(floatsRaw("b", B, 2))
                .addInitializer(doubles("s", new double[] {2.0}))
                .addNode(node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"xw"}))
                .addNode(node("Add", "add", new String[] {"xw", "b"}, new String[] {"z"}))
                .addNode(node("Mul", "scale", new String[] {"z", "s"}, new String[] {"y"}));
    }

    private static Path linearFile(Path dir) throws IOException {
        return Onnx.write(dir.resolve("linear.onnx"), model(13, linear(doubles("W", W, 3, 2)).build()));
    }

    private static Tensor inputs() {
        return Tensor.of(new double[] {1, 2, -1, 0.5, 0, 3, -2, 1, 1}, 3, 3);
    }

    private static double dot(Tensor x, int n, int m) {
        double s = 0;
        for (int i = 0; i < 3; i++) {
            s += x.get(n, i) * x.get(m, i);
        }
        return s;
    }

    @Test
    void linearModelComputesItsFormulaAtTheStoredWeights(@TempDir Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(linearFile(dir));
        // the scalar s is a constant; W and b (rank >= 1, computed with) are the parameters, in file order
        assertThat(onnx.parameterNames()).containsExactly("W", "b");
        assertThat(onnx.parameterCount()).isEqualTo(8);
        assertThat(onnx.inputShape()).containsExactly(3);
        assertThat(onnx.outputShape()).containsExactly(2);
        assertThat(onnx.independentExamples()).isTrue();
        try (Params p = onnx.params(DType.F64); Tensor x = inputs(); Tensor y = onnx.model().apply(p, x)) {
            for (int n = 0; n < 3; n++) {
                for (int o = 0; o < 2; o++) {
                    double e = B[o];
                    for (int i = 0; i < 3; i++) {
                        e += x.get(n, i) * W[i * 2 + o];
                    }
                    assertThat(y.get(n, o)).isCloseTo(2 * e, org.assertj.core.data.Offset.offset(1e-12));
                }
            }
        }
    }

    /**
     * In float32, finite float64 values beyond float32's range (float64's finfo.min) saturate to ±Float.MAX_VALUE
     * instead of rounding to ±∞; ±∞ and NaN stay as they are, values within the range round as usual, and float64
     * keeps every value.
     */
    @Test
    void float64ValuesBeyondFloat32sRangeSaturateAndInfinitiesStay() {
        double[] v = {-Double.MAX_VALUE, 1e39, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NaN, 0.1,
            -3.4028235e38};
        InitializerData d = InitializerData.read(doubles("c", v, 7), "initializer 'c'", null);
        double max = Float.MAX_VALUE;
        try (Tensor f = d.toTensor(DType.F32); Tensor g = d.toTensor(DType.F64)) {
            assertThat(f.dtype()).isEqualTo(DType.F32);
            assertThat(f.toDoubleArray()).containsExactly(-max, max, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY,
                    Double.NaN, (float) 0.1, -max);
            assertThat(g.toDoubleArray()).containsExactly(v);
        }
    }

    /** Θ(x_n, x_m)_{ac} = s² (x_n·x_m [W is a parameter] + 1 [b is]) δ_ac for y = (xW + b)s. */
    private static void assertLinearNtk(OnnxModel onnx, double wTerm, double bTerm, Method m) {
        try (Params p = onnx.params(DType.F64); Tensor x = inputs();
             Tensor k = EmpiricalNtk.of(onnx.model(), p).traceAxes().method(m).ntk(x, null)) {
            assertThat(k.shape()).containsExactly(3, 3, 2, 2);
            for (int n = 0; n < 3; n++) {
                for (int q = 0; q < 3; q++) {
                    for (int a = 0; a < 2; a++) {
                        for (int c = 0; c < 2; c++) {
                            double e = a == c ? 4 * (wTerm * dot(x, n, q) + bTerm) : 0;
                            assertThat(k.get(n, q, a, c)).as("%s at %d %d %d %d", m, n, q, a, c)
                                    .isCloseTo(e, org.assertj.core.data.Offset.offset(1e-10));
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS",
        "STRUCTURED_DERIVATIVES"})
    void ntkOfTheLinearModelIsTheClosedFormAndFreezingDropsTerms(Method m, @TempDir Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(linearFile(dir));
        assertLinearNtk(onnx, 1, 1, m);
        assertLinearNtk(onnx.freeze(Pattern.compile("^b$")), 1, 0, m);
        assertLinearNtk(onnx.paramsOnly(Pattern.compile("b")), 0, 1, m);
    }

    /**
     * y = (x·W) ⊙ exp(m) with m an initializer [−∞, 0] (a mask, as PyTorch's causal masks are buffers of −∞): m is
     * a constant, not a parameter, so y = [0, x·W₁] and Θ(x_n, x_q) = diag(0, x_n·x_q) by every method. With NaN
     * instead of −∞ (a broken weight, not a mask) m stays a parameter, and the kernel is refused naming it.
     */
    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS",
        "STRUCTURED_DERIVATIVES"})
    void anInitializerHoldingInfinityIsAConstantMaskAndOneHoldingNanStaysAParameter(Method method, @TempDir Path dir)
            throws IOException {
        for (double masked : new double[] {Double.NEGATIVE_INFINITY, Double.NaN}) {
            GraphProto g = GraphProto.newBuilder().setName("masked")
                    .addInput(info("x", DOUBLE, "batch", 3))
                    .addOutput(info("y", DOUBLE, "batch", 2))
                    .addInitializer(doubles("W", W, 3, 2))
                    .addInitializer(doubles("m", new double[] {masked, 0}, 2))
                    .addNode(node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"xw"}))
                    .addNode(node("Exp", "gate", new String[] {"m"}, new String[] {"e"}))
                    .addNode(node("Mul", "mask", new String[] {"xw", "e"}, new String[] {"y"}))
                    .build();
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("masked.onnx"), model(13, g)));
            if (Double.isNaN(masked)) {
                assertThat(onnx.parameterNames()).containsExactly("W", "m");
                try (Params p = onnx.params(DType.F64); Tensor x = inputs()) {
                    assertThatThrownBy(() -> EmpiricalNtk.of(onnx.model(), p).method(method).ntk(x, null))
                            .hasMessage("parameters: 'm' has a non-finite value (NaN) at flat index 0");
                }
                continue;
            }
            assertThat(onnx.parameterNames()).containsExactly("W");
            try (Params p = onnx.params(DType.F64); Tensor x = inputs(); Tensor y = onnx.model().apply(p, x);
                 Tensor k = EmpiricalNtk.of(onnx.model(), p).traceAxes().method(method).ntk(x, null)) {
                for (int n = 0; n < 3; n++) {
                    assertThat(y.get(n, 0)).isEqualTo(0.0);
                    double e = 0;
                    for (int i = 0; i < 3; i++) {
                        e += x.get(n, i) * W[i * 2 + 1];
                    }
                    assertThat(y.get(n, 1)).isCloseTo(e, org.assertj.core.data.Offset.offset(1e-12));
                    for (int q = 0; q < 3; q++) {
                        for (int a = 0; a < 2; a++) {
                            for (int c = 0; c < 2; c++) {
                                double expected = a == 1 && c == 1 ? dot(x, n, q) : 0;
                                assertThat(k.get(n, q, a, c)).as("%s at %d %d %d %d", method, n, q, a, c)
                                        .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-12));
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Trilu of x·W [N, 2] (torch.tril of a value whose rows are the examples): what example n keeps depends on its row
     * n in the batch, so the model mixes its examples; it was taken as one whose examples are independent, which lets
     * the kernel methods split the batch (into tiles, chunks) and gives another kernel than the whole batch's. Over
     * the last two axes of [N, 1, 2] the examples stay independent.
     */
    @Test
    void aTriangleOverTheExamplesAxisMixesTheExamples(@TempDir Path dir) throws IOException {
        for (boolean overExamples : new boolean[] {true, false}) {
            GraphProto.Builder g = GraphProto.newBuilder().setName("tril")
                    .addInput(info("x", DOUBLE, "batch", 3))
                    .addOutput(info("y", DOUBLE, "batch", 2))
                    .addInitializer(doubles("W", W, 3, 2))
                    .addNode(node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"xw"}));
            if (overExamples) {
                g.addNode(node("Trilu", "tril", new String[] {"xw"}, new String[] {"y"}, Onnx.attr("upper", 0)));
            } else {
                g.addInitializer(Onnx.int64s("one", new long[] {-1, 1, 2}, 3))
                        .addInitializer(Onnx.int64s("flat", new long[] {-1, 2}, 2))
                        .addNode(node("Reshape", "r", new String[] {"xw", "one"}, new String[] {"xw3"}))
                        .addNode(node("Trilu", "tril", new String[] {"xw3"}, new String[] {"t"}, Onnx.attr("upper", 0)))
                        .addNode(node("Reshape", "back", new String[] {"t", "flat"}, new String[] {"y"}));
            }
            OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("tril" + overExamples + ".onnx"), model(14,
                    g.build())));
            assertThat(onnx.independentExamples()).as("over the examples' axis: %s", overExamples)
                    .isEqualTo(!overExamples);
        }
    }

    @Test
    void freezeAndParamsOnlyNameThePatternWhenItMatchesNothingOrLeavesNothing(@TempDir Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(linearFile(dir));
        assertThat(onnx.freeze(Pattern.compile("W")).parameterNames()).containsExactly("b");
        assertThat(onnx.weightNames()).containsExactly("W", "b");
        assertThatThrownBy(() -> onnx.freeze(Pattern.compile("conv")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("freeze 'conv' matches none of the parameters [W, b]");
        assertThatThrownBy(() -> onnx.freeze(Pattern.compile(".")))
                .hasMessageContaining("freeze '.' leaves no parameter");
        assertThatThrownBy(() -> onnx.paramsOnly(Pattern.compile("bias")))
                .hasMessageContaining("params-only 'bias' matches none of the parameters [W, b]");
    }

    @Test
    void parametersRoundTripThroughAParameterFileUnderTheirOnnxNames(@TempDir Path dir) throws IOException {
        // exporter-made names carry ':' and '.'; an .npz keeps them (what --params-out / --params-in will use)
        GraphProto g = linear(doubles("onnx::MatMul_17", W, 3, 2)).setNode(0,
                node("MatMul", "mm", new String[] {"x", "onnx::MatMul_17"}, new String[] {"xw"})).build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("named.onnx"), model(13, g)));
        assertThat(onnx.parameterNames()).containsExactly("onnx::MatMul_17", "b");
        Path file = dir.resolve("p.npz");
        try (Params p = onnx.params(DType.F64)) {
            org.ntk4j.io.ParamsFile.save(p, file);
        }
        try (Params back = org.ntk4j.io.ParamsFile.load(file, onnx.model(), onnx.inputShape(), DType.F64)) {
            assertThat(back.tensors().keySet()).containsExactly("onnx::MatMul_17", "b");
            assertThat(back.get("onnx::MatMul_17").toDoubleArray()).containsExactly(W);
        }
    }

    @Test
    void weightsReadTheSameFromTypedFieldsRawDataAndExternalDataRelativeToTheModel(@TempDir Path dir)
            throws IOException {
        float[] wf = new float[W.length];
        for (int i = 0; i < W.length; i++) {
            wf[i] = (float) W[i];
        }
        Path typed = Onnx.write(dir.resolve("typed.onnx"), model(13, linear(floats("W", wf, 3, 2)).build()));
        Path raw = Onnx.write(dir.resolve("raw.onnx"), model(13, linear(floatsRaw("W", wf, 3, 2)).build()));
        // external: 16 bytes of something else, then W as little-endian float64, in a file beside the model
        Path sub = Files.createDirectories(dir.resolve("model"));
        ByteBuffer bytes = ByteBuffer.allocate(16 + 8 * W.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(-1L).putLong(-1L);
        for (double v : W) {
            bytes.putDouble(v);
        }
        Files.write(sub.resolve("weights.bin"), bytes.array());
        TensorProto ext = TensorProto.newBuilder().setName("W").setDataType(DOUBLE).addDims(3).addDims(2)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("weights.bin"))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue("16"))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue("48")).build();
        Path external = Onnx.write(sub.resolve("external.onnx"), model(13, linear(ext).build()));
        for (Path f : new Path[] {typed, raw, external}) {
            try (Params p = OnnxModel.load(f).params(DType.F64)) {
                assertThat(p.get("W").toDoubleArray()).as(f.toString()).containsExactly(W);
                assertThat(p.get("b").toDoubleArray()).containsExactly(0.5, -1.25);
            }
        }
        Files.delete(sub.resolve("weights.bin"));
        assertThatThrownBy(() -> OnnxModel.load(external)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("initializer 'W': external data file " + sub.resolve("weights.bin")
                        + " does not exist (locations are relative to the model's folder)");
    }

    @Test
    void truncatedAndNonOnnxFilesAreRefusedInOneLine(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(linearFile(dir));
        for (int cut : new int[] {good.length / 2, good.length - 3, 5}) {
            Path f = dir.resolve("cut" + cut + ".onnx");
            Files.write(f, Arrays.copyOf(good, cut));
            assertThatThrownBy(() -> OnnxModel.load(f)).as("cut at %d of %d", cut, good.length)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(f + ": not a")
                    .hasMessageContaining("truncated");
        }
        Path text = Files.writeString(dir.resolve("notes.onnx"), "this is not a model\n");
        assertThatThrownBy(() -> OnnxModel.load(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(text + ": not a").hasMessageContaining("another format");
        Path missing = dir.resolve("absent.onnx");
        assertThatThrownBy(() -> OnnxModel.load(missing)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(missing + ": cannot read the ONNX file");
    }

    @Test
    void anUnsupportedOperatorIsNamedWithItsNodeAndTheSupportedList(@TempDir Path dir) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 2, 4, 4)).addOutput(info("y", FLOAT, "N", 2, 2, 2))
                .addNode(node("LpPool", "features.pool1", new String[] {"x"}, new String[] {"y"},
                        Onnx.ints("kernel_shape", 2, 2), Onnx.ints("strides", 2, 2)))
                .build();
        Path f = Onnx.write(dir.resolve("pool.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": unsupported operator LpPool in node 'features.pool1' (LpPool); supported "
                        + "operators: " + String.join(", ", Operators.supported()))
                .hasMessageContaining("supported operators: Abs, Acos, Add, And, Asin, Atan, AveragePool, "
                        + "BatchNormalization, Cast, Ceil, Celu, Clip, Concat, Constant, ConstantOfShape, Conv");
        // an attribute value the import does not implement: the operator is refused the same way, naming it
        GraphProto dilated = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 2, 5, 5)).addOutput(info("y", FLOAT, "N", 2, 3, 3))
                .addNode(node("MaxPool", "pool", new String[] {"x"}, new String[] {"y"},
                        Onnx.ints("kernel_shape", 2, 2), Onnx.ints("strides", 2, 2), Onnx.ints("dilations", 2, 2)))
                .build();
        Path c = Onnx.write(dir.resolve("dilated.onnx"), model(13, dilated));
        assertThatThrownBy(() -> OnnxModel.load(c)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(c + ": unsupported operator MaxPool with dilations=[2, 2] (only 1) in node "
                        + "'pool' (MaxPool); supported operators: Abs, Acos, Add,");
    }

    /**
     * y = x·W + Mod(a, b) + ScatterND(zeros(6), indices, updates), the shape arithmetic and the mask building that
     * Swin's exports leave, evaluated at import on int64 constants and cast to double; af is a cast to double.
     */
    private static GraphProto.Builder modScatter(long fmod, String scatterData, String modA) {
        double[] w = new double[18];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0.25 * (i % 7) - 0.5;
        }
        org.ntk4j.onnx.proto.OnnxProtos.AttributeProto zero = org.ntk4j.onnx.proto.OnnxProtos.AttributeProto
                .newBuilder().setName("value").setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.AttributeType
                        .TENSOR).setT(Onnx.int64s("", new long[] {0}, 1)).build();
        return GraphProto.newBuilder().setName("static")
                .addInput(info("x", DOUBLE, "batch", 3))
                .addOutput(info("y", DOUBLE, "batch", 6))
                .addInitializer(doubles("W", w, 3, 6))
                .addInitializer(Onnx.int64s("a", new long[] {-7, 7, -7, 7, 5, 0}, 6))
                .addInitializer(Onnx.int64s("b", new long[] {3, 3, -3, -3, 5, 4}, 6))
                .addInitializer(Onnx.int64s("six", new long[] {6}, 1))
                .addInitializer(Onnx.int64s("idx", new long[] {4, -5, 4}, 3, 1))
                .addInitializer(Onnx.int64s("upd", new long[] {10, 20, 30}, 3))
                .addNode(node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"xw"}))
                .addNode(node("Cast", "af", new String[] {"a"}, new String[] {"af"}, attr("to", DOUBLE)))
                .addNode(node("Mod", "mod", new String[] {modA, "b"}, new String[] {"r"}, attr("fmod", fmod)))
                .addNode(node("ConstantOfShape", "zeros", new String[] {"six"}, new String[] {"z"}, zero))
                .addNode(node("ScatterND", "scatter", new String[] {scatterData, "idx", "upd"}, new String[] {"m"},
                        org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.newBuilder().setName("reduction")
                                .setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto.AttributeType.STRING)
                                .setS(com.google.protobuf.ByteString.copyFromUtf8("add")).build()))
                .addNode(node("Cast", "rd", new String[] {"r"}, new String[] {"rf"}, attr("to", DOUBLE)))
                .addNode(node("Cast", "md", new String[] {"m"}, new String[] {"mf"}, attr("to", DOUBLE)))
                .addNode(node("Add", "add1", new String[] {"xw", "rf"}, new String[] {"s"}))
                .addNode(node("Add", "add2", new String[] {"s", "mf"}, new String[] {"y"}));
    }

    @Test
    void modAndScatterNdOfConstantsAreEvaluatedAtImport(@TempDir Path dir) throws IOException {
        // fmod=0: the divisor's sign (Python's %); fmod=1: the dividend's (C's fmod). ScatterND with reduction add:
        // index -5 is 1, index 4 gets 10 + 30
        double[][] rem = {{2, 1, -1, -2, 0, 0}, {-1, 1, -1, 1, 0, 0}};
        double[] scattered = {0, 20, 0, 0, 40, 0};
        // fmod=1 of int64 and (a cast at import) of float64 values
        for (int c = 0; c < 3; c++) {
            int fmod = Math.min(c, 1);
            Path f = Onnx.write(dir.resolve("static" + c + ".onnx"),
                    model(17, modScatter(fmod, "z", c == 2 ? "af" : "a").build()));
            OnnxModel onnx = OnnxModel.load(f);
            assertThat(onnx.parameterNames()).containsExactly("W");
            try (Params p = onnx.params(DType.F64); Tensor x = inputs(); Tensor y = onnx.model().apply(p, x)) {
                for (int n = 0; n < 3; n++) {
                    for (int o = 0; o < 6; o++) {
                        double e = rem[fmod][o] + scattered[o];
                        for (int i = 0; i < 3; i++) {
                            e += x.get(n, i) * (0.25 * ((i * 6 + o) % 7) - 0.5);
                        }
                        assertThat(y.get(n, o)).isCloseTo(e, org.assertj.core.api.Assertions.within(1e-12));
                    }
                }
            }
        }
        // of values computed from x: refused at the node, in one line
        Path scatterX = Onnx.write(dir.resolve("scatterx.onnx"), model(17, modScatter(0, "xw", "a")
                .setInput(0, info("x", DOUBLE, "batch", 6)).setInitializer(0, doubles("W", new double[36], 6, 6))
                .build()));
        assertThatThrownBy(() -> OnnxModel.load(scatterX)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(scatterX + ": node 'scatter' (ScatterND): 'xw' is computed from the input x: a slice "
                        + "assignment to a value of the examples is not imported (one to a parameter's copy is; "
                        + "write it with torch.cat or torch.where instead)");
        Path modX = Onnx.write(dir.resolve("modx.onnx"), model(17, modScatter(1, "z", "xw")
                .setInput(0, info("x", DOUBLE, "batch", 6)).setInitializer(0, doubles("W", new double[36], 6, 6))
                .build()));
        assertThatThrownBy(() -> OnnxModel.load(modX)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(modX + ": unsupported operator Mod with inputs computed from the input x or "
                        + "the parameters (Mod is evaluated at import only) in node 'mod' (Mod)");
        // a floating remainder needs fmod=1, as ONNX says
        Path floatMod = Onnx.write(dir.resolve("floatmod.onnx"), model(17, modScatter(0, "z", "af").build()));
        assertThatThrownBy(() -> OnnxModel.load(floatMod)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(floatMod + ": node 'mod' (Mod): fmod=0 takes integers (ONNX: a floating Mod needs "
                        + "fmod=1), got 'af' and 'b'");

    }

    @Test
    void threeDimensionalConvolutionsAndPadsThatCannotBeImportedAreRefusedAtTheirNode(@TempDir Path dir)
            throws IOException {
        GraphProto conv3d = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 1, 3, 3, 3)).addOutput(info("y", FLOAT, "N", 2, 2, 2, 2))
                .addInitializer(floatsRaw("w", new float[16], 2, 1, 2, 2, 2))
                .addNode(node("Conv", "/0/Conv", new String[] {"x", "w"}, new String[] {"y"}))
                .build();
        Path c = Onnx.write(dir.resolve("conv3d.onnx"), model(13, conv3d));
        assertThatThrownBy(() -> OnnxModel.load(c)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(c + ": unsupported operator Conv with 3 spatial axes (a 3-D convolution; "
                        + "ntk4j's are 1-D and 2-D) in node '/0/Conv' (Conv); supported operators: Abs,");
        // opset 19's wrap mode (a circular pad) is not imported
        GraphProto wrap = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 2, 4)).addOutput(info("y", FLOAT, "N", 2, 6))
                .addInitializer(Onnx.int64s("pads", new long[] {0, 0, 1, 0, 0, 1}, 6))
                .addNode(node("Pad", "/pad", new String[] {"x", "pads"}, new String[] {"y"},
                        Onnx.string("mode", "wrap")))
                .build();
        Path r = Onnx.write(dir.resolve("wrap.onnx"), model(18, wrap));
        assertThatThrownBy(() -> OnnxModel.load(r)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(r + ": unsupported operator Pad with mode='wrap' (only 'constant', 'reflect' "
                        + "and 'edge') in node '/pad' (Pad); supported operators: Abs,");
        // a reflection of an axis's size or more has no elements to reflect (PyTorch refuses it too)
        GraphProto far = wrap.toBuilder().setNode(0, node("Pad", "/pad", new String[] {"x", "pads"},
                new String[] {"y"}, Onnx.string("mode", "reflect")))
                .setInitializer(0, Onnx.int64s("pads", new long[] {0, 0, 4, 0, 0, 0}, 6)).build();
        Path f = Onnx.write(dir.resolve("far.onnx"), model(13, far));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": node '/pad' (Pad): mode='reflect' pads axis 2 of size 4 by 4 (4 before, 0 after); "
                        + "a reflection adds at most size - 1 = 3 elements on each side");
        // the constant must be known at import
        GraphProto computed = wrap.toBuilder()
                .addNode(0, node("ReduceMean", "/mean", new String[] {"x"}, new String[] {"m"},
                        Onnx.attr("keepdims", 0)))
                .setNode(1, node("Pad", "/pad", new String[] {"x", "pads", "m"}, new String[] {"y"})).build();
        Path cv = Onnx.write(dir.resolve("computed.onnx"), model(13, computed));
        assertThatThrownBy(() -> OnnxModel.load(cv)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(cv + ": node '/pad' (Pad): input 2 (constant_value) must be known at import, but 'm' is "
                        + "computed from the input x");
        // padding the example axis would change the examples: refused, naming the node, in every mode
        for (String mode : new String[] {"constant", "edge"}) {
            GraphProto batch = wrap.toBuilder().setNode(0, node("Pad", "/pad", new String[] {"x", "pads"},
                    new String[] {"y"}, Onnx.string("mode", mode)))
                    .setInitializer(0, Onnx.int64s("pads", new long[] {1, 0, 1, 0, 0, 1}, 6)).build();
            Path b = Onnx.write(dir.resolve("batch.onnx"), model(13, batch));
            assertThatThrownBy(() -> OnnxModel.load(b)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(b + ": node '/pad' (Pad): pads the example axis 0 (1 before, 0 after); ntk4j "
                            + "computes on the examples given");
        }
    }

    @Test
    void aDynamicAxisBehindAFixedFirstAxisIsRefusedAsAnotherBatchAxis(@TempDir Path dir) throws IOException {
        // what torch.onnx.export writes for a sequence-first module (batch_first=False) with
        // dynamic_axes={'x': {1: 'batch'}}: axis 0 (the sequence) fixed, axis 1 dynamic; taking axis 0 as the
        // examples (as the plain dynamic-axis message's fix would) computes a kernel between sequence positions
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, 4, "batch", 8)).addOutput(info("y", FLOAT, 4, "batch", 8))
                .addNode(node("Tanh", "t", new String[] {"x"}, new String[] {"y"}))
                .build();
        Path f = Onnx.write(dir.resolve("seqfirst.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": input 'x' axis 1 is dynamic ('batch') while axis 0, which ntk4j takes as the "
                        + "examples' axis, is fixed at 4; if axis 1 is the batch (a sequence-first module, such as "
                        + "nn.TransformerEncoderLayer with batch_first=False), export the module batch-first; "
                        + "otherwise give the per-example input shape explicitly (OnnxModel.Options.inputShape, "
                        + "without the batch axis), or export with a fixed shape");
        // a shape given explicitly says axis 0 is the examples'
        assertThat(OnnxModel.load(f, OnnxModel.Options.defaults().inputShape(3, 8)).inputShape())
                .containsExactly(3, 8);
    }

    @Test
    void aDynamicAxisIsNamedWithTheFixAndTheExplicitShapeFixesIt(@TempDir Path dir) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("tokens", FLOAT, "batch", "features")).addOutput(info("y", FLOAT, "batch", "features"))
                .addNode(node("Tanh", "t", new String[] {"tokens"}, new String[] {"y"}))
                .build();
        Path f = Onnx.write(dir.resolve("dyn.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": input 'tokens' axis 1 is dynamic ('features') and the import needs static "
                        + "shapes; give the per-example input shape explicitly (OnnxModel.Options.inputShape, "
                        + "without the batch axis), or export with a fixed shape");
        OnnxModel m = OnnxModel.load(f, OnnxModel.Options.defaults().inputShape(5));
        assertThat(m.inputShape()).containsExactly(5);
        assertThat(m.outputShape()).containsExactly(5);
        // data of another per-example shape is refused by the model, naming the shapes
        try (Tensor x = Tensor.zeros(DType.F32, 2, 4); Params p = m.params(DType.F32)) {
            assertThatThrownBy(() -> m.model().apply(p, x)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(f + ": the model's input 'tokens' takes examples of shape [5] (its own layout), "
                            + "got [4]");
        }
    }

    /**
     * The clause for a fixed axis 0 of a three-axis input, which may be batch-first or sequence-first: the file does
     * not say which axis is the batch, so the fix for each.
     */
    private static String eitherAxis(String shape, int size) {
        return "; the file fixes axis 0 of input 'x' (" + shape + ") at " + size + ", which ntk4j takes as the "
                + "examples' axis, and ntk4j runs the model on batches of other sizes; the file does not say which "
                + "axis is the batch: if axis 0, export with dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}; if "
                + "axis 1 (a sequence-first module, such as nn.TransformerEncoderLayer with batch_first=False), "
                + "export the module batch-first";
    }

    /**
     * A refusal at import shows the examples' axis as N: the import traces a batch of 13 examples of its own, which
     * messages printed as [13, 4] (a size the user never gave); a run's own batch is N too.
     */
    @Test
    void refusalsAtImportShowTheExamplesAxisAsN(@TempDir Path dir) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, "batch", 4)).addOutput(info("y", DOUBLE, "batch", 3))
                .addInitializer(doubles("W", new double[15], 5, 3))
                .addNode(node("MatMul", "mm", new String[] {"x", "W"}, new String[] {"y"}))
                .build();
        Path f = Onnx.write(dir.resolve("inner.onnx"), model(17, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": node 'mm' (MatMul): MatMul of [N, 4] and [5, 3]: inner sizes differ");
        // the output's examples on axis 1: its shape with N where they are
        GraphProto moved = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, "batch", 4)).addOutput(info("y", DOUBLE, 4, "batch"))
                .addNode(node("Transpose", "t", new String[] {"x"}, new String[] {"y"}, Onnx.ints("perm", 1, 0)))
                .build();
        Path f2 = Onnx.write(dir.resolve("moved.onnx"), model(17, moved));
        assertThatThrownBy(() -> OnnxModel.load(f2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(f2 + ": the output 'y' has shape [4, N] for a batch of N examples; its first "
                        + "axis must be the examples'");
    }

    @Test
    void aBatchSizeWrittenIntoTheGraphIsReportedWithTheExportFix(@TempDir Path dir) throws IOException {
        // what torch.onnx.export writes for x.view(1, -1) without dynamic_axes: the example batch size 1
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, 1, 2, 3)).addOutput(info("y", FLOAT, 1, 6))
                .addInitializer(Onnx.int64s("shape", new long[] {1, -1}, 2))
                .addNode(node("Reshape", "view", new String[] {"x", "shape"}, new String[] {"y"}))
                .build();
        Path f = Onnx.write(dir.resolve("fixed.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": the output 'y' merges the examples' axis with another (6 values per example, on "
                        + "no axis of their own); its first axis must be "
                        + "the examples'" + eitherAxis("[1, 2, 3]", 1));
        // a target that cannot hold the batch at all is refused at its node, with the same fix
        GraphProto g2 = g.toBuilder().setInitializer(0, Onnx.int64s("shape", new long[] {1, 6}, 2)).build();
        Path f2 = Onnx.write(dir.resolve("fixed2.onnx"), model(13, g2));
        assertThatThrownBy(() -> OnnxModel.load(f2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f2 + ": node 'view' (Reshape): cannot reshape [N, 2, 3] to [1, 6]"
                        + eitherAxis("[1, 2, 3]", 1));
        // where a primitive refuses the shapes (PyTorch's x.view(x.size(0), -1) before a Gemm, exported with a
        // batch of 3): the node, the primitive's message, the cause and the fix
        GraphProto g4 = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, 3, 3, 3)).addOutput(info("y", DOUBLE, 3, 2))
                .addInitializer(Onnx.int64s("shape", new long[] {3, -1}, 2))
                .addInitializer(doubles("W", new double[18], 2, 9))
                .addNode(node("Reshape", "/view", new String[] {"x", "shape"}, new String[] {"v"}))
                .addNode(node("Gemm", "/l/Gemm", new String[] {"v", "W"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        Path f4 = Onnx.write(dir.resolve("fixed4.onnx"), model(13, g4));
        assertThatThrownBy(() -> OnnxModel.load(f4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(f4 + ": node '/l/Gemm' (Gemm): ")
                .hasMessageEndingWith(eitherAxis("[3, 3, 3]", 3))
                // the primitive's sizes that depend on the examples are written in N, not in the import's own batch
                // of 13 examples (they were: size 39): [3, -1] makes N examples of [3, 3] a [3, 3·N] matrix
                .hasMessageContaining("(size 3·N)")
                .satisfies(e -> assertThat(e.getMessage().substring(f4.toString().length())).doesNotContain("39"));
        // an input of two axes has its batch on axis 0: one fix
        GraphProto g5 = g4.toBuilder().setInput(0, info("x", DOUBLE, 3, 9))
                .setInitializer(0, Onnx.int64s("shape", new long[] {3, 9}, 2)).build();
        Path f5 = Onnx.write(dir.resolve("fixed5.onnx"), model(13, g5));
        assertThatThrownBy(() -> OnnxModel.load(f5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("; the file fixes the batch axis of input 'x' at 3 examples and ntk4j runs the "
                        + "model on batches of other sizes: export with dynamic_axes={'x': {0: 'batch'}, 'y': {0: "
                        + "'batch'}}");
        // an operator from another domain is named with its domain
        GraphProto g3 = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 4)).addOutput(info("y", FLOAT, "N", 4))
                .addNode(node("FastGelu", "g", new String[] {"x"}, new String[] {"y"}).toBuilder()
                        .setDomain("com.microsoft").build())
                .build();
        Path f3 = Onnx.write(dir.resolve("ms.onnx"), model(13, g3));
        assertThatThrownBy(() -> OnnxModel.load(f3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(f3 + ": unsupported operator com.microsoft.FastGelu in node 'g' (FastGelu); "
                        + "supported operators: Abs, Acos, Add,");
    }

    /** y = Gemm(x, A, transB) + MatMul(x, B) = x·Aᵀ + x·B, x [N, 3], A [2, 3], B [3, 2]. */
    private static Path sharedWeightFile(Path dir, String name, double[] a, double[] b) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 2))
                .addInitializer(doubles("l.weight", a, 2, 3)).addInitializer(doubles("onnx::MatMul_7", b, 3, 2))
                .addNode(node("Gemm", "gemm", new String[] {"x", "l.weight"}, new String[] {"g"}, attr("transB", 1)))
                .addNode(node("MatMul", "mm", new String[] {"x", "onnx::MatMul_7"}, new String[] {"m"}))
                .addNode(node("Add", "add", new String[] {"g", "m"}, new String[] {"y"}))
                .build();
        return Onnx.write(dir.resolve(name), model(13, g));
    }

    @Test
    void aMatrixThatIsTheTransposeOfAnotherIsOneParameterWithIt(@TempDir Path dir) throws IOException {
        // what PyTorch's constant folding writes for one Linear used as a Gemm and as a MatMul: the weight and its
        // transpose. One parameter A: y = 2 x·Aᵀ, so Θ(x1, x2) = 4 (x1·x2) I; two parameters would give 2 (x1·x2) I
        double[] a = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5};
        double[] at = {0.5, 0.25, -1.0, -0.75, 2.0, 1.5};
        OnnxModel tied = OnnxModel.load(sharedWeightFile(dir, "tied.onnx", a, at));
        assertThat(tied.parameterNames()).containsExactly("l.weight");
        assertThat(tied.parameterCount()).isEqualTo(6);
        try (Params p = tied.params(DType.F64); Tensor x = inputs();
             Tensor k = EmpiricalNtk.of(tied.model(), p).traceAxes().method(Method.STRUCTURED_DERIVATIVES)
                     .ntk(x, null)) {
            for (int n = 0; n < 3; n++) {
                for (int m = 0; m < 3; m++) {
                    for (int i = 0; i < 2; i++) {
                        for (int j = 0; j < 2; j++) {
                            assertThat(k.get(n, m, i, j)).isCloseTo(i == j ? 4 * dot(x, n, m) : 0,
                                    org.assertj.core.data.Offset.offset(1e-12));
                        }
                    }
                }
            }
        }
        // not a transpose (one element differs): two parameters, as the file says
        double[] near = at.clone();
        near[5] = 1.25;
        assertThat(OnnxModel.load(sharedWeightFile(dir, "untied.onnx", a, near)).parameterNames())
                .containsExactly("l.weight", "onnx::MatMul_7");
        // constant matrices are no evidence of a copy (two zero-initialised weights): left untied
        assertThat(OnnxModel.load(sharedWeightFile(dir, "zeros.onnx", new double[6], new double[6]))
                .parameterNames()).containsExactly("l.weight", "onnx::MatMul_7");
    }

    @Test
    void severalOutputsMustBeChosenByName(@TempDir Path dir) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", FLOAT, "N", 3)).addOutput(info("logits", FLOAT, "N", 3))
                .addOutput(info("probs", FLOAT, "N", 3))
                .addNode(node("Neg", "neg", new String[] {"x"}, new String[] {"logits"}))
                .addNode(node("Softmax", "sm", new String[] {"logits"}, new String[] {"probs"}, attr("axis", 1)))
                .build();
        Path f = Onnx.write(dir.resolve("two.onnx"), model(13, g));
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": the model has 2 outputs [logits, probs]; choose one by name "
                        + "(OnnxModel.Options.output)");
        assertThatThrownBy(() -> OnnxModel.load(f, OnnxModel.Options.defaults().output("loss")))
                .hasMessage(f + ": output 'loss' is not one of the model's outputs [logits, probs]");
        OnnxModel probs = OnnxModel.load(f, OnnxModel.Options.defaults().output("probs"));
        assertThat(probs.outputName()).isEqualTo("probs");
        try (Params p = probs.params(DType.F64); Tensor x = Tensor.of(new double[] {0, 0, Math.log(2)}, 1, 3);
             Tensor y = probs.model().apply(p, x)) {
            // softmax(-x) = [2, 2, 1] / 5
            assertThat(y.toDoubleArray()).containsExactly(new double[] {0.4, 0.4, 0.2},
                    org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    @Test
    void opsetEighteenTakesReduceAxesAsAnInputAndSplitsByNumOutputs(@TempDir Path dir) throws IOException {
        // y = b - mean(a) where [a | b] = Split(x, num_outputs=2) on axis 1 of x [N, 5]: a has 3 columns, b 2
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, "N", 5)).addOutput(info("y", DOUBLE, "N", 2))
                .addInitializer(Onnx.int64s("axes", new long[] {-1}, 1))
                .addNode(node("Split", "split", new String[] {"x"}, new String[] {"a", "b"}, attr("axis", 1),
                        attr("num_outputs", 2)))
                .addNode(node("ReduceMean", "mean", new String[] {"a", "axes"}, new String[] {"m"}))
                .addNode(node("Sub", "sub", new String[] {"b", "m"}, new String[] {"y"}))
                .build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("o18.onnx"), model(18, g)));
        assertThat(onnx.opset()).isEqualTo(18);
        try (Params p = onnx.params(DType.F64);
             Tensor x = Tensor.of(new double[] {1, 2, 6, 10, 20, -3, 0, 0, 1, 1}, 2, 5);
             Tensor y = onnx.model().apply(p, x)) {
            assertThat(y.shape()).containsExactly(2, 2);
            assertThat(y.toDoubleArray()).containsExactly(10 - 3, 20 - 3, 1 + 1, 1 + 1);
        }
    }

    @Test
    void anOpsetOutsideElevenToEighteenIsRefused(@TempDir Path dir) throws IOException {
        ModelProto m = model(9, linear(doubles("W", W, 3, 2)).build());
        Path f = Onnx.write(dir.resolve("old.onnx"), m);
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(f + ": opset 9 is not supported; ntk4j imports opsets 11 to 18 (export with an "
                        + "opset_version in that range: torch 1.13 writes up to 17; or convert the file with "
                        + "onnx.version_converter)");
    }

    /**
     * The sizes of a dry run's refusal that change with its batch are written as a·N + b (the line through both
     * traces); the others, the decimals and a message that differs elsewhere are left as they are.
     */
    @Test
    void examplesAxisAsNWritesTheSizesThatDependOnTheBatch() {
        assertThat(OnnxModel.examplesAxisAsN("a [13, 4] (size 117) of 2 by 27, 40 or 1.5", 13,
                "a [17, 4] (size 153) of 2 by 27, 52 or 1.5", 17))
                .isEqualTo("a [N, 4] (size 9·N) of 2 by 27, 3·N + 1 or 1.5");
        assertThat(OnnxModel.examplesAxisAsN("/tmp/junit-12219817618723209761 12 y", 13,
                "/tmp/junit-12219817618723209761 16 y", 17)).isEqualTo("/tmp/junit-12219817618723209761 N - 1 y");
        // not a whole multiple of the change of batch, or a message that differs in its words: unchanged
        assertThat(OnnxModel.examplesAxisAsN("x 13 y", 13, "x 15 y", 17)).isEqualTo("x 13 y");
        assertThat(OnnxModel.examplesAxisAsN("x 13 y", 13, "z 17 y", 17)).isEqualTo("x 13 y");
        assertThat(OnnxModel.examplesAxisAsN("x 13 y", 13, "x 17 y 1", 17)).isEqualTo("x 13 y");
        assertThat(OnnxModel.examplesAxisAsN("x 13 MiB 1.5", 13, "x 17 MiB 2.5", 17)).isEqualTo("x 13 MiB 1.5");
    }
}
