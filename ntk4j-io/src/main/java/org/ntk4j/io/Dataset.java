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
    /**
     * The most classes a dataset has: labels are class indices below 2^24 = 16,777,216. Every data source and every
     * command refuses a larger label ({@link #requireClassIndex}), so that a label file of something else than
     * classes (ids, counts, a float32 feature saved as {@code y}) is an error naming the label, not a class count of
     * billions (one-hot targets of that many classes would take gigabytes per example, and max(label) + 1 overflows
     * at 2^31-1). The bound: float32 holds every integer up to 2^24 exactly, so labels saved as float32 read as the
     * integers written; no classification task comes near it (ImageNet-21k has 21,841 classes, the largest
     * extreme-classification benchmarks a few million).
     */
    public static final int MAX_CLASSES = 1 << 24;

    private final String name;
    private final Tensor x;
    private final int[] labels;
    private final int numClasses;

    /**
     * A dataset over {@code x} (taken over: closing the dataset closes it).
     *
     * @param name the source spec or a description, used in messages
     * @param x the inputs [N, ...], N at least 1, all finite; not closed on failure
     * @param labels one label per example in [0, numClasses), or null
     * @param numClasses the number of classes (at least max(label) + 1), or 0 when {@code labels} is null
     * @throws IllegalArgumentException naming {@code name} when the labels do not match x or are out of range,
     *     or when x is closed, has no examples or holds NaN or Inf
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
            if (numClasses < 1 || numClasses > MAX_CLASSES) {
                throw new IllegalArgumentException(name + ": numClasses must be in [1, 2^24 = " + MAX_CLASSES
                        + "], got " + numClasses);
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

    /**
     * Why {@code label} is not a class index, or null when it is one: a whole number in [0, {@link #MAX_CLASSES}).
     * The one rule for labels, whatever their file (CSV cells name the cell, the others the example).
     *
     * @param label the label as read (a float label may hold a fraction)
     * @return null, or "is negative", "is not a whole number", "is 2^24 = 16777216 or more (...)"
     */
    public static String notClassIndex(double label) {
        if (label != Math.rint(label) || Double.isInfinite(label)) {
            return "is not a whole number"; // NaN and ±Inf too
        }
        if (label < 0) {
            return "is negative";
        }
        if (label >= MAX_CLASSES) {
            return "is 2^24 = " + MAX_CLASSES + " or more, beyond any class count ntk4j takes (not class indices?)";
        }
        return null;
    }

    /**
     * Refuses a label that is not a class index ({@link #notClassIndex}), in one line naming what holds it, the
     * example and the value: {@code data source 'x.npy:labels=y.npy': label 2000000000 of example 3 in y.npy is 2^24
     * = 16777216 or more, ...; labels are class indices 0, 1, ...}.
     *
     * @param label the label
     * @param example its example's index (0-based)
     * @param source what is read, e.g. {@code data source 'x.npy:labels=y.npy'}, starting the message
     * @param file the file holding the labels, or null when {@code source} says it
     * @return the label, as an int
     * @throws IllegalArgumentException when it is not a class index
     */
    public static int requireClassIndex(long label, long example, String source, String file) {
        String problem = notClassIndex(label);
        if (problem != null) {
            throw new IllegalArgumentException(source + ": label " + label + " of example " + example
                    + (file == null ? "" : " in " + file) + " " + problem + "; labels are class indices 0, 1, ...");
        }
        return (int) label;
    }

    /**
     * The source spec or a description (used in messages and reports).
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * The inputs.
     *
     * @return the tensor [N, ...], owned by this dataset (do not close it; close the dataset)
     */
    public Tensor x() {
        return x;
    }

    /**
     * The class labels.
     *
     * @return one label per example in [0, {@link #numClasses()}), or null when the source has no labels; the
     *     array itself, shared, not to be modified
     */
    public int[] labels() {
        return labels;
    }

    /**
     * Whether the data is labelled.
     *
     * @return true when {@link #labels()} is not null
     */
    public boolean hasLabels() {
        return labels != null;
    }

    /**
     * The number of classes.
     *
     * @return the number of classes (10 for Fashion-MNIST), or 0 without labels
     */
    public int numClasses() {
        return numClasses;
    }

    /**
     * The number of examples.
     *
     * @return N, at least 1
     */
    public int size() {
        return x.dim(0);
    }

    /**
     * The examples for {@link org.ntk4j.train.Trainer}: this dataset's x (not copied) and labels.
     *
     * @return the labelled examples, sharing x with this dataset
     * @throws IllegalArgumentException if the dataset has no labels
     */
    public org.ntk4j.train.Examples examples() {
        if (!hasLabels()) {
            throw new IllegalArgumentException(name + ": training needs labels");
        }
        return new org.ntk4j.train.Examples(x, labels, numClasses);
    }

    /**
     * The shape of one example.
     *
     * @return x's shape without the first axis (a new array); empty when x is [N]
     */
    public int[] exampleShape() {
        return Shapes.dropFirst(x.shape());
    }

    /**
     * Features per example.
     *
     * @return the product of {@link #exampleShape()}
     */
    public int features() {
        return x.size() / x.dim(0);
    }

    /**
     * Fails with one clear line unless every label is below {@code classes} (the model's number of outputs):
     * labels in [0, classes) are needed to build one-hot targets for a model with {@code classes} outputs.
     *
     * @param classes the exclusive upper bound on labels
     * @param what what needs the labels, for the message ("one-hot targets with 10 classes")
     * @throws IllegalArgumentException without labels, or when a label is not below {@code classes}
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
     * @param dtype element type of the targets
     * @param classes the number of columns
     * @return the targets [N, classes], which the caller closes
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

    /**
     * A new dataset with the first {@code n} examples (1 &lt;= n &lt;= N), copied.
     *
     * @param n how many examples to keep
     * @return the dataset, which the caller closes; named NAME:n unless n = N
     * @throws IllegalArgumentException if n is outside [1, N]
     */
    public Dataset head(int n) {
        if (n < 1 || n > size()) {
            throw new IllegalArgumentException(name + ": cannot take the first " + n + " of " + size()
                    + " examples");
        }
        return n == size() ? withX(x.copy()) : rows(0, n);
    }

    /**
     * A new dataset with examples [from, to) (0 &lt;= from &lt; to &lt;= N), copied; labels likewise.
     *
     * @param from the first example, inclusive
     * @param to the end, exclusive
     * @return the dataset, which the caller closes; named NAME:to when from = 0, else NAME[from:to]
     * @throws IllegalArgumentException if the range is empty or outside [0, N)
     */
    public Dataset rows(int from, int to) {
        if (from < 0 || to > size() || from >= to) {
            throw new IllegalArgumentException(name + ": cannot take examples [" + from + ", " + to + ") of "
                    + size());
        }
        Tensor part = Layout.sliceAxis(x, 0, from, to);
        return new Dataset(from == 0 ? name + ":" + to : name + "[" + from + ":" + to + "]", part,
                labels == null ? null : java.util.Arrays.copyOfRange(labels, from, to), numClasses);
    }

    /**
     * A new dataset with the same name and labels and inputs {@code newX} (taken over; same N).
     *
     * @param newX the new inputs [N, ...]; on success closed with the returned dataset, on failure left open
     * @return the dataset, which the caller closes (this dataset stays open and owns its own inputs)
     * @throws IllegalArgumentException if newX does not have N examples, or is closed or holds NaN or Inf
     */

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
