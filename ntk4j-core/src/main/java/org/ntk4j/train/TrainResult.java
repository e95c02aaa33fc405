package org.ntk4j.train;

import java.util.List;
import org.ntk4j.nn.Params;

/**
 * The outcome of a run: the final parameters and the curves.
 *
 * @param params the final parameters, owned by the caller
 * @param curves the metrics of every epoch, from epoch 0 (initialisation)
 */
public record TrainResult(Params params, List<EpochMetrics> curves) implements AutoCloseable {
    /** Closes the parameters. */
    @Override
    public void close() {
        params.close();
    }
}
