package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PartialReport.Interruption}: a signal that comes while the report is rewritten says the count of the report
 * that the rewrite leaves on disk. Before 2026-12-07, late night, the count was set after the write returned, so a
 * signal between the rename and the count said one part less than the report held
 * (ConvergenceCommandTest.anInterruptedRunSaysWhatItsReportKeeps, which waits for the report to appear and then sends
 * SIGTERM, failed so: "interrupted before the first of 6 widths" with widths_done = [16] in the report).
 */
class PartialReportInterruptionTest {
    @TempDir
    Path dir;

    @Test
    void aSignalDuringARewriteSaysTheCountOfTheRewrittenReport() throws Exception {
        Path report = dir.resolve("c.json");
        StringWriter said = new StringWriter();
        CountDownLatch writing = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        try (PartialReport.Interruption interruption = new PartialReport.Interruption(report, 0, 3, "widths",
                new PrintWriter(said))) {
            Thread run = new Thread(() -> {
                try {
                    interruption.written(1, () -> {
                        writing.countDown();
                        assertThat(finish.await(30, TimeUnit.SECONDS)).isTrue();
                        Files.writeString(report, "{}");
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            run.start();
            assertThat(writing.await(30, TimeUnit.SECONDS)).isTrue();
            Thread hook = new Thread(interruption::interrupted);
            hook.start();
            hook.join(300);
            assertThat(hook.isAlive()).as("the hook waits for the rewrite").isTrue();
            assertThat(said.toString()).isEmpty();
            finish.countDown();
            hook.join(30_000);
            run.join(30_000);
            assertThat(said.toString().trim()).isEqualTo("ntk4j: interrupted; 1 of 3 widths are in " + report
                    + ": the same command with --resume continues");
        }
    }

    @Test
    void aRewriteThatFailsLeavesTheCount() throws Exception {
        Path report = dir.resolve("c.json");
        StringWriter said = new StringWriter();
        try (PartialReport.Interruption interruption = new PartialReport.Interruption(report, 2, 3, "widths",
                new PrintWriter(said))) {
            try {
                interruption.written(3, () -> {
                    throw new java.io.IOException("disk full");
                });
            } catch (java.io.IOException expected) {
                assertThat(expected).hasMessage("disk full");
            }
            interruption.interrupted();
            assertThat(said.toString().trim()).isEqualTo("ntk4j: interrupted; 2 of 3 widths are in " + report
                    + ": the same command with --resume continues");
        }
    }
}
