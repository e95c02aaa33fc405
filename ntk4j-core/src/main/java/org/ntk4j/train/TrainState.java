package org.ntk4j.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * Everything a run needs to continue bit for bit: the parameters, the optimizer's buffers, the position in the
 * data (completed epochs and steps into the current epoch; the shuffling order of an epoch is a function of the
 * seed and the epoch), the running train-loss sum of the current epoch and the curves so far. A checkpoint.
 * The state owns its tensors; {@link #close} closes them.
 */
public final class TrainState implements AutoCloseable {
    private final Params params;
    private final Map<String, Tensor> buffers;
    private final int epoch;
    private final long stepInEpoch;
    private final long step;
    private final double lossSum;
    private final long lossCount;
    private final List<EpochMetrics> history;
    private final String config;

    /**
     * A state; takes ownership of the tensors.
     *
     * @param params the parameters, with the model's constants (batch-norm running statistics) as their
     *     {@link Params#buffers}, if it has any
     * @param buffers the optimizer's buffers by name, {@code optimizer/BUFFER/PATH} (e.g.
     *     {@code optimizer/momentum/1_dense/w}), each of its parameter's shape
     * @param epoch completed epochs
     * @param stepInEpoch steps done in the current (epoch + 1) epoch
     * @param step global steps done
     * @param lossSum the current epoch's Σ batch loss × batch size so far
     * @param lossCount the current epoch's examples so far
     * @param history the metrics of the completed epochs, from epoch 0
     * @param config {@link TrainConfig#describe()} of the run, to refuse resuming with other settings
     */
    public TrainState(Params params, Map<String, Tensor> buffers, int epoch, long stepInEpoch, long step,
            double lossSum, long lossCount, List<EpochMetrics> history, String config) {
        this.params = params;
        this.buffers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(buffers));
        this.epoch = epoch;
        this.stepInEpoch = stepInEpoch;
        this.step = step;
        this.lossSum = lossSum;
        this.lossCount = lossCount;
        this.history = List.copyOf(history);
        this.config = config;
    }

    /**
     * The parameters.
     *
     * @return the parameters, owned by this state
     */
    public Params params() {
        return params;
    }

    /**
     * The optimizer's buffers.
     *
     * @return buffers by name {@code optimizer/BUFFER/PATH}, owned by this state
     */
    public Map<String, Tensor> buffers() {
        return buffers;
    }

    /**
     * Completed epochs.
     *
     * @return the number of completed epochs
     */
    public int epoch() {
        return epoch;
    }

    /**
     * Steps done in the current epoch (0 at an epoch boundary).
     *
     * @return the steps into epoch {@code epoch() + 1}
     */
    public long stepInEpoch() {
        return stepInEpoch;
    }

    /**
     * Global steps done (Adam's t).
     *
     * @return the step count
     */
    public long step() {
        return step;
    }

    /**
     * The current epoch's Σ batch loss × batch size so far.
     *
     * @return the running sum
     */
    public double lossSum() {
        return lossSum;
    }

    /**
     * The current epoch's examples so far.
     *
     * @return the running count
     */
    public long lossCount() {
        return lossCount;
    }

    /**
     * The metrics of the completed epochs.
     *
     * @return an unmodifiable list, from epoch 0
     */
    public List<EpochMetrics> history() {
        return history;
    }

    /**
     * The settings of the run that took the state.
     *
     * @return {@link TrainConfig#describe()}
     */
    public String config() {
        return config;
    }

    /**
     * A deep copy, owned by the caller.
     *
     * @return a copy of the tensors and values
     */
    public TrainState copy() {
        return new TrainState(params.copy(), Params.copies(buffers), epoch, stepInEpoch, step, lossSum, lossCount,
                new ArrayList<>(history), config);
    }

    @Override
    public void close() {
        params.close();
        buffers.values().forEach(Tensor::close);
    }
}
