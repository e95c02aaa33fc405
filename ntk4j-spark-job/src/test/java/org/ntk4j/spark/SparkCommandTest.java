package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.cli.Main;
import org.ntk4j.io.TileStore;

/**
 * {@code ntk4j kernel --out OUT --spark local[2]} through the CLI (found by ServiceLoader, as the launcher runs it):
 * the same file as the single-machine command, byte for byte, for every kind; a Spark run that fails half way
 * resumed by the single-machine command; usage errors.
 */
class SparkCommandTest {
    // 40 examples in tiles of 16: 6 upper tiles; float64
    static final String[] KERNEL = {"kernel", "--model", "fcn(depth=2,width=24,out=4)", "--data", "synthetic:40,6",
        "--dtype", "f64", "--tile", "16", "--quiet"};

    @TempDir
    Path dir;

    private static String[] run(int expectedCode, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        assertThat(code).as("exit code; stdout: %s; stderr: %s", out, err).isEqualTo(expectedCode);
        return new String[] {out.toString(), err.toString()};
    }

    private static String[] with(String[] a, String... more) {
        String[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    @Test
    void everyKindOnSparkIsTheSingleMachineFile() throws Exception {
        for (String kind : new String[] {"full", "trace", "diagonal", "pntk", "pntk-unscaled", "logit:2", "probes:3",
            "projected:32"}) {
            String name = kind.replace(':', '-');
            Path local = dir.resolve(name + "-local.npy");
            Path spark = dir.resolve(name + "-spark.npy");
            run(0, with(KERNEL, "--kind", kind, "--out", local.toString()));
            String[] r = run(0, with(KERNEL, "--kind", kind, "--out", spark.toString(), "--spark", "local[2]"));
            assertThat(r[0]).contains("spark local[2]: 6 tiles in").contains("wrote " + spark);
            assertThat(Files.readAllBytes(spark)).as(kind).isEqualTo(Files.readAllBytes(local));
        }
        // x2 given: 40 × 24 in tiles of 16, 4 tiles
        Path local = dir.resolve("x2-local.npy");
        Path spark = dir.resolve("x2-spark.npy");
        run(0, with(KERNEL, "--kind", "full", "--x2", "synthetic:24,6", "--out", local.toString()));
        run(0, with(KERNEL, "--kind", "full", "--x2", "synthetic:24,6", "--out", spark.toString(), "--spark=local[2]"));
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
    }

    @Test
    void aSparkRunThatFailsHalfWayIsResumedByTheSingleMachineCommand() throws Exception {
        Path whole = dir.resolve("whole.npy");
        run(0, with(KERNEL, "--kind", "diagonal", "--out", whole.toString()));
        Path out = dir.resolve("k.npy");
        // tile 4 fails on its first attempt and Spark may not retry it: the job fails, the manifest keeps what the
        // other tasks finished (spark.* system properties are Spark settings)
        System.setProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "4");
        System.setProperty("spark.task.maxFailures", "1");
        System.setProperty(SparkKernelJob.TILES_PER_TASK, "1");
        String[] failed;
        try {
            failed = run(2, with(KERNEL, "--kind", "diagonal", "--out", out.toString(), "--spark", "local[2]"));
        } finally {
            System.clearProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT);
            System.clearProperty("spark.task.maxFailures");
            System.clearProperty(SparkKernelJob.TILES_PER_TASK);
        }
        assertThat(failed[1]).startsWith("ntk4j: spark: the kernel job failed: injected failure");
        assertThat(TileStore.unfinished(out)).isTrue();
        assertThat(Files.exists(out)).isFalse();
        String[] resumed = run(0, with(KERNEL, "--kind", "diagonal", "--out", out.toString(), "--resume"));
        assertThat(resumed[0]).containsPattern("\\d tiles computed \\(\\d already done\\)");
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));
    }

    @Test
    void sparkNeedsATiledRun() {
        String[] r = run(2, "kernel", "--data", "synthetic:8,6", "--model", "fcn(depth=1,width=8,out=2)", "--spark",
                "local[2]");
        assertThat(r[1]).isEqualTo("ntk4j: --spark: only for a tiled run, which writes its kernel with --out (and "
                + "--kind, not axes)\n");
    }
}
