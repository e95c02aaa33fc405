package org.ntk4j.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.Mul;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link ProductRewrite}: a backward pass's cotangent times a mask times a scale, and a broadcast times a mask,
 * become one product over the large shape; values the graph returns or reads twice are never rewritten; values
 * agree with the original graph's (exactly for 0/1 masks and one scale, to rounding otherwise).
 */
class ProductRewriteTest {
    private static final int K = 3;
    private static final int N = 2;
    private static final int H = 4;
    private static final int W = 5;
    private static final int C = 6;
    private static final int[] LARGE = {K, N, H, W, C};

    /** The equations of {@code g} whose result has the large shape, by primitive name. */
    private static List<String> large(Graph g, int[] shape) {
        List<String> names = new ArrayList<>();
        for (Equation e : g.equations()) {
            if (java.util.Arrays.equals(e.output().shape(), shape)) {
                names.add(e.primitive().name());
            }
        }
        return names;
    }

    private static Tensor mask(long seed, int... shape) {
        try (Tensor r = Tensor.randomNormal(DType.F64, seed, shape)) {
            Tensor m = Tensor.zeros(DType.F64, shape);
            for (int i = 0; i < m.size(); i++) {
                m.setFlat(i, r.getFlat(i) > 0 ? 1 : 0);
            }
            return m;
        }
    }

    private static double[] values(Graph g, Tensor... args) {
        Tensor[] out = g.evaluate(args);
        try {
            double[] v = new double[out[0].size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = out[0].getFlat(i);
            }
            return v;
        } finally {
            Fixtures.closeAll(out);
        }
    }

    @Test
    void aMaskAndAScaleMeetBeforeTheStack() {
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(DType.F64, LARGE);
        Var m = b.input(DType.F64, N, H, W, C);
        Graph g = b.build(x.mul(m).mul(0.125));
        Graph r = ProductRewrite.apply(g);
        assertThat(large(g, LARGE)).containsExactly("mul", "mul");
        assertThat(large(r, LARGE)).containsExactly("mul");
        try (Tensor xs = Tensor.randomNormal(DType.F64, 1, LARGE); Tensor ms = mask(2, N, H, W, C)) {
            // x · (m · s) with m in {0, 1}: the same products, rounded once each
            assertThat(values(r, xs, ms)).containsExactly(values(g, xs, ms));
        }
    }

    @Test
    void aBroadcastOperandIsReadInPlaceAndTheScaleJoinsTheSmallestFactor() {
        GraphBuilder b = new GraphBuilder();
        Var gk = b.input(DType.F64, K, N, C);
        Var m = b.input(DType.F64, N, H, W, C);
        Graph g = b.build(gk.broadcastInDim(LARGE, new int[] {0, 1, 4}).mul(m).mul(0.5));
        Graph r = ProductRewrite.apply(g);
        assertThat(large(g, LARGE)).containsExactly("broadcast_in_dim", "mul", "mul");
        assertThat(large(r, LARGE)).containsExactly("mul");
        assertThat(r.equations()).noneMatch(e -> e.primitive() instanceof BroadcastInDim);
        // the scale multiplies the [K, N, 1, 1, C] factor (K·N·C elements), not the mask (N·H·W·C)
        assertThat(r.equations()).anyMatch(e -> e.primitive() instanceof Mul
                && java.util.Arrays.equals(e.output().shape(), new int[] {K, N, 1, 1, C}));
        try (Tensor gs = Tensor.randomNormal(DType.F64, 3, K, N, C); Tensor ms = mask(4, N, H, W, C)) {
            assertThat(values(r, gs, ms)).containsExactly(values(g, gs, ms));
        }
    }

    /** A stack [K, N, H, W, C] times a mask [N, H, W, C], both inputs of a new builder. */
    private static Var stackTimesMask() {
        GraphBuilder b = new GraphBuilder();
        return b.input(DType.F64, LARGE).mul(b.input(DType.F64, N, H, W, C));
    }

    @Test
    void valuesReturnedOrReadTwiceStay() {
        Var xm = stackTimesMask();
        Graph returned = xm.builder().build(xm.mul(0.5), xm);
        assertThat(ProductRewrite.apply(returned)).isSameAs(returned);

        Var xm2 = stackTimesMask();
        Graph twice = xm2.builder().build(xm2.mul(0.5).add(xm2));
        assertThat(ProductRewrite.apply(twice)).isSameAs(twice);
    }

    @Test
    void droppingAnOutputOpensItsProductToTheRewrite() {
        Var xm = stackTimesMask();
        GraphBuilder b = xm.builder();
        Var scaled = xm.mul(0.5);
        Graph g = b.build(xm, scaled);
        Graph r = ProductRewrite.apply(g, List.of(scaled));
        assertThat(r.outputs()).hasSize(1);
        assertThat(r.inputs()).hasSize(2);
        assertThat(large(r, LARGE)).containsExactly("mul");
        try (Tensor xs = Tensor.randomNormal(DType.F64, 5, LARGE); Tensor ms = mask(6, N, H, W, C)) {
            Tensor[] whole = g.evaluate(xs, ms);
            try {
                double[] expected = new double[whole[1].size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = whole[1].getFlat(i);
                }
                assertThat(values(r, xs, ms)).containsExactly(expected);
            } finally {
                Fixtures.closeAll(whole);
            }
        }
    }

    /**
     * Chains of products of a stack [K, N, H, W, C] with random factors (each axis of the large shape kept or
     * set to 1, by broadcast_in_dim or as the operand's own shape, or a scalar) agree with the original graph, and
     * the rewrite never adds a product over the large shape.
     */
    @Property(tries = 60)
    void randomChainsOfProductsAgree(@ForAll long seed) {
        Random rnd = new Random(seed);
        GraphBuilder b = new GraphBuilder();
        Var x = b.input(DType.F64, LARGE);
        List<Var> factors = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        Var acc = x;
        int steps = 1 + rnd.nextInt(3);
        for (int i = 0; i < steps; i++) {
            Var f;
            if (rnd.nextInt(4) == 0) {
                f = b.scalar(0.5 + rnd.nextDouble(), DType.F64);
            } else {
                List<Integer> dims = new ArrayList<>();
                List<Integer> sizes = new ArrayList<>();
                for (int ax = 0; ax < LARGE.length; ax++) {
                    if (rnd.nextBoolean()) {
                        dims.add(ax);
                        sizes.add(LARGE[ax]);
                    }
                }
                int[] own = sizes.stream().mapToInt(Integer::intValue).toArray();
                Var in = b.input(DType.F64, own);
                factors.add(in);
                shapes.add(own);
                f = rnd.nextBoolean() || own.length == 0 ? in
                        : in.broadcastInDim(LARGE, dims.stream().mapToInt(Integer::intValue).toArray());
                if (f == in) {
                    // as a NumPy-broadcast operand: its axes in place, 1 elsewhere
                    int[] kept = new int[LARGE.length];
                    java.util.Arrays.fill(kept, 1);
                    for (int j = 0; j < dims.size(); j++) {
                        kept[dims.get(j)] = sizes.get(j);
                    }
                    f = in.reshape(kept);
                }
            }
            acc = rnd.nextBoolean() ? acc.mul(f) : f.mul(acc);
        }
        Graph g = b.build(acc);
        Graph r = ProductRewrite.apply(g);
        assertThat(large(r, LARGE).size()).isLessThanOrEqualTo(large(g, LARGE).size());
        Tensor[] args = new Tensor[1 + factors.size()];
        try {
            args[0] = Tensor.randomNormal(DType.F64, seed, LARGE);
            for (int i = 0; i < factors.size(); i++) {
                args[i + 1] = Tensor.randomNormal(DType.F64, seed + i + 1, shapes.get(i));
            }
            double[] want = values(g, args);
            double[] got = values(r, args);
            for (int i = 0; i < want.length; i++) {
                assertThat(got[i]).isCloseTo(want[i], Offset.offset(1e-14 * (1 + Math.abs(want[i]))));
            }
        } finally {
            Fixtures.closeAll(args);
        }
    }
}
