package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * NTK-vector products' plan for one pair of sides: the K = |f(x2)| basis cotangents in typed {@link Columns}
 * steps (one, or tiles of basis vectors when the stacked values would pass the tile limit or, with a memory
 * budget, when a step's peak would pass the budget), each a VJP of f(x2) and a JVP of f(x1).
 * {@link VectorProducts} runs the steps and {@link CostModel} costs them, walking the same list. Built once per
 * (sides, whether x2 is x1, tile limit, budget) and cached on the first side's {@link SidePlan}.
 * <p>
 * A step's work is per basis vector (no pairs), so tiles sized to the budget cost only the forward passes that
 * each step's VJP and JVP repeat: the stacked parameter cotangents and tangents (k × P) and the stacked
 * activations of a step scale with its k basis vectors, the result [K] + f(x1) is held throughout.
 */
final class VpPlan {
    /** K, the basis vectors: the entries of f(x2). */
    final int k;
    /** The steps, in order of their basis vectors. */
    final List<Columns> steps;
    /** The memory budget that sized the tiles, or 0 when the tile limit alone did (the plan fits any budget it met). */
    final long budgetBytes;

    /** What a cost walk holds: the running FLOPs (and the JVPs' part) and peak, and the [K] + f(x1) result. */
    static final class Walk {
        final SidePlan side1;
        final SidePlan side2;
        /** Whether x2 is x1. */
        final boolean same;
        /** Bytes of the [K] + f(x1) result (and of its transposed copy). */
        final long full;
        double flops;
        double jvpFlops;
        long peak;

        Walk(SidePlan side1, SidePlan side2, boolean same, long full, long peak) {
            this.side1 = side1;
            this.side2 = side2;
            this.same = same;
            this.full = full;
            this.peak = peak;
        }
    }

    /**
     * The basis vectors [from, to) of f(x2): a VJP of f(x2) with them, then a JVP of f(x1) with the resulting
     * parameter vectors stacked; {@code only}: the single step, whose result is the whole [K] + f(x1).
     */
    record Columns(int from, int to, boolean only) {
        /** Runs the step: Θ[..., b] for its basis vectors b, as [to - from] + f(x1), owned by the caller. */
        Tensor run(VectorProducts vp, KernelInputs in) {
            return vp.vectorProductColumns(in, in.f2(), from, to);
        }

        /** Adds the step's VJP and JVP FLOPs and raises the peak by their evaluation (and the result, if held). */
        void cost(Walk w) {
            Graph vjp = w.side2.vjp(to - from);
            Graph jvp = w.side1.jvp(to - from);
            double jf = GraphCost.flops(jvp);
            w.flops += GraphCost.flops(vjp) + jf;
            w.jvpFlops += jf;
            w.peak = Math.max(w.peak, peak(w.side1, w.side2, w.same, to - from, only, w.full));
        }
    }

    private VpPlan(int k, List<Columns> steps, long budgetBytes) {
        this.k = k;
        this.steps = Collections.unmodifiableList(steps);
        this.budgetBytes = budgetBytes;
    }

    /**
     * The peak of a step of {@code size} basis vectors: its VJP's or its JVP's evaluation, each beside the other
     * side's examples that the caller holds and the graph does not take (x1 during the VJP of f(x2), x2 during the
     * JVP of f(x1); none when x2 is x1), on top of the [K] + f(x1) result ({@code full} bytes) unless the step is
     * the only one.
     */
    static long peak(SidePlan side1, SidePlan side2, boolean same, int size, boolean only, long full) {
        long p = Math.max(GraphCost.peakBytes(side2.vjp(size)) + (same ? 0 : inputBytes(side1)),
                GraphCost.peakBytes(side1.jvp(size)) + (same ? 0 : inputBytes(side2)));
        return only ? p : full + p;
    }

    /** Bytes of a side's examples, x [n] + perExample. */
    static long inputBytes(SidePlan side) {
        return (long) side.n * Shapes.size(side.perExample) * side.dtype.bytes();
    }

    /**
     * The steps for x1 on {@code side1} and x2 on {@code side2}: tiles of basis vectors at {@code tileBytes}; when
     * the largest of those tiles' steps would peak above {@code budgetBytes}, the fewest tiles whose steps peak
     * within it (the largest tile size k that fits, found by bisection: a step's peak grows with k). When not even
     * one basis vector per step fits, the tiles at {@code tileBytes} (the estimate then exceeds the budget).
     */
    /** Bytes of the [K] + f(x1) result every step writes into (K = |f(x2)|). */
    private static long resultBytes(SidePlan side1, SidePlan side2, DType dtype) {
        return (long) Shapes.size(side1.f) * Shapes.size(side2.f) * dtype.bytes();
    }

    /** The peak of the smallest steps, one basis vector each: the least budget tiles of basis vectors can meet. */
    static long oneVectorStepPeak(SidePlan side1, SidePlan side2, boolean same, DType dtype) {
        return peak(side1, side2, same, 1, false, resultBytes(side1, side2, dtype));
    }

    static VpPlan of(SidePlan side1, SidePlan side2, boolean same, DType dtype, long tileBytes, long budgetBytes) {
        int k = Shapes.size(side2.f);
        long full = resultBytes(side1, side2, dtype);
        int[] tiles = Tiles.split(k, VectorProducts.vectorProductBytesPerVector(side1, side2, dtype), tileBytes);
        int largest = largest(tiles);
        long budget = 0;
        if (budgetBytes < Long.MAX_VALUE
                && peak(side1, side2, same, largest, Tiles.count(tiles) == 1, full) > budgetBytes
                && largest > 1 && peak(side1, side2, same, 1, false, full) <= budgetBytes) {
            int lo = 1;
            int hi = largest - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (peak(side1, side2, same, mid, false, full) <= budgetBytes) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            // the fewest tiles of at most lo basis vectors, sizes differing by at most one
            tiles = Tiles.split(k, 1, lo);
            budget = budgetBytes;
        }
        List<Columns> steps = new ArrayList<>();
        for (int i = 0; i < Tiles.count(tiles); i++) {
            steps.add(new Columns(tiles[i], tiles[i + 1], Tiles.count(tiles) == 1));
        }
        return new VpPlan(k, steps, budget);
    }

    private static int largest(int[] tiles) {
        int m = 0;
        for (int i = 0; i < Tiles.count(tiles); i++) {
            m = Math.max(m, Tiles.size(tiles, i));
        }
        return m;
    }
}
