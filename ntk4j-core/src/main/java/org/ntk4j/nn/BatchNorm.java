package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Batch normalisation in training mode: statistics over the example axis and the spatial axes, per channel
 * (last axis): y = (x - mean) / √(var + ε) · scale + shift. Each output depends on every example of the
 * batch, so this layer declares that it does not treat examples independently.
 */
public final class BatchNorm extends SingleLayer {
    private final double eps;

    /**
     * A batch normalisation.
     *
     * @param eps the constant added to the variance, &gt; 0
     * @throws IllegalArgumentException if {@code eps} is not positive
     */
    public BatchNorm(double eps) {
        if (!(eps > 0)) {
            throw new IllegalArgumentException("batch_norm: eps must be > 0, got " + eps);
        }
        this.eps = eps;
    }

    @Override
    public String kind() {
        return "batch_norm";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("batch_norm: needs a channel axis, got shape " + Shapes.str(in));
        }
        return in;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        int c = in[in.length - 1];
        scope.declare("scale", new int[] {c}, 0, 1);
        scope.declare("shift", new int[] {c}, 0, 0);
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        Batch b = batch(x);
        return b.centred().div(b.variance().add(eps).sqrt()).mul(scope.get("scale")).add(scope.get("shift"));
    }

    /**
     * A batch's statistics per channel (the last axis) over every other axis, the examples' and the positions':
     * the mean [C], the biased variance [C] (what the batch is normalised by, as PyTorch's train() mode does) and
     * x less the mean.
     */
    record Batch(Var mean, Var variance, Var centred) {
    }

    /** The {@link Batch} statistics of {@code x} (also {@link BatchNormEval}'s in training mode). */
    static Batch batch(Var x) {
        int[] axes = new int[x.rank() - 1];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i;
        }
        int[] keepShape = new int[x.rank()];
        java.util.Arrays.fill(keepShape, 1);
        keepShape[x.rank() - 1] = x.dim(-1);
        Var mean = x.mean(axes);
        Var centred = x.sub(mean.reshape(keepShape));
        return new Batch(mean, centred.square().mean(axes), centred);
    }

    @Override
    public boolean independentExamples() {
        return false;
    }
}
