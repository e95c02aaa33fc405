package org.ntk4j.plot;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
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
         * @throws IllegalArgumentException if {@code x} and {@code y} differ in length
         */
        public Series {
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
     * positive and finite cannot sit on log axes and are left out; a series left with no point is an error.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one
     * @throws IllegalArgumentException if there is no series, a series has no drawable point, or the file name
     *     does not end in {@code .png}
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
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one
     * @param yFloor the smallest y drawn; 0 or less draws every positive y
     * @throws IllegalArgumentException if there is no series, a series has no drawable point, or the file name
     *     does not end in {@code .png}
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void logLogLines(Path png, String title, String xLabel, String yLabel, List<Series> series,
                                   double yFloor) throws IOException {
        if (series.isEmpty()) {
            throw new IllegalArgumentException("logLogLines: no series to draw");
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Series s : series) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (int i = 0; i < s.x().length; i++) {
                if (positive(s.x()[i]) && positive(s.y()[i]) && s.y()[i] >= yFloor) {
                    xs.add(s.x()[i]);
                    ys.add(s.y()[i]);
                }
            }
            if (xs.isEmpty()) {
                throw new IllegalArgumentException("logLogLines: series '" + s.name()
                        + "' has no point with positive finite x and y" + (yFloor > 0 ? " (y >= " + yFloor + ")" : ""));
            }
            XYSeries line = chart.addSeries(s.name(), xs, ys);
            line.setMarker(SeriesMarkers.CIRCLE);
        }
        write(chart, png);
    }

    /**
     * Lines on linear axes (training curves against the epoch, say); points with a non-finite x or y are left out.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param xLabel the x axis title
     * @param yLabel the y axis title
     * @param series the lines, at least one, each with a finite point
     * @throws IllegalArgumentException if there is no series, a series has no finite point, or the file name does
     *     not end in {@code .png}
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void lines(Path png, String title, String xLabel, String yLabel, List<Series> series)
            throws IOException {
        if (series.isEmpty()) {
            throw new IllegalArgumentException("lines: no series to draw");
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xLabel)
                .yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Series s : series) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
                    xs.add(s.x()[i]);
                    ys.add(s.y()[i]);
                }
            }
            if (xs.isEmpty()) {
                throw new IllegalArgumentException("lines: series '" + s.name() + "' has no finite point");
            }
            XYSeries line = chart.addSeries(s.name(), xs, ys);
            line.setMarker(SeriesMarkers.CIRCLE);
        }
        write(chart, png);
    }

    /**
     * The eigenvalue spectrum: λ_i sorted in decreasing order against their rank i = 1, 2, ..., both axes
     * logarithmic. Eigenvalues that are not positive (a PSD kernel's round-off) cannot be drawn on a log axis; how
     * many were left out is said in the title.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param eigenvalues the eigenvalues, in any order; not modified
     * @throws IllegalArgumentException if no eigenvalue is positive, or the file name does not end in {@code .png}
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void spectrum(Path png, String title, double[] eigenvalues) throws IOException {
        double[] sorted = eigenvalues.clone();
        Arrays.sort(sorted);
        List<Double> rank = new ArrayList<>();
        List<Double> value = new ArrayList<>();
        int omitted = 0;
        for (int i = sorted.length - 1, r = 1; i >= 0; i--, r++) {
            if (positive(sorted[i])) {
                rank.add((double) r);
                value.add(sorted[i]);
            } else {
                omitted++;
            }
        }
        if (value.isEmpty()) {
            throw new IllegalArgumentException("spectrum: no positive eigenvalue among " + eigenvalues.length);
        }
        String t = omitted == 0 ? title
                : String.format(Locale.ROOT, "%s (%d non-positive eigenvalue%s not drawn)", title, omitted,
                omitted == 1 ? "" : "s");
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(t).xAxisTitle("rank i")
                .yAxisTitle("eigenvalue λ_i").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setMarkerSize(3);
        XYSeries s = chart.addSeries("eigenvalues", rank, value);
        s.setMarker(SeriesMarkers.CIRCLE);
        write(chart, png);
    }

    /**
     * A heatmap of the square matrix {@code matrix} (row-major, n×n) with rows and columns reordered so that
     * examples of the same label are adjacent (stable: within a label, the original order). When n exceeds
     * {@code maxCells}, the ordered matrix is shown as maxCells×maxCells cells, each the mean of its block of
     * entries (contiguous ranges of the ordered examples). Row 0 is at the top, as a matrix is written; the axis
     * titles list the labels in drawing order.
     *
     * @param png the {@code .png} file to create or replace; missing parent directories are created
     * @param title the chart title
     * @param matrix the n×n matrix, row-major
     * @param n the number of examples (rows and columns)
     * @param labels one label per example, or null to keep the given order
     * @param maxCells the most cells drawn along each axis, at least 1
     * @throws IllegalArgumentException if {@code matrix} does not hold n×n values, n is below 1, the labels are
     *     not n, maxCells is below 1, or the file name does not end in {@code .png}
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void kernelHeatmap(Path png, String title, double[] matrix, int n, int[] labels, int maxCells)
            throws IOException {
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
     * @throws IllegalArgumentException if n is below 1, the labels are not n, maxCells is below 1, or the file
     *     name does not end in {@code .png}
     * @throws IOException if the file or its directories cannot be written; a previous file is then unchanged
     */
    public static void kernelHeatmap(Path png, String title, RowSource matrix, int n, int[] labels, int maxCells)
            throws IOException {
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
        double[][] means = blockMeans(matrix, n, order, bounds);
        HeatMapChart chart = new HeatMapChartBuilder().width(WIDTH + 100).height(HEIGHT + 100).title(title).build();
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
        // The colour legend prints its range as raw doubles: give it a range rounded outwards to 3 digits.
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[] row : means) {
            for (double v : row) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        chart.getStyler().setMin(round3(lo, false));
        chart.getStyler().setMax(round3(hi, true));
        String axisTitle = labels == null ? "examples (row 0 at the top left)"
                : "examples ordered by label " + labelOrder(labels, order) + " from the top left";
        chart.setXAxisTitle(axisTitle);
        chart.setYAxisTitle(axisTitle);
        write(chart, png);
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

    /** {@code v} rounded to 3 significant digits, up or down. */
    static double round3(double v, boolean up) {
        if (v == 0 || !Double.isFinite(v)) {
            return v;
        }
        java.math.BigDecimal d = new java.math.BigDecimal(v).round(new java.math.MathContext(3,
                up ? java.math.RoundingMode.CEILING : java.math.RoundingMode.FLOOR));
        return d.doubleValue();
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

    private static void write(Chart<?, ?> chart, Path png) throws IOException {
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        if (!png.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new IllegalArgumentException("plot: output file must end in .png, got " + png);
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
