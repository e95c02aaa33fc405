package org.ntk4j.study;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;
import java.util.function.UnaryOperator;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.tensor.Tensor;

/**
 * The eNTK and its N×N approximations through training, at several widths: what Mohamadi, Bae &amp; Sutherland
 * (2023) measure for the pNTK. Checkpoints are added one at a time ({@link #add}), each a width, an epoch and the
 * network's parameters then, from files or from a trainer's per-epoch callback. At each one the full eNTK Θ_t and
 * every kind K are computed on a fixed held-out sample split into a kernel-regression training part (N inputs,
 * one-hot targets [N, O]) and a test part (M inputs with labels), and {@link ApproximationReport} gives, per kind,
 * the relative Frobenius error of K ⊗ I_O against Θ_t, the relative error of λ_max, the ratios of λ_min and of the
 * condition number, and the test accuracy of kernel regression with K and with Θ_t. On top of that the study
 * measures the kernel velocity ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F: how far the full training-part eNTK has moved from the
 * epoch-0 (initialisation) kernel of the same width, whose checkpoint must be the first one added for each width.
 *
 * <p>The sample's tensors stay the caller's. The epoch-0 kernel of each width is kept as float64 (N·O)² values
 * until {@link #forget(int)}.
 */
public final class TrainingStudy {
    /**
     * The figures at one checkpoint.
     *
     * @param width the width of the network
     * @param epoch the epoch of the checkpoint (0 = initialisation)
     * @param kernelVelocity ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F of the full eNTK on the training part of the sample
     * @param fullTestAccuracy the test accuracy of kernel regression with the full eNTK, in [0, 1]
     * @param kinds the approximation report's rows, one per kind in the study's order
     * @param seconds wall-clock seconds for this checkpoint
     */
    public record Point(int width, int epoch, double kernelVelocity, double fullTestAccuracy,
                        List<ApproximationReport.Row> kinds, double seconds) {
        /**
         * The copy of the row list is unmodifiable.
         *
         * @param width the width of the network
         * @param epoch the epoch of the checkpoint (0 = initialisation)
         * @param kernelVelocity ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F of the full eNTK on the training part of the sample
         * @param fullTestAccuracy the test accuracy of kernel regression with the full eNTK, in [0, 1]
         * @param kinds the approximation report's rows, one per kind in the study's order
         * @param seconds wall-clock seconds for this checkpoint
         */
        public Point {
            kinds = List.copyOf(kinds);
        }

        /**
         * The row of one kind.
         *
         * @param kind the kind as {@link KernelKind#toString()} writes it ("pntk")
         * @return its row
         * @throws IllegalArgumentException if the study has no such kind
         */
        public ApproximationReport.Row kind(String kind) {
            for (ApproximationReport.Row r : kinds) {
                if (r.kind.equals(kind)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("training study: no kind " + kind + " among " + kindNames(kinds));
        }
    }

    private final Tensor xTrain;
    private final Tensor yTrain;
    private final Tensor xTest;
    private final int[] testLabels;
    private final List<KernelKind> kinds;
    private final DiagReg diagReg;
    private final UnaryOperator<EmpiricalNtk> configure;
    private final Map<Integer, double[]> reference = new HashMap<>();
    private final Map<Integer, Integer> lastEpoch = new HashMap<>();
    private final List<Point> points = new ArrayList<>();

    private TrainingStudy(Tensor xTrain, Tensor yTrain, Tensor xTest, int[] testLabels, List<KernelKind> kinds,
                          DiagReg diagReg, UnaryOperator<EmpiricalNtk> configure) {
        this.xTrain = xTrain;
        this.yTrain = yTrain;
        this.xTest = xTest;
        this.testLabels = testLabels.clone();
        this.kinds = List.copyOf(kinds);
        this.diagReg = diagReg;
        this.configure = configure;
    }

    /**
     * A study on a fixed held-out sample, with no checkpoint yet.
     *
     * @param xTrain the kernel-regression training part of the sample [N, ...], N at least 2
     * @param yTrain its targets [N, O] (one-hot labels), O the number of logits of the models
     * @param xTest the test part [M, ...], of the same per-example shape
     * @param testLabels the classes in [0, O) of the M test inputs
     * @param kinds the N×N kinds to compare with the full eNTK, at least one (the pNTK first, usually)
     * @param diagReg diagonal regularisation of kernel regression, of each kernel (relative to its trace/dimension,
     *     or absolute), as {@link ApproximationReport#run} takes it
     * @param configure applied to each checkpoint's {@link EmpiricalNtk} (method, memory budget); null for none
     * @return the study
     * @throws IllegalArgumentException if the sizes do not match, there is no kind, a kind is not N×N, or diagReg is
     *     null
     */
    public static TrainingStudy of(Tensor xTrain, Tensor yTrain, Tensor xTest, int[] testLabels,
                                   List<KernelKind> kinds, DiagReg diagReg,
                                   UnaryOperator<EmpiricalNtk> configure) {
        if (diagReg == null) {
            throw new IllegalArgumentException("diagReg: expected a DiagReg (DiagReg.NONE for none), got null");
        }
        if (xTrain.dim(0) < 2 || yTrain.rank() != 2 || yTrain.dim(0) != xTrain.dim(0)) {
            throw new IllegalArgumentException("training study: need at least 2 training inputs and targets [N, O] "
                    + "for them, got " + xTrain.dim(0) + " inputs and targets of rank " + yTrain.rank());
        }
        if (testLabels.length != xTest.dim(0) || testLabels.length < 1) {
            throw new IllegalArgumentException("training study: " + testLabels.length + " test labels for "
                    + xTest.dim(0) + " test inputs");
        }
        if (kinds.isEmpty()) {
            throw new IllegalArgumentException("training study: give at least one N×N kind");
        }
        for (KernelKind k : kinds) {
            if (!k.isSquare()) {
                throw new IllegalArgumentException("training study: " + k + " is not an N×N kind");
            }
        }
        return new TrainingStudy(xTrain, yTrain, xTest, testLabels, kinds, diagReg,
                configure == null ? UnaryOperator.identity() : configure);
    }

    /**
     * Measures one checkpoint and records its {@link Point}. The first checkpoint of each width must be epoch 0
     * (its kernel is the reference of the kernel velocity); later ones of that width have increasing epochs.
     *
     * @param width the width of the network, the key its checkpoints are grouped by
     * @param epoch the epoch of the checkpoint, 0 for the initialisation
     * @param model the network at that width
     * @param params its parameters at that epoch, with their {@link Params#buffers} (batch-norm running statistics),
     *     which the kernel computes with where they have any, in place of the model's; left open
     * @return the point, also appended to {@link #points()}
     * @throws IllegalArgumentException if the width's first checkpoint is not epoch 0, an epoch does not
     *     increase, or the model's outputs are not [N, O] with O the targets' columns
     */
    public Point add(int width, int epoch, Model model, Params params) {
        requireNext(width, epoch);
        if (epoch != 0 && !reference.containsKey(width)) {
            throw new IllegalArgumentException("training study: width " + width + ": its epoch-0 point was restored "
                    + "without its kernel; call reference(" + width + ", ...) before adding epoch " + epoch);
        }
        int[] per = org.ntk4j.tensor.Shapes.dropFirst(xTrain.shape());
        int[] out = model.outputShape(per);
        if (out.length != 1 || out[0] != yTrain.dim(1)) {
            throw new IllegalArgumentException("training study: " + model.spec() + " has outputs [N] + "
                    + org.ntk4j.tensor.Shapes.str(out) + "; the targets need [N, " + yTrain.dim(1) + "]");
        }
        long t0 = System.nanoTime();
        double[] velocity = {0};
        Model net = network(model, params);
        ApproximationReport report;
        try {
            EmpiricalNtk ntk = configure.apply(EmpiricalNtk.of(net, params));
            report = ApproximationReport.run(ntk, xTrain, xTest, yTrain, testLabels, kinds, diagReg, theta -> {
                if (epoch == 0) {
                    reference.put(width, theta.toDoubleArray());
                } else {
                    velocity[0] = relativeChange(theta, reference.get(width));
                }
            });
        } finally {
            if (net != model) {
                net.releaseCaches();
            }
        }
        lastEpoch.put(width, epoch);
        Point p = new Point(width, epoch, velocity[0], report.fullTestAccuracy(), report.rows(),
                (System.nanoTime() - t0) / 1e9);
        points.add(p);
        return p;
    }

    /**
     * Records a point measured earlier (by a run that stopped, read back from its report) instead of measuring it;
     * the same order as {@link #add} applies. No kernel is kept: before {@link #add}ing a later epoch of a width
     * whose epoch 0 was restored, give its epoch-0 kernel with {@link #reference}.
     *
     * @param point the point, with the figures the metrics read
     * @throws IllegalArgumentException as {@link #add} for the width and epoch
     */
    public void restore(Point point) {
        requireNext(point.width(), point.epoch());
        lastEpoch.put(point.width(), point.epoch());
        points.add(point);
    }

    /**
     * Computes and keeps the epoch-0 (initialisation) kernel of a width whose epoch-0 point was {@link #restore}d:
     * the full eNTK on the training part, as {@link #add} computes it at epoch 0, the reference of the kernel
     * velocity of the width's later epochs.
     *
     * @param width the width
     * @param model the network at that width
     * @param params its epoch-0 parameters, their buffers the network's where they have any (as {@link #add}); left
     *     open
     */
    public void reference(int width, Model model, Params params) {
        Model net = network(model, params);
        try {
            EmpiricalNtk ntk = configure.apply(EmpiricalNtk.of(net, params));
            try (Tensor theta = ntk.kernel(KernelKind.full(), xTrain, null)) {
                reference.put(width, theta.toDoubleArray());
            }
        } finally {
            if (net != model) {
                net.releaseCaches();
            }
        }
    }

    /**
     * The network of a checkpoint: the model with the checkpoint's buffers (its batch norms' running statistics,
     * which a run in PyTorch's train() mode updates, {@link org.ntk4j.train.TrainConfig#batchNormTraining}) where it
     * has any, as the trainer's checkpoints, callbacks and result carry them; the model itself otherwise. Before
     * 2026-12-07 such a checkpoint was refused (its buffers differ from the model's), so each caller had to pass the
     * model with them.
     */
    private static Model network(Model model, Params params) {
        return params.buffers().isEmpty() ? model : model.withBuffers(params.buffers());
    }

    /** Refuses an epoch that cannot come next for the width: a first one that is not 0, or one not increasing. */
    private void requireNext(int width, int epoch) {
        Integer last = lastEpoch.get(width);
        if (last == null && epoch != 0) {
            throw new IllegalArgumentException("training study: width " + width + " starts at epoch " + epoch
                    + "; its first checkpoint must be epoch 0 (the initialisation), which the kernel velocity is "
                    + "measured against");
        }
        if (last != null && epoch <= last) {
            throw new IllegalArgumentException("training study: width " + width + ": epoch " + epoch
                    + " after epoch " + last + "; epochs must increase");
        }
    }

    /**
     * Drops the epoch-0 kernel kept for {@code width} (no further checkpoint of that width can be added); the
     * recorded points stay.
     *
     * @param width the width whose checkpoints are all added
     */
    public void forget(int width) {
        if (reference.remove(width) != null) {
            lastEpoch.put(width, Integer.MAX_VALUE);
        }
    }

    /**
     * ‖Θ − Θ₀‖_F / ‖Θ₀‖_F, in float64.
     *
     * @param theta the kernel Θ, any shape
     * @param theta0 the reference Θ₀, its elements in row-major order
     * @return the relative Frobenius distance
     * @throws IllegalArgumentException if the sizes differ or Θ₀ is zero
     */
    public static double relativeChange(Tensor theta, double[] theta0) {
        if (theta.size() != theta0.length) {
            throw new IllegalArgumentException("training study: a kernel of " + theta.size() + " elements against a "
                    + "reference of " + theta0.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < theta0.length; i++) {
            double d = theta.getFlat(i) - theta0[i];
            num += d * d;
            den += theta0[i] * theta0[i];
        }
        if (den == 0) {
            throw new IllegalArgumentException("training study: the reference kernel is zero");
        }
        return Math.sqrt(num / den);
    }

    /**
     * Every point recorded so far, in the order added.
     *
     * @return an unmodifiable view
     */
    public List<Point> points() {
        return java.util.Collections.unmodifiableList(points);
    }

    /**
     * The widths with at least one point, increasing.
     *
     * @return the widths
     */
    public int[] widths() {
        TreeSet<Integer> s = new TreeSet<>();
        points.forEach(p -> s.add(p.width()));
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The epochs with a point of any width, increasing.
     *
     * @return the epochs
     */
    public int[] epochs() {
        TreeSet<Integer> s = new TreeSet<>();
        points.forEach(p -> s.add(p.epoch()));
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The kinds compared, as {@link KernelKind#toString()} writes them.
     *
     * @return the names, in the study's order
     */
    public List<String> kindNames() {
        List<String> names = new ArrayList<>();
        kinds.forEach(k -> names.add(k.toString()));
        return names;
    }

    /**
     * One metric of one width against the epochs of {@link #epochs()}.
     *
     * @param width the width
     * @param metric what to read from a point
     * @return the values by epoch, NaN where that width has no point at that epoch
     */
    public double[] series(int width, ToDoubleFunction<Point> metric) {
        int[] epochs = epochs();
        double[] v = new double[epochs.length];
        java.util.Arrays.fill(v, Double.NaN);
        for (Point p : points) {
            if (p.width() == width) {
                v[java.util.Arrays.binarySearch(epochs, p.epoch())] = metric.applyAsDouble(p);
            }
        }
        return v;
    }

    private static String kindNames(List<ApproximationReport.Row> rows) {
        List<String> names = new ArrayList<>();
        rows.forEach(r -> names.add(r.kind));
        return names.toString();
    }
}
