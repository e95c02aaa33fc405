package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.io.OutputFiles;

/**
 * The plots of a resumed run measured in parts ({@code convergence --plot}, {@code study --plot-dir}) that its
 * stopped run may have drawn. Such a run draws its plots once every part is done and only then completes its report
 * (so that a run stopped before its plots stays resumable): a run killed between the two leaves its plots beside a
 * partial report whose every part is done, and the docs' recipe, the same command with {@code --resume}, was
 * refused for them ("exists; pass --overwrite"). There, without {@code --overwrite}, an existing plot is not checked
 * up front as an output: the resume (which measures nothing, every part being done) draws the plot aside and keeps
 * the file when it is, byte for byte, the one it draws (the figures are read back from the report with every digit,
 * so an uninterrupted run's plot is the same bytes); any other file there is refused in one line and left as it is,
 * before the report is completed, so the run stays resumable. Elsewhere (a part not done: the stopped run drew no
 * plot; {@code --overwrite}; no file there) the plot is an output like any other.
 */
final class StoppedRunPlots {
    /** The plots that exist and may be the stopped run's (absolute, normalised). */
    private final Set<Path> maybeOwn = new HashSet<>();
    private final boolean candidates;

    /**
     * The plots of one run.
     *
     * @param resumeOfFinishedParts a resume without {@code --overwrite} whose partial report has every part done
     */
    StoppedRunPlots(boolean resumeOfFinishedParts) {
        this.candidates = resumeOfFinishedParts;
    }

    /** Adds {@code png} to {@code outputs} ({@link OutputFiles#output}) unless it may be the stopped run's plot. */
    void output(OutputFiles outputs, String option, Path png) {
        if (png != null && mayBeOwn(png)) {
            return;
        }
        outputs.output(option, png, ".png");
    }

    /** Adds {@code directory/name} to {@code outputs} ({@link OutputFiles#outputIn}) unless it may be the run's. */
    void outputIn(OutputFiles outputs, String option, Path directory, String name) {
        if (directory != null && mayBeOwn(directory.resolve(name))) {
            return;
        }
        outputs.outputIn(option, directory, name);
    }

    private boolean mayBeOwn(Path png) {
        // a name the output checks would refuse (not .png) is left to them: the stopped run could not have drawn it
        if (!candidates || !Files.isRegularFile(png)
                || !png.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            return false;
        }
        maybeOwn.add(png.toAbsolutePath().normalize());
        return true;
    }

    /** What draws a plot into a file. */
    @FunctionalInterface
    interface Drawing {
        /**
         * Draws the plot.
         *
         * @param png the file to write
         * @throws IOException if it cannot be written
         */
        void draw(Path png) throws IOException;
    }

    /**
     * Draws {@code png}, or, where it may be the stopped run's plot, draws it aside (a hidden directory beside it,
     * deleted after) and keeps the file if it is the same bytes.
     *
     * @param option the option that names the plot, for messages ("--plot")
     * @param png the plot
     * @param out where "kept PNG ..." is said
     * @param drawing what draws it
     * @return true if it was drawn, false if the stopped run's was kept
     * @throws IllegalArgumentException (one line) if a file there differs from the plot this run draws
     * @throws IOException if the plot cannot be written, or drawn aside
     */
    boolean draw(String option, Path png, PrintWriter out, Drawing drawing) throws IOException {
        // a file that was there at the checks and has gone since (removed by hand) is simply drawn
        if (!maybeOwn.contains(png.toAbsolutePath().normalize()) || !Files.exists(png)) {
            drawing.draw(png);
            return true;
        }
        // beside the plot (a link's target), so as not to need room elsewhere; a directory, so that the file drawn
        // keeps the plot's own name (and so its length: OutputFiles.MAX_NAME_BYTES) and extension
        Path dir = AtomicFile.destination(png).toAbsolutePath().getParent();
        Path aside = Files.createTempDirectory(dir, ".ntk4j-resume-");
        // SIGTERM or Ctrl-C while it is drawn (the JVM's shutdown hooks run) removes it too: only kill -9 or a
        // power loss leaves it (docs/cli.md, "Leftovers of a killed command")
        Thread hook = new Thread(() -> deleteTree(aside), "ntk4j-resume-plot");
        Runtime.getRuntime().addShutdownHook(hook);
        boolean same;
        try {
            drawing.draw(aside.resolve(png.getFileName()));
            same = Files.mismatch(aside.resolve(png.getFileName()), png) == -1;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook deletes it
            }
            deleteTree(aside);
        }
        if (!same) {
            // the same figures (read back from the report with every digit) drawn by another JDK or machine can
            // differ in the fonts' pixels: such a plot is not told from a foreign file, and the message does not
            // claim it is not the stopped run's
            throw new IllegalArgumentException(option + " " + png + " exists and differs from the plot this run "
                    + "draws (a plot drawn by another machine or JDK may differ in its fonts); pass --overwrite to "
                    + "replace it");
        }
        out.println("kept " + png + " (the stopped run's plot, the same as this run's)");
        return false;
    }

    /**
     * Deletes the directory a plot was drawn aside in, with whatever is in it (the plot, or a write's hidden
     * temporary file that a failure or a signal cut), never throwing: a failure to remove it must not hide the
     * outcome of the comparison. A file that cannot be deleted is left (docs/cli.md, "Leftovers of a killed
     * command").
     */
    private static void deleteTree(Path dir) {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    // left: see above
                }
            });
        } catch (IOException e) {
            // gone already, or unreadable: left as it is
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // not empty (a file that could not be deleted): left
        }
    }
}
