package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * How the pNTK's error against the full eNTK falls with width ({@code ntk4j approx --widths}): at each width, the
 * relative Frobenius error ‖Θ − K ⊗ I_O‖_F / ‖Θ‖_F of the pNTK K against the full kernel Θ [N, N, O, O] of the same
 * initialisation, over several seeds, and the fitted exponent of the mean error in width (theory: −1/2).
 */
public final class PntkWidthStudy {
    private PntkWidthStudy() {
    }

    /**
     * The errors at one width.
     *
     * @param width the width
     * @param meanError the mean over seeds of the relative Frobenius error
     * @param minError the smallest over seeds
     * @param maxError the largest over seeds
     */
    public record Row(int width, double meanError, double minError, double maxError) {
    }

    /**
     * The study.
     *
     * @param rows one row per width, in the order given
     * @param exponent the least-squares slope of log(mean error) against log(width)
     */
    public record Result(List<Row> rows, double exponent) {
        /**
         * Copies the list.
         *
         * @param rows one row per width, in the order given
         * @param exponent the least-squares slope of log(mean error) against log(width)
         */
        public Result {
            rows = List.copyOf(rows);
        }
    }

    /**
     * Runs the study.
     *
     * @param modelAtWidth the model at a given width
     * @param widths the widths, at least two for an exponent
     * @param seeds initialisations per width (seeds {@code seed} ... {@code seed + seeds − 1})
     * @param seed the first seed
     * @param x the inputs [N, ...]; not closed
     * @param method the NTK method, or AUTO
     * @return the errors per width and the fitted exponent
     */
    public static Result run(IntFunction<Model> modelAtWidth, int[] widths, int seeds, long seed, Tensor x,
                             Method method) {
        return run(modelAtWidth, widths, seeds, seed, x, method, row -> { }, List.of());
    }

    /**
     * Runs the study, handing each width's row to {@code onRow} as soon as it is measured, or continues an
     * interrupted one: the widths of {@code finished} are not measured again, their rows (measured with the same
     * settings) take their places. A width's errors depend on that width alone (seeds {@code seed, ...} at every
     * width), so the result equals that of one uninterrupted run.
     *
     * @param modelAtWidth the model at a given width; each model's caches are released ({@link
     *     Model#releaseCaches}) once its width is measured
     * @param widths the widths of the whole study, at least two for an exponent
     * @param seeds initialisations per width (seeds {@code seed} ... {@code seed + seeds − 1})
     * @param seed the first seed
     * @param x the inputs [N, ...]; not closed
     * @param method the NTK method, or AUTO
     * @param onRow gets the row of each width measured now (not those of {@code finished}), in the order of
     *     {@code widths}
     * @param finished rows measured earlier, each of a width among {@code widths}
     * @return the errors per width, in the order of {@code widths}, and the exponent fitted over all of them
     * @throws IllegalArgumentException if a finished row's width is not among {@code widths}
     */
    public static Result run(IntFunction<Model> modelAtWidth, int[] widths, int seeds, long seed, Tensor x,
                             Method method, java.util.function.Consumer<Row> onRow, List<Row> finished) {
        return run(modelAtWidth, widths, seeds, seed, x, e -> e.method(method), onRow, finished);
    }

    /**
     * {@link #run(IntFunction, int[], int, long, Tensor, Method, java.util.function.Consumer, List)} with each
     * kernel's {@link EmpiricalNtk} configured by {@code configure} (its method and memory budget, which then bind
     * both kernels of every seed) instead of a method alone.
     *
     * @param modelAtWidth the model at a given width; each model's caches are released once its width is measured
     * @param widths the widths of the whole study, at least two for an exponent
     * @param seeds initialisations per width (seeds {@code seed} ... {@code seed + seeds − 1})
     * @param seed the first seed
     * @param x the inputs [N, ...]; not closed
     * @param configure applied to each initialisation's {@link EmpiricalNtk} (method, memory budget)
     * @param onRow gets the row of each width measured now, in the order of {@code widths}
     * @param finished rows measured earlier, each of a width among {@code widths}
     * @return the errors per width, in the order of {@code widths}, and the exponent fitted over all of them
     * @throws IllegalArgumentException if a finished row's width is not among {@code widths}, or a kernel's plan
     *     does not fit the configured memory budget
     */
    public static Result run(IntFunction<Model> modelAtWidth, int[] widths, int seeds, long seed, Tensor x,
                             java.util.function.UnaryOperator<EmpiricalNtk> configure,
                             java.util.function.Consumer<Row> onRow, List<Row> finished) {
        java.util.Map<Integer, Row> earlier = new java.util.HashMap<>();
        for (Row row : finished) {
            if (java.util.Arrays.stream(widths).noneMatch(v -> v == row.width())) {
                throw new IllegalArgumentException("pNTK width study: a finished row of width " + row.width()
                        + ", which is not among the widths " + java.util.Arrays.toString(widths));
            }
            earlier.put(row.width(), row);
        }
        KernelKind pntk = KernelKind.parse("pntk", seed);
        int[] per = java.util.Arrays.copyOfRange(x.shape(), 1, x.rank());
        List<Row> rows = new ArrayList<>();
        double[] w = new double[widths.length];
        double[] err = new double[widths.length];
        for (int i = 0; i < widths.length; i++) {
            Row row = earlier.get(widths[i]);
            if (row == null) {
                Model net = modelAtWidth.apply(widths[i]);
                double sum = 0;
                double lo = Double.POSITIVE_INFINITY;
                double hi = 0;
                try {
                    for (int s = 0; s < seeds; s++) {
                        try (Params p = net.init(seed + s, per, x.dtype())) {
                            EmpiricalNtk ntk = configure.apply(EmpiricalNtk.of(net, p));
                            try (Tensor full = ntk.kernel(KernelKind.full(), x, null);
                                 Tensor k = ntk.kernel(pntk, x, null)) {
                                double e = relativeError(full, k);
                                sum += e;
                                lo = Math.min(lo, e);
                                hi = Math.max(hi, e);
                            }
                        }
                    }
                } finally {
                    // the width's plans and traced graphs: a study measures each width once
                    net.releaseCaches();
                }
                row = new Row(widths[i], sum / seeds, lo, hi);
                onRow.accept(row);
            }
            w[i] = widths[i];
            err[i] = row.meanError();
            rows.add(row);
        }
        return new Result(rows, ApproximationReport.logLogSlope(w, err));
    }

    /**
     * ‖Θ − K ⊗ I‖_F / ‖Θ‖_F.
     *
     * @param full Θ [N, N, O, O]
     * @param k K [N, N]
     * @return the relative Frobenius error
     */
    public static double relativeError(Tensor full, Tensor k) {
        int n = full.dim(0);
        int o = full.dim(2);
        double num = 0;
        double den = 0;
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < o; i++) {
                    for (int j = 0; j < o; j++) {
                        double t = full.get(a, b, i, j);
                        double d = t - (i == j ? k.get(a, b) : 0);
                        num += d * d;
                        den += t * t;
                    }
                }
            }
        }
        return Math.sqrt(num / den);
    }
}
