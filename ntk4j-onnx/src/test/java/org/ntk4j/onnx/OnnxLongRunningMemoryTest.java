package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.attr;
import static org.ntk4j.onnx.Onnx.doubles;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * An imported model computed for many batch sizes: a value the import computes from the batch size (here N itself,
 * from Shape/Gather/Cast) is a constant of the trace, closed with the plan that owns it; the layer kept every such
 * constant for its life, one per batch size traced (the second trace at N + 1 of each plan included), so the live
 * bytes grew without bound. The constants of frozen initializers stay the layer's, the same for every size.
 */
class OnnxLongRunningMemoryTest {
    /** y = (N · x) Wᵀ + b for x [N, 3], W [2, 3], b [2] (b frozen: a constant of the layer). */
    private static Path batchScaledLinear(Path dir) throws IOException {
        GraphProto g = GraphProto.newBuilder()
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 2))
                .addInitializer(doubles("W", new double[] {0.5, -1, 2, 0.25, -0.75, 1.5}, 2, 3))
                .addInitializer(doubles("b", new double[] {0.125, -0.5}, 2))
                .addInitializer(Onnx.int64s("zero", new long[] {0}))
                .addNode(node("Shape", "shape", new String[] {"x"}, new String[] {"s"}))
                .addNode(node("Gather", "n", new String[] {"s", "zero"}, new String[] {"n"}, attr("axis", 0)))
                .addNode(node("Cast", "cast", new String[] {"n"}, new String[] {"nd"}, attr("to", DOUBLE)))
                .addNode(node("Mul", "scale", new String[] {"x", "nd"}, new String[] {"xs"}))
                .addNode(node("Gemm", "gemm", new String[] {"xs", "W"}, new String[] {"g"}, attr("transB", 1)))
                .addNode(node("Add", "bias", new String[] {"g", "b"}, new String[] {"y"}))
                .build();
        return Onnx.write(dir.resolve("scaled.onnx"), model(13, g));
    }

    @Test
    void batchSizeConstantsAreClosedWithTheirPlans(@TempDir Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(batchScaledLinear(dir)).freeze(Pattern.compile("^b$"));
        assertThat(onnx.parameterNames()).containsExactly("W");
        Model m = onnx.model();
        try (Params p = onnx.params(DType.F64)) {
            EmpiricalNtk e = EmpiricalNtk.of(m, p);
            // the first use allocates the layer's constants (b): the baseline is taken after it
            try (Tensor x = Tensor.of(new double[] {1, 2, 3}, 1, 3); Tensor f = m.apply(p, x)) {
                // f = 1 · x Wᵀ + b
                assertThat(f.toDoubleArray()).containsExactly(0.5 - 2 + 6 + 0.125, 0.25 - 1.5 + 4.5 - 0.5);
            }
            m.releaseCaches();
            long baseline = Tensor.liveBytes();
            for (int n = 1; n <= 40; n++) {
                double[] v = new double[3 * n];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (i % 7) - 3;
                }
                try (Tensor x = Tensor.of(v, n, 3); Tensor k = e.ntk(x, null); Tensor f = m.apply(p, x)) {
                    // Θ(x_i, x_j) = mean over the two outputs o of ∂f_o/∂W · ∂f_o/∂W = n² (x_i · x_j)
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            double dot = 0;
                            for (int c = 0; c < 3; c++) {
                                dot += v[3 * i + c] * v[3 * j + c];
                            }
                            assertThat(k.getFlat(i * n + j)).isCloseTo((double) n * n * dot,
                                    org.assertj.core.data.Offset.offset(1e-12 * n * n * 30));
                        }
                    }
                    // f[0, 1] = n (W[1] · x_0) + b[1]
                    assertThat(f.getFlat(1)).isCloseTo(n * (0.25 * v[0] - 0.75 * v[1] + 1.5 * v[2]) - 0.5,
                            org.assertj.core.data.Offset.offset(1e-12 * n));
                }
            }
            m.releaseCaches();
            assertThat(Tensor.liveBytes()).as("live bytes after 40 batch sizes and releaseCaches").isEqualTo(baseline);
            // the layer's constants were not closed with the plans: the model still computes
            try (Tensor x = Tensor.of(new double[] {1, 2, 3}, 1, 3); Tensor f = m.apply(p, x)) {
                assertThat(f.toDoubleArray()).containsExactly(0.5 - 2 + 6 + 0.125, 0.25 - 1.5 + 4.5 - 0.5);
            }
        }
    }
}
