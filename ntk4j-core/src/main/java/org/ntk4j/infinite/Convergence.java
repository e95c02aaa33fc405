package org.ntk4j.infinite;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Ensemble;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * How far a finite network's eNTK is from its infinite-width limit as the width (an fcn's width, the channels of a
 * cnn or resnet) grows: at each width, the relative Frobenius distance ‖Θ_w − Θ_∞‖_F / ‖Θ_∞‖_F of the trace eNTK
 * (mean over logits, [N, N]) of single initialisations (the mean, min and max over the first {@code seeds} members)
 * and of the ensemble mean over {@code members} initialisations (seeds s, ..., s + members − 1, {@link Ensemble}),
 * against the model's {@link InfiniteLimit}; and the log-log slopes of both in width (theory for single eNTKs:
 * −1/2).
 */
public final class Convergence {
    /** One width's distances. */
    public record Row(int width, double singleMean, double singleMin, double singleMax, double ensemble) {
    }

    /** All widths and the fitted exponents. */
    public record Result(List<Row> rows, double singleExponent, double ensembleExponent) {
    }

    private Convergence() {
    }

    /**
     * Measures, at each width, the distance of single-initialisation eNTKs and of the ensemble-mean eNTK from the
     * analytic limit, and fits the log-log slopes of both.
     *
     * @param specOfWidth the model spec at a width (a zoo model with a limit, {@link InfiniteLimit#SUPPORTED})
     * @param widths the widths to measure, at least one; the exponents are NaN with a single width
     * @param seeds single initialisations per width whose distances are reported (1 ≤ seeds ≤ members)
     * @param members the ensemble size
     * @param configure sets the members' method and budget
     * @param seed the first initialisation seed (members use {@code seed, ..., seed + members - 1})
     * @param x the inputs, {@code [N, ...]}
     * @return one row per width and the fitted exponents
     * @throws IllegalArgumentException if {@code seeds} is outside {@code 1..members} or {@code widths} is empty, or
     *     if the limit is 0 on {@code x} (zero inputs and no biases), before any eNTK is computed
     */
    public static Result run(IntFunction<String> specOfWidth, int[] widths, int seeds, int members, long seed,
                             Tensor x, UnaryOperator<EmpiricalNtk> configure) {
        return run(specOfWidth, widths, seeds, members, seed, x, configure, row -> { });
    }

    /**
     * {@link #run(IntFunction, int[], int, int, long, Tensor, UnaryOperator)}, handing each width's row to
     * {@code onRow} as soon as it is measured (a long study shows, and keeps, the widths it has finished).
     *
     * @param specOfWidth the model spec at a width (a zoo model with a limit, {@link InfiniteLimit#SUPPORTED})
     * @param widths the widths to measure, at least one; the exponents are NaN with a single width
     * @param seeds single initialisations per width whose distances are reported (1 ≤ seeds ≤ members)
     * @param members the ensemble size
     * @param seed the first initialisation seed (members use {@code seed, ..., seed + members - 1})
     * @param x the inputs, {@code [N, ...]}
     * @param configure sets the members' method and budget
     * @param onRow gets each width's row, in the order of {@code widths}
     * @return one row per width and the fitted exponents
     * @throws IllegalArgumentException as the method without {@code onRow}
     */
    public static Result run(IntFunction<String> specOfWidth, int[] widths, int seeds, int members, long seed,
                             Tensor x, UnaryOperator<EmpiricalNtk> configure, Consumer<Row> onRow) {
        return run(specOfWidth, widths, seeds, members, seed, x, configure, onRow, List.of());
    }

    /**
     * {@link #run(IntFunction, int[], int, int, long, Tensor, UnaryOperator, Consumer)} continuing an interrupted
     * run: the widths of {@code finished} are not measured again, their rows (measured with the same settings) take
     * their places. Each width's figures depend on that width alone (its members' seeds are {@code seed, ...}
     * whatever the other widths), so the result equals that of one uninterrupted run.
     *
     * @param specOfWidth the model spec at a width (a zoo model with a limit, {@link InfiniteLimit#SUPPORTED})
     * @param widths the widths of the whole run, at least one
     * @param seeds single initialisations per width whose distances are reported (1 ≤ seeds ≤ members)
     * @param members the ensemble size
     * @param seed the first initialisation seed (members use {@code seed, ..., seed + members - 1})
     * @param x the inputs, {@code [N, ...]}
     * @param configure sets the members' method and budget
     * @param onRow gets the row of each width measured now (not those of {@code finished}), in the order of
     *     {@code widths}
     * @param finished rows measured earlier, each of a width among {@code widths}
     * @return one row per width, in the order of {@code widths}, and the exponents fitted over all of them
     * @throws IllegalArgumentException as the method without {@code finished}, or if a finished row's width is not
     *     among {@code widths}
     */
    public static Result run(IntFunction<String> specOfWidth, int[] widths, int seeds, int members, long seed,
                             Tensor x, UnaryOperator<EmpiricalNtk> configure, Consumer<Row> onRow,
                             List<Row> finished) {
        if (seeds < 1 || seeds > members) {
            throw new IllegalArgumentException("convergence: --seeds must be between 1 and --ensemble (" + members
                    + "), got " + seeds);
        }
        if (widths.length == 0) {
            throw new IllegalArgumentException("convergence: no widths");
        }
        java.util.Map<Integer, Row> earlier = new java.util.HashMap<>();
        for (Row row : finished) {
            if (java.util.Arrays.stream(widths).noneMatch(v -> v == row.width())) {
                throw new IllegalArgumentException("convergence: a finished row of width " + row.width()
                        + ", which is not among the widths " + java.util.Arrays.toString(widths));
            }
            earlier.put(row.width(), row);
        }
        int[] per = Shapes.dropFirst(x.shape());
        DType dt = x.dtype();
        List<Row> rows = new ArrayList<>();
        double[] w = new double[widths.length];
        double[] single = new double[widths.length];
        double[] ens = new double[widths.length];
        for (int i = 0; i < widths.length; i++) {
            Row row = earlier.get(widths[i]);
            if (row == null) {
                row = measure(specOfWidth.apply(widths[i]), widths[i], seeds, members, seed, x, per, dt, configure);
                onRow.accept(row);
            }
            rows.add(row);
            w[i] = widths[i];
            single[i] = row.singleMean();
            ens[i] = row.ensemble();
        }
        double se = widths.length > 1 ? ApproximationReport.logLogSlope(w, single) : Double.NaN;
        double ee = widths.length > 1 ? ApproximationReport.logLogSlope(w, ens) : Double.NaN;
        return new Result(rows, se, ee);
    }

    /** One width's row: the distances of its first {@code seeds} members and of its ensemble mean to the limit. */
    private static Row measure(String spec, int width, int seeds, int members, long seed, Tensor x, int[] per,
                               DType dt, UnaryOperator<EmpiricalNtk> configure) {
        Model net = Zoo.parse(spec);
        try {
            return measure(net, width, seeds, members, seed, x, per, dt, configure, spec);
        } finally {
            // the width's plans and traced graphs: a study measures each width once
            net.releaseCaches();
        }
    }

    /** {@link #measure(String, int, int, int, long, Tensor, int[], DType, UnaryOperator)} of the model built. */
    private static Row measure(Model net, int width, int seeds, int members, long seed, Tensor x, int[] per,
                               DType dt, UnaryOperator<EmpiricalNtk> configure, String spec) {
        double[][] limit;
        try (Tensor lim = InfiniteLimit.of(spec).kernel(KernelKind.trace(), x, null, LimitKernel.NTK, DType.F64)) {
            limit = square(lim);
        }
        if (isZero(limit)) {
            throw new IllegalArgumentException("convergence: the infinite-width NTK of " + spec + " is 0 on "
                    + "these inputs (all of them 0 and no biases, or w_std = b_std = 0): a distance relative to "
                    + "it means nothing");
        }
        double[] d = new double[seeds];
        int[] member = {0};
        double ensemble;
        Ensemble e = Ensemble.of(net, seed, members, per, dt).configure(configure);
        try (Ensemble.Mean m = e.over(ntk -> {
            Tensor k = ntk.kernel(KernelKind.trace(), x, null);
            if (member[0] < seeds) {
                d[member[0]] = distance(square(k), limit);
            }
            member[0]++;
            return k;
        })) {
            ensemble = distance(square(m.mean()), limit);
        }
        double sum = 0;
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        for (double v : d) {
            sum += v;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        return new Row(width, sum / seeds, lo, hi, ensemble);
    }

    /**
     * Relative Frobenius distance ‖a − b‖_F / ‖b‖_F of two matrices of the same shape.
     *
     * @param a the matrix compared
     * @param b the reference (infinite when it is zero and {@code a} is not)
     * @return the relative distance
     */
    public static double distance(double[][] a, double[][] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.length; i++) {
            for (int j = 0; j < b[i].length; j++) {
                double diff = a[i][j] - b[i][j];
                num += diff * diff;
                den += b[i][j] * b[i][j];
            }
        }
        return Math.sqrt(num / den);
    }

    private static boolean isZero(double[][] k) {
        for (double[] row : k) {
            for (double v : row) {
                if (v != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    static double[][] square(Tensor k) {
        double[][] r = new double[k.dim(0)][k.dim(1)];
        for (int i = 0; i < r.length; i++) {
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = k.get(i, j);
            }
        }
        return r;
    }
}
