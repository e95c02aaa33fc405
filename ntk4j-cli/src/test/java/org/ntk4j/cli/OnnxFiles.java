package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.OperatorSetIdProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TypeProto;
import org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto;

/** Small ONNX files for the CLI's tests, written with the generated protobuf classes (no exporter needed). */
final class OnnxFiles {
    static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    /** W1 [3, 4] of the tanh MLP, row-major. */
    static final float[] W1 = {0.5f, -1f, 0.25f, 1.5f, -0.75f, 0.5f, 1f, -0.5f, 0.125f, 0.75f, -1.25f, 0.5f};
    static final float[] B1 = {0.1f, -0.2f, 0.3f};
    /** W2 [2, 3] of the tanh MLP. */
    static final float[] W2 = {1f, -0.5f, 0.75f, 0.25f, 1.25f, -1f};
    static final float[] B2 = {0.05f, -0.15f};

    private OnnxFiles() {
    }

    /** y = tanh(x W1ᵀ + b1) W2ᵀ + b2 on x [batch, 4]: parameters W1, b1, W2, b2 (38 scalars). */
    static Path mlp(Path file) throws IOException {
        return mlp(file, "Tanh");
    }

    /** {@link #mlp(Path)} with another element-wise activation (an ONNX op such as Sigmoid), the same parameters. */
    static Path mlp(Path file, String activation) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("mlp")
                .addInput(info("x", "batch", 4)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("W1", W1, 3, 4)).addInitializer(floats("b1", B1, 3))
                .addInitializer(floats("W2", W2, 2, 3)).addInitializer(floats("b2", B2, 2))
                .addNode(node("Gemm", "fc1", new String[] {"x", "W1", "b1"}, new String[] {"h"}, attr("transB", 1)))
                .addNode(node(activation, "act", new String[] {"h"}, new String[] {"a"}))
                .addNode(node("Gemm", "fc2", new String[] {"a", "W2", "b2"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        return write(file, g);
    }

    /** y = x Wᵀ + b on x [batch, 4], W [2, 4]: its eNTK (trace and pNTK alike) is x1·x2 + 1. */
    static Path linear(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("linear")
                .addInput(info("x", "batch", 4)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("W", new float[] {1, 2, 3, 4, -1, 0.5f, 0, 2}, 2, 4))
                .addInitializer(floats("b", new float[] {0.5f, -0.5f}, 2))
                .addNode(node("Gemm", "fc", new String[] {"x", "W", "b"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        return write(file, g);
    }

    /**
     * y = (x ⊙ exp(s)) Wᵀ + b on x [batch, 4]: the scale s [4] reaches the computation through exp, a path with no
     * structured rule (structured derivatives take it by per-example rows); W and b are structured.
     */
    static Path scaled(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("scaled")
                .addInput(info("x", "batch", 4)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("s", new float[] {0.1f, -0.2f, 0.3f, 0}, 4))
                .addInitializer(floats("W", new float[] {1, 2, 3, 4, -1, 0.5f, 0, 2}, 2, 4))
                .addInitializer(floats("b", new float[] {0.5f, -0.5f}, 2))
                .addNode(node("Exp", "exp", new String[] {"s"}, new String[] {"e"}))
                .addNode(node("Mul", "scale", new String[] {"x", "e"}, new String[] {"h"}))
                .addNode(node("Gemm", "fc", new String[] {"h", "W", "b"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        return write(file, g);
    }

    /** The linear model with its feature axis dynamic ('features'). */
    static Path dynamicFeatures(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("dyn")
                .addInput(info("x", "batch", "features")).addOutput(info("y", "batch", "features"))
                .addInitializer(floats("s", new float[] {2}, 1))
                .addNode(node("Mul", "scale", new String[] {"x", "s"}, new String[] {"y"}))
                .build();
        return write(file, g);
    }

    /** The linear model followed by an operator ntk4j does not import (Hardmax, in node 'pick'). */
    static Path unsupported(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("unsupported")
                .addInput(info("x", "batch", 4)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("W", new float[] {1, 2, 3, 4, -1, 0.5f, 0, 2}, 2, 4))
                .addNode(node("Transpose", "t", new String[] {"W"}, new String[] {"Wt"}))
                .addNode(node("MatMul", "fc", new String[] {"x", "Wt"}, new String[] {"h"}))
                .addNode(node("Hardmax", "pick", new String[] {"h"}, new String[] {"y"}))
                .build();
        return write(file, g);
    }

    /** The linear model with two outputs, 'y' and 'z' = tanh(y). */
    static Path twoOutputs(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("two")
                .addInput(info("x", "batch", 4)).addOutput(info("y", "batch", 2)).addOutput(info("z", "batch", 2))
                .addInitializer(floats("W", new float[] {1, 2, 3, 4, -1, 0.5f, 0, 2}, 2, 4))
                .addInitializer(floats("b", new float[] {0.5f, -0.5f}, 2))
                .addNode(node("Gemm", "fc", new String[] {"x", "W", "b"}, new String[] {"y"}, attr("transB", 1)))
                .addNode(node("Tanh", "act", new String[] {"y"}, new String[] {"z"}))
                .build();
        return write(file, g);
    }

    /**
     * Two inputs, a [N, 3] and b [N, 1, 2]: y = W2 tanh(Wa a + ba + Wb flatten(b)) + b2 (the Gemms transB), with
     * Wa [3, 3], ba [3], Wb [3, 2].
     */
    static Path twoInputs(Path file) throws IOException {
        GraphProto g = GraphProto.newBuilder().setName("two-inputs")
                .addInput(info("a", "batch", 3)).addInput(info("b", "batch", 1, 2)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("Wa", new float[] {0.5f, -1f, 0.25f, 1.5f, -0.75f, 0.5f, 1f, -0.5f, 0.125f},
                        3, 3))
                .addInitializer(floats("ba", B1, 3))
                .addInitializer(floats("Wb", new float[] {0.75f, -1.25f, 0.5f, 1f, -0.25f, 0.5f}, 3, 2))
                .addInitializer(floats("W2", W2, 2, 3)).addInitializer(floats("b2", B2, 2))
                .addNode(node("Gemm", "fa", new String[] {"a", "Wa", "ba"}, new String[] {"ha"}, attr("transB", 1)))
                .addNode(node("Flatten", "flat", new String[] {"b"}, new String[] {"bf"}, attr("axis", 1)))
                .addNode(node("Gemm", "fb", new String[] {"bf", "Wb"}, new String[] {"hb"}, attr("transB", 1)))
                .addNode(node("Add", "sum", new String[] {"ha", "hb"}, new String[] {"h"}))
                .addNode(node("Tanh", "act", new String[] {"h"}, new String[] {"t"}))
                .addNode(node("Gemm", "fc2", new String[] {"t", "W2", "b2"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        return write(file, g);
    }

    /**
     * y = flatten(x) Wᵀ + b on images x [batch, c, h, w] (a PyTorch export's NCHW input), W [2, c h w] of seeded
     * values: its pNTK is x1·x2 + 1 (flattened, the values in the file's own order).
     */
    static Path image(Path file, int c, int h, int w) throws IOException {
        int d = c * h * w;
        float[] weights = new float[2 * d];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (i % 7 - 3) * 0.25f;
        }
        GraphProto g = GraphProto.newBuilder().setName("image")
                .addInput(info("x", "batch", c, h, w)).addOutput(info("y", "batch", 2))
                .addInitializer(floats("W", weights, 2, d)).addInitializer(floats("b", B2, 2))
                .addNode(node("Flatten", "flat", new String[] {"x"}, new String[] {"f"}, attr("axis", 1)))
                .addNode(node("Gemm", "fc", new String[] {"f", "W", "b"}, new String[] {"y"}, attr("transB", 1)))
                .build();
        return write(file, g);
    }

    private static Path write(Path file, GraphProto g) throws IOException {
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("ntk4j-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        Files.write(file, m.toByteArray());
        return file;
    }

    /** A float tensor's value-info; a dimension given as a String is symbolic. */
    private static ValueInfoProto info(String name, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            TensorShapeProto.Dimension.Builder b = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String p) {
                b.setDimParam(p);
            } else {
                b.setDimValue((Integer) d);
            }
            s.addDim(b);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(FLOAT).setShape(s))).build();
    }

    private static TensorProto floats(String name, float[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(FLOAT);
        for (long d : dims) {
            t.addDims(d);
        }
        for (float x : v) {
            t.addFloatData(x);
        }
        return t.build();
    }

    private static NodeProto node(String op, String name, String[] in, String[] out, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name);
        for (String s : in) {
            n.addInput(s);
        }
        for (String s : out) {
            n.addOutput(s);
        }
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        return n.build();
    }

    private static AttributeProto attr(String name, long i) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(i).build();
    }

    /** Every entry of {@code actual} within {@code rel} times the largest |expected| of {@code expected}. */
    static void assertClose(double[] actual, double[] expected, double rel) {
        double scale = 0;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(actual[i] - expected[i])).as("entry %d: %s vs %s", i, actual[i], expected[i])
                    .isLessThanOrEqualTo(rel * scale);
        }
    }
}
