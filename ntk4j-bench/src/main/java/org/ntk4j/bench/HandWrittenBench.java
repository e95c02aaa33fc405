package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench numpy}: ntk4j's structured derivatives against what a careful person would write instead
 * of using a library, a hand-written NumPy per-layer (Hadamard) computation of the same FCN kernel
 * ({@link NumpyPeer}), and against the machine's SGEMM rate ({@link SgemmRate}), all in one run: neural-tangents'
 * FCN example {@code fcn(depth=3,width=W,out=8)}, inputs 3072, N = 16, float32, the full kernel [N, N, O, O] with
 * x2 = x1, the same weights and inputs for both. Each width runs in rounds (ntk4j's timed calls, then NumPy's
 * process with its own), so that load from other processes falls on both alike; times are medians of all timed
 * calls after the warm-up. NumPy's kernel must agree with ntk4j's (relative Frobenius error ≤
 * {@link KernelAgreement#TOLERANCE}) before its ratio is reported. Writes {@code numpy_fcn.md} and {@code .csv}.
 */
public final class HandWrittenBench {
    private static final int N = 16;
    private static final int INPUTS = 3072;
    private static final int OUT = 8;

    private HandWrittenBench() {
    }

    /**
     * What one width gave: {@code early}, ntk4j's timed calls right after the warm-up by count (the JIT still
     * compiling); {@code ntk4j}, those after the warm-up by time too; {@code warmupCalls}, the calls before them.
     */
    record Row(int width, long parameters, double flops, double[] early, double[] ntk4j, int warmupCalls,
               double[] numpy, double relErr, double gemmShare, double gemmCalls) {
        double ntk4jMedian() {
            return Timing.median(ntk4j);
        }

        double earlyMedian() {
            return Timing.median(early);
        }

        double numpyMedian() {
            return Timing.median(numpy);
        }
    }

    /** The command line: picocli's options, checked before the run ({@link BenchCli}). */
    @Command(name = "ntk4j bench numpy", abbreviateSynopsis = true, sortOptions = false,
            description = {"ntk4j SD against a hand-written NumPy per-layer FCN kernel and the SGEMM rate, same run: "
                + "fcn(depth=3,width=W,out=8), inputs 3072, N = 16, float32, full kernel.",
                "Writes STEM.md and STEM.csv in --out; an existing one is refused unless --overwrite.", ""})
    static final class Options implements BenchCli.Bench {
        @Option(names = "--widths", split = ",", paramLabel = "W", description = "the widths (default 2048,512)")
        int[] widths = {2048, 512};
        // "warm" means compiled: a warm-up of 30 calls, then of 4 seconds from the first call. 30 calls were taken
        // for the JIT's steady state (W = 2048 on Zen 4: 42 ms after 3, 36 after 10, 31 after 50), but the W = 512
        // call kept getting faster for 2 s (Zen 5, medians of 50 calls: 3.6 ms over the first 50, 2.9–3.3 ms up to
        // 450, 2.1–2.4 ms at 500–700, 1.9 ms after 750); the medians after the 30 calls are reported as "early".
        // NumPy gets the 30 warm-up calls, which it does not need.
        @Option(names = "--warmup", paramLabel = "K", description = "ntk4j's warm-up calls, then --warmup-seconds "
                + "(both are done); the calls right after the first K are timed too and reported as 'early' "
                + "(default ${DEFAULT-VALUE})")
        int warmup = 30;
        @Option(names = "--warmup-seconds", paramLabel = "S", description = "ntk4j's warm-up by time, from its "
                + "first call (default ${DEFAULT-VALUE})")
        double warmupSeconds = 4;
        @Option(names = "--reps", paramLabel = "R", description = "timed calls per round, each program (default "
                + "${DEFAULT-VALUE})")
        int reps = 10;
        @Option(names = "--rounds", paramLabel = "N", description = "rounds of ntk4j's calls then NumPy's process "
                + "(default ${DEFAULT-VALUE})")
        int rounds = 2;
        @Option(names = "--blas-threads", paramLabel = "T", description = "BLAS threads of both (default: the cores;"
                + " 1 resists other processes' load)")
        int blasThreads;
        @Option(names = "--first-calls", paramLabel = "K", description = "K launches of `./ntk4j kernel` on the W = "
                + "512 setting in fresh JVMs, after one that may build or write the class-data archive; 0: none; "
                + "needs the launcher (default ${DEFAULT-VALUE})")
        int firstCalls = 5;
        @Option(names = "--out", paramLabel = "DIR", description = "where the files go, created if missing (default:"
                + " the repository's ntk4j-bench/)")
        Path out = BenchCli.defaultOutDir();
        @Option(names = "--name", paramLabel = "STEM", description = "the files' name stem, without a directory "
                + "(default ${DEFAULT-VALUE})")
        String name = "numpy_fcn";
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();
        String python;

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            BenchCli.positive("--widths", widths);
            BenchCli.nonNegative("--warmup", warmup);
            BenchCli.nonNegative("--warmup-seconds", warmupSeconds);
            BenchCli.positive("--reps", reps);
            BenchCli.positive("--rounds", rounds);
            if (given.hasMatchedOption("--blas-threads")) {
                BenchCli.positive("--blas-threads", blasThreads);
            }
            BenchCli.nonNegative("--first-calls", firstCalls);
            BenchCli.checkOutputs(overwrite.overwrite, out, BenchCli.stem(name), ".md", ".csv");
            python = NumpyPeer.findPython();
            if (python == null) {
                throw new IllegalArgumentException("no python3 imports numpy (pip install numpy, or apt-get install "
                        + "python3-numpy; NTK4J_PYTHON names another interpreter)");
            }
        }

        @Override
        public int run(String[] args) throws IOException {
            HandWrittenBench.run(this, args);
            return 0;
        }
    }

    /**
     * Runs the comparison and writes its report.
     *
     * @param args the options ({@code --help})
     */
    public static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private static void run(Options o, String[] args) throws IOException {
        int[] widths = o.widths;
        int warmup = o.warmup;
        double warmupSeconds = o.warmupSeconds;
        int reps = o.reps;
        int rounds = o.rounds;
        int blasThreads = o.blasThreads;
        int firstCalls = o.firstCalls;
        String python = o.python;
        BenchLog log = new BenchLog();
        if (blasThreads > 0) {
            Blas.setThreads(blasThreads);
        }
        int threads = Blas.threads();
        log.say("bench numpy: %s, %d cores, load %s; BLAS threads %d (ntk4j and NumPy)", Machine.cpuModel(),
                Machine.cores(), Machine.loadAverage(), threads);
        SgemmRate.Rate before = SgemmRate.measure(2048, 1, 5);
        log.say("SGEMM 2048³: median %.1f GFLOP/s (best %.1f)", before.medianGflops(), before.bestGflops());
        List<Row> rows = new ArrayList<>();
        String numpy = "";
        Path dir = Files.createTempDirectory("ntk4j-numpy");
        FirstCalls first = null;
        try {
            for (int w : widths) {
                Model model = Zoo.parse("fcn(depth=3,width=" + w + ",out=" + OUT + ")");
                int[] in = {INPUTS};
                double flops = new CostModel(model, in, DType.F32, N, 0, new int[0], new int[0])
                        .estimate(Method.STRUCTURED_DERIVATIVES).flops();
                try (Params params = model.init(0, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, N,
                        INPUTS)) {
                    EmpiricalNtk sd = EmpiricalNtk.of(model, params).method(Method.STRUCTURED_DERIVATIVES)
                            .traceAxes();
                    double[] ours = new double[0];
                    double[] early = new double[0];
                    int warmupCalls = 0;
                    double[] theirs = new double[0];
                    double relErr = Double.NaN;
                    for (int r = 0; r < rounds; r++) {
                        Tensor[] last = new Tensor[1];
                        Runnable call = () -> {
                            if (last[0] != null) {
                                last[0].close();
                            }
                            last[0] = sd.ntk(x, null);
                        };
                        if (r == 0) {
                            long start = System.nanoTime();
                            early = Timing.repeat(warmup, reps, call);
                            warmupCalls = warmup + reps + Timing.warmUntil(start, warmupSeconds, call);
                        }
                        double[] t = Timing.repeat(r == 0 ? 0 : 1, reps, call);
                        ours = concat(ours, t);
                        NumpyPeer.Run run = NumpyPeer.run(python, dir, params, x, 1.5, 0.05, threads,
                                r == 0 ? warmup : 1, reps);
                        numpy = run.numpy();
                        theirs = concat(theirs, run.seconds());
                        try (Tensor k = run.kernel(); Tensor mine = last[0]) {
                            relErr = Math.max(Double.isNaN(relErr) ? 0 : relErr,
                                    KernelAgreement.relativeError(k, mine));
                        }
                    }
                    // a last set of calls with the time-in-GEMM counter on (it takes a lock around each GEMM, so
                    // these calls are not among the timed ones)
                    Blas.countTime(true);
                    long start = System.nanoTime();
                    for (int i = 0; i < reps; i++) {
                        sd.ntk(x, null).close();
                    }
                    double wall = System.nanoTime() - start;
                    double gemmShare = Blas.countedNanos() / wall;
                    double gemmCalls = Blas.countedCalls() / (double) reps;
                    Blas.countTime(false);
                    Row row = new Row(w, params.count(), flops, early, ours, warmupCalls, theirs, relErr, gemmShare,
                            gemmCalls);
                    rows.add(row);
                    log.say("W = %d: ntk4j SD median %.4g s after %d warm-up calls (%.0f%% of SGEMM; %.4g s after %d), "
                                    + "NumPy %.4g s, NumPy / ntk4j %.2f×, relative error %.1e; %.0f%% of ntk4j's time "
                                    + "in %.0f GEMM calls", w, row.ntk4jMedian(), warmupCalls,
                            100 * flops / row.ntk4jMedian() / 1e9 / before.medianGflops(), row.earlyMedian(), warmup,
                            row.numpyMedian(), row.numpyMedian() / row.ntk4jMedian(), relErr, 100 * gemmShare,
                            gemmCalls);
                }
            }
            if (firstCalls > 0) {
                first = firstCalls(dir, firstCalls, log);
            }
        } finally {
            PeersBench.deleteTreeQuietly(dir);
        }
        SgemmRate.Rate after = SgemmRate.measure(2048, 1, 5);
        log.say("SGEMM 2048³ at the end: median %.1f GFLOP/s (best %.1f)", after.medianGflops(), after.bestGflops());
        write(o.out, o.name, args, rows, before, after, numpy, threads, warmup, first);
    }

    /** The issue's first-call command, the W = 512 setting, without its {@code --report FILE}. */
    private static final List<String> FIRST_CALL = List.of("kernel", "--model", "fcn(depth=3,width=512,out=8)",
            "--data", "synthetic:16,3072", "--kind", "full", "--method", "sd", "--dtype", "f32");

    /**
     * What the command line's first call took: the computation ({@code --report}'s seconds) and the whole command,
     * JVM start included, of each launch.
     */
    record FirstCalls(double[] computation, double[] wall) {
    }

    /**
     * The issue's first-call measure: {@code launches} runs of {@link #FIRST_CALL} through the launcher named
     * by the system property {@code ntk4j.launcher} (which `./ntk4j bench` sets), after one untimed launch that may
     * build the CLI or write its class-data archive; null, said in the log, when the bench runs without the
     * launcher.
     */
    private static FirstCalls firstCalls(Path dir, int launches, BenchLog log) throws IOException {
        String launcher = System.getProperty("ntk4j.launcher");
        if (launcher == null || !Files.isExecutable(Path.of(launcher))) {
            log.say("first call: not measured (run through ./ntk4j bench, which names its launcher)");
            return null;
        }
        Path report = dir.resolve("first_call.json");
        List<String> command = new ArrayList<>(List.of(launcher));
        command.addAll(FIRST_CALL);
        command.addAll(List.of("--report", report.toString()));
        double[] computation = new double[launches];
        double[] wall = new double[launches];
        for (int i = -1; i < launches; i++) {
            Files.deleteIfExists(report);
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            long start = System.nanoTime();
            PeersBench.Finished run = PeersBench.runProcess(pb, dir.resolve("first_call.out"), 600);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (run == null || run.rc() != 0 || !Files.exists(report)) {
                throw new IOException("first call: `" + String.join(" ", command) + "` "
                        + (run == null ? "did not finish in 600 s" : "failed (exit " + run.rc() + "): "
                        + run.output().trim()));
            }
            if (i >= 0) {
                computation[i] = PeersBench.jsonNumbers(Files.readString(report), "seconds")[0];
                wall[i] = seconds;
                log.say("first call %d: computation %.1f ms, whole command %.2f s", i + 1, 1e3 * computation[i],
                        wall[i]);
            }
        }
        return new FirstCalls(computation, wall);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void write(Path out, String name, String[] args, List<Row> rows, SgemmRate.Rate before,
                              SgemmRate.Rate after, String numpy, int threads, int warmup, FirstCalls first)
            throws IOException {
        double sgemm = 0.5 * (before.medianGflops() + after.medianGflops());
        StringBuilder sb = new StringBuilder("# ntk4j bench numpy\n\n");
        sb.append("Generated by `./ntk4j bench numpy").append(args.length > 0 ? " " + String.join(" ", args) : "")
                .append("` on ").append(Machine.now()).append(".\n\n");
        sb.append("| machine | |\n|---|---|\n");
        sb.append("| CPU | ").append(Machine.cpuModel()).append(", ").append(Machine.cores())
                .append(" cores visible to the JVM |\n");
        sb.append("| load average at the end | ").append(Machine.loadAverage()).append(" |\n");
        sb.append("| Java | ").append(Machine.java()).append(" |\n");
        sb.append("| ntk4j's BLAS | ").append(Blas.config().trim()).append("; ").append(threads)
                .append(" thread(s) |\n");
        sb.append("| NumPy | ").append(numpy).append("; ").append(threads).append(" BLAS thread(s) |\n");
        sb.append(String.format(Locale.ROOT, "| SGEMM 2048³ float32, same run | %.1f GFLOP/s at the start, %.1f at "
                + "the end (medians; the rate below is their mean, %.1f) |%n%n", before.medianGflops(),
                after.medianGflops(), sgemm));
        sb.append("neural-tangents' FCN example `fcn(depth=3,width=W,out=8)`, inputs 3072, N = 16, float32, the full "
                + "kernel [N, N, O, O] with x2 = x1, the same weights and inputs. Medians of the timed calls after "
                + "the warm-up; ntk4j's calls and NumPy's process alternate in rounds. ntk4j warms up for "
                + "the calls of its column and \"early\" is the median of the timed calls after the first "
                + warmup + " of them, the JIT still compiling. \"% of SGEMM\": the cost model's FLOPs for SD divided "
                + "by ntk4j's median time, against the SGEMM rate. NumPy's kernel is checked against ntk4j's "
                + "(relative Frobenius error) before its ratio counts. \"In GEMM\": the share of ntk4j's wall time "
                + "with a GEMM running (`Blas.countTime`, over a further set of calls), and the GEMM calls per "
                + "kernel.\n\n");
        sb.append("| W | parameters | SD FLOPs (cost model) | at the SGEMM rate | ntk4j SD warm (warm-up calls) "
                + "| % of SGEMM rate | ntk4j early | ntk4j in GEMM | NumPy per-layer | NumPy / ntk4j | rel. error |\n"
                + "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        Csv csv = new Csv("width", "parameters", "sd_flops", "sgemm_gflops", "ntk4j_sd_median_s", "ntk4j_sd_times_s",
                "numpy_median_s", "numpy_times_s", "rel_err", "pct_of_sgemm", "numpy_over_ntk4j", "ntk4j_gemm_share",
                "ntk4j_gemm_calls", "ntk4j_warmup_calls", "ntk4j_sd_early_median_s", "ntk4j_sd_early_times_s");
        for (Row r : rows) {
            double pct = 100 * r.flops() / r.ntk4jMedian() / 1e9 / sgemm;
            boolean agrees = KernelAgreement.agrees(r.relErr());
            double ratio = r.numpyMedian() / r.ntk4jMedian();
            sb.append(String.format(Locale.ROOT, "| %d | %d | %.3g | %.1f ms | %.1f ms (%d) | %.0f%% | %.1f ms "
                            + "| %.0f%% (%.0f calls) | %.1f ms | %s | %.1e%s |%n", r.width(), r.parameters(), r.flops(),
                    1e3 * r.flops() / sgemm / 1e9, 1e3 * r.ntk4jMedian(), r.warmupCalls(), pct,
                    1e3 * r.earlyMedian(), 100 * r.gemmShare(), r.gemmCalls(),
                    1e3 * r.numpyMedian(), agrees ? String.format(Locale.ROOT,
                            "**%.2f×**", ratio) : "—", r.relErr(), agrees ? "" : " **disagrees**"));
            csv.row(r.width(), r.parameters(), r.flops(), sgemm, r.ntk4jMedian(), PeersBench.join(r.ntk4j()),
                    r.numpyMedian(), PeersBench.join(r.numpy()), r.relErr(), pct, agrees ? ratio : Double.NaN,
                    r.gemmShare(), r.gemmCalls(), r.warmupCalls(), r.earlyMedian(), PeersBench.join(r.early()));
        }
        if (first != null) {
            double warm = rows.stream().filter(r -> r.width() == 512).mapToDouble(Row::ntk4jMedian).findFirst()
                    .orElse(Double.NaN);
            double comp = Timing.median(first.computation());
            double whole = Timing.median(first.wall());
            sb.append(String.format(Locale.ROOT, "%nFirst call: `./ntk4j %s` in %d fresh JVMs (after one launch "
                            + "that may build the CLI or write its class-data archive), %s. The computation (the "
                            + "report's `seconds`): median %.1f ms (%.1f–%.1f)%s (the issue asks at most 3×). "
                            + "The whole command, JVM start included: median %.2f s (%.2f–%.2f) (the issue asks "
                            + "under 1 s).%n",
                    FIRST_CALL.stream().map(w -> w.contains("(") ? "'" + w + "'" : w)
                            .collect(java.util.stream.Collectors.joining(" ")) + " --report R",
                    first.wall().length, Machine.java(), 1e3 * comp,
                    1e3 * Timing.min(first.computation()), 1e3 * Timing.max(first.computation()),
                    Double.isNaN(warm) ? "" : String.format(Locale.ROOT, ", **%.1f×** the warm W = 512 median above",
                            comp / warm), whole, Timing.min(first.wall()), Timing.max(first.wall())));
        }
        Files.createDirectories(out);
        AtomicFile.writeString(out.resolve(name + ".md"), sb.toString());
        csv.write(out.resolve(name + ".csv"));
        System.out.println();
        System.out.print(sb);
        System.out.println("wrote " + out.resolve(name + ".md") + " and " + out.resolve(name + ".csv"));
    }
}
