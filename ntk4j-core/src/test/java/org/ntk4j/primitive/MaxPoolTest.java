package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Max pooling ({@code reduce_window_max}) and its derivative primitives: values against a nested-loop reference,
 * PyTorch's tie rule on hand-made ties, and the finite-difference, adjoint and stacked-tangent checks (float64)
 * of the pooling and of its JVP and VJP graphs (which use {@code max_window_gather} and
 * {@code max_window_scatter}).
 */
class MaxPoolTest {

    /** Pooling over NHWC with a k×k window, stride s and padding p on both sides (PyTorch's MaxPool2d). */
    static Graph pool(int[] xShape, int kh, int kw, int sh, int sw, int ph, int pw, DType dt) {
        return Graph.trace(List.of(new TensorType(dt, xShape)), v -> new Var[] {v[0].reduceWindowMax(
                new int[] {1, kh, kw, 1}, new int[] {1, sh, sw, 1}, new int[] {0, ph, pw, 0},
                new int[] {0, ph, pw, 0})});
    }

    /** Nested-loop reference: out[n,i,j,c] = max over the in-range window elements. */
    static double[] reference(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw) {
        int[] s = x.shape();
        int oh = (s[1] + 2 * ph - kh) / sh + 1;
        int ow = (s[2] + 2 * pw - kw) / sw + 1;
        double[] r = new double[s[0] * oh * ow * s[3]];
        int q = 0;
        for (int n = 0; n < s[0]; n++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    for (int c = 0; c < s[3]; c++) {
                        double m = Double.NEGATIVE_INFINITY;
                        for (int a = 0; a < kh; a++) {
                            for (int b = 0; b < kw; b++) {
                                int h = i * sh - ph + a;
                                int w = j * sw - pw + b;
                                if (h >= 0 && h < s[1] && w >= 0 && w < s[2]) {
                                    m = Math.max(m, x.get(n, h, w, c));
                                }
                            }
                        }
                        r[q++] = m;
                    }
                }
            }
        }
        return r;
    }

    /**
     * The values (π(i) - size/2)·0.1 + u_i for a random permutation π and u_i uniform in [0, 0.01): every value
     * distinct, any two at least 0.09 apart, in a random order.
     */
    static Tensor separated(long seed, int[] shape) {
        Random rnd = new Random(seed);
        int size = Shapes.size(shape);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            order.add(i);
        }
        Collections.shuffle(order, rnd);
        Tensor x = Tensor.zeros(DType.F64, shape);
        for (int i = 0; i < size; i++) {
            x.setFlat(i, (order.get(i) - size / 2.0) * 0.1 + 0.01 * rnd.nextDouble());
        }
        return x;
    }

    @Property(tries = 60, seed = "20261204")
    void valuesAndDerivativesOnRandomWindows(
            @ForAll @IntRange(min = 1, max = 2) int n,
            @ForAll @IntRange(min = 1, max = 6) int h,
            @ForAll @IntRange(min = 1, max = 6) int w,
            @ForAll @IntRange(min = 1, max = 2) int c,
            @ForAll @IntRange(min = 1, max = 3) int kh,
            @ForAll @IntRange(min = 1, max = 3) int kw,
            @ForAll @IntRange(min = 1, max = 3) int sh,
            @ForAll @IntRange(min = 1, max = 3) int sw,
            @ForAll @IntRange(min = 0, max = 1) int ph,
            @ForAll @IntRange(min = 0, max = 1) int pw,
            @ForAll @IntRange(min = 0, max = 1000) int seed) {
        h = Math.max(h, kh);
        w = Math.max(w, kw);
        ph = Math.min(ph, kh - 1);
        pw = Math.min(pw, kw - 1);
        int[] xs = {n, h, w, c};
        Graph g = pool(xs, kh, kw, sh, sw, ph, pw, DType.F64);
        try (Tensor x = separated(seed, xs); Tensor x32 = x.to(DType.F32)) {
            double[] ref = reference(x, kh, kw, sh, sw, ph, pw);
            try (Tensor y = g.evaluate(x)[0]) {
                assertThat(y.toDoubleArray()).containsExactly(ref);
            }
            try (Tensor y = pool(xs, kh, kw, sh, sw, ph, pw, DType.F32).evaluate(x32)[0]) {
                double[] y32 = y.toDoubleArray();
                for (int i = 0; i < ref.length; i++) {
                    assertThat(y32[i]).isEqualTo((double) (float) ref[i]);
                }
            }
            // distinct values at least 0.09 apart: the finite differences' steps (1e-5 times a normal tangent) never
            // cross a tie (random normal values did, seldom: two of six drawn 2.2e-6 apart, found by
            // .ci/sweep-properties)
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, new Tensor[] {x}, 3, 1e-5, seed))
                    .isLessThan(1e-8);
            assertThat(DerivativeCheck.adjointGap(g, new Tensor[] {x}, 3, seed)).isLessThan(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, new Tensor[] {x}, 3, seed)).isLessThan(1e-12);
        }
    }

    /**
     * Inputs large enough that the selection, the gather and the scatter are split across cores (a stride-2 3×3
     * window over [3, 33, 35, 16], five stacked tangents or cotangents): the selected elements are each window's
     * first maximum, found by nested loops, and gather and scatter move exactly those elements.
     */
    @Test
    void largeInputsSplitAcrossCoresSelectGatherAndScatterAsTheLoops() {
        int[] xs = {3, 33, 35, 16};
        MaxWindow win = new MaxWindow(new int[] {1, 3, 3, 1}, new int[] {1, 2, 2, 1}, new int[] {0, 1, 1, 0},
                new int[] {0, 1, 1, 0});
        int[] os = win.outputShape("reduce_window_max", xs);
        int inSize = 3 * 33 * 35 * 16;
        int n = os[0] * os[1] * os[2] * os[3];
        int k = 5;
        try (Tensor x = Tensor.randomNormal(DType.F64, 11, xs);
             Tensor t = Tensor.randomNormal(DType.F64, 12, k, 3, 33, 35, 16);
             Tensor c = Tensor.randomNormal(DType.F64, 13, k, os[0], os[1], os[2], os[3])) {
            int[] sel = win.selected(x);
            int[] want = new int[n];
            int q = 0;
            for (int b = 0; b < os[0]; b++) {
                for (int i = 0; i < os[1]; i++) {
                    for (int j = 0; j < os[2]; j++) {
                        for (int ch = 0; ch < os[3]; ch++) {
                            int best = -1;
                            for (int a = 0; a < 3; a++) {
                                for (int e = 0; e < 3; e++) {
                                    int h = 2 * i - 1 + a;
                                    int w = 2 * j - 1 + e;
                                    if (h >= 0 && h < xs[1] && w >= 0 && w < xs[2]) {
                                        int flat = ((b * xs[1] + h) * xs[2] + w) * xs[3] + ch;
                                        if (best < 0 || x.getFlat(flat) > x.getFlat(best)) {
                                            best = flat;
                                        }
                                    }
                                }
                            }
                            want[q++] = best;
                        }
                    }
                }
            }
            assertThat(sel).containsExactly(want);
            try (Tensor g = MaxWindow.gather(sel, t, inSize, new int[] {k, os[0], os[1], os[2], os[3]});
                 Tensor s = MaxWindow.scatter(sel, c, inSize, new int[] {k, 3, 33, 35, 16})) {
                double[] scattered = new double[k * inSize];
                for (int b = 0; b < k; b++) {
                    for (int j = 0; j < n; j++) {
                        assertThat(g.getFlat(b * n + j)).isEqualTo(t.getFlat(b * inSize + want[j]));
                        scattered[b * inSize + want[j]] += c.getFlat(b * n + j);
                    }
                }
                assertThat(s.toDoubleArray()).containsExactly(scattered);
            }
        }
    }

    /** The JVP and VJP graphs (gather and scatter, linear in the tangent) pass the same three checks. */
    @Test
    void theDerivativeGraphsPassTheChecksToo() {
        int[] xs = {2, 5, 6, 3};
        Graph g = pool(xs, 3, 3, 2, 2, 1, 1, DType.F64);
        for (Graph d : new Graph[] {Jvp.of(g, 2), Vjp.of(g, 2)}) {
            Tensor[] in = DerivativeCheck.randomInputs(d, 17);
            try {
                assertThat(DerivativeCheck.jvpVersusFiniteDifferences(d, in, 3, 1e-5, 3)).as("%s", d)
                        .isLessThan(1e-8);
                assertThat(DerivativeCheck.adjointGap(d, in, 3, 4)).as("%s", d).isLessThan(1e-12);
                assertThat(DerivativeCheck.stackingGap(d, in, 3, 5)).as("%s", d).isLessThan(1e-12);
            } finally {
                ConvTest.closeAll(in);
            }
        }
    }

    /**
     * Ties: every window's gradient goes to its first maximal element in row-major order. The expected gradients
     * are what PyTorch 1.13's CPU {@code max_pool2d(x, 3, 1, 1)} and {@code max_pool2d(zeros(4, 4), 3, 2, 1)}
     * give for {@code y.sum().backward()}.
     */
    @Test
    void tiesSendTheGradientToTheFirstMaximumAsPyTorch() {
        Graph g = pool(new int[] {1, 3, 3, 1}, 3, 3, 1, 1, 1, 1, DType.F64);
        try (Tensor x = Tensor.of(new double[] {1, 2, 2, 2, 0, 2, 1, 1, 1}, 1, 3, 3, 1);
             Tensor ones = Tensor.full(DType.F64, 1, 1, 1, 3, 3, 1)) {
            try (Tensor grad = Vjp.of(g, 1).evaluate(x, ones)[1]) {
                assertThat(grad.toDoubleArray()).containsExactly(0, 6, 0, 2, 0, 1, 0, 0, 0);
            }
        }
        Graph zeros = pool(new int[] {1, 4, 4, 1}, 3, 3, 2, 2, 1, 1, DType.F64);
        try (Tensor x = Tensor.zeros(DType.F64, 1, 4, 4, 1); Tensor ones = Tensor.full(DType.F64, 1, 1, 1, 2, 2, 1);
             Tensor grad = Vjp.of(zeros, 1).evaluate(x, ones)[1]) {
            assertThat(grad.toDoubleArray()).containsExactly(1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        }
    }

    @Test
    void flopsAndErrors() {
        TensorType x = new TensorType(DType.F32, 2, 8, 8, 4);
        ReduceWindowMax p = new ReduceWindowMax(new int[] {1, 3, 3, 1}, new int[] {1, 2, 2, 1},
                new int[] {0, 1, 1, 0}, new int[] {0, 1, 1, 0});
        TensorType y = p.outputType(x);
        assertThat(y.shape()).containsExactly(2, 4, 4, 4);
        assertThat(p.flops(new TensorType[] {x}, y)).isEqualTo(2 * 4 * 4 * 4 * 9);
        assertThatThrownBy(() -> new ReduceWindowMax(new int[] {3, 3}, new int[] {1, 1}, new int[] {0, 0},
                new int[] {0, 0}).outputType(x)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reduce_window_max: expects window, strides, lo and hi of length 4");
        assertThatThrownBy(() -> new ReduceWindowMax(new int[] {1, 3, 3, 1}, new int[] {1, 1, 1, 1},
                new int[] {0, 3, 0, 0}, new int[] {0, 0, 0, 0}).outputType(x))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("covers only padding");
        assertThatThrownBy(() -> new MaxWindowGather(new int[] {1, 3, 3, 1}, new int[] {1, 2, 2, 1},
                new int[] {0, 1, 1, 0}, new int[] {0, 1, 1, 0}).outputType(x, new TensorType(DType.F32, 3, 2, 8, 8, 5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max_window_gather: expects values");
    }
}
