package org.ntk4j.ntk;

import java.util.Locale;

/**
 * The kernels of each example with itself — a batch axis kept diagonal ([N, ...], Θ(x1_n, x2_n)) or traced — in
 * chunks of examples, when no method fits the whole problem in the memory budget: every pair (n, n) lies within
 * one chunk, so the kernel is the chunks' kernels side by side along its first axis (diagonal), or their sum, each
 * weighted by its share of the examples (traced: each chunk's trace is a mean over its own examples). The chunks
 * are the largest that fit the budget with the whole kernel held beside them, of equal size but the last. Tiles
 * ({@code --out}) pair every tile of x1 with every tile of x2 and need both example axes; these kernels have one.
 * A model that mixes its examples (batch norm in training mode) never runs in chunks: each chunk would be
 * normalised with its own batch statistics.
 */
final class ExampleChunks {
    private ExampleChunks() {
    }

    /** The methods AUTO chooses among. */
    private static final Method[] EXACT = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    /** A run in chunks of {@code size} examples, each by {@code method}. */
    record Plan(Method method, int size) {
    }

    /**
     * The chunks for the problem of {@code c} by method {@code m} within the budget, or null when it runs whole:
     * when the kernel has both example axes, when {@code m} fits the whole (NTK-vector products by tiling their
     * basis vectors), or, for AUTO, when no chunks take fewer FLOPs than AUTO's choice for the whole (NTK-vector
     * products' counted twice, as AUTO counts them) — chunks fitting only by tiling the basis vectors finely can
     * cost a thousand times more than chunks by another method, and so can the whole. Null also when not even one
     * example fits (the caller then refuses the whole), and when the model mixes the examples of its batch (batch
     * norm in training mode): a chunk's kernel would then be that of another network, one normalised over the
     * chunk's examples only. For AUTO each method's largest fitting chunks are costed and the cheapest taken.
     */
    static Plan plan(CostModel c, Method m, long budgetBytes) {
        if (c.axes.examplesPaired() || budgetBytes == Long.MAX_VALUE || !c.model.independentExamples()) {
            return null;
        }
        Plan best = null; // null: the whole, while it is the cheapest (it wins ties)
        double bestCost = Double.POSITIVE_INFINITY;
        for (Method e : m == Method.AUTO ? EXACT : new Method[] {m}) {
            CostModel.Estimate whole = c.estimate(e, budgetBytes);
            if (whole.peakBytes() <= budgetBytes) {
                double cost = e.autoCost(whole.flops());
                if (cost <= bestCost) {
                    best = null;
                    bestCost = cost;
                }
                continue;
            }
            int size = largest(c, e, budgetBytes);
            double cost = size == 0 ? Double.POSITIVE_INFINITY
                    : e.autoCost(estimate(c, new Plan(e, size), budgetBytes).flops());
            if (cost < bestCost) {
                best = new Plan(e, size);
                bestCost = cost;
            }
        }
        return best;
    }

    /** The largest chunk (of equal sizes) in which {@code m} fits, or 0 when not even one example fits. */
    private static int largest(CostModel c, Method m, long budgetBytes) {
        if (!fits(c, m, budgetBytes, 1)) {
            return 0;
        }
        int lo = 1; // fits
        int hi = c.n1; // does not
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (fits(c, m, budgetBytes, mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        int chunks = (c.n1 + lo - 1) / lo;
        return (c.n1 + chunks - 1) / chunks;
    }

    /**
     * Bytes held beside each chunk's own peak (which counts the parameters and the chunk's copy of its examples):
     * the whole kernel being filled, and the caller's inputs.
     */
    static long heldBytes(CostModel c) {
        long example = org.ntk4j.tensor.Shapes.size(c.perExample);
        return c.bytes(c.outputElements() + (c.same ? c.n1 : (long) c.n1 + c.n2) * example);
    }

    /**
     * The least budget in which chunks of one example run by method {@code m} ({@link #fits} with a chunk of one;
     * AUTO: by any method): the whole kernel and the caller's inputs held beside the least the method runs the
     * one-example problem in; {@link Long#MAX_VALUE} when the kernel does not run in chunks (both example axes, one
     * example, or a model that mixes the examples of its batch).
     */
    static long leastPeakBytes(CostModel c, Method m) {
        if (c.axes.examplesPaired() || c.n1 == 1 || !c.model.independentExamples()) {
            return Long.MAX_VALUE;
        }
        CostModel k = chunk(c, 1);
        long one = m == Method.AUTO ? k.leastWholePeakBytes() : k.smallestSteps(m).peakBytes();
        return one == Long.MAX_VALUE ? one : heldBytes(c) + one;
    }

    /** The cost model of a chunk of {@code n} examples on each side (x2 = x1 stays so). */
    static CostModel chunk(CostModel c, int n) {
        return n == c.n1 ? c : CostModel.cached(c.model, c.perExample, c.dtype, n, c.same ? 0 : n, c.axes.trace(),
                c.axes.diagonal(), c.tileBytes);
    }

    private static boolean fits(CostModel c, Method m, long budgetBytes, int n) {
        long held = n == c.n1 ? 0 : heldBytes(c);
        if (held >= budgetBytes) {
            return false;
        }
        CostModel k = chunk(c, n);
        for (Method e : m == Method.AUTO ? EXACT : new Method[] {m}) {
            if (k.estimate(e, budgetBytes - held).peakBytes() <= budgetBytes - held) {
                return true;
            }
        }
        return false;
    }

    /** The estimate of the chunked run of {@link #plan}'s choice, or null when it does not run in chunks. */
    static CostModel.Estimate estimate(CostModel c, Method m, long budgetBytes) {
        Plan p = plan(c, m, budgetBytes);
        return p == null ? null : estimate(c, p, budgetBytes);
    }

    /** The estimate of a run in the chunks of {@code p}: every chunk's FLOPs, one chunk's peak beside what is held. */
    private static CostModel.Estimate estimate(CostModel c, Plan p, long budgetBytes) {
        long left = budgetBytes - heldBytes(c);
        int full = c.n1 / p.size();
        int last = c.n1 - full * p.size();
        CostModel.Estimate e = chunk(c, p.size()).estimate(p.method(), left);
        double flops = full * e.flops();
        double contraction = full * e.contractionFlops();
        long peak = e.peakBytes();
        if (last > 0) {
            // the last, smaller chunk runs by its own plan (its tiles of basis vectors, its output chunks), whose
            // peak may be the larger
            CostModel.Estimate l = chunk(c, last).estimate(p.method(), left);
            flops += l.flops();
            contraction += l.contractionFlops();
            peak = Math.max(peak, l.peakBytes());
        }
        String note = String.format(Locale.ROOT, "in %d chunks of %d examples (each pair (n, n) within one), "
                + "each by %s: %s", full + (last > 0 ? 1 : 0), p.size(), p.method().shortName(), e.note());
        return new CostModel.Estimate(p.method(), flops, contraction, peak + heldBytes(c), note);
    }

    /** The line of {@code explain} for a run in example chunks, or "" when it runs whole. */
    static String explainLine(CostModel.Estimate e) {
        return e == null ? "" : String.format(Locale.ROOT, "%-26s %14.4g %12s  %s%n", "  in example chunks",
                e.flops(), CostModel.human(e.peakBytes()), e.note());
    }
}
