package org.ntk4j.plot;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.ntk4j.io.AtomicFile;

/**
 * PNG charts for ntk4j, drawn with XChart in headless mode (no display needed): a log-log line chart with several
 * series, an eigenvalue spectrum on log axes, and a heatmap of a kernel matrix with its examples ordered by label.
 * Inputs are plain arrays, so any module (the CLI, the benchmarks) can use them without ntk4j's tensors.
 */
public final class Charts {
    static {
        // AWT must not look for a display; set before any AWT class initialises.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** Default PNG width in pixels (heatmaps are 100 pixels wider). */
    public static final int WIDTH = 800;
    /** Default PNG height in pixels (heatmaps are 100 pixels taller). */
    public static final int HEIGHT = 600;

    private Charts() {
    }

    /**
     * One named line of a chart: points (x[i], y[i]).
     *
     * @param name the legend entry
     * @param x the x values, copied on construction
     * @param y the y values, one per x value, copied on construction
     */
    public record Series(String name, double[] x, double[] y) {
        /**
         * A series over copies of {@code x} and {@code y}.
         *
         * @param name the legend entry
         * @param x the x values
         * @param y the y values, one per x value
         * @throws IllegalArgumentException if the name, {@code x} or {@code y} is null, or {@code x} and {@code y}
         *     differ in length
         */
        public Series {
            if (name == null) {
                throw new IllegalArgumentException("series: no name given (the legend entry)");
            }
            if (x == null || y == null) {
                throw new IllegalArgumentException("series '" + name + "': no " + (x == null ? "x" : "y")
                        + " values given");
            }
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values but " + y.length
                        + " y values");
            }
            x = x.clone();
            y = y.clone();
        }
    }

    /**
     * A line chart with logarithmic x and y axes, one line with markers per series. Points whose x or y is not
     * positive and finite cannot sit on log axes and are left out; a series left with no point is an error. The
     * legend stands outside the plot, on its right, so that it never hides a point, and both axes have labelled
     * ticks however narrow their range (see {@link #logLogLines(Path, String, String, String, List, double)}).
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one, with distinct names
     * @throws IllegalArgumentException if there is no series, two series have one name, a series has no drawable
     *     point, or the file name does not end in {@code .png} (checked first: nothing is then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void logLogLines(Path png, String title, String xLabel, String yLabel, List<Series> series)
            throws IOException {
        logLogLines(png, title, xLabel, yLabel, series, 0);
    }

    /**
     * {@link #logLogLines(Path, String, String, String, List)} leaving out the points whose y is below
     * {@code yFloor} too (a curve falling to round-off, e.g. a training loss at 1e-30, would squash the others).
     *
     * <p>XChart labels a log axis at its powers of ten only, so an axis over 16 to 64 would have none. Each axis is
     * labelled at its powers of ten when its data hold two of them; at every tick (1 to 9 times a power of ten)
     * when the data span at most a decade; otherwise (between one and two decades, one power of ten inside) it is
     * widened to the nearer power of ten outside the data, which then makes two.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one, with distinct names
     * @param yFloor the smallest y drawn; 0 or less draws every positive y
     * @throws IllegalArgumentException if there is no series, two series have one name, a series has no drawable
     *     point, or the file name does not end in {@code .png} (checked first: nothing is then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void logLogLines(Path png, String title, String xLabel, String yLabel, List<Series> series,
                                   double yFloor) throws IOException {
        requirePng("logLogLines", png);
        write(logLogChart(title, xLabel, yLabel, series, yFloor), png);
    }

    /** The chart {@link #logLogLines(Path, String, String, String, List, double)} writes. */
    static XYChart logLogChart(String title, String xLabel, String yLabel, List<Series> series, double yFloor) {
        List<Series> drawn = drawable("logLogLines", series, (x, y) -> positive(x) && positive(y) && y >= yFloor,
                "positive finite x and y" + (yFloor > 0 ? " (y >= " + yFloor + ")" : ""));
        XYChart chart = lineChart(title, xLabel, yLabel, drawn);
        logAxes(chart, drawn);
        return chart;
    }

    /**
     * A line chart with linear axes, one line with markers per series (e.g. a metric against the training epoch,
     * one line per width). Points whose x or y is not finite are left out; a series left with no point is an error.
     * The legend stands outside the plot, on its right.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one, with distinct names
     * @throws IllegalArgumentException if there is no series, two series have one name, a series has no finite
     *     point, or the file name does not end in {@code .png} (checked first: nothing is then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void lines(Path png, String title, String xLabel, String yLabel, List<Series> series)
            throws IOException {
        requirePng("lines", png);
        List<Series> drawn = drawable("lines", series, (x, y) -> Double.isFinite(x) && Double.isFinite(y),
                "finite x and y");
        write(lineChart(title, xLabel, yLabel, drawn), png);
    }

    /** Which points of a series a chart can draw. */
    @FunctionalInterface
    private interface PointFilter {
        boolean drawn(double x, double y);
    }

    /**
     * The series with only their drawable points, after checking that there is a series, that names are distinct
     * (they are the legend's entries) and that every series keeps a point.
     */
    private static List<Series> drawable(String chart, List<Series> series, PointFilter filter, String what) {
        if (series.isEmpty()) {
            throw new IllegalArgumentException(chart + ": no series to draw");
        }
        Set<String> names = new HashSet<>();
        List<Series> out = new ArrayList<>(series.size());
        for (Series s : series) {
            if (!names.add(s.name())) {
                throw new IllegalArgumentException(chart + ": two series are named '" + s.name()
                        + "'; each needs a name of its own (the legend tells them apart by name)");
            }
            double[] xs = new double[s.x().length];
            double[] ys = new double[xs.length];
            int k = 0;
            for (int i = 0; i < xs.length; i++) {
                if (filter.drawn(s.x()[i], s.y()[i])) {
                    xs[k] = s.x()[i];
                    ys[k++] = s.y()[i];
                }
            }
            if (k == 0) {
                throw new IllegalArgumentException(chart + ": series '" + s.name() + "' has no point with " + what);
            }
            out.add(new Series(s.name(), Arrays.copyOf(xs, k), Arrays.copyOf(ys, k)));
        }
        return out;
    }

    /** A line chart of drawable series, one line with markers each, the legend outside the plot on its right. */
    private static XYChart lineChart(String title, String xLabel, String yLabel, List<Series> series) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        // outside the plot: inside, the legend covered the last points of rising curves (a corner is never free)
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Series s : series) {
            XYSeries line = chart.addSeries(s.name(), s.x(), s.y());
            line.setMarker(SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    /** Makes both axes logarithmic, each with labelled ticks over the drawn points' range ({@link LogAxis}). */
    private static void logAxes(XYChart chart, List<Series> drawn) {
        double[] x = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        double[] y = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        for (Series s : drawn) {
            for (int i = 0; i < s.x().length; i++) {
                x[0] = Math.min(x[0], s.x()[i]);
                x[1] = Math.max(x[1], s.x()[i]);
                y[0] = Math.min(y[0], s.y()[i]);
                y[1] = Math.max(y[1], s.y()[i]);
            }
        }
        LogAxis ax = LogAxis.of(x[0], x[1]);
        LogAxis ay = LogAxis.of(y[0], y[1]);
        chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true)
                .setXAxisLogarithmicDecadeOnly(ax.decadeOnly()).setXAxisMin(ax.min()).setXAxisMax(ax.max())
                .setYAxisLogarithmicDecadeOnly(ay.decadeOnly()).setYAxisMin(ay.min()).setYAxisMax(ay.max());
    }

    /**
     * How a log axis over the data range [lo, hi] (positive) is drawn so that at least two ticks are labelled.
     *
     * @param min the axis minimum
     * @param max the axis maximum
     * @param decadeOnly whether only the powers of ten are labelled (else every tick, 1 to 9 times a power of ten)
     */
    record LogAxis(double min, double max, boolean decadeOnly) {
        /**
         * Two powers of ten in the data: labelled there. At most a decade: every tick labelled (at most ten labels;
         * XChart labels both ends when no tick falls inside). Between one and two decades with one power of ten
         * 10^k inside: every tick would crowd the axis, so it is widened to 10^(k-1) or 10^(k+1), the nearer.
         */
        static LogAxis of(double lo, double hi) {
            double a = Math.log10(lo);
            double b = Math.log10(hi);
            double first = Math.ceil(a);
            if (Math.floor(b) - first >= 1) {
                return new LogAxis(lo, hi, true);
            }
            if (b - a <= 1) {
                return new LogAxis(lo, hi, false);
            }
            return a - (first - 1) <= first + 1 - b ? new LogAxis(Math.pow(10, first - 1), hi, true)
                    : new LogAxis(lo, Math.pow(10, first + 1), true);
        }
    }

    /**
     * The eigenvalue spectrum: λ_i sorted in decreasing order against their rank i = 1, 2, ..., both axes
     * logarithmic, each with labelled ticks however narrow its range (as {@link #logLogLines(Path, String, String,
     * String, List, double)}). Eigenvalues that are not positive (a PSD kernel's round-off) cannot be drawn on a log
     * axis; how many were left out is said in the title. NaN is refused: an eigensolver that returned one failed.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param eigenvalues the eigenvalues, in any order; not modified
     * @throws IllegalArgumentException if an eigenvalue is NaN, none is positive and finite, or the file name does
     *     not end in {@code .png} (checked first: nothing is then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void spectrum(Path png, String title, double[] eigenvalues) throws IOException {
        requirePng("spectrum", png);
        for (int i = 0; i < eigenvalues.length; i++) {
            if (Double.isNaN(eigenvalues[i])) {
                throw new IllegalArgumentException("spectrum: eigenvalue " + i + " of " + eigenvalues.length
                        + " is NaN");
            }
        }
        double[] sorted = eigenvalues.clone();
        Arrays.sort(sorted);
        double[] rank = new double[sorted.length];
        double[] value = new double[sorted.length];
        int k = 0;
        for (int i = sorted.length - 1, r = 1; i >= 0; i--, r++) {
            if (positive(sorted[i])) {
                rank[k] = r;
                value[k++] = sorted[i];
            }
        }
        if (k == 0) {
            throw new IllegalArgumentException("spectrum: no positive finite eigenvalue among " + eigenvalues.length);
        }
        int omitted = sorted.length - k;
        String t = omitted == 0 ? title
                : String.format(Locale.ROOT, "%s (%d eigenvalue%s not positive and finite, not drawn)", title,
                omitted, omitted == 1 ? "" : "s");
        List<Series> drawn = List.of(new Series("eigenvalues", Arrays.copyOf(rank, k), Arrays.copyOf(value, k)));
        XYChart chart = lineChart(t, "rank i", "eigenvalue λ_i", drawn);
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setMarkerSize(3);
        logAxes(chart, drawn);
        write(chart, png);
    }

    /**
     * A heatmap of the square matrix {@code matrix} (row-major, n×n) with rows and columns reordered so that
     * examples of the same label are adjacent (stable: within a label, the original order). When n exceeds
     * {@code maxCells}, the ordered matrix is shown as maxCells×maxCells cells, each the mean of its block of
     * entries (contiguous ranges of the ordered examples). Row 0 is at the top, as a matrix is written; the axis
     * titles list the labels in drawing order. The colour scale runs from the smallest to the largest cell, its
     * ends rounded outwards to 3 significant digits; when every cell is one value c, the scale is centred on c
     * (c ± 1%, or ±1 for 0), so that the cells show its middle colour, and the title ends in "(every cell c)".
     *
     * <p>Every entry must be finite: NaN or ±∞ would leave the colour scale without a range (XChart then draws
     * every cell black), so the first one is refused by its row and column.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param matrix the n×n matrix, row-major
     * @param n the number of examples (rows and columns)
     * @param labels one label per example, or null to keep the given order
     * @param maxCells the most cells drawn along each axis, at least 1
     * @throws IllegalArgumentException if {@code matrix} does not hold n×n values, n is below 1, the labels are
     *     not n, maxCells is below 1, an entry is not finite, the cell means overflow, or the file name does not
     *     end in {@code .png} (checked first: nothing is then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void kernelHeatmap(Path png, String title, double[] matrix, int n, int[] labels, int maxCells)
            throws IOException {
        requirePng("kernelHeatmap", png);
        if ((long) n * n != matrix.length) {
            throw new IllegalArgumentException("kernelHeatmap: a " + n + "×" + n + " matrix needs " + (long) n * n
                    + " values, got " + matrix.length);
        }
        kernelHeatmap(png, title, (i, out) -> System.arraycopy(matrix, i * n, out, 0, n), n, labels, maxCells);
    }

    /** Reads row i of an n×n matrix into {@code out} (length n): for matrices that are not one Java array. */
    @FunctionalInterface
    public interface RowSource {
        /**
         * Reads one row.
         *
         * @param i the row index, in [0, n)
         * @param out receives the row's n values, overwritten
         */
        void row(int i, double[] out);
    }

    /**
     * {@link #kernelHeatmap(Path, String, double[], int, int[], int)} for a matrix read row by row (each row read
     * once).
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param matrix the n×n matrix, row by row
     * @param n the number of examples (rows and columns)
     * @param labels one label per example, or null to keep the given order
     * @param maxCells the most cells drawn along each axis, at least 1
     * @throws IllegalArgumentException if n is below 1, the labels are not n, maxCells is below 1, an entry is not
     *     finite, the cell means overflow, or the file name does not end in {@code .png} (checked first: nothing is
     *     then created)
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void kernelHeatmap(Path png, String title, RowSource matrix, int n, int[] labels, int maxCells)
            throws IOException {
        requirePng("kernelHeatmap", png);
        write(heatmapChart(title, matrix, n, labels, maxCells), png);
    }

    /** The chart {@link #kernelHeatmap(Path, String, RowSource, int, int[], int)} writes. */
    static HeatMapChart heatmapChart(String title, RowSource matrix, int n, int[] labels, int maxCells) {
        if (n < 1) {
            throw new IllegalArgumentException("kernelHeatmap: empty matrix");
        }
        if (labels != null && labels.length != n) {
            throw new IllegalArgumentException("kernelHeatmap: " + labels.length + " labels for a kernel of " + n
                    + " examples");
        }
        if (maxCells < 1) {
            throw new IllegalArgumentException("kernelHeatmap: maxCells must be positive, got " + maxCells);
        }
        int[] order = labels == null ? identity(n) : orderByLabel(labels);
        int cells = Math.min(n, maxCells);
        int[] bounds = blockBounds(n, cells);
        RowSource finite = (i, out) -> {
            matrix.row(i, out);
            for (int j = 0; j < n; j++) {
                if (!Double.isFinite(out[j])) {
                    throw new IllegalArgumentException("kernelHeatmap: entry (" + i + ", " + j + ") of the matrix is "
                            + out[j] + "; a heatmap needs finite values");
                }
            }
        };
        double[][] means = blockMeans(finite, n, order, bounds);
        // The colour legend prints its range as raw doubles: give it a range rounded outwards to 3 digits.
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[] row : means) {
            for (double v : row) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!Double.isFinite(lo) || !Double.isFinite(hi)) {
            throw new IllegalArgumentException("kernelHeatmap: the cell means overflow the double range (finite "
                    + "entries whose sums do not fit); scale the matrix down");
        }
        String t = title;
        if (lo == hi) { // one value: a scale of no width draws nothing, so centre one on it
            t = title + " (every cell " + digits4(lo) + ")";
            double d = lo == 0 ? 1 : Math.abs(lo) / 100;
            lo -= d;
            hi += d;
        }
        HeatMapChart chart = new HeatMapChartBuilder().width(WIDTH + 100).height(HEIGHT + 100).title(t).build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setShowValue(false);
        chart.getStyler().setPlotContentSize(1.0);
        chart.getStyler().setRangeColors(new Color[] {new Color(255, 255, 255), new Color(120, 170, 220),
            new Color(30, 60, 140), new Color(10, 10, 40)});
        List<Integer> axis = new ArrayList<>(cells);
        for (int i = 0; i < cells; i++) {
            axis.add(i);
        }
        List<Number[]> heat = new ArrayList<>(cells * cells);
        for (int i = 0; i < cells; i++) {
            for (int j = 0; j < cells; j++) {
                heat.add(new Number[] {j, cells - 1 - i, means[i][j]}); // y flipped: row 0 on top
            }
        }
        chart.addSeries("kernel", axis, axis, heat);
        // Category ticks at 100+ cells are unreadable (XChart thins them arbitrarily): the axis titles say the order.
        chart.getStyler().setAxisTicksVisible(false);
        chart.getStyler().setDrawBorder(false);
        chart.getStyler().setMin(round3(lo, false));
        chart.getStyler().setMax(round3(hi, true));
        String axisTitle = labels == null ? "examples (row 0 at the top left)"
                : "examples ordered by label " + labelOrder(labels, order) + " from the top left";
        chart.setXAxisTitle(axisTitle);
        chart.setYAxisTitle(axisTitle);
        return chart;
    }

    /** {@code v} to 4 significant digits without trailing zeros: 1, 0.25, 1.234e-05. */
    static String digits4(double v) {
        String s = String.format(Locale.ROOT, "%.4g", v);
        int e = s.indexOf('e');
        String mantissa = e < 0 ? s : s.substring(0, e);
        if (mantissa.contains(".")) {
            mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return e < 0 ? mantissa : mantissa + s.substring(e);
    }

    /** "0, 1, ..., 9" (the distinct labels in drawing order), shortened when there are many. */
    private static String labelOrder(int[] labels, int[] order) {
        List<Integer> distinct = new ArrayList<>();
        for (int i : order) {
            if (distinct.isEmpty() || distinct.get(distinct.size() - 1) != labels[i]) {
                distinct.add(labels[i]);
            }
        }
        if (distinct.size() <= 12) {
            return distinct.toString().replace("[", "").replace("]", "");
        }
        return distinct.get(0) + ", " + distinct.get(1) + ", …, " + distinct.get(distinct.size() - 1);
    }

    /**
     * {@code v} rounded to 3 significant digits, up or down, from its shortest decimal form (0.99 stays 0.99, not
     * 0.989 from the binary 0.98999...); {@code v} itself where rounding up would overflow.
     */
    static double round3(double v, boolean up) {
        if (v == 0 || !Double.isFinite(v)) {
            return v;
        }
        java.math.BigDecimal d = java.math.BigDecimal.valueOf(v).round(new java.math.MathContext(3,
                up ? java.math.RoundingMode.CEILING : java.math.RoundingMode.FLOOR));
        double r = d.doubleValue();
        return Double.isFinite(r) ? r : v;
    }

    /**
     * Indices 0..n-1 sorted by label, stable (ties keep their order).
     *
     * @param labels one label per example; not modified
     * @return the example indices in drawing order, a new array of the labels' length
     */
    public static int[] orderByLabel(int[] labels) {
        Integer[] idx = new Integer[labels.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Integer.compare(labels[a], labels[b])); // merge sort: stable
        int[] out = new int[idx.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    /**
     * Boundaries of {@code cells} contiguous ranges over n items, sizes differing by at most one.
     *
     * @param n the number of items
     * @param cells the number of ranges, at least 1 (ranges are empty when it exceeds n)
     * @return cells + 1 non-decreasing bounds from 0 to n: range p is [b[p], b[p + 1])

     */
    public static int[] blockBounds(int n, int cells) {
        int[] b = new int[cells + 1];
        for (int i = 0; i <= cells; i++) {
            b[i] = (int) ((long) n * i / cells);
        }
        return b;
    }

    /**
     * Means of the reordered matrix over blocks: cell (p, q) is the mean of matrix[order[i], order[j]] for i in
     * range p and j in range q of {@code bounds}.
     *
     * @param matrix the n×n matrix, row-major
     * @param n the number of rows and columns
     * @param order the example order, a permutation of 0..n-1 (see {@link #orderByLabel})
     * @param bounds the ranges over the ordered examples (see {@link #blockBounds}); an empty range gives NaN
     * @return the block means [cells][cells], cells = bounds.length - 1
     */
    public static double[][] blockMeans(double[] matrix, int n, int[] order, int[] bounds) {
        return blockMeans((i, out) -> System.arraycopy(matrix, i * n, out, 0, n), n, order, bounds);
    }

    /**
     * {@link #blockMeans(double[], int, int[], int[])} for a matrix read row by row (each row read once).
     *
     * @param matrix the n×n matrix, row by row
     * @param n the number of rows and columns
     * @param order the example order, a permutation of 0..n-1 (see {@link #orderByLabel})
     * @param bounds the ranges over the ordered examples (see {@link #blockBounds}); an empty range gives NaN
     * @return the block means [cells][cells], cells = bounds.length - 1
     */

    public static double[][] blockMeans(RowSource matrix, int n, int[] order, int[] bounds) {
        int cells = bounds.length - 1;
        double[][] out = new double[cells][cells];
        double[] row = new double[n];
        for (int p = 0; p < cells; p++) {
            for (int i = bounds[p]; i < bounds[p + 1]; i++) {
                matrix.row(order[i], row);
                for (int q = 0; q < cells; q++) {
                    double s = 0;
                    for (int j = bounds[q]; j < bounds[q + 1]; j++) {
                        s += row[order[j]];
                    }
                    out[p][q] += s;
                }
            }
            for (int q = 0; q < cells; q++) {
                out[p][q] /= (double) (bounds[p + 1] - bounds[p]) * (bounds[q + 1] - bounds[q]);
            }
        }
        return out;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static boolean positive(double v) {
        return v > 0 && Double.isFinite(v);
    }

    /** Refuses a file name that does not end in .png: called before any work, so that nothing is created. */
    private static void requirePng(String chart, Path png) {
        if (png == null) {
            throw new IllegalArgumentException(chart + ": no output file given");
        }
        Path name = png.getFileName();
        if (name == null || !name.toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new IllegalArgumentException(chart + ": the output file must end in .png, got '" + png + "'");
        }
    }

    /** The smallest title font, in points, {@link #fitTitle} shrinks to before it shortens the title. */
    static final float MIN_TITLE_POINTS = 9f;

    /**
     * Fits the title to the image: XChart draws it on one line centred over the plot (which the legend on the right
     * pushes left), and cuts what overflows the image (a predict chart's title with a long model spec, data path and
     * a note on the curves not drawn lost its first words). The room is twice the distance from the plot's centre,
     * found by painting the chart's title band once with a one-letter title, to the nearer side of the image. The
     * font shrinks a point at a time down to {@link #MIN_TITLE_POINTS}; a title still too wide then loses its middle
     * (the fewest characters, found by bisection), replaced by "…", so that its start (what is drawn) and end (a note
     * such as "not drawn") stay readable. A title narrower than a quarter of the image is left without painting:
     * it fits unless the plot is narrower than that quarter (a legend of most of the image, a chart already broken).
     */
    static void fitTitle(Chart<?, ?> chart) {
        String title = chart.getTitle();
        Styler st = chart.getStyler();
        if (title == null || title.isEmpty() || !st.isChartTitleVisible()) {
            return;
        }
        java.awt.Font font = st.getChartTitleFont();
        // measured as XChart paints it: antialiased, whole-pixel advances
        java.awt.font.FontRenderContext frc = new java.awt.font.FontRenderContext(null, true, false);
        double pad = st.getChartPadding() + st.getChartTitlePadding();
        if (font.getStringBounds(title, frc).getWidth() <= 0.25 * (chart.getWidth() - 2 * pad)) {
            return;
        }
        int rows = (int) Math.ceil(st.getChartPadding() + 2 * st.getChartTitlePadding() + 1.5 * font.getSize2D());
        chart.setTitle("M");
        double centre = titleCentre(chart, Math.min(rows, chart.getHeight()));
        chart.setTitle(title);
        // 2% to spare for the rasteriser
        double room = 0.98 * 2 * Math.min(centre - pad, chart.getWidth() - pad - centre);
        while (font.getStringBounds(title, frc).getWidth() > room && font.getSize2D() > MIN_TITLE_POINTS) {
            font = font.deriveFont(Math.max(MIN_TITLE_POINTS, font.getSize2D() - 1));
        }
        String fitted = title;
        if (font.getStringBounds(title, frc).getWidth() > room) {
            // the fewest characters cut from the middle (width falls as the cut grows): bisection, not one measure
            // per character (a title of thousands of characters, a long path, took seconds)
            int lo = 1; // lo..hi brackets the least cut that fits; hi = length - 1 keeps one character and "…"
            int hi = title.length() - 1;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (font.getStringBounds(cutMiddle(title, mid), frc).getWidth() > room) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            fitted = cutMiddle(title, Math.max(1, lo));
        }
        st.setChartTitleFont(font);
        chart.setTitle(fitted);
    }

    /** {@code title} with {@code cut} characters of its middle replaced by "…", never splitting a surrogate pair. */
    static String cutMiddle(String title, int cut) {
        int keep = title.length() - cut;
        int head = (keep + 1) / 2;
        int tail = title.length() - (keep - head);
        if (head > 0 && Character.isHighSurrogate(title.charAt(head - 1))) {
            head--;
        }
        if (tail < title.length() && Character.isLowSurrogate(title.charAt(tail))) {
            tail++;
        }
        return title.substring(0, head) + "…" + title.substring(tail);
    }

    /**
     * The centre column of the dark (text) pixels in the chart's top {@code rows} rows, painted alone (the chart
     * paints into an image of those rows: what lies below is clipped, not rasterised); the middle if none.
     */
    private static double titleCentre(Chart<?, ?> chart, int rows) {
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(chart.getWidth(), Math.max(1, rows),
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = img.createGraphics();
        try {
            chart.paint(g, chart.getWidth(), chart.getHeight());
        } finally {
            g.dispose();
        }
        int first = -1;
        int last = -1;
        for (int x = 0; x < img.getWidth(); x++) {
            for (int y = 0; y < img.getHeight(); y++) {
                int rgb = img.getRGB(x, y);
                if (((rgb >> 16) & 0xff) + ((rgb >> 8) & 0xff) + (rgb & 0xff) < 200) {
                    first = first < 0 ? x : first;
                    last = x;
                    break;
                }
            }
        }
        return first < 0 ? img.getWidth() / 2.0 : (first + last) / 2.0;
    }

    private static void write(Chart<?, ?> chart, Path png) throws IOException {
        fitTitle(chart);
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        // encoded in memory (a few hundred KiB), so that ImageIO never meets a failing file; written whole or not
        // at all: on a full disk, one IOException naming the file and the previous PNG unchanged
        byte[] bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        AtomicFile.write(png, channel -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b);
            }
        });
    }
}
