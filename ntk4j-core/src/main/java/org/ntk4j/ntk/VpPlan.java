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
 * steps (one, or tiles of basis vectors when the stacked values would pass the tile limit), each a VJP of f(x2)
 * and a JVP of f(x1). {@link VectorProducts} runs the steps and {@link CostModel} costs them, walking the same list.
 * Built once per (sides, tile limit) and cached on the first side's {@link SidePlan}.
 */
final class VpPlan {
    /** K, the basis vectors: the entries of f(x2). */
    final int k;
    /** The steps, in order of their basis vectors. */
    final List<Columns> steps;

    /** What a cost walk holds: the running FLOPs (and the JVPs' part) and peak, and the [K] + f(x1) result. */
    static final class Walk {
        final CostModel c;
        /** Bytes of the [K] + f(x1) result (and of its transposed copy). */
        final long full;
        double flops;
        double jvpFlops;
        long peak;

        Walk(CostModel c, long full, long peak) {
            this.c = c;
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
            Graph vjp = w.c.side(w.c.n2).vjp(to - from);
            Graph jvp = w.c.side(w.c.n1).jvp(to - from);
            double jf = GraphCost.flops(jvp);
            w.flops += GraphCost.flops(vjp) + jf;
            w.jvpFlops += jf;
            long p = Math.max(GraphCost.peakBytes(vjp), GraphCost.peakBytes(jvp));
            w.peak = Math.max(w.peak, only ? p : w.full + p);
        }
    }

    private VpPlan(int k, List<Columns> steps) {
        this.k = k;
        this.steps = Collections.unmodifiableList(steps);
    }

    /** The steps for x1 on {@code side1} and x2 on {@code side2}: tiles of basis vectors at {@code tileBytes}. */
    static VpPlan of(SidePlan side1, SidePlan side2, DType dtype, long tileBytes) {
        int k = Shapes.size(side2.f);
        int[] tiles = Tiles.split(k, VectorProducts.vectorProductBytesPerVector(side1, side2, dtype), tileBytes);
        List<Columns> steps = new ArrayList<>();
        for (int i = 0; i < Tiles.count(tiles); i++) {
            steps.add(new Columns(tiles[i], tiles[i + 1], Tiles.count(tiles) == 1));
        }
        return new VpPlan(k, steps);
    }
}
