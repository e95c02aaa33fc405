package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.InputGradProducts;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ConvInputGradMul} and {@link InputGradProducts}: the input gradient times a multiplier tiled over the batch
 * ({@link Convolution#inputGradTimes}) against the nested-loop input gradient times the multiplier (float64, 1e-12)
 * and against the unfused kernels, {@code conv_input_grad} then {@code mul} (float64 to 1e-13, float32 to 1e-6,
 * relative), on every path of the kernel (padded planes with unit strides, where the product is fused into the
 * planes' copy out, planes with strides, tap by tap, col2im, pointwise) and for M = 1, a divisor of N and N; its
 * derivative rules; its refusals; the graph rewrite (which products it takes in, which it leaves).
 */
class ConvInputGradMulTest {
    private static final int[] ONE = {1, 1};

    /** Cases on each path of {@link Convolution#inputGrad}, each with a batch that M = 1, 3 and N divide. */
    private static List<ConvTest.Case> cases() {
        List<ConvTest.Case> cases = new ArrayList<>();
        // planes, unit strides (fused): the small cnn's layer (several blocks of images over the cores), a 1-D one
        cases.add(new ConvTest.Case(2, 30, new int[] {16, 16}, 32, 32, new int[] {3, 3}, ONE, ONE, ONE, ONE));
        cases.add(new ConvTest.Case(2, 6, new int[] {9, 7}, 5, 4, new int[] {3, 3}, ONE, ONE, ONE, ONE));
        cases.add(new ConvTest.Case(1, 12, new int[] {20}, 3, 4, new int[] {3}, new int[] {1}, new int[] {1},
                new int[] {1}, new int[] {1}));
        // planes with stride 2, tap by tap, col2im, pointwise (not fused: multiplied after)
        cases.add(new ConvTest.Case(2, 6, new int[] {7, 7}, 12, 16, new int[] {3, 3}, new int[] {2, 2}, ONE, ONE,
                ONE));
        cases.add(new ConvTest.Case(2, 24, new int[] {4, 9}, 16, 12, new int[] {3, 3}, ONE, ONE, ONE, ONE));
        cases.add(new ConvTest.Case(2, 3, new int[] {5, 6}, 3, 4, new int[] {3, 2}, new int[] {2, 1},
                new int[] {1, 0}, new int[] {1, 1}, new int[] {1, 2}));
        cases.add(new ConvTest.Case(2, 6, new int[] {3, 4}, 2, 3, ONE, ONE, new int[] {0, 0}, new int[] {0, 0},
                ONE));
        return cases;
    }

    private static Convolution.Window window(ConvTest.Case c) {
        return new Convolution.Window(c.strides(), c.lo(), c.hi(), c.dil());
    }

    @Test
    void matchesTheInputGradientTimesTheMultiplier() {
        long seed = 1;
        for (ConvTest.Case c : cases()) {
            int[] xs = c.xShape();
            for (int m : new int[] {1, 3, c.n()}) {
                int[] ms = xs.clone();
                ms[0] = m;
                int[] split = Shapes.concat(new int[] {c.n() / m}, ms);
                try (Tensor dy = Tensor.randomNormal(DType.F64, seed, c.yShape());
                     Tensor w = Tensor.randomNormal(DType.F64, seed + 1, c.wShape());
                     Tensor times = Tensor.randomNormal(DType.F64, seed + 2, ms);
                     Tensor fused = Convolution.inputGradTimes(dy, w, c.in(), window(c), times);
                     Tensor dx = Convolution.inputGrad(dy, w, c.in(), window(c));
                     Tensor dx5 = dx.reshape(split);
                     Tensor unfused = Elementwise.binary(Elementwise.BinaryOp.MUL, dx5, times)) {
                    assertThat(fused.shape()).containsExactly(xs);
                    // the independent oracle: the nested-loop input gradient, times the multiplier of each image
                    double[] ref = ConvTest.refInputGrad(c, dy.toDoubleArray(), w.toDoubleArray());
                    double[] mv = times.toDoubleArray();
                    int image = ref.length / c.n();
                    for (int i = 0; i < ref.length; i++) {
                        ref[i] *= mv[i / image % m * image + i % image];
                    }
                    assertThat(ConvTest.relErr(fused.toDoubleArray(), ref)).as("f64 oracle %s, M = %d", c, m)
                            .isLessThan(1e-12);
                    assertThat(ConvTest.relErr(fused.toDoubleArray(), unfused.toDoubleArray()))
                            .as("f64 unfused %s, M = %d", c, m).isLessThanOrEqualTo(1e-13);
                    try (Tensor dy32 = dy.to(DType.F32);
                         Tensor w32 = w.to(DType.F32);
                         Tensor t32 = times.to(DType.F32);
                         Tensor f32 = Convolution.inputGradTimes(dy32, w32, c.in(), window(c), t32);
                         Tensor dx32 = Convolution.inputGrad(dy32, w32, c.in(), window(c));
                         Tensor dx325 = dx32.reshape(split);
                         Tensor u32 = Elementwise.binary(Elementwise.BinaryOp.MUL, dx325, t32)) {
                        assertThat(ConvTest.relErr(f32.toDoubleArray(), u32.toDoubleArray()))
                                .as("f32 unfused %s, M = %d", c, m).isLessThanOrEqualTo(1e-6);
                        assertThat(ConvTest.relErr(f32.toDoubleArray(), ref)).as("f32 oracle %s, M = %d", c, m)
                                .isLessThan(1e-4);
                    }
                }
                seed += 3;
            }
        }
    }

    @Test
    void refusesAMultiplierThatDoesNotFit() {
        ConvTest.Case c = cases().get(1);
        Convolution.Window win = window(c);
        ConvInputGradMul p = new ConvInputGradMul(win, c.in());
        TensorType dy = new TensorType(DType.F64, c.yShape());
        TensorType w = new TensorType(DType.F64, c.wShape());
        assertThatThrownBy(() -> p.outputType(dy, w, new TensorType(DType.F64, 4, 9, 7, 5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("conv_input_grad_mul: expected multiplier f64[M] + [9, 7, 5] with M >= 1 dividing 6,"
                        + " got f64[4,9,7,5]");
        assertThatThrownBy(() -> p.outputType(dy, w, new TensorType(DType.F32, 3, 9, 7, 5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got f32[3,9,7,5]");
        assertThatThrownBy(() -> p.outputType(dy, w)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("conv_input_grad_mul: expects 3 operands (cotangent, filter, multiplier), got 2");
        try (Tensor y = Tensor.zeros(DType.F64, c.yShape());
             Tensor f = Tensor.zeros(DType.F64, c.wShape());
             Tensor bad = Tensor.zeros(DType.F64, 3, 9, 7, 4)) {
            assertThatThrownBy(() -> Convolution.inputGradTimes(y, f, c.in(), win, bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("conv_input_grad_mul: expected multiplier [M] + [9, 7] + [5] with M >= 1 dividing"
                            + " the batch 6, got [3, 9, 7, 4]");
        }
    }

    @Test
    void derivativesAreThoseOfTheComposition() {
        long seed = 40;
        for (ConvTest.Case c : ConvTest.derivativeCases()) {
            int[] ms = c.xShape();
            ms[0] = 1;
            Convolution.Window win = window(c);
            Graph g = Graph.trace(List.of(new TensorType(DType.F64, c.yShape()), new TensorType(DType.F64,
                    c.wShape()), new TensorType(DType.F64, ms)), v -> new Var[] {v[0].builder().apply(
                    new ConvInputGradMul(win, c.in()), v[0], v[1], v[2])});
            Tensor[] x = DerivativeCheck.randomInputs(g, seed);
            try {
                // trilinear: central differences' error is step² times a third derivative, so a smaller step
                assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 3, 1e-4, seed)).as("JVP vs FD %s", c)
                        .isLessThanOrEqualTo(1e-6);
                assertThat(DerivativeCheck.adjointGap(g, x, 3, seed)).as("adjoint gap %s", c)
                        .isLessThanOrEqualTo(1e-12);
                assertThat(DerivativeCheck.stackingGap(g, x, 3, seed)).as("stacking gap %s", c)
                        .isLessThanOrEqualTo(1e-12);
            } finally {
                ConvTest.closeAll(x);
            }
            seed++;
        }
    }

    /**
     * The derivative rules with the multiplier tiled over a stack (M = 3 and M = N = 6, so K = 2 and 1 with M > 1;
     * the test above has M = 1 only): the tangent and cotangent of the multiplier reduce over the stack, those of
     * dy and w go through the reshape. Unit strides (the fused copy-out), strides with dilation, and a 1-D window.
     */
    @Test
    void derivativesWithTheMultiplierTiledOverTheBatch() {
        List<ConvTest.Case> cases = List.of(
                new ConvTest.Case(2, 6, new int[] {4, 5}, 2, 3, new int[] {3, 3}, ONE, ONE, ONE, ONE),
                new ConvTest.Case(2, 6, new int[] {5, 6}, 2, 3, new int[] {3, 2}, new int[] {2, 1},
                        new int[] {1, 0}, new int[] {1, 1}, new int[] {1, 2}),
                new ConvTest.Case(2, 6, new int[] {6, 5}, 2, 2, new int[] {2, 2}, ONE, new int[] {0, 1},
                        new int[] {1, 0}, new int[] {2, 2}),
                new ConvTest.Case(1, 6, new int[] {7}, 2, 3, new int[] {3}, new int[] {1}, new int[] {1},
                        new int[] {1}, new int[] {1}));
        long seed = 90;
        for (ConvTest.Case c : cases) {
            for (int m : new int[] {3, c.n()}) {
                int[] ms = c.xShape();
                ms[0] = m;
                Convolution.Window win = window(c);
                Graph g = Graph.trace(List.of(new TensorType(DType.F64, c.yShape()), new TensorType(DType.F64,
                        c.wShape()), new TensorType(DType.F64, ms)), v -> new Var[] {v[0].builder().apply(
                        new ConvInputGradMul(win, c.in()), v[0], v[1], v[2])});
                Tensor[] x = DerivativeCheck.randomInputs(g, seed);
                try {
                    assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 3, 1e-4, seed))
                            .as("JVP vs FD %s, M = %d", c, m).isLessThanOrEqualTo(1e-6);
                    assertThat(DerivativeCheck.adjointGap(g, x, 3, seed)).as("adjoint gap %s, M = %d", c, m)
                            .isLessThanOrEqualTo(1e-12);
                    assertThat(DerivativeCheck.stackingGap(g, x, 3, seed)).as("stacking gap %s, M = %d", c, m)
                            .isLessThanOrEqualTo(1e-12);
                } finally {
                    ConvTest.closeAll(x);
                }
                seed++;
            }
        }
    }

    private static List<String> names(Graph g) {
        List<String> names = new ArrayList<>();
        for (Equation e : g.equations()) {
            names.add(e.primitive().name());
        }
        return names;
    }

    /** A backward pass's stacked step: reshape(conv_input_grad(dy, w), [K, N, ...]) ⊙ m, m [N, ...]. */
    private static Graph stackedStep(ConvTest.Case c, int k, boolean maskFirst, boolean gradientOut) {
        int n = c.n() / k;
        int[] ms = c.xShape();
        ms[0] = n;
        return Graph.trace(List.of(new TensorType(DType.F64, c.yShape()), new TensorType(DType.F64, c.wShape()),
                new TensorType(DType.F64, ms)), v -> {
                    Var u = v[0].convInputGrad(v[1], c.in(), c.strides(), c.padding(), c.dil());
                    Var x = u.reshape(Shapes.concat(new int[] {k}, ms));
                    Var p = maskFirst ? v[2].mul(x) : x.mul(v[2]);
                    return gradientOut ? new Var[] {p, u} : new Var[] {p};
                });
    }

    @Test
    void theRewriteFusesPrivateGradientsAndKeepsValues() {
        ConvTest.Case c = cases().get(0);
        long seed = 70;
        for (boolean maskFirst : new boolean[] {false, true}) {
            Graph g = stackedStep(c, 5, maskFirst, false);
            Graph r = InputGradProducts.apply(g);
            assertThat(names(r)).containsExactly("conv_input_grad_mul", "reshape");
            Tensor[] x = DerivativeCheck.randomInputs(g, seed++);
            try {
                double[] before = ConvTest.run(g, x);
                double[] after = ConvTest.run(r, x);
                assertThat(ConvTest.relErr(after, before)).isLessThanOrEqualTo(1e-13);
            } finally {
                ConvTest.closeAll(x);
            }
        }
        // the gradient returned as well: left as it is
        Graph both = stackedStep(c, 5, false, true);
        assertThat(InputGradProducts.apply(both)).isSameAs(both);
        // a product that broadcasts the gradient itself up: not this primitive's product
        int[] ms = c.xShape();
        Graph wider = Graph.trace(List.of(new TensorType(DType.F64, c.yShape()), new TensorType(DType.F64,
                c.wShape()), new TensorType(DType.F64, Shapes.concat(new int[] {2}, ms))), v -> new Var[] {
                    v[0].convInputGrad(v[1], c.in(), c.strides(), c.padding(), c.dil()).mul(v[2])});
        assertThat(InputGradProducts.apply(wider)).isSameAs(wider);
    }
    /** A graph of dy, w and a multiplier of shape {@code ms} whose output is {@code body(u, m)}, u the gradient. */
    private static Graph around(ConvTest.Case c, DType dt, int[] ms,
                                java.util.function.BiFunction<Var, Var, Var[]> body) {
        return Graph.trace(List.of(new TensorType(dt, c.yShape()), new TensorType(dt, c.wShape()),
                new TensorType(dt, ms)), v -> body.apply(v[0].convInputGrad(v[1], c.in(), c.strides(),
                c.padding(), c.dil()), v[2]));
    }

    /**
     * Products the primitive does not compute are left alone: a multiplier that broadcasts over the positions
     * ([1, 1, 1, C]), the channels ([N, H, W, 1]) or has a lower rank ([C]); a reshape that is not a split of the
     * batch axis (H and W exchanged); a multiplier computed from the gradient; the reshape read twice; a multiplier
     * of the other dtype cannot occur (mul refuses it). The split [2, 3] of a batch of 6 against m [3, ...] and a
     * float32 step, and the gradient itself against m [1, ...] or [N, ...], are fused, to the same values.
     */
    @Test
    void theRewriteLeavesProductsItDoesNotCompute() {
        ConvTest.Case c = new ConvTest.Case(2, 6, new int[] {4, 5}, 3, 2, new int[] {3, 3}, ONE, ONE, ONE, ONE);
        int[] xs = c.xShape(); // [6, 4, 5, 3]
        List<Graph> left = List.of(
                around(c, DType.F64, new int[] {1, 1, 1, 3}, (u, m) -> new Var[] {u.mul(m)}),
                around(c, DType.F64, new int[] {6, 4, 5, 1}, (u, m) -> new Var[] {u.mul(m)}),
                around(c, DType.F64, new int[] {3}, (u, m) -> new Var[] {u.reshape(2, 3, 4, 5, 3).mul(m)}),
                around(c, DType.F64, new int[] {3, 5, 4, 3}, (u, m) -> new Var[] {u.reshape(2, 3, 5, 4, 3).mul(m)}),
                around(c, DType.F64, xs, (u, m) -> new Var[] {u.mul(u.mul(m))}),
                around(c, DType.F64, new int[] {3, 4, 5, 3}, (u, m) -> {
                    Var x = u.reshape(2, 3, 4, 5, 3);
                    return new Var[] {x.mul(m).add(x)};
                }));
        for (Graph g : left) {
            assertThat(InputGradProducts.apply(g)).as("%s", names(g)).isSameAs(g);
        }
        long seed = 120;
        // the split [2, 3] against m [3, ...] in float64 and float32; the gradient itself against m [1, ...]
        // (either operand order) and m [6, ...], with no reshape before or after
        List<Object[]> fusing = List.of(new Object[] {DType.F64, new int[] {3, 4, 5, 3}, true, false},
                new Object[] {DType.F32, new int[] {3, 4, 5, 3}, true, false},
                new Object[] {DType.F64, new int[] {1, 4, 5, 3}, false, true},
                new Object[] {DType.F64, xs, false, false});
        for (Object[] f : fusing) {
            DType dt = (DType) f[0];
            int[] ms = (int[]) f[1];
            boolean split = (Boolean) f[2];
            boolean maskFirst = (Boolean) f[3];
            Graph g = around(c, dt, ms, (u, m) -> new Var[] {split ? u.reshape(2, 3, 4, 5, 3).mul(m)
                    : maskFirst ? m.mul(u) : u.mul(m)});
            Graph r = InputGradProducts.apply(g);
            if (split) {
                assertThat(names(r)).containsExactly("conv_input_grad_mul", "reshape");
            } else {
                assertThat(names(r)).containsExactly("conv_input_grad_mul");
            }
            try (Tensor dy = Tensor.randomNormal(dt, seed, c.yShape());
                 Tensor w = Tensor.randomNormal(dt, seed + 1, c.wShape());
                 Tensor m = Tensor.randomNormal(dt, seed + 2, ms)) {
                double[] before = ConvTest.run(g, dy, w, m);
                double[] after = ConvTest.run(r, dy, w, m);
                assertThat(ConvTest.relErr(after, before)).as("%s", dt).isLessThanOrEqualTo(dt == DType.F64
                        ? 1e-13 : 1e-6);
            }
            seed += 3;
        }
    }
}
