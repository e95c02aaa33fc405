package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Convolution: the three primitives against direct nested-loop references in float64, the SAME/VALID
 * padding rule, the derivative rules (finite differences, adjoint dot-product test, stacking), float32
 * accuracy, and the error messages of the type rules.
 */
class ConvTest {

    // ------------------------------------------------------------------------------------------------------
    // A convolution case and the nested-loop references (float64, written independently of the kernels)
    // ------------------------------------------------------------------------------------------------------

    /** d spatial axes; arrays have d entries. */
    record Case(int d, int n, int[] in, int cin, int cout, int[] k, int[] strides, int[] lo, int[] hi, int[] dil) {
        int[] out() {
            int[] o = new int[d];
            for (int i = 0; i < d; i++) {
                int extent = (k[i] - 1) * dil[i] + 1;
                o[i] = (in[i] + lo[i] + hi[i] - extent) / strides[i] + 1;
            }
            return o;
        }

        int[][] padding() {
            int[][] p = new int[d][];
            for (int i = 0; i < d; i++) {
                p[i] = new int[] {lo[i], hi[i]};
            }
            return p;
        }

        int[] xShape() {
            return data(in, cin);
        }

        int[] wShape() {
            int[] s = Arrays.copyOf(k, d + 2);
            s[d] = cin;
            s[d + 1] = cout;
            return s;
        }

        int[] yShape() {
            return data(out(), cout);
        }

        private int[] data(int[] spatial, int c) {
            int[] s = new int[d + 2];
            s[0] = n;
            System.arraycopy(spatial, 0, s, 1, d);
            s[d + 1] = c;
            return s;
        }

        // 2-D view: a 1-D case has H = KH = OH = 1
        int h() {
            return d == 1 ? 1 : in[0];
        }

        int w() {
            return in[d - 1];
        }

        int kh() {
            return d == 1 ? 1 : k[0];
        }

        int kw() {
            return k[d - 1];
        }

        int oh() {
            return d == 1 ? 1 : out()[0];
        }

        int ow() {
            return out()[d - 1];
        }

        int sh() {
            return d == 1 ? 1 : strides[0];
        }

        int sw() {
            return strides[d - 1];
        }

        int dh() {
            return d == 1 ? 1 : dil[0];
        }

        int dw() {
            return dil[d - 1];
        }

        int ph() {
            return d == 1 ? 0 : lo[0];
        }

        int pw() {
            return lo[d - 1];
        }

        @Override
        public String toString() {
            return d + "-D n=" + n + " in=" + Arrays.toString(in) + " cin=" + cin + " cout=" + cout + " k="
                    + Arrays.toString(k) + " strides=" + Arrays.toString(strides) + " pad=" + Arrays.toString(lo)
                    + "/" + Arrays.toString(hi) + " dil=" + Arrays.toString(dil);
        }
    }

    /** The reference loops, over the 2-D view of a case (sizes copied into fields once). */
    static final class Reference {
        final int n, h, w, cin, cout, kh, kw, oh, ow, sh, sw, dh, dw, ph, pw;

        Reference(Case c) {
            n = c.n();
            h = c.h();
            w = c.w();
            cin = c.cin();
            cout = c.cout();
            kh = c.kh();
            kw = c.kw();
            oh = c.oh();
            ow = c.ow();
            sh = c.sh();
            sw = c.sw();
            dh = c.dh();
            dw = c.dw();
            ph = c.ph();
            pw = c.pw();
        }

        /** Which of the three products a reference computes. */
        enum Kind { CONV, INPUT_GRAD, FILTER_GRAD }

        /**
         * Visits every (n, oh, ow, kh, kw) whose window tap reads an input element (ih, iw), not padding, and
         * accumulates the product of the two operands into the result.
         */
        double[] compute(Kind kind, double[] a, double[] b) {
            double[] r = new double[kind == Kind.CONV ? n * oh * ow * cout
                    : kind == Kind.INPUT_GRAD ? n * h * w * cin : kh * kw * cin * cout];
            for (int in = 0; in < n; in++) {
                for (int io = 0; io < oh; io++) {
                    for (int jo = 0; jo < ow; jo++) {
                        for (int ik = 0; ik < kh; ik++) {
                            for (int jk = 0; jk < kw; jk++) {
                                int ih = io * sh - ph + ik * dh;
                                int iw = jo * sw - pw + jk * dw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= w) {
                                    continue;
                                }
                                for (int ci = 0; ci < cin; ci++) {
                                    for (int co = 0; co < cout; co++) {
                                        int xi = ((in * h + ih) * w + iw) * cin + ci;
                                        int yi = ((in * oh + io) * ow + jo) * cout + co;
                                        int wi = ((ik * kw + jk) * cin + ci) * cout + co;
                                        switch (kind) {
                                            case CONV -> r[yi] += a[xi] * b[wi];
                                            case INPUT_GRAD -> r[xi] += a[yi] * b[wi];
                                            default -> r[wi] += a[xi] * b[yi];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return r;
        }
    }

    static double[] refConv(Case c, double[] x, double[] w) {
        return new Reference(c).compute(Reference.Kind.CONV, x, w);
    }

    static double[] refInputGrad(Case c, double[] dy, double[] w) {
        return new Reference(c).compute(Reference.Kind.INPUT_GRAD, dy, w);
    }

    static double[] refFilterGrad(Case c, double[] x, double[] dy) {
        return new Reference(c).compute(Reference.Kind.FILTER_GRAD, x, dy);
    }

    /** SAME padding written from the JAX/TF definition. */
    static int[] refSame(int in, int k, int stride, int dilation) {
        int out = (in + stride - 1) / stride;
        int total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0);
        return new int[] {total / 2, total - total / 2};
    }

    // ------------------------------------------------------------------------------------------------------
    // Graph helpers
    // ------------------------------------------------------------------------------------------------------

    static Graph convGraph(Case c, DType dt) {
        return Graph.trace(List.of(new TensorType(dt, c.xShape()), new TensorType(dt, c.wShape())),
                v -> new Var[] {v[0].conv(v[1], c.strides(), c.padding(), c.dil())});
    }

    static Graph inputGradGraph(Case c, DType dt) {
        return Graph.trace(List.of(new TensorType(dt, c.yShape()), new TensorType(dt, c.wShape())),
                v -> new Var[] {v[0].convInputGrad(v[1], c.in(), c.strides(), c.padding(), c.dil())});
    }

    static Graph filterGradGraph(Case c, DType dt) {
        return Graph.trace(List.of(new TensorType(dt, c.xShape()), new TensorType(dt, c.yShape())),
                v -> new Var[] {v[0].convFilterGrad(v[1], c.k(), c.strides(), c.padding(), c.dil())});
    }

    static double[] run(Graph g, Tensor... args) {
        Tensor[] r = g.evaluate(args);
        try {
            return r[0].toDoubleArray();
        } finally {
            for (Tensor t : r) {
                t.close();
            }
        }
    }

    static double maxAbs(double[] a) {
        double m = 0;
        for (double v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** max |a - b| / max(max |b|, 1e-30). */
    static double relErr(double[] a, double[] b) {
        assertThat(a).hasSameSizeAs(b);
        double e = 0;
        for (int i = 0; i < a.length; i++) {
            e = Math.max(e, Math.abs(a[i] - b[i]));
        }
        return e / Math.max(maxAbs(b), 1e-30);
    }

    static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            t.close();
        }
    }

    /** Values of all three primitives in f64 and f32 against the references. */
    static void checkAgainstReference(Case c, long seed) {
        Tensor x = Tensor.randomNormal(DType.F64, seed, c.xShape());
        Tensor w = Tensor.randomNormal(DType.F64, seed + 1, c.wShape());
        Tensor dy = Tensor.randomNormal(DType.F64, seed + 2, c.yShape());
        Tensor x32 = x.to(DType.F32);
        Tensor w32 = w.to(DType.F32);
        Tensor dy32 = dy.to(DType.F32);
        try {
            double[] y = refConv(c, x.toDoubleArray(), w.toDoubleArray());
            double[] dx = refInputGrad(c, dy.toDoubleArray(), w.toDoubleArray());
            double[] dw = refFilterGrad(c, x.toDoubleArray(), dy.toDoubleArray());
            assertThat(relErr(run(convGraph(c, DType.F64), x, w), y)).as("conv f64 %s", c).isLessThan(1e-12);
            assertThat(relErr(run(inputGradGraph(c, DType.F64), dy, w), dx)).as("conv_input_grad f64 %s", c)
                    .isLessThan(1e-12);
            assertThat(relErr(run(filterGradGraph(c, DType.F64), x, dy), dw)).as("conv_filter_grad f64 %s", c)
                    .isLessThan(1e-12);
            assertThat(relErr(run(convGraph(c, DType.F32), x32, w32), y)).as("conv f32 %s", c).isLessThan(1e-4);
            assertThat(relErr(run(inputGradGraph(c, DType.F32), dy32, w32), dx)).as("conv_input_grad f32 %s", c)
                    .isLessThan(1e-4);
            assertThat(relErr(run(filterGradGraph(c, DType.F32), x32, dy32), dw)).as("conv_filter_grad f32 %s", c)
                    .isLessThan(1e-4);
        } finally {
            closeAll(x, w, dy, x32, w32, dy32);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Forward values
    // ------------------------------------------------------------------------------------------------------

    /**
     * Random 1-D and 2-D cases: strides 1..3, dilation 1..2, SAME / VALID / explicit padding, axes of size 1
     * (batch, channels, spatial, filter) included. Each primitive in f64 against the reference, and in f32
     * against the f64 reference within 1e-4 relative.
     */
    @Property(tries = 120, seed = "20240611")
    void allThreePrimitivesMatchTheNestedLoopReference(
            @ForAll @IntRange(min = 1, max = 2) int d,
            @ForAll @IntRange(min = 1, max = 3) int n,
            @ForAll @IntRange(min = 1, max = 3) int cin,
            @ForAll @IntRange(min = 1, max = 3) int cout,
            @ForAll @IntRange(min = 1, max = 7) int h,
            @ForAll @IntRange(min = 1, max = 7) int w,
            @ForAll @IntRange(min = 1, max = 3) int kh,
            @ForAll @IntRange(min = 1, max = 4) int kw,
            @ForAll @IntRange(min = 1, max = 3) int sh,
            @ForAll @IntRange(min = 1, max = 3) int sw,
            @ForAll @IntRange(min = 1, max = 2) int dh,
            @ForAll @IntRange(min = 1, max = 2) int dw,
            @ForAll @IntRange(min = 0, max = 2) int paddingMode,
            @ForAll @IntRange(min = 0, max = 2) int loH,
            @ForAll @IntRange(min = 0, max = 2) int hiH,
            @ForAll @IntRange(min = 0, max = 2) int loW,
            @ForAll @IntRange(min = 0, max = 2) int hiW,
            @ForAll @IntRange(min = 0, max = 1000) int seed) {
        int[] in = d == 1 ? new int[] {w} : new int[] {h, w};
        int[] k = d == 1 ? new int[] {kw} : new int[] {kh, kw};
        int[] s = d == 1 ? new int[] {sw} : new int[] {sh, sw};
        int[] dil = d == 1 ? new int[] {dw} : new int[] {dh, dw};
        int[] lo = new int[d];
        int[] hi = new int[d];
        if (paddingMode == 2) { // explicit
            lo = d == 1 ? new int[] {loW} : new int[] {loH, loW};
            hi = d == 1 ? new int[] {hiW} : new int[] {hiH, hiW};
        }
        for (int i = 0; i < d; i++) { // grow the input until the dilated filter fits (SAME always fits)
            in[i] = Math.max(in[i], (k[i] - 1) * dil[i] + 1 - lo[i] - hi[i]);
        }
        if (paddingMode == 0) { // SAME
            int[][] p = Convolution.resolvePadding("SAME", in, k, s, dil);
            for (int i = 0; i < d; i++) {
                assertThat(p[i]).containsExactly(refSame(in[i], k[i], s[i], dil[i]));
                lo[i] = p[i][0];
                hi[i] = p[i][1];
            }
        }
        Case c = new Case(d, n, in, cin, cout, k, s, lo, hi, dil);
        if (paddingMode == 0) {
            for (int i = 0; i < d; i++) {
                assertThat(c.out()[i]).as("SAME output size %s", c).isEqualTo((in[i] + s[i] - 1) / s[i]);
            }
        }
        checkAgainstReference(c, seed);
    }

    @Test
    void sizeOneAxesEverywhere() {
        // batch 1, one channel in and out, 1x1 filter, 1x1 input: a scalar product
        checkAgainstReference(new Case(2, 1, new int[] {1, 1}, 1, 1, new int[] {1, 1}, new int[] {1, 1},
                new int[] {0, 0}, new int[] {0, 0}, new int[] {1, 1}), 1);
        // a pointwise (1x1, stride 1, no padding) 2-D convolution: GEMM on the input directly
        checkAgainstReference(new Case(2, 3, new int[] {4, 5}, 3, 2, new int[] {1, 1}, new int[] {1, 1},
                new int[] {0, 0}, new int[] {0, 0}, new int[] {2, 2}), 2);
        // 1x1 filter with a stride: not pointwise
        checkAgainstReference(new Case(2, 2, new int[] {5, 4}, 2, 3, new int[] {1, 1}, new int[] {2, 3},
                new int[] {0, 0}, new int[] {0, 0}, new int[] {1, 1}), 3);
        // H = 1 in a 2-D convolution, filter as wide as the padded input
        checkAgainstReference(new Case(2, 2, new int[] {1, 3}, 2, 1, new int[] {1, 5}, new int[] {1, 1},
                new int[] {0, 1}, new int[] {0, 1}, new int[] {1, 1}), 4);
        // 1-D, output size 1
        checkAgainstReference(new Case(1, 1, new int[] {4}, 1, 2, new int[] {4}, new int[] {3},
                new int[] {0}, new int[] {0}, new int[] {1}), 5);
    }

    @Test
    void aLargeBatchIsProcessedInChunksOfImages() {
        Case c = new Case(2, 8, new int[] {64, 64}, 16, 1, new int[] {3, 3}, new int[] {1, 1},
                new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1});
        Convolution.Geometry g = Convolution.Geometry.of(Convolution.Window.of(c.strides(), c.padding(), c.dil()),
                c.n(), c.in(), c.cin(), c.k(), c.cout());
        assertThat(g.chunkImages()).isGreaterThan(1).isLessThan(c.n());
        assertThat(c.n() % g.chunkImages()).isNotZero(); // a ragged last chunk too
        assertThat(g.workspaceElements()).isLessThanOrEqualTo(Convolution.COLS_BUDGET);
        checkAgainstReference(c, 11);
    }

    /** col2im is the adjoint of im2col, also on a sub-range of images: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩. */
    @Test
    void col2imIsTheAdjointOfIm2col() {
        Convolution.Window win = Convolution.Window.of(new int[] {2, 1}, new int[][] {{1, 2}, {0, 1}},
                new int[] {1, 2});
        Convolution.Geometry g = Convolution.Geometry.of(win, 4, new int[] {6, 5}, 3, new int[] {3, 2}, 1);
        int rows = 2 * g.outputPositions();
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, 4, 6, 5, 3);
             Tensor c = Tensor.randomNormal(DType.F64, 6, rows, g.rowLength());
             Tensor cols = Tensor.empty(DType.F64, rows, g.rowLength());
             Tensor dx = Tensor.zeros(DType.F64, 4, 6, 5, 3)) {
            Convolution.im2col(x, g, 1, 3, cols);
            Convolution.col2im(c, g, 1, 3, dx);
            double lhs = 0;
            for (int i = 0; i < cols.size(); i++) {
                lhs += cols.getFlat(i) * c.getFlat(i);
            }
            double rhs = 0;
            int image = 6 * 5 * 3;
            for (int i = 0; i < x.size(); i++) {
                boolean inRange = i >= image && i < 3 * image;
                assertThat(inRange || dx.getFlat(i) == 0).as("col2im writes only images 1 and 2").isTrue();
                rhs += x.getFlat(i) * dx.getFlat(i);
            }
            assertThat(Math.abs(lhs - rhs)).isLessThanOrEqualTo(1e-12 * Math.abs(lhs));
        }
    }

    @Test
    void kernelsCalledDirectlyCheckTheirOperands() {
        Convolution.Window win = Convolution.Window.of(new int[] {1, 1}, new int[][] {{0, 0}, {0, 0}},
                new int[] {1, 1});
        try (Tensor x = Tensor.zeros(DType.F64, 1, 4, 4, 2);
             Tensor w = Tensor.zeros(DType.F64, 3, 3, 3, 1);
             Tensor dy = Tensor.zeros(DType.F64, 1, 3, 3, 1)) {
            assertThatThrownBy(() -> Convolution.forward(x, w, win)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("conv: ").hasMessageContaining("[1, 4, 4, 2]")
                    .hasMessageContaining("[3, 3, 3, 1]");
            assertThatThrownBy(() -> Convolution.filterGrad(x, dy, new int[] {3, 3}, win))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("conv_filter_grad: ")
                    .hasMessageContaining("[1, 2, 2, 1]").hasMessageContaining("[1, 3, 3, 1]");
            assertThatThrownBy(() -> Convolution.inputGrad(dy, w, new int[] {2, 2}, win))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("conv_input_grad: ")
                    .hasMessageContaining("does not fit");
        }
    }

    @Test
    void handComputedExamples() {
        // 1-D, VALID: [1 2 3 4] * [1 0 -1] = [1-3, 2-4]
        try (Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4, 1);
             Tensor w = Tensor.of(new double[] {1, 0, -1}, 3, 1, 1)) {
            Graph g = Graph.trace(List.of(TensorType.of(x), TensorType.of(w)),
                    v -> new Var[] {v[0].conv(v[1], new int[] {1}, "VALID")});
            assertThat(g.outputs().get(0).shape()).containsExactly(1, 2, 1);
            assertThat(run(g, x, w)).containsExactly(-2, -2);
        }
        // 2-D on x = [[1 2 3] [4 5 6] [7 8 9]] with the 2x2 identity filter
        try (Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 3, 3, 1);
             Tensor w = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2, 1, 1)) {
            // VALID, stride 1: x[i,j] + x[i+1,j+1]
            Graph valid = Graph.trace(List.of(TensorType.of(x), TensorType.of(w)),
                    v -> new Var[] {v[0].conv(v[1], new int[] {1, 1}, "VALID")});
            assertThat(run(valid, x, w)).containsExactly(6, 8, 12, 14);
            // SAME, stride 2: out = ceil(3/2) = 2, total padding (2-1)*2 + 2 - 3 = 1 -> (0, 1): the extra zero
            // row and column go after
            assertThat(Convolution.resolvePadding("same", new int[] {3, 3}, new int[] {2, 2}, new int[] {2, 2},
                    new int[] {1, 1})).isDeepEqualTo(new int[][] {{0, 1}, {0, 1}});
            Graph same = Graph.trace(List.of(TensorType.of(x), TensorType.of(w)),
                    v -> new Var[] {v[0].conv(v[1], new int[] {2, 2}, "SAME")});
            assertThat(run(same, x, w)).containsExactly(1 + 5, 3, 7, 9);
            // dilation 2 with the 2x2 identity filter on 3x3: x[0,0] + x[2,2]
            Graph dilated = Graph.trace(List.of(TensorType.of(x), TensorType.of(w)),
                    v -> new Var[] {v[0].conv(v[1], new int[] {1, 1}, "VALID", new int[] {2, 2})});
            assertThat(run(dilated, x, w)).containsExactly(10);
        }
        // the input gradient of a stride-2 1-D convolution spreads dy back with gaps:
        // x of width 5, w = [1 2], stride 2, VALID -> y of width 2; dx = [dy0, 2 dy0, dy1, 2 dy1, 0]
        try (Tensor dy = Tensor.of(new double[] {10, 100}, 1, 2, 1);
             Tensor w = Tensor.of(new double[] {1, 2}, 2, 1, 1)) {
            Graph g = Graph.trace(List.of(TensorType.of(dy), TensorType.of(w)), v -> new Var[] {
                v[0].convInputGrad(v[1], new int[] {5}, new int[] {2}, new int[][] {{0, 0}}, new int[] {1})});
            assertThat(run(g, dy, w)).containsExactly(10, 20, 100, 200, 0);
        }
    }

    @Test
    void paddingNamesResolve() {
        assertThat(Convolution.resolvePadding("VALID", new int[] {7}, new int[] {3}, new int[] {2},
                new int[] {1})).isDeepEqualTo(new int[][] {{0, 0}});
        // SAME with stride 1, k = 3, dilation 2: extent 5, total 4 -> (2, 2)
        assertThat(Convolution.resolvePadding("SAME", new int[] {7}, new int[] {3}, new int[] {1},
                new int[] {2})).isDeepEqualTo(new int[][] {{2, 2}});
        // SAME when the stride exceeds the filter: no padding needed, never negative
        assertThat(Convolution.resolvePadding("SAME", new int[] {6}, new int[] {1}, new int[] {3},
                new int[] {1})).isDeepEqualTo(new int[][] {{0, 0}});
        assertThatThrownBy(() -> Convolution.resolvePadding("FULL", new int[] {6}, new int[] {1}, new int[] {3},
                new int[] {1})).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("conv:")
                .hasMessageContaining("FULL");
    }

    @Test
    void paramsPrintLikeAJaxpr() {
        Case c = new Case(2, 1, new int[] {3, 3}, 1, 1, new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0},
                new int[] {1, 1}, new int[] {1, 1});
        assertThat(convGraph(c, DType.F32).toString()).contains("conv[window_strides=(2, 2) "
                + "padding=((0, 1), (0, 1)) rhs_dilation=(1, 1) dimension_numbers=(NHWC, HWIO, NHWC)]");
        assertThat(inputGradGraph(c, DType.F32).toString()).contains("conv_input_grad[").contains(
                "input_spatial=(3, 3)");
        assertThat(filterGradGraph(c, DType.F32).toString()).contains("conv_filter_grad[").contains(
                "filter_spatial=(2, 2)");
        Case c1 = new Case(1, 1, new int[] {5}, 1, 1, new int[] {3}, new int[] {1}, new int[] {1},
                new int[] {1}, new int[] {2});
        assertThat(convGraph(c1, DType.F32).toString()).contains("conv[window_strides=(1,) padding=((1, 1),) "
                + "rhs_dilation=(2,) dimension_numbers=(NWC, WIO, NWC)]");
    }

    // ------------------------------------------------------------------------------------------------------
    // Derivative rules
    // ------------------------------------------------------------------------------------------------------

    /** Cases for the derivative checks: strided, dilated, padded, 1-D, pointwise, uneven padding. */
    static List<Case> derivativeCases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case(2, 2, new int[] {5, 6}, 3, 4, new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 0},
                new int[] {1, 1}, new int[] {1, 2}));
        cases.add(new Case(1, 3, new int[] {9}, 2, 3, new int[] {3}, new int[] {3}, new int[] {2},
                new int[] {0}, new int[] {2}));
        cases.add(new Case(2, 2, new int[] {3, 4}, 2, 3, new int[] {1, 1}, new int[] {1, 1}, new int[] {0, 0},
                new int[] {0, 0}, new int[] {1, 1}));
        cases.add(new Case(2, 1, new int[] {6, 5}, 1, 2, new int[] {2, 3}, new int[] {3, 2}, new int[] {0, 2},
                new int[] {1, 0}, new int[] {2, 1}));
        return cases;
    }

    private static void checkDerivatives(String op, Graph g, long seed) {
        Tensor[] x = DerivativeCheck.randomInputs(g, seed);
        try {
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 3, 1e-3, seed)).as("%s JVP vs FD", op)
                    .isLessThanOrEqualTo(1e-6);
            assertThat(DerivativeCheck.adjointGap(g, x, 3, seed)).as("%s adjoint gap", op)
                    .isLessThanOrEqualTo(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, x, 3, seed)).as("%s stacking gap", op)
                    .isLessThanOrEqualTo(1e-12);
        } finally {
            closeAll(x);
        }
    }

    @Test
    void convDerivatives() {
        long seed = 100;
        for (Case c : derivativeCases()) {
            checkDerivatives("conv " + c, convGraph(c, DType.F64), seed++);
        }
    }

    @Test
    void convInputGradDerivatives() {
        long seed = 200;
        for (Case c : derivativeCases()) {
            checkDerivatives("conv_input_grad " + c, inputGradGraph(c, DType.F64), seed++);
        }
    }

    @Test
    void convFilterGradDerivatives() {
        long seed = 300;
        for (Case c : derivativeCases()) {
            checkDerivatives("conv_filter_grad " + c, filterGradGraph(c, DType.F64), seed++);
        }
    }

    /**
     * Second order: the JVP and VJP graphs of a convolution (made of all three primitives on folded, stacked
     * operands) pass the same checks, so the rules compose.
     */
    @Test
    void derivativesOfDerivatives() {
        Case c = derivativeCases().get(0);
        Graph g = convGraph(c, DType.F64);
        checkDerivatives("vjp(conv)", Vjp.of(g, 2), 400);
        checkDerivatives("jvp(conv)", Jvp.of(g, 2), 401);
    }

    /** Stacked rules cost a fixed number of convolutions, whatever K is: GEMMs, not K passes. */
    @Test
    void stackedRulesEmitOneConvolutionPerTerm() {
        Case c = derivativeCases().get(0);
        for (Graph g : List.of(convGraph(c, DType.F64), inputGradGraph(c, DType.F64),
                filterGradGraph(c, DType.F64))) {
            for (int k : new int[] {1, 7}) {
                // primal + one per tangent; primal + one per cotangent
                assertThat(convolutions(Jvp.of(g, k))).isEqualTo(3);
                assertThat(convolutions(Vjp.of(g, k))).isEqualTo(3);
            }
        }
    }

    private static int convolutions(Graph g) {
        int count = 0;
        for (Equation e : g.equations()) {
            Primitive p = e.primitive();
            if (p instanceof Conv || p instanceof ConvInputGrad || p instanceof ConvFilterGrad) {
                count++;
            }
        }
        return count;
    }

    // ------------------------------------------------------------------------------------------------------
    // Error messages
    // ------------------------------------------------------------------------------------------------------

    private static Graph traceConv(TensorType x, TensorType w, int[] strides, String padding) {
        return Graph.trace(List.of(x, w), v -> new Var[] {v[0].conv(v[1], strides, padding)});
    }

    @Test
    void badChannelCountNamesTheOpAndBothShapes() {
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F64, 2, 5, 5, 3),
                new TensorType(DType.F64, 3, 3, 4, 8), new int[] {1, 1}, "SAME"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv: ")
                .hasMessageContaining("f64[2,5,5,3]")
                .hasMessageContaining("f64[3,3,4,8]")
                .hasMessageContaining("[2, 5, 5, 4]");
    }

    @Test
    void badRankNamesTheOpAndBothShapes() {
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F64, 5, 5, 3),
                new TensorType(DType.F64, 3, 3, 3, 8), new int[] {1, 1}, "VALID"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv: ")
                .hasMessageContaining("rank 4")
                .hasMessageContaining("[N, H, W, Cin]")
                .hasMessageContaining("f64[5,5,3]")
                .hasMessageContaining("f64[3,3,3,8]");
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F64, 2, 5, 3),
                new TensorType(DType.F64, 3, 3, 3, 8), new int[] {1}, "VALID"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv: ")
                .hasMessageContaining("[KW, Cin, Cout]")
                .hasMessageContaining("f64[2,5,3]")
                .hasMessageContaining("f64[3,3,3,8]");
    }

    @Test
    void dtypeMismatchNamesTheOpAndBothTypes() {
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F32, 2, 5, 5, 3),
                new TensorType(DType.F64, 3, 3, 3, 8), new int[] {1, 1}, "SAME"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv: ")
                .hasMessageContaining("f32[2,5,5,3]")
                .hasMessageContaining("f64[3,3,3,8]");
    }

    @Test
    void aFilterLargerThanThePaddedInputIsRejected() {
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F64, 1, 2, 2, 1),
                new TensorType(DType.F64, 3, 3, 1, 1), new int[] {1, 1}, "VALID"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv: ")
                .hasMessageContaining("f64[1,2,2,1]")
                .hasMessageContaining("f64[3,3,1,1]");
    }

    @Test
    void gradientOpsCheckTheirOperands() {
        int[][] valid = {{0, 0}, {0, 0}};
        int[] ones = {1, 1};
        // the cotangent is not the conv output for this input size and filter
        assertThatThrownBy(() -> Graph.trace(List.of(new TensorType(DType.F64, 2, 4, 4, 8),
                new TensorType(DType.F64, 3, 3, 3, 8)),
                v -> new Var[] {v[0].convInputGrad(v[1], new int[] {5, 5}, ones, valid, ones)}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv_input_grad: ")
                .hasMessageContaining("[2, 3, 3, 8]")
                .hasMessageContaining("f64[2,4,4,8]")
                .hasMessageContaining("f64[3,3,3,8]");
        // output channels of cotangent and filter differ
        assertThatThrownBy(() -> Graph.trace(List.of(new TensorType(DType.F64, 2, 3, 3, 7),
                new TensorType(DType.F64, 3, 3, 3, 8)),
                v -> new Var[] {v[0].convInputGrad(v[1], new int[] {5, 5}, ones, valid, ones)}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv_input_grad: ")
                .hasMessageContaining("f64[2,3,3,7]")
                .hasMessageContaining("f64[3,3,3,8]");
        // batch sizes of input and cotangent differ
        assertThatThrownBy(() -> Graph.trace(List.of(new TensorType(DType.F64, 2, 5, 5, 3),
                new TensorType(DType.F64, 4, 3, 3, 8)),
                v -> new Var[] {v[0].convFilterGrad(v[1], new int[] {3, 3}, ones, valid, ones)}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv_filter_grad: ")
                .hasMessageContaining("[2, 3, 3, 8]")
                .hasMessageContaining("f64[2,5,5,3]")
                .hasMessageContaining("f64[4,3,3,8]");
        assertThatThrownBy(() -> Graph.trace(List.of(new TensorType(DType.F64, 2, 5, 5, 3),
                new TensorType(DType.F32, 2, 3, 3, 8)),
                v -> new Var[] {v[0].convFilterGrad(v[1], new int[] {3, 3}, ones, valid, ones)}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("conv_filter_grad: ")
                .hasMessageContaining("f64[2,5,5,3]")
                .hasMessageContaining("f32[2,3,3,8]");
    }

    @Test
    void badWindowParametersAreRejected() {
        assertThatThrownBy(() -> new Convolution.Window(new int[] {0, 1}, new int[2], new int[2], new int[] {1, 1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window_strides (0, 1)");
        assertThatThrownBy(() -> new Convolution.Window(new int[] {1}, new int[] {-1}, new int[1], new int[] {1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> new Convolution.Window(new int[] {1, 1, 1}, new int[3], new int[3],
                new int[] {1, 1, 1})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 (1-D) or 2 (2-D)");
        assertThatThrownBy(() -> traceConv(new TensorType(DType.F64, 2, 5, 5, 3),
                new TensorType(DType.F64, 3, 3, 3, 8), new int[] {1, 1}, "HALF"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HALF");
    }
}
