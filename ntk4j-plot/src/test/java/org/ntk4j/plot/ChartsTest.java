package org.ntk4j.plot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
    }

    @Test
    void spectrumDrawsPositiveEigenvaluesAndRejectsNone() throws IOException {
        Path png = dir.resolve("spectrum.png");
        Charts.spectrum(png, "spectrum", new double[] {-1e-12, 1e-3, 0.5, 2, 40});
        assertThat(colours(png)).isGreaterThan(10);
        assertThatThrownBy(() -> Charts.spectrum(dir.resolve("s2.png"), "s", new double[] {0, -1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no positive eigenvalue");
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
    }

    @Test
    void mismatchedSeriesLengthsAreRejected() {
        assertThatThrownBy(() -> new Charts.Series("a", new double[2], new double[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 x values but 3 y values");
    }
}
