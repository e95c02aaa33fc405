package org.ntk4j.io;

import java.util.Objects;
import org.ntk4j.cpu.Layout;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * A batch of examples with optional integer class labels: {@code x} is [N, ...] (images are NHWC
 * [N, H, W, C]), {@code labels} has N entries in [0, numClasses) or is null for unlabelled data.
 *
 * <p>A dataset owns its tensor: {@link #close()} releases it. Operations that make new data
 * ({@link #head(int)}, {@link #withX(Tensor)}, {@link Standardizer#apply(Dataset)}) return new datasets that the
 * caller closes too; the labels array is shared (it is never modified).
 */
public final class Dataset implements AutoCloseable {
    private final String name;
    private final Tensor x;
    private final int[] labels;
    private final int numClasses;

    /**
     * A dataset over {@code x} (taken over: closing the dataset closes it).
     *
     * @param labels one label per example in [0, numClasses), or null
     * @param numClasses the number of classes (at least max(label) + 1), or 0 when {@code labels} is null
     * @throws IllegalArgumentException naming {@code name} when the labels do not match x or are out of range,
     *     or when x has no examples or holds NaN or Inf
     */
    public Dataset(String name, Tensor x, int[] labels, int numClasses) {
        this.name = Objects.requireNonNull(name, "name");
        Objects.requireNonNull(x, "x");
        if (x.isClosed()) {
            throw new IllegalArgumentException(name + ": the data tensor was closed");
        }
        if (x.rank() < 1 || x.dim(0) < 1) {
            throw new IllegalArgumentException(name + ": has no examples (shape " + Shapes.str(x.shape()) + ")");
        }
        int bad = x.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(name + ": contains " + x.getFlat(bad) + " at flat index " + bad
                    + " (example " + bad / Math.max(1, x.size() / x.dim(0)) + ")");
        }
        if (labels == null) {
            if (numClasses != 0) {
                throw new IllegalArgumentException(name + ": numClasses=" + numClasses + " given without labels");
            }
        } else {
            if (labels.length != x.dim(0)) {
                throw new IllegalArgumentException(name + ": " + labels.length + " labels for " + x.dim(0)
                        + " examples");
            }
            if (numClasses < 1) {
                throw new IllegalArgumentException(name + ": numClasses must be at least 1, got " + numClasses);
            }
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0 || labels[i] >= numClasses) {
                    throw new IllegalArgumentException(name + ": label " + labels[i] + " of example " + i
                            + " is outside [0, " + numClasses + ")");
                }
            }
        }
        this.x = x;
        this.labels = labels;
        this.numClasses = numClasses;
    }

    /** The source spec or a description (used in messages and reports). */
    public String name() {
        return name;
    }

    /** The inputs [N, ...]; owned by this dataset (do not close it; close the dataset). */
    public Tensor x() {
        return x;
    }

    /** One label per example in [0, {@link #numClasses()}), or null when the source has no labels. */
    public int[] labels() {
        return labels;
    }

    /** True when {@link #labels()} is not null. */
    public boolean hasLabels() {
        return labels != null;
    }

    /** The number of classes (10 for Fashion-MNIST), or 0 without labels. */
    public int numClasses() {
        return numClasses;
    }

    /** N, the number of examples. */
    public int size() {
        return x.dim(0);
    }

    /** The shape of one example (x's shape without the first axis). */
    public int[] exampleShape() {
        return Shapes.dropFirst(x.shape());
    }

    /** Features per example (the product of {@link #exampleShape()}). */
    public int features() {
        return x.size() / x.dim(0);
    }

    /**
     * Fails with one clear line unless every label is below {@code classes} (the model's number of outputs):
     * labels in [0, classes) are needed to build one-hot targets for a model with {@code classes} outputs.
     */
    public void requireLabelsBelow(int classes, String what) {
        if (labels == null) {
            throw new IllegalArgumentException(name + ": has no labels; " + what + " needs labelled data "
                    + "(see docs/data.md)");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] >= classes) {
                throw new IllegalArgumentException(name + ": label " + labels[i] + " of example " + i
                        + " is outside [0, " + classes + ") for " + what);
            }
        }
    }

    /**
     * One-hot targets [N, classes] of {@code dtype}: 1 at the label's column, 0 elsewhere.
     *
     * @throws IllegalArgumentException without labels, or when a label is not below {@code classes}
     */
    public Tensor oneHot(DType dtype, int classes) {
        requireLabelsBelow(classes, "one-hot targets with " + classes + " classes");
        Tensor t = Tensor.zeros(dtype, labels.length, classes);
        for (int i = 0; i < labels.length; i++) {
            t.setFlat(i * classes + labels[i], 1.0);
        }
        return t;
    }

    /** A new dataset with the first {@code n} examples (1 &lt;= n &lt;= N), copied. */
    public Dataset head(int n) {
        if (n < 1 || n > size()) {
            throw new IllegalArgumentException(name + ": cannot take the first " + n + " of " + size()
                    + " examples");
        }
        return n == size() ? withX(x.copy()) : rows(0, n);
    }

    /** A new dataset with examples [from, to) (0 &lt;= from &lt; to &lt;= N), copied; labels likewise. */
    public Dataset rows(int from, int to) {
        if (from < 0 || to > size() || from >= to) {
            throw new IllegalArgumentException(name + ": cannot take examples [" + from + ", " + to + ") of "
                    + size());
        }
        Tensor part = Layout.sliceAxis(x, 0, from, to);
        return new Dataset(from == 0 ? name + ":" + to : name + "[" + from + ":" + to + "]", part,
                labels == null ? null : java.util.Arrays.copyOfRange(labels, from, to), numClasses);
    }

    /** A new dataset with the same name and labels and inputs {@code newX} (taken over; same N). */
    public Dataset withX(Tensor newX) {
        if (newX.rank() < 1 || newX.dim(0) != size()) {
            throw new IllegalArgumentException(name + ": new inputs of shape " + Shapes.str(newX.shape())
                    + " do not have " + size() + " examples");
        }
        return new Dataset(name, newX, labels, numClasses);
    }

    @Override
    public void close() {
        x.close();
    }

    @Override
    public String toString() {
        return name + ": x " + x + (labels == null ? ", unlabelled" : ", " + numClasses + " classes");
    }
}
