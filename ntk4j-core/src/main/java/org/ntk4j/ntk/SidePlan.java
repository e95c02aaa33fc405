package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.InputGradProducts;
import org.ntk4j.graph.ProductRewrite;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.CachedTensors;

/**
 * Everything about one side of a kernel (x1, or x2) that depends on its shapes and not on its data, built once
 * per (model, number of examples, example shape, dtype) and cached: the traced forward graph, its table of
 * parameter consumers, the per-example pass graph (forward plus the backward pass with O stacked cotangents, read
 * at the consumers), each consumer's one-example row graph, each parameter's path VJP, each parameter's
 * structured form, and the stacked VJP/JVP graphs NTK-vector products evaluate. The cost model reads these
 * graphs and the methods evaluate the very same objects, so a repeated kernel, a tile of a size already seen, or
 * a benchmark loop traces nothing ({@link Model#traceCount()}). Thread-safe: graphs are built at most once and
 * only read afterwards.
 */
final class SidePlan {
    /** The key of a model's cache of side plans ({@link Model#attachedCache}). */
    private static final Object CACHE_KEY = new Object();
    /** Side plans kept per model: enough for a tiled run's tile sizes and a sweep of a few problem sizes. */
    private static final int PER_MODEL = 32;

    /**
     * The tensors this plan's builds allocated (its graphs' constants, the sub-plans' but those of the plans
     * against other sides, which own theirs), closed when a cache drops it ({@link CachedTensors#retire}).
     */
    private final CachedTensors owned;
    final int n;
    final int[] perExample;
    final DType dtype;
    final int nParams;
    final Graph graph;
    final ParameterConsumers pc;
    /** Whether the per-example shortcut (K = O cotangents for all examples at once) applies. */
    final boolean perExampleShortcut;
    /** Outputs per example. */
    final int o;
    /** The output shape f(x).shape. */
    final int[] f;
    private volatile Pass pass;
    /** Passes with fewer stacked cotangents than O (output chunks, {@link OutputChunks}), by K. */
    private final Map<Integer, Pass> chunkPasses = new ConcurrentHashMap<>();
    /** Passes without some consumers' cotangents ({@link #pass(int, int[])}), by K and those consumers. */
    private final Map<String, Pass> reducedPasses = new ConcurrentHashMap<>();
    /** No consumers: a pass with every cotangent ({@link #pass(int, int[])}). */
    static final int[] NO_CONSUMERS = {};
    private final Map<String, Graph> rowGraphs = new ConcurrentHashMap<>();
    private final Map<String, Graph> pathVjps = new ConcurrentHashMap<>();
    private final Map<Integer, Graph> vjps = new ConcurrentHashMap<>();
    private final Map<Integer, Graph> jvps = new ConcurrentHashMap<>();
    private volatile StructuredDerivatives.Structured[] structured;
    /*
     * The plans against another side or for a whole problem, bounded like the side plans of a model: a plan holds
     * the other side's plan, so unbounded maps kept every side plan the cache had dropped (a training set's kernel
     * against test batches of every size grew by their traced graphs, without end). A plan against another side is
     * found by that side plan itself, not its size: the plan reads its graph's values, and a side plan dropped from
     * the cache and traced again has other ones (a plan found by size then failed with a NullPointerException).
     */
    private final LruCache<List<Object>, Held<JcPlan>> jcPlans = new LruCache<>(PER_MODEL, Held::retire);
    private final LruCache<String, Held<SdPlan>> sdPlans = new LruCache<>(PER_MODEL, Held::retire);
    private final LruCache<List<Object>, Held<VpPlan>> vpPlans = new LruCache<>(PER_MODEL, Held::retire);

    /** A cached plan and the tensors its build allocated, closed when the cache drops it. */
    private record Held<V>(V plan, CachedTensors owned) {
        static <V> Held<V> build(java.util.function.Supplier<V> make) {
            CachedTensors owned = new CachedTensors();
            return new Held<>(owned.build(make), owned);
        }

        void retire() {
            owned.retire();
        }
    }

    /**
     * A model's side plans, least recently used first; a dropped plan's tensors (and those of the plans it holds)
     * are closed once no call uses it. {@link Model#releaseCaches} drops them all.
     */
    private static final class ModelPlans implements AutoCloseable {
        final LruCache<String, SidePlan> plans = new LruCache<>(PER_MODEL, SidePlan::retire);

        @Override
        public void close() {
            plans.clear();
        }
    }

    /**
     * The per-example pass: its graph, and which of its outputs are consumer operands and consumer outputs. The
     * graph lists each value once (the cotangents of consumers joined by an addition or a reshape are one value:
     * listed once per consumer, each repeat was a copy of a stacked cotangent).
     */
    static final class Pass {
        final Graph graph;
        /** The position among the graph's outputs of each consumer operand (not a graph input or constant). */
        private final Map<Var, Integer> operandValue = new IdentityHashMap<>();
        /** The position among the graph's outputs of the stacked cotangent at each consumer's output. */
        private final Map<Var, Integer> cotangentValue = new IdentityHashMap<>();
        /** The factors of the stacked cotangents that factor ({@link CotangentFactors}), by consumer output. */
        private final Map<Var, Factored> factored = new IdentityHashMap<>();

        /** A stacked cotangent's factors and the positions among the graph's outputs of their values. */
        record Factored(CotangentFactors factors, int[] values) {
        }

        /**
         * The pass with every consumer's cotangent ({@code unread} empty), or without the cotangents at the consumers
         * {@code unread} (indices; a value another consumer or a factor needs stays), which the plan reading this
         * pass never reads. Either way its products are rewritten small factors first ({@link ProductRewrite}).
         */
        private Pass(ParameterConsumers pc, int o, int[] unread) {
            List<Var> ys = new ArrayList<>();
            List<Var> ops = new ArrayList<>();
            Map<Var, Boolean> inputs = new IdentityHashMap<>();
            for (Var in : pc.graph.inputs()) {
                inputs.put(in, Boolean.TRUE); // graph inputs are read where they are
            }
            // a value may be both a consumer's output and another consumer's operand: listed in each role once
            Map<Var, Boolean> isY = new IdentityHashMap<>();
            Map<Var, Boolean> isOp = new IdentityHashMap<>();
            for (ParameterConsumers.Consumer c : pc.consumers) {
                if (isY.put(c.equation.output(), Boolean.TRUE) == null) {
                    ys.add(c.equation.output());
                }
                for (Var v : c.equation.inputs()) {
                    if (!pc.graph.constants().containsKey(v) && !inputs.containsKey(v)
                            && isOp.put(v, Boolean.TRUE) == null) {
                        ops.add(v);
                    }
                }
            }
            // the outputs (operands..., cotangents at ys...), each value listed once: where each landed
            Graph all = Vjp.cotangentsAt(pc.graph, o, ys, ops);
            // the cotangents of linear consumers shared over positions that factor: their factors are returned too
            Map<Var, Equation> producer = new IdentityHashMap<>();
            for (Equation e : all.equations()) {
                producer.put(e.output(), e);
            }
            Map<Var, CotangentFactors> factors = new IdentityHashMap<>();
            List<Var> factorValues = new ArrayList<>();
            for (ParameterConsumers.Consumer c : pc.consumers) {
                ConsumerRule.Linear rule = c.linear();
                Var y = c.equation.output();
                if (rule != null && rule.cotangentIsReshape() && rule.positions() > 1 && !factors.containsKey(y)) {
                    CotangentFactors f = CotangentFactors.of(producer,
                            all.outputs().get(ops.size() + ys.indexOf(y)), rule.features());
                    if (f != null) {
                        factors.put(y, f);
                        factorValues.addAll(f.values());
                    }
                }
            }
            Graph full = all.distinctOutputs().withOutputs(factorValues);
            List<Var> kept = full.outputs();
            if (unread.length > 0) {
                // the cotangent value of each consumer output (ys in order after the operands), by identity
                Map<Var, Var> cotangentOf = new IdentityHashMap<>();
                for (int i = 0; i < ys.size(); i++) {
                    cotangentOf.put(ys.get(i), all.outputs().get(ops.size() + i));
                }
                Set<Var> dropped = Collections.newSetFromMap(new IdentityHashMap<>());
                for (int c : unread) {
                    dropped.add(cotangentOf.get(pc.consumers.get(c).equation.output()));
                }
                for (ParameterConsumers.Consumer c : pc.consumers) {
                    if (Arrays.binarySearch(unread, c.index) < 0) {
                        dropped.remove(cotangentOf.get(c.equation.output()));
                    }
                }
                // element by element: a set's removeAll of a list may ask the list for each of its own elements
                for (Var v : all.outputs().subList(0, ops.size())) {
                    dropped.remove(v);
                }
                for (Var v : factorValues) {
                    dropped.remove(v);
                }
                kept = new ArrayList<>();
                for (Var v : full.outputs()) {
                    if (!dropped.contains(v)) {
                        kept.add(v);
                    }
                }
            }
            // the products rewritten (small factors first), then each input gradient fused with the mask product
            // that reads it (a pass over the stacked cotangents fewer per convolution below a ReLU)
            this.graph = InputGradProducts.apply(unread.length > 0 ? ProductRewrite.apply(full, kept)
                    : ProductRewrite.apply(full));
            Map<Var, Integer> position = new IdentityHashMap<>();
            for (int i = 0; i < kept.size(); i++) {
                position.put(kept.get(i), i);
            }
            for (int i = 0; i < ops.size(); i++) {
                operandValue.put(ops.get(i), position.get(all.outputs().get(i)));
            }
            for (int i = 0; i < ys.size(); i++) {
                Integer at = position.get(all.outputs().get(ops.size() + i));
                if (at != null) {
                    cotangentValue.put(ys.get(i), at);
                }
            }
            for (Map.Entry<Var, CotangentFactors> e : factors.entrySet()) {
                List<Var> values = e.getValue().values();
                int[] at = new int[values.size()];
                for (int i = 0; i < at.length; i++) {
                    at[i] = position.get(values.get(i));
                }
                factored.put(e.getKey(), new Factored(e.getValue(), at));
            }
        }

        /** The factors of the stacked cotangent at a consumer's output {@code y}, or null when it does not factor. */
        Factored factored(Var y) {
            return factored.get(y);
        }

        /** The index among the graph's outputs of operand {@code v} of a consumer (not a graph input or constant). */
        int operandValue(Var v) {
            return operandValue.get(v);
        }

        /**
         * The index among the graph's outputs of the stacked cotangent at a consumer's output {@code y}.
         *
         * @throws IllegalStateException when this pass was built without it (a plan that does not read it)
         */
        int cotangentValue(Var y) {
            Integer at = cotangentValue.get(y);
            if (at == null) {
                throw new IllegalStateException("the per-example pass holds no cotangent at " + y
                        + ": it was built for a plan that does not read it");
            }
            return at;
        }
    }

    private SidePlan(Model model, int n, int[] perExample, DType dtype, CachedTensors owned) {
        this.owned = owned;
        this.n = n;
        this.perExample = perExample.clone();
        this.dtype = dtype;
        this.nParams = model.paramSpecs(perExample).size();
        this.graph = model.trace(n, perExample, dtype);
        // the per-example shortcut needs the example axis first everywhere: confirmed at a second batch size, whose
        // trace is dropped at once (its constants are closed once no call that might have seen them runs)
        CachedTensors witness = new CachedTensors();
        try {
            this.pc = new ParameterConsumers(graph, nParams,
                    () -> witness.build(() -> model.trace(n + 1, perExample, dtype)));
        } finally {
            witness.retire();
        }
        pc.ownedBy(this);
        this.perExampleShortcut = model.independentExamples() && pc.exampleAxisFirst;
        this.f = graph.outputs().get(0).shape();
        this.o = Shapes.size(f) / n;
    }

    /**
     * The side plan of {@code model} for a batch of n examples of this shape and dtype, traced on first request.
     *
     * @param model the network (cached by identity)
     * @param n number of examples
     * @param perExample one example's shape
     * @param dtype element type
     * @return the cached plan
     */
    static SidePlan of(Model model, int n, int[] perExample, DType dtype) {
        String key = n + Arrays.toString(perExample) + dtype;
        return model.attachedCache(CACHE_KEY, ModelPlans::new).plans.get(key, k -> {
            CachedTensors owned = new CachedTensors();
            return owned.build(() -> new SidePlan(model, n, perExample, dtype, owned));
        });
    }

    /** Side plans {@code model} holds now (for tests of the caches' bound). */
    static List<SidePlan> cached(Model model) {
        return model.attachedCache(CACHE_KEY, ModelPlans::new).plans.values();
    }

    /** Closes this plan's tensors and those of the plans it holds, once no call uses them. */
    private void retire() {
        jcPlans.clear();
        sdPlans.clear();
        vpPlans.clear();
        owned.retire();
    }

    /** Tensors this plan owns that are open (its own, not its plans against other sides'), for tests. */
    int openTensors() {
        return owned.openTensors();
    }

    /**
     * Plans held by this side plan against other sides or whole problems (Jacobian contraction's, structured
     * derivatives', NTK-vector products'), for tests of the caches' bound.
     */
    int plansHeld() {
        return jcPlans.size() + sdPlans.size() + vpPlans.size();
    }

    /** The per-example pass (forward, then backward with O stacked cotangents), built on first request. */
    Pass pass() {
        Pass p = pass;
        if (p == null) {
            synchronized (this) {
                p = pass;
                if (p == null) {
                    p = owned.build(() -> new Pass(pc, o, NO_CONSUMERS));
                    pass = p;
                }
            }
        }
        return p;
    }

    /** The per-example pass with K = k stacked cotangents (k = O: {@link #pass()}), built on first request. */
    Pass pass(int k) {
        return k == o ? pass()
                : chunkPasses.computeIfAbsent(k, kk -> owned.build(() -> new Pass(pc, kk, NO_CONSUMERS)));
    }

    /**
     * The per-example pass with K = k stacked cotangents without those at the consumers {@code unread} (sorted
     * indices; empty: {@link #pass(int)}), built on first request.
     */
    Pass pass(int k, int[] unread) {
        if (unread.length == 0) {
            return pass(k);
        }
        return reducedPasses.computeIfAbsent(k + ":" + Arrays.toString(unread),
                key -> owned.build(() -> new Pass(pc, k, unread)));
    }

    /** A consumer's one-example row graph ({@link PerExamplePass#rowGraph}). */
    Graph rowGraph(ParameterConsumers.Consumer c) {
        return rowGraph(c, o);
    }

    /** A consumer's one-example row graph for K = k stacked cotangents. */
    Graph rowGraph(ParameterConsumers.Consumer c, int k) {
        requireOwn(c);
        return rowGraphs.computeIfAbsent(c.index + ":" + k,
                i -> owned.build(() -> ParameterPaths.rowGraph(pc, c, k)));
    }

    /** The stacked VJP (K = k) of the parameter path of {@code cons} ({@link PerExamplePass#pathVjp}). */
    Graph pathVjp(List<ParameterConsumers.Consumer> cons, List<Integer> selected, int k) {
        StringBuilder key = new StringBuilder().append(k).append(':');
        for (ParameterConsumers.Consumer c : cons) {
            requireOwn(c);
            key.append(c.index).append(',');
        }
        key.append(':').append(selected);
        return pathVjps.computeIfAbsent(key.toString(),
                s -> owned.build(() -> ParameterPaths.pathVjp(pc, cons, selected, k)));
    }

    /**
     * Refuses a consumer of another trace: the graphs cached here by consumer index are built from this trace's
     * values, and one built from another's (a plan dropped and traced anew while a call still held its consumers)
     * would stay cached, wrong, for every later call.
     */
    private void requireOwn(ParameterConsumers.Consumer c) {
        if (!pc.owns(c)) {
            throw new IllegalStateException("side plan [" + n + "] " + Arrays.toString(perExample) + " " + dtype
                    + ": asked for the graph of a consumer of another trace of the model (a dropped plan's)");
        }
    }

    /** The VJP of f with respect to every parameter, k stacked output cotangents: inputs θ..., x, cotangents. */
    Graph vjp(int k) {
        return vjps.computeIfAbsent(k, kk -> owned.build(() -> Vjp.of(graph, kk, parameters())));
    }

    /** The JVP of f with k stacked tangents of every parameter: inputs θ..., x, tangents. */
    Graph jvp(int k) {
        return jvps.computeIfAbsent(k, kk -> owned.build(() -> Jvp.of(graph, kk, parameters())));
    }

    private boolean[] parameters() {
        boolean[] wrt = new boolean[nParams + 1];
        Arrays.fill(wrt, 0, nParams, true);
        return wrt;
    }

    /**
     * Jacobian contraction's plan against {@code other} (this plan itself when x2 = x1): its steps, one per
     * parameter, built on first request for this tile limit and whole-problem size.
     */
    JcPlan jcPlan(SidePlan other, boolean same, long tileBytes, long examples) {
        List<Object> key = List.of(other, same, tileBytes, examples); // the side plan by identity
        return jcPlans.get(key, k -> Held.build(() -> JcPlan.of(this, other, same, dtype, tileBytes, examples))).plan();
    }

    /**
     * Structured derivatives' plan of this side for a whole problem of n1 × n2 examples ({@code same}: x2 = x1
     * there) with k stacked cotangents per pass (O, or an output chunk's size, {@link OutputChunks}), for the
     * output pairs the kernel needs, built on first request.
     */
    SdPlan sdPlan(long n1, long n2, int k, boolean same, OutputPairs pairs) {
        String key = n1 + "/" + n2 + "/" + k + "/" + same + "/" + pairs;
        return sdPlans.get(key, s -> Held.build(() -> SdPlan.of(this, n1, n2, k, same, pairs))).plan();
    }

    /**
     * NTK-vector products' plan with x2 on {@code other} ({@code same}: x2 is x1 itself): its steps of basis
     * vectors, within the tile limit and the memory budget ({@link Long#MAX_VALUE}: none), built on first request.
     */
    VpPlan vpPlan(SidePlan other, boolean same, long tileBytes, long budgetBytes) {
        return vpPlans.get(List.of(other, same, tileBytes, budgetBytes),
                k -> Held.build(() -> VpPlan.of(this, other, same, dtype, tileBytes, budgetBytes))).plan();
    }

    /** Parameter p's structured form for SD ({@link StructuredDerivatives#classify}), or null: the dense fallback. */
    StructuredDerivatives.Structured structured(int p) {
        StructuredDerivatives.Structured[] s = structured;
        if (s == null) {
            synchronized (this) {
                s = structured;
                if (s == null) {
                    s = new StructuredDerivatives.Structured[nParams];
                    for (int q = 0; q < nParams; q++) {
                        int p0 = q;
                        s[q] = owned.build(() -> StructuredDerivatives.classify(pc, p0));
                    }
                    structured = s;
                }
            }
        }
        return s[p];
    }
}
