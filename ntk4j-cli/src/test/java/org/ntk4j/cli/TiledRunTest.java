package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.TileStore;

/**
 * {@code ntk4j kernel --out}: tiled runs written tile by tile; a run killed with SIGKILL half way resumes to the
 * same bytes as an uninterrupted run, recomputing no finished tile; one stopped by a signal (SIGTERM, as SIGINT)
 * says on stderr how many tiles are done and how to resume, and holds its claim on OUT until it is gone; a corrupt
 * or foreign manifest is a clear error; a low -Xmx and --memory run completes by tiling with its measured peak under
 * the budget; an impossible budget is refused before any work.
 */
class TiledRunTest {
    // 8 row tiles of 16: 36 tiles of a [120, 120, 10, 10] kernel, long enough to be caught half way
    static final String[] KERNEL = {"kernel", "--model", "fcn(depth=2,width=48,out=10)", "--data",
        "synthetic:120,32", "--kind", "full", "--tile", "16", "--threads", "1", "--quiet"};


    static String[] with(String[] a, String... more) {
        String[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    /** The CLI in a separate JVM. */
    static Process start(Path dir, List<String> jvm, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvm);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
    }

    static int recordedTiles(Path manifest) throws IOException {
        if (!Files.exists(manifest)) {
            return 0;
        }
        int n = 0;
        for (String line : Files.readAllLines(manifest, StandardCharsets.UTF_8)) {
            n += line.startsWith("tile ") ? 1 : 0;
        }
        return n;
    }

    private static long jsonLong(Path report, String key) throws IOException {
        Matcher m = Pattern.compile("\"" + key + "\": ([0-9.e+]+)").matcher(Files.readString(report));
        assertThat(m.find()).as("%s in %s", key, report).isTrue();
        return (long) Double.parseDouble(m.group(1));
    }

    @Test
    void aRunKilledHalfWayResumesToTheSameBytes(@TempDir Path dir) throws Exception {
        Path whole = dir.resolve("whole.npy");
        run(0, with(KERNEL, "--out", whole.toString(), "--report", dir.resolve("whole.json").toString()));
        long tiles = jsonLong(dir.resolve("whole.json"), "tiles");
        assertThat(tiles).isEqualTo(8 * 9 / 2);
        // the default budget leaves room for every prepared tile: the run keeps them and says how much, and the plan's
        // predicted peak plus that bounds what it held
        long cache = jsonLong(dir.resolve("whole.json"), "prepared_cache_bytes");
        assertThat(cache).isPositive();
        assertThat(jsonLong(dir.resolve("whole.json"), "peak_bytes"))
                .isLessThanOrEqualTo(jsonLong(dir.resolve("whole.json"), "predicted_peak_bytes") + cache);

        Path killed = dir.resolve("killed.npy");
        Path manifest = TileStore.manifestPath(killed);
        // with --params-out, written before the first tile: the same command with --resume keeps it
        Path params = dir.resolve("params.npz");
        Process p = start(dir, List.of("-Xmx512m"), with(KERNEL, "--out", killed.toString(), "--params-out",
                params.toString()));
        long deadline = System.nanoTime() + 120_000_000_000L;
        int seen = 0;
        while (p.isAlive() && System.nanoTime() < deadline) {
            seen = recordedTiles(manifest);
            if (seen >= 3) {
                break;
            }
            Thread.sleep(5);
        }
        assertThat(p.isAlive()).as("the child is still running (log: %s)", dir.resolve("child.log")).isTrue();
        p.destroyForcibly(); // SIGKILL on Linux
        p.waitFor();
        int done = recordedTiles(manifest);
        assertThat(done).isBetween(3, (int) tiles - 1);
        assertThat(killed).doesNotExist(); // nothing that looks complete
        assertThat(TileStore.partialPath(killed)).exists();

        Path report = dir.resolve("resumed.json");
        byte[] paramsBefore = Files.readAllBytes(params);
        // another --params-out that exists holds other parameters (seed 7): refused, the run left as it is
        Path other = dir.resolve("other.npz");
        run(0, "kernel", "--model", "fcn(depth=2,width=48,out=10)", "--data", "synthetic:2,32", "--seed", "7",
                "--params-out", other.toString());
        assertThat(run(2, with(KERNEL, "--out", killed.toString(), "--resume", "--params-out", other.toString()))[1])
                .isEqualTo("ntk4j: --params-out " + other + " exists and does not hold this run's parameters; pass "
                        + "--overwrite to replace it\n");
        assertThat(recordedTiles(manifest)).isEqualTo(done);
        run(0, with(KERNEL, "--out", killed.toString(), "--params-out", params.toString(), "--resume", "--report",
                report.toString()));
        assertThat(Files.readAllBytes(params)).isEqualTo(paramsBefore);
        assertThat(jsonLong(report, "tiles_resumed")).isEqualTo(done);
        assertThat(jsonLong(report, "tiles_computed")).isEqualTo(tiles - done); // no finished tile recomputed
        assertThat(Files.readAllBytes(killed)).isEqualTo(Files.readAllBytes(whole));
        assertThat(manifest).doesNotExist();
        assertThat(TileStore.partialPath(killed)).doesNotExist();
    }

    @Test
    void anInterruptedRunSaysHowToResumeAndItsLockFileIsTakenByTheNext(@TempDir Path dir) throws Exception {
        // the uninterrupted run, in a JVM of its own: its exit (System.exit, which runs the shutdown hooks) says
        // nothing of an interruption
        Path whole = dir.resolve("whole.npy");
        Process p = start(dir, List.of("-Xmx512m"), with(KERNEL, "--out", whole.toString()));
        assertThat(p.waitFor()).as(Files.readString(dir.resolve("child.log"))).isZero();
        assertThat(Files.readString(dir.resolve("child.log"))).doesNotContain("interrupted");
        assertThat(TileStore.lockPath(whole)).doesNotExist();

        // SIGTERM (Process.destroy on Linux) runs the shutdown hooks as SIGINT (Ctrl-C) does
        Path out = dir.resolve("k.npy");
        Path manifest = TileStore.manifestPath(out);
        p = start(dir, List.of("-Xmx512m"), with(KERNEL, "--out", out.toString()));
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (p.isAlive() && recordedTiles(manifest) < 3 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(p.isAlive()).as("the child is still running (log: %s)", dir.resolve("child.log")).isTrue();
        p.destroy();
        assertThat(p.waitFor()).isEqualTo(143); // 128 + SIGTERM
        int done = recordedTiles(manifest);
        assertThat(done).isBetween(3, 35);
        List<String> said = Files.readAllLines(dir.resolve("child.log"), StandardCharsets.UTF_8).stream()
                .filter(l -> l.startsWith("ntk4j:")).toList();
        assertThat(said).hasSize(1);
        Matcher m = Pattern.compile("ntk4j: interrupted; (\\d+) of 36 tiles are in "
                + Pattern.quote(TileStore.partialPath(out).toString()) + ": the same command with --resume continues")
                .matcher(said.get(0));
        assertThat(m.matches()).as(said.get(0)).isTrue();
        // the tiles in the manifest when the hook ran (3 or more were before the signal); more may have finished
        // since, while the JVM exited
        assertThat(Integer.parseInt(m.group(1))).isBetween(3, done);
        // the claim lasted until the process was gone (theInterruptionHookLeavesTheRunsClaimToTheProcessExit): its
        // file stays, unlocked, and the next command on OUT takes it (and removes it when it ends, below)
        assertThat(TileStore.lockPath(out)).exists();
        assertThat(out).doesNotExist();

        // an error exit (another run's parameters: --seed 7) while the hook could be registered says nothing of it
        p = start(dir, List.of("-Xmx512m"), with(KERNEL, "--out", out.toString(), "--resume", "--seed", "7"));
        assertThat(p.waitFor()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("child.log"))).contains("was written for another run")
                .doesNotContain("interrupted");
        assertThat(TileStore.lockPath(out)).doesNotExist();

        run(0, with(KERNEL, "--out", out.toString(), "--resume"));
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));
        assertThat(TileStore.lockPath(out)).doesNotExist();
        assertThat(manifest).doesNotExist();
    }

    /**
     * The signal's hook runs while the run's tiles still compute and record (the JVM halts only once every hook,
     * Spark's stop of its context included, has returned): the run's claim on OUT must hold until the process is
     * gone. Before 2026-12-07 the hook deleted OUT.lock, so a second process (a scheduler restarting the job, the
     * user's next command) claimed OUT on a new lock file and, with --overwrite, truncated OUT.partial under the
     * tiles the first was still writing.
     */
    @Test
    void theInterruptionHookLeavesTheRunsClaimToTheProcessExit(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("k.npy");
        java.io.StringWriter said = new java.io.StringWriter();
        try (TileStore.RunLock held = TileStore.lock(out);
             TiledRun.Interruption hook = new TiledRun.Interruption(out, null, new java.io.PrintWriter(said))) {
            hook.interrupted();
            assertThat(said.toString()).startsWith("ntk4j: interrupted");
            Process probe = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx64m", "-cp", System.getProperty("java.class.path"), LockProbe.class.getName(),
                    out.toString()).redirectErrorStream(true).start();
            assertThat(probe.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            String claimed = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(claimed).isEqualTo("another ntk4j is writing " + out);
            assertThat(TileStore.lockPath(out)).exists();
        }
        assertThat(TileStore.lockPath(out)).doesNotExist(); // a run that ends (not killed) removes it
    }

    /** Another process trying to claim OUT: prints "claimed", or the refusal's message. */
    public static final class LockProbe {
        private LockProbe() {
        }

        /**
         * Tries {@link TileStore#lock} on OUT once.
         *
         * @param args OUT
         * @throws IOException if releasing a claim it got fails
         */
        public static void main(String[] args) throws IOException {
            try (TileStore.RunLock lock = TileStore.lock(Path.of(args[0]))) {
                System.out.println("claimed");
            } catch (IOException busy) {
                System.out.println(busy.getMessage());
            }
        }
    }

    @Test
    void aCorruptOrForeignManifestIsAClearError(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("k.npy");
        Path manifest = TileStore.manifestPath(out);
        Process p = start(dir, List.of("-Xmx512m"), with(KERNEL, "--out", out.toString()));
        while (p.isAlive() && recordedTiles(manifest) < 2) {
            Thread.sleep(5);
        }
        p.destroyForcibly();
        p.waitFor();
        assertThat(recordedTiles(manifest)).isPositive();
        assertThat(out).doesNotExist();
        // a foreign run, named by what differs: other parameters (seed), inputs, model, kind
        // (synthetic data is drawn from --seed too); refused before it writes --params-out (it wrote them before
        // 2026-12-06: the parameters of a run that never ran)
        Path params = dir.resolve("p.npz");
        String err = run(2, with(KERNEL, "--out", out.toString(), "--resume", "--seed", "7", "--params-out",
                params.toString()))[1];
        assertThat(err).contains("was written for another run").contains("fingerprint")
                .endsWith(" (the parameters and x1 differ)\n");
        assertThat(params).doesNotExist();
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume", "--standardize", "global"))[1];
        assertThat(err).endsWith(" (x1 differs)\n");
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume", "--x2", "synthetic:120,32"))[1];
        assertThat(err).contains("its symmetric is true, this run's is false; its tiles is 36, this run's is 64; "
                + "its fingerprint is ")
                .endsWith(" (x2 differs)\n");
        String[] wider = KERNEL.clone();
        wider[java.util.Arrays.asList(wider).indexOf("fcn(depth=2,width=48,out=10)")] = "fcn(depth=2,width=40,out=10)";
        err = run(2, with(wider, "--out", out.toString(), "--resume"))[1];
        assertThat(err).endsWith(" (the model and the parameters differ)\n");
        String[] trace = KERNEL.clone();
        trace[java.util.Arrays.asList(trace).indexOf("full")] = "trace";
        err = run(2, with(trace, "--out", out.toString(), "--resume"))[1];
        assertThat(err).contains("was written for another run: its shape is 120,120,10,10, this run's is 120,120; "
                + "its kind is full, this run's is trace\n");
        // a corrupt header
        String text = Files.readString(manifest);
        Files.writeString(manifest, text.replace("dtype f32", "dtype f64"));
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume"))[1];
        assertThat(err).startsWith("ntk4j: manifest ").contains("is corrupt").contains("header does not match");
        // a corrupt tile line
        Files.writeString(manifest, text.replaceFirst("(?m)^tile (\\d+) ([0-9a-f]+)", "tile $1 0$2"));
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume"))[1];
        assertThat(err).contains("is corrupt").contains("does not match its checksum");
        // garbage
        Files.writeString(manifest, "not a manifest\n");
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume"))[1];
        assertThat(err).contains("is corrupt").contains("does not start with");
        // corrupt data under an intact manifest: tile 0's first bytes
        Files.writeString(manifest, text);
        byte[] data = Files.readAllBytes(TileStore.partialPath(out));
        data[200] ^= 0x55;
        Files.write(TileStore.partialPath(out), data);
        err = run(2, with(KERNEL, "--out", out.toString(), "--resume"))[1];
        assertThat(err).contains(".partial is corrupt").contains("does not match its checksum");
        assertThat(out).doesNotExist();
    }

    @Test
    void aLowMemoryRunCompletesByTilingUnderItsBudget(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("k.npy");
        Path report = dir.resolve("r.json");
        // the [160, 160, 10, 10] float32 kernel alone is 9.8 MiB: more than the budget, and -Xmx is 32 MiB
        Process p = start(dir, List.of("-Xmx32m"), "kernel", "--model", "fcn(depth=2,width=32,out=10)", "--data",
                "synthetic:160,32", "--kind", "full", "--memory", "8m", "--quiet", "--out", out.toString(),
                "--report", report.toString());
        assertThat(p.waitFor()).as(Files.readString(dir.resolve("child.log"))).isZero();
        long tiles = jsonLong(report, "tiles");
        long peak = jsonLong(report, "peak_bytes");
        long budget = jsonLong(report, "memory_budget_bytes");
        assertThat(tiles).isGreaterThan(1);
        assertThat(budget).isEqualTo(8L << 20);
        assertThat(peak).isPositive().isLessThanOrEqualTo(budget);
        assertThat(Files.size(out)).isEqualTo(128 + 160L * 160 * 100 * 4);
    }

    /**
     * Inputs large beside the blocks (float64 1000 × 512 and 300 × 512: 3.9 and 1.2 MiB) under a budget just above
     * the plan's peak, which counts them once: the run holds them once. Before 2026-12-07 the command kept the data
     * as read beside its laid-out copy, and this run peaked at about 10.8 MiB of its 6 MiB. Run in a JVM of its own,
     * as the command is: the peak counts every live tensor of the process, and in this one the tensors other tests
     * left to the garbage collector (a model's traced constants) counted too (0.3 MiB over, once).
     */
    @Test
    void aRunHoldsItsInputsOnceWithinItsBudget(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("r.json");
        Process p = start(dir, List.of(), "kernel", "--model", "fcn(depth=1,width=16,out=2)", "--dtype", "f64",
                "--data", "synthetic:1000,512", "--x2", "synthetic:300,512", "--kind", "trace", "--memory", "6m",
                "--quiet", "--out", dir.resolve("k.npy").toString(), "--report", report.toString());
        assertThat(p.waitFor()).as(Files.readString(dir.resolve("child.log"))).isZero();
        long inputs = (1000L + 300) * 512 * 8;
        long peak = jsonLong(report, "peak_bytes");
        assertThat(jsonLong(report, "tiles")).isGreaterThan(1);
        assertThat(peak).isGreaterThan(inputs).isLessThanOrEqualTo(jsonLong(report, "predicted_peak_bytes"))
                .isLessThanOrEqualTo(6L << 20);
    }

    @Test
    void theFileDoesNotDependOnTheThreadCount(@TempDir Path dir) throws Exception {
        // float32, the grid chosen by the planner: --threads changes only how many tiles run at once
        String[] args = {"kernel", "--model", "cnn(depth=1,channels=4,out=5)", "--data", "synthetic:70,6,6,1",
            "--kind", "diagonal", "--memory", "256m", "--quiet"};
        Path one = dir.resolve("one.npy");
        Path three = dir.resolve("three.npy");
        run(0, with(args, "--threads", "1", "--out", one.toString(), "--report", dir.resolve("one.json").toString()));
        run(0, with(args, "--threads", "3", "--out", three.toString(), "--report",
                dir.resolve("three.json").toString()));
        assertThat(jsonLong(dir.resolve("one.json"), "tiles")).isGreaterThan(1);
        assertThat(jsonLong(dir.resolve("three.json"), "workers")).isGreaterThan(1);
        assertThat(Files.readAllBytes(three)).isEqualTo(Files.readAllBytes(one));
    }

    @Test
    void anImpossibleBudgetIsRefusedBeforeAnyWork(@TempDir Path dir) {
        Path out = dir.resolve("k.npy");
        String err = run(2, "kernel", "--model", "fcn(depth=2,width=64,out=10)", "--data", "synthetic:300,32",
                "--kind", "full", "--memory", "64k", "--quiet", "--out", out.toString())[1];
        assertThat(err).startsWith("ntk4j: memory budget: 64.0 KiB is too small")
                .contains("raise --memory to at least");
        assertThat(out).doesNotExist();
        assertThat(TileStore.partialPath(out)).doesNotExist();
        assertThat(TileStore.manifestPath(out)).doesNotExist();
    }
}
