package org.ntk4j.ntk;

import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives over chunks of the output axis, for a kernel whose stacked cotangents (O per example, at
 * every layer) exceed the memory budget: each pass stacks only a chunk's k cotangents e_s … e_{s+k-1}, so the
 * passes' peak scales with k instead of O.
 * <ul>
 * <li>Full kernel: Θ[n1, n2, I, J] = J_I(x1) J_J(x2)ᵀ for every pair of chunks (I, J), all of size k (the last
 * chunk starts at O − k and overlaps the one before it). Chunk I's pass of x1 is held while the passes of x2's
 * chunks J are run one at a time; with x2 = x1 each pair {I, J} once, mirrored: Θ[n2, n1, J, I] = Θ[n1, n2, I, J].
 * Passes: C·C, or C + (C − 1)(C − 2)/2 with x2 = x1 ({@link #sameFull}), C = ⌈O / k⌉.</li>
 * <li>Trace over the outputs: Σ_I |I|·(trace of block (I, I)) / O, the chunks a partition (the last one smaller).</li>
 * <li>Per-output diagonal ([N1, N2, O], the kind {@code diagonal}): block (I, I)'s diagonal for each chunk I of a
 * partition, written in place; the other pairs of chunks hold no entry of it.</li>
 * </ul>
 * The cost is the sum of {@link SdCost}'s cost of each kind of block, so counted FLOPs equal predicted ones.
 */
final class OutputChunks {
    private OutputChunks() {
    }

    /**
     * Whether chunking applies to these shapes: per-example cotangents, outputs [N, O], the full kernel, its trace
     * or its per-output diagonal.
     */
    static boolean applies(CostModel c) {
        SidePlan s = c.side(c.n1);
        OutputPairs pairs = OutputPairs.of(c.axes);
        return c.perExampleSides() && s.f.length == 2 && s.o > 1 && (partition(c) || pairs == OutputPairs.FULL
                && c.axes.diagonal().length == 0 && c.axes.trace().length == 0);
    }

    /** Whether the chunks are a partition, each paired with itself only (the trace and the per-output diagonal). */
    private static boolean partition(CostModel c) {
        OutputPairs pairs = OutputPairs.of(c.axes);
        return pairs == OutputPairs.TRACE || pairs == OutputPairs.DIAGONAL;
    }

    /** The line of {@code explain} for structured derivatives in output chunks, or "" when it runs unchunked. */
    static String explainLine(CostModel.Estimate e) {
        return e.outputChunk() == 0 ? "" : String.format(java.util.Locale.ROOT, "%-26s %14.4g %12s  %s%n",
                "  in output chunks", e.flops(), CostModel.human(e.peakBytes()), e.note());
    }

    /** Chunk starts: every chunk of size k, the last from O − k (full kernel); or a partition (the others). */
    private static int[] starts(int o, int k) {
        int chunks = (o + k - 1) / k;
        int[] s = new int[chunks];
        for (int i = 0; i < chunks; i++) {
            s[i] = i * k;
        }
        return s;
    }

    /**
     * Structured derivatives in output chunks of size k (1 ≤ k &lt; O) for the cost model's shapes.
     *
     * @return the estimate, with {@link CostModel.Estimate#outputChunk} k
     */
    static CostModel.Estimate estimate(CostModel c, int k) {
        SidePlan s1 = c.side(c.n1);
        OutputPairs pairs = OutputPairs.of(c.axes);
        boolean sameFull = c.same && !partition(c);
        int o = s1.o;
        long chunks = (o + k - 1) / k;
        double flops = 0;
        double contraction = 0;
        long peak;
        java.util.Set<String> structured;
        if (partition(c)) {
            int last = o - (int) (chunks - 1) * k;
            CostModel.Estimate full = new SdCost(c, k, c.same, unread(s1, c.n1, c.n2, k, pairs, c.same, false, null))
                    .estimate();
            CostModel.Estimate rest = last == k ? full
                    : new SdCost(c, last, c.same, unread(s1, c.n1, c.n2, last, pairs, c.same, false, null)).estimate();
            structured = full.structuredParameters();
            flops = (chunks - 1) * full.flops() + rest.flops();
            contraction = (chunks - 1) * full.contractionFlops() + rest.contractionFlops();
            // and the kernel the chunks' blocks go into: [N1, N2], or [N1, N2, O]
            peak = Math.max(full.peakBytes, rest.peakBytes) + c.bytes((long) c.n1 * c.n2
                    * (OutputPairs.of(c.axes) == OutputPairs.DIAGONAL ? o : 1));
        } else {
            int[] unread = unread(s1, c.n1, c.n2, k, pairs, c.same, sameFull, null);
            CostModel.Estimate cross = new SdCost(c, k, false, unread).estimate();
            structured = cross.structuredParameters();
            double pass1 = GraphCost.flops(s1.pass(k, unread).graph);
            long crossBlocks;
            if (c.same) {
                // the diagonal blocks and the cross blocks without their passes, and the passes sameFull runs
                CostModel.Estimate diag = new SdCost(c, k, true, unread).estimate();
                crossBlocks = chunks * (chunks - 1) / 2;
                long passes = chunks + (chunks - 1) * (chunks - 2) / 2;
                flops = chunks * (diag.flops() - pass1) + passes * pass1 + crossBlocks * (cross.flops() - 2 * pass1);
                contraction = chunks * diag.contractionFlops();
                peak = Math.max(diag.peakBytes, cross.peakBytes);
            } else {
                // each row of blocks runs x1's pass once and x2's passes afresh
                crossBlocks = chunks * (chunks - 1);
                flops = chunks * cross.flops() + crossBlocks * (cross.flops() - pass1);
                contraction = chunks * cross.contractionFlops();
                peak = cross.peakBytes;
            }
            contraction += crossBlocks * cross.contractionFlops();
            peak += c.bytes((long) c.n1 * c.n2 * o * o);
        }
        long largest = largestValueBytes(c, k);
        if (largest > c.tileBytes) {
            // a stacked cotangent of k outputs larger than one tensor holds: chunks of k cannot run, whatever the
            // budget (within() then takes smaller ones)
            return new CostModel.Estimate(Method.STRUCTURED_DERIVATIVES, Double.POSITIVE_INFINITY,
                    Double.POSITIVE_INFINITY, Long.MAX_VALUE, "in output chunks of " + k + ": a value of "
                    + CostModel.human(largest) + " is more than one tensor holds (" + CostModel.human(c.tileBytes)
                    + ")", structured, k);
        }
        return new CostModel.Estimate(Method.STRUCTURED_DERIVATIVES, flops, contraction, peak,
                "in output chunks of " + k + " (" + chunks + " chunks of the " + o + " outputs)",
                structured, k);
    }

    /**
     * The largest value of the per-example pass with k stacked outputs (the basis [k, N, O] among them), which one
     * tensor must hold ({@link CostModel#tileBytes}); k = O is the whole pass.
     */
    static long largestValueBytes(CostModel c, int k) {
        SidePlan s1 = c.side(c.n1);
        boolean sameFull = c.same && !partition(c);
        int[] unread = unread(s1, c.n1, c.n2, k, OutputPairs.of(c.axes), c.same, sameFull, null);
        return GraphCost.largestValueBytes(s1.pass(k, unread).graph);
    }

    /**
     * The consumers whose cotangents no block of a run in chunks of k reads ({@link SdPlan#unreadCotangents}), for
     * x1 of n1 and x2 of n2 examples ({@code same}: x2 = x1) in a whole problem {@code problem} (null: these
     * inputs'): the plan's; for the full kernel of x1 with itself ({@code sameFull}) those that both the plan of a
     * chunk with itself and that of two chunks leave unread, since one chunk's pass serves both.
     */
    static int[] unread(SidePlan s1, long n1, long n2, int k, OutputPairs pairs, boolean same, boolean sameFull,
                        long[] problem) {
        long[] whole = problem != null ? problem : KernelSupport.problemOf((int) n1, same ? 0 : (int) n2);
        int[] u = s1.sdPlan(whole[0], whole[1], k, whole[2] == 1, pairs).unreadCotangents;
        if (!sameFull) {
            return u;
        }
        long[] cross = problem != null ? problem : KernelSupport.problemOf((int) n1, (int) n1);
        int[] v = s1.sdPlan(cross[0], cross[1], k, cross[2] == 1, pairs).unreadCotangents;
        return java.util.Arrays.stream(u).filter(i -> java.util.Arrays.binarySearch(v, i) >= 0).toArray();
    }

    /**
     * A chunk count must save this share of the FLOPs of the fewer chunks (or of the whole pass) it would replace:
     * more chunks repeat the forward pass and run smaller GEMMs (resnet18(out=1000,width=16), 16 images of 32×32:
     * 101–110 GFLOP/s in chunks of 250 against 110–118 whole), so a smaller saving is none in time.
     */
    static final double SAVING = 0.10;

    /** Chunk counts tried beyond the fewest that fit, for a kernel of x1 with itself ({@link #fewestFlops}). */
    private static final int MORE_COUNTS = 16;

    /**
     * The smallest chunk {@link #fewestFlops} takes for FLOPs alone (a budget may still force smaller ones): the
     * paper's FCN at O = 8 in two chunks of 4 took 10–20% fewer FLOPs and ran 0.87–0.91× as fast (N = 32 … 128)
     * and 0.5× at W ≤ 64, where fixed per-pass costs dominate; in chunks of 32 (O = 64) as fast as whole, of 32
     * and 64 (O = 128, 256) 1.4× and 1.2× faster.
     */
    static final int MIN_CHUNK_FOR_FLOPS = 32;

    /**
     * The chunked estimate that fits the budget: the largest chunk that fits (the fewest passes), or, for the full
     * kernel of x1 with itself, more chunks where they save at least {@link #SAVING} of the FLOPs
     * ({@link #fewestFlops}); null when chunking does not apply or not even chunks of one output fit.
     */
    static CostModel.Estimate within(CostModel c, long budgetBytes) {
        if (!applies(c)) {
            return null;
        }
        int o = c.side(c.n1).o;
        // the smallest number of chunks whose chunk size fits, by bisection on the count (peak grows with k)
        int lo = 2;
        int hi = o;
        CostModel.Estimate smallest = estimate(c, 1);
        if (smallest.peakBytes > budgetBytes) {
            return null;
        }
        CostModel.Estimate best = smallest;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            CostModel.Estimate e = estimate(c, (o + mid - 1) / mid);
            if (e.peakBytes <= budgetBytes) {
                best = e;
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if (lo < o) {
            CostModel.Estimate e = estimate(c, (o + lo - 1) / lo);
            if (e.peakBytes <= budgetBytes) {
                best = e;
            }
        }
        return fewestFlops(c, best);
    }

    /**
     * For the full kernel of x1 with itself, more chunks than {@code start}'s can take fewer FLOPs: each pair of
     * chunks is contracted once and mirrored ({@link #sameFull}), so the cotangent Grams' O² terms shrink towards
     * half while the passes grow — resnet18(out=1000,width=16), 16 images of 32×32: whole 7.57e12 FLOPs, 4 chunks
     * 5.17e12 (47–51 s against 63–69 s, and 2.8 GiB against 6.4). Returns the estimate of the chunk count, from
     * {@code start}'s up, reached by steps that each save at least {@link #SAVING} of the FLOPs of the best so far
     * (chunk peaks only shrink as their number grows), chunks of at least {@link #MIN_CHUNK_FOR_FLOPS} outputs;
     * {@code start} itself for other kernels.
     *
     * @param start the estimate to improve on: chunked, or the whole kernel's (one chunk)
     */
    static CostModel.Estimate fewestFlops(CostModel c, CostModel.Estimate start) {
        if (!c.same || partition(c) || !applies(c)) {
            return start;
        }
        int o = c.side(c.n1).o;
        int k0 = start.outputChunk() == 0 ? o : start.outputChunk();
        int from = (o + k0 - 1) / k0;
        CostModel.Estimate best = start;
        int lastK = k0;
        for (int count = from + 1; count <= Math.min(o, from + MORE_COUNTS); count++) {
            int k = (o + count - 1) / count;
            if (k < MIN_CHUNK_FOR_FLOPS) {
                break;
            }
            if (k == lastK) {
                continue;
            }
            lastK = k;
            CostModel.Estimate e = estimate(c, k);
            if (e.flops() <= (1 - SAVING) * best.flops()) {
                best = e;
            }
        }
        return best;
    }

    /**
     * The kernel of validated inputs by structured derivatives in output chunks of size k.
     *
     * @param problem the whole problem's size when these inputs are tiles of it ({@link EmpiricalNtk#forTiles}: each
     *     parameter's contraction order chosen for it), or null: these inputs' own
     * @return [N1, N2, O, O] for the full kernel, [N1, N2] traced, [N1, N2, O] for the per-output diagonal
     */
    static Tensor kernel(Model model, Params params, int[] traceAxes, int[] diagonalAxes, KernelInputs in, int k,
                         long tileBytes, long[] problem) {
        StructuredKernel sd = new StructuredKernel(model, params, tileBytes, problem);
        int n1 = in.x1.dim(0);
        int n2 = in.x2.dim(0);
        SidePlan s1 = SidePlan.of(model, n1, in.perExample, in.dtype);
        SidePlan s2 = in.same ? s1 : SidePlan.of(model, n2, in.perExample, in.dtype);
        Tensor[] ps = KernelSupport.paramArgs(params, in.specs);
        int o = s1.o;
        int[] st = starts(o, k);
        OutputPairs pairs = OutputPairs.of(in.axes());
        if (pairs == OutputPairs.DIAGONAL) {
            Tensor out = Tensor.zeros(in.dtype, n1, n2, o);
            for (int s : st) {
                int ki = Math.min(k, o - s);
                int[] u = unread(s1, n1, n2, ki, pairs, in.same, false, problem);
                try (PerExamplePass a = new PerExamplePass(s1, ps, in.x1, s, ki, u);
                     PerExamplePass b = in.same ? null : new PerExamplePass(s2, ps, in.x2, s, ki, u);
                     Tensor blk = sd.block(in, a, in.same ? a : b)) {
                    // the chunk's [N1, N2, ki] into the outputs s … s + ki − 1 of [N1, N2, O]
                    org.ntk4j.cpu.Layout.stridedCopy(blk, 0, new int[] {ki, 1}, out, s, new int[] {o, 1},
                            new int[] {n1 * n2, ki});
                }
            }
            if (in.same) {
                // a chunk's block with itself holds the entries n1 ≤ n2 (the Gram order of a side with itself)
                KernelReduction.mirrorUpper(out, new int[] {1, 0, 2});
            }
            return out;
        }
        if (pairs == OutputPairs.TRACE) {
            double[] sum = new double[n1 * n2];
            for (int s : st) {
                int ki = Math.min(k, o - s);
                int[] u = unread(s1, n1, n2, ki, pairs, in.same, false, problem);
                try (PerExamplePass a = new PerExamplePass(s1, ps, in.x1, s, ki, u);
                     PerExamplePass b = in.same ? null : new PerExamplePass(s2, ps, in.x2, s, ki, u);
                     Tensor blk = sd.block(in, a, in.same ? a : b)) {
                    for (int e = 0; e < sum.length; e++) {
                        sum[e] += blk.getFlat(e) * ki;
                    }
                }
            }
            Tensor out = Tensor.zeros(in.dtype, n1, n2);
            for (int e = 0; e < sum.length; e++) {
                out.setFlat(e, sum[e] / o);
            }
            if (in.same) {
                // a chunk's traced block with itself holds the entries n1 ≤ n2 (the Gram order of a side with
                // itself): those below the diagonal are their mirrors
                KernelReduction.mirrorUpper(out, new int[] {1, 0});
            }
            return out;
        }
        Tensor out = Tensor.zeros(in.dtype, n1, n2, o, o);
        if (in.same) {
            sameFull(sd, new KernelInputs(model, params, traceAxes, diagonalAxes, in.x1, in.x1, false), in, s1, ps,
                    out, st, k, unread(s1, n1, n2, k, pairs, true, true, problem));
            // a chunk's block with itself holds the example blocks n1 ≤ n2 (structured derivatives' Gram and
            // sandwich orders of a side with itself): those below the example diagonal are their mirrors
            KernelReduction.mirrorUpper(out, new int[] {1, 0, 3, 2});
            return out;
        }
        int[] u = unread(s1, n1, n2, k, pairs, false, false, problem);
        for (int i = 0; i < st.length; i++) {
            int si = Math.min(st[i], o - k);
            try (PerExamplePass a = new PerExamplePass(s1, ps, in.x1, si, k, u)) {
                for (int j = 0; j < st.length; j++) {
                    int sj = Math.min(st[j], o - k);
                    try (PerExamplePass b = new PerExamplePass(s2, ps, in.x2, sj, k, u);
                         Tensor blk = sd.block(in, a, b)) {
                        place(out, blk, n1, n2, o, k, si, sj, false);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The full kernel for x2 = x1: the held chunks in the order 0, C − 1, C − 2, …, 1, each paired with the chunks
     * not yet held and not yet paired with it (1 … C − 1 − r in row r ≥ 1) streamed in ascending order, so that the
     * last pass streamed in a row is the next row's held one: C + (C − 1)(C − 2)/2 passes in all.
     */
    private static void sameFull(StructuredKernel sd, KernelInputs cross, KernelInputs in, SidePlan s1, Tensor[] ps,
                                 Tensor out, int[] st, int k, int[] unread) {
        int n = in.x1.dim(0);
        int o = s1.o;
        int chunks = st.length;
        PerExamplePass held = new PerExamplePass(s1, ps, in.x1, Math.min(st[0], o - k), k, unread);
        int h = 0;
        try {
            for (int r = 0; r < chunks; r++) {
                int sh = Math.min(st[h], o - k);
                try (Tensor blk = sd.block(in, held, held)) {
                    place(out, blk, n, n, o, k, sh, sh, false);
                }
                int last = r == 0 ? chunks - 1 : chunks - 1 - r;
                PerExamplePass next = null;
                for (int j = 1; j <= last; j++) {
                    int sj = Math.min(st[j], o - k);
                    PerExamplePass b = new PerExamplePass(s1, ps, in.x1, sj, k, unread);
                    try (Tensor blk = sd.block(cross, held, b)) {
                        place(out, blk, n, n, o, k, sh, sj, true);
                    }
                    if (j == last) {
                        next = b;
                    } else {
                        b.close();
                    }
                }
                held.close();
                held = next;
                h = last;
                if (held == null) {
                    break;
                }
            }
        } finally {
            if (held != null) {
                held.close();
            }
        }
    }

    /**
     * out[a, b, si + p, sj + q] = blk[a, b, p, q], and with {@code mirror} out[b, a, sj + q, si + p] too: each row
     * of k outputs in one bulk copy (the full kernel at O = 1000 places hundreds of millions of values), the mirror
     * element by element through the same buffers.
     */
    private static void place(Tensor out, Tensor blk, int n1, int n2, int o, int k, int si, int sj, boolean mirror) {
        boolean f32 = out.dtype() == org.ntk4j.tensor.DType.F32;
        java.nio.FloatBuffer srcF = f32 ? blk.floats() : null;
        java.nio.FloatBuffer dstF = f32 ? out.floats() : null;
        java.nio.DoubleBuffer srcD = f32 ? null : blk.doubles();
        java.nio.DoubleBuffer dstD = f32 ? null : out.doubles();
        float[] rowF = f32 ? new float[k] : null;
        double[] rowD = f32 ? null : new double[k];
        for (int a = 0; a < n1; a++) {
            for (int b = 0; b < n2; b++) {
                for (int p = 0; p < k; p++) {
                    int from = ((a * n2 + b) * k + p) * k;
                    int to = ((a * n2 + b) * o + si + p) * o + sj;
                    // the mirror's (q, p) entries: out[b, a, sj + q, si + p], a column of stride o
                    int mirrorAt = ((b * n1 + a) * o + sj) * o + si + p;
                    if (f32) {
                        srcF.get(from, rowF, 0, k);
                        dstF.put(to, rowF, 0, k);
                        for (int q = 0; mirror && q < k; q++) {
                            dstF.put(mirrorAt + q * o, rowF[q]);
                        }
                    } else {
                        srcD.get(from, rowD, 0, k);
                        dstD.put(to, rowD, 0, k);
                        for (int q = 0; mirror && q < k; q++) {
                            dstD.put(mirrorAt + q * o, rowD[q]);
                        }
                    }
                }
            }
        }
    }
}
