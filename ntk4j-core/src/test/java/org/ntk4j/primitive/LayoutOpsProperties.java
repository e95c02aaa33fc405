package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ntk4j.Fixtures;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Slice, pad, concatenate and rev on random shapes (ranks 0 to 4, axes of size 0 and 1 included, strides and
 * interior padding up to 3, negative padding, any subset of the axes reversed): forward values against the
 * index-loop references of {@link LayoutOpsTest}, and the float64 derivative checks.
 */
class LayoutOpsProperties {

    record SliceCase(int[] shape, int[] start, int[] limit, int[] stride) {
        @Override
        public String toString() {
            return "slice " + Arrays.toString(shape) + " start=" + Arrays.toString(start) + " limit="
                    + Arrays.toString(limit) + " strides=" + Arrays.toString(stride);
        }
    }

    record PadCase(int[] shape, int[] lo, int[] hi, int[] interior) {
        @Override
        public String toString() {
            return "pad " + Arrays.toString(shape) + " lo=" + Arrays.toString(lo) + " hi=" + Arrays.toString(hi)
                    + " interior=" + Arrays.toString(interior);
        }
    }

    record RevCase(int[] shape, int[] axes) {
        @Override
        public String toString() {
            return "rev " + Arrays.toString(shape) + " axes=" + Arrays.toString(axes);
        }
    }

    record ConcatCase(int[][] shapes, int axis) {
        @Override
        public String toString() {
            return "concatenate axis=" + axis + " " + Arrays.deepToString(shapes);
        }
    }

    // ---- generators ----

    @Provide
    Arbitrary<SliceCase> sliceCases() {
        // per axis: size, start, limit, stride with 0 <= start <= limit <= size
        Arbitrary<int[]> axis = Combinators.combine(
                Arbitraries.integers().between(0, 5),
                Arbitraries.integers().between(0, 1000),
                Arbitraries.integers().between(0, 1000),
                Arbitraries.integers().between(1, 4)).as((n, a, b, stride) -> {
                    int start = a % (n + 1);
                    int limit = start + b % (n - start + 1);
                    return new int[] {n, start, limit, stride};
                });
        return axis.list().ofMaxSize(4).map(axes -> new SliceCase(column(axes, 0), column(axes, 1),
                column(axes, 2), column(axes, 3)));
    }

    @Provide
    Arbitrary<PadCase> padCases() {
        // per axis: size, lo, hi, interior; hi is raised where needed so that the result size is >= 0
        Arbitrary<int[]> axis = Combinators.combine(
                Arbitraries.integers().between(0, 5),
                Arbitraries.integers().between(-4, 4),
                Arbitraries.integers().between(-4, 4),
                Arbitraries.integers().between(0, 3)).as((n, lo, hi, interior) -> {
                    int dilated = n == 0 ? 0 : n + (n - 1) * interior;
                    return new int[] {n, lo, Math.max(hi, -(lo + dilated)), interior};
                });
        return axis.list().ofMaxSize(4).map(axes -> new PadCase(column(axes, 0), column(axes, 1),
                column(axes, 2), column(axes, 3)));
    }

    @Provide
    Arbitrary<ConcatCase> concatCases() {
        return Combinators.combine(
                Arbitraries.integers().between(0, 4).list().ofMinSize(1).ofMaxSize(3),
                Arbitraries.integers().between(0, 1000),
                Arbitraries.integers().between(0, 3).list().ofMinSize(1).ofMaxSize(4)).as((base, a, sizes) -> {
                    int axis = a % base.size();
                    int[][] shapes = new int[sizes.size()][];
                    for (int p = 0; p < shapes.length; p++) {
                        shapes[p] = base.stream().mapToInt(Integer::intValue).toArray();
                        shapes[p][axis] = sizes.get(p);
                    }
                    return new ConcatCase(shapes, axis);
                });
    }

    @Provide
    Arbitrary<RevCase> revCases() {
        // per axis: size, and whether it is reversed; the reversed axes in a shuffled order
        Arbitrary<int[]> axis = Combinators.combine(Arbitraries.integers().between(0, 5), Arbitraries.of(0, 1))
                .as((n, r) -> new int[] {n, r});
        return Combinators.combine(axis.list().ofMaxSize(4), Arbitraries.longs()).as((axes, seed) -> {
            List<Integer> rev = new java.util.ArrayList<>();
            for (int a = 0; a < axes.size(); a++) {
                if (axes.get(a)[1] == 1) {
                    rev.add(a);
                }
            }
            java.util.Collections.shuffle(rev, new java.util.Random(seed));
            return new RevCase(column(axes, 0), rev.stream().mapToInt(Integer::intValue).toArray());
        });
    }

    private static int[] column(List<int[]> rows, int c) {
        return rows.stream().mapToInt(r -> r[c]).toArray();
    }

    private static DType dtype(boolean f32) {
        return f32 ? DType.F32 : DType.F64;
    }

    // ---- forward values ----

    @Property(tries = 300)
    void sliceMatchesIndexLoop(@ForAll("sliceCases") SliceCase c, @ForAll boolean f32, @ForAll long seed) {
        Slice op = new Slice(c.start(), c.limit(), c.stride());
        try (Tensor x = Tensor.randomNormal(dtype(f32), seed, c.shape()); Tensor y = op.evaluate(x)) {
            int[] expectedShape = LayoutOpsTest.sliceShape(c.start(), c.limit(), c.stride());
            assertThat(op.outputType(TensorType.of(x))).isEqualTo(new TensorType(x.dtype(), expectedShape));
            assertThat(y.dtype()).isEqualTo(x.dtype());
            assertThat(y.shape()).isEqualTo(expectedShape);
            Fixtures.assertSameElements("slice", y.toDoubleArray(),
                    LayoutOpsTest.referenceSlice(x.toDoubleArray(), c.shape(), c.start(), c.limit(), c.stride()));
        }
    }

    @Property(tries = 300)
    void padMatchesIndexLoop(@ForAll("padCases") PadCase c, @ForAll boolean f32, @ForAll long seed) {
        Pad op = new Pad(c.lo(), c.hi(), c.interior());
        try (Tensor x = Tensor.randomNormal(dtype(f32), seed, c.shape()); Tensor y = op.evaluate(x)) {
            int[] expectedShape = LayoutOpsTest.padShape(c.shape(), c.lo(), c.hi(), c.interior());
            assertThat(op.outputType(TensorType.of(x))).isEqualTo(new TensorType(x.dtype(), expectedShape));
            assertThat(y.dtype()).isEqualTo(x.dtype());
            assertThat(y.shape()).isEqualTo(expectedShape);
            Fixtures.assertSameElements("pad", y.toDoubleArray(),
                    LayoutOpsTest.referencePad(x.toDoubleArray(), c.shape(), c.lo(), c.hi(), c.interior()));
        }
    }

    @Property(tries = 300)
    void concatenateMatchesIndexLoop(@ForAll("concatCases") ConcatCase c, @ForAll boolean f32, @ForAll long seed) {
        int n = c.shapes().length;
        Tensor[] parts = new Tensor[n];
        TensorType[] types = new TensorType[n];
        double[][] values = new double[n][];
        for (int p = 0; p < n; p++) {
            parts[p] = Tensor.randomNormal(dtype(f32), seed + p, c.shapes()[p]);
            types[p] = TensorType.of(parts[p]);
            values[p] = parts[p].toDoubleArray();
        }
        Concatenate op = new Concatenate(c.axis());
        try (Tensor y = op.evaluate(parts)) {
            int[] expectedShape = c.shapes()[0].clone();
            expectedShape[c.axis()] = Arrays.stream(c.shapes()).mapToInt(s -> s[c.axis()]).sum();
            assertThat(op.outputType(types)).isEqualTo(new TensorType(dtype(f32), expectedShape));
            assertThat(y.shape()).isEqualTo(expectedShape);
            Fixtures.assertSameElements("concatenate", y.toDoubleArray(),
                    LayoutOpsTest.referenceConcatenate(values, c.shapes(), c.axis()));
        } finally {
            for (Tensor t : parts) {
                t.close();
            }
        }
    }

    @Property(tries = 300)
    void revMatchesIndexLoop(@ForAll("revCases") RevCase c, @ForAll boolean f32, @ForAll long seed) {
        Reverse op = new Reverse(c.axes());
        try (Tensor x = Tensor.randomNormal(dtype(f32), seed, c.shape()); Tensor y = op.evaluate(x)) {
            assertThat(op.outputType(TensorType.of(x))).isEqualTo(TensorType.of(x));
            assertThat(y.dtype()).isEqualTo(x.dtype());
            assertThat(y.shape()).isEqualTo(c.shape());
            Fixtures.assertSameElements("rev", y.toDoubleArray(),
                    LayoutOpsTest.referenceReverse(x.toDoubleArray(), c.shape(), c.axes()));
        }
    }

    /** Without cropping, the pad's VJP slice recovers the operand from the padded tensor. */
    @Property(tries = 200)
    void sliceUndoesPad(@ForAll("padCases") PadCase c, @ForAll long seed) {
        int rank = c.shape().length;
        int[] lo = Arrays.stream(c.lo()).map(Math::abs).toArray();
        int[] hi = Arrays.stream(c.hi()).map(Math::abs).toArray();
        int[] start = lo.clone();
        int[] limit = new int[rank];
        int[] stride = new int[rank];
        for (int d = 0; d < rank; d++) {
            int n = c.shape()[d];
            limit[d] = lo[d] + (n == 0 ? 0 : n + (n - 1) * c.interior()[d]);
            stride[d] = c.interior()[d] + 1;
        }
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, c.shape());
             Tensor padded = new Pad(lo, hi, c.interior()).evaluate(x);
             Tensor back = new Slice(start, limit, stride).evaluate(padded)) {
            assertThat(back.shape()).isEqualTo(c.shape());
            Fixtures.assertSameElements("slice of pad", back.toDoubleArray(), x.toDoubleArray());
        }
    }

    // ---- derivatives (float64) ----

    @Property(tries = 60)
    void sliceDerivatives(@ForAll("sliceCases") SliceCase c, @ForAll long seed) {
        Graph g = LayoutOpsTest.trace(v -> v[0].slice(c.start(), c.limit(), c.stride()),
                LayoutOpsTest.f64(c.shape()));
        LayoutOpsTest.assertDerivatives(g, 3, seed);
    }

    @Property(tries = 60)
    void padDerivatives(@ForAll("padCases") PadCase c, @ForAll long seed) {
        Graph g = LayoutOpsTest.trace(v -> v[0].pad(c.lo(), c.hi(), c.interior()), LayoutOpsTest.f64(c.shape()));
        LayoutOpsTest.assertDerivatives(g, 3, seed);
    }

    /**
     * A fixed seed, as {@link #concatenateDerivatives}: reversing changes the order in which the adjoint test adds
     * its products, so its relative gap is rounding over a sum that random draws occasionally make small.
     */
    @Property(tries = 60, seed = "20261207")
    void revDerivatives(@ForAll("revCases") RevCase c, @ForAll long seed) {
        Graph g = LayoutOpsTest.trace(v -> v[0].rev(c.axes()), LayoutOpsTest.f64(c.shape()));
        LayoutOpsTest.assertDerivatives(g, 3, seed);
    }

    /**
     * Runs with a fixed seed, unlike the others. The adjoint gap of a copy is pure rounding: ⟨u, Jv⟩ and
     * ⟨Jᵀu, v⟩ add exactly the same products. Slice and pad keep the element order, so both sums are bitwise
     * equal; concatenation on an axis other than 0 interleaves the operands and changes the summation order,
     * and DerivativeCheck.adjointGap divides by |⟨u, Jv⟩|, which random draws occasionally make small enough
     * (about once in 10^4 to 10^5 draws) to exceed 1e-12. A fixed seed keeps the build deterministic.
     */
    @Property(tries = 60, seed = "20250101")
    void concatenateDerivatives(@ForAll("concatCases") ConcatCase c, @ForAll long seed) {
        TensorType[] types = Arrays.stream(c.shapes()).map(LayoutOpsTest::f64).toArray(TensorType[]::new);
        Graph g = LayoutOpsTest.trace(v -> Var.concatenate(c.axis(), v), types);
        LayoutOpsTest.assertDerivatives(g, 3, seed);
    }
}
