package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.function.IntConsumer;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;

/** Runs the command line in-process for tests. */
final class CliRuns {
    private CliRuns() {
    }

    /** Runs {@code ntk4j args...}, asserts its exit code, and returns {stdout, stderr}. */
    static String[] run(int expectedCode, String... args) {
        return runWith(expectedCode, CommandLine.defaultFactory(), args);
    }

    /**
     * {@link #run(int, String...)} with {@code afterPart} set on the command object run, for a command measured in
     * parts (approx --widths, convergence, study; {@link PartialReport}): it is called after each part's report is
     * written with the number of parts this run measured so far, and a test throws from it to stop the run as a kill
     * would after that part.
     */
    static String[] run(int expectedCode, IntConsumer afterPart, String... args) {
        CommandLine.IFactory withHook = new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                K made = CommandLine.defaultFactory().create(cls);
                if (made instanceof ApproxCommand c) {
                    c.afterPart = afterPart;
                } else if (made instanceof ConvergenceCommand c) {
                    c.afterPart = afterPart;
                } else if (made instanceof StudyCommand c) {
                    c.afterPart = afterPart;
                }
                return made;
            }
        };
        return runWith(expectedCode, withHook, args);
    }

    private static String[] runWith(int expectedCode, CommandLine.IFactory factory, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), factory, args);
        assertThat(code).as("exit code of %s; stderr: %s", String.join(" ", args), err).isEqualTo(expectedCode);
        return new String[] {out.toString(), err.toString()};
    }

    /** The values of an .npy file (a command's output, a script's reference), in float64, row-major. */
    static double[] values(Path npy) throws IOException {
        try (Tensor t = Npy.readTensor(npy, DType.F64)) {
            double[] v = new double[t.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = t.getFlat(i);
            }
            return v;
        }
    }
}
