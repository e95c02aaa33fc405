package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the command line in-process for tests. */
final class CliRuns {
    private CliRuns() {
    }

    /** Runs {@code ntk4j args...}, asserts its exit code, and returns {stdout, stderr}. */
    static String[] run(int expectedCode, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        assertThat(code).as("exit code of %s; stderr: %s", String.join(" ", args), err).isEqualTo(expectedCode);
        return new String[] {out.toString(), err.toString()};
    }
}
