package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * The first- or second-order Taylor expansion of a network in its parameters around θ0, as neural-tangents'
 * {@code linearize(f, params)} and {@code taylor_expand(f, params, 2)}:
 * <pre>
 *   f_lin(θ, x) = f(θ0, x) + J(θ0, x)(θ − θ0)
 *   f_2(θ, x)   = f_lin(θ, x) + ½ (θ − θ0)ᵀ ∇²f(θ0, x) (θ − θ0)
 * </pre>
 * as a {@link Layer} with the base network's parameters (same paths, shapes and initialisation), so that it is a
 * {@link Model} every NTK method, command and trainer can evaluate and differentiate. Its trace inlines the
 * forward-mode graph {@link Jvp#of} of the base network with θ0 held as constants and the tangent θ − θ0 (one JVP:
 * J is never formed); the second order applies {@link Jvp#of} again, in the parameters only, and evaluates the
 * JVP-of-JVP at the same direction, which is Δᵀ∇²fΔ.
 *
 * <p>θ0 is either given (the tensors are copied) or the base network's initialisation {@code init(seed)} for the
 * traced input shape and dtype. Parameters are converted to the traced dtype once per dtype and kept. A given θ0's
 * buffers (a checkpoint's batch-norm running statistics) are copied too and are those of the network expanded, as
 * {@link Model#apply} reads them, so that f(θ0, x) is {@code base.apply(theta0, x)}.
 */
public final class Linearized implements Layer {
    private final Model base;
    private final int degree;
    private final Params theta0;
    /**
     * The network expanded: base with θ0's buffers where it carries any, made once and kept with this layer (not
     * taken from base's derived models, which drop theirs, and the constants traced from them, after 8 others).
     */
    private final Model network;
    private final long seed;
    private final Map<String, Tensor[]> constants = new ConcurrentHashMap<>();

    private Linearized(Model base, int degree, Params theta0, long seed) {
        if (degree != 1 && degree != 2) {
            throw new IllegalArgumentException("taylor expansion: degree must be 1 or 2, got " + degree);
        }
        this.base = base;
        this.degree = degree;
        this.theta0 = theta0;
        this.network = theta0 == null || theta0.buffers().isEmpty() ? base : base.withBuffers(theta0.buffers());
        this.seed = seed;
    }

    /**
     * f_lin around the given parameters θ0 (copied) of {@code base}.
     *
     * @param base the network to linearise
     * @param theta0 the expansion point, with its buffers; copied, so the caller keeps ownership
     * @return the linearised model, whose own parameters θ enter through θ − θ0
     * @throws IllegalArgumentException if theta0 is null
     */
    public static Model linearize(Model base, Params theta0) {
        return new Model(new Linearized(base, 1, copy(theta0), 0), "linearize(" + base.spec() + ")");
    }

    /**
     * The second-order Taylor expansion around the given parameters θ0 (copied) of {@code base}.
     *
     * @param base the network to expand
     * @param theta0 the expansion point, with its buffers; copied, so the caller keeps ownership
     * @return the expanded model
     * @throws IllegalArgumentException if theta0 is null
     */
    public static Model taylor2(Model base, Params theta0) {
        return new Model(new Linearized(base, 2, copy(theta0), 0), "taylor2(" + base.spec() + ")");
    }

    /**
     * The expansion of degree 1 or 2 around the base network's initialisation at {@code seed} (θ0 = base.init(seed)
     * for the traced input shape and dtype; {@code Model.init(seed, ...)} of the result gives θ = θ0).
     *
     * @param base the network to expand
     * @param degree 1 (linearised) or 2 (second-order)
     * @param seed the seed of the base initialisation that is the expansion point
     * @param spec the spec string of the resulting model
     * @return the expanded model
     * @throws IllegalArgumentException if {@code degree} is not 1 or 2
     */
    public static Model aroundInit(Model base, int degree, long seed, String spec) {
        return new Model(new Linearized(base, degree, null, seed), spec);
    }

    /** A copy of θ0 with its buffers (running statistics: part of the network expanded, see {@link #apply}). */
    private static Params copy(Params p) {
        if (p == null) {
            throw new IllegalArgumentException("taylor expansion: theta0 must not be null");
        }
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : p.tensors().entrySet()) {
            m.put(e.getKey(), e.getValue().copy());
        }
        Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : p.buffers().entrySet()) {
            buffers.put(e.getKey(), e.getValue().copy());
        }
        return new Params(m, buffers);
    }

    /**
     * The network being expanded.
     *
     * @return the base model
     */
    public Model base() {
        return base;
    }

    /**
     * The degree of the expansion.
     *
     * @return 1 (linearised) or 2 (second-order Taylor expansion)
     */
    public int degree() {
        return degree;
    }

    @Override
    public String kind() {
        return degree == 1 ? "linearize" : "taylor2";
    }

    @Override
    public List<int[]> outputShapes(List<int[]> inputShapes) {
        return base.root().outputShapes(inputShapes);
    }

    @Override
    public void declare(ParamScope scope, List<int[]> inputShapes) {
        base.root().declare(scope, inputShapes);
    }

    @Override
    public boolean independentExamples() {
        return base.independentExamples();
    }

    @Override
    public List<Var> apply(ParamScope scope, List<Var> inputs) {
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(kind() + ": expects one input, got " + inputs.size());
        }
        Var x = inputs.get(0);
        GraphBuilder b = x.builder();
        int[] in = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = base.paramSpecs(in);
        int np = specs.size();
        Tensor[] t0 = theta0(specs, in, x.dtype());
        // the network base.apply(θ0, x) evaluates: with θ0's buffers (running statistics) where it carries any
        Graph g = network.trace(x.dim(0), in, x.dtype());
        boolean[] tangents = new boolean[np + 1];
        Arrays.fill(tangents, 0, np, true);
        Graph jvp = Jvp.of(g, 1, tangents); // (θ, x, t) -> (f, J t)
        List<Var> args = new ArrayList<>();
        for (int i = 0; i < np; i++) {
            args.add(b.constant(t0[i]));
        }
        args.add(x);
        for (int i = 0; i < np; i++) {
            Var delta = scope.get(specs.get(i).path()).sub(args.get(i));
            args.add(delta.reshape(Shapes.prepend(1, specs.get(i).shape())));
        }
        int[] outShape = g.outputs().get(0).shape();
        Var y;
        if (degree == 1) {
            Var[] r = inline(jvp, b, args);
            y = r[0].add(r[1].reshape(outShape));
        } else {
            boolean[] second = new boolean[2 * np + 1];
            Arrays.fill(second, 0, np, true);
            Graph hvp = Jvp.of(jvp, 1, second); // (θ, x, t, s) -> (f, J t, J s, sᵀ∇²f t)
            List<Var> args2 = new ArrayList<>(args);
            args2.addAll(args.subList(np + 1, 2 * np + 1)); // s = t = θ − θ0
            Var[] r = inline(hvp, b, args2);
            y = r[0].add(r[1].reshape(outShape)).add(r[3].reshape(outShape).mul(0.5));
        }
        return List.of(y);
    }

    /**
     * θ0 in {@code dtype}, in the order of {@code specs}, converted once per dtype and input shape and kept for this
     * layer's life: allocated in no scope, so that neither the scope of the call that traces nor the owner of the
     * cached plan that traced first ({@link org.ntk4j.tensor.CachedTensors}) closes what later traces read.
     */
    private Tensor[] theta0(List<ParamSpec> specs, int[] in, DType dtype) {
        String key = dtype.shortName() + Shapes.str(in);
        return constants.computeIfAbsent(key, k -> TensorScope.unscoped(() -> {
            Tensor[] r = new Tensor[specs.size()];
            if (theta0 == null) {
                try (Params p = base.init(seed, in, dtype)) {
                    for (int i = 0; i < r.length; i++) {
                        r[i] = p.get(specs.get(i).path()).copy();
                    }
                }
            } else {
                try {
                    theta0.validate(specs, theta0.tensors().isEmpty() ? dtype
                            : theta0.tensors().values().iterator().next().dtype());
                } catch (IllegalArgumentException e) {
                    // θ0 given to linearize/taylor2 is at fault, not the parameters the model is applied to
                    throw new IllegalArgumentException(kind() + "(" + base.spec() + "): the expansion point theta0 "
                            + "does not fit examples of shape " + Shapes.str(in) + ": " + e.getMessage(), e);
                }
                for (int i = 0; i < r.length; i++) {
                    r[i] = theta0.get(specs.get(i).path()).to(dtype);
                }
            }
            return r;
        }));
    }

    /** Records the equations of {@code g} into {@code b} with its inputs bound to {@code args}; its outputs. */
    static Var[] inline(Graph g, GraphBuilder b, List<Var> args) {
        if (args.size() != g.inputs().size()) {
            throw new IllegalArgumentException("inline: " + args.size() + " arguments for a graph of "
                    + g.inputs().size() + " inputs");
        }
        Map<Var, Var> m = new IdentityHashMap<>();
        for (int i = 0; i < args.size(); i++) {
            m.put(g.inputs().get(i), args.get(i));
        }
        for (Map.Entry<Var, Tensor> c : g.constants().entrySet()) {
            m.put(c.getKey(), b.constant(c.getValue()));
        }
        for (Equation e : g.equations()) {
            Var[] ins = new Var[e.inputs().size()];
            for (int i = 0; i < ins.length; i++) {
                ins[i] = m.get(e.input(i));
            }
            m.put(e.output(), b.apply(e.primitive(), ins));
        }
        Var[] out = new Var[g.outputs().size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = m.get(g.outputs().get(i));
        }
        return out;
    }

    @Override
    public String toString() {
        return kind() + "(" + base.spec() + ")";
    }
}
