package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * A network: a root {@link Layer} with one input and one output, plus the spec string it came from.
 * It declares its parameters for a given per-example input shape, initialises them, and traces its forward
 * pass into a {@link Graph} whose inputs are the parameters (in declaration order) followed by the batch x.
 *
 * <p>A model may also declare <em>buffers</em> ({@link #bufferSpecs}): constants such as an inference-mode batch
 * norm's running statistics. They are not parameters (not graph inputs, never differentiated, not counted in
 * {@link Params#count}); the traced graph holds them as constants: the values given to {@link #withBuffers},
 * or the declared defaults.
 *
 * <p>Thread-safe: a model, and the {@link Params} given to it, may be shared by threads that apply it or compute
 * kernels with it at once ({@code ConcurrentUseTest}, {@code ConcurrentKernelsTest}); what it caches (traced graphs,
 * kernel plans, converted buffers, derived and wrapped models) is built once under a lock and only read afterwards,
 * and a cached value another thread drops meanwhile stays usable until the calls that took it return. A model
 * derived by {@link #withBuffersOf} is taken inside a {@link CachedTensors#lease} held while it is used.
 */
public final class Model {
    private static final java.util.concurrent.atomic.AtomicLong TRACES = new java.util.concurrent.atomic.AtomicLong();
    private final Layer root;
    private final String spec;
    /** Buffer values by path, as given (not owned); buffers not here take their declared defaults. */
    private final Map<String, Tensor> buffers;
    /**
     * Resolved buffers per (dtype, per-example shape), owned by this model (by {@link #resolvedOwner}) until {@link
     * #releaseCaches}. Not bounded: they grow with the distinct example shapes and dtypes used, never with batch
     * sizes, and the cached plans of those shapes read them (an eviction of its own would close what a live plan
     * reads).
     */
    private final Map<String, Map<String, Tensor>> resolved = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile CachedTensors resolvedOwner = new CachedTensors();
    /** Models kept by {@link #derived}. */
    private static final int DERIVED_KEPT = 8;
    /**
     * The models {@link #withBuffersOf} derived for parameters whose buffers differ from this model's, by the
     * buffers' values, the {@value #DERIVED_KEPT} used last: so that applying parameters that carry the same
     * statistics again — the same parameters, or each step's copy in a loop of {@link GradientStep#step} — builds,
     * converts and traces nothing new. Each owns copies of its buffers (the parameters it was derived for may be
     * closed); a dropped one has its caches released and its copies retired: closed once every {@link
     * CachedTensors#lease} opened before has closed, so that a call computing with it meanwhile (on another thread,
     * its model pushed out by eight others) is not disturbed.
     */
    private final Map<BufferValues, Derived> derived = java.util.Collections.synchronizedMap(
            new LinkedHashMap<>(16, 0.75f, true) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<BufferValues, Derived> eldest) {
                    if (size() > DERIVED_KEPT) {
                        eldest.getValue().release();
                        return true;
                    }
                    return false;
                }
            });

    /** A model derived for other buffers, and the owner of its copies of them (see {@link #derived}). */
    private record Derived(Model model, CachedTensors copies) {
        void release() {
            model.releaseCaches();
            copies.retire();
        }
    }

    /** Buffers compared by value: each path with its shape and values (see {@link #derived}). */
    private static final class BufferValues {
        private final String[] paths;
        private final int[][] shapes;
        private final double[][] values;
        private final int hash;

        BufferValues(Map<String, Tensor> buffers) {
            int n = buffers.size();
            paths = new String[n];
            shapes = new int[n][];
            values = new double[n][];
            int i = 0;
            for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
                paths[i] = e.getKey();
                shapes[i] = e.getValue().shape();
                values[i] = e.getValue().toDoubleArray();
                i++;
            }
            hash = java.util.Objects.hash(java.util.Arrays.hashCode(paths), java.util.Arrays.deepHashCode(shapes),
                    java.util.Arrays.deepHashCode(values));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BufferValues b && hash == b.hash && java.util.Arrays.equals(paths, b.paths)
                    && java.util.Arrays.deepEquals(shapes, b.shapes) && java.util.Arrays.deepEquals(values, b.values);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The graphs {@link #apply} evaluates, with the constants their traces allocated. */
    private record Applied(Graph graph, CachedTensors constants) {
    }

    /**
     * The graphs {@link #apply} evaluated, by batch size, input shape and dtype, the 8 used last; a dropped one's
     * constants (the scalars its trace allocated) are closed once no call uses it.
     */
    private final Map<String, Applied> applied = java.util.Collections.synchronizedMap(
            new LinkedHashMap<>(16, 0.75f, true) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Applied> eldest) {
                    if (size() > 8) {
                        eldest.getValue().constants().retire();
                        return true;
                    }
                    return false;
                }
            });
    /** Caches other packages keep for this model (the kernel plans), by their key. */
    private final Map<Object, AutoCloseable> attached = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A model; the root is checked for a single output when shapes are first computed.
     *
     * @param root the network, with one input and one output
     * @param spec the spec string it came from, or a description when built in code
     */
    public Model(Layer root, String spec) {
        this(root, spec, Map.of());
    }

    private Model(Layer root, String spec, Map<String, Tensor> buffers) {
        this.root = root;
        this.spec = spec;
        this.buffers = buffers;
    }

    /**
     * This network with the given buffer values (running statistics, say); buffers not in the map keep their
     * declared defaults. The values are checked against {@link #bufferSpecs} (shape, finite) when the model is
     * traced, and converted to the graph's dtype.
     *
     * @param values buffer tensors by path; the map is copied, the tensors are not: keep them open while the
     *     returned model is used
     * @return a new model sharing this one's layers and spec
     */
    public Model withBuffers(Map<String, Tensor> values) {
        return new Model(root, spec, java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values)));
    }

    /**
     * The buffer values given to {@link #withBuffers} (empty when none were).
     *
     * @return an unmodifiable map of the tensors by path
     */
    public Map<String, Tensor> buffers() {
        return buffers;
    }

    /**
     * The buffers (constants, not parameters) for per-example inputs of shape {@code in}, in declaration order;
     * each spec's {@link ParamSpec#initMean} is its default value (its {@link ParamSpec#initStd} is 0).
     *
     * @param in the per-example input shape (without the batch axis); not modified
     * @return a new list of the buffer specs, empty for a model without buffers
     * @throws IllegalArgumentException if the shapes do not fit (see {@link #outputShape})
     */
    public List<ParamSpec> bufferSpecs(int[] in) {
        outputShape(in);
        List<ParamSpec> specs = new ArrayList<>();
        root.declare(ParamScope.declaring(new ArrayList<>(), specs), List.of(in.clone()));
        return specs;
    }

    /**
     * The first buffer of {@code params} whose values differ from those this model computes with (given to
     * {@link #withBuffers}, or the declared defaults) for inputs of shape {@code in} in {@code dtype}, compared in
     * that dtype; null when they all agree or the parameters carry no buffers. A kernel computed from this model
     * with such parameters would not be the network {@link #apply} evaluates with them.
     *
     * @param params the parameters, whose {@link Params#buffers} are compared; not closed
     * @param in the per-example input shape
     * @param dtype the dtype computed in
     * @return the path of the first differing buffer, or null
     */
    public String bufferMismatch(Params params, int[] in, DType dtype) {
        Map<String, Tensor> given = params.buffers();
        if (given.isEmpty()) {
            return null;
        }
        Map<String, Tensor> mine = resolvedBuffers(in, dtype);
        for (Map.Entry<String, Tensor> e : given.entrySet()) {
            Tensor m = mine.get(e.getKey());
            Tensor g = e.getValue();
            if (m == null || !java.util.Arrays.equals(m.shape(), g.shape())) {
                return e.getKey();
            }
            for (int i = 0; i < m.size(); i++) {
                double v = dtype == DType.F32 ? (float) g.getFlat(i) : g.getFlat(i);
                if (Double.compare(m.getFlat(i), v) != 0) {
                    return e.getKey();
                }
            }
        }
        return null;
    }

    /**
     * The buffer values the network computes with for inputs of shape {@code in} (those given to
     * {@link #withBuffers}, or the declared defaults), by path in declaration order, in float64: what an analysis of
     * the network (its infinite-width limit) reads instead of tracing it.
     *
     * @param in the per-example input shape
     * @return a new map of new arrays, one per declared buffer
     * @throws IllegalArgumentException as tracing refuses them: a given buffer the model does not declare, of
     *     another shape than declared, or with a non-finite value
     */
    public Map<String, double[]> bufferValues(int[] in) {
        Map<String, double[]> values = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : resolvedBuffers(in, DType.F64).entrySet()) {
            values.put(e.getKey(), e.getValue().toDoubleArray());
        }
        return values;
    }

    /**
     * The buffer tensors the traced graph uses for inputs of shape {@code in} in {@code dtype}: the given
     * values converted, defaults for the others.
     */
    private Map<String, Tensor> resolvedBuffers(int[] in, DType dtype) {
        // cached beyond the current computation and owned by this model (not by the plan whose trace asked first)
        return resolved.computeIfAbsent(dtype + Shapes.str(in), key -> resolvedOwner.build(() -> {
            Map<String, Tensor> m = new LinkedHashMap<>();
            List<ParamSpec> declared = bufferSpecs(in);
            for (String path : buffers.keySet()) {
                if (declared.stream().noneMatch(s -> s.path().equals(path))) {
                    // a misspelt path would otherwise leave the buffer at its default without a word
                    throw new IllegalArgumentException(spec + ": buffer '" + path + "' is not one of the model's ("
                            + (declared.isEmpty() ? "it has none" : declared.stream().map(ParamSpec::path)
                            .collect(java.util.stream.Collectors.joining(", "))) + ")");
                }
            }
            for (ParamSpec s : declared) {
                Tensor given = buffers.get(s.path());
                if (given == null) {
                    m.put(s.path(), Tensor.full(dtype, s.initMean(), s.shape()));
                    continue;
                }
                if (!java.util.Arrays.equals(given.shape(), s.shape())) {
                    throw new IllegalArgumentException(spec + ": buffer '" + s.path() + "' must have shape "
                            + Shapes.str(s.shape()) + ", has " + Shapes.str(given.shape()));
                }
                int bad = given.firstNonFinite();
                if (bad >= 0) {
                    throw new IllegalArgumentException(spec + ": buffer '" + s.path() + "' has a non-finite value ("
                            + given.getFlat(bad) + ") at flat index " + bad);
                }
                m.put(s.path(), given.to(dtype));
            }
            return m;
        }));
    }

    /**
     * The root layer.
     *
     * @return the network's root layer
     */
    public Layer root() {
        return root;
    }

    /**
     * The spec string (for reports); may be a description when the model was built in code.
     *
     * @return the spec string, as given to the constructor
     */
    public String spec() {
        return spec;
    }

    /**
     * Per-example output shape for per-example input shape {@code in}.
     *
     * @param in the per-example input shape (without the batch axis); not modified
     * @return the per-example output shape
     * @throws IllegalArgumentException if a layer rejects the shapes or the network has several outputs
     */
    public int[] outputShape(int[] in) {
        List<int[]> out = root.outputShapes(List.of(in.clone()));
        if (out.size() != 1) {
            throw new IllegalArgumentException(spec + ": the network ends with " + out.size()
                    + " outputs; finish every fanOut with a fanIn");
        }
        return out.get(0);
    }

    /**
     * The parameters for per-example inputs of shape {@code in}, in declaration order.
     *
     * @param in the per-example input shape (without the batch axis); not modified
     * @return a new list of the parameter specs
     * @throws IllegalArgumentException if the shapes do not fit (see {@link #outputShape})
     */
    public List<ParamSpec> paramSpecs(int[] in) {
        outputShape(in);
        List<ParamSpec> specs = new ArrayList<>();
        root.declare(ParamScope.declaring(specs, new ArrayList<>()), List.of(in.clone()));
        return specs;
    }

    /**
     * Deterministic initial parameters (see {@link Params#initialise}), with this model's buffer values (given
     * or default) as their {@link Params#buffers}.
     *
     * @param seed the seed
     * @param in the per-example input shape (without the batch axis); not modified
     * @param dtype the dtype of the parameter tensors
     * @return the parameters, which the caller closes
     * @throws IllegalArgumentException as {@link #requireParamsFit}, before any parameter is allocated
     */
    public Params init(long seed, int[] in, DType dtype) {
        List<ParamSpec> specs = requireParamsFit(in, dtype);
        Params p = Params.initialise(specs, seed, dtype);
        Map<String, Tensor> b = resolvedBuffers(in, dtype);
        if (b.isEmpty()) {
            return p;
        }
        Map<String, Tensor> copies = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : b.entrySet()) {
            copies.put(e.getKey(), e.getValue().copy());
        }
        return p.withBuffers(copies);
    }

    /**
     * The parameter specs for per-example inputs of shape {@code in} ({@link #paramSpecs}), refused when this JVM
     * cannot hold them as {@code dtype} tensors: more bytes than its limit for tensors, or one parameter of more than
     * 2^31 - 1 elements (more than a tensor holds; {@link ParamSpec#size}'s check and words, under this model's
     * name). Reads shapes only and allocates nothing: {@link #init} checks
     * with it before drawing, and a command that prices a model without building its parameters (each width of a
     * width study) refuses with it at once rather than failing in an allocation later.
     *
     * @param in the per-example input shape (without the batch axis); not modified
     * @param dtype the dtype of the parameter tensors
     * @return a new list of the parameter specs
     * @throws IllegalArgumentException if the shapes do not fit (see {@link #outputShape}), or the parameters cannot
     *     be held, naming this model, their number and size and the limit (or the parameter too large for a tensor)
     */
    public List<ParamSpec> requireParamsFit(int[] in, DType dtype) {
        List<ParamSpec> specs = paramSpecs(in);
        double count = 0;
        String tooLarge = null;
        for (ParamSpec s : specs) {
            double size = 1;
            for (int d : s.shape()) {
                size *= d;
            }
            count += size;
            if (tooLarge == null) {
                tooLarge = s.tooLargeForATensor();
            }
        }
        String refusal = tensorMemoryRefusal(count, dtype);
        if (refusal != null) {
            throw new IllegalArgumentException("model '" + spec + "': " + refusal + "; use a smaller model");
        }
        if (tooLarge != null) {
            throw new IllegalArgumentException("model '" + spec + "': " + tooLarge);
        }
        return specs;
    }

    /**
     * Why {@code parameters} numbers of {@code dtype} cannot be held by this JVM at all, or null when they fit in its
     * limit for tensors (JavaCPP's {@code maxBytes}, which is {@code -Xmx} unless
     * {@code -Dorg.bytedeco.javacpp.maxBytes} sets it). Checked before any is allocated, so that a model too large
     * for the machine (a depth of 10⁸, a width of 10⁷) is refused in one line rather than by an out-of-memory error
     * minutes later. Only the whole limit is compared, not what is free now: a refusal is certain, not a guess.
     *
     * @param parameters how many numbers (a double: bounds computed from options may pass 2^63)
     * @param dtype their element type
     * @return the reason, e.g. {@code its 1.0e+10 parameters need 37.3 GiB in float32, more than ...}, or null
     */
    static String tensorMemoryRefusal(double parameters, DType dtype) {
        long limit = org.ntk4j.tensor.NativeMemory.maxBytes();
        double bytes = parameters * dtype.bytes();
        if (limit <= 0 || bytes <= limit) {
            return null;
        }
        String need = bytes >= Long.MAX_VALUE ? String.format(java.util.Locale.ROOT, "%.1e bytes", bytes)
                : org.ntk4j.ntk.CostModel.human((long) bytes);
        String have = org.ntk4j.ntk.CostModel.human(limit);
        if (need.equals(have)) { // the same at one decimal: the bytes tell them apart
            need += String.format(java.util.Locale.ROOT, " (%,.0f bytes)", bytes);
            have += String.format(java.util.Locale.ROOT, " (%,d bytes)", limit);
        }
        return String.format(java.util.Locale.ROOT, "its %s parameters need %s in %s, more than the %s this JVM "
                + "holds of tensors (-Xmx, or -Dorg.bytedeco.javacpp.maxBytes; ./ntk4j takes them in "
                + "NTK4J_JAVA_OPTS)", parameters < 1e15 ? String.format(java.util.Locale.ROOT, "%,.0f", parameters)
                : String.format(java.util.Locale.ROOT, "%.1e", parameters), need, dtype == DType.F32
                ? "float32" : "float64", have);
    }

    /**
     * Whether every layer treats examples independently (enables the per-example NTK shortcut).
     *
     * @return true when every layer does
     */
    public boolean independentExamples() {
        return root.independentExamples();
    }

    /**
     * Traces f(params, x) for a batch of {@code n} examples of shape {@code in}. Graph inputs: one per
     * parameter in declaration order, then x [n, in...]; one output f [n, out...].
     *
     * @param n the batch size
     * @param in the per-example input shape (without the batch axis); not modified
     * @param dtype the dtype of the graph's inputs
     * @return the traced graph
     * @throws IllegalArgumentException if the shapes do not fit (see {@link #outputShape})
     */
    public Graph trace(int n, int[] in, DType dtype) {
        TRACES.incrementAndGet();
        List<ParamSpec> specs = paramSpecs(in);
        GraphBuilder b = new GraphBuilder();
        Map<String, Var> values = new LinkedHashMap<>();
        for (ParamSpec s : specs) {
            values.put(s.path(), b.input(dtype, s.shape()));
        }
        Var x = b.input(dtype, Shapes.prepend(n, in));
        List<Var> out = root.apply(ParamScope.applying(values, resolvedBuffers(in, dtype)), List.of(x));
        return b.build(out.get(0));
    }

    /**
     * How many times {@link #trace} has run in this JVM, on any model: the NTK plans are cached so that a
     * repeated kernel of the same shapes traces nothing (tests read it before and after).
     *
     * @return the number of traces so far
     */
    public static long traceCount() {
        return TRACES.get();
    }

    /**
     * Records f(params, x) into the graph under construction that {@code x} belongs to, so that a caller can
     * append more operations (a training loss, say) to the network's output.
     *
     * @param params one variable per parameter path (see {@link #paramSpecs}), of the parameter's shape, in the
     *     builder of {@code x}
     * @param x the batch [n, in...]
     * @return the output variable f [n, out...]
     * @throws IllegalArgumentException if the shapes do not fit or a parameter is missing
     */
    public Var traceInto(Map<String, Var> params, Var x) {
        int[] in = Shapes.dropFirst(x.shape());
        outputShape(in);
        List<Var> out = root.apply(ParamScope.applying(params, resolvedBuffers(in, x.dtype())), List.of(x));
        return out.get(0);
    }

    /**
     * Records f(params, x) as {@link #traceInto} does, with the inference-mode batch norms ({@link BatchNormEval}) in
     * training mode, as PyTorch's {@code BatchNorm} in {@code train()}: each normalises by the batch's mean and biased
     * variance over the example and spatial axes, not by its running statistics, and adds them to
     * {@code statistics}, in the order traced (what a training step updates the running statistics with).
     *
     * @param params one variable per parameter path, in the builder of {@code x}
     * @param x the batch [n, in...]
     * @param statistics where each batch norm's statistics are added
     * @return the output variable f [n, out...]
     * @throws IllegalArgumentException if the shapes do not fit or a parameter is missing
     */
    public Var traceTrainingInto(Map<String, Var> params, Var x, List<BatchStatistics> statistics) {
        int[] in = Shapes.dropFirst(x.shape());
        outputShape(in);
        List<Var> out = root.apply(ParamScope.applyingTraining(params, resolvedBuffers(in, x.dtype()), statistics),
                List.of(x));
        return out.get(0);
    }

    /**
     * Evaluates f(params, x) for a batch x [n, in...]. The caller owns the result. Buffers come from
     * {@code params.buffers()} where it has them (as {@link #withBuffers}), else from this model.
     *
     * @param params the parameters, validated against the model for x's shape and dtype; not closed
     * @param x the batch [n, in...]; not closed
     * @return f [n, out...], which the caller closes
     * @throws IllegalArgumentException if x is a scalar, the shapes do not fit, or the parameters do not match
     */
    public Tensor apply(Params params, Tensor x) {
        int[] xs = x.shape();
        if (xs.length == 0) {
            throw new IllegalArgumentException("x: expected a batch [n, ...], got a scalar");
        }
        int[] in = Shapes.dropFirst(xs);
        List<ParamSpec> specs = paramSpecs(in);
        params.validate(specs, x.dtype(), "x");
        // the lease from before the model is taken: another thread may drop it from the derived models meanwhile
        try (CachedTensors.Lease lease = CachedTensors.lease()) {
            Model m = withBuffersOf(params, in, x.dtype());
            Graph g = m.applied.computeIfAbsent(xs[0] + " " + Shapes.str(in) + " " + x.dtype(), k -> {
                CachedTensors constants = new CachedTensors();
                return new Applied(constants.build(() -> m.trace(xs[0], in, x.dtype())), constants);
            }).graph();
            Tensor[] args = new Tensor[specs.size() + 1];
            for (int i = 0; i < specs.size(); i++) {
                args[i] = params.get(specs.get(i).path());
            }
            args[specs.size()] = x;
            return g.evaluate(args)[0];
        }
    }

    /**
     * The network that {@code params} describe: this model, or where their {@link Params#buffers} (a checkpoint's
     * running statistics, say) differ from its own ({@link #bufferMismatch}), this model with theirs (made once per
     * buffer values, with copies of them, and kept with this model). What {@link #apply}, {@link
     * GradientStep} and the trainer's gradient compute with, so that a gradient is that of the network {@link
     * #apply} evaluates. A derived model is for use at once: its copies are closed when it is dropped (by eight
     * other buffers derived after it, or {@link #releaseCaches}) and no {@link CachedTensors#lease} opened before
     * is still open; take it inside a lease held while it is used.
     *
     * @param params the parameters, whose buffers are read (copied where a new model is derived); not closed
     * @param in the per-example input shape
     * @param dtype the dtype computed in
     * @return this model, or this model with the parameters' buffers
     */
    public Model withBuffersOf(Params params, int[] in, DType dtype) {
        if (bufferMismatch(params, in, dtype) == null) {
            return this;
        }
        return derived.computeIfAbsent(new BufferValues(params.buffers()), k -> {
            // owned by the derived model for its life, not by a scope open around this call
            CachedTensors owner = new CachedTensors();
            Map<String, Tensor> copies = owner.build(() -> Params.copies(params.buffers()));
            return new Derived(withBuffers(copies), owner);
        }).model();
    }

    /**
     * A cache another part of the library keeps for this model (the kernel plans of {@code org.ntk4j.ntk}), made
     * on first request; {@link #releaseCaches} closes and forgets it.
     *
     * @param key what the cache is (one cache per key)
     * @param make makes the cache
     * @param <T> the cache's type
     * @return the cache of {@code key}
     */
    @SuppressWarnings("unchecked")
    public <T extends AutoCloseable> T attachedCache(Object key, java.util.function.Supplier<T> make) {
        return (T) attached.computeIfAbsent(key, k -> make.get());
    }

    /**
     * Releases what this model has cached: the kernel plans and traced graphs (the constants their traces
     * allocated), the buffers converted to a dtype, the models derived for other buffers and the models kernel
     * kinds wrapped around it. The model stays usable and builds them again when needed. For a long-running program
     * that is done with a model, so that {@link Tensor#liveBytes()} returns to where it was before the model was
     * used (a layer's own constants excepted: an imported file's frozen initializers, a linearised model's θ0).
     * Call it when no other thread is computing with the model: a call in progress is not disturbed (what it uses
     * is closed when it returns, {@link CachedTensors}), but what it caches meanwhile may be left to the collector.
     */
    public void releaseCaches() {
        for (Object key : new ArrayList<>(attached.keySet())) {
            AutoCloseable c = attached.remove(key);
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(spec + ": releasing a cache failed: " + e.getMessage(), e);
                }
            }
        }
        List<Applied> graphs;
        synchronized (applied) {
            graphs = new ArrayList<>(applied.values());
            applied.clear();
        }
        graphs.forEach(a -> a.constants().retire());
        List<Derived> models;
        synchronized (derived) {
            models = new ArrayList<>(derived.values());
            derived.clear();
        }
        models.forEach(Derived::release);
        CachedTensors buffersOwner;
        synchronized (resolved) {
            buffersOwner = resolvedOwner;
            resolvedOwner = new CachedTensors();
            resolved.clear();
        }
        buffersOwner.retire();
    }

    @Override
    public String toString() {
        return spec;
    }
}
