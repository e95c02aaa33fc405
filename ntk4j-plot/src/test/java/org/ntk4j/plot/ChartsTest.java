package org.ntk4j.plot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.XYChart;

class ChartsTest {
    @TempDir
    Path dir;

    /** Distinct colours in the image: a blank or failed drawing has one or two. */
    private static int colours(Path png) throws IOException {
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img).as("readable PNG").isNotNull();
        Set<Integer> c = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 2) {
            for (int x = 0; x < img.getWidth(); x += 2) {
                c.add(img.getRGB(x, y));
            }
        }
        return c.size();
    }

    @Test
    void logLogLinesWritesAPngOfTheDefaultSize() throws IOException {
        Path png = dir.resolve("sub/lines.png");
        double[] x = {64, 128, 256, 512};
        Charts.logLogLines(png, "time", "width", "seconds", List.of(
                new Charts.Series("jc", x, new double[] {0.1, 0.4, 1.6, 6.4}),
                new Charts.Series("sd", x, new double[] {0.01, 0.02, 0.04, 0.0})));  // the 0 is left out
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(Charts.WIDTH);
        assertThat(img.getHeight()).isEqualTo(Charts.HEIGHT);
        assertThat(colours(png)).isGreaterThan(10);
        assertThatThrownBy(() -> Charts.logLogLines(dir.resolve("floor.png"), "t", "x", "y",
                List.of(new Charts.Series("tiny", x, new double[] {1e-9, 1e-12, 1e-20, 1e-30})), 1e-6))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(y >= 1.0E-6)");
    }

    @Test
    void spectrumDrawsPositiveEigenvaluesAndRejectsNone() throws IOException {
        Path png = dir.resolve("spectrum.png");
        Charts.spectrum(png, "spectrum", new double[] {-1e-12, 1e-3, 0.5, 2, 40});
        assertThat(colours(png)).isGreaterThan(10);
        assertThatThrownBy(() -> Charts.spectrum(dir.resolve("s2.png"), "s", new double[] {0, -1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no positive finite eigenvalue");
        assertThatThrownBy(() -> Charts.spectrum(dir.resolve("s3.png"), "s", new double[] {1, Double.NaN}))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("spectrum: eigenvalue 1 of 2 is NaN");
        assertThat(dir.resolve("s2.png")).doesNotExist();
        assertThat(dir.resolve("s3.png")).doesNotExist();
    }

    @Test
    void orderByLabelIsStable() {
        assertThat(Charts.orderByLabel(new int[] {2, 0, 1, 0, 2, 1})).containsExactly(1, 3, 2, 5, 0, 4);
    }

    @Test
    void blockMeansAverageTheReorderedBlocks() {
        // 4×4 matrix m[i][j] = 10 i + j, order reversed, 2×2 cells
        double[] m = new double[16];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                m[i * 4 + j] = 10 * i + j;
            }
        }
        double[][] b = Charts.blockMeans(m, 4, new int[] {3, 2, 1, 0}, Charts.blockBounds(4, 2));
        // cell (0,0): rows {3,2} × cols {3,2}: mean = 10·2.5 + 2.5
        assertThat(b[0][0]).isEqualTo(27.5);
        assertThat(b[0][1]).isEqualTo(25.5);
        assertThat(b[1][0]).isEqualTo(7.5);
        assertThat(b[1][1]).isEqualTo(5.5);
        assertThat(Charts.blockBounds(10, 3)).containsExactly(0, 3, 6, 10);
    }

    @Test
    void kernelHeatmapOrdersByLabelAndDownsamples() throws IOException {
        int n = 300;
        int[] labels = new int[n];
        double[] k = new double[n * n];
        for (int i = 0; i < n; i++) {
            labels[i] = (i * 7) % 3;
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                k[i * n + j] = labels[i] == labels[j] ? 1 : 0.1;
            }
        }
        Path png = dir.resolve("heat.png");
        Charts.kernelHeatmap(png, "kernel", k, n, labels, 60);
        assertThat(colours(png)).isGreaterThan(5);
        assertThatThrownBy(() -> Charts.kernelHeatmap(dir.resolve("h.png"), "k", k, n, new int[3], 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 labels for a kernel of 300");
        assertThatThrownBy(() -> Charts.kernelHeatmap(dir.resolve("h.txt"), "k", k, n, labels, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(".png");
    }

    @Test
    void legendRangeIsRoundedOutwards() {
        assertThat(Charts.round3(0.036819342, false)).isEqualTo(0.0368);
        assertThat(Charts.round3(1.7047824, true)).isEqualTo(1.71);
        assertThat(Charts.round3(-1.7047824, false)).isEqualTo(-1.71);
        // from the shortest decimal: the binary 0.98999... is not rounded down to 0.989
        assertThat(Charts.round3(0.99, false)).isEqualTo(0.99);
        assertThat(Charts.round3(1.01, true)).isEqualTo(1.01);
        assertThat(Charts.round3(Double.MAX_VALUE, true)).isEqualTo(Double.MAX_VALUE); // 1.80e308 would overflow
        assertThat(Charts.digits4(1.0)).isEqualTo("1");
        assertThat(Charts.digits4(0.25)).isEqualTo("0.25");
        assertThat(Charts.digits4(-1.23456e-5)).isEqualTo("-1.235e-05");
    }

    @Test
    void mismatchedSeriesLengthsAreRejected() {
        assertThatThrownBy(() -> new Charts.Series("a", new double[2], new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 x values but 3 y values");
        assertThatThrownBy(() -> new Charts.Series(null, new double[2], new double[2]))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("series: no name given (the legend entry)");
        assertThatThrownBy(() -> new Charts.Series("b", new double[2], null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("series 'b': no y values given");
    }

    /** The audit's chart: times rising with N = 16, 32, 64, three methods (the bench's log-log plots). */
    private static List<Charts.Series> risingTimes() {
        double[] n = {16, 32, 64};
        return List.of(new Charts.Series("JC", n, new double[] {0.01, 0.1, 1.3}),
                new Charts.Series("VP", n, new double[] {0.02, 0.3, 4}),
                new Charts.Series("SD", n, new double[] {0.005, 0.01, 0.02}));
    }

    /**
     * Whether a pixel shows a marker: the theme's colours are translucent, so each channel lies between the
     * marker's own (drawn over its line) and the marker's over white, give or take 10.
     */
    private static boolean showsMarker(Color pixel, Color marker) {
        double a = marker.getAlpha() / 255.0;
        int[] p = {pixel.getRed(), pixel.getGreen(), pixel.getBlue()};
        int[] m = {marker.getRed(), marker.getGreen(), marker.getBlue()};
        for (int k = 0; k < 3; k++) {
            double overWhite = a * m[k] + (1 - a) * 255;
            if (p[k] < Math.min(m[k], overWhite) - 10 || p[k] > Math.max(m[k], overWhite) + 10) {
                return false;
            }
        }
        return true;
    }

    @Test
    void logLogLegendHidesNoPoint() {
        XYChart chart = Charts.logLogChart("t", "N", "seconds", risingTimes(), 0);
        BufferedImage img = BitmapEncoder.getBufferedImage(chart); // paints: lays out the plot and the legend
        // inside the top right, the legend covered VP's point at N = 64: every marker's centre must show its colour
        for (Charts.Series s : risingTimes()) {
            Color marker = chart.getSeriesMap().get(s.name()).getMarkerColor();
            for (int i = 0; i < s.x().length; i++) {
                int px = (int) Math.round(chart.getScreenXFromChart(s.x()[i]));
                int py = (int) Math.round(chart.getScreenYFromChart(s.y()[i]));
                assertThat(showsMarker(new Color(img.getRGB(px, py)), marker))
                        .as("%s at N = %s (pixel %d, %d): %s, the marker %s", s.name(), s.x()[i], px, py,
                                new Color(img.getRGB(px, py)), marker).isTrue();
            }
        }
        // and the legend stands right of the data: each series' swatch shows its colour right of every point
        double rightmost = 0;
        for (Charts.Series s : risingTimes()) {
            for (double x : s.x()) {
                rightmost = Math.max(rightmost, chart.getScreenXFromChart(x));
            }
        }
        for (Charts.Series s : risingTimes()) {
            Color marker = chart.getSeriesMap().get(s.name()).getMarkerColor();
            boolean swatch = false;
            for (int y = 0; y < img.getHeight() && !swatch; y++) {
                for (int x = (int) rightmost + 20; x < img.getWidth() && !swatch; x++) {
                    swatch = showsMarker(new Color(img.getRGB(x, y)), marker);
                }
            }
            assertThat(swatch).as("legend swatch of %s right of the data", s.name()).isTrue();
        }
    }

    /**
     * Where the tick labels of a painted log-log chart are, read from its image alone: the centres (pixels along the
     * axis) of the groups of text pixels (near black: the data are coloured, grid, ticks and frame grey) in the first
     * band of text below the plot's frame (x labels) and the first band left of it, above those (y labels). Groups
     * closer than 6 pixels are one label.
     */
    private static final class TickLabels {
        /** The plot frame's colour in Charts' theme. */
        private static final int FRAME = 0x828282;
        final List<Double> x;
        final List<Double> y;

        TickLabels(BufferedImage img) {
            // the plot's frame: the columns and rows mostly of its grey (grid lines are lighter and dashed)
            int frameLeft = 0;
            while (frameLeft < img.getWidth() && frameRuns(img, frameLeft, true) <= img.getHeight() / 2) {
                frameLeft++;
            }
            int frameBottom = img.getHeight() - 1;
            while (frameBottom > 0 && frameRuns(img, frameBottom, false) <= img.getWidth() / 2) {
                frameBottom--;
            }
            // x labels: the first rows of text below the frame, right of its left side
            int x0 = frameLeft + 1;
            int x1 = img.getWidth();
            int top = frameBottom + 1;
            while (top < img.getHeight() && !textInRow(img, top, x0, x1)) {
                top++;
            }
            int end = top; // one past the band's last row of text; gaps under 6 rows are within the band
            for (int p = top; p < img.getHeight() && p - end < 6; p++) {
                if (textInRow(img, p, x0, x1)) {
                    end = p + 1;
                }
            }
            x = centres(img, true, top, end, x0, x1);
            // y labels: the first columns of text left of the frame, above the x labels
            int r = frameLeft - 1;
            while (r >= 0 && !textInColumn(img, r, 0, top - 1)) {
                r--;
            }
            int l = r; // the band's first column of text; gaps under 6 columns (between glyphs) are within it
            for (int p = r; p >= 0 && l - p < 6; p--) {
                if (textInColumn(img, p, 0, top - 1)) {
                    l = p;
                }
            }
            y = centres(img, false, l, r + 1, 0, top - 1);
        }

        /** How many pixels of column (or row) {@code at} have the frame's grey. */
        private static int frameRuns(BufferedImage img, int at, boolean column) {
            int n = 0;
            for (int p = 0; p < (column ? img.getHeight() : img.getWidth()); p++) {
                if ((img.getRGB(column ? at : p, column ? p : at) & 0xffffff) == FRAME) {
                    n++;
                }
            }
            return n;
        }

        private static boolean text(BufferedImage img, int x, int y) {
            Color c = new Color(img.getRGB(x, y));
            return Math.max(c.getRed(), Math.max(c.getGreen(), c.getBlue())) < 90;
        }

        private static boolean textInRow(BufferedImage img, int y, int x0, int x1) {
            for (int x = Math.max(0, x0); x < x1; x++) {
                if (text(img, x, y)) {
                    return true;
                }
            }
            return false;
        }

        private static boolean textInColumn(BufferedImage img, int x, int y0, int y1) {
            for (int y = Math.max(0, y0); y < y1; y++) {
                if (text(img, x, y)) {
                    return true;
                }
            }
            return false;
        }

        /** Centres of the text groups along x (horizontal) or y, within the band [from, to) across [a, b). */
        private static List<Double> centres(BufferedImage img, boolean horizontal, int from, int to, int a, int b) {
            List<Double> found = new java.util.ArrayList<>();
            int first = -1;
            int last = -100;
            int length = horizontal ? img.getWidth() : img.getHeight();
            for (int p = Math.max(0, a); p <= Math.min(length, b); p++) {
                boolean any = p < Math.min(length, b) && (horizontal ? textInColumn(img, p, from, to)
                        : textInRow(img, p, from, to));
                if (any) {
                    if (p - last >= 6 && first >= 0) {
                        found.add((first + last) / 2.0);
                        first = -1;
                    }
                    if (first < 0) {
                        first = p;
                    }
                    last = p;
                }
            }
            if (first >= 0) {
                found.add((first + last) / 2.0);
            }
            return found;
        }
    }

    /** Asserts that a label is centred (within 6 pixels) on each of the positions, and, if exactly, no other. */
    private static void assertLabelsAt(List<Double> labels, double[] at, boolean exactly, String what) {
        if (exactly) {
            assertThat(labels).as("%s labels at %s", what, Arrays.toString(at)).hasSize(at.length);
        }
        for (double p : at) {
            assertThat(labels).as("%s: a label at pixel %.1f", what, p).anySatisfy(c -> assertThat(c)
                    .isCloseTo(p, org.assertj.core.data.Offset.offset(6.0)));
        }
    }

    @Test
    void everyLogAxisHasLabelledTicks() {
        // x and y ranges: under a decade (16-64: XChart labelled none), one power of ten in 1-2 decades (widened),
        // two or more powers of ten (labelled there), a single value, and values under 1
        double[][] ranges = {{16, 64}, {1.5, 99}, {0.02, 0.6}, {0.3, 30}, {1e-5, 1}, {7, 7}, {0.91, 0.97}};
        for (double[] xr : ranges) {
            for (double[] yr : ranges) {
                List<Charts.Series> one = List.of(new Charts.Series("a",
                        new double[] {xr[0], Math.sqrt(xr[0] * xr[1]), xr[1]},
                        new double[] {yr[0], Math.sqrt(yr[0] * yr[1]), yr[1]}));
                XYChart chart = Charts.logLogChart("t", "x", "y", one, 0);
                TickLabels labels = new TickLabels(BitmapEncoder.getBufferedImage(chart));
                String what = "x over " + Arrays.toString(xr) + ", y over " + Arrays.toString(yr);
                int twoUnlessOne = xr[0] == xr[1] ? 1 : 2;
                assertThat(labels.x).as("x labels, %s", what).hasSizeBetween(twoUnlessOne, 12);
                twoUnlessOne = yr[0] == yr[1] ? 1 : 2;
                assertThat(labels.y).as("y labels, %s", what).hasSizeBetween(twoUnlessOne, 12);
            }
        }
        // the audit's x axis, N = 16, 32, 64: every tick from 20 to 60 labelled, and only those
        XYChart chart = Charts.logLogChart("t", "N", "seconds", risingTimes(), 0);
        TickLabels labels = new TickLabels(BitmapEncoder.getBufferedImage(chart));
        assertLabelsAt(labels.x, Arrays.stream(new double[] {20, 30, 40, 50, 60}).map(chart::getScreenXFromChart)
                .toArray(), true, "x");
        assertLabelsAt(labels.y, Arrays.stream(new double[] {0.01, 0.1, 1}).map(chart::getScreenYFromChart)
                .toArray(), true, "y");
    }

    @Test
    void logAxisRule() {
        assertThat(Charts.LogAxis.of(16, 64)).isEqualTo(new Charts.LogAxis(16, 64, false));
        assertThat(Charts.LogAxis.of(0.3, 30)).isEqualTo(new Charts.LogAxis(0.3, 30, true));
        assertThat(Charts.LogAxis.of(1.5, 99)).isEqualTo(new Charts.LogAxis(1.5, 100, true)); // 100 is nearer
        assertThat(Charts.LogAxis.of(1.1, 90)).isEqualTo(new Charts.LogAxis(1, 90, true));    // 1 is nearer
        assertThat(Charts.LogAxis.of(10, 100)).isEqualTo(new Charts.LogAxis(10, 100, true));
    }

    @Test
    void spectrumOfAFewCloseEigenvaluesHasLabelledAxes() {
        // ranks 1-5 and eigenvalues 1.5-3: no power of ten inside but 1, so XChart labelled at most "1"
        List<Charts.Series> one = List.of(new Charts.Series("a", new double[] {1, 2, 3, 4, 5},
                new double[] {3, 2.5, 2, 1.9, 1.5}));
        XYChart chart = Charts.logLogChart("t", "x", "y", one, 0);
        TickLabels labels = new TickLabels(BitmapEncoder.getBufferedImage(chart));
        assertLabelsAt(labels.x, new double[] {chart.getScreenXFromChart(1), chart.getScreenXFromChart(2),
            chart.getScreenXFromChart(5)}, false, "x");
        assertLabelsAt(labels.y, new double[] {chart.getScreenYFromChart(2), chart.getScreenYFromChart(3)}, false,
                "y");
    }

    @Test
    void duplicateSeriesNamesAreRefused() {
        double[] x = {1, 2};
        List<Charts.Series> twice = List.of(new Charts.Series("a", x, x), new Charts.Series("a", x, x));
        String message = "two series are named 'a'; each needs a name of its own (the legend tells them apart by name)";
        assertThatThrownBy(() -> Charts.logLogLines(dir.resolve("d.png"), "t", "x", "y", twice))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("logLogLines: " + message);
        assertThatThrownBy(() -> Charts.lines(dir.resolve("d.png"), "t", "x", "y", twice))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("lines: " + message);
        assertThat(dir.resolve("d.png")).doesNotExist();
    }

    @Test
    void aNameNotEndingInPngIsRefusedBeforeAnythingIsCreated() {
        double[] x = {1, 2};
        Path bad = dir.resolve("sub/dir/plot.txt");
        List<Charts.Series> one = List.of(new Charts.Series("a", x, x));
        assertThatThrownBy(() -> Charts.logLogLines(bad, "t", "x", "y", one))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("logLogLines: the output file must end in .png, got '" + bad + "'");
        assertThatThrownBy(() -> Charts.lines(bad, "t", "x", "y", one))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("lines: the output file");
        assertThatThrownBy(() -> Charts.spectrum(bad, "t", x))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("spectrum: the output file");
        assertThatThrownBy(() -> Charts.kernelHeatmap(bad, "t", new double[] {1}, 1, null, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("kernelHeatmap: the output file");
        assertThat(dir.resolve("sub")).doesNotExist(); // directories were created before the name was checked
    }

    @Test
    void heatmapRefusesANonFiniteEntryByItsPosition() {
        int n = 6;
        double[] k = new double[n * n];
        Arrays.fill(k, 1);
        k[2 * n + 5] = Double.NaN;
        Path png = dir.resolve("sub/nan.png");
        // the labels reorder the rows: the position is the matrix's own
        assertThatThrownBy(() -> Charts.kernelHeatmap(png, "k", k, n, new int[] {1, 0, 1, 0, 1, 0}, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kernelHeatmap: entry (2, 5) of the matrix is NaN; a heatmap needs finite values");
        k[2 * n + 5] = 1;
        k[4 * n] = Double.NEGATIVE_INFINITY;
        assertThatThrownBy(() -> Charts.kernelHeatmap(png, "k", k, n, null, 6))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kernelHeatmap: entry (4, 0) of the matrix is -Infinity; a heatmap needs finite values");
        assertThat(png).doesNotExist();
        assertThat(dir.resolve("sub")).doesNotExist();
    }

    @Test
    void aConstantHeatmapIsOneColourWithAScaleAroundIt() throws IOException {
        for (double c : new double[] {1.0, 0.0, -2.5e-7}) {
            int n = 20;
            double[] k = new double[n * n];
            Arrays.fill(k, c);
            HeatMapChart chart = Charts.heatmapChart("k", (i, out) -> System.arraycopy(k, i * n, out, 0, n), n,
                    null, 10);
            assertThat(chart.getTitle()).isEqualTo("k (every cell " + Charts.digits4(c) + ")");
            assertThat(chart.getStyler().getMin()).isLessThan(c);
            assertThat(chart.getStyler().getMax()).isGreaterThan(c);
            BufferedImage img = BitmapEncoder.getBufferedImage(chart);
            // the plot's centre has the scale's middle colour (a blank plot was white there)
            Color centre = new Color(img.getRGB(img.getWidth() / 2 - 50, img.getHeight() / 2));
            assertThat(centre.getRed() + centre.getGreen() + centre.getBlue()).as("centre %s", centre)
                    .isBetween(150, 600);
        }
        Path png = dir.resolve("constant.png");
        double[] ones = new double[9];
        Arrays.fill(ones, 1);
        Charts.kernelHeatmap(png, "ones", ones, 3, null, 3);
        assertThat(Files.size(png)).isGreaterThan(1000);
    }

    /** The columns of the image's title band (its top 40 rows) that hold text (near-black pixels): [first, last]. */
    private static int[] titleColumns(BufferedImage img) {
        int first = -1;
        int last = -1;
        for (int x = 0; x < img.getWidth(); x++) {
            for (int y = 0; y < 40; y++) {
                Color c = new Color(img.getRGB(x, y));
                if (c.getRed() + c.getGreen() + c.getBlue() < 200) {
                    first = first < 0 ? x : first;
                    last = x;
                    break;
                }
            }
        }
        return new int[] {first, last};
    }

    /**
     * A title wider than the image is fitted, not cut at both ends as XChart draws it: a predict chart's title (model
     * spec, kind, data path and a note on the curves not drawn) lost its first and last words. Its font shrinks to
     * {@link Charts#MIN_TITLE_POINTS}; what is still too wide loses its middle, so that both ends stay.
     */
    @Test
    void aLongTitleFitsTheImage() throws IOException {
        double[] x = {1, 10, 100};
        List<Charts.Series> one = List.of(new Charts.Series("a", x, new double[] {1, 0.1, 0.01}));
        // a wide legend on the right: the plot, over which XChart centres the title, moves left
        List<Charts.Series> wideLegend = List.of(new Charts.Series("test MSE", x, new double[] {1, 0.1, 0.01}),
                new Charts.Series("train MSE (down to 1e-5)", x, new double[] {2, 0.2, 0.02}));
        String longer = "linearised training, fcn(depth=1,width=64), pntk, default:train:40 (test error (1 − "
                + "accuracy) below 1e-5 at every t: not drawn)";
        String longest = "start " + "x".repeat(300) + " end";
        double[] heat = new double[36];
        Arrays.fill(heat, 1);
        heat[7] = 2;
        for (String title : new String[] {longer, longest}) {
            Path[] pngs = {dir.resolve("one.png"), dir.resolve("wide.png"), dir.resolve("spectrum.png"),
                dir.resolve("heatmap.png")};
            for (Path p : pngs) {
                Files.deleteIfExists(p);
            }
            Charts.logLogLines(pngs[0], title, "t", "y", one);
            Charts.logLogLines(pngs[1], title, "t", "y", wideLegend);
            Charts.spectrum(pngs[2], title, new double[] {3, 2, 1});
            Charts.kernelHeatmap(pngs[3], title, heat, 6, null, 6);
            for (Path p : pngs) {
                BufferedImage img = ImageIO.read(p.toFile());
                int[] cols = titleColumns(img);
                assertThat(cols[0]).as("%s: the title's first column, %s", p.getFileName(), title).isGreaterThan(2);
                assertThat(cols[1]).as("%s: the title's last column", p.getFileName())
                        .isLessThan(img.getWidth() - 3);
            }
        }
        // the chart keeps the whole title where it fits at a smaller font, and both ends where it does not. The
        // title is made of this platform's font metrics (fonts differ between machines): 5% wider than the image
        // less its padding at the chart's font, so it must shrink, and about 0.68 of it at 9 points, which fits
        // over a plot that spans most of the image (a one-letter legend)
        XYChart chart = Charts.logLogChart("t", "t", "y", one, 0);
        java.awt.Font font = chart.getStyler().getChartTitleFont();
        java.awt.font.FontRenderContext frc = new java.awt.font.FontRenderContext(null, true, false);
        double inner = chart.getWidth() - 2 * (chart.getStyler().getChartPadding()
                + chart.getStyler().getChartTitlePadding());
        StringBuilder words = new StringBuilder("linearised training,");
        for (int i = 0; font.getStringBounds(words.toString(), frc).getWidth() < 1.05 * inner; i++) {
            words.append(i % 2 == 0 ? " kernel" : " t");
        }
        String shrinks = words.toString();
        assertThat(font.deriveFont(Charts.MIN_TITLE_POINTS).getStringBounds(shrinks, frc).getWidth())
                .isLessThan(0.75 * inner);
        chart.setTitle(shrinks);
        Charts.fitTitle(chart);
        assertThat(chart.getTitle()).isEqualTo(shrinks);
        assertThat(chart.getStyler().getChartTitleFont().getSize2D()).isLessThan(font.getSize2D())
                .isGreaterThanOrEqualTo(Charts.MIN_TITLE_POINTS);
        chart = Charts.logLogChart(longest, "t", "y", one, 0);
        Charts.fitTitle(chart);
        assertThat(chart.getTitle()).startsWith("start x").endsWith("x end").contains("…");
        // a short title is left as it is
        chart = Charts.logLogChart("time", "t", "y", one, 0);
        float size = chart.getStyler().getChartTitleFont().getSize2D();
        Charts.fitTitle(chart);
        assertThat(chart.getTitle()).isEqualTo("time");
        assertThat(chart.getStyler().getChartTitleFont().getSize2D()).isEqualTo(size);
    }

    /**
     * A title under half the image's width was not fitted (taken to fit however far off centre the plot is), but a
     * legend of most of the image leaves a plot narrower than that: the title, centred over it, lost its start.
     * A title of thousands of characters (a long data path) is cut by bisection (it was measured once per
     * character cut, seconds), and a cut never splits a surrogate pair.
     */
    @Test
    void titlesFitBesideAWideLegendAndLongOnesAreCutQuickly() throws IOException {
        double[] x = {1, 10, 100};
        XYChart probe = Charts.logLogChart("t", "t", "y", List.of(new Charts.Series("a", x, x)), 0);
        java.awt.Font font = probe.getStyler().getChartTitleFont();
        java.awt.font.FontRenderContext frc = new java.awt.font.FontRenderContext(null, true, false);
        // 0.38 of the image at the chart's font: below the half that was taken to fit
        StringBuilder t = new StringBuilder("curves");
        while (font.getStringBounds(t.toString(), frc).getWidth() < 0.38 * Charts.WIDTH) {
            t.append(" of t");
        }
        Path png = dir.resolve("legend.png");
        Charts.logLogLines(png, t.toString(), "t", "y", List.of(new Charts.Series("L".repeat(90), x, x)));
        BufferedImage img = ImageIO.read(png.toFile());
        int[] cols = titleColumns(img);
        assertThat(cols[0]).as("the title's first column beside a wide legend").isGreaterThan(2);
        assertThat(cols[1]).isLessThan(img.getWidth() - 3);

        String path = "start " + "/data/run".repeat(2000) + " end";
        XYChart chart = Charts.logLogChart(path, "t", "y", List.of(new Charts.Series("a", x, x)), 0);
        long t0 = System.nanoTime();
        Charts.fitTitle(chart);
        assertThat((System.nanoTime() - t0) / 1e9).as("seconds to fit 18,000 characters").isLessThan(5);
        assertThat(chart.getTitle()).startsWith("start /data").endsWith("run end").contains("…");
        assertThat(chart.getStyler().getChartTitleFont().getSize2D()).isEqualTo(Charts.MIN_TITLE_POINTS);

        String emoji = "a\uD83D\uDE00b\uD83D\uDE00c";
        for (int c = 1; c < emoji.length(); c++) {
            String s = Charts.cutMiddle(emoji, c);
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                assertThat(!Character.isHighSurrogate(ch) || i + 1 < s.length()
                        && Character.isLowSurrogate(s.charAt(i + 1))).as("cut %d: %s", c, s).isTrue();
                assertThat(!Character.isLowSurrogate(ch) || i > 0 && Character.isHighSurrogate(s.charAt(i - 1)))
                        .as("cut %d: %s", c, s).isTrue();
            }
        }
    }
}
