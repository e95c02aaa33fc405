package org.ntk4j.train;

import java.io.IOException;
import org.ntk4j.nn.Params;

/** What a training run reports to its caller; every method has a default that does nothing. */
public interface Listener {
    /** A listener that ignores everything. */
    Listener NONE = new Listener() {
    };

    /**
     * After each epoch, and once before the first (epoch 0, the initial parameters; not on a resumed run whose
     * history already has it). The parameters are the trainer's live ones: copy them to keep them.
     *
     * @param epoch the completed epoch, from 0
     * @param params the parameters now; valid only during the call
     * @param metrics the epoch's values
     * @throws IOException if the listener cannot record them (the run stops)
     */
    default void epochDone(int epoch, Params params, EpochMetrics metrics) throws IOException {
    }

    /**
     * When a checkpoint is due (after a chosen epoch, epoch 0 being the initial parameters before the first step,
     * or every chosen number of steps).
     *
     * @param state the run's state; valid only during the call (copy it to keep it)
     * @param name a file-name stem, {@code epoch-0003} at an epoch boundary or {@code step-000120}
     * @throws IOException if the checkpoint cannot be written (the run stops)
     */
    default void checkpoint(TrainState state, String name) throws IOException {
    }

    /**
     * Once, when the run has trained its last epoch (or had none left to train) without error, before the trainer
     * returns its result: the final state, as a checkpoint after the last epoch holds it (so that the final
     * parameters can be written with their state and record, as {@code train --params-out} does). Not called for a
     * run that stops (diverges, or a listener fails).
     *
     * @param state the run's final state; valid only during the call (copy it to keep it)
     * @throws IOException if the listener cannot record it (the trainer then returns no result)
     */
    default void finished(TrainState state) throws IOException {
    }

    /**
     * After each step, for progress bars.
     *
     * @param epoch the current epoch, from 1
     * @param stepInEpoch steps done in this epoch
     * @param stepsPerEpoch steps in an epoch
     * @param loss the running mean train loss of the epoch
     * @param examplesPerSecond training examples per second so far in the epoch
     */
    default void stepDone(int epoch, long stepInEpoch, long stepsPerEpoch, double loss, double examplesPerSecond) {
    }
}
