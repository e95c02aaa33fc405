/**
 * Training networks by mini-batch stochastic gradient descent: {@link org.ntk4j.train.Trainer} runs SGD with
 * momentum and weight decay or Adam on the cross-entropy or MSE loss of {@link org.ntk4j.predict.Loss}, with
 * learning-rate schedules, seeded shuffling, per-epoch evaluation and checkpoints ({@link org.ntk4j.train.TrainState})
 * from which a run resumes bit for bit. Gradients are one batched vector-Jacobian product per mini-batch, through
 * a VJP graph traced once per batch shape.
 */
package org.ntk4j.train;
