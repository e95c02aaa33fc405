package org.ntk4j.train;

/**
 * The curves' values after one epoch (epoch 0: at initialisation, before any step).
 *
 * @param epoch the completed epoch, from 0
 * @param step the global steps done so far
 * @param learningRate the learning rate of the epoch's last step (η at epoch 0)
 * @param trainLoss the mean of the epoch's mini-batch losses, weighted by batch size (NaN at epoch 0)
 * @param testLoss the loss on the test set (NaN without one)
 * @param testAccuracy the fraction of test examples whose largest output is the label (NaN without a test set)
 * @param examplesPerSecond training examples per second over the epoch (NaN at epoch 0)
 * @param seconds the epoch's training time in seconds, evaluation excluded (0 at epoch 0)
 */
public record EpochMetrics(int epoch, long step, double learningRate, double trainLoss, double testLoss,
        double testAccuracy, double examplesPerSecond, double seconds) {

    /**
     * The values as an array, in the order of the record's components (the checkpoint stores the history so).
     *
     * @return {epoch, step, learningRate, trainLoss, testLoss, testAccuracy, examplesPerSecond, seconds}
     */
    public double[] toArray() {
        return new double[] {epoch, step, learningRate, trainLoss, testLoss, testAccuracy, examplesPerSecond,
            seconds};
    }

    /**
     * The inverse of {@link #toArray}.
     *
     * @param a eight values in the order of {@link #toArray}, starting at {@code from}
     * @param from the index of the first value
     * @return the metrics
     */
    public static EpochMetrics fromArray(double[] a, int from) {
        return new EpochMetrics((int) a[from], (long) a[from + 1], a[from + 2], a[from + 3], a[from + 4],
                a[from + 5], a[from + 6], a[from + 7]);
    }

    /** The number of values in {@link #toArray}. */
    public static final int FIELDS = 8;
}
