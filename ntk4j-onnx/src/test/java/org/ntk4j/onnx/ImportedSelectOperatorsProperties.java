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

    /**
     * Trilu (upper or lower, diagonal k from −6 to 6) of computed values [N, h, R, C]: y = Trilu(Log(x)) with x ≥ 0,
     * so −∞ where x = 0, equals the triangle worked out here (log x kept where j − i ≥ k, or ≤ k; 0 elsewhere, −∞
     * included, where a product with a 0/1 mask gave NaN); and the eNTK of z = Trilu(x ⊙ W) (W [R, C] a parameter) by
     * each exact method is its closed form Θ(x_n, x_m)[(h, i, j), (h', i', j')] = keep(i, j) δ_(i,j),(i',j')
     * x_n[h, i, j] x_m[h', i, j], to 1e-12.
     */
    @Property(tries = 25, seed = "20261207")
    void triluKeepsItsTriangleOfComputedValuesAndZerosTheRestInfinitiesIncluded(
            @ForAll @IntRange(min = 1, max = 2) int h, @ForAll @IntRange(min = 1, max = 5) int rows,
            @ForAll @IntRange(min = 1, max = 5) int cols, @ForAll @IntRange(min = -6, max = 6) int k,
            @ForAll boolean upper, @ForAll long seed) throws IOException {
        Random rng = new Random(seed);
        int per = h * rows * cols;
        double[] xv = new double[2 * per];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = Math.round(Math.abs(rng.nextGaussian()) * 4) / 4.0; // quarters, some 0
        }
        double[] wv = new double[rows * cols];
        for (int i = 0; i < wv.length; i++) {
            wv[i] = rng.nextGaussian();
        }
        GraphProto.Builder g = GraphProto.newBuilder().setName("trilu")
                .addInput(info("x", DOUBLE, "N", h, rows, cols)).addOutput(info("y", DOUBLE, "N", h, rows, cols))
                .addInitializer(Onnx.int64s("k", new long[] {k}))
                .addInitializer(Onnx.doubles("W", wv, rows, cols));
        GraphProto logs = g.clone()
                .addNode(node("Log", "log", new String[] {"x"}, new String[] {"l"}))
                .addNode(node("Trilu", "tri", new String[] {"l", "k"}, new String[] {"y"},
                        Onnx.attr("upper", upper ? 1 : 0))).build();
        GraphProto products = g.clone()
                .addNode(node("Mul", "mul", new String[] {"x", "W"}, new String[] {"p"}))
                .addNode(node("Trilu", "tri", new String[] {"p", "k"}, new String[] {"y"},
                        Onnx.attr("upper", upper ? 1 : 0))).build();
        Path dir = Files.createTempDirectory("onnx-trilu");
        try (Tensor x = Tensor.of(xv, 2, h, rows, cols)) {
            OnnxModel logModel = OnnxModel.load(Onnx.write(dir.resolve("log.onnx"), model(14, logs)));
            try (Params p = logModel.params(DType.F64); Tensor y = logModel.model().apply(p, x)) {
                for (int f = 0; f < xv.length; f++) {
                    int i = f / cols % rows;
                    int j = f % cols;
                    boolean keep = upper ? j - i >= k : j - i <= k;
                    double expected = keep ? Math.log(xv[f]) : 0;
                    if (Double.isInfinite(expected)) {
                        assertThat(y.getFlat(f)).as("y at %d (row %d, column %d)", f, i, j).isEqualTo(expected);
                    } else {
                        assertThat(y.getFlat(f)).as("y at %d (row %d, column %d)", f, i, j)
                                .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-15));
                    }
                }
            }
            OnnxModel productModel = OnnxModel.load(Onnx.write(dir.resolve("product.onnx"), model(14, products)));
            assertThat(productModel.parameterNames()).containsExactly("W");
            try (Params p = productModel.params(DType.F64)) {
                for (org.ntk4j.ntk.Method m : new org.ntk4j.ntk.Method[] {
                    org.ntk4j.ntk.Method.JACOBIAN_CONTRACTION, org.ntk4j.ntk.Method.NTK_VECTOR_PRODUCTS,
                    org.ntk4j.ntk.Method.STRUCTURED_DERIVATIVES}) {
                    try (Tensor ntk = org.ntk4j.ntk.EmpiricalNtk.of(productModel.model(), p).traceAxes().method(m)
                            .ntk(x, null)) {
                        // [n1, n2, h1, h2, i1, i2, j1, j2]; o = (h, i, j) flattened
                        assertThat(ntk.shape()).containsExactly(2, 2, h, h, rows, rows, cols, cols);
                        for (int n1 = 0; n1 < 2; n1++) {
                            for (int n2 = 0; n2 < 2; n2++) {
                                for (int o1 = 0; o1 < per; o1++) {
                                    for (int o2 = 0; o2 < per; o2++) {
                                        int i = o1 / cols % rows;
                                        int j = o1 % cols;
                                        int i2 = o2 / cols % rows;
                                        int j2 = o2 % cols;
                                        boolean keep = (upper ? j - i >= k : j - i <= k) && i == i2 && j == j2;
                                        double expected = keep ? xv[n1 * per + o1] * xv[n2 * per + o2] : 0;
                                        assertThat(ntk.get(n1, n2, o1 / (rows * cols), o2 / (rows * cols), i, i2,
                                                j, j2)).as("%s at %d %d %d %d", m, n1, n2, o1, o2)
                                                .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-12));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } finally {
            Files.deleteIfExists(dir.resolve("log.onnx"));
            Files.deleteIfExists(dir.resolve("product.onnx"));
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
