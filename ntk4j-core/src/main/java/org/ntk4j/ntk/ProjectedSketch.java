package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The projected:K kind: each side's per-parameter Jacobian rows sketched by a seeded CountSketch into [n, O, K]
 * (prepared once per tile; in memory, over the example chunks that fit the memory budget, {@link #plan}), and a
 * block is (1/O) Σ_o S1[n1, o]·S2[n2, o].
 */
final class ProjectedSketch {
    private final Model model;
    private final Params params;
    private final KernelKind kind;

    ProjectedSketch(Model model, Params params, KernelKind kind) {
        this.model = model;
        this.params = params;
        this.kind = kind;
    }

    /** A tile's sketched Jacobian [n, O, K] from its per-example pass, all examples at once; the caller closes it. */
    Tensor prepare(Tensor x) {
        return sketch(x, x.dim(0));
    }

    /**
     * The sketched Jacobian [n, O, K] of x [n, ...], computed over chunks of at most {@code chunk} examples (each
     * example's sketch is its own rows' projection, so chunks change only which examples share a GEMM): per chunk
     * its per-example pass, then one parameter's Jacobian rows at a time, each added into the sketch. The caller
     * closes it.
     */
    Tensor sketch(Tensor x, int chunk) {
        int n = x.dim(0);
        Tensor s = Tensor.zeros(x.dtype(), n, model.outputShape(Shapes.dropFirst(x.shape()))[0], kind.argument());
        try {
            for (int from = 0; from < n; from += chunk) {
                int to = Math.min(n, from + chunk);
                try (Tensor xc = to - from == n ? null : Layout.sliceAxis(x, 0, from, to)) {
                    sketchInto(xc == null ? x : xc, s, from);
                }
            }
            return s;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /**
     * Adds the sketches of the examples x [t, ...] into rows [first, first + t) of s [n, O, K]: from their
     * per-example pass, or, where their trace does not carry the examples first (a model that mixes them, or a
     * chunk of one example traced with its batch axis moved), from their batch Jacobians.
     */
    private void sketchInto(Tensor x, Tensor s, int first) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        SidePlan side = side(x.dim(0), perExample, x.dtype());
        if (!side.perExampleShortcut) {
            Tensor[] j = ExactBatch.jacobians(side, paramArgs(specs), x, specs);
            try {
                for (int i = 0; i < j.length; i++) {
                    CountSketch.accumulate(j[i], s, first, kind.seed(), i);
                }
            } finally {
                KernelSupport.closeAll(j);
            }
            return;
        }
        try (PerExamplePass p = new PerExamplePass(side, paramArgs(specs), x)) {
            for (int i = 0; i < specs.size(); i++) {
                try (Tensor j = p.jacobians(List.of(i))[0]) {
                    CountSketch.accumulate(j, s, first, kind.seed(), i);
                }
            }
        }
    }

    /**
     * The in-memory computation of projected:K chosen within a memory budget: sketches over chunks of at most
     * {@code chunk} examples, and its predicted cost.
     *
     * @param chunk the most examples whose Jacobian rows are formed at once
     * @param estimate FLOPs and peak of the whole kernel computed that way
     */
    record Planned(int chunk, CostModel.Estimate estimate) {
    }

    /**
     * The largest example chunk whose in-memory kernel of n1 × n2 examples (n2 = 0: x2 = x1) fits {@code ntk}'s
     * memory budget ({@link #estimate}), with its cost; a model that mixes examples runs whole.
     *
     * @throws IllegalArgumentException when not even chunks of one example fit, naming the budget and the least
     *     that suffices
     */
    static Planned plan(EmpiricalNtk ntk, KernelKind kind, int n1, int n2, int[] perExample, DType dtype) {
        EmpiricalNtk plain = ntk.traceAxes(-1).diagonalAxes();
        long budget = ntk.memoryBudget();
        int most = Math.min(Math.max(n1, n2), largestChunk(plain, perExample, dtype));
        CostModel.Estimate all = estimate(plain, kind, n1, n2, most, perExample, dtype);
        if (all.peakBytes() <= budget) {
            return new Planned(most, all); // the common case: no chunks
        }
        CostModel.Estimate least = estimate(plain, kind, n1, n2, 1, perExample, dtype);
        if (least.peakBytes() > budget) {
            boolean chunked = plain.tileable(perExample, dtype);
            throw new IllegalArgumentException("memory budget: " + CostModel.human(budget) + " is too small for the "
                    + kind + " kernel of " + n1 + " × " + (n2 == 0 ? n1 : n2) + " examples of "
                    + Shapes.str(perExample) + " (" + dtype.shortName() + ") in memory; "
                    + (chunked ? "its sketches over chunks of 1 example" : "its sketches (the model mixes examples, "
                    + "so they are not chunked)") + " need " + CostModel.humanAtLeast(least.peakBytes())
                    + ": raise --memory to at least " + CostModel.humanAtLeast(least.peakBytes()));
        }
        int lo = 1;
        int hi = most;
        while (lo < hi) { // the peak grows with the chunk: the largest that fits
            int mid = lo + (hi - lo + 1) / 2;
            if (estimate(plain, kind, n1, n2, mid, perExample, dtype).peakBytes() <= budget) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return new Planned(lo, lo == 1 ? least : estimate(plain, kind, n1, n2, lo, perExample, dtype));
    }

    /**
     * The most examples per chunk whose largest Jacobian tensor fits one tensor ({@link Tiles#MAX_TENSOR_BYTES},
     * {@link PerExamplePass#bytesPerExample}); any number for a model that mixes examples (it is not chunked).
     */
    private static int largestChunk(EmpiricalNtk plain, int[] perExample, DType dtype) {
        if (!plain.tileable(perExample, dtype)) {
            return Integer.MAX_VALUE;
        }
        SidePlan side = plain.costModel(1, 0, perExample, dtype).side(1);
        long perExampleBytes = 1;
        for (int p = 0; p < side.nParams; p++) {
            perExampleBytes = Math.max(perExampleBytes, PerExamplePass.bytesPerExample(side.pc, side.o, p, dtype));
        }
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, Tiles.MAX_TENSOR_BYTES / perExampleBytes));
    }

    /**
     * The predicted cost of projected:K's kernel of n1 × n2 examples (n2 = 0: x2 = x1) as {@link #kernel} runs it
     * with sketches over chunks of at most {@code chunk} examples (a tile's block: one chunk per side). Peak:
     * the parameters, the inputs and both sketches [n, O, K], held throughout, plus the largest of each chunk's
     * slice of the inputs with its per-example pass, then of one parameter's Jacobian rows at a time and their
     * example-major copy ({@link JcPlan#jacobianCost}), and at the end the kernel. FLOPs: the passes, the rows,
     * the sketching (2 per Jacobian entry) and the GEMM 2·n1·n2·O·K. A model that mixes examples forms every
     * Jacobian of the batch at once: Jacobian contraction's estimate plus the sketches.
     *
     * @param plain the kernel configuration traced over the logits (the kind's plain kernel)
     */
    static CostModel.Estimate estimate(EmpiricalNtk plain, KernelKind kind, int n1, int n2, int chunk,
                                       int[] perExample, DType dtype) {
        boolean same = n2 == 0;
        int m2 = same ? n1 : n2;
        CostModel whole = plain.costModel(n1, n2, perExample, dtype);
        long o = plain.model().outputShape(perExample)[0];
        long k = kind.argument();
        long sketches = whole.bytes((n1 + (same ? 0L : n2)) * o * k);
        double gemm = 2.0 * n1 * m2 * o * k;
        long kernel = whole.bytes((long) n1 * m2);
        if (!plain.tileable(perExample, dtype)) {
            CostModel.Estimate jc = whole.estimate(Method.JACOBIAN_CONTRACTION);
            return new CostModel.Estimate(Method.JACOBIAN_CONTRACTION, jc.flops() + gemm, gemm,
                    jc.peakBytes() + sketches, "the batch's Jacobian rows (the model mixes examples), sketched to "
                    + "[N, O, " + k + "]");
        }
        long fixed = whole.paramBytes + TilePlan.inputBytes(n1, n2, perExample, dtype) + sketches;
        double flops = gemm;
        long peak = fixed + kernel;
        for (int n : same ? new int[] {n1} : new int[] {n1, n2}) {
            int t = Math.min(chunk, n);
            double[] full = chunkCost(plain, t, n, perExample, dtype);
            flops += (n / t) * full[0];
            peak = Math.max(peak, fixed + (long) full[1]);
            if (n % t > 0) {
                double[] rest = chunkCost(plain, n % t, n, perExample, dtype);
                flops += rest[0];
                peak = Math.max(peak, fixed + (long) rest[1]);
            }
        }
        int t = Math.min(chunk, Math.max(n1, m2));
        return new CostModel.Estimate(Method.JACOBIAN_CONTRACTION, flops, gemm, peak, "per-example Jacobian rows, "
                + "one parameter at a time, sketched to [N, O, " + k + "]" + (t < Math.max(n1, m2)
                ? " over chunks of " + t + (t == 1 ? " example" : " examples") : ""));
    }

    /**
     * FLOPs and peak bytes (beyond the parameters, the whole inputs and the sketches) of sketching one chunk of t
     * of a side's n examples: its slice (when t &lt; n) and pass, then each parameter's Jacobian rows in turn; or, for
     * a chunk whose trace does not carry the examples first, its slice and batch Jacobians.
     */
    private static double[] chunkCost(EmpiricalNtk plain, int t, int n, int[] perExample, DType dtype) {
        CostModel c = plain.costModel(t, 0, perExample, dtype);
        SidePlan side = c.side(t);
        long examples = c.bytes((long) t * Shapes.size(perExample));
        long slice = t < n ? examples : 0;
        double sketching = 2.0 * t * side.o * c.totalParams();
        if (!side.perExampleShortcut) {
            // a chunk whose trace does not carry the examples first ({@link #sketchInto}): its batch Jacobians from
            // one VJP of t·O one-hot cotangents, all held (the graph's outputs) while they are sketched
            Graph vjp = ExactBatch.Plan.vjp(side);
            return new double[] {GraphCost.flops(vjp) + sketching,
                slice + GraphCost.peakBytes(vjp) - c.paramBytes - examples};
        }
        Graph pass = side.pass().graph;
        // the pass graph counts the parameters and its own examples, held already (the slice counted apart)
        long passPeak = slice + GraphCost.peakBytes(pass) - c.paramBytes - examples;
        JcPlan.Walk w = new JcPlan.Walk(c, side.pc, side.pc, side.o, slice + CostModel.outputBytes(pass),
                GraphCost.flops(pass), passPeak);
        for (int p = 0; p < side.nParams; p++) {
            JcPlan.jacobianCost(w, 0, p, 0);
            w.flops += 2.0 * t * side.o * Shapes.size(side.pc.params.get(p).shape()); // the sketching
        }
        return new double[] {w.flops, w.peak};
    }

    /** The block (1/O) Σ_o S1[n1, o]·S2[n2, o] of two prepared sketches. */
    static Tensor block(Tensor s1, Tensor s2) {
        Tensor k = DotGeneralKernel.dot(s1, s2, new int[] {1, 2}, new int[] {1, 2}, new int[0], new int[0]);
        org.ntk4j.graph.FlopCount.add(2.0 * s1.dim(0) * s2.dim(0) * s1.dim(1) * s1.dim(2));
        KernelReduction.scale(k, 1.0 / s1.dim(1));
        return k;
    }

    private Tensor[] paramArgs(List<ParamSpec> specs) {
        return KernelSupport.paramArgs(params, specs);
    }

    private SidePlan side(int n, int[] perExample, DType dtype) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    /**
     * projected:K in memory: each side's sketch — over chunks of at most {@code chunk} examples when the model
     * treats examples independently ({@link #sketch}), else whole ({@link #sketchInto}: from its batch Jacobians,
     * or its pass where its own trace allows one) — then
     * (1/O) Σ_o S1[n1, o]·S2[n2, o].
     */
    Tensor kernel(KernelInputs in, int o, int chunk) {
        int k = kind.argument();
        int n1 = in.x1.dim(0);
        int n2 = in.x2.dim(0);
        SidePlan side1 = side(n1, in.perExample, in.dtype);
        Tensor s1 = null;
        Tensor s2 = null;
        try {
            if (side1.perExampleShortcut) {
                s1 = sketch(in.x1, chunk);
                s2 = in.same ? s1 : sketch(in.x2, chunk);
            } else {
                // whole: each side's sketch from its batch Jacobians, or its pass where its own trace allows one
                s1 = Tensor.zeros(in.dtype, n1, o, k);
                sketchInto(in.x1, s1, 0);
                s2 = in.same ? s1 : Tensor.zeros(in.dtype, n2, o, k);
                if (!in.same) {
                    sketchInto(in.x2, s2, 0);
                }
            }
            Tensor kern = block(s1, s2);
            if (in.same) {
                KernelReduction.mirrorUpper(kern, new int[] {1, 0}); // exactly symmetric, as a diagonal tile is
            }
            return kern;
        } finally {
            if (s1 != null) {
                s1.close();
            }
            if (s2 != null && s2 != s1) {
                s2.close();
            }
        }
    }
}
