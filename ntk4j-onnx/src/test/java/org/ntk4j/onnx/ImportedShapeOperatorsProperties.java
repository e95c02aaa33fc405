package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Slice, Gather and Transpose on random shapes, axes, bounds and indices: the imported graph equals index
 * arithmetic done here, both where the operator is traced (on the input x) and where it is evaluated at import (on
 * an int64 initializer that a Cast then adds to x). x[n, i, j, k] = flat(i, j, k) + 1000 n and the initializer
 * C[0, i, j, k] = flat(i, j, k), so y = Op(x) + Cast(Op(C)) = 2 Op(flat) + 1000 n.
 */
class ImportedShapeOperatorsProperties {
    private static final String[] OUT = {"y"};

    /** Runs y = op(x) + Cast(op(C)) and returns y for x of shape [2, s...]. */
    private static Tensor run(int[] s, GraphProto.Builder ops, int opset) throws IOException {
        return evaluate(s, ops.addNode(node("Cast", "cast", new String[] {"oc"}, new String[] {"ocf"},
                Onnx.attr("to", DOUBLE))), "ocf", opset);
    }

    /**
     * Adds C (C[0, i, j, k] = flat(i, j, k), int64) and y = ox + {@code second} to {@code ops}, imports the graph at
     * {@code opset} and returns y for x[n, i, j, k] = flat(i, j, k) + 1000 n of shape [2, s...].
     */
    private static Tensor evaluate(int[] s, GraphProto.Builder ops, String second, int opset) throws IOException {
        int size = s[0] * s[1] * s[2];
        long[] c = new long[size];
        for (int i = 0; i < size; i++) {
            c[i] = i;
        }
        GraphProto g = ops.addInput(info("x", DOUBLE, "N", s[0], s[1], s[2])).addOutput(info("y", DOUBLE))
                .addInitializer(Onnx.int64s("C", c, 1, s[0], s[1], s[2]))
                .addNode(node("Add", "add", new String[] {"ox", second}, OUT)).build();
        Path dir = Files.createTempDirectory("onnx-prop");
        try {
            OnnxModel m = OnnxModel.load(Onnx.write(dir.resolve("m.onnx"), model(opset, g)));
            double[] xv = new double[2 * size];
            for (int i = 0; i < xv.length; i++) {
                xv[i] = i % size + 1000 * (i / size);
            }
            try (Params p = m.params(DType.F64); Tensor x = Tensor.of(xv, 2, s[0], s[1], s[2])) {
                return m.model().apply(p, x);
            }
        } finally {
            Files.deleteIfExists(dir.resolve("m.onnx"));
            Files.delete(dir);
        }
    }

    /**
     * y [2, out...] where out is s with {@code count} indices on {@code axis} (1-based): y[n, idx] =
     * scale · flat(idx with its axis index i replaced by pick(i)) + perExample · n.
     */
    private static void assertPicks(Tensor y, int[] s, int axis, int count, java.util.function.IntUnaryOperator pick,
                                    double scale, double perExample) {
        int[] out = s.clone();
        out[axis - 1] = count;
        assertThat(y.shape()).containsExactly(2, out[0], out[1], out[2]);
        int[] idx = new int[3];
        for (int n = 0; n < 2; n++) {
            for (idx[0] = 0; idx[0] < out[0]; idx[0]++) {
                for (idx[1] = 0; idx[1] < out[1]; idx[1]++) {
                    for (idx[2] = 0; idx[2] < out[2]; idx[2]++) {
                        int[] src = idx.clone();
                        src[axis - 1] = pick.applyAsInt(idx[axis - 1]);
                        double flat = (src[0] * s[1] + src[1]) * s[2] + src[2];
                        assertThat(y.get(n, idx[0], idx[1], idx[2])).isEqualTo(scale * flat + perExample * n);
                    }
                }
            }
        }
    }

    private static int clamp(long v, int dim) {
        long r = v < 0 ? v + dim : v;
        return (int) Math.max(0, Math.min(dim, r));
    }

    @Property(tries = 150, seed = "20261204")
    void sliceEqualsIndexArithmetic(@ForAll("shapes") int[] s, @ForAll @IntRange(min = 1, max = 3) int axis,
                                    @ForAll @IntRange(min = -5, max = 4) int start,
                                    @ForAll @IntRange(min = -6, max = 7) int end,
                                    @ForAll @IntRange(min = 1, max = 3) int step) throws IOException {
        int dim = s[axis - 1];
        long e = end == 7 ? Long.MAX_VALUE : end;
        int b = clamp(start, dim);
        int l = Math.max(b, clamp(e, dim));
        Assume.that(l > b);
        long[] starts = {start};
        long[] ends = {e};
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("starts", starts, 1)).addInitializer(Onnx.int64s("ends", ends, 1))
                .addInitializer(Onnx.int64s("axes", new long[] {axis}, 1))
                .addInitializer(Onnx.int64s("steps", new long[] {step}, 1))
                .addNode(node("Slice", "sx", new String[] {"x", "starts", "ends", "axes", "steps"},
                        new String[] {"ox"}))
                .addNode(node("Slice", "sc", new String[] {"C", "starts", "ends", "axes", "steps"},
                        new String[] {"oc"}));
        try (Tensor y = run(s, g, 13)) {
            assertPicks(y, s, axis, (l - b + step - 1) / step, i -> b + i * step, 2, 1000);
        }
    }

    /**
     * A Slice with a negative step, by ONNX's rules: start clamped to [0, dim - 1], end to [-1, dim - 1], the
     * elements start, start + step, ... above end; of x (traced: a slice with a positive step and the primitive rev,
     * torch.flip's form among them) and of a value known at import (how PyTorch's F.pad reverses its pads).
     */
    @Property(tries = 120, seed = "20261207")
    void backwardSliceEqualsIndexArithmetic(@ForAll("shapes") int[] s,
                                            @ForAll @IntRange(min = 1, max = 3) int axis,
                                            @ForAll @IntRange(min = -6, max = 5) int start,
                                            @ForAll @IntRange(min = -7, max = 5) int end,
                                            @ForAll @IntRange(min = 1, max = 3) int back)
            throws IOException {
        int dim = s[axis - 1];
        long e = end == -7 ? Long.MIN_VALUE : end;
        long b = Math.max(0, Math.min(start < 0 ? start + dim : start, dim - 1));
        long l = Math.max(-1, Math.min(e < 0 ? e + dim : e, dim - 1));
        java.util.List<Integer> picked = new java.util.ArrayList<>();
        for (long i = b; i > l; i -= back) {
            picked.add((int) i);
        }
        // an empty pick (end at or above start) is an empty axis, traced and at import alike
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("starts", new long[] {start}, 1))
                .addInitializer(Onnx.int64s("ends", new long[] {e}, 1))
                .addInitializer(Onnx.int64s("axes", new long[] {axis}, 1))
                .addInitializer(Onnx.int64s("steps", new long[] {-back}, 1))
                .addNode(node("Slice", "sx", new String[] {"x", "starts", "ends", "axes", "steps"},
                        new String[] {"ox"}))
                .addNode(node("Slice", "sc", new String[] {"C", "starts", "ends", "axes", "steps"},
                        new String[] {"oc"}));
        try (Tensor y = run(s, g, 13)) {
            assertPicks(y, s, axis, picked.size(), picked::get, 2, 1000);
        }
    }

    /**
     * Pad in each mode on x (traced) and on a value known at import (Cast of C, lifted as a graph constant), random
     * amounts on the three axes after the examples' (negative ones crop; a reflection at most size − 1): output index
     * o of an axis reads index j = o − lo of the operand, mapped into it by reflection (−j before it, 2(n − 1) − j
     * after it), by the nearest edge, or the constant value v (given, or 0) outside, as NumPy's np.pad and PyTorch;
     * a negative amount crops after the other end is padded from the whole axis, as PyTorch computes it.
     */
    @Property(tries = 150, seed = "20261207")
    void padEqualsIndexArithmetic(@ForAll("shapes") int[] s, @ForAll("padAmounts") int[] pads,
                                  @ForAll("padModes") String mode, @ForAll("padValues") double value)
            throws IOException {
        boolean reflect = mode.equals("reflect");
        int[] lo = Arrays.copyOfRange(pads, 0, 3);
        int[] hi = Arrays.copyOfRange(pads, 3, 6);
        int[] out = new int[3];
        for (int a = 0; a < 3; a++) {
            Assume.that(!reflect || Math.max(lo[a], hi[a]) <= s[a] - 1);
            out[a] = s[a] + lo[a] + hi[a];
            // the crops take no more than the padded axis holds
            Assume.that(out[a] >= 0);
        }
        long[] all = {0, lo[0], lo[1], lo[2], 0, hi[0], hi[1], hi[2]};
        GraphProto.Builder g = GraphProto.newBuilder()
                .addInitializer(Onnx.int64s("pads", all, 8))
                .addInitializer(Onnx.doubles("v", new double[] {value}))
                .addNode(node("Cast", "cast_c", new String[] {"C"}, new String[] {"cf"}, Onnx.attr("to", DOUBLE)))
                .addNode(node("Pad", "px", new String[] {"x", "pads", "v"}, new String[] {"ox"}, Onnx.string("mode",
                        mode)))
                .addNode(node("Pad", "pc", new String[] {"cf", "pads", "v"}, new String[] {"pcf"},
                        Onnx.string("mode", mode)))
                .addNode(node("Identity", "id", new String[] {"pcf"}, new String[] {"oc"}));
        try (Tensor y = runPadded(s, g)) {
            assertThat(y.shape()).containsExactly(2, out[0], out[1], out[2]);
            int[] idx = new int[3];
            int[] src = new int[3];
            for (int n = 0; n < 2; n++) {
                for (idx[0] = 0; idx[0] < out[0]; idx[0]++) {
                    for (idx[1] = 0; idx[1] < out[1]; idx[1]++) {
                        for (idx[2] = 0; idx[2] < out[2]; idx[2]++) {
                            boolean inside = true;
                            for (int a = 0; a < 3; a++) {
                                int j = idx[a] - lo[a];
                                int d = s[a];
                                if (j >= 0 && j < d) {
                                    src[a] = j;
                                } else if (mode.equals("constant")) {
                                    inside = false;
                                } else if (reflect) {
                                    src[a] = j < 0 ? -j : 2 * (d - 1) - j;
                                } else {
                                    src[a] = j < 0 ? 0 : d - 1;
                                }
                            }
                            double flat = (src[0] * s[1] + src[1]) * s[2] + src[2];
                            assertThat(y.get(n, idx[0], idx[1], idx[2])).as("%s at %d %s", mode, n,
                                    Arrays.toString(idx)).isEqualTo(inside ? 2 * flat + 1000 * n : 2 * value);
                        }
                    }
                }
            }
        }
    }

    /** {@link #run} without its Cast of the second operand's output (the Pad of C is of its Cast already). */
    private static Tensor runPadded(int[] s, GraphProto.Builder ops) throws IOException {
        return evaluate(s, ops, "oc", 13);
    }

    @Property(tries = 60, seed = "20261205")
    void gatherEqualsIndexArithmetic(@ForAll("shapes") int[] s, @ForAll @IntRange(min = 1, max = 3) int axis,
                                     @ForAll("picks") int[] picks, @ForAll boolean scalar) throws IOException {
        int dim = s[axis - 1];
        long[] ix = new long[scalar ? 1 : picks.length];
        for (int i = 0; i < ix.length; i++) {
            // indices in -dim .. dim-1
            ix[i] = Math.floorMod(picks[i], 2 * dim) - dim;
        }
        TensorProto indices = scalar ? Onnx.int64s("ix", ix) : Onnx.int64s("ix", ix, ix.length);
        GraphProto.Builder g = GraphProto.newBuilder().addInitializer(indices)
                .addNode(node("Gather", "gx", new String[] {"x", "ix"}, new String[] {"ox"},
                        Onnx.attr("axis", axis)))
                .addNode(node("Gather", "gc", new String[] {"C", "ix"}, new String[] {"oc"},
                        Onnx.attr("axis", axis)));
        try (Tensor y = run(s, g, 13)) {
            int[] before = Arrays.copyOfRange(s, 0, axis - 1);
            int[] after = Arrays.copyOfRange(s, axis, 3);
            int outer = Arrays.stream(before).reduce(1, (p, q) -> p * q);
            int inner = Arrays.stream(after).reduce(1, (p, q) -> p * q);
            assertThat(y.size()).isEqualTo(2 * outer * ix.length * inner);
            assertThat(y.rank()).isEqualTo(1 + before.length + (scalar ? 0 : 1) + after.length);
            int pos = 0;
            for (int n = 0; n < 2; n++) {
                for (int o = 0; o < outer; o++) {
                    for (long i : ix) {
                        long k = i < 0 ? i + dim : i;
                        for (int in = 0; in < inner; in++) {
                            double flat = (o * dim + k) * inner + in;
                            assertThat(y.getFlat(pos++)).isEqualTo(2 * flat + 1000 * n);
                        }
                    }
                }
            }
        }
    }

    @Property(tries = 30, seed = "20261206")
    void transposeOfTheExampleAxesEqualsIndexArithmetic(@ForAll("shapes") int[] s,
                                                         @ForAll("permutations") int[] perm) throws IOException {
        long[] p = {0, perm[0] + 1, perm[1] + 1, perm[2] + 1};
        GraphProto.Builder g = GraphProto.newBuilder()
                .addNode(node("Transpose", "tx", new String[] {"x"}, new String[] {"ox"}, Onnx.ints("perm", p)))
                .addNode(node("Transpose", "tc", new String[] {"C"}, new String[] {"oc"}, Onnx.ints("perm", p)));
        try (Tensor y = run(s, g, 13)) {
            assertThat(y.shape()).containsExactly(2, s[perm[0]], s[perm[1]], s[perm[2]]);
            int[] src = new int[3];
            int[] idx = new int[3];
            for (int n = 0; n < 2; n++) {
                for (idx[0] = 0; idx[0] < s[perm[0]]; idx[0]++) {
                    for (idx[1] = 0; idx[1] < s[perm[1]]; idx[1]++) {
                        for (idx[2] = 0; idx[2] < s[perm[2]]; idx[2]++) {
                            for (int i = 0; i < 3; i++) {
                                src[perm[i]] = idx[i];
                            }
                            double flat = (src[0] * s[1] + src[1]) * s[2] + src[2];
                            assertThat(y.get(n, idx[0], idx[1], idx[2])).isEqualTo(2 * flat + 1000 * n);
                        }
                    }
                }
            }
        }
    }

    @Provide
    Arbitrary<int[]> shapes() {
        return Arbitraries.integers().between(1, 4).array(int[].class).ofSize(3);
    }

    @Provide
    Arbitrary<int[]> padAmounts() {
        return Arbitraries.integers().between(-2, 4).array(int[].class).ofSize(6);
    }

    @Provide
    Arbitrary<String> padModes() {
        return Arbitraries.of("constant", "reflect", "edge");
    }

    @Provide
    Arbitrary<Double> padValues() {
        return Arbitraries.of(0.0, 0.5, -2.25);
    }

    @Provide
    Arbitrary<int[]> picks() {
        return Arbitraries.integers().between(0, 50).array(int[].class).ofMinSize(1).ofMaxSize(4);
    }

    @Provide
    Arbitrary<int[]> permutations() {
        return Arbitraries.of(new int[] {0, 1, 2}, new int[] {0, 2, 1}, new int[] {1, 0, 2}, new int[] {1, 2, 0},
                new int[] {2, 0, 1}, new int[] {2, 1, 0});
    }
}
