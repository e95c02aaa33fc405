package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
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
 */
public final class EmpiricalNtk {
    private final Model model;
    private final Params params;
    private final int[] traceAxes;
    private final int[] diagonalAxes;
    private final Method method;
    private final long memoryBudget;
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
                         long memoryBudget, long tileBytes) {
        this(model, params, traceAxes, diagonalAxes, method, memoryBudget, tileBytes, null, null);
    }

    private EmpiricalNtk(Model model, Params params, int[] traceAxes, int[] diagonalAxes, Method method,
                         long memoryBudget, long tileBytes, long[] problem, KernelKind sketch) {
        this.model = model;
        this.params = params;
        this.traceAxes = traceAxes.clone();
        this.diagonalAxes = diagonalAxes.clone();
        this.method = method;
        this.memoryBudget = memoryBudget;
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
        return (long) (0.8 * org.bytedeco.javacpp.Pointer.maxBytes());
    }

    /**
     * The kernel of {@code model} at {@code params}, trace over the last axis, method AUTO, the
     * {@link #defaultMemoryBudget()}. Nothing is checked until a kernel is computed.
     *
     * @param model the network f
     * @param params its parameters; held, not copied, and read by every kernel computed (the caller keeps
     *     them open)
     * @return the configured kernel
     */
    public static EmpiricalNtk of(Model model, Params params) {
        return new EmpiricalNtk(model, params, new int[] {-1}, new int[0], Method.AUTO, defaultMemoryBudget(),
                Tiles.MAX_TENSOR_BYTES);
    }

    /**
     * Axes of f(x) to trace (average) over; none gives the full kernel. Negative axes count from the end.
     * The axes are checked against the output's rank when a kernel is computed.
     *
     * @param axes axes of f(x) including the batch axis 0 (copied)
     * @return a new instance with these trace axes
     */
    public EmpiricalNtk traceAxes(int... axes) {
        return new EmpiricalNtk(model, params, axes, diagonalAxes, method, memoryBudget, tileBytes);
    }

    /**
     * Axes of f(x) whose diagonal alone is kept (e.g. 0: only Θ(x1_n, x2_n)), each once in the output.
     *
     * @param axes axes of f(x) including the batch axis 0, negative counting from the end (copied)
     * @return a new instance with these diagonal axes
     */
    public EmpiricalNtk diagonalAxes(int... axes) {
        return new EmpiricalNtk(model, params, traceAxes, axes, method, memoryBudget, tileBytes);
    }

    /**
     * The algorithm.
     *
     * @param m the method, or {@link Method#AUTO} to choose per problem within the memory budget
     * @return a new instance with this method
     */
    public EmpiricalNtk method(Method m) {
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, m, memoryBudget, tileBytes);
    }

    /**
     * The memory budget AUTO chooses within.
     *
     * @param bytes the budget in bytes
     * @return a new instance with this budget
     * @throws IllegalArgumentException if {@code bytes} &lt; 1
     */
    public EmpiricalNtk memoryBudget(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("memory budget: must be positive, got " + bytes);
        }
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, method, bytes, tileBytes);
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
        return new EmpiricalNtk(model, params, traceAxes, diagonalAxes, method, memoryBudget, bytes);
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
     * The memory budget AUTO chooses within.
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
        return CostModel.cached(model, perExample, dtype, n1, n2, traceAxes, diagonalAxes, tileBytes);
    }

    /**
     * The method {@link #ntk} runs for these shapes: the configured one, or AUTO's choice.
     *
     * @param n1 number of examples of x1, at least 1
     * @param n2 number of examples of x2, or 0 for x2 = x1
     * @param perExample shape of one example, without the batch axis
     * @param dtype element type
     * @return an exact method, never AUTO
     * @throws IllegalArgumentException if the method is AUTO and no method fits the memory budget, or the shapes
     *     are refused as by {@link #costModel}
     */
    public Method resolveMethod(int n1, int n2, int[] perExample, DType dtype) {
        if (method != Method.AUTO) {
            return method;
        }
        return costModel(n1, n2, perExample, dtype).choose(memoryBudget).method();
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
     *     outputs, or AUTO finds no method within the memory budget
     */
    public Tensor ntk(Tensor x1, Tensor x2) {
        // the call's intermediates live in a scope: freed at its end, also when it throws half way
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(ntkInScope(x1, x2));
        }
    }

    private Tensor ntkInScope(Tensor x1, Tensor x2) {
        Inputs in = new Inputs(x1, x2);
        int n2 = in.same ? 0 : in.x2.dim(0);
        Method m = resolveMethod(in.x1.dim(0), n2, in.perExample, in.dtype);
        if (in.axes().examplesPaired() && tileable(in.perExample, in.dtype)) {
            // one tile: exactly the computation every tile of a tiled run performs
            EmpiricalNtk e = new EmpiricalNtk(model, params, traceAxes, diagonalAxes, m, memoryBudget, tileBytes,
                    problem != null ? problem : problemOf(in.x1.dim(0), n2), sketch);
            try (PreparedTile a = e.prepareChecked(in.x1); PreparedTile b = in.same ? null : e.prepareChecked(in.x2)) {
                return e.kernel(a, in.same ? a : b);
            }
        }
        switch (m) {
            case NTK_VECTOR_PRODUCTS:
                return vectorProductsKernel(in);
            case STRUCTURED_DERIVATIVES:
                return structuredDerivatives(in);
            case JACOBIAN_CONTRACTION:
            default:
                return jacobianContraction(in);
        }
    }

    private static long[] problemOf(int n1, int n2) {
        return new long[] {n1, n2 == 0 ? n1 : n2, n2 == 0 ? 1 : 0};
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
        if (!model.independentExamples()) {
            return false;
        }
        int nParams = model.paramSpecs(perExample).size();
        return side(2, perExample, dtype).pc.exampleAxisFirst;
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
        long[] whole = problemOf(n1, n2);
        if (kind.family() == KernelKind.Family.PROJECTED) {
            logits(perExample, kind);
            return new EmpiricalNtk(model, params, new int[] {-1}, new int[0], Method.JACOBIAN_CONTRACTION,
                    memoryBudget, tileBytes, whole, kind);
        }
        EmpiricalNtk e = forKind(kind, perExample);
        Method m = e.resolveMethod(n1, n2, perExample, dtype);
        return new EmpiricalNtk(e.model, e.params, e.traceAxes, e.diagonalAxes, m, e.memoryBudget, e.tileBytes,
                whole, null);
    }

    /**
     * The work of one tile of examples that every block of its row (or column) of the kernel shares,
     * computed once by {@link #prepare}: for Jacobian contraction and structured derivatives the forward pass
     * and the backward pass with O stacked cotangents (the N·O·[FP] part of their cost, read at every
     * parameter consumer); for projected:K the tile's sketched Jacobian [n, O, K]; for NTK-vector products,
     * whose work is all per block, only the examples. Holds native memory until closed; the examples tensor
     * is not copied and must stay open while the tile is in use.
     */
    public static final class PreparedTile implements AutoCloseable {
        private final EmpiricalNtk owner;
        private final Tensor x;
        private final PerExamplePass pass;
        private final Tensor sketched;

        private PreparedTile(EmpiricalNtk owner, Tensor x, PerExamplePass pass, Tensor sketched) {
            this.owner = owner;
            this.x = x;
            this.pass = pass;
            this.sketched = sketched;
        }

        /**
         * Number of examples of the tile.
         *
         * @return the tile's n
         */
        public int examples() {
            return x.dim(0);
        }

        /**
         * Native bytes the prepared work holds (not counting the examples).
         *
         * @return bytes of the stored passes or sketch; 0 for NTK-vector products
         */
        public long bytes() {
            return (pass != null ? pass.bytes() : 0) + (sketched != null ? sketched.bytes() : 0);
        }

        @Override
        public void close() {
            if (pass != null) {
                pass.close();
            }
            if (sketched != null) {
                sketched.close();
            }
        }
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
        if (method == Method.AUTO) {
            throw new IllegalArgumentException("prepare: the method must be resolved first (use forTiles)");
        }
        Inputs in = new Inputs(x, null);
        if (!tileable(in.perExample, in.dtype)) {
            throw new IllegalArgumentException("prepare: model " + model.spec() + " mixes examples (or carries them "
                    + "on another axis than the first); its kernel cannot be computed tile by tile");
        }
        if (!in.axes().examplesPaired()) {
            throw new IllegalArgumentException("prepare: tiles need both example axes in the kernel, but axis 0 is "
                    + (in.axes().isTraced(0) ? "traced" : "diagonal"));
        }
        return prepareChecked(x);
    }

    /** {@link #prepare} for inputs already validated. */
    private PreparedTile prepareChecked(Tensor x) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        if (sketch == null && method == Method.NTK_VECTOR_PRODUCTS) {
            return new PreparedTile(this, x, null, null);
        }
        PerExamplePass pass = new PerExamplePass(side(x.dim(0), perExample, x.dtype()), paramArgs(specs), x);
        if (sketch == null) {
            return new PreparedTile(this, x, pass, null);
        }
        try (PerExamplePass p = pass) {
            Tensor s = Tensor.zeros(x.dtype(), x.dim(0), p.o, sketch.argument());
            for (int i = 0; i < specs.size(); i++) {
                try (Tensor j = p.jacobians(List.of(i))[0]) {
                    CountSketch.accumulate(j, s, sketch.seed(), i);
                }
            }
            return new PreparedTile(this, x, null, s);
        }
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
     * @throws IllegalArgumentException if either tile was prepared by another instance
     */
    public Tensor kernel(PreparedTile rows, PreparedTile columns) {
        if (rows.owner != this || columns.owner != this) {
            throw new IllegalArgumentException("kernel: prepared tiles must come from this instance's prepare()");
        }
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(block(rows, columns));
        }
    }

    /** {@link #kernel(PreparedTile, PreparedTile)} inside its scope. */
    private Tensor block(PreparedTile rows, PreparedTile columns) {
        boolean same = rows == columns;
        Inputs in = new Inputs(rows.x, same ? null : columns.x, false);
        Tensor k;
        if (sketch != null) {
            k = DotGeneralKernel.dot(rows.sketched, columns.sketched, new int[] {1, 2}, new int[] {1, 2}, new int[0],
                    new int[0]);
            KernelReduction.scale(k, 1.0 / rows.sketched.dim(1));
        } else {
            switch (method) {
                case NTK_VECTOR_PRODUCTS:
                    k = vectorProductsKernel(in);
                    break;
                case STRUCTURED_DERIVATIVES:
                    k = structuredBlock(in, rows.pass, columns.pass);
                    break;
                default:
                    k = jacobianBlock(in, rows.pass, columns.pass);
            }
        }
        if (same) {
            KernelReduction.mirrorUpper(k, in.axes().mirrorPermutation());
        }
        return k;
    }

    /**
     * The kernel of the given kind (see {@link KernelKind} for each formula), each computed at its own cost:
     * the N×N kinds never form the full kernel. This instance's trace and diagonal axes are replaced by the
     * kind's; its method (or AUTO) and memory budget apply.
     *
     * @param kind which kernel
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return [N1, N2, O, O] for full, [N1, N2, O] for diagonal, [N1, N2] for the others; the caller closes it
     * @throws IllegalArgumentException if the inputs are refused as by {@link #ntk}, or a kind other than
     *     full, trace and diagonal meets a model whose outputs are not [N, O]
     */
    public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2) {
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(kernelInScope(kind, x1, x2));
        }
    }

    private Tensor kernelInScope(KernelKind kind, Tensor x1, Tensor x2) {
        switch (kind.family()) {
            case FULL:
                return traceAxes().diagonalAxes().ntk(x1, x2);
            case TRACE:
                return traceAxes(-1).diagonalAxes().ntk(x1, x2);
            case DIAGONAL:
                return traceAxes().diagonalAxes(-1).ntk(x1, x2);
            case PROJECTED: {
                Inputs in = new Inputs(x1, x2);
                if (!tileable(in.perExample, in.dtype)) {
                    return projected(kind, in);
                }
                EmpiricalNtk e = forTiles(kind, in.x1.dim(0), in.same ? 0 : in.x2.dim(0), in.perExample, in.dtype);
                try (PreparedTile a = e.prepareChecked(in.x1);
                     PreparedTile b = in.same ? null : e.prepareChecked(in.x2)) {
                    return e.kernel(a, in.same ? a : b);
                }
            }
            default: {
                Inputs in = new Inputs(x1, x2);
                Model wrapped = kind.wrap(model, logits(in, kind));
                return new EmpiricalNtk(wrapped, params, new int[] {-1}, new int[0], method, memoryBudget, tileBytes)
                        .ntk(x1, x2);
            }
        }
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
        switch (kind.family()) {
            case FULL:
                return traceAxes().diagonalAxes();
            case DIAGONAL:
                return traceAxes().diagonalAxes(-1);
            case TRACE:
            case PROJECTED:
                return traceAxes(-1).diagonalAxes();
            default: {
                int[] out = model.outputShape(perExample);
                if (out.length != 1) {
                    throw new IllegalArgumentException("kind " + kind + ": needs outputs [N, O], the model gives "
                            + "[N] + " + Shapes.str(out));
                }
                return new EmpiricalNtk(kind.wrap(model, out[0]), params, new int[] {-1}, new int[0], method,
                        memoryBudget, tileBytes);
            }
        }
    }

    private int logits(Inputs in, KernelKind kind) {
        return logits(in.perExample, kind);
    }

    private int logits(int[] perExample, KernelKind kind) {
        int[] out = model.outputShape(perExample);
        if (out.length != 1) {
            throw new IllegalArgumentException("kind " + kind + ": needs outputs [N, O], the model gives [N] + "
                    + Shapes.str(out));
        }
        return out[0];
    }

    /**
     * projected:K: per-parameter Jacobians (one parameter at a time when examples are independent), each
     * sketched by a seeded CountSketch (column i of parameter p goes to bucket h(p, i) with sign s(p, i)), then
     * (1/O) Σ_o S1[n1, o]·S2[n2, o].
     */
    private Tensor projected(KernelKind kind, Inputs in) {
        int o = logits(in, kind);
        int k = kind.argument();
        int n1 = in.x1.dim(0);
        int n2 = in.x2.dim(0);
        Tensor s1 = Tensor.zeros(in.dtype, n1, o, k);
        Tensor s2 = in.same ? s1 : Tensor.zeros(in.dtype, n2, o, k);
        SidePlan side1 = side(n1, in.perExample, in.dtype);
        try {
            if (side1.perExampleShortcut) {
                SidePlan side2 = side(n2, in.perExample, in.dtype);
                Tensor[] ps = paramArgs(in.specs);
                try (PerExamplePass pass1 = new PerExamplePass(side1, ps, in.x1);
                     PerExamplePass pass2 = in.same ? null : new PerExamplePass(side2, ps, in.x2)) {
                    for (int p = 0; p < in.specs.size(); p++) {
                        try (Tensor j = pass1.jacobians(List.of(p))[0]) {
                            CountSketch.accumulate(j, s1, kind.seed(), p);
                        }
                        if (!in.same) {
                            try (Tensor j = pass2.jacobians(List.of(p))[0]) {
                                CountSketch.accumulate(j, s2, kind.seed(), p);
                            }
                        }
                    }
                }
            } else {
                Tensor[] j1 = batchJacobians(side1, in.x1, in.specs);
                for (int p = 0; p < j1.length; p++) {
                    CountSketch.accumulate(j1[p], s1, kind.seed(), p);
                }
                closeAll(j1);
                if (!in.same) {
                    Tensor[] j2 = batchJacobians(side(n2, in.perExample, in.dtype), in.x2, in.specs);
                    for (int p = 0; p < j2.length; p++) {
                        CountSketch.accumulate(j2[p], s2, kind.seed(), p);
                    }
                    closeAll(j2);
                }
            }
            Tensor kern = DotGeneralKernel.dot(s1, s2, new int[] {1, 2}, new int[] {1, 2}, new int[0], new int[0]);
            KernelReduction.scale(kern, 1.0 / o);
            return kern;
        } finally {
            s1.close();
            if (!in.same) {
                s2.close();
            }
        }
    }

    /**
     * The empirical NNGP f(x1)·f(x2)ᵀ with the same axis semantics.
     *
     * @param x1 inputs [N1, ...]; not closed
     * @param x2 inputs [N2, ...] like x1's, or null for x1
     * @return the kernel in the layout of {@link #ntk}, which the caller closes
     * @throws IllegalArgumentException if the inputs are refused as by {@link #ntk}
     */
    public Tensor nngp(Tensor x1, Tensor x2) {
        Inputs in = new Inputs(x1, x2);
        try (Tensor f1 = model.apply(params, in.x1); Tensor f2 = in.same ? null : model.apply(params, in.x2)) {
            Tensor g2 = in.same ? f1 : f2;
            return contract(List.of(f1), List.of(g2), in, false);
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
     * @throws IllegalArgumentException if v's shape or dtype differs from f(x2)'s, v holds NaN or ±∞, or the
     *     inputs are refused as by {@link #ntk}
     */
    public Tensor ntkVectorProduct(Tensor x1, Tensor x2, Tensor v) {
        Inputs in = new Inputs(x1, x2);
        int[] f2 = Shapes.prepend(in.x2.dim(0), model.outputShape(in.perExample));
        if (!java.util.Arrays.equals(v.shape(), f2) || v.dtype() != in.dtype) {
            throw new IllegalArgumentException("ntk_vector_product: v must be " + new TensorType(in.dtype, f2)
                    + " (the shape of f(x2)), got " + TensorType.of(v));
        }
        checkFinite("v", v);
        try (Tensor v1 = v.reshape(Shapes.prepend(1, f2))) {
            Tensor[] g = vjpRows(in.x2, v1);
            try {
                Tensor[] out = jvpWithTangents(in.x1, g);
                Tensor r = out[0].reshape(Shapes.dropFirst(out[0].shape()));
                out[0].close();
                return r;
            } finally {
                closeAll(g);
            }
        }
    }

    // ------------------------------------------------------------------ inputs

    /** Validated inputs and the parameters in the graph's input order. */
    private final class Inputs {
        final Tensor x1;
        final Tensor x2;
        final boolean same;
        final int[] perExample;
        final DType dtype;
        final List<ParamSpec> specs;

        Inputs(Tensor x1, Tensor x2) {
            this(x1, x2, true);
        }

        /** check = false: inputs already validated (the tiles of a prepared kernel). */
        Inputs(Tensor x1, Tensor x2, boolean check) {
            if (x1 == null) {
                throw new IllegalArgumentException("x1: must not be null");
            }
            if (x1.rank() < 1) {
                throw new IllegalArgumentException("x1: expected a batch [n, ...], got a scalar");
            }
            this.x1 = x1;
            this.same = x2 == null;
            this.x2 = same ? x1 : x2;
            this.perExample = Shapes.dropFirst(x1.shape());
            this.dtype = x1.dtype();
            if (!same && (!java.util.Arrays.equals(Shapes.dropFirst(x2.shape()), perExample)
                    || x2.dtype() != dtype)) {
                throw new IllegalArgumentException("x2: examples must be " + new TensorType(dtype, perExample)
                        + " like those of x1, got a batch " + TensorType.of(x2));
            }
            this.specs = model.paramSpecs(perExample);
            if (check) {
                params.validate(specs, dtype);
                checkFinite("x1", x1);
                if (!same) {
                    checkFinite("x2", x2);
                }
            }
        }

        KernelAxes axes() {
            return new KernelAxes(model.outputShape(perExample).length + 1, traceAxes, diagonalAxes);
        }

        int[] f1() {
            return Shapes.prepend(x1.dim(0), model.outputShape(perExample));
        }

        int[] f2() {
            return Shapes.prepend(x2.dim(0), model.outputShape(perExample));
        }
    }

    private static void checkFinite(String name, Tensor t) {
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(name + ": contains a non-finite value (" + t.getFlat(bad)
                    + ") at flat index " + bad);
        }
    }

    private Tensor[] paramArgs(List<ParamSpec> specs) {
        Tensor[] r = new Tensor[specs.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = params.get(specs.get(i).path());
        }
        return r;
    }

    private static Tensor[] with(Tensor[] a, Tensor... more) {
        Tensor[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    // ------------------------------------------------------------------ Jacobian contraction

    /**
     * Jacobian contraction. With examples independent, parameter by parameter: the per-example Jacobian of
     * one parameter is formed for x1 (and x2), contracted into the kernel, and released before the next, so
     * that memory holds one parameter's Jacobians at a time (as XLA's layer-by-layer contraction does).
     */
    private Tensor jacobianContraction(Inputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!side1.perExampleShortcut) {
            Tensor[] j1 = batchJacobians(side1, in.x1, in.specs);
            Tensor[] j2 = in.same ? j1
                    : batchJacobians(side(in.x2.dim(0), in.perExample, in.dtype), in.x2, in.specs);
            try {
                return contract(java.util.Arrays.asList(j1), java.util.Arrays.asList(j2), in, true);
            } finally {
                closeAll(j1);
                if (!in.same) {
                    closeAll(j2);
                }
            }
        }
        Tensor[] ps = paramArgs(in.specs);
        try (PerExamplePass pass1 = new PerExamplePass(side1, ps, in.x1);
             PerExamplePass pass2 = in.same ? null
                     : new PerExamplePass(side(in.x2.dim(0), in.perExample, in.dtype), ps, in.x2)) {
            return jacobianBlock(in, pass1, in.same ? pass1 : pass2);
        }
    }

    /** Jacobian contraction from the per-example passes of x1 and x2 (the same pass when x2 = x1). */
    private Tensor jacobianBlock(Inputs in, PerExamplePass pass1, PerExamplePass pass2) {
        ParameterConsumers pc1 = pass1.pc;
        ParameterConsumers pc2 = pass2.pc;
        Tensor acc = null;
        int o = pass1.o;
        for (int p = 0; p < in.specs.size(); p++) {
            PerExamplePass.Dense d1 = PerExamplePass.denseForm(pc1, p);
            PerExamplePass.Dense d2 = in.same ? d1 : PerExamplePass.denseForm(pc2, p);
            if (d1 != null && d2 != null) {
                try (Tensor k = denseParameterKernel(in, pass1, in.same ? pass1 : pass2, d1, d2)) {
                    if (acc == null) {
                        acc = k.copy();
                    } else {
                        addInto(acc, k);
                    }
                }
                continue;
            }
            int[] t1 = Tiles.split(pass1.n, PerExamplePass.bytesPerExample(pc1, o, p, in.dtype), tileBytes);
            int[] t2 = in.same ? t1 : Tiles.split(pass2.n, PerExamplePass.bytesPerExample(pc2, o, p, in.dtype),
                    tileBytes);
            if (Tiles.count(t1) > 1 || Tiles.count(t2) > 1) {
                try (Tensor k = tiledParameterKernel(in, pass1, in.same ? pass1 : pass2, p, t1, t2)) {
                    if (acc == null) {
                        acc = k.copy();
                    } else {
                        addInto(acc, k);
                    }
                }
                continue;
            }
            Tensor j1 = pass1.jacobians(List.of(p))[0];
            Tensor j2 = in.same ? j1 : pass2.jacobians(List.of(p))[0];
            try (Tensor k = contract(List.of(j1), List.of(j2), in, true)) {
                if (acc == null) {
                    acc = k.copy();
                } else {
                    addInto(acc, k);
                }
            } finally {
                j1.close();
                if (!in.same) {
                    j2.close();
                }
            }
        }
        return acc != null ? acc : contract(List.of(), List.of(), in, true);
    }

    /**
     * One parameter's kernel when the parameter feeds a dense layer as it is: its Jacobian written directly in
     * example-major layout, over chunks of its fan-in rows when the whole would pass the tile limit (every
     * example and output in each chunk, so each chunk is one GEMM over all N·O rows), the chunks' kernels summed.
     */
    private Tensor denseParameterKernel(Inputs in, PerExamplePass pass1, PerExamplePass pass2,
                                        PerExamplePass.Dense d1, PerExamplePass.Dense d2) {
        // the chunks follow the whole problem's size, so that every tile sums the same chunks
        long examples = problem != null ? Math.max(problem[0], problem[1]) : Math.max(pass1.n, pass2.n);
        long perRow = examples * pass1.o * d1.f * in.dtype.bytes();
        int[] chunks = Tiles.split(d1.c, perRow, tileBytes);
        // the Jacobians written directly: counted as the consumer's one-example row graph per example and side
        double rowFlops = org.ntk4j.graph.GraphCost.flops(pass1.side.rowGraph(d1.consumer));
        org.ntk4j.graph.FlopCount.add(pass1.n * rowFlops + (in.same ? 0
                : pass2.n * org.ntk4j.graph.GraphCost.flops(pass2.side.rowGraph(d2.consumer))));
        Tensor k = null;
        for (int i = 0; i < Tiles.count(chunks); i++) {
            try (Tensor j1 = pass1.denseJacobian(d1, chunks[i], chunks[i + 1]);
                 Tensor j2 = in.same ? null : pass2.denseJacobian(d2, chunks[i], chunks[i + 1])) {
                Tensor kc = contract(List.of(j1), List.of(in.same ? j1 : j2), in, true);
                if (k == null) {
                    k = kc;
                } else {
                    addInto(k, kc);
                    kc.close();
                }
            }
        }
        return k;
    }

    /**
     * One parameter's kernel when its per-example Jacobian would pass the tile limit: the Jacobian is formed over
     * tiles of examples (each tile a tensor of its own, together the same bytes as the whole), and each pair of
     * tiles is contracted into its block of the kernel. A traced or diagonal batch axis pairs tile i with tile i
     * only (traced blocks are summed, each divided by the full trace size).
     */
    private Tensor tiledParameterKernel(Inputs in, PerExamplePass pass1, PerExamplePass pass2, int p, int[] t1,
                                        int[] t2) {
        KernelAxes axes = in.axes();
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        boolean batchPaired = !axes.isTraced(0) && !axes.isDiagonal(0);
        int[] b2 = batchPaired ? t2 : t1; // a traced or diagonal batch axis has n1 = n2 (checked)
        Tensor[] j1 = new Tensor[Tiles.count(t1)];
        Tensor[] j2 = in.same && b2 == t1 ? j1 : new Tensor[Tiles.count(b2)];
        try {
            for (int i = 0; i < j1.length; i++) {
                j1[i] = pass1.jacobians(List.of(p), t1[i], t1[i + 1])[0];
            }
            if (j2 != j1) {
                for (int i = 0; i < j2.length; i++) {
                    j2[i] = pass2.jacobians(List.of(p), b2[i], b2[i + 1])[0];
                }
            }
            int[] outShape = axes.outputShape(f1, f2);
            int[] outStrides = Shapes.strides(outShape);
            Tensor k = Tensor.zeros(in.dtype, outShape);
            long divisor = axes.traceSize(f1);
            for (int i = 0; i < j1.length; i++) {
                for (int j = 0; j < j2.length; j++) {
                    if (!batchPaired && i != j) {
                        continue;
                    }
                    int[] f1t = f1.clone();
                    f1t[0] = Tiles.size(t1, i);
                    int[] f2t = f2.clone();
                    f2t[0] = Tiles.size(b2, j);
                    try (Tensor blk = contract(List.of(j1[i]), List.of(j2[j]), axes, f1t, f2t, in.dtype, true,
                            divisor)) {
                        if (axes.isTraced(0)) {
                            addInto(k, blk);
                        } else {
                            int off = t1[i] * outStrides[0] + (batchPaired ? b2[j] * outStrides[1] : 0);
                            Layout.stridedCopy(blk, 0, Shapes.strides(blk.shape()), k, off, outStrides, blk.shape());
                        }
                    }
                }
            }
            return k;
        } finally {
            closeAll(j1);
            if (j2 != j1) {
                closeAll(j2);
            }
        }
    }

    /**
     * Θ = Σ_p dot_general(J1_p, J2_p) contracting the traced axes (and, for Jacobians, the flattened
     * parameter axis last) and batching the diagonal axes, then permuted to the zip layout and divided by the
     * size of the traced axes.
     */
    private Tensor contract(List<Tensor> j1, List<Tensor> j2, Inputs in, boolean withParamAxis) {
        int[] f1 = in.f1();
        KernelAxes axes = in.axes();
        return contract(j1, j2, axes, f1, in.f2(), in.dtype, withParamAxis, axes.traceSize(f1));
    }

    /** {@link #contract(List, List, Inputs, boolean)} for outputs f1, f2 (tiles of the batch), dividing by divisor. */
    private static Tensor contract(List<Tensor> j1, List<Tensor> j2, KernelAxes axes, int[] f1, int[] f2,
                                   DType dtype, boolean withParamAxis, long divisor) {
        axes.checkShapes(f1, f2);
        int r = axes.rank();
        int[] contractAxes = withParamAxis ? Shapes.concat(axes.trace(), new int[] {r}) : axes.trace();
        Tensor sum = null;
        for (int p = 0; p < j1.size(); p++) {
            Tensor t = CountedDot.dot(j1.get(p), j2.get(p), contractAxes, contractAxes, axes.diagonal(),
                    axes.diagonal());
            if (sum == null) {
                sum = t;
            } else {
                for (int i = 0; i < sum.size(); i++) {
                    sum.setFlat(i, sum.getFlat(i) + t.getFlat(i));
                }
                t.close();
            }
        }
        if (sum == null) { // a model without parameters has a zero NTK
            return Tensor.zeros(dtype, axes.outputShape(f1, f2));
        }
        Tensor out = Layout.transpose(sum, axes.zipPermutation());
        sum.close();
        KernelReduction.scale(out, 1.0 / divisor);
        return out;
    }

    /** Per-parameter Jacobians J_p of shape f(x).shape + [size of p], by the cheapest exact route. */
    Tensor[] jacobians(Tensor x, List<ParamSpec> specs) {
        SidePlan side = side(x.dim(0), Shapes.dropFirst(x.shape()), x.dtype());
        if (side.perExampleShortcut) {
            List<Integer> all = new ArrayList<>();
            for (int p = 0; p < specs.size(); p++) {
                all.add(p);
            }
            try (PerExamplePass pass = new PerExamplePass(side, paramArgs(specs), x)) {
                return pass.jacobians(all);
            }
        }
        return batchJacobians(side, x, specs);
    }

    /**
     * No per-example shortcut: K = |f(x)| one-hot cotangents, one for each (example, output) entry, through
     * one stacked VJP of the whole batch (N²·O·[FP]). Exact for models that mix examples.
     */
    private Tensor[] batchJacobians(SidePlan side, Tensor x, List<ParamSpec> specs) {
        int[] f = side.f;
        int k = Shapes.size(f);
        Graph vjp = side.vjp(k);
        try (Tensor basis = identity(x.dtype(), k, f)) {
            Tensor[] res = vjp.evaluate(with(paramArgs(specs), x, basis));
            res[0].close();
            Tensor[] j = new Tensor[specs.size()];
            for (int p = 0; p < j.length; p++) {
                j[p] = res[1 + p].reshape(Shapes.concat(f, new int[] {specs.get(p).size()}));
                res[1 + p].close();
            }
            return j;
        }
    }

    // ------------------------------------------------------------------ structured derivatives

    /**
     * Structured derivatives. A model that mixes examples has no per-example cotangents, so it takes the
     * exact path of Jacobian contraction without the shortcut (the explanation says so).
     */
    private Tensor structuredDerivatives(Inputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!side1.perExampleShortcut) {
            return jacobianContraction(in);
        }
        Tensor[] ps = paramArgs(in.specs);
        try (PerExamplePass pass1 = new PerExamplePass(side1, ps, in.x1);
             PerExamplePass pass2 = in.same ? null
                     : new PerExamplePass(side(in.x2.dim(0), in.perExample, in.dtype), ps, in.x2)) {
            return structuredBlock(in, pass1, in.same ? pass1 : pass2);
        }
    }

    /** Structured derivatives from the per-example passes of x1 and x2 (the same pass when x2 = x1). */
    private Tensor structuredBlock(Inputs in, PerExamplePass pass1, PerExamplePass p2) {
        ParameterConsumers pc1 = pass1.pc;
        ParameterConsumers pc2 = p2.pc;
        KernelAxes axes = in.axes();
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        axes.checkShapes(f1, f2);
        int r = axes.rank();
        boolean traced = axes.diagonal().length == 0 && java.util.Arrays.equals(axes.trace(), rangeFrom(1, r));
        // the contraction order of each parameter is chosen for the whole problem, so every tile uses it
        long[] whole = problem != null ? problem : problemOf(pass1.n, in.same ? 0 : p2.n);
        int n1 = pass1.n;
        int n2 = p2.n;
        int o = pass1.o;
        Tensor acc = traced ? Tensor.zeros(in.dtype, n1, n2) : Tensor.zeros(in.dtype, n1, o, n2, o);
        List<Integer> dense = new ArrayList<>();
        for (int p = 0; p < in.specs.size(); p++) {
            StructuredDerivatives.Structured st = pass1.side.structured(p);
            if (st == null) {
                dense.add(p);
                continue;
            }
            ParameterConsumers.Consumer c1 = st.consumer;
            ParameterConsumers.Consumer c2 = pc2.consumers.get(pc1.consumers.indexOf(c1));
            StructuredDerivatives.addParameterBlock(acc, st, pass1, c1, p2, c2, traced, in.same, whole[0],
                    whole[1], whole[2] == 1);
        }
        if (!dense.isEmpty()) {
            Tensor[] j1 = pass1.jacobians(dense);
            Tensor[] j2 = in.same ? j1 : p2.jacobians(dense);
            for (int i = 0; i < j1.length; i++) {
                int size = j1[i].dim(-1);
                try (Tensor a = j1[i].reshape(n1, o, size);
                     Tensor b = in.same ? null : j2[i].reshape(n2, o, size)) {
                    Tensor bb = in.same ? a : b;
                    int[] none = new int[0];
                    try (Tensor blk = traced
                            ? CountedDot.dot(a, bb, new int[] {1, 2}, new int[] {1, 2}, none, none)
                            : CountedDot.dot(a, bb, new int[] {2}, new int[] {2}, none, none)) {
                        addInto(acc, blk);
                    }
                }
            }
            closeAll(j1);
            if (!in.same) {
                closeAll(j2);
            }
        }
        if (traced) {
            KernelReduction.scale(acc, 1.0 / o);
            return acc;
        }
        try (Tensor full = acc.reshape(Shapes.concat(f1, f2))) {
            acc.close();
            return KernelReduction.reduce(full, axes, f1, f2);
        }
    }

    private static int[] rangeFrom(int from, int to) {
        int[] r = new int[Math.max(0, to - from)];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** acc += b, elementwise (same shapes). */
    private static void addInto(Tensor acc, Tensor b) {
        Elementwise.addScaledInPlace(acc, 1.0, b);
    }

    // ------------------------------------------------------------------ NTK-vector products

    /**
     * The full kernel by NTK-vector products: one VJP of f(x2) with the |f(x2)| basis cotangents gives the
     * parameter vectors J2ᵀ e_b; one JVP of f(x1) with all of them stacked gives Θ[:, b] = J1 J2ᵀ e_b. Traced
     * and diagonal axes are applied to the full result (as neural-tangents does for this method).
     */
    private Tensor vectorProductsKernel(Inputs in) {
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        KernelAxes axes = in.axes();
        axes.checkShapes(f1, f2);
        int k = Shapes.size(f2);
        int[] tiles = Tiles.split(k, vectorProductBytesPerVector(model, in.x1.dim(0), in.x2.dim(0), in.perExample,
                in.dtype), tileBytes);
        Tensor t;
        if (Tiles.count(tiles) == 1) {
            t = vectorProductColumns(in, f2, 0, k);
        } else {
            // tiles of basis vectors: rows [k0, k1) of [K2] + f1, one VJP and one JVP per tile
            t = Tensor.empty(in.dtype, Shapes.prepend(k, f1));
            int perRow = Shapes.size(f1);
            for (int i = 0; i < Tiles.count(tiles); i++) {
                try (Tensor part = vectorProductColumns(in, f2, tiles[i], tiles[i + 1])) {
                    org.bytedeco.javacpp.Pointer.memcpy(t.pointer().getPointer((long) tiles[i] * perRow),
                            part.pointer(), part.bytes());
                }
            }
        }
        // t: [K2] + f1 -> [f1..., f2...]
        int[] perm = new int[t.rank()];
        for (int i = 0; i < perm.length - 1; i++) {
            perm[i] = i + 1;
        }
        perm[perm.length - 1] = 0;
        Tensor moved = Layout.transpose(t, perm);
        t.close();
        Tensor full = moved.reshape(Shapes.concat(f1, f2));
        moved.close();
        Tensor out = KernelReduction.reduce(full, axes, f1, f2);
        full.close();
        return out;
    }

    /** Θ[..., b] for the basis vectors b in [from, to) of f(x2), as [to - from] + f1: a VJP, then a JVP. */
    private Tensor vectorProductColumns(Inputs in, int[] f2, int from, int to) {
        Tensor[] g;
        try (Tensor basis = basisRows(in.dtype, from, to, f2)) {
            g = vjpRows(in.x2, basis);
        }
        Tensor[] res;
        try {
            res = jvpWithTangents(in.x1, g);
        } finally {
            closeAll(g);
        }
        return res[0];
    }

    /**
     * Bytes per basis vector of the largest stacked value NTK-vector products form (the VJP of f(x2) and the
     * JVP of f(x1), each with one vector): what decides the tiles of basis vectors.
     */
    static long vectorProductBytesPerVector(Model model, int n1, int n2, int[] perExample, DType dtype) {
        return vectorProductBytesPerVector(SidePlan.of(model, n1, perExample, dtype),
                SidePlan.of(model, n2, perExample, dtype), dtype);
    }

    /** {@link #vectorProductBytesPerVector(Model, int, int, int[], DType)} for the sides' cached graphs. */
    static long vectorProductBytesPerVector(SidePlan side1, SidePlan side2, DType dtype) {
        long largest = 1;
        for (Graph g : new Graph[] {side2.vjp(1), side1.jvp(1)}) {
            for (org.ntk4j.graph.Equation e : g.equations()) {
                largest = Math.max(largest, e.output().size());
            }
        }
        return largest * dtype.bytes();
    }

    /** Parameter cotangents Σ_b c[k, b] ∂f(x)_b/∂θ for stacked output cotangents c [K] + f(x).shape. */
    private Tensor[] vjpRows(Tensor x, Tensor cotangents) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        Graph vjp = side(x.dim(0), perExample, x.dtype()).vjp(cotangents.dim(0));
        Tensor[] res = vjp.evaluate(with(paramArgs(specs), x, cotangents));
        res[0].close();
        return java.util.Arrays.copyOfRange(res, 1, res.length);
    }

    /** Output tangents [K] + f(x).shape for stacked parameter tangents [K] + θ.shape. */
    private Tensor[] jvpWithTangents(Tensor x, Tensor[] tangents) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        Graph jvp = side(x.dim(0), perExample, x.dtype()).jvp(tangents[0].dim(0));
        Tensor[] res = jvp.evaluate(with(with(paramArgs(specs), x), tangents));
        res[0].close();
        return java.util.Arrays.copyOfRange(res, 1, res.length);
    }

    /** The cached plan of one side: the traced graph and every graph derived from it. */
    private SidePlan side(int n, int[] perExample, DType dtype) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    // ------------------------------------------------------------------ helpers

    /** [to - from] + shape with one-hot rows: row i is e_{from + i} of the flattened shape. */
    private static Tensor basisRows(DType dt, int from, int to, int[] shape) {
        if (from == 0 && to == Shapes.size(shape)) {
            return identity(dt, to, shape);
        }
        int size = Shapes.size(shape);
        Tensor t = Tensor.zeros(dt, Shapes.prepend(to - from, shape));
        for (int i = 0; i < to - from; i++) {
            t.setFlat((int) ((long) i * size + from + i), 1.0);
        }
        return t;
    }

    /** [K] + shape with one-hot rows: row k is e_k of the flattened shape. */
    private static Tensor identity(DType dt, int k, int[] shape) {
        Tensor t = Tensor.zeros(dt, Shapes.prepend(k, shape));
        for (int i = 0; i < k; i++) {
            t.setFlat((long) i * k + i > Integer.MAX_VALUE ? fail(k) : i * k + i, 1.0);
        }
        return t;
    }

    private static int fail(int k) {
        throw new IllegalArgumentException("kernel: " + k + " basis vectors of size " + k
                + " exceed 2^31 elements; tile the computation");
    }

    private static void closeAll(Tensor[] ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }
}
