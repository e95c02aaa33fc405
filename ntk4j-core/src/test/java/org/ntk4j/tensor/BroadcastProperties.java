package org.ntk4j.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.ntk4j.Fixtures;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Elementwise.BinaryOp;

/** NumPy broadcasting: {@link Shapes#broadcast} and {@link Elementwise#binary} against reference definitions. */
class BroadcastProperties {

    /** Two shapes. */
    record Pair(int[] a, int[] b) {
        @Override
        public String toString() {
            return Arrays.toString(a) + " with " + Arrays.toString(b);
        }
    }

    private static Arbitrary<Integer> dim() {
        return Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(0)), Tuple.of(2, Arbitraries.just(1)),
                Tuple.of(7, Arbitraries.integers().between(2, 4)));
    }

    private static Arbitrary<int[]> shape() {
        return dim().list().ofMinSize(0).ofMaxSize(4).map(l -> l.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Any two shapes (mostly incompatible). */
    @Provide
    Arbitrary<Pair> anyPairs() {
        return Combinators.combine(shape(), shape()).as(Pair::new);
    }

    /**
     * Compatible pairs: both are a common shape with some leading axes dropped and some axes set to 1
     * (bit i of the mask sets axis i of the common shape to 1).
     */
    @Provide
    Arbitrary<Pair> compatiblePairs() {
        Arbitrary<Integer> drop = Arbitraries.integers().between(0, 4);
        Arbitrary<Integer> mask = Arbitraries.integers().between(0, 15);
        return Combinators.combine(shape(), drop, drop, mask, mask)
                .as((base, da, db, ma, mb) -> new Pair(derive(base, da, ma), derive(base, db, mb)));
    }

    private static int[] derive(int[] base, int drop, int mask) {
        int[] r = Arrays.copyOfRange(base, Math.min(drop, base.length), base.length);
        int off = base.length - r.length;
        for (int i = 0; i < r.length; i++) {
            if ((mask >> (i + off) & 1) != 0) {
                r[i] = 1;
            }
        }
        return r;
    }

    /**
     * Incompatible pairs: a compatible pair with one axis present in both set to two different sizes above 1.
     */
    @Provide
    Arbitrary<Pair> incompatiblePairs() {
        Arbitrary<int[]> nonEmpty = dim().list().ofMinSize(1).ofMaxSize(4)
                .map(l -> l.stream().mapToInt(Integer::intValue).toArray());
        Arbitrary<Integer> drop = Arbitraries.integers().between(0, 3);
        Arbitrary<Integer> mask = Arbitraries.integers().between(0, 15);
        Arbitrary<Integer> size = Arbitraries.integers().between(2, 5);
        return Combinators.combine(nonEmpty, drop, drop, mask, mask, size, Arbitraries.integers().between(1, 3))
                .as((base, da, db, ma, mb, x, dx) -> {
                    int[] a = derive(base, Math.min(da, base.length - 1), ma);
                    int[] b = derive(base, Math.min(db, base.length - 1), mb);
                    // the last axis is in both: make it x against x + dx
                    a[a.length - 1] = x;
                    b[b.length - 1] = x + dx;
                    return new Pair(a, b);
                });
    }

    /**
     * Reference, in NumPy's words: align the shapes on the right, pad the shorter with 1s; on each axis the
     * sizes other than 1 must agree, and the result has that size (1 if there is none).
     */
    static int[] reference(int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int fromRight = 0; fromRight < rank; fromRight++) {
            Set<Integer> sizes = new HashSet<>();
            sizes.add(fromRight < a.length ? a[a.length - 1 - fromRight] : 1);
            sizes.add(fromRight < b.length ? b[b.length - 1 - fromRight] : 1);
            sizes.remove(1);
            if (sizes.size() > 1) {
                return null;
            }
            out[rank - 1 - fromRight] = sizes.isEmpty() ? 1 : sizes.iterator().next();
        }
        return out;
    }

    private static int[] broadcastOrNull(int[] a, int[] b) {
        try {
            return Shapes.broadcast("test", a, b);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    @Property(tries = 500)
    void broadcastIsSymmetric(@ForAll("anyPairs") Pair p) {
        assertThat(broadcastOrNull(p.a(), p.b())).isEqualTo(broadcastOrNull(p.b(), p.a()));
    }

    @Property(tries = 300)
    void compatibleShapesBroadcastSymmetrically(@ForAll("compatiblePairs") Pair p) {
        int[] ab = Shapes.broadcast("test", p.a(), p.b());
        assertThat(Shapes.broadcast("test", p.b(), p.a())).containsExactly(ab);
    }

    @Property(tries = 500)
    void agreesWithTheReferenceDefinition(@ForAll("anyPairs") Pair p) {
        assertThat(broadcastOrNull(p.a(), p.b())).isEqualTo(reference(p.a(), p.b()));
    }

    @Property(tries = 300)
    void agreesWithTheReferenceOnCompatiblePairs(@ForAll("compatiblePairs") Pair p) {
        int[] expected = reference(p.a(), p.b());
        assertThat(expected).as("the generator makes compatible pairs").isNotNull();
        assertThat(Shapes.broadcast("test", p.a(), p.b())).containsExactly(expected);
    }

    @Property(tries = 200)
    void incompatibleShapesAreRejectedNamingBoth(@ForAll("incompatiblePairs") Pair p) {
        assertThat(reference(p.a(), p.b())).isNull();
        for (Pair q : List.of(p, new Pair(p.b(), p.a()))) {
            assertThatThrownBy(() -> Shapes.broadcast("mul", q.a(), q.b()))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("mul: ")
                    .hasMessageContaining(Shapes.str(q.a()))
                    .hasMessageContaining(Shapes.str(q.b()));
        }
    }

    @Property(tries = 150)
    void elementwiseBinaryAgreesWithIndexByIndexReference(@ForAll("compatiblePairs") Pair p,
                                                          @ForAll BinaryOp op, @ForAll DType dtype,
                                                          @ForAll long seed) {
        int[] out = reference(p.a(), p.b());
        try (Tensor a = Tensor.randomNormal(dtype, seed, p.a()); Tensor b = Tensor.randomNormal(dtype, seed + 1, p.b());
             Tensor c = Elementwise.binary(op, a, b)) {
            int n = Shapes.size(out);
            List<String> wrong = new ArrayList<>();
            assertThat(c.shape()).containsExactly(out);
            assertThat(c.dtype()).isEqualTo(dtype);
            for (int i = 0; i < n; i++) {
                int[] idx = Fixtures.unravel(i, out);
                double x = a.getFlat(Fixtures.broadcastRead(p.a(), idx));
                double y = b.getFlat(Fixtures.broadcastRead(p.b(), idx));
                double e = Elementwise.apply(op, x, y);
                if (dtype == DType.F32) {
                    e = (float) e; // float +-*/ equal the double result rounded once
                }
                if (Double.compare(c.getFlat(i), e) != 0) {
                    wrong.add("at " + Arrays.toString(idx) + ": " + c.getFlat(i) + " vs " + e);
                }
            }
            assertThat(wrong).isEmpty();
        }
    }
}
