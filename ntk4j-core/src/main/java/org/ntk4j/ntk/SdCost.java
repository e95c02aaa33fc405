package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.ntk.CostModel.Estimate;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * Structured derivatives' cost, walked over the side plans' graphs and each parameter's consumer rule as
 * {@link StructuredKernel} runs them: the per-example passes, then per parameter the Gram-applied factors and the
 * {@link ContractionOrder} the plan takes (or the rows of an elementwise consumer, or the dense fallback).
 */
final class SdCost {
    private final CostModel c;
    private final Model model;
    private final DType dtype;
    private final int n1;
    private final int n2;
    private final boolean same;
    private final KernelAxes axes;
    private final int[] f1;
    private final int[] f2;
    private final int nParams;
    private final long paramBytes;
    private final long tileBytes;

    SdCost(CostModel c) {
        this.c = c;
        this.model = c.model;
        this.dtype = c.dtype;
        this.n1 = c.n1;
        this.n2 = c.n2;
        this.same = c.same;
        this.axes = c.axes;
        this.f1 = c.f1;
        this.f2 = c.f2;
        this.nParams = c.nParams;
        this.paramBytes = c.paramBytes;
        this.tileBytes = c.tileBytes;
    }

    private long bytes(long elements) {
        return c.bytes(elements);
    }

    private long outputElements() {
        return c.outputElements();
    }

    private double contractionFlops(long p) {
        return c.contractionFlops(p);
    }

    private SidePlan side(int n) {
        return c.side(n);
    }

    private SidePlan side(ParameterConsumers pc) {
        return c.side(pc);
    }

    private ParameterConsumers consumers(int n) {
        return c.consumers(n);
    }

    private boolean perExample(ParameterConsumers pc) {
        return c.perExample(pc);
    }

    private static String human(long bytes) {
        return CostModel.human(bytes);
    }

    Estimate estimate() {
        ParameterConsumers pc1 = consumers(n1);
        if (!perExample(pc1)) {
            Estimate jc = c.estimate(Method.JACOBIAN_CONTRACTION);
            return new Estimate(Method.STRUCTURED_DERIVATIVES, jc.flops(), jc.contractionFlops(), jc.peakBytes(),
                    "runs as Jacobian contraction: the model mixes examples, so there are no per-example cotangents");
        }
        ParameterConsumers pc2 = same ? pc1 : consumers(n2);
        int r = axes.rank();
        boolean traced = axes.diagonal().length == 0 && axes.trace().length == r - 1 && !axes.isTraced(0);
        int o = Shapes.size(f1) / n1;
        Graph pass1 = side(pc1).pass().graph;
        double flops = GraphCost.flops(pass1);
        long values = 0;
        for (org.ntk4j.graph.Var v : pass1.outputs()) {
            values += GraphCost.bytes(v.type());
        }
        long peak = GraphCost.peakBytes(pass1);
        if (!same) {
            Graph pass2 = side(pc2).pass().graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2));
            for (org.ntk4j.graph.Var v : pass2.outputs()) {
                values += GraphCost.bytes(v.type());
            }
        }
        long acc = bytes(traced ? (long) n1 * n2 : (long) n1 * o * n2 * o);
        List<Integer> dense = new ArrayList<>();
        int structured = 0;
        double contraction = 0;
        long blockPeak = 0;
        for (int p = 0; p < nParams; p++) {
            StructuredDerivatives.Structured st = side(n1).structured(p);
            if (st == null) {
                dense.add(p);
                continue;
            }
            structured++;
            StructuredDerivatives.Structured st2 = same ? st
                    : side(n2).structured(p); // the same path and consumer for x2's shapes
            if (st.form == StructuredDerivatives.Form.ROWS) {
                // rows [O, N] + shape(p'), the Gram applied to them, then one contraction over (o,) p'
                int[] all = Shapes.iota(st.gram.shape.length);
                long pe = StructuredDerivatives.gramSize(st.gram, all);
                long pFull = Shapes.size(st.gram.shape);
                boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, all);
                double rows = ElementwiseRows.rowFlops(st.consumer, o)
                        + (same ? 0 : ElementwiseRows.rowFlops(st2.consumer, o))
                        + StructuredDerivatives.gramFlops(st.gram, all, (long) o * n1,
                                same && keeps ? 0 : (long) o * n2);
                double c = traced ? 2.0 * n1 * n2 * o * pe : 2.0 * n1 * o * n2 * o * pe;
                flops += rows + c;
                contraction += c;
                // both sides' rows, their Gram-applied copies (none for a scaled identity), the contraction's
                // operand copies and its output block (the accumulator is counted below)
                long sides = (same ? (long) n1 : (long) n1 + n2) * o;
                long copies = st.gram.isScaledIdentity() ? 0 : (same && keeps ? (long) n1 * o : sides) * pe;
                int[] r1 = {o, n1, (int) pe};
                int[] r2 = {o, n2, (int) pe};
                long dotScratch = traced
                        ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(r1, r2, new int[] {0, 2}, new int[] {0, 2},
                                new int[0], new int[0])
                        : org.ntk4j.cpu.DotGeneralKernel.scratchElements(r1, r2, new int[] {2}, new int[] {2},
                                new int[0], new int[0], new int[] {1, 0, 3, 2});
                long block = traced ? (long) n1 * n2 : (long) n1 * o * n2 * o;
                blockPeak = Math.max(blockPeak, bytes(sides * pFull + copies + dotScratch + block));
                continue;
            }
            long[] rcf = dims(st.consumer);
            int[][] fa = StructuredDerivatives.factorAxes(st.consumer);
            long rr = rcf[0];
            long c = StructuredDerivatives.gramSize(st.gram, fa[0]);
            long f = StructuredDerivatives.gramSize(st.gram, fa[1]);
            boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, fa[0])
                    && StructuredDerivatives.gramKeepsSides(st.gram, fa[1]);
            boolean stillSame = same && keeps;
            double gram = StructuredDerivatives.gramFlops(st.gram, fa[0], n1 * rr, stillSame ? 0 : n2 * rr)
                    + StructuredDerivatives.gramFlops(st.gram, fa[1], (long) o * n1 * rr,
                    stillSame ? 0 : (long) o * n2 * rr);
            flops += gram;
            ContractionOrder order = ContractionOrder.cheapest(n1, n2, o, rr, c, f, traced, stillSame);
            double blockFlops = ContractionOrder.bestFlops(n1, n2, o, rr, c, f, traced, stillSame);
            flops += blockFlops;
            contraction += blockFlops;
            // Gram order: GA and GD (for the full kernel, the example-major copies of the cotangents, and no GD
            // where one GEMM per pair of examples accumulates in place)
            long cotangentCopies = (stillSame ? n1 : n1 + n2) * o * rr * f;
            // traced: GD = D1·D2ᵀ over (o, f), whose operands the GEMM copies into its layout
            long gdScratch = traced ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(
                    new int[] {o, n1, (int) rr, (int) f}, new int[] {o, n2, (int) rr, (int) f}, new int[] {0, 3},
                    new int[] {0, 3}, new int[0], new int[0]) : 0;
            long temp = order == ContractionOrder.GRAM ? bytes(traced ? 2L * n1 * rr * n2 * rr + gdScratch
                    : StructuredDerivatives.pairGemms(o, rr) ? (long) n1 * n2 + cotangentCopies
                    : (1L + (long) o * o) * n1 * rr * n2 * rr + cotangentCopies)
                    : order == ContractionOrder.SANDWICH ? bytes(sandwichTemp(n1, n2, o, rr, f, traced))
                    : bytes(rowTemp(n1, n2, o, rr, c, f, traced, stillSame));
            long data = bytes((long) (same ? n1 : n1 + n2) * rr * (rcf[1] + o * rcf[2]))
                    + (st.gram.isScaledIdentity() ? 0 : bytes((long) (stillSame ? n1 : n1 + n2) * rr * (c + o * f)));
            blockPeak = Math.max(blockPeak, temp + data);
        }
        peak = Math.max(peak, paramBytes + values + acc + blockPeak);
        if (!traced) {
            // the accumulator [N1, O.., N2, O..] is copied to the kernel's layout at the end, both alive
            peak = Math.max(peak, paramBytes + values + 2 * acc);
        }
        if (!dense.isEmpty()) {
            long held = paramBytes + values + acc;
            for (int side = 0; side < (same ? 1 : 2); side++) {
                double[] rp = c.rowsAndPathCost(side == 0 ? pc1 : pc2, side == 0 ? n1 : n2, o, dense, held);
                flops += rp[0];
                peak = Math.max(peak, (long) rp[1]);
            }
            long pd = 0;
            for (int p : dense) {
                pd += Shapes.size(pc1.params.get(p).shape());
            }
            double c = traced ? 2.0 * n1 * n2 * o * pd : 2.0 * n1 * o * n2 * o * pd;
            flops += c;
            contraction += c;
        }
        return new Estimate(Method.STRUCTURED_DERIVATIVES, flops, contraction, peak, structured + " of " + nParams
                + " parameters structured, " + dense.size() + " through per-example rows");
    }

    /**
     * Elements the sandwich order holds at once ({@link StructuredDerivatives#sandwichOrder}): K [N1,R,N2,R] and
     * T [N1,O,F,N2,R] with the operand copies of the GEMM forming T, or of the one contracting T with D2 plus its
     * output block.
     */
    private static long sandwichTemp(long n1, long n2, long o, long r, long f, boolean traced) {
        int[] d1 = {(int) o, (int) n1, (int) r, (int) f};
        int[] k = {(int) n1, (int) r, (int) n2, (int) r};
        int[] t = {(int) n1, (int) o, (int) f, (int) n2, (int) r};
        int[] d2 = {(int) o, (int) n2, (int) r, (int) f};
        long s2 = org.ntk4j.cpu.DotGeneralKernel.scratchElements(d1, k, new int[] {2}, new int[] {1}, new int[] {1},
                new int[] {0});
        long s3 = traced
                ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3, 1}, new int[] {1, 0}) + 2L * n2 * o * n1
                : org.ntk4j.cpu.DotGeneralKernel.scratchElements(t, d2, new int[] {2, 4}, new int[] {3, 2},
                        new int[] {3}, new int[] {1}, new int[] {1, 2, 0, 3}) + n1 * o * n2 * o;
        return n1 * r * n2 * r + n1 * o * f * n2 * r + Math.max(s2, s3);
    }

    /**
     * Elements the row order holds at once ({@link StructuredDerivatives#rowOrder}): the rows J1 [N1,C,O,F] and J2
     * [N2,C,O,F] (one when the sides are the same), then either the operand copies of the GEMM forming J2 while J1
     * is held, or those of the GEMM contracting J1 with J2 plus its output block. (The last phase is the peak of
     * a small conv net once its input gradient holds no column buffer: before, that buffer made the per-example
     * pass the peak and hid that this phase was counted as the rows alone.)
     */
    private static long rowTemp(long n1, long n2, long o, long r, long c, long f, boolean traced, boolean same) {
        int[] none = new int[0];
        int[] j1 = {(int) n1, (int) c, (int) o, (int) f};
        int[] j2 = {(int) n2, (int) c, (int) o, (int) f};
        long rows = Shapes.size(j1) + (same ? 0 : Shapes.size(j2));
        // J[n, c, o, f] = Σ_r A[n, r, c] D[o, n, r, f], batched over n: J1 formed alone, then J2 while J1 is held
        long form = Math.max(rowScratch(n1, o, r, c, f) - (same ? 0 : Shapes.size(j2)),
                same ? 0 : rowScratch(n2, o, r, c, f));
        long contract = traced
                ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(j1, j2, new int[] {1, 2, 3}, new int[] {1, 2, 3},
                        none, none) + n1 * n2
                : org.ntk4j.cpu.DotGeneralKernel.scratchElements(j1, j2, new int[] {1, 3}, new int[] {1, 3}, none,
                        none) + n1 * o * n2 * o;
        return rows + Math.max(form, contract);
    }

    /** Operand copies of the GEMM forming the rows of n examples, J = A·D over r batched over n. */
    private static long rowScratch(long n, long o, long r, long c, long f) {
        return org.ntk4j.cpu.DotGeneralKernel.scratchElements(new int[] {(int) n, (int) r, (int) c},
                new int[] {(int) o, (int) n, (int) r, (int) f}, new int[] {1}, new int[] {2}, new int[] {0},
                new int[] {1});
    }

    /** R, C, F of a structured consumer (positions sharing the parameter, fan-in, output features). */
    private static long[] dims(ParameterConsumers.Consumer c) {
        org.ntk4j.primitive.ConsumerRule.Linear rule = c.linear();
        return new long[] {rule.positions(), rule.fanIn(), rule.features()};
    }
}
