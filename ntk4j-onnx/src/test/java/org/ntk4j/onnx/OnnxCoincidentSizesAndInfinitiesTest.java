package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Models that the import's own choices could misread, exported by torch 1.13 in float64 by
 * {@code torch_onnx_research.py} and checked against functorch's jacrev (forward pass and the eNTK by each exact
 * method, 1e-12 relative, float64): axes of 13, the size of the import's dry run, and ±∞ in a value the graph
 * computes.
 */
class OnnxCoincidentSizesAndInfinitiesTest {
    private static final double TOLERANCE = 1e-12;
    private static final String[] MODELS = {"sequence_expand13", "vit13", "fold13", "tril_inf"};

    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_research.py",
            "--model", specs());

    /** Every model at the exporter's default opset and at 17. */
    private static String specs() {
        List<String> specs = new ArrayList<>();
        for (String m : MODELS) {
            specs.add(m + "::dyn");
            specs.add(m + ":17:dyn");
        }
        return String.join(",", specs);
    }

    /** Exports every model at the exporter's default opset and at 17, in one Python process; once per class. */
    private static Path reference(String variant) throws IOException, InterruptedException {
        return EXPORTS.in(exports, variant);
    }

    /**
     * Position rows expanded to the sequence length x.shape[1] (Expand and Tile to a shape read from x's), with
     * sequences of 13, run on 13 examples: the dry run at 13 examples took the Expand for a class token broadcast to
     * the examples, and the model lost its independent examples (the rows' axis met the examples' as MIXED): its
     * kernels could not be computed in tiles or chunks ("the model mixes the examples of its batch").
     */
    @Test
    void aSequenceOfThirteenExpandedFromTheInputsShapeIsNotTakenForTheExamples() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            OnnxModel onnx = compareInFloat64(reference("sequence_expand13" + opset), true);
            assertThat(onnx.inputShape()).containsExactly(13, 4);
            try (Params params = onnx.params(DType.F64)) {
                assertThat(EmpiricalNtk.of(onnx.model(), params).tileable(onnx.inputShape(), DType.F64)).isTrue();
            }
        }
    }

    /**
     * A ViT of 13 tokens whose class token and position embeddings are both expanded to the batch, on 13 examples:
     * both broadcasts follow the examples, at every batch size.
     */
    @Test
    void aVitOfThirteenTokensFollowsTheExamplesAtEveryBatchSize() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("vit13" + opset), true);
            compareOnSubsetInFloat64(reference("vit13" + opset));
        }
    }

    /**
     * [N, 13, 8] reshaped to [13, 8 N] (sizes read from x), a softmax per row, and back: at the dry run's 13 examples
     * each row is one example, at any other count it mixes examples. The import called the examples independent
     * (which lets kernels be computed in chunks of the batch, each another function's); now it traces a second batch
     * size and sees the mix.
     */
    @Test
    void aReshapeThatKeepsExamplesApartOnlyAtThirteenExamplesMixesThem() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            OnnxModel onnx = compareInFloat64(reference("fold13" + opset), false);
            assertThat(onnx.independentExamples()).isFalse();
        }
    }

    /**
     * torch.tril of attention scores holding −∞ (masked_fill of keys by the data): ONNX's Trilu gives 0 above the
     * diagonal, −∞ included; its product with a 0/1 triangle gave NaN there.
     */
    @Test
    void triluOfAComputedValueHoldingInfinitiesGivesZerosOutsideTheTriangle() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("tril_inf" + opset), true);
        }
        OnnxModel onnx = OnnxModel.load(reference("tril_inf_17_dyn").resolve("model.onnx"));
        assertThat(onnx.graph().nodes.stream().map(n -> n.getOpType())).contains("Trilu", "Where");
    }

    /**
     * The parameters (names, count), whether the examples are independent, the forward pass and the eNTK by each
     * exact method, in float64, against PyTorch's and jacrev's.
     */
    private static OnnxModel compareInFloat64(Path dir, boolean independent) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        TorchReference.assertParameters(onnx, dir);
        assertThat(onnx.independentExamples()).as(dir.toString()).isEqualTo(independent);
        if (independent) {
            assertThat(OnnxTorchTest.valuesWithoutTheExampleAxisFirst(onnx, 13)).as(dir.toString()).isEmpty();
        }
        try (Params params = onnx.params(DType.F64);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            Signal.assertVariesRelative(y, 1, TOLERANCE, "forward of " + dir);
            Signal.assertVariesRelative(k, 2, TOLERANCE, "eNTK of " + dir);
            assertThat(OnnxTorchTest.relativeError(f, y)).as("forward of %s", dir).isLessThan(TOLERANCE);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.shape()).containsExactly(k.shape());
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("eNTK of %s by %s", dir, m)
                            .isLessThan(TOLERANCE);
                }
            }
        }
        return onnx;
    }

    /** K(X_3, X) of the first 3 examples against all 13 by each exact method: the first rows of jacrev's kernel. */
    private static void compareOnSubsetInFloat64(Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        try (Params params = onnx.params(DType.F64);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor first = org.ntk4j.cpu.Layout.sliceAxis(x, 0, 0, 3);
             Tensor rows = org.ntk4j.cpu.Layout.sliceAxis(k, 0, 0, 3)) {
            Signal.assertVariesRelative(rows, 2, TOLERANCE, "K(X_3, X) of " + dir);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(first, x)) {
                    assertThat(ntk.shape()).containsExactly(rows.shape());
                    assertThat(OnnxTorchTest.relativeError(ntk, rows)).as("K(X_3, X) of %s by %s", dir, m)
                            .isLessThan(TOLERANCE);
                }
            }
        }
    }
}
