package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Grouped and depthwise convolution ({@code grouped_conv}, feature_group_count G): values against a nested-loop
 * reference in float64, the finite-difference, adjoint and stacked-tangent checks of the primitive and of its
 * JVP and VJP graphs, the FLOP rule and the error messages.
 */
class GroupedConvTest {

    /**
     * y[n, i, j, o] = Σ_{a, b, c < Cin/G} x[n, i·s + a − lo, j·s + b − lo, g·Cin/G + c] · w[a, b, c, o],
     * g = o / (Cout/G).
     */
    static double[] reference(Tensor x, Tensor w, int groups, int stride, int lo, int hi) {
        int[] xs = x.shape();
        int[] ws = w.shape();
        int oh = (xs[1] + lo + hi - ws[0]) / stride + 1;
        int ow = (xs[2] + lo + hi - ws[1]) / stride + 1;
        int cout = ws[3];
        int ci = ws[2];
        int co = cout / groups;
        double[] y = new double[xs[0] * oh * ow * cout];
        int q = 0;
        for (int n = 0; n < xs[0]; n++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    for (int o = 0; o < cout; o++) {
                        int g = o / co;
                        double s = 0;
                        for (int a = 0; a < ws[0]; a++) {
                            for (int b = 0; b < ws[1]; b++) {
                                int h = i * stride + a - lo;
                                int v = j * stride + b - lo;
                                if (h < 0 || h >= xs[1] || v < 0 || v >= xs[2]) {
                                    continue;
                                }
                                for (int c = 0; c < ci; c++) {
                                    s += x.get(n, h, v, g * ci + c) * w.get(a, b, c, o);
                                }
                            }
                        }
                        y[q++] = s;
                    }
                }
            }
        }
        return y;
    }

    static Graph graph(int[] xs, int[] ws, int groups, int stride, int lo, int hi) {
        return Graph.trace(List.of(new TensorType(DType.F64, xs), new TensorType(DType.F64, ws)),
                v -> new Var[] {v[0].conv(v[1], new int[] {stride, stride}, new int[][] {{lo, hi}, {lo, hi}},
                        new int[] {1, 1}, groups)});
    }

    @Property(tries = 40, seed = "20261204")
    void valuesAndDerivatives(
            @ForAll @IntRange(min = 1, max = 2) int n,
            @ForAll @IntRange(min = 2, max = 5) int h,
            @ForAll @IntRange(min = 1, max = 3) int groups,
            @ForAll @IntRange(min = 1, max = 2) int cinPerGroup,
            @ForAll @IntRange(min = 1, max = 2) int coutPerGroup,
            @ForAll @IntRange(min = 1, max = 3) int k,
            @ForAll @IntRange(min = 1, max = 2) int stride,
            @ForAll @IntRange(min = 0, max = 1) int lo,
            @ForAll @IntRange(min = 0, max = 1) int hi,
            @ForAll @IntRange(min = 0, max = 1000) int seed) {
        h = Math.max(h, k);
        int[] xs = {n, h, h + 1, groups * cinPerGroup};
        int[] ws = {k, k, cinPerGroup, groups * coutPerGroup};
        Graph g = graph(xs, ws, groups, stride, lo, hi);
        try (Tensor x = Tensor.randomNormal(DType.F64, seed, xs);
             Tensor w = Tensor.randomNormal(DType.F64, seed + 1, ws);
             Tensor y = g.evaluate(x, w)[0]) {
            double[] ref = reference(x, w, groups, stride, lo, hi);
            assertThat(ConvTest.relErr(y.toDoubleArray(), ref)).isLessThan(1e-12);
            Tensor[] in = {x, w};
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, in, 3, 1e-5, seed)).isLessThan(1e-8);
            assertThat(DerivativeCheck.adjointGap(g, in, 3, seed)).isLessThan(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, in, 3, seed)).isLessThan(1e-12);
        }
    }

    @Test
    void derivativeGraphsOfADepthwiseConvolutionPassTheChecks() {
        Graph g = graph(new int[] {2, 5, 4, 3}, new int[] {3, 3, 1, 6}, 3, 2, 1, 1);
        for (Graph d : new Graph[] {Jvp.of(g, 2), Vjp.of(g, 2)}) {
            Tensor[] in = DerivativeCheck.randomInputs(d, 11);
            try {
                assertThat(DerivativeCheck.jvpVersusFiniteDifferences(d, in, 3, 1e-5, 3)).isLessThan(1e-8);
                assertThat(DerivativeCheck.adjointGap(d, in, 3, 4)).isLessThan(1e-12);
                assertThat(DerivativeCheck.stackingGap(d, in, 3, 5)).isLessThan(1e-12);
            } finally {
                ConvTest.closeAll(in);
            }
        }
    }

    @Test
    void flopsAndErrors() {
        Convolution.Window win = Convolution.Window.of(new int[] {1, 1}, new int[][] {{1, 1}, {1, 1}},
                new int[] {1, 1});
        GroupedConv p = new GroupedConv(win, 4);
        TensorType x = new TensorType(DType.F32, 2, 8, 8, 8);
        TensorType w = new TensorType(DType.F32, 3, 3, 2, 8);
        TensorType y = p.outputType(x, w);
        assertThat(y.shape()).containsExactly(2, 8, 8, 8);
        // 2 · (output size) · 3·3·(8/4): a quarter of the ungrouped convolution's
        assertThat(p.flops(new TensorType[] {x, w}, y)).isEqualTo(2.0 * 2 * 8 * 8 * 8 * 9 * 2);
        assertThatThrownBy(() -> p.outputType(x, new TensorType(DType.F32, 3, 3, 8, 8)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("grouped_conv: the filter's input-channel axis must be Cin/G = 8/4 = 2");
        assertThatThrownBy(() -> new GroupedConv(win, 3).outputType(x, new TensorType(DType.F32, 3, 3, 2, 9)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("feature_group_count 3 must divide the input channels (8)");
        assertThatThrownBy(() -> new GroupedConv(win, 0)).hasMessageContaining("must be >= 1, got 0");
    }
}
