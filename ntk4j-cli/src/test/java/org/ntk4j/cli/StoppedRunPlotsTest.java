package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.io.OutputFiles;

/**
 * {@link StoppedRunPlots} on the paths the commands' tests do not reach: a drawing that fails after leaving a file
 * in the directory aside (before 2026-12-07, late night, the directory was left behind, and its non-empty
 * deletion's DirectoryNotEmptyException replaced the drawing's own failure), a plot removed between the checks and
 * the drawing (before: NoSuchFileException from the comparison instead of the plot), a file of other bytes (refused
 * in words that do not claim it is not the stopped run's: a plot drawn on another machine may differ in its fonts),
 * and a link to the stopped run's plot (kept, the link left a link).
 */
class StoppedRunPlotsTest {
    @TempDir
    Path dir;

    private static StoppedRunPlots candidate(Path png) throws IOException {
        StoppedRunPlots plots = new StoppedRunPlots(true);
        OutputFiles outputs = OutputFiles.refusingExisting();
        plots.output(outputs, "--plot", png);
        outputs.check(); // the existing plot was not added as an output: nothing to refuse
        return plots;
    }

    private void assertNothingHidden() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).noneMatch(f -> f.startsWith("."));
        }
    }

    @Test
    void aDrawingThatFailsLeavesNoDirectoryAsideAndKeepsItsOwnError() throws Exception {
        Path png = dir.resolve("c.png");
        Files.write(png, new byte[] {1, 2, 3});
        StoppedRunPlots plots = candidate(png);
        StringWriter said = new StringWriter();
        assertThatThrownBy(() -> plots.draw("--plot", png, new PrintWriter(said), drawn -> {
            // a write cut after its temporary file was made (a full disk, say), its leftover beside the drawing
            Files.write(drawn.resolveSibling(".c.png.tmp-0123456789abcdef"), new byte[] {9});
            throw new IOException("disk full");
        })).isInstanceOf(IOException.class).hasMessage("disk full");
        assertNothingHidden();
        assertThat(Files.readAllBytes(png)).containsExactly(1, 2, 3);
        assertThat(said.toString()).isEmpty();
    }

    @Test
    void aPlotRemovedSinceTheChecksIsDrawn() throws Exception {
        Path png = dir.resolve("c.png");
        Files.write(png, new byte[] {1, 2, 3});
        StoppedRunPlots plots = candidate(png);
        Files.delete(png);
        StringWriter said = new StringWriter();
        assertThat(plots.draw("--plot", png, new PrintWriter(said), drawn -> AtomicFile.writeString(drawn, "plot")))
                .isTrue();
        assertThat(Files.readString(png)).isEqualTo("plot");
        assertNothingHidden();
    }

    @Test
    void otherBytesAreRefusedInOneLineThatBlamesNoOneAndLeftAsTheyAre() throws Exception {
        Path png = dir.resolve("c.png");
        Files.write(png, new byte[] {1, 2, 3});
        StoppedRunPlots plots = candidate(png);
        assertThatThrownBy(() -> plots.draw("--plot", png, new PrintWriter(new StringWriter()),
                drawn -> AtomicFile.writeString(drawn, "plot"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--plot " + png + " exists and differs from the plot this run draws (a plot drawn by "
                        + "another machine or JDK may differ in its fonts); pass --overwrite to replace it");
        assertThat(Files.readAllBytes(png)).containsExactly(1, 2, 3);
        assertNothingHidden();
    }

    @Test
    void aLinkToTheSamePlotIsKeptALink() throws Exception {
        Path real = Files.createDirectory(dir.resolve("real")).resolve("c.png");
        Files.writeString(real, "plot");
        Path png = Files.createSymbolicLink(dir.resolve("c.png"), real);
        StoppedRunPlots plots = candidate(png);
        StringWriter said = new StringWriter();
        assertThat(plots.draw("--plot", png, new PrintWriter(said, true),
                drawn -> AtomicFile.writeString(drawn, "plot"))).isFalse();
        assertThat(said.toString().trim()).isEqualTo("kept " + png + " (the stopped run's plot, the same as this "
                + "run's)");
        assertThat(Files.isSymbolicLink(png)).isTrue();
        assertThat(Files.readString(real)).isEqualTo("plot");
        assertNothingHidden();
        try (Stream<Path> files = Files.list(real.getParent())) {
            assertThat(files).containsExactly(real); // drawn aside beside the link's target, and removed
        }
    }
}
