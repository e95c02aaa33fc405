package org.ntk4j.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench plans --baseline CLASSPATH}: this build against another (the previous commit's, built by
 * {@code ntk4j-bench/run-plans.sh}) side by side in one run. Each workload runs in a fresh JVM per build, the two
 * builds alternating round by round, each going first in every other round; a JVM times a number of repeated calls
 * after a warm-up (as a sweep or a benchmark loop makes them) and reports the median. Printed: each workload's
 * median seconds per call under both builds and the ratio baseline / this (above 1: this build is faster).
 * Workloads: the paper's FCN sweep points
 * (depth 9, width 128, O = 8, inputs of 3) by structured derivatives at N = 16, 32, 64; neural-tangents' FCN
 * example (3 × 2048, O = 8, 16 inputs of 3,072, AUTO); the cnn of the peers' comparison (3 × conv 32, 16 images
 * 16×16×3, AUTO); the traced kernel (N × N, mean over the outputs) of fcn(depth=3,width=512,out=8) on 512 inputs
 * of 3,072 by structured derivatives; and the tiled pNTK of fcn(depth=2,width=512,out=10) on 1,024 inputs of 784
 * with a 256 MiB budget; the kernels of each example with itself ([N, O, O], the batch axis diagonal, AUTO) of
 * fcn(depth=3,width=512,out=10) on 512 inputs of 784 and of the cnn on 64 images.
 * The worker uses only API both builds share.
 */
public final class PlansBench {
    private static final String WORKLOAD_NAMES = "paper-sd-16, paper-sd-32, paper-sd-64, fcn-example, cnn, trace-sd, "
            + "tiled-pntk, per-example-fcn, per-example-cnn";
    private static final String[] WORKLOADS = WORKLOAD_NAMES.split(", ");

    private PlansBench() {
    }

    /** The command line: picocli's options, checked (the baseline's class path looked at) before the run. */
    @Command(name = "ntk4j bench plans", abbreviateSynopsis = true, sortOptions = false,
            description = {"This build against another side by side: each workload in a fresh JVM per build, the "
                + "builds alternating round by round; prints each workload's median seconds per call under both and "
                + "the ratio baseline / this (above 1: this build is faster). ntk4j-bench/run-plans.sh builds the "
                + "previous commit's and runs this.", ""})
    static final class Options implements BenchCli.Bench {
        @Option(names = "--baseline", paramLabel = "CLASSPATH", description = "the build to compare with: a class "
                + "path holding ntk4j's classes (required)")
        String baseline;
        @Option(names = "--rounds", paramLabel = "R", description = "rounds, the builds taking turns to go first "
                + "(default ${DEFAULT-VALUE})")
        int rounds = 3;
        @Option(names = "--only", split = ",", paramLabel = "W", description = "these workloads only, of "
                + WORKLOAD_NAMES + " (default: all)")
        String[] only = WORKLOADS;
        @Option(names = "--out", paramLabel = "FILE", description = "also write the table to FILE, a .txt (default: "
                + "printed only)")
        Path out;
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            if (baseline == null) {
                throw new IllegalArgumentException("--baseline CLASSPATH is required (the build to compare with; "
                        + "ntk4j-bench/run-plans.sh builds the previous commit's)");
            }
            checkBaseline(baseline);
            BenchCli.positive("--rounds", rounds);
            for (String w : only) {
                if (!List.of(WORKLOADS).contains(w)) {
                    throw new IllegalArgumentException("--only: expected workloads of " + WORKLOAD_NAMES + ", got '"
                            + w + "'");
                }
            }
            BenchCli.onlyWith(given, out != null, "--out", "--overwrite");
            if (out != null) {
                BenchCli.checkOutput("--out", out, ".txt", overwrite.overwrite);
            }
        }

        @Override
        public int run(String[] args) throws IOException, InterruptedException, URISyntaxException {
            PlansBench.run(this);
            return 0;
        }
    }

    /** The class a baseline must hold: ntk4j's kernel entry point, which every workload calls. */
    static final String BASELINE_CLASS = "org/ntk4j/ntk/EmpiricalNtk.class";

    /**
     * Checks a baseline class path: every entry exists, and one holds ntk4j's classes ({@link #BASELINE_CLASS}).
     *
     * @throws IllegalArgumentException naming {@code --baseline} otherwise
     * @throws IOException if a jar of it cannot be read
     */
    static void checkBaseline(String classpath) throws IOException {
        boolean found = false;
        for (String entry : classpath.split(java.io.File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            Path p = Path.of(entry);
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("--baseline: " + entry + " does not exist (an entry of the class "
                        + "path)");
            }
            if (Files.isDirectory(p)) {
                found |= Files.isRegularFile(p.resolve(BASELINE_CLASS));
            } else {
                try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(p.toFile())) {
                    found |= jar.getEntry(BASELINE_CLASS) != null;
                } catch (java.util.zip.ZipException e) {
                    throw new IllegalArgumentException("--baseline: " + entry + " is neither a directory nor a jar",
                            e);
                }
            }
        }
        if (!found) {
            throw new IllegalArgumentException("--baseline: no entry of '" + classpath + "' holds ntk4j's classes ("
                    + BASELINE_CLASS + "); give the class path of a build, as ntk4j-bench/run-plans.sh does");
        }
    }

    /**
     * Runs the comparison.
     *
     * @param args {@code --baseline CLASSPATH [--rounds R] [--out FILE] [--only W1,W2]} ({@code --help})
     */
    public static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private static void run(Options o) throws IOException, InterruptedException, URISyntaxException {
        String baseline = o.baseline;
        int rounds = o.rounds;
        String current = System.getProperty("java.class.path");
        String bench = Path.of(PlansBench.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%-14s %14s %14s %8s%n", "workload",
                "baseline s", "this s", "ratio"));
        for (String w : o.only) {
            double[] base = new double[rounds];
            double[] mine = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                // the builds take turns going first: of two fresh JVMs run back to back the second ran 3-10% slower
                // (per-example-cnn, six pairs, either build second), which the order baseline-first had charged
                // to this build in every round
                if (r % 2 == 0) {
                    base[r] = worker(bench + java.io.File.pathSeparator + baseline, w);
                    mine[r] = worker(current, w);
                } else {
                    mine[r] = worker(current, w);
                    base[r] = worker(bench + java.io.File.pathSeparator + baseline, w);
                }
                System.err.printf(Locale.ROOT, "%s round %d: baseline %.4f s, this %.4f s%n", w, r + 1, base[r],
                        mine[r]);
            }
            double b = Timing.median(base);
            double m = Timing.median(mine);
            String line = String.format(Locale.ROOT, "%-14s %14.4f %14.4f %8.2f%n", w, b, m, b / m);
            System.out.print(line);
            table.append(line);
        }
        if (o.out != null) {
            AtomicFile.writeString(o.out, table.toString());
        }
    }

    /** Runs one workload in a fresh JVM on {@code classpath}; returns its median seconds per call. */
    private static double worker(String classpath, String workload) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx4g", "-Dorg.bytedeco.javacpp.maxBytes=6g", "-cp", classpath, Worker.class.getName(), workload));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String result = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("SECONDS ")) {
                    result = line.substring(8).trim();
                }
            }
        }
        if (p.waitFor() != 0 || result == null) {
            throw new IOException("plans: the worker of " + workload + " failed (exit " + p.exitValue() + ") on "
                    + "class path " + classpath);
        }
        return Double.parseDouble(result);
    }

    /** One workload, timed in this JVM: warm-up calls, then the median of timed calls. */
    public static final class Worker {
        private Worker() {
        }

        /**
         * Runs a workload and prints {@code SECONDS median}.
         *
         * @param args the workload's name
         * @throws Exception if it fails
         */
        public static void main(String[] args) throws Exception {
            String w = args[0];
            double seconds;
            if (w.startsWith("paper-sd-")) {
                int n = Integer.parseInt(w.substring("paper-sd-".length()));
                seconds = kernel("fcn(depth=9,width=128,out=8,act=relu,w_std=1,b_std=0)", new int[] {3}, n,
                        Method.STRUCTURED_DERIVATIVES, 5, 30, false);
            } else if (w.equals("fcn-example")) {
                seconds = kernel("fcn(depth=3,width=2048,out=8)", new int[] {3072}, 16, Method.AUTO, 2, 7, false);
            } else if (w.equals("cnn")) {
                seconds = kernel("cnn(depth=3,channels=32,out=10)", new int[] {16, 16, 3}, 16, Method.AUTO, 2, 7,
                        false);
            } else if (w.equals("trace-sd")) {
                seconds = kernel("fcn(depth=3,width=512,out=8)", new int[] {3072}, 512, Method.STRUCTURED_DERIVATIVES,
                        2, 7, true);
            } else if (w.equals("per-example-fcn")) {
                seconds = perExample("fcn(depth=3,width=512,out=10)", new int[] {784}, 512);
            } else if (w.equals("per-example-cnn")) {
                seconds = perExample("cnn(depth=3,channels=32,out=10)", new int[] {16, 16, 3}, 64);
            } else if (w.equals("tiled-pntk")) {
                seconds = tiled();
            } else {
                throw new IllegalArgumentException("unknown workload " + w);
            }
            System.out.println("SECONDS " + seconds);
        }

        private static double kernel(String spec, int[] in, int n, Method method, int warmup, int reps,
                                     boolean traced) {
            Model m = Zoo.parse(spec);
            Params p = m.init(0, in, DType.F32);
            Tensor x = Tensor.randomNormal(DType.F32, 1, org.ntk4j.tensor.Shapes.prepend(n, in));
            EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes(traced ? new int[] {-1} : new int[0])
                    .method(method);
            double[] t = new double[reps];
            for (int i = 0; i < warmup + reps; i++) {
                long t0 = System.nanoTime();
                e.ntk(x, null).close();
                if (i >= warmup) {
                    t[i - warmup] = (System.nanoTime() - t0) / 1e9;
                }
            }
            return Timing.median(t);
        }

        /** The kernel [N, O, O] of each example with itself (batch axis diagonal, no trace), AUTO. */
        private static double perExample(String spec, int[] in, int n) {
            Model m = Zoo.parse(spec);
            Params p = m.init(0, in, DType.F32);
            Tensor x = Tensor.randomNormal(DType.F32, 1, org.ntk4j.tensor.Shapes.prepend(n, in));
            EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes().diagonalAxes(0);
            double[] t = new double[7];
            for (int i = 0; i < 2 + t.length; i++) {
                long t0 = System.nanoTime();
                e.ntk(x, null).close();
                if (i >= 2) {
                    t[i - 2] = (System.nanoTime() - t0) / 1e9;
                }
            }
            return Timing.median(t);
        }

        private static double tiled() throws IOException {
            Model m = Zoo.parse("fcn(depth=2,width=512,out=10)");
            int[] in = {784};
            Params p = m.init(0, in, DType.F32);
            Tensor x = Tensor.randomNormal(DType.F32, 1, 1024, 784);
            long budget = 256L << 20;
            KernelKind kind = KernelKind.parse("pntk", 0);
            EmpiricalNtk e = EmpiricalNtk.of(m, p).memoryBudget(budget);
            int cores = Runtime.getRuntime().availableProcessors();
            TilePlan plan = TilePlanner.of(e, kind).budget(budget).workers(cores).plan(1024, 0, in, DType.F32);
            double[] t = new double[3];
            for (int i = 0; i < 4; i++) {
                long t0 = System.nanoTime();
                new TiledKernel(e, plan, x, null).run(new java.util.HashSet<>(), (tile, block) -> { }, null);
                if (i >= 1) {
                    t[i - 1] = (System.nanoTime() - t0) / 1e9;
                }
            }
            return Timing.median(t);
        }
    }
}
