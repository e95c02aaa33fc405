package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.ntk.CostModel.Estimate;
import org.ntk4j.tensor.Shapes;

/**
 * Structured derivatives' cost, walked over the side plans' graphs and each parameter's consumer rule as
 * {@link StructuredKernel} runs them: the per-example passes, then per parameter the Gram-applied factors and the
 * {@link ContractionOrder} the plan takes (or the rows of an elementwise consumer, or the dense fallback).
 */
final class SdCost extends MethodCost {
    /** Stacked cotangents per pass: O, or an output chunk's size ({@link OutputChunks}). */
    private final int k;
    /**
     * The consumers whose cotangents the passes leave out, or null: those the plan does not read
     * ({@link SdPlan#unreadCotangents}), as the whole kernel and its tiles run them.
     */
    private final int[] unread;

    SdCost(CostModel c) {
        super(c, c.same);
        this.k = Shapes.size(c.f1) / c.n1;
        this.unread = null;
    }

    /**
     * The cost of one block of output chunks of size k: x2 = x1 with the same chunk on both sides
     * ({@code same}), else two passes of k cotangents (n2 = n1 when the model's x2 is x1), the passes without the
     * cotangents at the consumers {@code unread} ({@link OutputChunks#unread}).
     */
    SdCost(CostModel c, int k, boolean same, int[] unread) {
        super(c, same);
        this.k = k;
        this.unread = unread;
    }

    /** The indices in both sorted arrays, sorted. */
    private static int[] commonUnread(int[] a, int[] b) {
        return java.util.Arrays.stream(a).filter(i -> java.util.Arrays.binarySearch(b, i) >= 0).toArray();
    }

    @Override
    Estimate estimate() {
        if (!c.perExampleSides()) {
            return new ExactBatchCost(c, Method.STRUCTURED_DERIVATIVES).estimate();
        }
        // each side's consumers, plan and passes from one side plan: looked up by batch size one at a time, they
        // could come from two traces (another thread dropping the plan in between), whose consumers do not match
        SidePlan s1 = side(n1);
        SidePlan s2 = same ? s1 : side(n2);
        ParameterConsumers pc1 = s1.pc;
        ParameterConsumers pc2 = s2.pc;
        OutputPairs pairs = OutputPairs.of(axes);
        int o = k;
        SdPlan plan = s1.sdPlan(n1, n2, k, same, pairs);
        int[] unread = this.unread != null ? this.unread : plan.unreadCotangents;
        Graph pass1 = s1.pass(k, unread).graph;
        double flops = GraphCost.flops(pass1);
        long values = 0;
        for (org.ntk4j.graph.Var v : pass1.outputs()) {
            values += GraphCost.bytes(v.type());
        }
        // a pass graph counts the parameters and its own examples; the caller holds the other side's too
        long peak = GraphCost.peakBytes(pass1) + otherInputs(n1);
        if (!same) {
            // a tile's pass is prepared by its own side's plan (StructuredKernel.prepare): x2's leaves out only the
            // cotangents that neither plan reads where the two plans differ (their orders are chosen on each side)
            int[] unread2 = this.unread != null ? unread
                    : commonUnread(unread, s2.sdPlan(n1, n2, k, same, pairs).unreadCotangents);
            Graph pass2 = s2.pass(k, unread2).graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2) + otherInputs(n2));
            values += CostModel.outputBytes(pass2);
        }
        long acc = bytes(pairs.blockSize(n1, n2, o));
        // the walk over the very steps the executor runs, in its order
        SdPlan.Walk walk = new SdPlan.Walk(c, pc1, pc2, o, same, pairs, paramBytes + inputBytes + values + acc);
        java.util.Set<String> structuredPaths = new java.util.LinkedHashSet<>();
        List<org.ntk4j.nn.ParamSpec> specs = model.paramSpecs(c.perExample);
        int dense = 0;
        for (SdPlan.Step step : plan.steps) {
            step.cost(walk);
            if (step instanceof SdPlan.Linear l) {
                structuredPaths.add(specs.get(l.parameter()).path());
                if (l.biasParameter() >= 0) {
                    structuredPaths.add(specs.get(l.biasParameter()).path());
                }
            } else if (step instanceof SdPlan.Rows rw) {
                structuredPaths.add(specs.get(rw.parameter()).path());
            } else if (step instanceof SdPlan.DenseRows d) {
                dense = d.parameters().size();
            }
        }
        flops += walk.flops;
        peak = Math.max(peak, paramBytes + inputBytes + values + acc + walk.blockPeak);
        if (pairs == OutputPairs.FULL) {
            // the accumulator [N1, O.., N2, O..] is copied to the kernel's layout at the end, both alive
            peak = Math.max(peak, paramBytes + inputBytes + values + 2 * acc);
        } else if (pairs.perExample()) {
            // the block [N, O, O] is reduced to the kernel's axes at the end, both alive
            peak = Math.max(peak, paramBytes + inputBytes + values + acc
                    + bytes(Shapes.size(axes.outputShape(c.f1, c.f2))));
        }
        peak = Math.max(peak, walk.peak);
        return new Estimate(Method.STRUCTURED_DERIVATIVES, flops, walk.contraction, peak, structuredPaths.size()
                + " of " + nParams + " parameters structured, " + dense + " through per-example rows",
                structuredPaths, 0);
    }

    /**
     * Elements the sandwich order holds at once ({@link StructuredDerivatives#sandwichOrder}): K [N1,R,N2,R] and
     * T [N1,O,F,N2,R] with the operand copies of the GEMM forming T, or of the one contracting T with D2 plus its
     * output block.
     */
    static long sandwichTemp(long n1, long n2, long o, long r, long f, OutputPairs pairs, boolean same) {
        int[] d1 = {(int) o, (int) n1, (int) r, (int) f};
        int[] k = {(int) n1, (int) r, (int) n2, (int) r};
        int[] t = {(int) n1, (int) o, (int) f, (int) n2, (int) r};
        int[] d2 = {(int) o, (int) n2, (int) r, (int) f};
        long s2 = org.ntk4j.cpu.DotGeneralKernel.scratchElements(d1, k, new int[] {2}, new int[] {1}, new int[] {1},
                new int[] {0});
        if (pairs.perExample()) {
            // K [N, R, R], T [N, O, F, R] and the operand copies of the product forming T, or of the last one
            // plus its block [N, O, O] (traced: [N])
            boolean traced = pairs == OutputPairs.PER_EXAMPLE_TRACE;
            int[] kk = {(int) n1, (int) r, (int) r};
            int[] tt = {(int) n1, (int) o, (int) f, (int) r};
            long formT = org.ntk4j.cpu.DotGeneralKernel.scratchElements(d1, kk, new int[] {2}, new int[] {1},
                    StructuredDerivatives.PER_EXAMPLE_BATCH, new int[] {0});
            long last = org.ntk4j.cpu.DotGeneralKernel.scratchElements(tt, d1,
                    traced ? new int[] {1, 2, 3} : StructuredDerivatives.SANDWICH_PER_EXAMPLE_T,
                    traced ? new int[] {0, 3, 2} : StructuredDerivatives.SANDWICH_PER_EXAMPLE_D,
                    new int[] {0}, StructuredDerivatives.PER_EXAMPLE_BATCH) + pairs.blockSize(n1, n1, o);
            return n1 * r * r + n1 * o * f * r + Math.max(formT, last);
        }
        long s3 = pairs == OutputPairs.TRACE
                ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3, 1}, new int[] {1, 0}) + 2L * n2 * o * n1
                // the per-output products [N2, O, N1], written as [N1, N2, O]
                : pairs == OutputPairs.DIAGONAL ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2,
                        new int[] {2, 4}, new int[] {3, 2}, new int[] {3, 1}, new int[] {1, 0},
                        StructuredDerivatives.DIAGONAL_FROM_SANDWICH) + n2 * o * n1
                : same ? n1 * o * r * f + n1 * o * n2 * o // sandwichUpper: the gathered rows, the output block
                : org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3}, new int[] {1}, new int[] {1, 2, 0, 3}) + n1 * o * n2 * o;
        return n1 * r * n2 * r + n1 * o * f * n2 * r + Math.max(s2, s3);
    }

    /**
     * Elements the row order holds at once ({@link StructuredDerivatives#rowOrder}): the rows J1 [N1,O,F,C] and J2
     * [N2,O,F,C] (one when the sides are the same), then either the operand copies of the GEMM forming J2 while J1
     * is held, or the scratch of their contraction (none for a Gram read in place) plus its output block. (The
     * last phase is the peak of a small conv net once its input gradient holds no column buffer: before, that
     * buffer made the per-example pass the peak and hid that this phase was counted as the rows alone.)
     */
    static long rowTemp(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        int[] j1 = {(int) n1, (int) o, (int) f, (int) c};
        int[] j2 = {(int) n2, (int) o, (int) f, (int) c};
        long rows = Shapes.size(j1) + (same ? 0 : Shapes.size(j2));
        // J[n, o, f, c] = Σ_r A[n, r, c] D[o, n, r, f], batched over n: J1 formed alone, then J2 while J1 is held
        long form = Math.max(rowScratch(n1, o, r, c, f) - (same ? 0 : Shapes.size(j2)),
                same ? 0 : rowScratch(n2, o, r, c, f));
        int[] axes = StructuredDerivatives.rowContraction(pairs);
        int[] batch = StructuredDerivatives.rowBatch(pairs);
        long contract = (same && pairs != OutputPairs.DIAGONAL
                ? org.ntk4j.cpu.DotGeneralKernel.gramScratchElements(j1, axes, batch)
                : org.ntk4j.cpu.DotGeneralKernel.scratchElements(j1, same ? j1 : j2, axes, axes, batch, batch,
                        pairs == OutputPairs.DIAGONAL ? StructuredDerivatives.DIAGONAL_FROM_ROWS : null))
                + pairs.blockSize(n1, n2, o);
        return rows + Math.max(form, contract);
    }

    /** Operand copies of the GEMM forming the rows of n examples, J = A·D over r batched over n. */
    private static long rowScratch(long n, long o, long r, long c, long f) {
        return org.ntk4j.cpu.DotGeneralKernel.scratchElements(new int[] {(int) n, (int) r, (int) c},
                new int[] {(int) o, (int) n, (int) r, (int) f}, new int[] {1}, new int[] {2}, new int[] {0},
                new int[] {1}, StructuredDerivatives.ROWS_LAYOUT);
    }
}
