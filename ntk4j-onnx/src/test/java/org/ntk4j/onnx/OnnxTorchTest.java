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
 * Networks exported by PyTorch's ONNX exporter (torch 1.13) compute in ntk4j what they compute in PyTorch: the
 * forward pass within 1e-5 of PyTorch's (in float64) and the full eNTK on 3 inputs within 1e-5 (relative Frobenius
 * error, float32) of functorch's Jacobian contraction on the same module, by each of ntk4j's three methods; each
 * reference varies across the examples by at least 100 times its tolerance ({@link Signal}).
 */
class OnnxTorchTest {
    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_reference.py",
            "--model", "mlp,transformer,cnn,ops,tied,activations");

    /** Exports every model in one Python process (importing torch takes seconds); once per class. */
    private static Path reference(String model) throws IOException, InterruptedException {
        return EXPORTS.in(exports, model);
    }

    @Test
    void mlpWithLayerNormAndGeluMatchesPyTorch() throws Exception {
        OnnxModel onnx = compare("mlp");
        // opset 17: LayerNormalization; exported Gemms keep the module's names
        assertThat(onnx.opset()).isEqualTo(17);
        assertThat(onnx.independentExamples()).isTrue();
    }

    @Test
    void transformerEncoderLayerMatchesPyTorch() throws Exception {
        OnnxModel onnx = compare("transformer");
        // opset 14: layer norm decomposed into ReduceMean/Sub/Pow/Sqrt/Div; attention reshapes by Shape/Gather
        assertThat(onnx.opset()).isEqualTo(14);
        assertThat(onnx.inputShape()).containsExactly(4, 8);
    }

    @Test
    void convolutionalNetworkInNchwMatchesPyTorch() throws Exception {
        OnnxModel onnx = compare("cnn");
        // the model takes PyTorch's layout: [channels, height, width]
        assertThat(onnx.inputShape()).containsExactly(3, 8, 7);
        assertThat(onnx.outputShape()).containsExactly(3);
        assertThat(onnx.independentExamples()).isTrue();
        // the three convolutions and the activations between them run channels-last: x is transposed to NHWC
        // once and back once (before the pooling); the other transposes are the filters' (OIHW -> HWIO)
        org.ntk4j.graph.Graph g = onnx.model().trace(2, onnx.inputShape(), DType.F32);
        long ofActivations = g.equations().stream()
                .filter(e -> e.primitive() instanceof org.ntk4j.primitive.Transpose && e.input(0).dim(0) == 2).count();
        long ofFilters = g.equations().stream()
                .filter(e -> e.primitive() instanceof org.ntk4j.primitive.Transpose && e.input(0).dim(0) != 2).count();
        assertThat(ofActivations).isEqualTo(2);
        assertThat(ofFilters).isEqualTo(3);
    }

    @Test
    void manyOperatorsAtOpsetElevenMatchPyTorch() throws Exception {
        // Split, Softmax, Pow, Neg, Exp, Log, stack, a stepped Slice, ReduceSum, Expand with the exporter's
        // ConstantOfShape/Equal/Where, Sqrt, Div, Reshape from Shape/Gather, ReduceMean, Squeeze, MatMul
        OnnxModel onnx = compare("ops");
        assertThat(onnx.opset()).isEqualTo(11);
        assertThat(onnx.parameterNames()).containsExactly("scale", "w", "lin.weight", "lin.bias");
    }

    @Test
    void aWeightSharedByMatMulAndGemmStaysOneParameterUnderConstantFolding() throws Exception {
        // exported with do_constant_folding=True: the file holds l.weight (for the Gemm) and its transpose
        // onnx::MatMul_N (for the MatMul); read as two parameters, the NTK would be another network's
        OnnxModel onnx = compare("tied");
        assertThat(onnx.parameterNames()).containsExactly("l.weight", "l.bias", "out.weight", "out.bias");
        assertThat(onnx.graph().initializers.keySet()).noneMatch(n -> n.startsWith("onnx::MatMul"));
    }

    @Test
    void otherActivationsPowersPaddingAndAveragePoolingWithItsDefaultsMatchPyTorch() throws Exception {
        // Elu, Selu, Celu, Softplus, HardSwish, HardSigmoid, PRelu, Abs, Pow 4 and -2 of values of both signs, Pad
        // (before AveragePool, and F.pad's, with a crop), the Slice with step -1 that reverses F.pad's pads, and
        // log_softmax (LogSoftmax) at the end
        OnnxModel onnx = compare("activations");
        java.util.Set<String> ops = new java.util.TreeSet<>();
        onnx.graph().nodes.forEach(n -> ops.add(n.getOpType()));
        assertThat(ops).contains("Elu", "Selu", "Celu", "Softplus", "HardSwish", "HardSigmoid", "PRelu", "Abs", "Pow",
                "Pad", "AveragePool", "LogSoftmax");
        assertThat(onnx.parameterNames()).contains("prelu.weight");
    }

    /**
     * The small networks' comparison: forward pass and eNTK within 1e-5. Their float32 errors are 3e-7 at most; the
     * eNTK's tolerance was 1e-4, which the CNN's kernel (its sigmoid features averaged over the map before the
     * head, nearly the same for every pair of inputs) varies by only 15 times: at 1e-5 it is 150 times.
     */
    private static OnnxModel compare(String model) throws IOException, InterruptedException {
        return compareAt(reference(model), 1e-5, 1e-5);
    }

    /**
     * Checks the export in {@code dir} (model.onnx, x.npy, y.npy in float64, k.npy, params.txt) against PyTorch: the
     * parameters' names and count, the forward pass (relative error below {@code forward}) and the eNTK by each exact
     * method (below {@code kernel}), each reference varying across examples (pairs) by at least
     * {@link Signal#MARGIN} times its tolerance.
     */
    static OnnxModel compareAt(Path dir, double forwardTolerance, double kernelTolerance) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        TorchReference.assertParameters(onnx, dir);
        // examples stay independent and first in every value the graph computes from x (PyTorch's attention
        // transposes and reshapes are held as views), which per-example paths and tiling need
        assertThat(onnx.independentExamples()).isTrue();
        assertThat(valuesWithoutTheExampleAxisFirst(onnx, 5)).isEmpty();
        try (Params params = onnx.params(DType.F32);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F32);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            Signal.assertVariesRelative(y, 1, forwardTolerance, "forward of " + dir.getFileName());
            Signal.assertVariesRelative(k, 2, kernelTolerance, "eNTK of " + dir.getFileName());
            double forward = relativeError(f, y);
            System.out.printf("%s: forward relative error %.2e%n", dir.getFileName(), forward);
            assertThat(forward).as("forward").isLessThan(forwardTolerance);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                long t0 = System.nanoTime();
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.size()).isEqualTo(k.size());
                    double e = relativeError(ntk, k);
                    System.out.printf("%s: eNTK by %s relative error %.2e (%.1f s)%n", dir.getFileName(), m, e,
                            (System.nanoTime() - t0) / 1e9);
                    assertThat(e).as("eNTK by %s", m).isLessThan(kernelTolerance);
                }
            }
        }
        return onnx;
    }

    /** The equations of the traced graph (batch n) whose output depends on x but does not have n rows first. */
    static java.util.List<String> valuesWithoutTheExampleAxisFirst(OnnxModel onnx, int n) {
        org.ntk4j.graph.Graph g = onnx.model().trace(n, onnx.inputShape(), DType.F32);
        java.util.Set<org.ntk4j.graph.Var> dependent = new java.util.HashSet<>();
        dependent.add(g.inputs().get(g.inputs().size() - 1));
        java.util.List<String> bad = new ArrayList<>();
        for (org.ntk4j.graph.Equation e : g.equations()) {
            if (e.inputs().stream().anyMatch(dependent::contains)) {
                dependent.add(e.output());
                if (e.output().rank() == 0 || e.output().dim(0) != n) {
                    bad.add(e.toString());
                }
            }
        }
        return bad;
    }

    /** ||a - b|| / ||b|| over the flattened elements. */
    static double relativeError(Tensor a, Tensor b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.size(); i++) {
            double d = a.getFlat(i) - b.getFlat(i);
            num += d * d;
            den += b.getFlat(i) * b.getFlat(i);
        }
        return Math.sqrt(num / den);
    }
}
