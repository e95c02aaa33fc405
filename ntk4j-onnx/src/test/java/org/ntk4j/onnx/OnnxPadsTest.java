package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Padding other than with zeros and reversals, as PyTorch 1.13 exports them ({@code torch_onnx_pads.py}, float64
 * modules and inputs, a dynamic batch axis, at opsets 11, 13 and 17): {@code nn.ReflectionPad1d/2d} and
 * {@code F.pad(mode='reflect')} (Pad mode 'reflect': asymmetric, on several axes, by size − 1),
 * {@code nn.ReplicationPad1d/2d} and {@code F.pad(mode='replicate')} ('edge'), {@code nn.ConstantPad1d/2d} and
 * {@code F.pad(value=v)} ('constant' with v ≠ 0, the channel axis too), of the input, of a convolution's output
 * (held channels-last) and of a parameter; {@code torch.flip} (Slice with steps −1) of the input along one and two
 * axes, of a convolution's output, of parameters (values that do not depend on x, one of them a linear layer's
 * weight); a flip of a value known at import (the exporter's reversal of F.pad's pads, in every pads model); and a
 * flip of the examples' axis, which mixes the examples. The
 * parameters are the module's, and the forward pass, the full eNTK on 3 inputs and the pNTK by each method equal
 * PyTorch's and its Jacobian's (torch.autograd.functional.jacobian) within 1e-12, relative.
 */
class OnnxPadsTest {
    private static final double TOLERANCE = 1e-12;
    private static final String[] SPECS = {"pads2d:11", "pads2d:13", "pads2d:17", "pads1d:13", "pads1d:17",
        "flips:11", "flips:13", "flips:17", "flipbatch:17"};
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_pads.py",
            "--model", String.join(",", SPECS));

    private static Path reference(String variant) throws IOException, InterruptedException {
        return EXPORTS.in(exports, variant);
    }

    /**
     * Structured derivatives keeps the parameters that meet x through the pads structured; the parameter k, padded
     * by replication (its edge elements used several times), goes through the dense fallback, exactly too.
     */
    @Test
    void reflectionReplicationAndConstantPadsOfTwoDimensionalValuesImportExactly() throws Exception {
        for (String variant : new String[] {"pads2d_11", "pads2d_13", "pads2d_17"}) {
            assertThat(padModes(variant)).as(variant).containsExactly("constant", "edge", "reflect");
            compare(variant, true, "4 of 5 parameters structured, 1 through per-example rows");
        }
    }

    @Test
    void reflectionReplicationAndConstantPadsOfOneDimensionalValuesImportExactly() throws Exception {
        for (String variant : new String[] {"pads1d_13", "pads1d_17"}) {
            assertThat(padModes(variant)).as(variant).containsExactly("constant", "edge", "reflect");
            compare(variant, true, "4 of 4 parameters structured");
        }
    }

    /**
     * The flips are Slices with steps −1 on values computed from x and on parameters, imported as slices and the
     * primitive rev, whose structure keeps the flipped parameters structured in structured derivatives (all 7: q
     * and p meet x elementwise, w in the linear layer's product).
     */
    @Test
    void flipsOfTheInputOfComputedValuesAndOfParametersImportExactly() throws Exception {
        for (String variant : new String[] {"flips_11", "flips_13", "flips_17"}) {
            assertThat(negativeSlices(variant)).as(variant).isEqualTo(6);
            compare(variant, true, "7 of 7 parameters structured, 0 through per-example rows");
        }
    }

    /** torch.flip(h, [0]) reads example N − 1 − n for example n: the examples mix, and the kernel is still exact. */
    @Test
    void aFlipOfTheExamplesMixesThemAndImportsExactly() throws Exception {
        assertThat(negativeSlices("flipbatch_17")).isEqualTo(1);
        compare("flipbatch_17", false, "runs as Jacobian contraction: the model mixes examples");
    }

    /** The modes of the file's Pad nodes. */
    private static Set<String> padModes(String variant) throws IOException, InterruptedException {
        Set<String> modes = new TreeSet<>();
        for (NodeProto n : OnnxModel.load(reference(variant).resolve("model.onnx")).graph().nodes) {
            if (n.getOpType().equals("Pad")) {
                modes.add(n.getAttributeList().stream().filter(a -> a.getName().equals("mode"))
                        .map(a -> a.getS().toStringUtf8()).findFirst().orElse("constant"));
            }
        }
        return modes;
    }

    /** The number of Slice nodes whose steps (an input the exporter writes as a Constant node) are negative. */
    private static int negativeSlices(String variant) throws IOException, InterruptedException {
        java.util.Map<String, Long> constants = new java.util.HashMap<>();
        int count = 0;
        for (NodeProto n : OnnxModel.load(reference(variant).resolve("model.onnx")).graph().nodes) {
            if (n.getOpType().equals("Constant")) {
                var t = n.getAttribute(0).getT();
                if (t.getInt64DataCount() >= 1) {
                    constants.put(n.getOutput(0), t.getInt64Data(0));
                } else if (t.getRawData().size() >= 8) {
                    constants.put(n.getOutput(0), java.nio.ByteBuffer.wrap(t.getRawData().toByteArray())
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
                }
            }
            if (n.getOpType().equals("Slice") && n.getInputCount() == 5
                    && constants.getOrDefault(n.getInput(4), 1L) < 0) {
                count++;
            }
        }
        return count;
    }

    /**
     * The parameters (names, count), the forward pass and the eNTK by each method against PyTorch's; structured
     * derivatives' estimate note starts with {@code sdNote}.
     */
    private static void compare(String variant, boolean independent, String sdNote)
            throws IOException, InterruptedException {
        Path dir = reference(variant);
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        TorchReference.assertParameters(onnx, dir, name -> true, variant);
        assertThat(onnx.independentExamples()).as(variant).isEqualTo(independent);
        try (Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Params params = onnx.params(DType.F64);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            Signal.assertVariesRelative(y, 1, TOLERANCE, "forward of " + variant);
            Signal.assertVariesRelative(k, 2, TOLERANCE, "eNTK of " + variant);
            assertThat(OnnxTorchTest.relativeError(f, y)).as("forward of %s", variant).isLessThan(TOLERANCE);
            // the pNTK (1/O) Σ_{a,b} K[n1, n2, a, b] of PyTorch's eNTK
            int n = k.dim(0);
            int o = k.dim(2);
            double[] pntk = new double[n * n];
            for (int i = 0; i < k.size(); i++) {
                pntk[i / (o * o)] += k.getFlat(i) / o;
            }
            for (Method m : METHODS) {
                EmpiricalNtk e = EmpiricalNtk.of(onnx.model(), params).method(m);
                try (Tensor ntk = e.traceAxes().ntk(x, null);
                     Tensor p = e.kernel(KernelKind.pntk(), x, null);
                     Tensor expected = Tensor.of(pntk, n, n)) {
                    assertThat(ntk.shape()).containsExactly(k.shape());
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("eNTK of %s by %s", variant, m)
                            .isLessThan(TOLERANCE);
                    assertThat(p.shape()).containsExactly(n, n);
                    assertThat(OnnxTorchTest.relativeError(p, expected)).as("pNTK of %s by %s", variant, m)
                            .isLessThan(TOLERANCE);
                }
            }
            int[] example = java.util.Arrays.copyOfRange(x.shape(), 1, x.rank());
            assertThat(new CostModel(onnx.model(), example, DType.F64, x.dim(0), 0, new int[0], new int[0])
                    .estimate(Method.STRUCTURED_DERIVATIVES).note()).as(variant).startsWith(sdNote);
        }
    }
}
