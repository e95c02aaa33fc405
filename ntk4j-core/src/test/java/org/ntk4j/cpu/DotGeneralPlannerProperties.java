package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.NaiveDot;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The strided-GEMM planner of {@link DotGeneralKernel}: every preparation it may choose (operands in place or
 * copied to their canonical layout, result written permuted or formed logically and then permuted) gives the
 * definition's values on random layouts, and the stacked products of the derivative rules run with no copy.
 */
class DotGeneralPlannerProperties {

    /** A random dot_general: axes of each kind placed anywhere in either operand, and a random output order. */
    @Property(tries = 150)
    void everyPreparationAgreesWithTheDefinition(@ForAll @IntRange(min = 0, max = 2) int nb,
                                                 @ForAll @IntRange(min = 0, max = 2) int nc,
                                                 @ForAll @IntRange(min = 0, max = 3) int nl,
                                                 @ForAll @IntRange(min = 0, max = 3) int nr, @ForAll long seed) {
        Random rnd = new Random(seed);
        int[] sizes = new int[nb + nc + nl + nr];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = 1 + rnd.nextInt(4);
        }
        int[] lpos = shuffled(nb + nc + nl, rnd);
        int[] rpos = shuffled(nb + nc + nr, rnd);
        int[] ls = new int[lpos.length];
        int[] rs = new int[rpos.length];
        int[] lb = new int[nb];
        int[] rb = new int[nb];
        int[] lc = new int[nc];
        int[] rc = new int[nc];
        for (int i = 0; i < nb; i++) {
            ls[lpos[i]] = rs[rpos[i]] = sizes[i];
            lb[i] = lpos[i];
            rb[i] = rpos[i];
        }
        for (int i = 0; i < nc; i++) {
            ls[lpos[nb + i]] = rs[rpos[nb + i]] = sizes[nb + i];
            lc[i] = lpos[nb + i];
            rc[i] = rpos[nb + i];
        }
        for (int i = 0; i < nl; i++) {
            ls[lpos[nb + nc + i]] = sizes[nb + nc + i];
        }
        for (int i = 0; i < nr; i++) {
            rs[rpos[nb + nc + i]] = sizes[nb + nc + nl + i];
        }
        int[] logical = NaiveDot.shape(ls, rs, lc, rc, lb, rb);
        int[] perm = shuffled(logical.length, rnd);
        int planned = 0;
        for (DType dt : DType.values()) {
            try (Tensor l = Tensor.randomNormal(dt, seed, ls); Tensor r = Tensor.randomNormal(dt, seed + 1, rs)) {
                double[] expected = NaiveDot.permuted(NaiveDot.dot(l, r, lc, rc, lb, rb), logical, perm);
                double tol = dt == DType.F32 ? 1e-5 : 1e-12;
                try (Tensor c = DotGeneralKernel.dot(l, r, lc, rc, lb, rb, perm)) {
                    Fixtures.assertValues(c, Shapes.permute(logical, perm), expected, tol);
                }
                for (int prep = 0; prep < 8; prep++) {
                    try (Tensor c = DotGeneralKernel.dotPrepared(l, r, lc, rc, lb, rb, perm, prep)) {
                        if (c == null) {
                            assertThat(prep).as("both operands canonical, result logical: always planned")
                                    .isNotEqualTo(7);
                            continue;
                        }
                        planned++;
                        Fixtures.assertValues(c, Shapes.permute(logical, perm), expected, tol);
                    }
                }
            }
        }
        assertThat(planned).isGreaterThanOrEqualTo(2);
    }

    @Test
    void stackedWeightCotangentIsWrittenInParameterOrderWithoutCopies() {
        // VJP of y = x·W for W [in, out] with K stacked cotangents ct [K, N, out]: Σ_n ct[k, n, :] ⊗ x[n, :]
        // wanted as [K, in, out]; the logical result of dot(ct, x) is [K, out, in]. At the FCN example's sizes
        // the planner runs K GEMMs xᵀ·ct[k] straight into the result: no copy, no transpose.
        int[] c1 = {1};
        int[] c0 = {0};
        int[] none = {};
        int[] perm = {0, 2, 1};
        int[] ctShape = {64, 16, 2048};
        int[] xShape = {16, 3072};
        assertThat(DotGeneralKernel.scratchElements(ctShape, xShape, c1, c0, none, none, perm)).isZero();
        assertThat(DotGeneralKernel.gemmCalls(ctShape, xShape, c1, c0, none, none, perm)).isEqualTo(64);
        // the same plan (preparation 0: in place, written permuted) on small sizes gives the definition's values
        int[] small = {5, 4, 3};
        int[] smallX = {4, 7};
        try (Tensor ct = Tensor.randomNormal(DType.F64, 3, small); Tensor x = Tensor.randomNormal(DType.F64, 4, smallX);
             Tensor c = DotGeneralKernel.dotPrepared(ct, x, c1, c0, none, none, perm, 0)) {
            double[] expected = NaiveDot.permuted(NaiveDot.dot(ct, x, c1, c0, none, none), new int[] {5, 3, 7},
                    perm);
            Fixtures.assertValues(c, new int[] {5, 7, 3}, expected, 1e-13);
        }
    }

    @Test
    void stackedTangentAgainstASharedOperandIsABroadcastBatchWithoutCopies() {
        // JVP of y = x·W with K stacked tangents t [K, in, out]: x·t[k], wanted as [K, N, out]; logical [N, K, out]
        int[] xShape = {16, 3072};
        int[] tShape = {64, 3072, 2048};
        int[] perm = {1, 0, 2};
        int[] none = {};
        int[] c1 = {1};
        assertThat(DotGeneralKernel.scratchElements(xShape, tShape, c1, c1, none, none, perm)).isZero();
        assertThat(DotGeneralKernel.gemmCalls(xShape, tShape, c1, c1, none, none, perm)).isEqualTo(64);
        // a stacked lhs against a weight folds K into M: one GEMM
        assertThat(DotGeneralKernel.gemmCalls(new int[] {64, 16, 2048}, new int[] {2048, 2048}, new int[] {2},
                new int[] {0}, none, none, null)).isEqualTo(1);
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, 4, 7); Tensor t = Tensor.randomNormal(DType.F64, 6, 5, 7, 3);
             Tensor c = DotGeneralKernel.dotPrepared(x, t, c1, c1, none, none, perm, 0)) {
            double[] expected = NaiveDot.permuted(NaiveDot.dot(x, t, c1, c1, none, none), new int[] {4, 5, 3}, perm);
            Fixtures.assertValues(c, new int[] {5, 4, 3}, expected, 1e-13);
        }
    }

    private static int[] shuffled(int n, Random r) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(i);
        }
        Collections.shuffle(l, r);
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
