package org.ntk4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.ntk4j.io.JsonReport;

/**
 * The report of a command measured in parts (convergence's widths, study's checkpoints), rewritten after each
 * finished part so that a killed run loses none of them, and read back by {@code --resume}. Such a report has, after
 * its figures, {@code "command"} (which command wrote it), {@code "complete"} (false until the last part) and what
 * is done; {@link JsonReport#write} replaces it whole or not at all. The settings a resume must match are those
 * that change the figures; {@code --memory} is not one (a decision): it changes how each kernel is split into steps,
 * so the figures by round-off only, and a resume may take another budget.
 *
 * <p>Each such command object has a package-private {@code afterPart} hook, called after each part's report is
 * written with the number of parts its run measured so far; it does nothing unless a test sets it on the command
 * object it runs ({@code CliRuns}, through {@link Main}'s factory) and throws from it to stop the run as a kill would
 * after that part.
 */
final class PartialReport {
    private PartialReport() {
    }

    /**
     * Claims the report for the whole run, as a tiled kernel's OUT is claimed ({@link org.ntk4j.io.TileStore#lock}:
     * {@code REPORT.lock} beside the report, or beside its target when it is a symbolic link): the report is rewritten
     * after each part, for hours, so a second run on it — with or without {@code --resume} or {@code --overwrite}, in
     * this process or another — is refused before it reads or writes it, rather than the two rewriting it in turn
     * (and a {@code --resume} taking a live run's parts for a stopped one's). Taken before anything else is checked,
     * so that a live run's report is never called "the partial report of a stopped run". A run killed leaves the
     * lock file, unlocked, which the next run takes.
     *
     * @param report the report path, or null
     * @return the claim, which the caller closes when the run ends (deleting the lock file); null for no report, or
     *     one whose directory is missing or not writable, which no run can write and whose run is refused before any
     *     work: a new run by the command's output checks, a {@code --resume} by {@link #forResume}
     * @throws IOException "another ntk4j is writing REPORT" when another run holds it, or when the lock file cannot
     *     be created
     */
    static org.ntk4j.io.TileStore.RunLock claim(Path report) throws IOException {
        if (report == null) {
            return null;
        }
        Path target = org.ntk4j.io.AtomicFile.destination(report);
        Path dir = target.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir)) {
            return null; // nothing can be written there: the output checks that follow refuse it in their words
        }
        return org.ntk4j.io.TileStore.lock(target);
    }

    /**
     * Reads the report that {@code --resume} continues, refusing one line at a time: no report path, a missing
     * file, a report in a directory this user cannot write in, a report of another command or of none, a complete
     * one.
     *
     * @param command the command ("convergence")
     * @param option the option that names the report, for messages ("--report")
     * @param report the report path, or null
     * @param parts what the parts are, for the message about a complete report ("every width")
     * @return the partial report's fields
     * @throws IOException if the file cannot be read or is not a flat JSON object
     */
    static JsonReport forResume(String command, String option, Path report, String parts) throws IOException {
        if (report == null) {
            throw new IllegalArgumentException("--resume: give " + option + ", the partial report of the run to "
                    + "continue");
        }
        if (!Files.isRegularFile(report)) {
            throw new IllegalArgumentException("--resume: " + option + " " + report + " does not exist; without "
                    + "--resume the command starts a new run there");
        }
        // the resumed run rewrites the report after each part (AtomicFile: a temporary file beside it, renamed):
        // a directory it cannot write in is refused now, not after the first part's hours. The output checks of a
        // new run say this; a resumed report is not among its outputs (it is the stopped run's own), and claim took
        // no lock there.
        Path dir = org.ntk4j.io.AtomicFile.destination(report).toAbsolutePath().getParent();
        if (dir != null && !Files.isWritable(dir)) {
            throw new IllegalArgumentException("--resume: " + option + " " + report + ": directory " + dir
                    + " is not writable (the resumed run rewrites its report there)");
        }
        JsonReport r = JsonReport.read(report);
        Object was = r.get("command");
        if (!command.equals(was)) {
            throw new IllegalArgumentException("--resume: " + option + " " + report + " is not a report of ntk4j "
                    + command + (was instanceof String ? " (it is one of ntk4j " + was + ")"
                    : " (it names no command: a report of another command, or of a version before --resume)"));
        }
        if (!Boolean.FALSE.equals(r.get("complete"))) {
            throw new IllegalArgumentException("--resume: " + option + " " + report + " is complete (" + parts
                    + " is done); there is nothing to resume (without --resume, --overwrite runs it again)");
        }
        return r;
    }

    /**
     * Refuses, without {@code --overwrite}, a new run onto the partial report of a stopped run of the same command,
     * saying that {@code --resume} continues it (the output check would only say that the file exists). Any other
     * existing file is left to that check.
     *
     * @param command the command ("convergence")
     * @param option the option that names the report, for messages ("--report")
     * @param report the report path, or null
     * @param overwrite whether --overwrite was given
     */
    static void refuseNewRunOnto(String command, String option, Path report, boolean overwrite) {
        if (report == null || overwrite || !Files.isRegularFile(report)) {
            return;
        }
        JsonReport r;
        try {
            r = JsonReport.read(report);
        } catch (IOException e) {
            return; // not a report of ntk4j: the output check refuses it as any existing file
        }
        if (command.equals(r.get("command")) && Boolean.FALSE.equals(r.get("complete"))) {
            throw new IllegalArgumentException(option + " " + report + " is the partial report of a stopped run: "
                    + "--resume continues it, --overwrite starts a new one");
        }
    }

    /**
     * Refuses a resume whose setting differs from the one the partial report's run recorded.
     *
     * @param recorded the partial report
     * @param key the report's field of the setting
     * @param option the command-line option, for the message ("--seeds")
     * @param now this run's value: a String, an integer (Integer, Long), a Double (compared exactly: written with
     *     {@link JsonReport#putExact}) or an int[]
     */
    static void requireSame(JsonReport recorded, String key, String option, Object now) {
        Object was = recorded.get(key);
        boolean same;
        if (now instanceof int[] a) {
            same = was instanceof int[] b && Arrays.equals(a, b);
        } else if (now instanceof Double d) {
            same = was instanceof Number n && n.doubleValue() == d;
        } else {
            same = was != null && was.toString().equals(now.toString());
        }
        if (!same) {
            throw new IllegalArgumentException("--resume: " + option + " " + text(now) + " differs from the partial "
                    + "report's run, which had " + (recorded.has(key) ? text(was) : "none recorded") + "; resume with "
                    + "the same " + option + " (or start a new run)");
        }
    }

    /**
     * Refuses a resume whose inputs differ from those the partial report's run recorded by their fingerprint (a
     * data file changed since).
     *
     * @param recorded the partial report
     * @param option the data option, for messages ("--data")
     * @param source the data source as given
     * @param fingerprint this run's fingerprint of the inputs
     */
    static void requireSameData(JsonReport recorded, String option, String source, String fingerprint) {
        if (!fingerprint.equals(recorded.get("data_fingerprint"))) {
            throw new IllegalArgumentException("--resume: " + option + " " + source + ": the inputs differ from "
                    + "those of the partial report's run (a file changed since); start a new run");
        }
    }

    private static String text(Object v) {
        if (v instanceof int[] a) {
            return Arrays.stream(a).mapToObj(Integer::toString).reduce((x, y) -> x + "," + y).orElse("");
        }
        return String.valueOf(v);
    }

    /**
     * What a run measured in parts says when it is interrupted (SIGTERM or Ctrl-C, which run the JVM's shutdown
     * hooks), as a tiled kernel run does ({@link TiledRun}): the parts its report keeps and that {@code --resume}
     * continues, or that it had measured none. Before 2026-12-07, late night, such a run said nothing. Registered once
     * the run's checks have passed and closed when it returns or fails, so that neither a refusal nor a finished
     * run says anything of an interruption. The count is that of the report as it is on disk: each rewrite is made
     * through {@link #written}, which a signal waits for (at most {@link #WAIT_MS} ms) before it reads the count, so
     * a report renamed into place as the signal came is counted (before 2026-12-07, late night, it was not: the
     * line said one part less than the report held, or "before the first" of a report with one).
     */
    static final class Interruption extends ShutdownLine {
        private final Path report;
        private final String parts;
        private final int total;
        private final java.io.PrintWriter err;
        /** How long the hook waits for a rewrite of the report in progress before it says the count it has. */
        static final long WAIT_MS = 5_000;
        private final java.util.concurrent.locks.ReentrantLock writing =
                new java.util.concurrent.locks.ReentrantLock();
        private volatile int done;

        /**
         * Registers the hook.
         *
         * @param report the report rewritten after each part
         * @param done the parts already in it (a resume's)
         * @param total the parts of the whole run
         * @param parts what the parts are, plural ("widths")
         * @param err where the line goes (the command's error stream)
         */
        Interruption(Path report, int done, int total, String parts, java.io.PrintWriter err) {
            this.report = report;
            this.done = done;
            this.total = total;
            this.parts = parts;
            this.err = err;
            register();
        }

        /**
         * A rewrite of the report.
         *
         * @param <E> what it throws
         */
        @FunctionalInterface
        interface Write<E extends Exception> {
            /**
             * Writes the report.
             *
             * @throws E if it cannot be written
             */
            void write() throws E;
        }

        /**
         * Rewrites the report, which then holds {@code n} parts, and counts them, the two together for the hook: a
         * signal during the write is answered once it is done (the main thread goes on while the JVM's shutdown
         * hooks run), with the count of the file then on disk.
         *
         * @param n the parts the rewritten report holds
         * @param write the rewrite
         * @param <E> what the rewrite throws
         * @throws E if it fails (the count unchanged)
         */
        <E extends Exception> void written(int n, Write<E> write) throws E {
            writing.lock();
            try {
                write.write();
                done = n;
            } finally {
                writing.unlock();
            }
        }

        /** The line the hook prints. */
        String line() {
            int d = done;
            if (d == 0) {
                return "ntk4j: interrupted before the first of " + total + " " + parts + " was measured; the same "
                        + "command starts the run again";
            }
            return "ntk4j: interrupted; " + d + " of " + total + " " + parts + " are in " + report + ": the same "
                    + "command with --resume " + (d < total ? "continues" : "completes it");
        }

        /**
         * The hook: the line, once a rewrite of the report in progress is done. It keeps the lock of
         * {@link #written} (its thread ends holding it): the main thread, which runs on while the JVM's shutdown
         * hooks do, rewrites the report no more, so the file stays as the line says (before 2026-12-07, late night,
         * a width measured after the line could still be written: the line said 1 of 6 widths, the report kept 2).
         */
        @Override
        void interrupted() {
            try {
                // bounded, so that a write that never ends cannot hold the JVM's exit
                writing.tryLock(WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            err.println(line());
            err.flush();
        }
    }
}
