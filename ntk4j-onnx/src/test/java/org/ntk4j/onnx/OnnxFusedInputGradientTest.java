package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.doubles;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.ints;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The fused input gradient ({@code conv_input_grad_mul}, put in place in the per-example pass) on a channels-first
 * ONNX network: Conv (pads 1) → Relu → Conv (dilations 2, pads 2, the gradient on the unit-stride planes) → Relu →
 * ConvTranspose (a {@code conv_input_grad} in the forward pass itself) → Mul by a Constant [1, C, H, W] (a
 * multiplier of the gradient's full shape in the physical channels-last layout, M = 1) → Relu → grouped Conv
 * (group 2) → Relu → Conv (stride 2) → Flatten. Structured derivatives and Jacobian contraction (which read the
 * rewritten pass) equal NTK-vector products (which never do) in float64 to 1e-12, for x2 = x1 and another x2.
 */
class OnnxFusedInputGradientTest {
    private static double[] normal(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * scale;
        }
        return v;
    }

    @Test
    void channelsFirstDilatedAndTransposedConvolutionsAgreeAcrossMethods(@TempDir Path dir) throws IOException {
        Random r = new Random(17);
        AttributeProto constant = AttributeProto.newBuilder().setName("value")
                .setType(AttributeProto.AttributeType.TENSOR)
                .setT(doubles("sv", normal(r, 4 * 6 * 5, 1.0), 1, 4, 6, 5)).build();
        GraphProto g = GraphProto.newBuilder().setName("fused")
                .addInput(info("x", DOUBLE, "batch", 2, 6, 5))
                .addOutput(info("y", DOUBLE, "batch", 3 * 3 * 2))
                .addInitializer(doubles("W1", normal(r, 3 * 2 * 9, 0.5), 3, 2, 3, 3))
                .addInitializer(doubles("b1", normal(r, 3, 0.2), 3))
                .addInitializer(doubles("W2", normal(r, 4 * 3 * 9, 0.4), 4, 3, 3, 3))
                .addInitializer(doubles("W3", normal(r, 4 * 4 * 9, 0.3), 4, 4, 3, 3))
                .addInitializer(doubles("b3", normal(r, 4, 0.2), 4))
                .addInitializer(doubles("W4", normal(r, 4 * 2 * 9, 0.4), 4, 2, 3, 3))
                .addInitializer(doubles("W5", normal(r, 3 * 4 * 4, 0.4), 3, 4, 2, 2))
                .addNode(node("Conv", "c1", new String[] {"x", "W1", "b1"}, new String[] {"h1"},
                        ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1)))
                .addNode(node("Relu", "r1", new String[] {"h1"}, new String[] {"a1"}))
                .addNode(node("Conv", "c2", new String[] {"a1", "W2"}, new String[] {"h2"},
                        ints("kernel_shape", 3, 3), ints("pads", 2, 2, 2, 2), ints("dilations", 2, 2)))
                .addNode(node("Relu", "r2", new String[] {"h2"}, new String[] {"a2"}))
                .addNode(node("ConvTranspose", "t3", new String[] {"a2", "W3", "b3"}, new String[] {"h3"},
                        ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1)))
                .addNode(node("Constant", "sc", new String[0], new String[] {"s"}, constant))
                .addNode(node("Mul", "m3", new String[] {"h3", "s"}, new String[] {"g3"}))
                .addNode(node("Relu", "r3", new String[] {"g3"}, new String[] {"a3"}))
                .addNode(node("Conv", "c4", new String[] {"a3", "W4"}, new String[] {"h4"},
                        ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), attr("group", 2)))
                .addNode(node("Relu", "r4", new String[] {"h4"}, new String[] {"a4"}))
                .addNode(node("Conv", "c5", new String[] {"a4", "W5"}, new String[] {"h5"},
                        ints("kernel_shape", 2, 2), ints("strides", 2, 2)))
                .addNode(node("Flatten", "f", new String[] {"h5"}, new String[] {"y"}))
                .build();
        OnnxModel onnx = OnnxModel.load(Onnx.write(dir.resolve("fused.onnx"), model(13, g)));
        int[] in = {2, 6, 5};
        try (Params params = onnx.params(DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 3, Shapes.prepend(3, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(2, in))) {
            for (Tensor other : new Tensor[] {null, x2}) {
                try (Tensor vp = EmpiricalNtk.of(onnx.model(), params).method(Method.NTK_VECTOR_PRODUCTS)
                        .kernel(KernelKind.full(), x1, other)) {
                    assertThat(vp.shape()).containsExactly(3, other == null ? 3 : 2, 18, 18);
                    for (Method m : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION}) {
                        try (Tensor got = EmpiricalNtk.of(onnx.model(), params).method(m)
                                .kernel(KernelKind.full(), x1, other)) {
                            assertThat(OnnxTorchTest.relativeError(got, vp)).as("%s, x2 %s", m,
                                    other == null ? "= x1" : "of 2").isLessThan(1e-12);
                        }
                    }
                }
            }
        }
    }
}
