package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives' plan for one pair of sides (examples independent): one typed {@link Step} per structured
 * parameter, with the {@link ContractionOrder} chosen once for the whole problem (so a tile evaluates exactly as
 * the whole kernel does), then one step for the parameters without a rule (their per-example rows). {@link
 * StructuredKernel} runs the steps and {@link SdCost} costs them, walking the same list in the same order: each
 * step carries its run and its cost (FLOPs, and the bytes its block holds at once), and nothing else describes the
 * schedule. Built once per (sides, x2 = x1, kernel shape, whole problem) and cached on the first side's {@link
 * SidePlan}.
 */
final class SdPlan {
    /** The steps: structured parameters in order, then the dense fallback (if any parameter has no rule). */
    final List<Step> steps;
    /**
     * The consumers (by index) whose stacked cotangent no step reads: a bias that joins its weight's step, and a
     * consumer contracted in the factored order (its factors are read instead). The plan's passes leave them out
     * ({@link SidePlan#pass(int, int[])}), which lets {@link org.ntk4j.graph.ProductRewrite} fold the masks and
     * scales that formed them.
     */
    final int[] unreadCotangents;

    /** What a cost walk holds while it walks the steps: the running FLOPs, contraction FLOPs and peaks. */
    static final class Walk {
        final CostModel c;
        final ParameterConsumers pc1;
        final ParameterConsumers pc2;
        final int o;
        /** Whether the block's two sides are one pass (x2 = x1, the same chunk): not the cost model's x2 = x1. */
        final boolean same;
        final OutputPairs pairs;
        /** Bytes held across every step: parameters, inputs, the passes' values and the accumulator. */
        final long held;
        double flops;
        double contraction;
        /** The largest block one structured step holds on top of {@link #held}. */
        long blockPeak;
        /** The peak of the dense fallback's rows and path VJPs (absolute). */
        long peak;

        Walk(CostModel c, ParameterConsumers pc1, ParameterConsumers pc2, int o, boolean same, OutputPairs pairs,
             long held) {
            this.c = c;
            this.pc1 = pc1;
            this.pc2 = pc2;
            this.o = o;
            this.same = same;
            this.pairs = pairs;
            this.held = held;
        }
    }

    /** One step of the plan: how it runs, and what that costs. */
    sealed interface Step permits Linear, Rows, DenseRows {
        /** Adds this step's block of the kernel to {@code acc} ({@link OutputPairs#blockShape}). */
        void run(Tensor acc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, OutputPairs pairs);

        /** Adds this step's FLOPs to the walk and raises its peaks by what the step holds at once. */
        void cost(Walk w);
    }

    /** The consumer of x2's pass matching x1's consumer {@code c1}. */
    private static ParameterConsumers.Consumer match(PerExamplePass pass1, PerExamplePass pass2,
                                                     ParameterConsumers.Consumer c1) {
        return pass2.pc.consumers.get(pass1.pc.consumers.indexOf(c1));
    }

    /**
     * A parameter met by a linear consumer rule (data A [N, R, C], cotangent D [O, N, R, F], the path Gram
     * applied), contracted in {@code order}; with the parameter {@code biasParameter} when that bias shares this
     * parameter's cotangent Gram, with factor {@code biasFactor} there ({@link
     * StructuredDerivatives#sharedBiasFactor}, Gram order only): both blocks in one (-1 and NaN without).
     */
    record Linear(int parameter, StructuredDerivatives.Structured st, ContractionOrder order, int biasParameter,
                  double biasFactor) implements Step {
        Linear(int parameter, StructuredDerivatives.Structured st, ContractionOrder order) {
            this(parameter, st, order, -1, Double.NaN);
        }

        @Override
        public void run(Tensor acc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, OutputPairs pairs) {
            StructuredDerivatives.addParameterBlock(acc, st, pass1, st.consumer, pass2,
                    match(pass1, pass2, st.consumer), pairs, in.same, order, biasFactor);
        }

        @Override
        public void cost(Walk w) {
            CostModel cm = w.c;
            long n1 = cm.n1;
            long n2 = cm.n2;
            long o = w.o;
            OutputPairs pairs = w.pairs;
            org.ntk4j.primitive.ConsumerRule.Linear rule = st.consumer.linear();
            if (order == ContractionOrder.FACTORED) {
                factoredCost(w, n1, n2, o, pairs, rule);
                return;
            }
            int[][] fa = StructuredDerivatives.factorAxes(st.consumer);
            long rr = rule.positions();
            // a bias joining the row order is one more column of the data factor ({@link
            // StructuredDerivatives#rowBiasColumn})
            long extra = order == ContractionOrder.ROWS && biasParameter >= 0 ? 1 : 0;
            long c = StructuredDerivatives.gramSize(st.gram, fa[0]) + extra;
            long f = StructuredDerivatives.gramSize(st.gram, fa[1]);
            boolean stillSame = w.same && StructuredDerivatives.gramKeepsSides(st.gram, fa[0])
                    && StructuredDerivatives.gramKeepsSides(st.gram, fa[1]);
            w.flops += StructuredDerivatives.gramFlops(st.gram, fa[0], n1 * rr, stillSame ? 0 : n2 * rr)
                    + StructuredDerivatives.gramFlops(st.gram, fa[1], o * n1 * rr, stillSame ? 0 : o * n2 * rr);
            // a rule that forms the data Gram or the rows from the data operand itself: no A (its FLOPs the rule's)
            org.ntk4j.primitive.ConsumerRule.Linear byRule = StructuredDerivatives.dataByRule(st, order, extra > 0);
            double blockFlops = StructuredDerivatives.blockFlops(order, byRule, n1, n2, o, rr, c, f, pairs,
                    stillSame);
            w.flops += blockFlops + (biasParameter < 0 || order != ContractionOrder.GRAM ? 0
                    : StructuredDerivatives.biasFlops(n1, n2, rr));
            w.contraction += blockFlops;
            // Gram order: GA and GD (for the full kernel, the example-major copies of the cotangents, and no GD
            // where one GEMM per pair of examples accumulates in place)
            long cotangentCopies = (stillSame ? n1 : n1 + n2) * o * rr * f;
            // traced: GD = D1·D2ᵀ over (o, f), whose operands the GEMM copies into its layout, or of a side with
            // itself the symmetric product of D read in place or transposed for it; per output: O Grams over f
            long gdScratch = pairs == OutputPairs.TRACE
                    ? StructuredDerivatives.tracedCotangentGramScratch(n1, n2, o, rr, f, stillSame)
                    : pairs == OutputPairs.DIAGONAL
                    ? StructuredDerivatives.perOutputCotangentGramScratch(n1, n2, o, rr, f, stillSame)
                    : pairs.perExample()
                    ? StructuredDerivatives.perExampleCotangentGramScratch(n1, o, rr, f, pairs, stillSame) : 0;
            long temp = order == ContractionOrder.GRAM ? cm.bytes(pairs == OutputPairs.TRACE
                    ? 2L * n1 * rr * n2 * rr + gdScratch
                    : pairs == OutputPairs.DIAGONAL ? (1L + o) * n1 * rr * n2 * rr + gdScratch
                    // GA [N, R, R] (twice while a shared bias is applied to it) and GD [N, O, R, O, R] or [N, R, R]
                    : pairs.perExample() ? (2L + (pairs == OutputPairs.PER_EXAMPLE ? o * o : 1)) * n1 * rr * rr
                    + gdScratch
                    : StructuredDerivatives.pairGemms(o, rr) ? n1 * n2 + cotangentCopies
                    : (1L + o * o) * n1 * rr * n2 * rr + cotangentCopies)
                    : order == ContractionOrder.SANDWICH
                    ? cm.bytes(SdCost.sandwichTemp(n1, n2, o, rr, f, pairs, stillSame))
                    : cm.bytes(SdCost.rowTemp(n1, n2, o, rr, c, f, pairs, stillSame));
            // the factors A [N, R, C] and D [O, N, R, F] of each side, D only where it is not a view of δ
            long data = cm.bytes((w.same ? n1 : n1 + n2) * rr * ((byRule == null ? rule.fanIn() : 0) + extra
                    + (rule.cotangentIsReshape() ? 0 : o * rule.features())))
                    + (st.gram.isScaledIdentity() ? 0 : cm.bytes((stillSame ? n1 : n1 + n2) * rr * (c + o * f)));
            w.blockPeak = Math.max(w.blockPeak, temp + data);
        }

        /**
         * The {@link ContractionOrder#FACTORED} step's FLOPs (its factors formed on each side, the order, a shared
         * bias) and the most it holds at once ({@link StructuredDerivatives#addFactoredBlock}): while a side forms
         * P — its M and G (unless read in place), A, G example-major, m̄ with a bias (and the copy of M its sum
         * makes), P and the product's scratch — over the sides already formed (P, G, m̄ each); then Q and its
         * scratch (per example: Q, the products and a vector of ones); then a bias's outer product; then the
         * combination's slices and Z (and Z ⊙ G1, ones). Where the rule's data factor is a one-hot ({@link
         * StructuredDerivatives#dataByRule}: an embedding's ids, {@link OneHotFactored}), no A, no product's scratch,
         * P's nonzero columns [N, R, F] in place of P [N, F, C], and Q
         * with no scratch (the ids' columns and sorted keys, N·R ints and longs a side, on the heap): nothing of
         * size C.
         */
        private void factoredCost(Walk w, long n1, long n2, long o, OutputPairs pairs,
                                  org.ntk4j.primitive.ConsumerRule.Linear rule) {
            CostModel cm = w.c;
            long r = rule.positions();
            long c = rule.fanIn();
            long f = rule.features();
            boolean bias = biasParameter >= 0;
            ParameterConsumers.Consumer c2 = w.pc2.consumers.get(w.pc1.consumers.indexOf(st.consumer));
            CotangentFactors f1 = cm.side(w.pc1).pass(w.o).factored(st.consumer.equation.output()).factors();
            CotangentFactors f2 = w.same ? f1 : cm.side(w.pc2).pass(w.o).factored(c2.equation.output()).factors();
            org.ntk4j.primitive.ConsumerRule.Linear byRule = StructuredDerivatives.dataByRule(st, order, false);
            double block = StructuredDerivatives.blockFlops(order, byRule, n1, n2, o, r, c, f, pairs, w.same);
            w.flops += f1.formationFlops() + (w.same ? 0 : f2.formationFlops()) + block
                    + (bias ? StructuredDerivatives.factoredBiasFlops(n1, n2, r, f, pairs, w.same) : 0);
            w.contraction += block;
            boolean oneHot = byRule != null; // for the factored order, a one-hot data factor
            long pColumns = oneHot ? r : c; // P's values an example and feature: [N, F, C], or [N, R, F]
            long after1 = n1 * f * pColumns + o * n1 * f + (bias ? n1 * f : 0);
            long peak = sidePeak(f1, n1, o, r, pColumns, f, bias, !oneHot);
            long held = after1;
            if (!w.same) {
                peak = Math.max(peak, after1 + sidePeak(f2, n2, o, r, pColumns, f, bias, !oneHot));
                held += n2 * f * pColumns + o * n2 * f + (bias ? n2 * f : 0);
            }
            long q;
            long combine;
            if (pairs.perExample()) {
                q = n1 * f;
                // the products and the ones summing them (none where Q is summed over the one-hot's matches)
                peak = Math.max(peak, held + q + (oneHot ? 0 : n1 * f * c + c));
                combine = n1 * o * f + (pairs == OutputPairs.PER_EXAMPLE ? 0 : n1 * o * f + o * f);
            } else {
                q = n1 * n2 * f;
                peak = Math.max(peak, held + q + (oneHot ? 0 : org.ntk4j.cpu.DotGeneralKernel.scratchElements(
                        new int[] {(int) n1, (int) f, (int) c}, new int[] {(int) n2, (int) f, (int) c},
                        new int[] {2}, new int[] {2}, new int[] {1}, new int[] {1}, StructuredDerivatives.Q_LAYOUT)));
                combine = n2 * f + n2 * o * f + (pairs == OutputPairs.FULL ? 0
                        : o * f + n2 * o * f + (pairs == OutputPairs.DIAGONAL ? f : o * f));
            }
            if (bias) {
                peak = Math.max(peak, held + 2 * q);
            }
            peak = Math.max(peak, held + q + combine);
            w.blockPeak = Math.max(w.blockPeak, cm.bytes(peak));
        }

        /**
         * Elements one side holds at most while it forms P (see {@link #factoredCost}), P of c values an example
         * and feature; {@code withA}: P as a product with A (else a one-hot's nonzero columns, neither A nor the
         * product's scratch).
         */
        private static long sidePeak(CotangentFactors fc, long n, long o, long r, long c, long f, boolean bias,
                                     boolean withA) {
            long formM = CotangentFactors.productElements(fc.examples, fc.examplesShape());
            long formG = CotangentFactors.productElements(fc.outputs, fc.outputsShape());
            long m = formM == 0 ? 0 : n * r * f; // M held: none when read in place
            long g = formG == 0 ? 0 : o * n * f;
            long a = withA ? n * r * c : 0;
            long p = withA ? org.ntk4j.cpu.DotGeneralKernel.scratchElements(new int[] {(int) n, (int) r, (int) f},
                    new int[] {(int) n, (int) r, (int) c}, new int[] {1}, new int[] {1}, new int[] {0}, new int[] {0})
                    : 0;
            long forming = m + g + a + o * n * f + (bias ? n * f : 0) + n * f * c + p;
            // m̄ = Σ_r M reduces M's middle axis through a copy of M with that axis moved last
            long summing = bias ? m + g + a + o * n * f + n * f
                    + org.ntk4j.cpu.Reduce.scratchElements(new int[] {(int) n, (int) r, (int) f}, new int[] {1}) : 0;
            return Math.max(Math.max(forming, summing), Math.max(formM, m + formG));
        }
    }

    /** A parameter met by an elementwise broadcast: its rows [O, N] + shape(p'), the Gram applied, contracted. */
    record Rows(int parameter, StructuredDerivatives.Structured st) implements Step {
        @Override
        public void run(Tensor acc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, OutputPairs pairs) {
            StructuredDerivatives.addParameterBlock(acc, st, pass1, st.consumer, pass2,
                    match(pass1, pass2, st.consumer), pairs, in.same, null);
        }

        @Override
        public void cost(Walk w) {
            CostModel cm = w.c;
            boolean same = w.same;
            int n1 = cm.n1;
            int n2 = cm.n2;
            int o = w.o;
            StructuredDerivatives.Structured st2 = same ? st : cm.side(w.pc2).structured(parameter);
            int[] all = Shapes.iota(st.gram.shape.length);
            long pe = StructuredDerivatives.gramSize(st.gram, all);
            long pFull = Shapes.size(st.gram.shape);
            boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, all);
            double rows = ElementwiseRows.rowFlops(st.consumer, o) + (same ? 0 : ElementwiseRows.rowFlops(st2.consumer,
                    o)) + StructuredDerivatives.gramFlops(st.gram, all, (long) o * n1,
                    same && keeps ? 0 : (long) o * n2);
            long block = w.pairs.blockSize(n1, n2, o);
            double c = 2.0 * block * w.pairs.summedOutputs(o) * pe; // dot_general's rule: 2 · |block| · contracted
            w.flops += rows + c;
            w.contraction += c;
            // both sides' rows, their Gram-applied copies (none for a scaled identity), the contraction's operand
            // copies and its output block (the accumulator is counted by the walk)
            long sides = (same ? (long) n1 : (long) n1 + n2) * o;
            long copies = st.gram.isScaledIdentity() ? 0 : (same && keeps ? (long) n1 * o : sides) * pe;
            long dotScratch = w.pairs.rowsProduct(true).scratch(new int[] {o, n1, (int) pe},
                    new int[] {o, n2, (int) pe});
            w.blockPeak = Math.max(w.blockPeak, cm.bytes(sides * pFull + copies + dotScratch + block));
            // while a side's rows are formed: the rows of both sides at most, and its product and reduction's copy
            long forming = Math.max(ElementwiseRows.scratchElements(st.consumer, o),
                    same ? 0 : ElementwiseRows.scratchElements(st2.consumer, o));
            w.blockPeak = Math.max(w.blockPeak, cm.bytes(sides * pFull + forming));
        }
    }

    /** The parameters without a rule: their per-example Jacobians through the rows and path VJP, contracted. */
    record DenseRows(List<Integer> parameters) implements Step {
        @Override
        public void run(Tensor acc, KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, OutputPairs pairs) {
            int n1 = pass1.n;
            int n2 = pass2.n;
            int o = pass1.o;
            try (Sides<Tensor[]> j = Sides.of(in.same, () -> pass1.jacobians(parameters),
                    () -> pass2.jacobians(parameters), KernelSupport::closeAll)) {
                for (int i = 0; i < j.first().length; i++) {
                    int size = j.first()[i].dim(-1);
                    int at = i;
                    try (Sides<Tensor> rows = Sides.of(in.same, () -> j.first()[at].reshape(n1, o, size),
                            () -> j.second()[at].reshape(n2, o, size), Tensor::close);
                         // x2 = x1: one tensor for both sides, its Gram a symmetric product (half the
                         // multiply-adds; before 2026-12-07, late night, a full GEMM, twice Jacobian contraction's)
                         Tensor blk = in.same ? pairs.rowsProduct(false).gram(rows.first())
                                 : pairs.rowsProduct(false).dot(rows.first(), rows.second())) {
                        KernelSupport.addInto(acc, blk);
                    }
                }
            }
        }

        @Override
        public void cost(Walk w) {
            CostModel cm = w.c;
            for (int side = 0; side < (w.same ? 1 : 2); side++) {
                double[] rp = cm.rowsAndPathCost(side == 0 ? w.pc1 : w.pc2, side == 0 ? cm.n1 : cm.n2, w.o,
                        parameters, w.held);
                w.flops += rp[0];
                w.peak = Math.max(w.peak, (long) rp[1]);
            }
            // each parameter's rows [N, O, P_p] contracted into the block as run: dot_general's rule, 2 · |block| ·
            // contracted, or a symmetric product's for one pass with itself (w.same)
            OutputPairs.RowsProduct product = w.pairs.rowsProduct(false);
            for (int p : parameters) {
                int size = Math.toIntExact(Shapes.size(w.pc1.params.get(p).shape()));
                double c = product.flops(new int[] {cm.n1, w.o, size}, new int[] {cm.n2, w.o, size}, w.same);
                w.flops += c;
                w.contraction += c;
            }
        }
    }

    private SdPlan(List<Step> steps, int[] unreadCotangents) {
        this.steps = Collections.unmodifiableList(steps);
        this.unreadCotangents = unreadCotangents;
    }

    /**
     * Chooses each parameter's step for a problem of n1 × n2 examples with o stacked cotangents per pass (O, or an
     * output chunk's size) ({@code same}: x2 = x1 there): a linear rule in the {@link ContractionOrder#cheapest}
     * order for that problem, an elementwise rule by its rows, and the parameters without a rule together by their
     * per-example rows, last.
     */
    static SdPlan of(SidePlan side1, long n1, long n2, int o, boolean same, OutputPairs pairs) {
        int np = side1.nParams;
        ContractionOrder[] orders = new ContractionOrder[np];
        java.util.Map<org.ntk4j.graph.Var, Integer> linearByOutput = new java.util.IdentityHashMap<>();
        for (int p = 0; p < np; p++) {
            StructuredDerivatives.Structured st = side1.structured(p);
            if (st != null && st.form == StructuredDerivatives.Form.LINEAR) {
                int[][] fa = StructuredDerivatives.factorAxes(st.consumer);
                long r = st.consumer.linear().positions();
                long c = StructuredDerivatives.gramSize(st.gram, fa[0]);
                long f = StructuredDerivatives.gramSize(st.gram, fa[1]);
                boolean keeps = StructuredDerivatives.gramKeepsSides(st.gram, fa[0])
                        && StructuredDerivatives.gramKeepsSides(st.gram, fa[1]);
                // a cotangent that factors (the path Gram a scaled identity): its factors' products counted on this
                // side and, for x2's, scaled by n2/n1 (the order is chosen before x2's side is traced)
                SidePlan.Pass.Factored fd = st.gram.isScaledIdentity()
                        ? side1.pass(o).factored(st.consumer.equation.output()) : null;
                double formation = fd == null ? 0
                        : (same ? 1.0 : 1.0 + (double) n2 / n1) * fd.factors().formationFlops();
                boolean one = same && keeps;
                orders[p] = ContractionOrder.cheapest(k -> StructuredDerivatives.blockFlops(k,
                        StructuredDerivatives.dataByRule(st, k, false), n1, n2, o, r, c, f, pairs, one), r, fd != null,
                        formation);
                linearByOutput.put(st.consumer.equation.output(), p);
            }
        }
        // a bias added to a linear consumer's output (or to it scaled) joins that parameter's Gram-order step
        int[] biasOf = new int[np];
        java.util.Arrays.fill(biasOf, -1);
        double[] biasFactor = new double[np];
        boolean[] joined = new boolean[np];
        for (int p = 0; p < np; p++) {
            StructuredDerivatives.Structured st = side1.structured(p);
            if (st == null || st.form != StructuredDerivatives.Form.ROWS) {
                continue;
            }
            StructuredDerivatives.BiasSource src = StructuredDerivatives.biasSource(side1.pc, st);
            Integer w = src == null ? null : linearByOutput.get(src.value());
            StructuredDerivatives.Structured ws = w == null ? null : side1.structured(w);
            double factor = w == null || biasOf[w] >= 0 || !orders[w].sharesBias()
                    // in the row order, as a column of the data factor: A as the rule forms it, s_w > 0
                    || orders[w] == ContractionOrder.ROWS && !(ws.gram.isScaledIdentity() && ws.factor() > 0
                    // nor where the rule forms the rows without A
                    && StructuredDerivatives.dataByRule(ws, ContractionOrder.ROWS, false) == null)
                    ? Double.NaN : StructuredDerivatives.sharedBiasFactor(ws, st, src.kappa2());
            if (!Double.isNaN(factor)) {
                biasOf[w] = p;
                biasFactor[w] = factor;
                joined[p] = true;
            }
        }
        List<Step> steps = new ArrayList<>();
        List<Integer> dense = new ArrayList<>();
        java.util.SortedSet<Integer> unread = new java.util.TreeSet<>();
        for (int p = 0; p < np; p++) {
            StructuredDerivatives.Structured st = side1.structured(p);
            if (st == null) {
                dense.add(p);
            } else if (st.form == StructuredDerivatives.Form.ROWS) {
                if (!joined[p]) {
                    steps.add(new Rows(p, st));
                } else {
                    unread.add(st.consumer.index);
                }
            } else {
                int b = biasOf[p];
                steps.add(new Linear(p, st, orders[p], b, b < 0 ? Double.NaN : biasFactor[p]));
                if (orders[p] == ContractionOrder.FACTORED) {
                    unread.add(st.consumer.index);
                }
            }
        }
        if (!dense.isEmpty()) {
            steps.add(new DenseRows(List.copyOf(dense)));
        }
        return new SdPlan(steps, unread.stream().mapToInt(Integer::intValue).toArray());
    }
}
