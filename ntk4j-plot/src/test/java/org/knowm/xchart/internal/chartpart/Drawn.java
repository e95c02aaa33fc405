package org.knowm.xchart.internal.chartpart;

import java.awt.geom.Rectangle2D;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What XChart drew, for ChartsTest: the labels of an axis's ticks and where the plot and the legend are. XChart
 * (3.8.8) keeps these package-private, so this class sits in its package (test class path only). Valid after the
 * chart was painted (e.g. by {@code BitmapEncoder.getBufferedImage}).
 */
public final class Drawn {
    private Drawn() {
    }

    /**
     * The labels drawn on the x axis, in order (ticks without a label left out).
     *
     * @param chart a painted chart with axes
     * @return the labels
     */
    public static List<String> xTickLabels(Chart<?, ?> chart) {
        return labels(chart.getXAxis());
    }

    /**
     * The labels drawn on the (main) y axis, in order (ticks without a label left out).
     *
     * @param chart a painted chart with axes
     * @return the labels
     */
    public static List<String> yTickLabels(Chart<?, ?> chart) {
        return labels(chart.getYAxis());
    }

    private static List<String> labels(Axis<?, ?> axis) {
        return axis.getAxisTickCalculator().getTickLabels().stream().filter(Objects::nonNull)
                .collect(Collectors.toList());
    }

    /**
     * The plot area: the axes' box, where the data are drawn.
     *
     * @param chart a painted chart
     * @return its bounds in pixels
     */
    public static Rectangle2D plot(Chart<?, ?> chart) {
        return chart.getPlot().getBounds();
    }

    /**
     * The legend's box.
     *
     * @param chart a painted chart with a legend
     * @return its bounds in pixels
     */
    public static Rectangle2D legend(Chart<?, ?> chart) {
        return chart.getLegend().getBounds();
    }
}
