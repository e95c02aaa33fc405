package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.Fixtures;
import org.ntk4j.NaiveDot;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * dot_general on random ranks, sizes, contracting and batch axes (placed anywhere in either operand, paired
 * in any order): the shape rule, the values against nested loops, the derivative rules, and the rejection of
 * invalid dimension numbers.
 */
class DotGeneralProperties {

    /**
     * A valid dot_general. Logical axes: nb batch, nc contracting, nl lhs-free, nr rhs-free, each with a size;
     * they are placed in the operands by random permutations, and the pairs are listed in random order.
     */
    record Case(int[] ls, int[] rs, int[] lc, int[] rc, int[] lb, int[] rb, int[] expectedShape) {
        DotGeneral primitive() {
            return new DotGeneral(lc, rc, lb, rb);
        }

        TensorType lhs(DType dt) {
            return new TensorType(dt, ls);
        }

        TensorType rhs(DType dt) {
            return new TensorType(dt, rs);
        }

        @Override
        public String toString() {
            return "lhs " + Arrays.toString(ls) + " rhs " + Arrays.toString(rs) + " contract ("
                    + Arrays.toString(lc) + "," + Arrays.toString(rc) + ") batch (" + Arrays.toString(lb) + ","
                    + Arrays.toString(rb) + ")";
        }
    }

    static Case build(int nb, int nc, int nl, int nr, List<Integer> sizes, long seed) {
        Random r = new Random(seed);
        int[] batch = new int[nb];
        int[] contract = new int[nc];
        int[] lfree = new int[nl];
        int[] rfree = new int[nr];
        int k = 0;
        for (int i = 0; i < nb; i++) {
            batch[i] = sizes.get(k++);
        }
        for (int i = 0; i < nc; i++) {
            contract[i] = sizes.get(k++);
        }
        for (int i = 0; i < nl; i++) {
            lfree[i] = sizes.get(k++);
        }
        for (int i = 0; i < nr; i++) {
            rfree[i] = sizes.get(k++);
        }
        int[] lpos = shuffled(nb + nc + nl, r); // logical lhs axis -> position: batch, contract, free
        int[] rpos = shuffled(nb + nc + nr, r);
        int[] ls = new int[nb + nc + nl];
        int[] rs = new int[nb + nc + nr];
        for (int i = 0; i < nb; i++) {
            ls[lpos[i]] = batch[i];
            rs[rpos[i]] = batch[i];
        }
        for (int i = 0; i < nc; i++) {
            ls[lpos[nb + i]] = contract[i];
            rs[rpos[nb + i]] = contract[i];
        }
        for (int i = 0; i < nl; i++) {
            ls[lpos[nb + nc + i]] = lfree[i];
        }
        for (int i = 0; i < nr; i++) {
            rs[rpos[nb + nc + i]] = rfree[i];
        }
        int[] batchOrder = shuffled(nb, r);
        int[] contractOrder = shuffled(nc, r);
        int[] lb = new int[nb];
        int[] rb = new int[nb];
        int[] outBatch = new int[nb];
        for (int i = 0; i < nb; i++) {
            lb[i] = lpos[batchOrder[i]];
            rb[i] = rpos[batchOrder[i]];
            outBatch[i] = batch[batchOrder[i]];
        }
        int[] lc = new int[nc];
        int[] rc = new int[nc];
        for (int i = 0; i < nc; i++) {
            lc[i] = lpos[nb + contractOrder[i]];
            rc[i] = rpos[nb + contractOrder[i]];
        }
        // free axes appear in the result in increasing operand-axis order
        int[] outL = freeSizesInAxisOrder(lpos, nb + nc, lfree);
        int[] outR = freeSizesInAxisOrder(rpos, nb + nc, rfree);
        int[] expected = org.ntk4j.tensor.Shapes.concat(outBatch, outL, outR);
        return new Case(ls, rs, lc, rc, lb, rb, expected);
    }

    private static int[] freeSizesInAxisOrder(int[] pos, int first, int[] sizes) {
        Integer[] order = new Integer[sizes.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (p, q) -> Integer.compare(pos[first + p], pos[first + q]));
        int[] r = new int[sizes.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = sizes[order[i]];
        }
        return r;
    }

    private static int[] shuffled(int n, Random r) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(i);
        }
        Collections.shuffle(l, r);
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    @Provide
    Arbitrary<Case> cases() {
        Arbitrary<Integer> count = Arbitraries.integers().between(0, 2);
        Arbitrary<List<Integer>> sizes = Arbitraries.integers().between(1, 3).list().ofSize(8);
        return Combinators.combine(count, count, count, count, sizes, Arbitraries.longs())
                .as(DotGeneralProperties::build);
    }

    @Property(tries = 500)
    void outputShapeIsBatchThenLhsFreeThenRhsFree(@ForAll("cases") Case c, @ForAll DType dt) {
        TensorType out = c.primitive().outputType(c.lhs(dt), c.rhs(dt));
        assertThat(out.shape()).as("%s", c).containsExactly(c.expectedShape());
        assertThat(out.dtype()).isEqualTo(dt);
    }

    @Property(tries = 200)
    void evaluationAgreesWithNestedLoops(@ForAll("cases") Case c, @ForAll long seed) {
        Graph g = Fixtures.trace1(v -> v[0].dotGeneral(v[1], c.lc(), c.rc(), c.lb(), c.rb()), c.lhs(DType.F64),
                c.rhs(DType.F64));
        try (Tensor l = Tensor.randomNormal(DType.F64, seed, c.ls()); Tensor r = Tensor.randomNormal(DType.F64,
                seed + 1, c.rs()); Tensor out = Fixtures.eval1(g, l, r)) {
            double[] expected = NaiveDot.dot(l, r, c.lc(), c.rc(), c.lb(), c.rb());
            Fixtures.assertValues(out, c.expectedShape(), expected, 1e-12);
        }
    }

    @Property(tries = 100)
    void float32EvaluationAgreesWithNestedLoops(@ForAll("cases") Case c, @ForAll long seed) {
        try (Tensor l = Tensor.randomNormal(DType.F32, seed, c.ls()); Tensor r = Tensor.randomNormal(DType.F32,
                seed + 1, c.rs()); Tensor out = c.primitive().evaluate(l, r)) {
            assertThat(out.dtype()).isEqualTo(DType.F32);
            Fixtures.assertValues(out, c.expectedShape(), NaiveDot.dot(l, r, c.lc(), c.rc(), c.lb(), c.rb()), 1e-5);
        }
    }

    @Property(tries = 60)
    void derivativeRulesAreExactAdjointsAndStackCorrectly(@ForAll("cases") Case c, @ForAll long seed) {
        Graph g = Fixtures.trace1(v -> v[0].dotGeneral(v[1], c.lc(), c.rc(), c.lb(), c.rb()), c.lhs(DType.F64),
                c.rhs(DType.F64));
        Tensor[] x = DerivativeCheck.randomInputs(g, seed);
        try {
            assertThat(DerivativeCheck.adjointGap(g, x, 2, seed)).isLessThanOrEqualTo(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, x, 2, seed)).isLessThanOrEqualTo(1e-12);
            // bilinear: central differences are exact up to rounding
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 2, 1e-3, seed)).isLessThanOrEqualTo(1e-6);
        } finally {
            Fixtures.closeAll(x);
        }
    }

    private static int[] randomPermutation(int n, long seed) {
        return shuffled(n, new Random(seed));
    }

    @Property(tries = 200)
    void permutedResultIsTheTransposedProduct(@ForAll("cases") Case c, @ForAll long seed, @ForAll DType dt) {
        int[] perm = randomPermutation(c.expectedShape().length, seed);
        DotGeneral d = new DotGeneral(c.lc(), c.rc(), c.lb(), c.rb(), perm);
        int[] expectedShape = org.ntk4j.tensor.Shapes.permute(c.expectedShape(), perm);
        assertThat(d.outputType(c.lhs(dt), c.rhs(dt)).shape()).as("%s", c).containsExactly(expectedShape);
        try (Tensor l = Tensor.randomNormal(dt, seed, c.ls()); Tensor r = Tensor.randomNormal(dt, seed + 1, c.rs());
             Tensor out = d.evaluate(l, r)) {
            double[] expected = NaiveDot.permuted(NaiveDot.dot(l, r, c.lc(), c.rc(), c.lb(), c.rb()),
                    c.expectedShape(), perm);
            Fixtures.assertValues(out, expectedShape, expected, dt == DType.F32 ? 1e-5 : 1e-12);
        }
    }

    @Property(tries = 60)
    void permutedDerivativeRulesAreExactAdjointsAndStackCorrectly(@ForAll("cases") Case c, @ForAll long seed) {
        int[] perm = randomPermutation(c.expectedShape().length, seed);
        Graph g = Fixtures.trace1(v -> v[0].dotGeneral(v[1], c.lc(), c.rc(), c.lb(), c.rb(), perm),
                c.lhs(DType.F64), c.rhs(DType.F64));
        Tensor[] x = DerivativeCheck.randomInputs(g, seed);
        try {
            assertThat(DerivativeCheck.adjointGap(g, x, 2, seed)).isLessThanOrEqualTo(1e-12);
            assertThat(DerivativeCheck.stackingGap(g, x, 2, seed)).isLessThanOrEqualTo(1e-12);
            assertThat(DerivativeCheck.jvpVersusFiniteDifferences(g, x, 2, 1e-3, seed)).isLessThanOrEqualTo(1e-6);
        } finally {
            Fixtures.closeAll(x);
        }
    }

    @Property(tries = 50)
    void anOutputPermutationOfTheWrongLengthIsRejected(@ForAll("cases") Case c) {
        int rank = c.expectedShape().length;
        int[] tooLong = new int[rank + 2];
        for (int i = 0; i <= rank + 1; i++) {
            tooLong[i] = rank + 1 - i; // reversed: not the identity, which would mean "not permuted"
        }
        DotGeneral bad = new DotGeneral(c.lc(), c.rc(), c.lb(), c.rb(), tooLong);
        assertThatThrownBy(() -> bad.outputType(c.lhs(DType.F64), c.rhs(DType.F64)))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("dot_general: out_perm ");
    }

    /** Ways to break valid dimension numbers. */
    enum Breakage {
        LHS_AXIS_OUT_OF_RANGE, RHS_AXIS_NEGATIVE, LHS_AXIS_TWICE, CONTRACT_LENGTHS_DIFFER, BATCH_LENGTHS_DIFFER,
        CONTRACT_SIZE_MISMATCH, BATCH_SIZE_MISMATCH
    }

    @Property(tries = 300)
    void invalidDimensionNumbersAreRejected(@ForAll("cases") Case c, @ForAll Breakage how,
                                            @ForAll @IntRange(min = 0, max = 7) int which) {
        int[] ls = c.ls().clone();
        int[] rs = c.rs().clone();
        int[] lc = c.lc().clone();
        int[] rc = c.rc().clone();
        int[] lb = c.lb().clone();
        int[] rb = c.rb().clone();
        int nc = lc.length;
        int nb = lb.length;
        switch (how) {
            case LHS_AXIS_OUT_OF_RANGE:
                if (nc > 0) {
                    lc[which % nc] = ls.length + which % 2;
                } else {
                    lc = new int[] {ls.length};
                    rc = new int[] {0};
                }
                break;
            case RHS_AXIS_NEGATIVE:
                if (nb > 0) {
                    rb[which % nb] = -1;
                } else {
                    rc = Arrays.copyOf(rc, nc + 1);
                    lc = Arrays.copyOf(lc, nc + 1);
                    rc[nc] = -1;
                    lc[nc] = 0;
                }
                break;
            case LHS_AXIS_TWICE:
                if (nc + nb >= 2) {
                    if (nc >= 2) {
                        lc[1] = lc[0];
                    } else if (nc == 1) {
                        lb[0] = lc[0];
                    } else {
                        lb[1] = lb[0];
                    }
                } else {
                    // no two axes to collide: a rank-2 lhs contracted twice on axis 0
                    ls = new int[] {2, 2};
                    rs = new int[] {2, 2};
                    lc = new int[] {0, 0};
                    rc = new int[] {0, 1};
                    lb = new int[0];
                    rb = new int[0];
                }
                break;
            case CONTRACT_LENGTHS_DIFFER:
                rc = Arrays.copyOf(rc, nc + 1);
                break;
            case BATCH_LENGTHS_DIFFER:
                lb = Arrays.copyOf(lb, nb + 1);
                break;
            case CONTRACT_SIZE_MISMATCH:
                if (nc > 0) {
                    rs[rc[which % nc]] += 1;
                } else {
                    ls = Arrays.copyOf(ls, ls.length + 1);
                    rs = Arrays.copyOf(rs, rs.length + 1);
                    ls[ls.length - 1] = 2;
                    rs[rs.length - 1] = 3;
                    lc = new int[] {ls.length - 1};
                    rc = new int[] {rs.length - 1};
                }
                break;
            case BATCH_SIZE_MISMATCH:
                if (nb > 0) {
                    ls[lb[which % nb]] += 2;
                } else {
                    ls = Arrays.copyOf(ls, ls.length + 1);
                    rs = Arrays.copyOf(rs, rs.length + 1);
                    ls[ls.length - 1] = 4;
                    rs[rs.length - 1] = 1;
                    lb = new int[] {ls.length - 1};
                    rb = new int[] {rs.length - 1};
                }
                break;
            default:
                throw new AssertionError(how);
        }
        DotGeneral bad = new DotGeneral(lc, rc, lb, rb);
        TensorType l = new TensorType(DType.F32, ls);
        TensorType r = new TensorType(DType.F32, rs);
        String what = how + " on " + c;
        assertThatThrownBy(() -> bad.outputType(l, r)).as(what)
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("dot_general: ");
        // traced, the same error comes out of the graph builder
        assertThatThrownBy(() -> Fixtures.trace1(v -> v[0].dotGeneral(v[1], bad.lhsContract(), bad.rhsContract(),
                bad.lhsBatch(), bad.rhsBatch()), l, r)).as(what)
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("dot_general: ");
        if (how == Breakage.CONTRACT_SIZE_MISMATCH || how == Breakage.BATCH_SIZE_MISMATCH) {
            assertThatThrownBy(() -> bad.outputType(l, r)).as(what).hasMessageContainingAll(l.toString(), r.toString());
        }
    }
}
