package org.ntk4j.train;

import org.ntk4j.tensor.Tensor;

/**
 * Labelled examples to train or evaluate on: inputs x [N, in...] in the model's layout (already standardised) and
 * one class label per example; the targets are the one-hot labels.
 *
 * @param x the inputs [N, in...], not closed by the trainer
 * @param labels N labels in [0, classes)
 * @param classes the number of classes, the model's output width
 */
public record Examples(Tensor x, int[] labels, int classes) {
    /**
     * Checks the shapes and labels.
     *
     * @param x the inputs [N, in...]
     * @param labels N labels in [0, classes)
     * @param classes the number of classes, at least 1
     * @throws IllegalArgumentException if the counts differ or a label is out of range
     */
    public Examples {
        if (x == null || labels == null) {
            throw new IllegalArgumentException("train: examples need inputs and labels");
        }
        if (x.rank() < 1 || x.dim(0) != labels.length) {
            throw new IllegalArgumentException("train: " + labels.length + " labels for inputs of shape "
                    + java.util.Arrays.toString(x.shape()));
        }
        if (classes < 1) {
            throw new IllegalArgumentException("train: expected at least 1 class, got " + classes);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("train: label " + labels[i] + " of example " + i
                        + " is outside [0, " + classes + ")");
            }
        }
    }

    /**
     * The number of examples.
     *
     * @return N
     */
    public int size() {
        return labels.length;
    }
}
