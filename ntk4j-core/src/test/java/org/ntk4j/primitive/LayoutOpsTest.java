package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Layout;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Slice, pad, concatenate and rev: hand-computed examples, derivative rules, error messages. */
class LayoutOpsTest {

    // ---- index-loop references (also used by LayoutOpsProperties) ----

    static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = flat % shape[a];
            flat /= shape[a];
        }
        return idx;
    }

    static int ravel(int[] idx, int[] shape) {
        int flat = 0;
        for (int a = 0; a < shape.length; a++) {
            flat = flat * shape[a] + idx[a];
        }
        return flat;
    }

    static int[] sliceShape(int[] start, int[] limit, int[] stride) {
        int[] out = new int[start.length];
        for (int d = 0; d < out.length; d++) {
            out[d] = (limit[d] - start[d] + stride[d] - 1) / stride[d];
        }
        return out;
    }

    /** x[start : limit : stride] by looping over the result's indices. */
    static double[] referenceSlice(double[] x, int[] shape, int[] start, int[] limit, int[] stride) {
        int[] out = sliceShape(start, limit, stride);
        double[] r = new double[Shapes.size(out)];
        for (int f = 0; f < r.length; f++) {
            int[] idx = unravel(f, out);
            int[] src = new int[idx.length];
            for (int d = 0; d < idx.length; d++) {
                src[d] = start[d] + idx[d] * stride[d];
            }
            r[f] = x[ravel(src, shape)];
        }
        return r;
    }

    static int[] padShape(int[] shape, int[] lo, int[] hi, int[] interior) {
        int[] out = new int[shape.length];
        for (int d = 0; d < out.length; d++) {
            int dilated = shape[d] == 0 ? 0 : shape[d] + (shape[d] - 1) * interior[d];
            out[d] = lo[d] + dilated + hi[d];
        }
        return out;
    }

    /** Zero padding by looping over the result's indices and finding the source element, if any. */
    static double[] referencePad(double[] x, int[] shape, int[] lo, int[] hi, int[] interior) {
        int[] out = padShape(shape, lo, hi, interior);
        double[] r = new double[Shapes.size(out)];
        for (int f = 0; f < r.length; f++) {
            int[] idx = unravel(f, out);
            int[] src = new int[idx.length];
            boolean inside = true;
            for (int d = 0; d < idx.length && inside; d++) {
                int q = idx[d] - lo[d];
                int step = interior[d] + 1;
                inside = q >= 0 && q % step == 0 && q / step < shape[d];
                src[d] = inside ? q / step : 0;
            }
            r[f] = inside ? x[ravel(src, shape)] : 0.0;
        }
        return r;
    }

    /** Concatenation by looping over the result's indices and finding the part each one comes from. */
    static double[] referenceConcatenate(double[][] parts, int[][] shapes, int axis) {
        int[] out = shapes[0].clone();
        out[axis] = 0;
        for (int[] s : shapes) {
            out[axis] += s[axis];
        }
        double[] r = new double[Shapes.size(out)];
        for (int f = 0; f < r.length; f++) {
            int[] idx = unravel(f, out);
            int p = 0;
            int i = idx[axis];
            while (i >= shapes[p][axis]) {
                i -= shapes[p][axis];
                p++;
            }
            idx[axis] = i;
            r[f] = parts[p][ravel(idx, shapes[p])];
        }
        return r;
    }

    /** x reversed along {@code axes} by looping over the result's indices: index i of such an axis reads n - 1 - i. */
    static double[] referenceReverse(double[] x, int[] shape, int[] axes) {
        double[] r = new double[x.length];
        for (int f = 0; f < r.length; f++) {
            int[] idx = unravel(f, shape);
            for (int a : axes) {
                idx[a] = shape[a] - 1 - idx[a];
            }
            r[f] = x[ravel(idx, shape)];
        }
        return r;
    }

    // ---- helpers ----

    static Tensor iota(DType dtype, int... shape) {
        Tensor t = Tensor.empty(dtype, shape);
        for (int i = 0; i < t.size(); i++) {
            t.setFlat(i, i + 1);
        }
        return t;
    }

    /** Traces {@code fn} on inputs typed like {@code args} and evaluates it on them. */
    static Tensor run1(Function<Var[], Var> fn, Tensor... args) {
        TensorType[] types = new TensorType[args.length];
        for (int i = 0; i < args.length; i++) {
            types[i] = TensorType.of(args[i]);
        }
        Graph g = Graph.trace(List.of(types), v -> new Var[] {fn.apply(v)});
        return g.evaluate(args)[0];
    }

    static Graph trace(Function<Var[], Var> fn, TensorType... types) {
        return Graph.trace(List.of(types), v -> new Var[] {fn.apply(v)});
    }

    static TensorType f64(int... shape) {
        return new TensorType(DType.F64, shape);
    }

    /** The three float64 derivative checks with the tolerances every primitive must meet. */
    static void assertDerivatives(Graph g, int k, long seed) {
        Tensor[] x = DerivativeCheck.randomInputs(g, seed);
        try {
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, k, 1e-6, seed + 1))
                    .as("jvp vs finite differences").isLessThanOrEqualTo(1e-6);
            assertThat(DerivativeCheck.adjointGap(g, x, k, seed + 2)).as("adjoint gap").isLessThanOrEqualTo(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, x, k, seed + 3)).as("stacking gap")
                    .isLessThanOrEqualTo(1e-12);
        } finally {
            for (Tensor t : x) {
                t.close();
            }
        }
    }

    /** The primitives of class {@code type} in {@code g}, in order; asserts there are {@code count}. */
    private static <T extends Primitive> List<T> primitives(Graph g, Class<T> type, int count) {
        List<T> found = g.equations().stream().map(Equation::primitive).filter(type::isInstance).map(type::cast)
                .toList();
        assertThat(found).as("%s equations in%n%s", type.getSimpleName(), g).hasSize(count);
        return found;
    }

    /** The one primitive of class {@code type} in {@code g}. */
    private static <T extends Primitive> T onlyPrimitive(Graph g, Class<T> type) {
        return primitives(g, type, 1).get(0);
    }

    /** The tangent rule's equation of class {@code type} in a JVP graph that also replays the primal one. */
    private static <T extends Primitive> T tangentPrimitive(Graph jvp, Class<T> type) {
        return primitives(jvp, type, 2).get(1);
    }

    // ---- hand-computed examples ----

    @Test
    void sliceTinyExamples() {
        try (Tensor x = iota(DType.F64, 3, 4)) {
            // [[1 2 3 4] [5 6 7 8] [9 10 11 12]], rows 0 and 2, columns 1 and 3
            try (Tensor y = run1(v -> v[0].slice(new int[] {0, 1}, new int[] {3, 4}, new int[] {2, 2}), x)) {
                assertThat(y.shape()).containsExactly(2, 2);
                assertThat(y.toDoubleArray()).containsExactly(2, 4, 10, 12);
            }
            try (Tensor y = run1(v -> v[0].slice(new int[] {1, 1}, new int[] {3, 3}), x)) {
                assertThat(y.shape()).containsExactly(2, 2);
                assertThat(y.toDoubleArray()).containsExactly(6, 7, 10, 11);
            }
            // stride 3 over [1, 4): only index 1
            try (Tensor y = run1(v -> v[0].sliceInDim(-1, 1, 4, 3), x)) {
                assertThat(y.shape()).containsExactly(3, 1);
                assertThat(y.toDoubleArray()).containsExactly(2, 6, 10);
            }
            // empty result
            try (Tensor y = run1(v -> v[0].slice(new int[] {2, 0}, new int[] {2, 4}), x)) {
                assertThat(y.shape()).containsExactly(0, 4);
            }
            // the largest stride takes one element (its count overflowed in int: 0 elements, not the shape rule's 1)
            try (Tensor y = new Slice(new int[] {1, 2}, new int[] {3, 4}, new int[] {1, Integer.MAX_VALUE})
                    .evaluate(x)) {
                assertThat(y.shape()).containsExactly(2, 1);
                assertThat(y.toDoubleArray()).containsExactly(7, 11);
            }
        }
    }

    @Test
    void padTinyExamples() {
        try (Tensor x = Tensor.of(new double[] {1, 2, 3}, 3)) {
            try (Tensor y = run1(v -> v[0].pad(new int[] {1}, new int[] {2}, new int[] {1}), x)) {
                assertThat(y.toDoubleArray()).containsExactly(0, 1, 0, 2, 0, 3, 0, 0);
            }
            // interior-padded [1 0 2 0 3] cropped by one on each side
            try (Tensor y = run1(v -> v[0].pad(new int[] {-1}, new int[] {-1}, new int[] {1}), x)) {
                assertThat(y.toDoubleArray()).containsExactly(0, 2, 0);
            }
            try (Tensor y = run1(v -> v[0].pad(new int[] {-2}, new int[] {1}), x)) {
                assertThat(y.toDoubleArray()).containsExactly(3, 0);
            }
            // everything cropped
            try (Tensor y = run1(v -> v[0].pad(new int[] {-3}, new int[] {0}), x)) {
                assertThat(y.shape()).containsExactly(0);
            }
        }
        try (Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2);
             Tensor y = run1(v -> v[0].pad(new int[] {1, 0}, new int[] {0, -1}), x)) {
            assertThat(y.shape()).containsExactly(3, 1);
            assertThat(y.toDoubleArray()).containsExactly(0, 1, 3);
        }
        // a size-0 axis pads to lo + hi zeros
        try (Tensor x = Tensor.zeros(DType.F32, 0, 2);
             Tensor y = run1(v -> v[0].pad(new int[] {1, 0}, new int[] {1, 1}, new int[] {2, 0}), x)) {
            assertThat(y.shape()).containsExactly(2, 3);
            assertThat(y.toDoubleArray()).containsOnly(0.0);
        }
    }

    @Test
    void concatenateTinyExamples() {
        try (Tensor a = Tensor.of(new double[] {1, 2, 5, 6}, 2, 2);
             Tensor b = Tensor.of(new double[] {3, 7}, 2, 1);
             Tensor e = Tensor.zeros(DType.F64, 2, 0)) {
            try (Tensor y = run1(v -> Var.concatenate(1, v[0], v[1], v[2]), a, e, b)) {
                assertThat(y.shape()).containsExactly(2, 3);
                assertThat(y.toDoubleArray()).containsExactly(1, 2, 3, 5, 6, 7);
            }
            try (Tensor y = run1(v -> Var.concatenate(-1, v[0], v[1]), b, a)) {
                assertThat(y.toDoubleArray()).containsExactly(3, 1, 2, 7, 5, 6);
            }
            try (Tensor y = run1(v -> Var.concatenate(0, v[0], v[0]), a)) {
                assertThat(y.shape()).containsExactly(4, 2);
                assertThat(y.toDoubleArray()).containsExactly(1, 2, 5, 6, 1, 2, 5, 6);
            }
        }
    }

    @Test
    void revTinyExamples() {
        try (Tensor x = iota(DType.F64, 3, 4)) {
            // [[1 2 3 4] [5 6 7 8] [9 10 11 12]]
            try (Tensor y = run1(v -> v[0].rev(1), x)) {
                assertThat(y.shape()).containsExactly(3, 4);
                assertThat(y.toDoubleArray()).containsExactly(4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9);
            }
            try (Tensor y = run1(v -> v[0].rev(0), x)) {
                assertThat(y.toDoubleArray()).containsExactly(9, 10, 11, 12, 5, 6, 7, 8, 1, 2, 3, 4);
            }
            // both axes, the second named from the end: the row-major order reversed
            try (Tensor y = run1(v -> v[0].rev(-1, 0), x)) {
                assertThat(y.toDoubleArray()).containsExactly(12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
            }
            // rev of a rev is the operand
            try (Tensor y = run1(v -> v[0].rev(0, 1).rev(1).rev(0), x)) {
                assertThat(y.toDoubleArray()).containsExactly(x.toDoubleArray());
            }
        }
        try (Tensor x = iota(DType.F32, 2, 1, 3);
             Tensor y = run1(v -> v[0].rev(1, 2), x)) {
            assertThat(y.dtype()).isEqualTo(DType.F32);
            assertThat(y.toDoubleArray()).containsExactly(3, 2, 1, 6, 5, 4);
        }
        // an axis of size 0 reverses to itself
        try (Tensor x = Tensor.zeros(DType.F64, 2, 0);
             Tensor y = new Reverse(new int[] {0, 1}).evaluate(x)) {
            assertThat(y.shape()).containsExactly(2, 0);
        }
    }

    @Test
    void revOfAxesOfAtMostOneElementRecordsNothing() {
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(DType.F64, 1, 3, 0);
        assertThat(x.rev()).isSameAs(x);
        assertThat(x.rev(0, 2)).isSameAs(x);
        assertThat(x.rev(1)).isNotSameAs(x);
        assertThatThrownBy(() -> x.rev(0, -3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rev: axis 0 is given twice (axes [0, 0], operand f64[1,3,0])");
    }

    @Test
    void paramsArePrintedInTheGraph() {
        Graph g = trace(v -> Var.concatenate(0,
                v[0].slice(new int[] {0, 1}, new int[] {3, 4}, new int[] {2, 2}),
                v[0].pad(new int[] {-1, 0}, new int[] {0, -2}, new int[] {0, 0})).rev(1, 0), f64(3, 4));
        assertThat(g.toString())
                .contains("slice[start=[0, 1] limit=[3, 4] strides=[2, 2]]")
                .contains("rev[dimensions=[1, 0]]")
                .contains("pad[lo=[-1, 0] hi=[0, -2] interior=[0, 0]]")
                .contains("concatenate[axis=0]");
    }

    @Test
    void identityOperationsRecordNothing() {
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(DType.F64, 2, 3);
        assertThat(x.slice(new int[] {0, 0}, new int[] {2, 3})).isSameAs(x);
        assertThat(x.pad(new int[] {0, 0}, new int[] {0, 0})).isSameAs(x);
        assertThat(Var.concatenate(-1, x)).isSameAs(x);
    }

    /** Shapes large enough that the strided copy is split over threads (more than 2^15 elements). */
    @Test
    void largeTensorsMatchTheReferences() {
        for (DType dtype : DType.values()) {
            int[] shape = {160, 41, 33};
            try (Tensor x = Tensor.randomNormal(dtype, 11, shape)) {
                double[] xs = x.toDoubleArray();
                int[][][] slices = {
                    {{3, 0, 1}, {160, 40, 33}, {2, 1, 1}},
                    {{0, 0, 1}, {160, 41, 33}, {1, 1, 3}}};
                for (int[][] sl : slices) {
                    try (Tensor y = Layout.slice(x, sl[0], sl[1], sl[2])) {
                        assertThat(y.size()).isGreaterThan(2 * Parallel.DEFAULT_GRAIN);
                        assertThat(y.shape()).containsExactly(sliceShape(sl[0], sl[1], sl[2]));
                        Fixtures.assertSameElements("slice", y.toDoubleArray(),
                                referenceSlice(xs, shape, sl[0], sl[1], sl[2]));
                    }
                }
                int[] lo = {-3, 2, 0};
                int[] hi = {4, -5, -2};
                int[] interior = {1, 0, 0};
                try (Tensor y = Layout.pad(x, lo, hi, interior)) {
                    assertThat(y.shape()).containsExactly(padShape(shape, lo, hi, interior));
                    Fixtures.assertSameElements("pad", y.toDoubleArray(), referencePad(xs, shape, lo, hi, interior));
                }
                int[] shape2 = {160, 5, 33};
                try (Tensor x2 = Tensor.randomNormal(dtype, 12, shape2);
                     Tensor y = Layout.concatenate(new Tensor[] {x, x2, x}, 1)) {
                    assertThat(y.shape()).containsExactly(160, 87, 33);
                    Fixtures.assertSameElements("concatenate", y.toDoubleArray(), referenceConcatenate(
                            new double[][] {xs, x2.toDoubleArray(), xs}, new int[][] {shape, shape2, shape}, 1));
                }
            }
        }
    }

    /** Shapes large enough that the reversing copy is split over threads, every subset of the axes reversed. */
    @Test
    void largeReversalsMatchTheReference() {
        int[] shape = {160, 41, 33};
        for (DType dtype : DType.values()) {
            try (Tensor x = Tensor.randomNormal(dtype, 13, shape)) {
                double[] xs = x.toDoubleArray();
                for (int[] axes : new int[][] {{0}, {1}, {2}, {0, 1}, {2, 0}, {1, 2}, {0, 1, 2}}) {
                    try (Tensor y = Layout.reverse(x, axes)) {
                        assertThat(y.shape()).containsExactly(shape);
                        Fixtures.assertSameElements("rev " + java.util.Arrays.toString(axes), y.toDoubleArray(),
                                referenceReverse(xs, shape, axes));
                    }
                }
            }
        }
    }

    // ---- derivative rules ----

    @Test
    void sliceDerivatives() {
        assertDerivatives(trace(v -> v[0].slice(new int[] {1, 0, 2}, new int[] {5, 3, 7}, new int[] {2, 1, 3}),
                f64(5, 3, 7)), 3, 1);
        assertDerivatives(trace(v -> v[0].slice(new int[] {0, 2}, new int[] {1, 2}), f64(1, 4)), 2, 2);
        assertDerivatives(trace(v -> v[0].sliceInDim(0, 4, 5, 4), f64(6)), 3, 3);
    }

    @Test
    void padDerivatives() {
        assertDerivatives(trace(v -> v[0].pad(new int[] {1, -1, 0}, new int[] {-2, 2, 1}, new int[] {1, 0, 2}),
                f64(4, 3, 2)), 3, 4);
        assertDerivatives(trace(v -> v[0].pad(new int[] {-4}, new int[] {-3}, new int[] {2}), f64(4)), 2, 5);
        assertDerivatives(trace(v -> v[0].pad(new int[] {2, 0}, new int[] {1, -1}), f64(0, 2)), 2, 6);
    }

    @Test
    void concatenateDerivatives() {
        assertDerivatives(trace(v -> Var.concatenate(1, v[0], v[1], v[2]), f64(2, 3, 2), f64(2, 1, 2),
                f64(2, 0, 2)), 3, 7);
        assertDerivatives(trace(v -> Var.concatenate(0, v[0], v[1], v[0]), f64(2, 3), f64(1, 3)), 3, 8);
    }

    @Test
    void revDerivatives() {
        assertDerivatives(trace(v -> v[0].rev(1), f64(3, 5)), 3, 21);
        assertDerivatives(trace(v -> v[0].rev(0, 2), f64(4, 3, 2)), 3, 22);
        assertDerivatives(trace(v -> v[0].rev(0, 1, 2).mul(v[1]).tanh(), f64(2, 1, 3), f64(2, 1, 3)), 2, 23);
        // a reflection pad written with it: the reflected border of x, x itself and its reflected end, then a product
        assertDerivatives(trace(v -> Var.concatenate(1, v[0].sliceInDim(1, 1, 3, 1).rev(1), v[0],
                v[0].sliceInDim(1, 3, 4, 1).rev(1)).mul(v[0].sum(1).expandDims(1)), f64(2, 5)), 3, 24);
    }

    @Test
    void revVjpAndJvpAreTheSameReversalOfTheStackedVectors() {
        Graph g = trace(v -> v[0].rev(1, 0), f64(2, 3));
        Reverse back = tangentPrimitive(Vjp.of(g, 2), Reverse.class);
        assertThat(back.axes()).containsExactly(2, 1);
        Reverse forward = tangentPrimitive(Jvp.of(g, 2), Reverse.class);
        assertThat(forward.axes()).containsExactly(2, 1);
        try (Tensor x = iota(DType.F64, 2, 3);
             Tensor ct = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60}, 2, 2, 3)) {
            Tensor[] r = Vjp.of(g, 2).evaluate(x, ct);
            assertThat(r[0].toDoubleArray()).containsExactly(6, 5, 4, 3, 2, 1);
            assertThat(r[1].shape()).containsExactly(2, 2, 3);
            assertThat(r[1].toDoubleArray()).containsExactly(6, 5, 4, 3, 2, 1, 60, 50, 40, 30, 20, 10);
            for (Tensor t : r) {
                t.close();
            }
        }
    }

    @Test
    void derivativesThroughACompositeNetwork() {
        // a 1-d "convolution" by shifted slices of a padded input, mixed with concatenation and nonlinearities
        Graph g = trace(v -> {
            Var x = v[0].pad(new int[] {0, 1}, new int[] {0, 1}).tanh();
            Var left = x.sliceInDim(1, 0, 6, 1).mul(v[1]);
            Var right = x.sliceInDim(1, 2, 8, 1).mul(v[1].sin());
            Var both = Var.concatenate(0, left, right, x.slice(new int[] {0, 1}, new int[] {3, 7}, new int[] {2, 1}));
            return both.sum(1).exp();
        }, f64(3, 6), f64(3, 6));
        assertDerivatives(g, 4, 9);
    }

    @Test
    void concatenateJvpFillsZerosForOperandsWithoutTangent() {
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(DType.F64, 2, 1);
        try (Tensor c = Tensor.of(new double[] {9, 9, 9, 9}, 2, 2)) {
            Var y = Var.concatenate(1, b.constant(c), x, b.constant(c));
            Graph jvp = Jvp.of(b.build(y), 2);
            try (Tensor xv = Tensor.of(new double[] {1, 2}, 2, 1);
                 Tensor t = Tensor.of(new double[] {3, 4, 5, 6}, 2, 2, 1)) {
                Tensor[] r = jvp.evaluate(xv, t);
                assertThat(r[0].toDoubleArray()).containsExactly(9, 9, 1, 9, 9, 9, 9, 2, 9, 9);
                assertThat(r[1].shape()).containsExactly(2, 2, 5);
                assertThat(r[1].toDoubleArray()).containsExactly(
                        0, 0, 3, 0, 0, 0, 0, 4, 0, 0,
                        0, 0, 5, 0, 0, 0, 0, 6, 0, 0);
                for (Tensor rt : r) {
                    rt.close();
                }
            }
        }
    }

    @Test
    void sliceVjpIsAPadOfTheCotangent() {
        Graph g = trace(v -> v[0].slice(new int[] {1, 0}, new int[] {6, 4}, new int[] {2, 3}), f64(7, 5));
        // rows 1, 3, 5 of 7 (last taken 5, so hi = 1); columns 0, 3 of 5 (last taken 3, so hi = 1)
        Pad pad = onlyPrimitive(Vjp.of(g, 4), Pad.class);
        assertThat(pad.lo()).containsExactly(0, 1, 0);
        assertThat(pad.hi()).containsExactly(0, 1, 1);
        assertThat(pad.interior()).containsExactly(0, 1, 2);
        Slice jvpSlice = tangentPrimitive(Jvp.of(g, 4), Slice.class);
        assertThat(jvpSlice.strides()).containsExactly(1, 2, 3);
    }

    @Test
    void padVjpIsASliceOfTheCotangent() {
        Graph g = trace(v -> v[0].pad(new int[] {2, 0}, new int[] {1, 3}, new int[] {1, 2}), f64(3, 2));
        Slice slice = onlyPrimitive(Vjp.of(g, 4), Slice.class);
        assertThat(slice.start()).containsExactly(0, 2, 0);
        assertThat(slice.limit()).containsExactly(4, 7, 4);
        assertThat(slice.strides()).containsExactly(1, 2, 3);
        Pad jvpPad = tangentPrimitive(Jvp.of(g, 4), Pad.class);
        assertThat(jvpPad.lo()).containsExactly(0, 2, 0);
        assertThat(jvpPad.interior()).containsExactly(0, 1, 2);
    }

    @Test
    void padVjpRestoresCroppedPositionsAsZeros() {
        Graph g = trace(v -> v[0].pad(new int[] {-1}, new int[] {-1}, new int[] {1}), f64(3));
        try (Tensor x = Tensor.of(new double[] {1, 2, 3}, 3);
             Tensor ct = Tensor.of(new double[] {10, 20, 30, 40, 50, 60}, 2, 3)) {
            Tensor[] r = Vjp.of(g, 2).evaluate(x, ct);
            // output positions 0, 1, 2 are dilated positions 1, 2, 3: element 1 sits at dilated 2
            assertThat(r[1].toDoubleArray()).containsExactly(0, 20, 0, 0, 50, 0);
            for (Tensor t : r) {
                t.close();
            }
        }
    }

    @Test
    void concatenateVjpSlicesTheCotangentPerOperand() {
        Graph g = trace(v -> Var.concatenate(0, v[0], v[1]), f64(2), f64(3));
        try (Tensor a = Tensor.of(new double[] {1, 2}, 2);
             Tensor b = Tensor.of(new double[] {3, 4, 5}, 3);
             Tensor ct = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, 5)) {
            Tensor[] r = Vjp.of(g, 2).evaluate(a, b, ct);
            assertThat(r[1].toDoubleArray()).containsExactly(1, 2, 6, 7);
            assertThat(r[2].toDoubleArray()).containsExactly(3, 4, 5, 8, 9, 10);
            for (Tensor t : r) {
                t.close();
            }
        }
        Graph vjp = Vjp.of(g, 2, new boolean[] {false, true});
        Slice s = onlyPrimitive(vjp, Slice.class);
        assertThat(s.start()).containsExactly(0, 2);
        assertThat(s.limit()).containsExactly(2, 5);
    }

    // ---- errors ----

    private static Var input(DType dtype, int... shape) {
        return new GraphBuilder().input(dtype, shape);
    }

    @Test
    void sliceRejectsOutOfRangeAndNegativeSizes() {
        Var x = input(DType.F64, 2, 3);
        assertThatThrownBy(() -> x.slice(new int[] {0, 0}, new int[] {2, 4}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "f64[2,3]", "axis 1", "size 3", "limit 4");
        assertThatThrownBy(() -> x.slice(new int[] {-1, 0}, new int[] {2, 3}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "f64[2,3]", "axis 0", "start -1");
        assertThatThrownBy(() -> x.slice(new int[] {0, 2}, new int[] {2, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "negative size", "axis 1", "start 2 > limit 1", "f64[2,3]");
        assertThatThrownBy(() -> x.slice(new int[] {0, 0}, new int[] {2, 3}, new int[] {1, 0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "stride", "axis 1", "f64[2,3]");
        assertThatThrownBy(() -> x.slice(new int[] {0}, new int[] {2}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "length 2", "f64[2,3]", "[0]");
        assertThatThrownBy(() -> x.sliceInDim(2, 0, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("slice", "axis 2", "rank 2");
    }

    @Test
    void padRejectsNegativeSizesAndInterior() {
        Var x = input(DType.F32, 2, 3);
        assertThatThrownBy(() -> x.pad(new int[] {0, -2}, new int[] {0, -2}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("pad", "f32[2,3]", "axis 1", "negative size -1", "lo + hi >= -3");
        assertThatThrownBy(() -> x.pad(new int[] {0, 0}, new int[] {0, 0}, new int[] {-1, 0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("pad", "interior", "axis 0", "-1", "f32[2,3]");
        assertThatThrownBy(() -> x.pad(new int[] {1}, new int[] {1, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("pad", "length 2", "f32[2,3]");
    }

    @Test
    void concatenateRejectsMismatchedShapesAndDtypes() {
        GraphBuilder b = new GraphBuilder();
        Var a = b.input(DType.F64, 2, 3);
        Var c = b.input(DType.F64, 3, 3);
        Var d = b.input(DType.F32, 2, 3);
        Var r1 = b.input(DType.F64, 2);
        assertThatThrownBy(() -> Var.concatenate(1, a, c))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "operand 1", "f64[3,3]", "f64[2,3]", "[2, *]", "axis 1");
        assertThatThrownBy(() -> Var.concatenate(0, a, r1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "operand 1", "f64[2]", "f64[2,3]", "[*, 3]");
        assertThatThrownBy(() -> Var.concatenate(0, a, d))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "operand 1", "f32[2,3]", "expected f64", "f64[2,3]");
        assertThatThrownBy(() -> Var.concatenate(2, a, c))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "axis 2", "rank 2");
        assertThatThrownBy(() -> Var.concatenate(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "at least 1 operand");
        Var other = input(DType.F64, 2, 3);
        assertThatThrownBy(() -> Var.concatenate(0, a, other))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "operand 1", "another graph");
        assertThatThrownBy(() -> new Concatenate(0).outputType(f64()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContainingAll("concatenate", "axis 0", "f64[]");
    }

    @Test
    void revRejectsAxesOutOfRangeAndRepeated() {
        Var x = input(DType.F64, 2, 3);
        assertThatThrownBy(() -> x.rev(2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rev: axis 2 is out of range for rank 2");
        assertThatThrownBy(() -> x.rev(1, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rev: axis 1 is given twice (axes [1, 1], operand f64[2,3])");
        assertThatThrownBy(() -> new Reverse(new int[] {-1}).outputType(f64(2, 3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rev: axis -1 is out of range for f64[2,3] (expected 0 <= axis < 2; axes [-1])");
        assertThatThrownBy(() -> new Reverse(new int[0]).outputType(f64(2), f64(2)))
                .hasMessage("rev: expects 1 operand, got 2");
    }

    @Test
    void primitivesCheckTheirOperandCount() {
        assertThatThrownBy(() -> new Slice(new int[0], new int[0], new int[0]).outputType(f64(), f64()))
                .hasMessageContaining("slice: expects 1 operand, got 2");
        assertThatThrownBy(() -> new Pad(new int[0], new int[0], new int[0]).outputType())
                .hasMessageContaining("pad: expects 1 operand, got 0");
        assertThat(new Slice(new int[0], new int[0], new int[0]).outputType(f64()).shape()).isEmpty();
    }
}
