package org.ntk4j.train;

import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.ntk4j.predict.Loss;

/**
 * What a training run does. Build one with {@link #builder()}.
 *
 * @param optimizer the update rule
 * @param loss the training loss (targets are one-hot labels for both losses)
 * @param learningRate the base learning rate η, positive
 * @param schedule the learning-rate schedule
 * @param batchSize the mini-batch size, at least 1 (the last batch of an epoch may be smaller)
 * @param epochs the number of passes over the training set, at least 0
 * @param seed the seed of the shuffling (the caller initialises the parameters, e.g. with the same seed)
 * @param checkpointEpochs the completed epochs after which a checkpoint is taken, from 0 (0: the initial parameters,
 *     before the first step, the reference {@code ntk4j study} measures the kernel's movement from); a sorted copy is
 *     kept
 * @param checkpointEverySteps a checkpoint every this many global steps, or 0 for none
 * @param evalBatchSize the batch size of the evaluation on the test set, at least 1
 * @param batchNormTraining whether the network's inference-mode batch norms ({@link org.ntk4j.nn.BatchNormEval})
 *     train as PyTorch's {@code BatchNorm} in {@code train()} mode: each step normalises by the batch's statistics
 *     and updates the running ones (momentum {@link #BATCH_NORM_MOMENTUM}, the running variance from the unbiased
 *     batch variance), which the evaluation, the checkpoints and the result then hold; false (the default): they
 *     normalise by their running statistics in training too and keep them (PyTorch's {@code eval()} mode, frozen)
 */
public record TrainConfig(Optimizer optimizer, Loss loss, double learningRate, Schedule schedule, int batchSize,
        int epochs, long seed, Set<Integer> checkpointEpochs, long checkpointEverySteps, int evalBatchSize,
        boolean batchNormTraining) {

    /** The batch norms' running-statistics momentum under {@link #batchNormTraining}: PyTorch's default, 0.1. */
    public static final double BATCH_NORM_MOMENTUM = 0.1;

    /**
     * Checks the values.
     *
     * @param optimizer the update rule
     * @param loss the training loss
     * @param learningRate η, positive and finite
     * @param schedule the learning-rate schedule
     * @param batchSize at least 1
     * @param epochs at least 0
     * @param seed the shuffling seed
     * @param checkpointEpochs epochs after which to checkpoint, each at least 0
     * @param checkpointEverySteps at least 0
     * @param evalBatchSize at least 1
     * @param batchNormTraining whether batch norms train with batch statistics and update their running ones
     * @throws IllegalArgumentException if a value is out of range
     */
    public TrainConfig {
        if (optimizer == null || loss == null || schedule == null) {
            throw new IllegalArgumentException("train: optimizer, loss and schedule are required");
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("--lr: expected a finite value > 0, got " + learningRate);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch: expected at least 1, got " + batchSize);
        }
        if (epochs < 0) {
            throw new IllegalArgumentException("--epochs: expected at least 0, got " + epochs);
        }
        if (checkpointEverySteps < 0) {
            throw new IllegalArgumentException("--checkpoint-every-steps: expected at least 0, got "
                    + checkpointEverySteps);
        }
        if (evalBatchSize < 1) {
            throw new IllegalArgumentException("evaluation batch size: expected at least 1, got " + evalBatchSize);
        }
        TreeSet<Integer> ce = new TreeSet<>(checkpointEpochs == null ? Set.of() : checkpointEpochs);
        for (int e : ce) {
            if (e < 0) {
                throw new IllegalArgumentException("--checkpoint-epochs: epochs count from 0 (the initial "
                        + "parameters), got " + e);
            }
        }
        checkpointEpochs = java.util.Collections.unmodifiableSortedSet(ce);
    }

    /**
     * A builder with defaults: SGD without momentum, cross-entropy, η = 0.1, constant schedule, batch 128,
     * 1 epoch, seed 0, no checkpoints, evaluation batch 1000.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A builder that starts from this configuration.
     *
     * @return a new builder with this configuration's values
     */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.optimizer = optimizer;
        b.loss = loss;
        b.learningRate = learningRate;
        b.schedule = schedule;
        b.batchSize = batchSize;
        b.epochs = epochs;
        b.seed = seed;
        b.checkpointEpochs = checkpointEpochs;
        b.checkpointEverySteps = checkpointEverySteps;
        b.evalBatchSize = evalBatchSize;
        b.batchNormTraining = batchNormTraining;
        return b;
    }

    /**
     * Whether a checkpoint is taken after the given completed epoch.
     *
     * @param epoch the completed epoch, from 0 (the initial parameters, before the first step)
     * @return true if it is in {@link #checkpointEpochs}
     */
    public boolean checkpointAfterEpoch(int epoch) {
        return checkpointEpochs.contains(epoch);
    }

    /**
     * What decides the parameters a run produces (everything but the checkpoint choice and, unless the schedule is
     * cosine, the epochs count, so that a resumed run may train longer): compared when resuming.
     *
     * @return a one-line description
     */
    public String describe() {
        String s = String.format(Locale.ROOT, "%s, loss %s, lr %s, schedule %s, batch %d, seed %d",
                optimizer.describe(), loss.shortName(), learningRate, schedule.describe(), batchSize, seed);
        // the cosine schedule depends on the run's length; the batch norms' mode only when it is not the default, so
        // that the records of runs before it was offered stay those of their settings
        String t = batchNormTraining ? s + ", batch norm train" : s;
        return schedule.kind() == Schedule.Kind.COSINE ? t + ", epochs " + epochs : t;
    }

    /** Builds a {@link TrainConfig}. */
    public static final class Builder {
        private Optimizer optimizer = Optimizer.sgd(0, 0);
        private Loss loss = Loss.CROSS_ENTROPY;
        private double learningRate = 0.1;
        private Schedule schedule = Schedule.constant();
        private int batchSize = 128;
        private int epochs = 1;
        private long seed;
        private Set<Integer> checkpointEpochs = Set.of();
        private long checkpointEverySteps;
        private int evalBatchSize = 1000;
        private boolean batchNormTraining;

        private Builder() {
        }

        /**
         * Sets the optimizer.
         *
         * @param v the update rule
         * @return this builder
         */
        public Builder optimizer(Optimizer v) {
            optimizer = v;
            return this;
        }

        /**
         * Sets the loss.
         *
         * @param v the loss
         * @return this builder
         */
        public Builder loss(Loss v) {
            loss = v;
            return this;
        }

        /**
         * Sets the base learning rate.
         *
         * @param v η
         * @return this builder
         */
        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        /**
         * Sets the schedule.
         *
         * @param v the schedule
         * @return this builder
         */
        public Builder schedule(Schedule v) {
            schedule = v;
            return this;
        }

        /**
         * Sets the batch size.
         *
         * @param v the mini-batch size
         * @return this builder
         */
        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        /**
         * Sets the number of epochs.
         *
         * @param v the epochs
         * @return this builder
         */
        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        /**
         * Sets the shuffling seed.
         *
         * @param v the seed
         * @return this builder
         */
        public Builder seed(long v) {
            seed = v;
            return this;
        }

        /**
         * Sets the epochs after which checkpoints are taken.
         *
         * @param v completed epochs, from 0 (0: the initial parameters, before the first step)
         * @return this builder
         */
        public Builder checkpointEpochs(Set<Integer> v) {
            checkpointEpochs = v;
            return this;
        }

        /**
         * Takes a checkpoint after every epoch 1..epochs, the epochs set so far (call {@link #epochs} first); not at
         * epoch 0, which {@link #checkpointEpochs} can name.
         *
         * @return this builder
         */
        public Builder checkpointEveryEpoch() {
            TreeSet<Integer> s = new TreeSet<>();
            for (int e = 1; e <= epochs; e++) {
                s.add(e);
            }
            checkpointEpochs = s;
            return this;
        }

        /**
         * Sets the step interval of checkpoints.
         *
         * @param v a checkpoint every this many global steps, or 0 for none
         * @return this builder
         */
        public Builder checkpointEverySteps(long v) {
            checkpointEverySteps = v;
            return this;
        }

        /**
         * Sets the evaluation batch size.
         *
         * @param v the batch size of the test evaluation
         * @return this builder
         */
        public Builder evalBatchSize(int v) {
            evalBatchSize = v;
            return this;
        }

        /**
         * Sets whether the batch norms train with batch statistics and update their running ones (PyTorch's
         * {@code train()} mode) or keep them and normalise by them (frozen, the default).
         *
         * @param v true for PyTorch's {@code train()} mode
         * @return this builder
         */
        public Builder batchNormTraining(boolean v) {
            batchNormTraining = v;
            return this;
        }

        /**
         * Builds the configuration.
         *
         * @return the configuration
         * @throws IllegalArgumentException if a value is out of range
         */
        public TrainConfig build() {
            return new TrainConfig(optimizer, loss, learningRate, schedule, batchSize, epochs, seed, checkpointEpochs,
                    checkpointEverySteps, evalBatchSize, batchNormTraining);
        }
    }
}
