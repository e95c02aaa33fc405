package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Normalises each example over its last (feature) axis, then applies a learnable scale and shift:
 * y = (x - mean(x)) / √(var(x) + ε) · scale + shift, with mean and (biased) variance over the last axis.
 * Parameters {@code scale} [F] (initialised to 1) and {@code shift} [F] (initialised to 0).
 */
public final class LayerNorm extends SingleLayer {
    private final double eps;

    /**
     * A layer normalisation.
     *
     * @param eps the constant added to the variance, &gt; 0
     * @throws IllegalArgumentException if {@code eps} is not positive
     */
    public LayerNorm(double eps) {
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layer_norm: eps must be > 0, got " + eps);
        }
        this.eps = eps;
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
        return normed.mul(scope.get("scale")).add(scope.get("shift"));
    }
}
