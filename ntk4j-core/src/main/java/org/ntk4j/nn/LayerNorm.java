package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Normalises each example over its last (feature) axis, then (when affine) applies a learnable scale and shift:
 * y = (x - mean(x)) / √(var(x) + ε) · scale + shift, with mean and (biased) variance over the last axis.
 * Parameters {@code scale} [F] (initialised to 1) and {@code shift} [F] (initialised to 0); none without them.
 *
 * <p>Two conventions exist. PyTorch's {@code nn.LayerNorm} (ε = 1e-5, {@code elementwise_affine=True}) is
 * {@code new LayerNorm(1e-5)} ({@link Layers#layerNorm()}, the zoo's transformer): its scale and shift are parameters,
 * so they add their own terms to the NTK. neural-tangents' {@code stax.LayerNorm()} has no parameters and ε = 1e-12:
 * {@code new LayerNorm(1e-12, false)} ({@link Layers#layerNormStax()}), whose NTK is only that of the layers before.
 */
public final class LayerNorm extends SingleLayer {
    private final double eps;
    private final boolean affine;

    /**
     * A layer normalisation with a learnable scale and shift (PyTorch's {@code elementwise_affine=True}).
     *
     * @param eps the constant added to the variance, &gt; 0
     * @throws IllegalArgumentException if {@code eps} is not positive
     */
    public LayerNorm(double eps) {
        this(eps, true);
    }

    /**
     * A layer normalisation, with or without a learnable scale and shift.
     *
     * @param eps the constant added to the variance, &gt; 0 (neural-tangents' default 1e-12, PyTorch's 1e-5)
     * @param affine true: parameters {@code scale} and {@code shift} (PyTorch's {@code elementwise_affine=True});
     *     false: none (neural-tangents' {@code stax.LayerNorm})
     * @throws IllegalArgumentException if {@code eps} is not positive
     */
    public LayerNorm(double eps, boolean affine) {
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layer_norm: eps must be > 0, got " + eps);
        }
        this.eps = eps;
        this.affine = affine;
    }

    /**
     * Whether the layer has a learnable scale and shift.
     *
     * @return true with parameters {@code scale} and {@code shift}, false without
     */
    public boolean affine() {
        return affine;
    }

    /**
     * The constant added to the variance.
     *
     * @return ε, &gt; 0
     */
    public double eps() {
        return eps;
    }

    @Override
    public String kind() {
        return "layer_norm";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("layer_norm: needs a feature axis, got shape " + Shapes.str(in));
        }
        return in;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        if (!affine) {
            return;
        }
        int f = in[in.length - 1];
        scope.declare("scale", new int[] {f}, 0, 1);
        scope.declare("shift", new int[] {f}, 0, 0);
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int last = x.rank() - 1;
        Var centred = x.sub(x.mean(last).expandDims(-1));
        Var var = centred.square().mean(last);
        Var normed = centred.div(var.add(eps).sqrt().expandDims(-1));
        return affine ? normed.mul(scope.get("scale")).add(scope.get("shift")) : normed;
    }
}
