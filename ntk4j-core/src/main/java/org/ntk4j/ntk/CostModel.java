package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.nn.Model;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * The cost of each exact method for given shapes, computed before anything runs from the very graphs the
 * method would evaluate (shapes are static): FLOPs exactly ({@link GraphCost#flops} plus the contractions),
 * peak bytes as the largest set of tensors held at once in the method's phases (graph evaluations simulated
 * by {@link GraphCost#peakBytes}, the Jacobians, cotangents and kernel held between them), the kernels' tensor
 * scratch included (im2col chunks, operand copies, a weight's transient transposed copy). Native scratch outside
 * the tensors (OpenBLAS's buffers, per-thread GEMM scratch of at most 2 MiB) is not counted.
 */
public final class CostModel {
    /** One method's predicted cost. */
    public static final class Estimate {
        private final Method method;
        private final double flops;
        final long peakBytes;
        private final String note;
        private final double contractionFlops;
        private final java.util.Set<String> structuredParameters;
        private final int outputChunk;

        Estimate(Method method, double flops, double contractionFlops, long peakBytes, String note) {
            this(method, flops, contractionFlops, peakBytes, note, java.util.Set.of(), 0);
        }

        Estimate(Method method, double flops, double contractionFlops, long peakBytes, String note,
                 java.util.Set<String> structuredParameters, int outputChunk) {
            this.outputChunk = outputChunk;
            this.method = method;
            this.flops = flops;
            this.contractionFlops = contractionFlops;
            this.peakBytes = peakBytes;
            this.note = note;
            this.structuredParameters = java.util.Collections.unmodifiableSet(
                    new java.util.LinkedHashSet<>(structuredParameters));
        }

        /**
         * The parameters structured derivatives treat structurally (from the consumer rule of the equation where
         * each meets the data), by their {@link org.ntk4j.nn.ParamSpec#path() path}, in parameter order; the
         * others take the dense fallback of per-example rows. Empty for the other methods, and for structured
         * derivatives on a model that mixes examples (it runs as Jacobian contraction).
         *
         * @return the structured parameters' paths (unmodifiable)
         */
        public java.util.Set<String> structuredParameters() {
            return structuredParameters;
        }

        /**
         * The work that forms the N1 × N2 kernel from per-example quantities (the second term of the reference's
         * cost table); the rest of {@link #flops()} builds Jacobians or cotangents. NTK-vector products have no
         * such split: their N1·N2 work is the JVP itself, reported here in full. For Jacobian contraction it is
         * the reference's term 2·|Θ|·P as the table states it; with x2 = x1 the run forms a Gram of each
         * Jacobian with itself, about half of that, so this term can exceed {@link #flops()}.
         *
         * @return the contraction FLOPs; +∞ when the method cannot run on these shapes in one piece
         */
        public double contractionFlops() {
            return contractionFlops;
        }

        /**
         * The size of the output chunks the method runs in ({@link OutputChunks}), when its stacked cotangents
         * of all O outputs at once would exceed the memory budget.
         *
         * @return the chunk size k (1 ≤ k &lt; O), or 0: all outputs at once
         */
        public int outputChunk() {
            return outputChunk;
        }

        /**
         * The method estimated.
         *
         * @return one of the three exact methods, never AUTO
         */
        public Method method() {
            return method;
        }

        /**
         * Total floating-point operations the method performs, counted exactly from its graphs and contractions.
         *
         * @return the FLOPs; +∞ when the method cannot run on these shapes in one piece (a tensor it would form
         *     exceeds what one tensor holds)
         */
        public double flops() {
            return flops;
        }

        /**
         * Peak bytes of tensors the method holds at once (native scratch outside the tensors not counted).
         *
         * @return the peak in bytes; {@link Long#MAX_VALUE} when the method cannot run on these shapes in one
         *     piece
         */
        public long peakBytes() {
            return peakBytes;
        }

        /**
         * How the method runs here (e.g. which parameters take the structured path).
         *
         * @return a one-line description, or why the method cannot run on these shapes
         */
        public String note() {
            return note;
        }
    }

    final Model model;
    final int[] perExample;
    final DType dtype;
    final int n1;
    final int n2;
    final boolean same;
    final KernelAxes axes;
    final int[] f1;
    final int[] f2;
    final int nParams;
    final long paramBytes;
    final long tileBytes;
    /** Each method's estimate, computed on first request (the graphs come from the cached {@link SidePlan}s). */
    private final java.util.Map<Method, Estimate> estimated = new java.util.EnumMap<>(Method.class);
    /** Structured derivatives in output chunks, by memory budget (null: no chunk fits or chunking does not apply). */
    private final java.util.Map<Long, Optional<Estimate>> chunked = new java.util.HashMap<>();
    /**
     * Structured derivatives within any budget their whole pass fits: whole, or in output chunks of fewer FLOPs
     * ({@link OutputChunks#fewestFlops}); null until asked.
     */
    private Estimate sdWithinWholeBudget;
    /** NTK-vector products in tiles of basis vectors sized to a memory budget, by budget. */
    private final java.util.Map<Long, Estimate> vpTiled = new java.util.HashMap<>();

    /**
     * Costs for x1 of n1 examples and x2 of n2 (n2 = 0: x2 = x1) with the given axis semantics. Traces the
     * model (no tensors are evaluated); the estimates themselves are computed on first request and cached.
     *
     * @param model the network
     * @param perExample shape of one example, without the batch axis (copied)
     * @param dtype element type the kernel would be computed in
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param traceAxes axes of f(x) traced over, as in {@link EmpiricalNtk#traceAxes}
     * @param diagonalAxes axes of f(x) whose diagonal alone is kept, as in {@link EmpiricalNtk#diagonalAxes}
     * @throws IllegalArgumentException if n1 &lt; 1 or n2 &lt; 0, or the axes are out of range, repeated, both
     *     traced and diagonal, or f(x1) and f(x2) differ on a traced or diagonal axis (a diagonal example
     *     axis needs n1 = n2)
     */
    public CostModel(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes,
                     int[] diagonalAxes) {
        this(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, Tiles.MAX_TENSOR_BYTES);
    }

    /** The same, for methods that tile their work at {@code tileBytes} (see {@link EmpiricalNtk}). */
    CostModel(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes, int[] diagonalAxes,
              long tileBytes) {
        this.tileBytes = tileBytes;
        if (n1 < 1 || n2 < 0) {
            throw new IllegalArgumentException("cost model: n1 must be >= 1 and n2 >= 0 (0: x2 = x1), got " + n1
                    + " and " + n2);
        }
        this.model = model;
        this.perExample = perExample.clone();
        this.dtype = dtype;
        this.n1 = n1;
        this.same = n2 == 0;
        this.n2 = same ? n1 : n2;
        int[] out = model.outputShape(perExample);
        this.f1 = Shapes.prepend(n1, out);
        this.f2 = Shapes.prepend(this.n2, out);
        this.axes = new KernelAxes(out.length + 1, traceAxes, diagonalAxes);
        axes.checkShapes(f1, f2);
        this.nParams = model.paramSpecs(perExample).size();
        long pb = 0;
        for (org.ntk4j.nn.ParamSpec s : model.paramSpecs(perExample)) {
            pb += (long) s.size() * dtype.bytes();
        }
        this.paramBytes = pb;
    }

    /** The key of a model's cache of cost models ({@link Model#attachedCache}). */
    private static final Object CACHE_KEY = new Object();
    /** Cost models kept per model: a tiled run's tile sizes and AUTO's choices for a sweep of problem sizes. */
    private static final int PER_MODEL = 64;

    /**
     * A model's cost models, least recently used first. Attached to the model rather than held statically (a static
     * cache kept the last 64 models reachable, with the layers' constants and the plans cached in them, after the
     * program was done with them): they go with the model, and {@link Model#releaseCaches} drops them.
     */
    private static final class ModelCosts implements AutoCloseable {
        final LruCache<java.util.List<Object>, CostModel> costs = new LruCache<>(PER_MODEL);

        @Override
        public void close() {
            costs.clear();
        }
    }

    /**
     * The cost model of these arguments, made once and reused (its estimates are cached in it): a repeated kernel,
     * a tile or AUTO's choice for the same problem walks no graph again.
     */
    static CostModel cached(Model model, int[] perExample, DType dtype, int n1, int n2, int[] traceAxes,
                            int[] diagonalAxes, long tileBytes) {
        java.util.List<Object> key = java.util.List.of(java.util.Arrays.toString(perExample), dtype, n1, n2,
                java.util.Arrays.toString(traceAxes), java.util.Arrays.toString(diagonalAxes), tileBytes);
        return model.attachedCache(CACHE_KEY, ModelCosts::new).costs.get(key,
                k -> new CostModel(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, tileBytes));
    }

    long bytes(long elements) {
        return elements * dtype.bytes();
    }

    long outputElements() {
        return Shapes.size(axes.outputShape(f1, f2));
    }

    long totalParams() {
        return paramBytes / dtype.bytes();
    }

    /** FLOPs of contracting Jacobians of P columns into the kernel: 2 · |Θ| · traced size · P. */
    double contractionFlops(long p) {
        return 2.0 * outputElements() * axes.traceSize(f1) * p;
    }

    /**
     * FLOPs of {@link JacobianContraction#contract} on Jacobians of P columns for outputs f1t, f2t (tiles of f1,
     * f2): with one tensor for both sides ({@code self}) its Gram ({@link DotGeneralKernel#gramFlops}), else
     * 2 · |Θ| · traced size · P.
     */
    double contractionFlops(int[] f1t, int[] f2t, long p, boolean self) {
        if (self) {
            return DotGeneralKernel.gramFlops(Shapes.concat(f1t, new int[] {Math.toIntExact(p)}),
                    Shapes.concat(axes.trace(), new int[] {axes.rank()}), axes.diagonal());
        }
        return 2.0 * Shapes.size(axes.outputShape(f1t, f2t)) * axes.traceSize(f1t) * p;
    }

    /**
     * Bytes of the operand copies {@link JacobianContraction#contract} takes on Jacobians of P columns for outputs
     * f1t, f2t ({@link DotGeneralKernel#scratchElements}; a Gram's when {@code self}): none where the contracted
     * axes lie last in place, as for the default trace; copies of both Jacobians where they do not, as for a
     * traced batch axis.
     */
    long contractionScratch(int[] f1t, int[] f2t, long p, boolean self) {
        int[] contract = Shapes.concat(axes.trace(), new int[] {axes.rank()});
        int[] j1 = Shapes.concat(f1t, new int[] {Math.toIntExact(p)});
        int[] diagonal = axes.diagonal();
        return bytes(self ? DotGeneralKernel.gramScratchElements(j1, contract, diagonal)
                : DotGeneralKernel.scratchElements(j1, Shapes.concat(f2t, new int[] {Math.toIntExact(p)}), contract,
                        contract, diagonal, diagonal));
    }

    /**
     * The cost of the empirical NNGP f(x1)·f(x2)ᵀ with these axes ({@link EmpiricalNtk#nngp}), which runs no NTK
     * method: the forward pass of each side (one for x2 = x1), then one contraction of the outputs as Jacobian
     * contraction contracts Jacobians of one column (a Gram for x2 = x1), then the kernel's layout copy. Peak: the
     * larger of the forward passes (x1's output held through x2's), and the outputs with the contraction's
     * scratch and the kernel, or the kernel and its layout copy; the parameters and the inputs count throughout.
     *
     * @return the estimate, method {@link Method#JACOBIAN_CONTRACTION} (the contraction it runs); its note says
     *     that it is the NNGP's
     */
    public synchronized Estimate nngp() {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            Graph g1 = trace(n1);
            long x1Bytes = bytes((long) n1 * Shapes.size(perExample));
            long x2Bytes = same ? 0 : bytes((long) n2 * Shapes.size(perExample));
            long out1 = bytes(Shapes.size(f1));
            long out2 = same ? 0 : bytes(Shapes.size(f2));
            long kernel = bytes(outputElements());
            double contraction = contractionFlops(f1, f2, 1, same);
            double flops = GraphCost.flops(g1) + contraction;
            // the forward passes: each graph's peak counts the parameters and its own inputs
            long peak = GraphCost.peakBytes(g1) + x2Bytes;
            if (!same) {
                Graph g2 = trace(n2);
                flops += GraphCost.flops(g2);
                peak = Math.max(peak, out1 + GraphCost.peakBytes(g2) + x1Bytes);
            }
            long held = paramBytes + x1Bytes + x2Bytes + out1 + out2;
            peak = Math.max(peak, held + Math.max(contractionScratch(f1, f2, 1, same) + kernel, 2 * kernel));
            return new Estimate(Method.JACOBIAN_CONTRACTION, flops, contraction, peak, "the NNGP: the forward pass "
                    + (same ? "of x1" : "of each side") + ", then one contraction of the outputs (no NTK method)");
        }
    }

    /**
     * All three methods, in the order JC, VP, SD.
     *
     * @return a new list of the three estimates
     */
    public List<Estimate> estimates() {
        List<Estimate> r = new ArrayList<>();
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            r.add(estimate(m));
        }
        return r;
    }

    /**
     * One method's estimate (AUTO is not a method), computed on first request and then cached; a method that
     * cannot run on these shapes untiled gets infinite FLOPs and {@link Long#MAX_VALUE} peak bytes.
     *
     * @param m one of the three exact methods
     * @return the estimate
     * @throws IllegalArgumentException if {@code m} is AUTO
     */
    public synchronized Estimate estimate(Method m) {
        Estimate e = estimated.get(m);
        if (e == null) {
            // the plans it reads stay open while it reads them ({@link CachedTensors})
            try (CachedTensors.Lease lease = CachedTensors.lease()) {
                e = estimateOnce(m);
            }
            estimated.put(m, e);
        }
        return e;
    }

    private Estimate estimateOnce(Method m) {
        try {
            switch (m) {
                case JACOBIAN_CONTRACTION:
                    return new JcCost(this).estimate();
                case NTK_VECTOR_PRODUCTS:
                    return vectorProducts(Long.MAX_VALUE);
                case STRUCTURED_DERIVATIVES:
                    return new SdCost(this).estimate();
                default:
                    throw new IllegalArgumentException("cost model: " + m + " is not a method");
            }
        } catch (IllegalArgumentException e) {
            if (m == Method.AUTO) {
                throw e;
            }
            // a value the method would form is larger than one tensor can hold: it cannot run untiled
            return new Estimate(m, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Long.MAX_VALUE,
                    "cannot run on these shapes in one piece: " + e.getMessage());
        }
    }

    /** The cached plan of one side of n examples: its graphs are the ones the methods evaluate. */
    SidePlan side(int n) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    /**
     * The side plan {@code pc} belongs to: not the one cached now for its batch size, which another thread may have
     * dropped and traced anew since {@code pc} was taken (its graphs are those of another trace).
     */
    SidePlan side(ParameterConsumers pc) {
        SidePlan own = pc.side();
        return own != null ? own : side(pc.x.dim(0));
    }

    Graph trace(int n) {
        return side(n).graph;
    }

    ParameterConsumers consumers(int n) {
        return side(n).pc;
    }

    boolean perExample(ParameterConsumers pc) {
        return model.independentExamples() && pc.exampleAxisFirst;
    }

    /**
     * Whether both sides run per-example passes: x2's trace, of another batch size (one example, say), may carry
     * the examples on another axis than x1's ({@link KernelStrategy#perExample}).
     */
    boolean perExampleSides() {
        return perExample(consumers(n1)) && (same || perExample(consumers(n2)));
    }

    /**
     * Per-example rows of the consumers of {@code selected} and the path VJP to their Jacobians, all at once
     * (as {@link PerExamplePass#jacobians} does), the pass values already held: {flops, peak bytes}.
     */
    double[] rowsAndPathCost(ParameterConsumers pc, int n, int o, List<Integer> selected, long held) {
        List<ParameterConsumers.Consumer> cons = ParameterPaths.consumersOf(pc, selected);
        double flops = 0;
        long rowBytes = 0;
        long building = 0; // the rows formed so far and the current consumer's row graph
        for (ParameterConsumers.Consumer c : cons) {
            flops += (double) n * GraphCost.flops(side(pc).rowGraph(c, o));
            building = Math.max(building, rowBytes + bytes((long) o * n * c.parameterValue().size())
                    + rowScratch(pc, c, o));
            rowBytes += bytes((long) o * n * c.parameterValue().size());
        }
        long jBytes = 0;
        for (int p : selected) {
            jBytes += bytes((long) o * n * Shapes.size(pc.params.get(p).shape()));
        }
        Graph path = side(pc).pathVjp(cons, selected, o * n);
        flops += GraphCost.flops(path);
        long peak = held + Math.max(Math.max(pathPeak(path, cons.size()), rowBytes) + 2 * jBytes, building);
        return new double[] {flops, peak};
    }

    /**
     * Bytes beyond the rows themselves while a consumer's rows are formed: when they go one example at a time
     * through its row graph ({@link PerExamplePass#loopRows}: a conv filter, a consumer without a direct rule),
     * that graph's peak — the example's operand slices, its output [O] + shape(p') and its scratch — before the
     * output is copied into the rows; when they are written directly ({@code PerExamplePass.structuredRows}), the
     * factors it forms for all the side's examples: the data A [N, R, C] (a transposed copy, or a conv's patches)
     * and the cotangent D [O, N, R, F] unless it is a view of δ.
     */
    long rowScratch(ParameterConsumers pc, ParameterConsumers.Consumer c, int o) {
        if (!PerExamplePass.directRows(pc, c)) {
            return GraphCost.peakBytes(side(pc).rowGraph(c, o));
        }
        org.ntk4j.primitive.ConsumerRule.Linear rule = c.linear();
        long rows = (long) pc.x.dim(0) * rule.positions();
        return bytes(rows * (rule.fanIn() + (rule.cotangentIsReshape() ? 0 : (long) o * rule.features())));
    }

    /** Peak bytes of a path VJP beyond its parameter inputs (already held): its cotangent inputs, values, outputs. */
    static long pathPeak(Graph path, int consumers) {
        long params = 0;
        for (int i = 0; i < path.inputs().size() - consumers; i++) {
            params += GraphCost.bytes(path.inputs().get(i).type());
        }
        return GraphCost.peakBytes(path) - params;
    }

    static long outputBytes(Graph g) {
        long b = 0;
        for (org.ntk4j.graph.Var v : g.outputs()) {
            b += GraphCost.bytes(v.type());
        }
        return b;
    }

    private Estimate vectorProducts(long budgetBytes) {
        // the walk over the very steps VectorProducts runs: the [K] + f(x1) result and its transposed copy with the
        // kernel, beside the parameters and the inputs, then each step's VJP and JVP (on top of the result when there
        // are several)
        SidePlan s1 = side(n1);
        SidePlan s2 = side(n2);
        VpPlan plan = s1.vpPlan(s2, same, tileBytes, budgetBytes);
        long full = bytes((long) Shapes.size(f1) * plan.k);
        long inputs = VpPlan.inputBytes(s1) + (same ? 0 : VpPlan.inputBytes(s2));
        VpPlan.Walk walk = new VpPlan.Walk(s1, s2, same, full,
                paramBytes + inputs + 2 * full + bytes(outputElements()));
        for (VpPlan.Columns step : plan.steps) {
            step.cost(walk);
        }
        return new Estimate(Method.NTK_VECTOR_PRODUCTS, walk.flops, walk.jvpFlops, walk.peak, plan.steps.size() == 1
                ? "VJP of f(x2) with " + plan.k + " basis cotangents, then one JVP of f(x1) with them stacked"
                : "VJP of f(x2) and JVP of f(x1) over " + plan.steps.size() + " tiles of the " + plan.k
                + " basis cotangents (" + (plan.budgetBytes > 0 ? "sized to the memory budget of "
                + human(plan.budgetBytes) : "a tensor holds at most " + human(tileBytes)) + ")");
    }

    /**
     * The method AUTO picks: the fewest FLOPs among those whose peak fits {@code budgetBytes}, NTK-vector products'
     * counted {@link Method#VP_FLOP_WEIGHT} times ({@link Method#autoCost}).
     *
     * @param budgetBytes the memory budget in bytes
     * @return the chosen method's estimate (the first of JC, VP, SD on a tie)
     * @throws IllegalArgumentException if no method's peak fits the budget
     */
    public Estimate choose(long budgetBytes) {
        Estimate best = null;
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
            Estimate e = estimate(m, budgetBytes);
            if (e.peakBytes() <= budgetBytes && (best == null
                    || m.autoCost(e.flops()) < best.method().autoCost(best.flops()))) {
                best = e;
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("memory budget: no method fits in " + human(budgetBytes)
                    + " for these shapes; the smallest needs " + humanAtLeast(leastPeakBytes())
                    + (!model.independentExamples()
                    // neither tiles nor ExampleChunks split a batch whose examples the model mixes
                    ? " (raise --memory: the model mixes the examples of its batch, e.g. batch_norm in training"
                    + " mode, so they cannot run in tiles or chunks)"
                    : axes.examplesPaired() ? " (raise --memory" + TILES_ADVICE + ")"
                    // ExampleChunks found no chunk that fits either: tiles need both example axes
                    : " and not even one example fits beside the whole kernel (raise --memory)"));
        }
        return best;
    }

    /**
     * The advice in a refusal of the budget ({@link #choose}, {@link #planned}) to compute the kernel in tiles, which
     * only {@code ntk4j kernel} does (its {@code --out}); {@link #withoutTileAdvice} takes it out for the others.
     */
    private static final String TILES_ADVICE = ", or compute it in tiles with --out";

    /**
     * A message without this class's advice to compute the kernel in tiles with {@code --out}: how a caller that
     * cannot tile (a command whose kernels are not written tile by tile) shows a refusal of the budget.
     *
     * @param message a message, possibly a refusal of {@link #choose} or {@link #planned} (or one containing it)
     * @return the message with the advice removed; any other message unchanged
     */
    public static String withoutTileAdvice(String message) {
        return message.replace(TILES_ADVICE + ", which may fit", "").replace(TILES_ADVICE, "");
    }

    /** Whether a value of structured derivatives' whole pass is more than one tensor holds (null: not asked yet). */
    private Boolean sdWholeTooLarge;

    /**
     * The method's estimate within a memory budget: {@link #estimate(Method)}, or, for a method over the budget,
     * how it runs within it if it can: structured derivatives in the largest output chunks that fit
     * ({@link Estimate#outputChunk}), NTK-vector products in the fewest tiles of basis vectors whose steps fit.
     * Structured derivatives of the full kernel of x1 with itself also run in output chunks, fitting or not, when
     * more chunks take at least 10% fewer FLOPs ({@link OutputChunks#fewestFlops}: each pair of chunks is
     * contracted once).
     *
     * @param m one of the three exact methods
     * @param budgetBytes the memory budget in bytes
     * @return the estimate the method runs by within this budget
     * @throws IllegalArgumentException if {@code m} is AUTO
     */
    public synchronized Estimate estimate(Method m, long budgetBytes) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            return estimateLeased(m, budgetBytes);
        }
    }

    private Estimate estimateLeased(Method m, long budgetBytes) {
        Estimate e = estimate(m);
        // the whole pass of structured derivatives stacks all O outputs: where one of its values is larger than one
        // tensor holds (a probes:20000 kernel), it runs in output chunks whatever the budget
        if (m == Method.STRUCTURED_DERIVATIVES && sdWholeTooLarge == null) {
            try {
                sdWholeTooLarge = OutputChunks.applies(this)
                        && OutputChunks.largestValueBytes(this, side(n1).o) > tileBytes;
            } catch (IllegalArgumentException tooLarge) {
                // the whole pass's plan cannot even be built: one of its values has more than 2^31-1 elements
                // (ResNet-18 at 224×224, O = 1000, N = 3: a [1000, 3, 112, 112, 64] cotangent), which made explain
                // and every budgeted estimate throw; it runs in output chunks, as a value over tileBytes does
                sdWholeTooLarge = true;
            }
        }
        if (m == Method.STRUCTURED_DERIVATIVES && sdWholeTooLarge) {
            return chunked.computeIfAbsent(budgetBytes, b -> Optional.ofNullable(OutputChunks.within(this, b)))
                    .orElse(e);
        }
        if (m == Method.STRUCTURED_DERIVATIVES && e.peakBytes() <= budgetBytes) {
            // x1 with itself: output chunks may take fewer FLOPs than the whole pass (OutputChunks.fewestFlops); their
            // peaks are below the whole pass's, so the budget does not matter
            if (sdWithinWholeBudget == null) {
                sdWithinWholeBudget = OutputChunks.fewestFlops(this, e);
            }
            return sdWithinWholeBudget;
        }
        if (e.peakBytes() <= budgetBytes || m == Method.JACOBIAN_CONTRACTION) {
            return e;
        }
        if (m == Method.NTK_VECTOR_PRODUCTS) {
            return e.flops() == Double.POSITIVE_INFINITY ? e : vpTiled.computeIfAbsent(budgetBytes,
                    this::vectorProducts);
        }
        return chunked.computeIfAbsent(budgetBytes, b -> Optional.ofNullable(OutputChunks.within(this, b))).orElse(e);
    }

    /**
     * The least budget a kernel call of AUTO accepts, which its refusal names: the smallest peak of any method in
     * its smallest steps ({@link #smallestSteps}: NTK-vector products one basis vector a step, structured
     * derivatives one output a chunk), and for a kernel of each example with itself (no pair of example axes) the
     * least of chunks of one example beside the whole kernel ({@link ExampleChunks#leastPeakBytes}) where that is
     * less.
     *
     * @return bytes; {@link Long#MAX_VALUE} when no method can run on these shapes
     */
    synchronized long leastPeakBytes() {
        return leastPeakBytes(Method.AUTO);
    }

    /**
     * {@link #leastPeakBytes()} for one method ({@code m} AUTO: any of the three), which the refusal of an explicit
     * method names ({@link #planned}): the method in its smallest steps, or, for a kernel of each example with
     * itself, in chunks of one example beside the whole kernel where that is less.
     *
     * @param m one of the three exact methods, or AUTO
     * @return bytes; {@link Long#MAX_VALUE} when the method cannot run on these shapes
     */
    synchronized long leastPeakBytes(Method m) {
        long least = m == Method.AUTO ? leastWholePeakBytes() : smallestSteps(m).peakBytes();
        return Math.min(least, ExampleChunks.leastPeakBytes(this, m));
    }

    /**
     * The least memory budget within which {@link #planned(Method, long)} accepts these shapes for method
     * {@code m} (AUTO: any method), the figure its refusal names ({@link #humanAtLeast} shows it rounded up).
     *
     * @param m one of the three exact methods, or AUTO
     * @return bytes; {@link Long#MAX_VALUE} when the method cannot run on these shapes
     */
    public long leastBudget(Method m) {
        return leastPeakBytes(m);
    }

    /**
     * What a kernel call of method {@code m} (or AUTO) runs within a memory budget, costed: a kernel of each example
     * with itself that does not fit whole in its example chunks ({@link ExampleChunks}); else AUTO's choice
     * ({@link #choose}), or the explicit method as it runs within the budget ({@link #estimate(Method, long)}:
     * structured derivatives in output chunks, NTK-vector products in tiles of basis vectors). The budget binds an
     * explicit method as it binds AUTO: one whose plan still exceeds it is refused before any work, naming the least
     * budget the method runs in ({@link #leastPeakBytes(Method)}, rounded up as {@link #humanAtLeast} shows it) and
     * whether AUTO, or tiles ({@code --out}), may fit. A method that cannot run on these shapes in one piece
     * (infinite FLOPs) is not refused here: its estimate says why.
     *
     * @param m one of the three exact methods, or AUTO
     * @param budgetBytes the memory budget in bytes
     * @return the estimate of what runs; its peak is within the budget unless the method cannot run in one piece
     * @throws IllegalArgumentException if AUTO finds no method, or method {@code m} no plan, within the budget
     */
    public Estimate planned(Method m, long budgetBytes) {
        return planned(m, budgetBytes, false);
    }

    /**
     * {@link #planned(Method, long)}; {@code offHeapLimit}: the budget is the JVM's off-heap limit, an explicit
     * method's bound where no budget was given ({@link EmpiricalNtk#memoryBudget(long)}), which its refusal names.
     */
    Estimate planned(Method m, long budgetBytes, boolean offHeapLimit) {
        Estimate e = plannedUnchecked(m, budgetBytes);
        if (m != Method.AUTO && e.peakBytes() > budgetBytes && e.flops() != Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException(overBudget(m, budgetBytes, offHeapLimit));
        }
        return e;
    }

    /** {@link #planned}, an explicit method's plan returned even where it exceeds the budget. */
    Estimate plannedUnchecked(Method m, long budgetBytes) {
        Estimate inChunks = ExampleChunks.estimate(this, m, budgetBytes);
        if (inChunks != null) {
            return inChunks;
        }
        return m == Method.AUTO ? choose(budgetBytes) : estimate(m, budgetBytes);
    }

    /**
     * The one-line refusal of explicit method {@code m}, whose plan exceeds {@code budgetBytes} (the JVM's off-heap
     * limit where {@code offHeapLimit}, when no budget was given).
     */
    private String overBudget(Method m, long budgetBytes, boolean offHeapLimit) {
        long least = leastPeakBytes(m);
        long auto = leastPeakBytes();
        // AUTO runs within the budget given, or without one within the default budget
        long autoBudget = offHeapLimit ? EmpiricalNtk.defaultMemoryBudget() : budgetBytes;
        boolean tiles = axes.examplesPaired() && model.independentExamples();
        return "memory budget: method " + m.shortName() + " needs at least " + humanAtLeast(least) + " for these "
                + "shapes, above " + (offHeapLimit ? "this JVM's off-heap limit of " + human(budgetBytes)
                + " (no --memory given): raise -Xmx or -Dorg.bytedeco.javacpp.maxBytes (NTK4J_JAVA_OPTS)"
                : "the budget of " + human(budgetBytes) + ": raise --memory to at least " + humanAtLeast(least))
                + (auto <= autoBudget ? ", or let AUTO choose (--method auto), which fits "
                + (offHeapLimit ? "the default budget" : "this budget")
                : auto < least ? ", or let AUTO choose (--method auto), which needs at least " + humanAtLeast(auto)
                : "")
                + (tiles ? TILES_ADVICE + ", which may fit" : "")
                + (model.independentExamples() ? "" : " (the model mixes the examples of its batch, e.g. batch_norm in "
                + "training mode, so they cannot run in tiles or chunks)");
    }

    /** {@link #leastPeakBytes} of the whole problem, without example chunks: what {@link #choose} accepts. */
    synchronized long leastWholePeakBytes() {
        long least = Long.MAX_VALUE;
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            least = Math.min(least, smallestSteps(m).peakBytes());
        }
        return least;
    }

    /**
     * The method in its smallest steps: NTK-vector products one basis vector each, structured derivatives in output
     * chunks of one output (where chunking applies); Jacobian contraction whole. The least memory the method can
     * run in (what a budget must at least hold for {@link #estimate(Method, long)} to fit it).
     *
     * @param m one of the three exact methods
     * @return the estimate of the smallest steps (the untiled estimate when they need more, or the method cannot
     *     run at all)
     */
    synchronized Estimate smallestSteps(Method m) {
        Estimate whole = estimate(m);
        if (whole.flops() == Double.POSITIVE_INFINITY || m == Method.JACOBIAN_CONTRACTION) {
            return whole;
        }
        Estimate e = m == Method.NTK_VECTOR_PRODUCTS
                ? estimate(m, VpPlan.oneVectorStepPeak(side(n1), side(n2), same, dtype))
                : OutputChunks.applies(this) && side(n1).o > 1 ? OutputChunks.estimate(this, 1) : whole;
        return e.peakBytes() < whole.peakBytes() ? e : whole;
    }

    /**
     * The table of costs and the choice, as printed by {@code ntk4j explain}; never throws for a budget that
     * nothing fits, it says so in the text instead.
     *
     * @param budgetBytes the memory budget in bytes
     * @return several lines of text, each ending in a newline
     */
    public String explain(long budgetBytes) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "model %s, x1 %d × %s, x2 %s, %s, kernel %s%n", model.spec(), n1,
                Shapes.str(perExample), same ? "= x1" : n2 + " × " + Shapes.str(perExample), dtype.shortName(),
                Shapes.str(axes.outputShape(f1, f2)) + " (" + axes + ")"));
        sb.append(String.format(Locale.ROOT, "parameters: %d (%s)%n", totalParams(), human(paramBytes)));
        sb.append(String.format(Locale.ROOT, "%-26s %14s %12s  %s%n", "method", "FLOPs", "peak", "how"));
        Estimate chosen = null;
        String why;
        try {
            chosen = choose(budgetBytes);
            why = "fewest FLOPs (vp's counted twice, for its lower rate) among the methods that fit the memory "
                    + "budget of " + human(budgetBytes);
        } catch (IllegalArgumentException ex) {
            why = ex.getMessage();
        }
        for (Estimate e : estimates()) {
            // a method that cannot run on these shapes in one piece has no count: "-", as its peak (not "Infinity")
            sb.append(String.format(Locale.ROOT, "%-26s %14s %12s  %s%s%n", e.method().name().toLowerCase(Locale.ROOT)
                    + " (" + e.method().shortName() + ")", Double.isInfinite(e.flops()) ? "-"
                    : String.format(Locale.ROOT, "%.4g", e.flops()),
                    e.peakBytes() == Long.MAX_VALUE ? "-" : human(e.peakBytes()), e.note(),
                    e.peakBytes() > budgetBytes ? "  [exceeds budget]" : ""));
        }
        Estimate vp = estimate(Method.NTK_VECTOR_PRODUCTS, budgetBytes);
        if (vp.peakBytes() != estimate(Method.NTK_VECTOR_PRODUCTS).peakBytes()) {
            sb.append(String.format(Locale.ROOT, "%-26s %14.4g %12s  %s%n", "  in tiles within budget", vp.flops(),
                    human(vp.peakBytes()), vp.note()));
        }
        sb.append(OutputChunks.explainLine(estimate(Method.STRUCTURED_DERIVATIVES, budgetBytes)));
        Estimate inChunks = chosen == null ? ExampleChunks.estimate(this, Method.AUTO, budgetBytes) : null;
        sb.append(ExampleChunks.explainLine(inChunks));
        if (inChunks != null) {
            chosen = inChunks;
            why = "no method fits the whole within " + human(budgetBytes) + "; each example's kernel with itself "
                    + "needs no other example, so it runs in example chunks";
        }
        sb.append("auto chooses: ").append(chosen == null ? "nothing" : chosen.method().shortName()).append(" — ")
                .append(why).append('\n');
        return sb.toString();
    }

    /**
     * A byte count for people, in binary units, in the style of {@code 1.5 GiB}.
     *
     * @param bytes number of bytes
     * @return whole bytes under 1 KiB ({@code 512 B}), else one decimal in KiB, MiB, GiB or TiB
     */
    public static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }

    /**
     * {@link #human} rounded up at the digit it shows, for the least budget to give: {@code --memory} of the figure
     * shown is never below {@code bytes} (1.13 MiB is "1.2 MiB": "raise --memory to at least 1.1 MiB" did not do).
     *
     * @param bytes number of bytes
     * @return whole bytes under 1 KiB ({@code 512 B}), else one decimal in KiB, MiB, GiB or TiB, rounded up
     */
    public static String humanAtLeast(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (u < units.length - 1 && bytes >= 1L << (10 * (u + 1))) {
            u++;
        }
        if (u == 0) {
            return bytes + " " + units[0];
        }
        // tenths of the unit, rounded up: ⌈10 · bytes / 1024^u⌉, exact in integers below 2^63 / 10 bytes
        long unit = 1L << (10 * u);
        long tenths = bytes <= Long.MAX_VALUE / 10 ? Math.floorDiv(10 * bytes + unit - 1, unit)
                : (long) Math.ceil(10.0 * bytes / unit);
        return tenths / 10 + "." + tenths % 10 + " " + units[u];
    }
}
