package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * The empirical neural tangent kernel Θ(x1, x2) = J(x1) J(x2)ᵀ of a {@link Model} at given parameters, with
 * neural-tangents' semantics: output layout zip(f(x1).shape, f(x2).shape) without the traced axes and with
 * diagonal axes once, traced axes averaged (default: the last axis, the logits), x2 = null meaning x1 with its
 * work reused.
 * <pre>
 *   EmpiricalNtk ntk = EmpiricalNtk.of(model, params).method(Method.JACOBIAN_CONTRACTION).traceAxes(-1);
 *   Tensor theta = ntk.ntk(x1, null);            // [N, N]
 *   Tensor full  = ntk.traceAxes().ntk(x1, x2);  // [N1, N2, O, O]
 * </pre>
 * Instances are immutable; the configuration methods return new instances.
 *
 * <p>Thread-safe: one instance, or several sharing a model and parameters, may compute kernels from several threads
 * at once, each result equal bit for bit to the same call made alone (the plans each shape needs are built once,
 * in caches bounded per model). A call interrupted ({@link Thread#interrupt()}) finishes and keeps the interrupt
 * status. The inputs and the parameters must stay open, and unwritten, until every call reading them has returned;
 * a closed one is refused with an IllegalStateException.
 */
public final class EmpiricalNtk {
    private final Model model;
    private final Params params;
    private final int[] traceAxes;
    private final int[] diagonalAxes;
    private final Method method;
    private final long memoryBudget;
    /**
     * Whether the budget was given ({@link #memoryBudget(long)}): it then binds an explicit method; the default binds
     * AUTO, and sizes an explicit method's steps, which are refused only above the off-heap limit.
     */
    private final boolean budgetGiven;
    private final long tileBytes;
    /**
     * The problem size (n1, n2, 1 when x2 = x1) that decides the shape-dependent choices — structured
     * derivatives' contraction order per parameter, Jacobian contraction's fan-in chunks — or null: the sizes of
     * the inputs at hand. Fixed by {@link #forTiles} so that every tile computes what the whole run computes.
     */
    private final long[] problem;
    /** projected:K when this instance computes tiles of that kind (its sketch runs on Jacobian rows), else null. */
    private final KernelKind sketch;

    private EmpiricalNtk(Model model, Params params, int[] traceAxes, int[] diagonalAxes, Method method,
                         long memoryBudget, boolean budgetGiven, long tileBytes) {
        this(model, params, traceAxes, diagonalAxes, method, memoryBudget, budgetGiven, tileBytes, null, null);
    }

    private EmpiricalNtk(Model model, Params params, int[] traceAxes, int[] diagonalAxes, Method method,
                         long memoryBudget, boolean budgetGiven, long tileBytes, long[] problem, KernelKind sketch) {
        this.model = model;
        this.params = params;
        this.traceAxes = traceAxes.clone();
        this.diagonalAxes = diagonalAxes.clone();
        this.method = method;
        this.memoryBudget = memoryBudget;
        this.budgetGiven = budgetGiven;
        this.tileBytes = tileBytes;
        this.problem = problem;
        this.sketch = sketch;
    }

    /**
     * The default memory budget: 80% of the off-heap limit JavaCPP enforces (its {@code maxBytes}, by default
     * the JVM's maximum heap size, settable with {@code -Dorg.bytedeco.javacpp.maxBytes}).
     *
     * @return the budget in bytes, read afresh at each call
     */
    public static long defaultMemoryBudget() {
        return (long) (0.8 * org.ntk4j.tensor.NativeMemory.maxBytes());
    }

    /** A null argument is a caller's mistake named here, not a NullPointerException from deep inside later. */
    private static void requireArgument(String name, Object value) {
        if (value == null) {
            throw new IllegalArgumentException(name + ": must not be null");
        }
    }

    /**
     * The kernel of {@code model} at {@code params}, trace over the last axis, method AUTO, the
     * {@link #defaultMemoryBudget()}. Nothing is checked until a kernel is computed.
     *
     * @param model the network f
     * @param params its parameters; held, not copied, and read by every kernel computed (the caller keeps
     *     them open)
     * @return the configured kernel
     * @throws IllegalArgumentException if model or params is null
     */
    public static EmpiricalNtk of(Model model, Params params) {
        requireArgument("model", model);
        requireArgument("params", params);
        return new EmpiricalNtk(model, params, new int[] {-1}, new int[0], Method.AUTO, defaultMemoryBudget(),
                false, Tiles.MAX_TENSOR_BYTES);
    }

    /**
     * The kernel of {@code model} without parameters, configured as {@link #of} configures it, for the questions that
     * read only shapes: its costs and plans ({@link #costModel}, {@link #resolveMethod}, {@link #nngpEstimate},
     * {@link #forKind}, {@link #forTiles}, {@link TilePlanner}, {@link KernelJob#sketchedInMemory}). Nothing of the
     * parameters' size is allocated, so that a model too large to build (a width study's widest width) is priced,
     * and refused, at once. Computing a kernel with it is refused.
     *
     * @param model the network f
     * @return the configured kernel, for costs and plans only
     * @throws IllegalArgumentException if model is null
     */
    public static EmpiricalNtk ofShapes(Model model) {
        requireArgument("model", model);
        return new EmpiricalNtk(model, null, new int[] {-1}, new int[0], Method.AUTO, defaultMemoryBudget(),
                false, Tiles.MAX_TENSOR_BYTES);
    }

    /** The parameters a kernel is computed at; refused for an instance of {@link #ofShapes}, which has none. */
    private Params params() {
        if (params == null) {
            throw new IllegalStateException("this EmpiricalNtk of " + model.spec() + " has no parameters "
                    + "(EmpiricalNtk.ofShapes: costs and plans only); compute kernels with EmpiricalNtk.of(model, "
                    + "params)");
        }
        return params;
    }

    /**
     * Axes of f(x) to trace (average) over; none gives the full kernel. Negative axes count from the end.
     * The axes are checked against the output's rank when a kernel is computed.
     *
     * @param axes axes of f(x) including the batch axis 0 (copied)
     * @return a new instance with these trace axes
     * @throws IllegalArgumentException if axes is null
     */
    public EmpiricalNtk traceAxes(int... axes) {
        requireArgument("traceAxes", axes);
        return new EmpiricalNtk(model, params, axes, diagonalAxes, method, memoryBudget, budgetGiven, tileBytes);
    }

    /**
     * Axes of f(x) whose diagonal alone is kept (e.g. 0: only Θ(x1_n, x2_n)), each once in the output.
     *
     * @param axes axes of f(x) including the batch axis 0, negative counting from the end (copied)
     * @return a new instance with these diagonal axes
     * @throws IllegalArgumentException if axes is null
     */
    public EmpiricalNtk diagonalAxes(int... axes) {
        requireArgument("diagonalAxes", axes);
        return new EmpiricalNtk(model, params, traceAxes, axes, method, memoryBudget, budgetGiven, tileBytes);
    }

    /**
     * The algorithm.
     *
     * @param m the method, or {@link Method#AUTO} to choose per problem within the memory budget
     * @return a new instance with this method
     * @throws IllegalArgumentException if m is null
     */
    public EmpiricalNtk method(Method m) {
        requireArgument("method", m);
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, m, memoryBudget, budgetGiven, tileBytes);
    }

    /**
     * The memory budget: AUTO chooses within it, and an explicit method runs within it too — structured derivatives
     * in output chunks, NTK-vector products in tiles of basis vectors, the kernels of each example with itself in
     * chunks of examples, as AUTO's choice does — or is refused before any work, naming the least budget it runs
     * in ({@link CostModel#planned}). Jacobian contraction has no such form: its whole peak is its least. Without a
     * budget given, the {@link #defaultMemoryBudget()} binds AUTO and sizes an explicit method's steps, and an
     * explicit method that does not fit it runs within the off-heap limit instead, refused only above that limit.
     *
     * @param bytes the budget in bytes
     * @return a new instance with this budget
     * @throws IllegalArgumentException if {@code bytes} &lt; 1
     */
    public EmpiricalNtk memoryBudget(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("memory budget: must be positive, got " + bytes);
        }
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, method, bytes, true, tileBytes);
    }

    /**
     * The largest tensor a method may form before it tiles its work (default 2^31 - 1 bytes, the most one tensor
     * holds): Jacobian contraction then forms each parameter's Jacobian over tiles of examples, NTK-vector
     * products run over tiles of basis vectors. For tests, which lower it to exercise the tiled paths.
     */
    EmpiricalNtk tileBytes(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("tile bytes: must be positive, got " + bytes);
        }
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, method, memoryBudget, budgetGiven, bytes);
    }

    /**
     * The configured algorithm.
     *
     * @return the method, possibly {@link Method#AUTO} (see {@link #resolveMethod} for AUTO's choice)
     */
    public Method method() {
        return method;
    }

    Model model() {
        return model;
    }

    /** The axis semantics for examples of this shape. */
    KernelAxes kernelAxes(int[] perExample) {
        return new KernelAxes(model.outputShape(perExample).length + 1, traceAxes, diagonalAxes);
    }

    /**
     * The memory budget, which binds AUTO and an explicit method alike (see {@link #memoryBudget(long)}).
     *
     * @return the budget in bytes
     */
    public long memoryBudget() {
        return memoryBudget;
    }

    /**
     * The costs of every method for these shapes (n2 = 0: x2 = x1), with this instance's axes.
     *
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return the cost model
     * @throws IllegalArgumentException if n1 &lt; 1, n2 &lt; 0, or the axes do not fit the model's outputs
     */
    public CostModel costModel(int n1, int n2, int[] perExample, DType dtype) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            return CostModel.cached(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, tileBytes);
        }
    }

    /**
     * The method {@link #ntk} runs for these shapes: the configured one, or AUTO's choice (for a kernel of each
     * example with itself that no method fits whole, the method of its example chunks, {@link ExampleChunks}).
     *
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return an exact method, never AUTO
     * @throws IllegalArgumentException if the method is AUTO and no method fits the memory budget (for a kernel of
     *     each example with itself, not even in chunks of one example), or the shapes are refused as by {@link
     *     #costModel}
     */
    public Method resolveMethod(int n1, int n2, int[] perExample, DType dtype) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            if (method != Method.AUTO) {
                return method;
            }
            CostModel c = costModel(n1, n2, perExample, dtype);
            CostModel.Estimate inChunks = ExampleChunks.estimate(c, Method.AUTO, memoryBudget);
            return inChunks != null ? inChunks.method() : c.choose(memoryBudget).method();
        }
    }

    /**
     * The cost of what {@link #ntk} runs for these shapes within the memory budget ({@link CostModel#planned}): a
     * kernel of each example with itself that no method fits whole in its example chunks ({@link ExampleChunks}),
     * else the resolved method as it runs within the budget (structured derivatives in output chunks, NTK-vector
     * products in tiles of basis vectors; {@link CostModel#estimate(Method, long)}). Its peak is what a call's
     * measured peak is held to.
     *
     * @throws IllegalArgumentException as {@link #resolveMethod}, and for an explicit method whose plan exceeds the
     *     memory budget (naming the least budget it runs in)
     */
    CostModel.Estimate plannedEstimate(int n1, int n2, int[] perExample, DType dtype) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            CostModel c = costModel(n1, n2, perExample, dtype);
            EmpiricalNtk run = bounded(c);
            return c.planned(method, run.memoryBudget, run != this);
        }
    }

    /**
     * The instance that runs the problem of {@code c}: this one, but for an explicit method without a budget given
     * whose plan does not fit the default budget, this one with the off-heap limit as its budget (its steps sized to
     * it, refused above it, as no plan above could allocate). A budget given binds an explicit method as it binds
     * AUTO.
     */
    private EmpiricalNtk bounded(CostModel c) {
        long limit = org.ntk4j.tensor.NativeMemory.maxBytes();
        if (method == Method.AUTO || budgetGiven || limit <= memoryBudget
                || c.plannedUnchecked(method, memoryBudget).peakBytes() <= memoryBudget) {
            return this;
        }
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, method, limit, false, tileBytes, problem,
                sketch);
    }

    // ------------------------------------------------------------------ public kernels

    /**
     * Θ(x1, x2) in the layout of {@link KernelAxes}; {@code x2 = null} means x1 (and reuses its work). With
     * x2 = x1 the result is exactly symmetric: the entries below the example diagonal are the mirror of those
     * above it (see {@link #kernel(PreparedTile, PreparedTile)}).
     *
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] with the same per-example shape and dtype, or null for x1
     * @return the kernel, e.g. [N1, N2] with the default trace or [N1, N2, O, O] with none, which the caller
     *     closes
     * @throws IllegalArgumentException if x1 is null or a scalar, x2's examples differ from x1's in shape or
     *     dtype, the parameters do not match the model, an input holds NaN or ±∞, the axes do not fit the
     *     outputs, AUTO finds no method (or an explicit method no plan) within the memory budget, or the result
     *     holds NaN or ±∞ (the network's outputs or their derivatives overflow the dtype at these inputs)
     */
    public Tensor ntk(Tensor x1, Tensor x2) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            // the call's intermediates live in a scope: freed at its end, also when it throws half way
            try (TensorScope scope = TensorScope.open()) {
                KernelInputs in = inputs(x1, x2, true);
                EmpiricalNtk run = this;
                if (method != Method.AUTO && problem == null && sketch == null) {
                    // the budget binds an explicit method too: a plan over it is refused before any work
                    int n1 = in.x1.dim(0);
                    int n2 = in.same ? 0 : in.x2.dim(0);
                    CostModel c = costModel(n1, n2, in.perExample, in.dtype);
                    run = bounded(c);
                    c.planned(method, run.memoryBudget, run != this); // as plannedEstimate: refuses over budget
                }
                return scope.keep(KernelSupport.requireFiniteResult(run.ntkInScope(in)));
            }
        }
    }

    private Tensor ntkInScope(Tensor x1, Tensor x2) {
        return ntkInScope(inputs(x1, x2, true));
    }

    private Tensor ntkInScope(KernelInputs in) {
        int n2 = in.same ? 0 : in.x2.dim(0);
        if (!in.axes().examplesPaired() && memoryBudget != Long.MAX_VALUE && problem == null && sketch == null) {
            CostModel whole = costModel(in.x1.dim(0), n2, in.perExample, in.dtype);
            ExampleChunks.Plan chunks = ExampleChunks.plan(whole, method, memoryBudget);
            if (chunks != null) {
                return inExampleChunks(in, chunks, memoryBudget - ExampleChunks.heldBytes(whole));
            }
        }
        Method m = resolveMethod(in.x1.dim(0), n2, in.perExample, in.dtype);
        if (m == Method.STRUCTURED_DERIVATIVES && problem == null && sketch == null) {
            int k = costModel(in.x1.dim(0), n2, in.perExample, in.dtype).estimate(m, memoryBudget).outputChunk();
            if (k > 0) {
                return OutputChunks.kernel(model, params(), traceAxes, diagonalAxes, in, k, tileBytes, null);
            }
        }
        if (in.axes().examplesPaired() && tileable(in.perExample, in.dtype)) {
            // one tile: exactly the computation every tile of a tiled run performs
            EmpiricalNtk e = new EmpiricalNtk(model, params, traceAxes, diagonalAxes, m, memoryBudget, budgetGiven,
                    tileBytes, problem != null ? problem : KernelSupport.problemOf(in.x1.dim(0), n2), sketch);
            // without a whole problem the block runs whole (its output chunks returned above): each tile holds its
            // pass, x1's made first, as the cost model counts them — a tile's own rule (no pass where its block with
            // itself runs in chunks) made x2's first, x1's beside it, for a block of x1 with a smaller x2
            // where the block runs the exact batch path (a side's trace moves the examples) it reads no pass: each
            // tile holds only its examples
            boolean whole = problem == null;
            boolean exact = e.blockRunsExact(in.x1.dim(0), n2, in.perExample, in.dtype);
            try (Sides<PreparedTile> t = Sides.of(in.same,
                    () -> exact ? e.examplesOnly(in.x1) : e.prepareChecked(in.x1, whole, null),
                    () -> exact ? e.examplesOnly(in.x2) : e.prepareChecked(in.x2, whole, null), PreparedTile::close)) {
                return e.kernel(t.first(), t.second());
            }
        }
        Tensor k = strategy(m).kernel(in);
        if (in.same && !in.axes().examplesPaired()) {
            // the kernels without both example axes (each example with itself): exactly symmetric too
            KernelReduction.mirrorAll(k, in.axes().mirrorPermutation());
        }
        return k;
    }

    /**
     * A kernel of each example with itself in the chunks of {@code plan}, each by its method within {@code budget}
     * ({@link ExampleChunks}): side by side along the kernel's first axis for a diagonal batch axis, else (traced)
     * summed, each chunk weighted by its share of the examples.
     */
    private Tensor inExampleChunks(KernelInputs in, ExampleChunks.Plan plan, long budget) {
        int n = in.x1.dim(0);
        int chunk = plan.size();
        EmpiricalNtk each = method(plan.method()).memoryBudget(budget);
        boolean diagonal = in.axes().isDiagonal(0);
        Tensor k = Tensor.zeros(in.dtype, in.axes().outputShape(in.f1(), in.f2()));
        int perExample = diagonal ? k.size() / n : 0;
        for (int from = 0; from < n; from += chunk) {
            int to = Math.min(n, from + chunk);
            try (Tensor x1 = Layout.sliceAxis(in.x1, 0, from, to);
                 Tensor x2 = in.same ? null : Layout.sliceAxis(in.x2, 0, from, to);
                 Tensor part = each.ntkInScope(x1, x2)) {
                if (diagonal) {
                    Layout.stridedCopy(part, 0, new int[] {1}, k, from * perExample, new int[] {1},
                            new int[] {part.size()});
                } else {
                    Elementwise.addScaledInPlace(k, (to - from) / (double) n, part);
                }
            }
        }
        return k;
    }

    /** The method's strategy, with this instance's tile limit and problem size. */
    private KernelStrategy strategy(Method m) {
        switch (m) {
            case NTK_VECTOR_PRODUCTS:
                return new VectorProducts(model, params(), tileBytes, problem, memoryBudget);
            case STRUCTURED_DERIVATIVES:
                return new StructuredKernel(model, params(), tileBytes, problem);
            case JACOBIAN_CONTRACTION:
                return new JacobianContraction(model, params(), tileBytes, problem);
            default:
                throw new IllegalArgumentException("kernel: the method must be resolved first, got " + m);
        }
    }

    private KernelInputs inputs(Tensor x1, Tensor x2, boolean check) {
        return new KernelInputs(model, params(), traceAxes, diagonalAxes, x1, x2, check);
    }

    private Tensor[] paramArgs(List<ParamSpec> specs) {
        return KernelSupport.paramArgs(params(), specs);
    }

    /** The cached plan of one side: the traced graph and every graph derived from it. */
    private SidePlan side(int n, int[] perExample, DType dtype) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    // ------------------------------------------------------------------ tiles

    /**
     * True when this kernel can be computed tile by tile over the examples: the model treats examples
     * independently (a model that mixes them, such as BatchNorm in training mode, gives a tile's kernel that
     * depends on the whole batch) and its parameter consumers carry the example axis first.
     *
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return whether kernels of such examples can be computed tile by tile (traces the model to decide)
     */
    public boolean tileable(int[] perExample, DType dtype) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            if (!model.independentExamples()) {
                return false;
            }
            return side(2, perExample, dtype).pc.exampleAxisFirst;
        }
    }

    /**
     * The instance that computes tiles of the kernel {@code kind} of a problem of n1 × n2 examples (n2 = 0:
     * x2 = x1): the kind's own computation ({@link #forKind}; projected:K sketches Jacobian rows), the method
     * resolved for the whole problem (this instance's method, or AUTO's choice for n1 × n2 within the memory
     * budget), and every choice that depends on the number of examples — structured derivatives' contraction
     * order per parameter, Jacobian contraction's fan-in chunks — fixed from the whole problem. Its
     * {@link #kernel(PreparedTile, PreparedTile)} on rows [a, b) of x1 and [c, d) of x2 therefore gives the block
     * [a, b) × [c, d) of {@code method(m).kernel(kind, x1, x2)} by the same computation on fewer examples: equal
     * to rounding, and bit for bit where BLAS gives each output element of a GEMM the same bits whatever the
     * matrix's size (OpenBLAS's Haswell and Zen kernels do; its SkylakeX and Cooperlake kernels do not always).
     *
     * @param kind the kernel kind the tiles belong to
     * @param n1 number of examples of the whole x1, at least 1
     * @param n2 number of examples of the whole x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return a new instance with the method resolved, for {@link #prepare} and
     *     {@link #kernel(PreparedTile, PreparedTile)}
     * @throws IllegalArgumentException if n1 &lt; 1 or n2 &lt; 0, the kind needs outputs [N, O] and the model
     *     has others, or AUTO finds no method within the memory budget
     */
    public EmpiricalNtk forTiles(KernelKind kind, int n1, int n2, int[] perExample, DType dtype) {
        if (n1 < 1 || n2 < 0) {
            throw new IllegalArgumentException("tiles: n1 must be >= 1 and n2 >= 0 (0: x2 = x1), got " + n1
                    + " and " + n2);
        }
        long[] whole = KernelSupport.problemOf(n1, n2);
        if (kind.sketched()) {
            kind.logits(model, perExample);
            return new EmpiricalNtk(model, params, new int[] {-1}, new int[0], Method.JACOBIAN_CONTRACTION,
                    memoryBudget, budgetGiven, tileBytes, whole, kind);
        }
        EmpiricalNtk e = forKind(kind, perExample);
        Method m = e.resolveMethod(n1, n2, perExample, dtype);
        return new EmpiricalNtk(e.model, e.params, e.traceAxes, e.diagonalAxes, m, e.memoryBudget, e.budgetGiven,
                e.tileBytes, whole, null);
    }

    /**
     * Prepares a tile of examples [n, ...] for {@link #kernel(PreparedTile, PreparedTile)}: the tile's share of
     * the work, done once and reused for every block it takes part in. Needs a resolved method (an instance
     * from {@link #forTiles}, or one whose method is not AUTO) and a {@link #tileable} model.
     *
     * @param x the tile's examples [n, ...]; not copied, and must stay open while the tile is in use
     * @return the prepared tile, which the caller closes
     * @throws IllegalArgumentException if the method is AUTO, the model is not {@link #tileable}, the example
     *     axis is traced or diagonal, or x is refused as by {@link #ntk}
     */
    public PreparedTile prepare(Tensor x) {
        return prepareValidated(x, null);
    }

    /** {@link #prepare} (blocks null: the tile's block with itself decides its pass) or {@link #prepareFor}. */
    private PreparedTile prepareValidated(Tensor x, int[][] blocks) {
        if (method == Method.AUTO) {
            throw new IllegalArgumentException("prepare: the method must be resolved first (use forTiles)");
        }
        KernelInputs in = inputs(x, null, true);
        if (!tileable(in.perExample, in.dtype)) {
            throw new IllegalArgumentException("prepare: model " + model.spec() + " mixes examples (or carries them "
                    + "on another axis than the first); its kernel cannot be computed tile by tile");
        }
        if (!in.axes().examplesPaired()) {
            throw new IllegalArgumentException("prepare: tiles need both example axes in the kernel, but axis 0 is "
                    + (in.axes().isTraced(0) ? "traced" : "diagonal"));
        }
        return prepareChecked(x, false, blocks);
    }

    /**
     * {@link #prepare} for a tile whose blocks are the given shapes rather than its block with itself (a tile of x1
     * or x2 of a tiled run with x2 given, which computes no block of a tile with itself): structured derivatives'
     * tile holds its pass only where every one of those blocks runs whole, as a tile of x1 with itself holds it
     * only where its own block does. Before 2026-12-07 such a tile decided by its block with itself, which the run
     * never computes: where that block fitted no output chunk, the tile held its pass, and its blocks, priced by the
     * planner in chunks, ran whole above the per-block budget.
     *
     * @param x the tile's examples [n, ...]; not copied, and must stay open while the tile is in use
     * @param blocks the blocks it takes part in, each {n1, n2} (n2 &gt; 0)
     * @return the prepared tile, which the caller closes
     */
    PreparedTile prepareFor(Tensor x, int[][] blocks) {
        return prepareValidated(x, blocks);
    }

    /**
     * {@link #prepare} for inputs already validated; {@code keepPass}: structured derivatives' tile holds its pass
     * even where its block with itself would run in output chunks (the one block of an untiled kernel, which runs
     * whole).
     */
    private PreparedTile prepareChecked(Tensor x, boolean keepPass, int[][] blocks) {
        // the tile's own lease, from before it takes a plan until it is closed: the plans its pass reads stay open
        CachedTensors.Lease lease = CachedTensors.lease();
        try {
            return prepareLeased(x, lease, keepPass, blocks);
        } catch (RuntimeException | Error e) {
            lease.close();
            throw e;
        }
    }

    /**
     * A tile of x's examples alone, without a pass: for blocks that run the exact batch path
     * ({@link #blockRunsExact}), which read none.
     */
    PreparedTile examplesOnly(Tensor x) {
        return new PreparedTile(this, x, null, null, CachedTensors.lease());
    }

    /** {@link #examplesOnly} of examples not validated yet (a tiled run's slices): refused as by {@link #prepare}. */
    PreparedTile examplesOnlyChecked(Tensor x) {
        inputs(x, null, true);
        return examplesOnly(x);
    }

    /**
     * Whether the block of a tile of n1 examples with one of n2 (n2 = 0: the tile with itself) runs the exact batch
     * path ({@link KernelStrategy#exactBlock}), reading no pass of either tile: Jacobian contraction's or structured
     * derivatives' block one of whose tiles' own trace does not carry the examples first (a tile of one example of
     * a model that moves them off axis 0 at N = 1), which holds no pass.
     */
    boolean blockRunsExact(int n1, int n2, int[] perExample, DType dtype) {
        if (sketch != null || method == Method.NTK_VECTOR_PRODUCTS) {
            return false;
        }
        return !side(n1, perExample, dtype).perExampleShortcut
                || (n2 > 0 && !side(n2, perExample, dtype).perExampleShortcut);
    }

    private PreparedTile prepareLeased(Tensor x, CachedTensors.Lease lease, boolean keepPass, int[][] blocks) {
        if (sketch == null) {
            // a tile whose block with itself (or, given its blocks, one of them) runs in output chunks holds no pass:
            // each block runs its chunks' passes, and a block that runs whole makes the pass it lacks
            int[] perExample = Shapes.dropFirst(x.shape());
            boolean chunked = false;
            if (!keepPass && blocks == null) {
                chunked = outputChunk(x.dim(0), 0, perExample, x.dtype()) > 0;
            } else if (!keepPass) {
                for (int[] b : blocks) {
                    chunked |= outputChunk(b[0], b[1], perExample, x.dtype()) > 0;
                }
            }
            if (chunked) {
                return new PreparedTile(this, x, null, null, lease);
            }
            // structured derivatives prepares the pass the plan of its blocks reads (the whole problem's)
            return new PreparedTile(this, x, strategy(method).prepare(inputs(x, null, false)), null, lease);
        }
        return new PreparedTile(this, x, null,
                new ProjectedSketch(model, params(), sketch).prepare(x), lease);
    }

    /**
     * The block of the kernel between two prepared tiles, in the kernel's layout [n_rows, n_columns, ...];
     * {@code rows == columns} is the diagonal block of x1 with itself, which is mirrored to be exactly symmetric
     * (as the whole kernel of x1 with itself is). Both tiles must come from this instance's {@link #prepare}.
     * Thread-safe: blocks may be computed concurrently.
     *
     * @param rows the tile of x1 whose examples index the block's rows
     * @param columns the tile of x2 (or the same tile object, for a diagonal block of x1 with itself)
     * @return the block, which the caller closes
     * @throws IllegalArgumentException if either tile was prepared by another instance, or the block holds NaN or
     *     ±∞ (the network's outputs or their derivatives overflow the dtype at these inputs)
     * @throws IllegalStateException if either tile was closed
     */
    public Tensor kernel(PreparedTile rows, PreparedTile columns) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            if (rows.owner() != this || columns.owner() != this) {
                throw new IllegalArgumentException("kernel: prepared tiles must come from this instance's prepare()");
            }
            if (rows.isClosed() || columns.isClosed()) {
                throw new IllegalStateException("kernel: the prepared tile of the "
                        + (rows.isClosed() ? "rows" : "columns") + " was closed");
            }
            try (TensorScope scope = TensorScope.open()) {
                return scope.keep(KernelSupport.requireFiniteResult(block(rows, columns)));
            }
        }
    }

    /** {@link #kernel(PreparedTile, PreparedTile)} inside its scope. */
    private Tensor block(PreparedTile rows, PreparedTile columns) {
        boolean same = rows == columns;
        KernelInputs in = inputs(rows.x(), same ? null : columns.x(), false);
        Tensor k;
        if (sketch != null) {
            k = ProjectedSketch.block(rows.sketched(), columns.sketched());
        } else if (method == Method.STRUCTURED_DERIVATIVES && (rows.pass() == null || columns.pass() == null)) {
            k = chunkedBlock(in, rows, columns);
        } else {
            k = strategy(method).block(in, rows.pass(), columns.pass());
        }
        if (same) {
            KernelReduction.mirrorUpper(k, in.axes().mirrorPermutation());
        }
        return k;
    }

    /**
     * Structured derivatives' output chunk for a block of n1 × n2 examples (n2 = 0: a tile with itself) within
     * this instance's memory budget, as the untiled kernel chooses it ({@link CostModel#estimate(Method, long)});
     * 0 when the block runs whole (or another method runs).
     */
    private int outputChunk(int n1, int n2, int[] perExample, DType dtype) {
        if (method != Method.STRUCTURED_DERIVATIVES || sketch != null || memoryBudget == Long.MAX_VALUE) {
            return 0;
        }
        return costModel(n1, n2, perExample, dtype).estimate(method, memoryBudget).outputChunk();
    }

    /**
     * A block of structured derivatives between tiles of which at least one holds no pass (its block with itself
     * runs in output chunks): in the output chunks this block's shapes need within the budget, or, where the block
     * fits whole (a row of tiles against a narrower last column), whole, the missing passes run for it.
     */
    private Tensor chunkedBlock(KernelInputs in, PreparedTile rows, PreparedTile columns) {
        boolean same = rows == columns;
        int k = outputChunk(rows.x().dim(0), same ? 0 : columns.x().dim(0), in.perExample, in.dtype);
        if (k > 0) {
            return OutputChunks.kernel(model, params(), traceAxes, diagonalAxes, in, k, tileBytes, problem);
        }
        KernelStrategy sd = strategy(method);
        if (blockRunsExact(rows.x().dim(0), same ? 0 : columns.x().dim(0), in.perExample, in.dtype)) {
            return sd.exactBlock(in); // as sd.block does without a pass of either side: no pass is made for it
        }
        // each pass as a prepared tile's (without the cotangents the plan does not read), which the cost model counts
        try (PerExamplePass madeRows = rows.pass() == null ? sd.prepare(inputs(rows.x(), null, false)) : null;
             PerExamplePass madeColumns = same || columns.pass() != null ? null
                     : sd.prepare(inputs(columns.x(), null, false))) {
            PerExamplePass a = madeRows != null ? madeRows : rows.pass();
            PerExamplePass b = same ? a : madeColumns != null ? madeColumns : columns.pass();
            return sd.block(in, a, b);
        }
    }

    /**
     * The kernel of the given kind (see {@link KernelKind} for each formula), each computed at its own cost:
     * the N×N kinds never form the full kernel. This instance's trace and diagonal axes are replaced by the
     * kind's; its method (or AUTO) and memory budget apply.
     *
     * @param kind which kernel
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return for outputs [N, O]: [N1, N2, O, O] for full, [N1, N2, O] for diagonal, [N1, N2] for the others
     *     (for outputs of more axes, full, trace and diagonal keep the others as {@link #ntk} does: [N1, N2, 4,
     *     4, 3, 3] for full on outputs [N, 4, 3]); the caller closes it
     * @throws IllegalArgumentException if kind is null, the inputs are refused as by {@link #ntk}, a kind other
     *     than full, trace and diagonal meets a model whose outputs are not [N, O], or projected:K (its Jacobian
     *     rows sketched over the largest example chunks that fit the memory budget) fits it in no chunk
     */
    public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            requireArgument("kind", kind);
            try (TensorScope scope = TensorScope.open()) {
                return scope.keep(kernelInScope(kind, x1, x2));
            }
        }
    }

    private Tensor kernelInScope(KernelKind kind, Tensor x1, Tensor x2) {
        KernelInputs in = inputs(x1, x2, kind.sketched());
        if (!kind.sketched()) {
            return forKind(kind, in.perExample).ntk(x1, x2); // the kind's plain kernel (validated there)
        }
        int o = kind.logits(model, in.perExample);
        // sketches over the largest example chunks that fit the memory budget (refused when none does)
        int chunk = ProjectedSketch.plan(this, kind, in.x1.dim(0), in.same ? 0 : in.x2.dim(0), in.perExample,
                in.dtype).chunk();
        return KernelSupport.requireFiniteResult(new ProjectedSketch(model, params(), kind).kernel(in, o, chunk));
    }

    /**
     * The plain kernel computation that produces {@code kind}: this instance with the kind's axes, or, for the
     * sum-of-logits, one-logit and probe kinds, the kernel (trace over the new logits) of the model followed by
     * the kind's fixed projection. For projected:K, whose sketch runs on Jacobian rows, this instance with the
     * trace axis (its cost model then describes the exact trace kernel by Jacobian contraction).
     *
     * @param kind which kernel
     * @param perExample shape of one example, without the batch axis
     * @return a new instance computing the kind's plain kernel
     * @throws IllegalArgumentException if a sum-of-logits, one-logit or probe kind meets a model whose outputs
     *     are not [N, O]
     */
    public EmpiricalNtk forKind(KernelKind kind, int[] perExample) {
        return kind.plainKernel(this, perExample);
    }

    /** This configuration for another model (a projection kind's f followed by its projection), traced over -1. */
    EmpiricalNtk withModel(Model other) {
        return new EmpiricalNtk(other, params, new int[] {-1}, new int[0], method, memoryBudget, budgetGiven,
                tileBytes);
    }

    /**
     * The cost of {@link #nngp} for these shapes ({@link CostModel#nngp}): forward passes and one contraction of the
     * outputs, whatever the configured method (the NNGP runs none of the NTK's). The memory budget binds it, given
     * or the default: it has no smaller steps, so a peak above the budget is refused, naming it as the least.
     *
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return the estimate
     * @throws IllegalArgumentException if the shapes are refused as by {@link #costModel}, or the NNGP's peak
     *     exceeds the memory budget
     */
    public CostModel.Estimate nngpEstimate(int n1, int n2, int[] perExample, DType dtype) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            CostModel.Estimate e = costModel(n1, n2, perExample, dtype).nngp();
            if (e.peakBytes() > memoryBudget) {
                throw new IllegalArgumentException("memory budget: the NNGP of " + n1 + " × " + (n2 == 0 ? n1 : n2)
                        + " examples needs at least " + CostModel.humanAtLeast(e.peakBytes()) + " for these shapes "
                        + "(forward passes and one contraction, no smaller steps), above the budget of "
                        + CostModel.human(memoryBudget) + ": raise --memory to at least "
                        + CostModel.humanAtLeast(e.peakBytes()));
            }
            return e;
        }
    }

    /**
     * The empirical NNGP f(x1)·f(x2)ᵀ with the same axis semantics.
     *
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return the kernel in the layout of {@link #ntk}, which the caller closes
     * @throws IllegalArgumentException if the inputs are refused as by {@link #ntk}, the NNGP's peak exceeds the
     *     memory budget ({@link #nngpEstimate}), or the result holds NaN or ±∞ (a {@link NonFiniteKernelException}:
     *     the network's outputs, or their products, overflow the dtype)
     */
    public Tensor nngp(Tensor x1, Tensor x2) {
        KernelInputs in = inputs(x1, x2, true);
        nngpEstimate(in.x1.dim(0), in.same ? 0 : in.x2.dim(0), in.perExample, in.dtype);
        Params p = params();
        try (CachedTensors.Lease lease = CachedTensors.lease(); TensorScope scope = TensorScope.open();
             Sides<Tensor> f = Sides.of(in.same, () -> model.apply(p, in.x1), () -> model.apply(p, in.x2),
                     Tensor::close)) {
            return scope.keep(KernelSupport.requireFiniteResult("nngp",
                    JacobianContraction.contract(List.of(f.first()), List.of(f.second()), in, false)));
        }
    }

    /**
     * Θ(x1, x2)·v without forming Θ: v has the shape of f(x2), the result that of f(x1), and the product runs
     * over all axes of f(x2) (no tracing): (Θ v)[a] = Σ_b Θ[a, b] v[b] = J1 (J2ᵀ v), one VJP then one JVP.
     *
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @param v a vector shaped like f(x2), of x1's dtype; not closed
     * @return Θ v, shaped like f(x1), which the caller closes
     * @throws IllegalArgumentException if v is null, its shape or dtype differs from f(x2)'s, v holds NaN or ±∞,
     *     the inputs are refused as by {@link #ntk}, or the product holds NaN or ±∞ (a
     *     {@link NonFiniteKernelException}: the network's outputs or their derivatives overflow the dtype)
     */
    public Tensor ntkVectorProduct(Tensor x1, Tensor x2, Tensor v) {
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            KernelInputs in = inputs(x1, x2, true);
            requireArgument("v", v);
            int[] f2 = Shapes.prepend(in.x2.dim(0), model.outputShape(in.perExample));
            if (!java.util.Arrays.equals(v.shape(), f2) || v.dtype() != in.dtype) {
                throw new IllegalArgumentException("ntk_vector_product: v must be " + new TensorType(in.dtype, f2)
                        + " (the shape of f(x2)), got " + TensorType.of(v));
            }
            KernelSupport.checkFinite("v", v);
            try (TensorScope scope = TensorScope.open()) {
                return scope.keep(KernelSupport.requireFiniteResult("ntk_vector_product",
                        new VectorProducts(model, params(), tileBytes, problem, Long.MAX_VALUE).product(in, v)));
            }
        }
    }
}
