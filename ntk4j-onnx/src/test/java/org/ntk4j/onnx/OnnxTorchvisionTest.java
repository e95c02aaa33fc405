package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * torchvision's {@code resnet18(num_classes=10)} and {@code mobilenet_v2(num_classes=10)} on 32×32 inputs, in eval
 * mode with seeded random weights and batch-norm scales and shifts (ResNet-18 with random running statistics,
 * MobileNetV2 with its own, from 16 inputs: with random ones its output hardly depends on x), exported by torch 1.13
 * with {@code training=TrainingMode.PRESERVE, do_constant_folding=False} (BatchNormalization nodes kept): ntk4j's
 * float32 forward pass within 1e-5 (MobileNetV2: 5e-5, see there) of PyTorch's in float64 and full eNTK on 3 inputs
 * within 1e-4 (relative) of functorch's Jacobian contraction, by each exact method; each reference varies across
 * examples by thousands of times its tolerance ({@link Signal}). The default export, which fuses batch norm into the
 * convolutions, imports too, with the fused weights as its parameters.
 */
class OnnxTorchvisionTest {
    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torchvision(
            "torch_onnx_reference.py", "--model", "resnet18,resnet18_fused,mobilenet_v2");

    /** Exports the three models in one Python process (about 25 s, most of it functorch); once per class. */
    private static Path reference(String model) throws IOException, InterruptedException {
        return EXPORTS.in(exports, model);
    }

    private static long count(OnnxModel onnx, String op) {
        return onnx.graph().nodes.stream().map(NodeProto::getOpType).filter(op::equals).count();
    }

    @Test
    void resnet18WithBatchNormMatchesPyTorch() throws Exception {
        OnnxModel onnx = OnnxTorchTest.compareAt(reference("resnet18"), 1e-5, 1e-4);
        assertThat(onnx.opset()).isEqualTo(14);
        assertThat(onnx.inputShape()).containsExactly(3, 32, 32);
        assertThat(count(onnx, "BatchNormalization")).isEqualTo(20);
        assertThat(count(onnx, "MaxPool")).isEqualTo(1);
        // torchvision's 11,181,642 parameters at num_classes=10: convolutions, batch-norm scales and shifts, fc; the
        // running statistics are initializers the graph computes with, but constants
        assertThat(onnx.parameterCount()).isEqualTo(11_181_642L);
        assertThat(onnx.parameterNames()).contains("conv1.weight", "bn1.weight", "bn1.bias", "fc.weight")
                .noneMatch(n -> n.contains("running"));
        assertThat(onnx.weightNames()).noneMatch(n -> n.contains("running"));
    }

    @Test
    void mobilenetV2WithDepthwiseConvolutionsMatchesPyTorch() throws Exception {
        // forward within 5e-5: with its own running statistics (with random ones its outputs differed by 2e-7 between
        // inputs, and no comparison could see the path from x) each of its 52 batch norms divides by its
        // activations' spread, and float32 round-off grows along the depth: PyTorch's own float32 forward is 1.2e-5
        // from the float64 one of the same weights (200 units of round-off), ntk4j's 7.6e-6; 1e-5 would fail a
        // correct float32 forward on another BLAS kernel. 5e-5 is 4 times PyTorch's, and the output varies by 0.49
        // between inputs, 10^4 times the tolerance
        OnnxModel onnx = OnnxTorchTest.compareAt(reference("mobilenet_v2"), 5e-5, 1e-4);
        assertThat(onnx.opset()).isEqualTo(13);
        assertThat(count(onnx, "BatchNormalization")).isEqualTo(52);
        // 17 depthwise convolutions (group = channels) among the 52
        long grouped = onnx.graph().nodes.stream().filter(n -> n.getOpType().equals("Conv"))
                .filter(n -> n.getAttributeList().stream().anyMatch(a -> a.getName().equals("group") && a.getI() > 1))
                .count();
        assertThat(grouped).isEqualTo(17);
        assertThat(onnx.parameterCount()).isEqualTo(2_236_682L);
        assertThat(onnx.parameterNames()).noneMatch(n -> n.contains("running"));
    }

    @Test
    void defaultExportFusesBatchNormAndItsParametersAreTheFusedWeights() throws Exception {
        Path dir = reference("resnet18_fused");
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        // the same network and weights as "resnet18", exported the default way: no BatchNormalization node; each
        // convolution carries the folded weight w·γ/σ and bias β − μγ/σ, initializers the exporter names onnx::Conv_N
        assertThat(count(onnx, "BatchNormalization")).isZero();
        assertThat(count(onnx, "Conv")).isEqualTo(20);
        List<String> names = onnx.parameterNames();
        assertThat(names).hasSize(42).contains("fc.weight", "fc.bias").noneMatch(n -> n.contains("bn"));
        assertThat(names.stream().filter(n -> n.startsWith("onnx::Conv_")).count()).isEqualTo(40);
        // 20 convolution weights and 20 biases (one per output channel: 4,800) and fc; not the module's parameters
        assertThat(onnx.parameterCount()).isEqualTo(11_181_642L - 4_800 * 2 + 4_800);
        try (Params params = onnx.params(DType.F32);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F32);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            // the function is the module's (PyTorch's output for the unfused module)
            Signal.assertVariesRelative(y, 1, 1e-5, "forward of resnet18_fused");
            assertThat(OnnxTorchTest.relativeError(f, y)).isLessThan(1e-5);
        }
    }

    @Test
    void structuredDerivativesTreatEveryImportedResnetParameterStructurally() throws Exception {
        OnnxModel onnx = OnnxModel.load(reference("resnet18").resolve("model.onnx"));
        int p = onnx.parameterNames().size();
        assertThat(p).isEqualTo(62);
        CostModel.Estimate e = new CostModel(onnx.model(), onnx.inputShape(), DType.F32, 3, 0, new int[] {-1},
                new int[0]).estimate(Method.STRUCTURED_DERIVATIVES);
        // the estimate reports its count only in its note (CostModel has no typed accessor for it yet): every Conv
        // filter, Gemm weight and batch-norm scale/shift is structured, none goes through per-example rows
        assertThat(e.note()).contains(p + " of " + p + " parameters structured, 0 through per-example rows");
    }
}
