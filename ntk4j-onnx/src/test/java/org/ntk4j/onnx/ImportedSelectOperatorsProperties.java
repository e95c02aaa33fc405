package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Max, Min, Sum, the comparisons, Not and Where on random shapes with NumPy broadcasting: x [2, a, b] (traced)
 * against a constant K whose shape is a random suffix of [a, b] with random axes of size 1, as JAX's exports combine
 * them. The imported graph's output equals the same arithmetic done here, element by element.
 */
class ImportedSelectOperatorsProperties {
    @Property(tries = 60, seed = "20261206")
    void selectionsBroadcastAsNumPy(@ForAll @IntRange(min = 1, max = 4) int a,
                                    @ForAll @IntRange(min = 1, max = 4) int b,
                                    @ForAll @IntRange(min = 0, max = 2) int kRank,
                                    @ForAll @IntRange(min = 0, max = 3) int ones, @ForAll long seed)
            throws IOException {
        int[] full = {a, b};
        int[] k = new int[kRank];
        for (int i = 0; i < kRank; i++) {
            // a suffix of [a, b], an axis of size 1 where bit i of `ones` says so
            k[i] = (ones >> i & 1) == 1 ? 1 : full[2 - kRank + i];
        }
        Random rng = new Random(seed);
        double[] kv = new double[org.ntk4j.tensor.Shapes.size(k)];
        for (int i = 0; i < kv.length; i++) {
            kv[i] = Math.round(rng.nextGaussian() * 4) / 4.0; // quarters, so that some equal x
        }
        long[] kd = java.util.Arrays.stream(k).asLongStream().toArray();
        // y = Where(Not(Less(x, K)), Max(x, K), Min(x, K) · K) + Sum(x, K, x) + Greater(x, K) + Equal(x, K)
        //     + LessOrEqual(x, K) + GreaterOrEqual(x, K)
        GraphProto g = GraphProto.newBuilder().setName("select")
                .addInput(info("x", DOUBLE, "N", a, b)).addOutput(info("y", DOUBLE, "N", a, b))
                .addInitializer(Onnx.doubles("K", kv, kd))
                .addNode(node("Less", "less", new String[] {"x", "K"}, new String[] {"lt"}))
                .addNode(node("Not", "not", new String[] {"lt"}, new String[] {"ge"}))
                .addNode(node("Max", "max", new String[] {"x", "K"}, new String[] {"mx"}))
                .addNode(node("Min", "min", new String[] {"x", "K"}, new String[] {"mn"}))
                .addNode(node("Mul", "mul", new String[] {"mn", "K"}, new String[] {"mk"}))
                .addNode(node("Where", "where", new String[] {"ge", "mx", "mk"}, new String[] {"w"}))
                .addNode(node("Sum", "sum", new String[] {"x", "K", "x"}, new String[] {"s"}))
                .addNode(node("Greater", "gt", new String[] {"x", "K"}, new String[] {"g"}))
                .addNode(node("Equal", "eq", new String[] {"x", "K"}, new String[] {"e"}))
                .addNode(node("LessOrEqual", "le", new String[] {"x", "K"}, new String[] {"le1"}))
                .addNode(node("GreaterOrEqual", "ge2", new String[] {"x", "K"}, new String[] {"ge1"}))
                .addNode(node("Add", "a1", new String[] {"w", "s"}, new String[] {"t1"}))
                .addNode(node("Add", "a2", new String[] {"t1", "g"}, new String[] {"t2"}))
                .addNode(node("Add", "a3", new String[] {"t2", "e"}, new String[] {"t3"}))
                .addNode(node("Add", "a4", new String[] {"t3", "le1"}, new String[] {"t4"}))
                .addNode(node("Add", "a5", new String[] {"t4", "ge1"}, new String[] {"y"}))
                .build();
        double[] xv = new double[2 * a * b];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = Math.round(rng.nextGaussian() * 4) / 4.0;
        }
        Path dir = Files.createTempDirectory("onnx-select");
        try {
            OnnxModel m = OnnxModel.load(Onnx.write(dir.resolve("m.onnx"), model(13, g)));
            try (Params p = m.params(DType.F64); Tensor x = Tensor.of(xv, 2, a, b);
                 Tensor y = m.model().apply(p, x)) {
                assertThat(y.shape()).containsExactly(2, a, b);
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < a; i++) {
                        for (int j = 0; j < b; j++) {
                            double xe = xv[(n * a + i) * b + j];
                            double ke = kv[kIndex(k, i, j)];
                            double w = xe >= ke ? Math.max(xe, ke) : Math.min(xe, ke) * ke;
                            double expected = w + (xe + ke + xe) + (xe > ke ? 1 : 0) + (xe == ke ? 1 : 0)
                                    + (xe <= ke ? 1 : 0) + (xe >= ke ? 1 : 0);
                            assertThat(y.get(n, i, j)).as("y[%d, %d, %d], K shape %s", n, i, j,
                                    java.util.Arrays.toString(k)).isEqualTo(expected);
                        }
                    }
                }
            }
        } finally {
            Files.deleteIfExists(dir.resolve("m.onnx"));
            Files.delete(dir);
        }
    }

    /**
     * Where(Cast(x, bool), a, b) with branches known at import holding ±∞ (PyTorch's attention masks are
     * Where(mask, −∞, 0)): y = [Where(c, −∞, +∞), Where(c, +∞, x)], exactly the branch taken, infinities included
     * (cond · a + (1 − cond) · b would be NaN there).
     */
    @net.jqwik.api.Example
    void whereTakesInfiniteConstantBranchesExactlyOnACastToBoolMask() throws IOException {
        double inf = Double.POSITIVE_INFINITY;
        GraphProto g = GraphProto.newBuilder().setName("where-inf")
                .addInput(info("x", DOUBLE, "N", 3)).addOutput(info("y", DOUBLE, "N", 6))
                .addInitializer(Onnx.doubles("minus", new double[] {-inf}))
                .addInitializer(Onnx.doubles("plus", new double[] {inf}))
                .addNode(node("Cast", "bool", new String[] {"x"}, new String[] {"c"},
                        Onnx.attr("to", org.ntk4j.onnx.proto.OnnxProtos.TensorProto.DataType.BOOL_VALUE)))
                .addNode(node("Where", "w1", new String[] {"c", "minus", "plus"}, new String[] {"y1"}))
                .addNode(node("Where", "w2", new String[] {"c", "plus", "x"}, new String[] {"y2"}))
                .addNode(node("Concat", "cat", new String[] {"y1", "y2"}, new String[] {"y"}, Onnx.attr("axis", 1)))
                .build();
        double[] xv = {0, 1, -0.5, 0, 3, 0};
        Path dir = Files.createTempDirectory("onnx-where");
        try {
            OnnxModel m = OnnxModel.load(Onnx.write(dir.resolve("m.onnx"), model(13, g)));
            try (Params p = m.params(DType.F64); Tensor x = Tensor.of(xv, 2, 3); Tensor y = m.model().apply(p, x)) {
                for (int n = 0; n < 2; n++) {
                    for (int j = 0; j < 3; j++) {
                        double xe = xv[3 * n + j];
                        assertThat(y.get(n, j)).as("y1[%d, %d]", n, j).isEqualTo(xe != 0 ? -inf : inf);
                        assertThat(y.get(n, 3 + j)).as("y2[%d, %d]", n, j).isEqualTo(xe != 0 ? inf : xe);
                    }
                }
            }
        } finally {
            Files.deleteIfExists(dir.resolve("m.onnx"));
            Files.delete(dir);
        }
    }

    /** The element of K (shape k, a broadcast suffix of [a, b]) at position [i, j]. */
    private static int kIndex(int[] k, int i, int j) {
        if (k.length == 0) {
            return 0;
        }
        if (k.length == 1) {
            return k[0] == 1 ? 0 : j;
        }
        return (k[0] == 1 ? 0 : i) * k[1] + (k[1] == 1 ? 0 : j);
    }
}
