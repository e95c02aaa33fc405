package org.ntk4j.nn;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.graph.Graph;
import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Plain (full-batch) gradient descent on the parameters of any {@link Model}, a linearised one included: one step
 * θ ← θ − η J(θ, x)ᵀ g for the function-space gradient g = ∂L/∂f(θ, x) of a loss L, computed by one reverse-mode
 * pass ({@link Vjp}), never forming J. This is what a trainer does at each step; the caller supplies g (e.g.
 * {@link org.ntk4j.predict.Loss#gradient}).
 */
public final class GradientStep {
    private GradientStep() {
    }

    /**
     * Jᵀ g: the gradient of Σ g·f(θ, x) with respect to every parameter, by path ({@code g} has the shape of f(θ, x)
     * and the dtype of the parameters). f is the network {@link Model#apply} evaluates with these parameters: with
     * their {@link Params#buffers} (running statistics) where they carry any. The caller closes the result.
     *
     * @param model the model f
     * @param params the parameters θ, validated against the model for x's shape and dtype; not closed
     * @param x the batch [n, in...]; not closed
     * @param g the function-space gradient, of the shape of f(θ, x); converted to x's dtype; not closed
     * @return the gradient, one tensor per parameter path with the parameter's shape, which the caller closes
     * @throws IllegalArgumentException if an argument is null, the parameters do not match the model, or g has the
     *     wrong shape or holds NaN or ±∞
     */
    public static Params vjp(Model model, Params params, Tensor x, Tensor g) {
        if (model == null || params == null || x == null || g == null) {
            throw new IllegalArgumentException("gradient step: " + (model == null ? "model" : params == null ? "params"
                    : x == null ? "x" : "g") + " must not be null");
        }
        int[] in = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(in);
        params.validate(specs, x.dtype(), "x");
        // the lease from before the network is taken: another thread may drop it from the model's derived ones
        CachedTensors.Lease lease = CachedTensors.lease();
        // the constants of the graphs traced for this call, closed at its end (they were left to the collector)
        CachedTensors traced = new CachedTensors();
        try {
            // the network model.apply(params, x) evaluates: with the parameters' own buffers (running statistics)
            Model network = model.withBuffersOf(params, in, x.dtype());
            Graph f = traced.build(() -> network.trace(x.dim(0), in, x.dtype()));
            boolean[] wrt = new boolean[specs.size() + 1];
            java.util.Arrays.fill(wrt, 0, specs.size(), true);
            Graph vjp = traced.build(() -> Vjp.of(f, 1, wrt));
            Tensor[] args = new Tensor[specs.size() + 2];
            for (int i = 0; i < specs.size(); i++) {
                args[i] = params.get(specs.get(i).path());
            }
            args[specs.size()] = x;
            int[] outShape = f.outputs().get(0).shape();
            if (!java.util.Arrays.equals(g.shape(), outShape)) {
                throw new IllegalArgumentException("gradient step: g must have the shape of f(x) "
                        + Shapes.str(outShape) + ", got " + Shapes.str(g.shape()));
            }
            org.ntk4j.cpu.Reduce.requireFinite("gradient step: g", g);
            try (Tensor g1 = g.to(x.dtype()).reshapeMove(Shapes.prepend(1, outShape))) {
                args[specs.size() + 1] = g1;
                Tensor[] r = vjp.evaluate(args);
                r[0].close();
                Map<String, Tensor> m = new LinkedHashMap<>();
                for (int i = 0; i < specs.size(); i++) {
                    m.put(specs.get(i).path(), r[i + 1].reshapeMove(specs.get(i).shape()));
                }
                return new Params(m);
            }
        } finally {
            traced.retire();
            lease.close();
        }
    }

    /**
     * θ − η Jᵀ g as new parameters (the caller closes them; {@code params} are not changed).
     *
     * @param model the model f
     * @param params the parameters θ; not changed, not closed
     * @param x the batch [n, in...]; not closed
     * @param g the function-space gradient, of the shape of f(θ, x); not closed
     * @param learningRate the step size η
     * @return the updated parameters, with a copy of {@code params}' buffers (constants, not trained), which the
     *     caller closes
     * @throws IllegalArgumentException as {@link #vjp}, or if the learning rate is NaN or ±∞
     */
    public static Params step(Model model, Params params, Tensor x, Tensor g, double learningRate) {
        if (!Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("gradient step: the learning rate must be finite, got " + learningRate);
        }
        try (Params grad = vjp(model, params, x, g)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
                Tensor t = e.getValue().copy();
                Tensor d = grad.get(e.getKey());
                for (int i = 0; i < t.size(); i++) {
                    t.setFlat(i, t.getFlat(i) - learningRate * d.getFlat(i));
                }
                m.put(e.getKey(), t);
            }
            // the buffers (running statistics) are constants of the network, not trained: they go along unchanged
            return new Params(m, Params.copies(params.buffers()));
        }
    }
}
