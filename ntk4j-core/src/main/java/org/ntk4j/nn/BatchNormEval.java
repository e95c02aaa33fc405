package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Batch normalisation in inference mode (PyTorch's {@code BatchNorm2d} after {@code eval()}, ONNX's
 * BatchNormalization): per channel (last axis) c, y = scale_c · (x − mean_c) / √(var_c + ε) + shift_c, with the
 * running statistics {@code running_mean} and {@code running_var} [C] as <em>buffers</em> (constants of the
 * model, defaults 0 and 1, set through {@link Model#withBuffers} or a parameter file) and {@code scale}
 * (init 1) and {@code shift} (init 0) [C] as parameters. Each example is normalised with the same constants, so
 * examples stay independent and the per-example shortcut and tiling apply (unlike {@link BatchNorm}, the
 * training-mode layer). Traced by {@link Model#traceTrainingInto} (a training step of {@code
 * TrainConfig.batchNormTraining}) it is PyTorch's layer in {@code train()} mode instead: normalised by the batch's
 * mean and biased variance, which it records ({@link BatchStatistics}) for the update of its running statistics.
 */
public final class BatchNormEval extends SingleLayer {
    private final double eps;

    /**
     * An inference-mode batch normalisation.
     *
     * @param eps the constant added to the variance, &gt; 0 (PyTorch's default is 1e-5)
     * @throws IllegalArgumentException if {@code eps} is not positive
     */
    public BatchNormEval(double eps) {
        if (!(eps > 0)) {
            throw new IllegalArgumentException("batch_norm_eval: eps must be > 0, got " + eps);
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
        return "batch_norm_eval";
    }

    @Override
    int[] outputShape(int[] in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("batch_norm_eval: needs a channel axis, got shape " + Shapes.str(in));
        }
        return in;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        int[] c = {in[in.length - 1]};
        scope.declare("scale", c, 0, 1);
        scope.declare("shift", c, 0, 0);
        scope.declareBuffer("running_mean", c, 0);
        scope.declareBuffer("running_var", c, 1);
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        if (scope.isTrainingBatchNorm()) {
            // PyTorch's train() mode: the batch's statistics over the example and spatial axes (the variance biased,
            // as PyTorch normalises by), recorded for the update of the running ones
            BatchNorm.Batch b = BatchNorm.batch(x);
            scope.recordBatchStatistics("running_mean", "running_var", b.mean(), b.variance(),
                    Shapes.size(x.shape()) / x.dim(-1));
            return b.centred().div(b.variance().add(eps).sqrt()).mul(scope.get("scale")).add(scope.get("shift"));
        }
        Var mean = scope.buffer("running_mean", x);
        Var sd = scope.buffer("running_var", x).add(eps).sqrt();
        return x.sub(mean).div(sd).mul(scope.get("scale")).add(scope.get("shift"));
    }
}
