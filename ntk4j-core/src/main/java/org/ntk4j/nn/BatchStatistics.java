package org.ntk4j.nn;

import org.ntk4j.graph.Var;

/**
 * The statistics of one batch at an inference-mode batch norm ({@link BatchNormEval}) traced in training mode
 * ({@link Model#traceTrainingInto}): what a training step updates the running statistics with, as PyTorch's
 * {@code BatchNorm} in {@code train()} mode does.
 *
 * @param meanPath the path of the running mean buffer ({@code .../running_mean})
 * @param varPath the path of the running variance buffer ({@code .../running_var})
 * @param mean the batch mean per channel [C], a value of the traced graph
 * @param variance the biased batch variance per channel [C] (what the batch is normalised by), a value of the graph
 * @param count the values per channel the statistics are over (the batch size times the spatial positions), for
 *     the unbiased variance var · count / (count − 1) that the running variance takes
 */
public record BatchStatistics(String meanPath, String varPath, Var mean, Var variance, long count) {
}
