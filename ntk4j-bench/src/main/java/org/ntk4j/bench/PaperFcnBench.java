package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.plot.Charts;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench paper-fcn [--quick] [--with-peers]}: the setting of Figure 1 of Novak, Sohl-Dickstein &amp;
 * Schoenholz (2022) — a 10-layer ReLU FCN built with stax's default settings (weight standard deviation 1, no
 * bias, NTK parameterisation) on inputs of size 3 — swept over the batch size N (2^0 … 2^9), and extended with
 * sweeps over the output size O and the width W. Every method (JC, NTK-VP, SD) computes the full kernel
 * [N, N, O, O] with x2 = x1, in float32.
 *
 * <p>For each point and method: mean time of the timed runs after a warm-up (the paper's "averaged over
 * repeated runs, excluding compilation"), peak off-heap bytes, the cost model's FLOPs, the achieved FLOP/s and
 * its fraction of the SGEMM rate measured in the same run, and the share of the time with no GEMM running.
 * Then the log-log exponents of time in N, O and W over the points where the reference's asymptotic term
 * dominates, next to the exponent its complexity table predicts over the same points ({@link ReferenceCost}).
 * With {@code --with-peers}, {@link PeersBench} follows in the same run. Writes {@code <name>.md}, {@code
 * <name>.csv}, {@code <name>_fits.csv} and {@code <name>_{n,o,w}.png} (default name paper_fcn, or
 * paper_fcn_quick).
 */
public final class PaperFcnBench {
    static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    /** The paper's network: 10 dense layers (9 hidden ReLU layers and the readout), inputs of size 3. */
    static final int DEPTH = 9;
    static final int INPUT = 3;
    /** Allowed distance between a fitted time exponent and the reference's prediction. */
    static final double EXPONENT_TOLERANCE = 0.25;

    /** The three swept quantities. */
    enum Axis {
        N, O, W
    }

    /** Command-line settings: picocli's options, checked in full before the run ({@link BenchCli}). */
    @Command(name = "ntk4j bench paper-fcn", abbreviateSynopsis = true, sortOptions = false,
            description = {"The paper's Figure 1 FCN (10 ReLU layers, inputs of size 3) over N, O and W: time, "
                + "memory and the machine's limit per method, fitted exponents against the reference's; with "
                + "--with-peers, PyTorch (functorch), DJL and hand-written NumPy on the same networks, same run.",
                "Writes STEM.md, STEM.csv, STEM_fits.csv, STEM_{n,o,w}.png (the sweeps) and STEM_peers.csv (the "
                + "peers) in --out; an existing file of the report is refused unless --overwrite.", ""})
    static final class Options implements BenchCli.Bench {
        static final String MAX_FLOPS = "1.5e12";
        static final String QUICK_MAX_FLOPS = "6e10";
        static final String MIN_POINT_SECONDS = "1";
        static final String QUICK_MIN_POINT_SECONDS = "0.5";
        static final int QUICK_REPS = 3;
        /** The files of a report STEM: every one is checked, so that a report's files stay one set. */
        static final String[] FILES = {".md", ".csv", "_fits.csv", "_n.png", "_o.png", "_w.png", "_peers.csv"};

        @Option(names = "--quick", description = "3 timed runs (1 above 2e10 FLOPs), a " + QUICK_MAX_FLOPS
                + "-FLOP cap, --min-point-seconds " + QUICK_MIN_POINT_SECONDS + ": under 5 minutes")
        boolean quick;
        @Option(names = "--with-peers", description = "also PyTorch (functorch), DJL and hand-written NumPy (fcn "
                + "settings) on the FCN example and a cnn, same run")
        boolean withPeers;
        @Option(names = "--no-sweeps", description = "skip the Figure 1 sweeps: the peers only (needs --with-peers)")
        boolean noSweeps;
        boolean sweeps = true;
        @Option(names = "--ns", split = ",", paramLabel = "N", description = "the N sweep (default 1,2,4,..,512)")
        int[] ns = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
        @Option(names = "--os", split = ",", paramLabel = "O", description = "the O sweep (default 1,2,4,..,256)")
        int[] os = {1, 2, 4, 8, 16, 32, 64, 128, 256};
        @Option(names = "--ws", split = ",", paramLabel = "W", description = "the W sweep (default 16,32,..,4096)")
        int[] ws = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
        @Option(names = "--n", paramLabel = "N", description = "N while another quantity is swept (default 16)")
        int n0 = 16;
        @Option(names = "--o", paramLabel = "O", description = "O while another quantity is swept (default 8)")
        int o0 = 8;
        @Option(names = "--w", paramLabel = "W", description = "W while another quantity is swept (default 128)")
        int w0 = 128;
        /** Fits use the points from these values up (below, fixed per-call costs flatten the curves). */
        int nFitFrom = 16;
        int oFitFrom = 4;
        int wFitFrom = 64;
        /**
         * ... and where the method's predicted work is at least this many FLOPs (tens of milliseconds): below it,
         * per-call costs (graph tracing, validation, thread hand-offs, small-kernel overheads) dominate.
         */
        double fitMinFlops = 5e8;
        /**
         * ... and, of those, each method's {@code fitTop} largest points: an exponent is the asymptotic slope, and
         * work linear in N·O that the FLOP table's leading term leaves out (Jacobian rows written at memory speed,
         * per-example passes, SD's N²O² bookkeeping) still bends the curve at the smaller sizes.
         */
        int fitTop = 4;
        @Option(names = "--warmup", paramLabel = "K", description = "untimed rounds per point (default 1)")
        int warmup = 1;
        @Option(names = "--reps", paramLabel = "R", description = "timed rounds per point (default 5, --quick "
                + QUICK_REPS + "; 2 above 5e10 FLOPs)")
        int reps = 5;
        /** A point whose predicted FLOPs pass this is timed twice (after the warm-up) instead of reps times. */
        double onceFlops = 5e10;
        int onceReps = 2;
        /**
         * A method predicted to take less than this many seconds at a point (at {@link #ASSUMED_RATE}) runs several
         * times per round: as many warm-ups as fill this time (the per-call Java code, graph tracing and the
         * like, is compiled by the JIT only after hundreds of calls, which a cheap point must not be timed
         * before) and as many timed runs per timed round as fill a quarter of it (2–3 runs of 20 ms are
         * noise-limited). 0 turns it off ({@code --min-point-seconds}).
         */
        @Option(names = "--min-point-seconds", paramLabel = "S", description = "a cheap method runs several times a "
                + "round: warm-ups filling S s, timed runs filling S/4 s, at an assumed 1e10 FLOP/s; 0 turns it off "
                + "(default " + MIN_POINT_SECONDS + ", --quick " + QUICK_MIN_POINT_SECONDS + ")")
        double minPointSeconds = Double.parseDouble(MIN_POINT_SECONDS);
        /** A method whose predicted FLOPs at a point pass this is not run there (time budget). */
        @Option(names = "--max-flops", paramLabel = "F", description = "skip a method at a point predicted above F "
                + "FLOPs (default " + MAX_FLOPS + ", --quick " + QUICK_MAX_FLOPS + ")")
        double maxFlops = Double.parseDouble(MAX_FLOPS);
        @Option(names = "--budget-gib", paramLabel = "G", description = "skip a method at a point predicted above G "
                + "GiB (default 8)")
        double budgetGiB = 8;
        @Option(names = "--blas-threads", paramLabel = "T", description = "OpenBLAS threads (default: OpenBLAS's "
                + "choice)")
        int blasThreads;
        @Option(names = "--peer-settings", split = ",", paramLabel = "S", description = "with --with-peers: the "
                + "peer settings, of " + PeersBench.Setting.NAMES + " (default " + PeersBench.Options.SETTINGS + ")")
        String[] peerSettings;
        @Option(names = "--peer-memory-gib", paramLabel = "G", description = "with --with-peers: the memory a peer "
                + "may use for Jacobians/cotangents (default " + PeersBench.Options.MEMORY_GIB + ")")
        double peerMemoryGiB = Double.parseDouble(PeersBench.Options.MEMORY_GIB);
        @Option(names = "--no-install", description = "with --with-peers: do not apt-get install python3-torch when "
                + "missing")
        boolean noInstall;
        @Option(names = "--peer-timeout", paramLabel = "S", description = "with --with-peers: stop a PyTorch peer "
                + "process after S seconds (default " + PeersBench.Options.TIMEOUT_SECONDS + ")")
        int peerTimeout = Integer.parseInt(PeersBench.Options.TIMEOUT_SECONDS);
        @Option(names = "--peer-warmup-seconds", paramLabel = "S", description = "with --with-peers: warm each cheap "
                + "ntk4j method up for S s before its rounds (default " + PeersBench.Options.WARMUP_SECONDS
                + "; the JIT's steady state takes seconds)")
        double peerWarmupSeconds = Double.parseDouble(PeersBench.Options.WARMUP_SECONDS);
        PeersBench.Options peers = new PeersBench.Options();
        @Option(names = "--out", paramLabel = "DIR", description = "where the files go, created if missing (default:"
                + " the repository's ntk4j-bench/)")
        Path out = BenchCli.defaultOutDir();
        @Option(names = "--name", paramLabel = "STEM", description = "the files' name stem, without a directory "
                + "(default paper_fcn, or paper_fcn_quick)")
        String name;
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();

        /**
         * Parses and checks the options (for tests).
         *
         * @throws IllegalArgumentException with the line the bench prints
         */
        static Options parse(String... args) throws IOException {
            return BenchCli.parse(new Options(), args);
        }

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            if (noSweeps && !withPeers) {
                throw new IllegalArgumentException("--no-sweeps without --with-peers measures nothing; add "
                        + "--with-peers (the peers only) or drop --no-sweeps");
            }
            BenchCli.notWith(given, "--no-sweeps", "no sweep runs", "--ns", "--os", "--ws", "--n", "--o", "--w",
                    "--min-point-seconds", "--max-flops", "--budget-gib");
            BenchCli.onlyWith(given, withPeers, "--with-peers", "--peer-settings", "--peer-memory-gib",
                    "--no-install", "--peer-timeout", "--peer-warmup-seconds");
            sweeps = !noSweeps;
            BenchCli.positive("--ns", ns);
            BenchCli.positive("--os", os);
            BenchCli.positive("--ws", ws);
            BenchCli.positive("--n", n0);
            BenchCli.positive("--o", o0);
            BenchCli.positive("--w", w0);
            BenchCli.nonNegative("--warmup", warmup);
            BenchCli.positive("--reps", reps);
            BenchCli.nonNegative("--min-point-seconds", minPointSeconds);
            BenchCli.positive("--max-flops", maxFlops);
            BenchCli.positive("--budget-gib", budgetGiB);
            if (given.hasMatchedOption("--blas-threads")) {
                BenchCli.positive("--blas-threads", blasThreads);
            }
            peers.memoryGiB = BenchCli.positive("--peer-memory-gib", peerMemoryGiB);
            peers.timeoutSeconds = BenchCli.positive("--peer-timeout", peerTimeout);
            peers.warmupSeconds = BenchCli.nonNegative("--peer-warmup-seconds", peerWarmupSeconds);
            peers.install = !noInstall;
            if (peerSettings != null) {
                peers.settings = PeersBench.Setting.list(String.join(",", peerSettings));
            }
            if (quick) {
                reps = given.hasMatchedOption("--reps") ? reps : QUICK_REPS;
                maxFlops = given.hasMatchedOption("--max-flops") ? maxFlops : Double.parseDouble(QUICK_MAX_FLOPS);
                minPointSeconds = given.hasMatchedOption("--min-point-seconds") ? minPointSeconds
                        : Double.parseDouble(QUICK_MIN_POINT_SECONDS);
                onceFlops = 2e10;
                onceReps = 1;
                peers.quick = true;
            }
            peers.warmup = warmup;
            peers.reps = reps;
            name = BenchCli.stem(name != null ? name : quick ? "paper_fcn_quick" : "paper_fcn");
            BenchCli.checkOutputs(overwrite.overwrite, out, name, FILES);
        }

        @Override
        public int run(String[] args) throws IOException {
            return new PaperFcnBench(this, args).run();
        }
    }

    /** One point of a sweep. */
    static final class Point {
        final Axis axis;
        final int n;
        final int o;
        final int w;
        final Map<Method, MethodRuns.Result> results = new EnumMap<>(Method.class);
        String load;

        Point(Axis axis, int n, int o, int w) {
            this.axis = axis;
            this.n = n;
            this.o = o;
            this.w = w;
        }

        int value() {
            return switch (axis) {
                case N -> n;
                case O -> o;
                case W -> w;
            };
        }

        String spec() {
            return fcnSpec(w, o);
        }

        int[] widths() {
            return ReferenceCost.fcnWidths(INPUT, DEPTH, w, o);
        }
    }

    /** One fitted exponent next to the reference's. */
    record Fit(Axis axis, Method method, String quantity, int[] values, double fitted, double r2,
               double predicted, String regime) {
        boolean within() {
            return Math.abs(fitted - predicted) <= EXPONENT_TOLERANCE;
        }
    }

    static String fcnSpec(int w, int o) {
        return "fcn(depth=" + DEPTH + ",width=" + w + ",out=" + o + ",act=relu,w_std=1,b_std=0)";
    }

    private final Options opt;
    private final BenchLog log = new BenchLog();
    private final String[] args;

    private PaperFcnBench(Options opt, String[] args) {
        this.opt = opt;
        this.args = args;
    }

    /**
     * Runs the sweeps and writes the CSV, PNG and fitted exponents.
     *
     * @param args {@code [--quick] [--with-peers]} and the other options of the class comment ({@code --help})
     */
    public static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private int run() throws IOException {
        if (opt.blasThreads > 0) {
            Blas.setThreads(opt.blasThreads);
        }
        long start = System.nanoTime();
        log.say("ntk4j bench paper-fcn%s, %s", opt.quick ? " --quick" : "", Machine.now());
        log.say("%s; %d cores; OpenBLAS threads %d, ntk4j threads %d; load average %s", Blas.config().trim(),
                Machine.cores(), Blas.threads(), Parallel.threads(), Machine.loadAverage());
        SgemmRate.Rate sgemmBefore = SgemmRate.measure(DotGeneralBenchmark.N, 3, 10);
        log.say("SGEMM %d³ float32: %.1f GFLOP/s (best of %d), %.1f (median)", sgemmBefore.n(),
                sgemmBefore.bestGflops(), sgemmBefore.calls(), sgemmBefore.medianGflops());
        List<Point> points = new ArrayList<>();
        boolean agree = true;
        if (opt.sweeps) {
            for (Axis axis : Axis.values()) {
                List<Point> sweep = new ArrayList<>();
                for (int v : values(axis)) {
                    sweep.add(new Point(axis, axis == Axis.N ? v : opt.n0, axis == Axis.O ? v : opt.o0,
                            axis == Axis.W ? v : opt.w0));
                }
                agree &= measureSweep(sweep);
                points.addAll(sweep);
            }
        }
        PeersBench.Report peers = null;
        if (opt.withPeers) {
            peers = new PeersBench(opt.peers, log).run();
            agree &= peers.agree();
        }
        SgemmRate.Rate sgemmAfter = SgemmRate.measure(DotGeneralBenchmark.N, 3, 10);
        log.say("SGEMM %d³ float32 at the end: %.1f GFLOP/s (best), %.1f (median)", sgemmAfter.n(),
                sgemmAfter.bestGflops(), sgemmAfter.medianGflops());
        double sgemm = Math.max(sgemmBefore.bestGflops(), sgemmAfter.bestGflops());
        double total = (System.nanoTime() - start) / 1e9;
        log.say("total %.1f s", total);
        List<Fit> fits = fits(points);
        write(points, fits, peers, sgemmBefore, sgemmAfter, sgemm, total, agree);
        return agree ? 0 : 1;
    }

    private int[] values(Axis axis) {
        return switch (axis) {
            case N -> opt.ns;
            case O -> opt.os;
            case W -> opt.ws;
        };
    }

    private int fitFrom(Axis axis) {
        return switch (axis) {
            case N -> opt.nFitFrom;
            case O -> opt.oFitFrom;
            case W -> opt.wFitFrom;
        };
    }

    // ------------------------------------------------------------------ measuring

    /**
     * Times every method that fits the budgets at every point of one sweep. The points are interleaved: each
     * round runs every point once (and at each point every method once), so that load from other processes,
     * which changes over minutes, falls on all points of a fit alike instead of bending the curve. A point
     * predicted above {@code onceFlops} takes part in the warm-up and the first timed round only.
     * False when the kernels at some point disagree.
     */
    private boolean measureSweep(List<Point> sweep) {
        List<Model> models = new ArrayList<>();
        List<Params> params = new ArrayList<>();
        List<Tensor> xs = new ArrayList<>();
        List<List<Method>> running = new ArrayList<>();
        int[] reps = new int[sweep.size()];
        int[] in = {INPUT};
        for (int i = 0; i < sweep.size(); i++) {
            Point p = sweep.get(i);
            Model model = Zoo.parse(p.spec());
            CostModel cm = new CostModel(model, in, DType.F32, p.n, 0, new int[0], new int[0]);
            List<Method> run = new ArrayList<>();
            double maxRun = 0;
            for (Method m : METHODS) {
                MethodRuns.Result r = new MethodRuns.Result(m);
                p.results.put(m, r);
                // what the kernel runs: the method within the default budget the run uses (SD of a large O in
                // output chunks, which take fewer FLOPs); the sweep's caps apply to the whole pass, so that the
                // same points run as before (VP at W = 2048, 8.2 GiB whole, would run in basis tiles, and its 5.5
                // GiB, interleaved with the other widths, slowed VP at W = 256 … 1024 to 0.55-0.63x)
                CostModel.Estimate whole = cm.estimate(m);
                r.estimate = cm.estimate(m, EmpiricalNtk.defaultMemoryBudget());
                if (whole.flops() > opt.maxFlops) {
                    r.skipped = String.format(Locale.ROOT, "predicted %.2g FLOPs, over the %.2g cap",
                            whole.flops(), opt.maxFlops);
                } else if (whole.peakBytes() > opt.budgetGiB * (1L << 30)) {
                    r.skipped = "predicted peak " + CostModel.human(whole.peakBytes()) + " over the budget";
                } else {
                    run.add(m);
                    maxRun = Math.max(maxRun, r.estimate.flops());
                }
            }
            models.add(model);
            running.add(run);
            reps[i] = maxRun > opt.onceFlops ? Math.min(opt.onceReps, opt.reps) : opt.reps;
            params.add(model.init(0, in, DType.F32));
            xs.add(Tensor.randomNormal(DType.F32, 1, p.n, INPUT));
            p.load = Machine.loadAverage();
            log.say("%s = %d: %s, x [%d, %d], kernel [%d, %d, %d, %d]; %d warm-up + %d timed run(s)%s", p.axis,
                    p.value(), p.spec(), p.n, INPUT, p.n, p.n, p.o, p.o, opt.warmup, reps[i], skippedNote(p));
        }
        int rounds = opt.warmup + Arrays.stream(reps).max().orElse(0);
        for (int round = 0; round < rounds; round++) {
            boolean warm = round < opt.warmup;
            log.say("== sweep over %s, %s", sweep.get(0).axis, warm ? "warm-up round " + (round + 1)
                    : "timed round " + (round - opt.warmup + 1));
            for (int i = 0; i < sweep.size(); i++) {
                if (!warm && round - opt.warmup >= reps[i]) {
                    continue;
                }
                Point p = sweep.get(i);
                log.say(" %s = %d", p.axis, p.value());
                EmpiricalNtk base = EmpiricalNtk.of(models.get(i), params.get(i)).traceAxes();
                for (Method m : running.get(i)) {
                    int k = callsPerRound(p.results.get(m).estimate.flops(), warm, opt.minPointSeconds);
                    MethodRuns.roundRobin(base, xs.get(i), List.of(m), p.results, warm ? k : 0, warm ? 0 : k,
                            params.get(i).count() * DType.F32.bytes() + xs.get(i).bytes(), log);
                }
            }
        }
        boolean ok = true;
        for (int i = 0; i < sweep.size(); i++) {
            Point p = sweep.get(i);
            log.say(" %s = %d: agreement", p.axis, p.value());
            ok &= MethodRuns.verify(p.results, METHODS, log);
            for (MethodRuns.Result r : p.results.values()) {
                r.closeKernel();
            }
            params.get(i).close();
            xs.get(i).close();
        }
        return ok;
    }

    private static String skippedNote(Point p) {
        StringBuilder sb = new StringBuilder();
        for (Method m : METHODS) {
            MethodRuns.Result r = p.results.get(m);
            if (r.skipped != null) {
                sb.append("; ").append(m.shortName()).append(" not run: ").append(r.skipped);
            }
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ fits

    private List<Fit> fits(List<Point> points) {
        List<Fit> fits = new ArrayList<>();
        for (Axis axis : Axis.values()) {
            for (Method m : METHODS) {
                List<Point> used = new ArrayList<>();
                for (Point p : points) {
                    MethodRuns.Result r = p.results.get(m);
                    if (p.axis == axis && p.value() >= fitFrom(axis) && r.ran()
                            && r.estimate.flops() >= opt.fitMinFlops) {
                        used.add(p);
                    }
                }
                if (used.size() > opt.fitTop) {
                    used = new ArrayList<>(used.subList(used.size() - opt.fitTop, used.size()));
                }
                if (used.size() < 2) {
                    continue;
                }
                fits.add(fit(axis, m, "time", used, p -> p.results.get(m).min(),
                        p -> ReferenceCost.of(m, p.n, p.widths()).time(), used));
                fits.add(fit(axis, m, "predicted FLOPs (cost model)", used,
                        p -> p.results.get(m).estimate.flops(), p -> ReferenceCost.of(m, p.n, p.widths()).time(),
                        used));
                fits.add(fit(axis, m, "peak memory", used, p -> (double) p.results.get(m).measuredPeak,
                        p -> ReferenceCost.of(m, p.n, p.widths()).memory(), used));
            }
        }
        return fits;
    }

    private static Fit fit(Axis axis, Method m, String quantity, List<Point> used,
                           java.util.function.ToDoubleFunction<Point> measured,
                           java.util.function.ToDoubleFunction<Point> reference, List<Point> regimePoints) {
        double[] x = used.stream().mapToDouble(Point::value).toArray();
        LogLogFit f = LogLogFit.of(x, used.stream().mapToDouble(measured).toArray());
        LogLogFit ref = LogLogFit.of(x, used.stream().mapToDouble(reference).toArray());
        Point first = regimePoints.get(0);
        Point last = regimePoints.get(regimePoints.size() - 1);
        String regime = quantity.equals("peak memory") ? "" : ReferenceCost.of(m, first.n, first.widths()).dominant()
                + " → " + ReferenceCost.of(m, last.n, last.widths()).dominant();
        return new Fit(axis, m, quantity, used.stream().mapToInt(Point::value).toArray(), f.slope(), f.r2(),
                ref.slope(), regime);
    }

    // ------------------------------------------------------------------ output

    private void write(List<Point> points, List<Fit> fits, PeersBench.Report peers, SgemmRate.Rate before,
                       SgemmRate.Rate after, double sgemm, double total, boolean agree) throws IOException {
        Files.createDirectories(opt.out);
        Path md = opt.out.resolve(opt.name + ".md");
        Path csv = opt.out.resolve(opt.name + ".csv");
        Path fitsCsv = opt.out.resolve(opt.name + "_fits.csv");
        StringBuilder sb = new StringBuilder();
        sb.append("# ntk4j bench paper-fcn").append(opt.quick ? " --quick" : "").append("\n\n");
        sb.append("Generated by `./ntk4j bench paper-fcn ").append(String.join(" ", args)).append("` on ")
                .append(Machine.now()).append(".\n\n");
        sb.append("| machine | |\n|---|---|\n");
        row(sb, "CPU", Machine.cpuModel() + ", " + Machine.cores() + " cores visible to the JVM");
        row(sb, "memory", Machine.memTotal());
        row(sb, "Java", Machine.java() + "; options `" + Machine.jvmOptions() + "`");
        row(sb, "BLAS", Blas.config().trim() + "; " + Blas.threads() + " thread(s); ntk4j kernel threads "
                + Parallel.threads());
        row(sb, "SGEMM 1024³ float32, same run", String.format(Locale.ROOT, "%.1f GFLOP/s at the start, %.1f at "
                + "the end (best of 10 calls each)", before.bestGflops(), after.bestGflops()));
        row(sb, "total run time", String.format(Locale.ROOT, "%.1f s", total));
        row(sb, "kernels agree (relative Frobenius error ≤ " + KernelAgreement.TOLERANCE + ")",
                agree ? "yes, everywhere" : "**NO** (see the log)");
        sb.append('\n');
        if (!points.isEmpty()) {
            sweepsSection(sb, points, fits, sgemm);
        }
        if (peers != null) {
            sb.append(peers.markdown());
        }
        sb.append("## Log\n\n```\n").append(log.text()).append("```\n");
        AtomicFile.writeString(md, sb.toString());
        if (!points.isEmpty()) {
            pointsCsv(points, sgemm).write(csv);
            fitsCsv(fits).write(fitsCsv);
            plots(points);
        }
        if (peers != null) {
            peers.csv().write(opt.out.resolve(opt.name + "_peers.csv"));
        }
        System.out.println("wrote " + md + (points.isEmpty() ? "" : ", " + csv + ", " + fitsCsv + ", "
                + opt.out.resolve(opt.name + "_{n,o,w}.png")) + (peers == null ? "" : ", "
                + opt.out.resolve(opt.name + "_peers.csv")));
    }

    private void sweepsSection(StringBuilder sb, List<Point> points, List<Fit> fits, double sgemm) {
        sb.append("## Figure 1 setting: 10-layer ReLU FCN, inputs of size 3\n\n");
        sb.append(String.format(Locale.ROOT, "`%s`: %d dense layers (3→W, %d × W→W, W→O), weight standard "
                + "deviation 1, no bias, NTK parameterisation (stax's defaults), float32, full kernel [N, N, O, O], "
                + "x2 = x1. One quantity is swept while the others stay at N = %d, O = %d, W = %d. Time: mean (the "
                + "paper's average) and fastest of the timed runs after %d warm-up round(s) (%d timed rounds; %d where "
                + "a point is predicted above %.0e FLOPs); the points of a sweep are interleaved round by round. A "
                + "method predicted under %.2g s at a point (at an assumed 1e10 FLOP/s) runs several times a round: "
                + "warm-ups filling that time (the JIT compiles per-call code only after hundreds of calls), timed "
                + "runs filling a quarter of it (the `runs` column counts them). The exponents and the plots use the "
                + "fastest run of each point, the one least disturbed by other processes on a shared machine. "
                + "A method is not run where it is predicted above %.0e FLOPs or %.0f GiB.%n%n",
                fcnSpec(opt.w0, opt.o0).replace("width=" + opt.w0, "width=W").replace("out=" + opt.o0, "out=O"),
                DEPTH + 1, DEPTH - 1, opt.n0, opt.o0, opt.w0, opt.warmup, opt.reps, Math.min(opt.onceReps, opt.reps),
                opt.onceFlops, opt.minPointSeconds, opt.maxFlops,
                opt.budgetGiB));
        sb.append("### Fitted exponents against the reference's complexity table\n\n");
        sb.append("The prediction is the log-log slope of the reference's formula (digest §1.1–1.2, evaluated "
                + "exactly for this network by `ReferenceCost`) over the same points; the last column says which of "
                + "its terms dominates at the first and the last point. Fits use the points where fixed per-call "
                + "costs no longer dominate: N ≥ " + opt.nFitFrom + ", O ≥ " + opt.oFitFrom + ", W ≥ " + opt.wFitFrom
                + ", and the method's predicted work at least " + String.format(Locale.ROOT, "%.0e", opt.fitMinFlops)
                + " FLOPs (SD does a hundred times less work than JC at the same point, so its fits start at "
                + "larger sizes); of those, each method's " + opt.fitTop + " largest points (the asymptotic slope: "
                + "work linear in N·O that the table's leading term leaves out still bends the smaller sizes).\n\n");
        sb.append("| sweep | method | fitted time exponent | R² | reference | within ±" + EXPONENT_TOLERANCE
                + " | points | dominant reference term | cost-model FLOPs exponent | peak-memory exponent "
                + "(reference) |\n|---|---|---:|---:|---:|---|---|---|---:|---|\n");
        for (Fit f : fits) {
            if (!f.quantity().equals("time")) {
                continue;
            }
            Fit flops = find(fits, f.axis(), f.method(), "predicted FLOPs (cost model)");
            Fit mem = find(fits, f.axis(), f.method(), "peak memory");
            sb.append(String.format(Locale.ROOT, "| %s | %s | **%.2f** | %.3f | %.2f | %s | %s | %s | %.2f | %.2f "
                    + "(%.2f) |%n", f.axis(), f.method().shortName(), f.fitted(), f.r2(), f.predicted(),
                    f.within() ? "yes" : "**NO**", range(f.values()), f.regime(), flops.fitted(), mem.fitted(),
                    mem.predicted()));
        }
        sb.append("\nWhy these predictions: JC's contraction N²·O²·P outweighs its N·O·[FP] Jacobian passes by a "
                + "factor N·O (≥ 32 at the fitted points), so JC goes as N², O², W². NTK-VP has the single term "
                + "N²·O·[FP]: N², O¹, W². SD's passes N·O·[FP] ≈ 8·N·O·W² and its contraction ≈ 8·N²·O²·W "
                + "trade places where N·O ≈ W: the exponent moves from 1 towards 2 in N and O as N·O grows past W, "
                + "and from 2 towards 1 in W as W shrinks below N·O (the paper's point: SD's contraction is linear "
                + "in W where JC's is quadratic); its prediction is the slope over the points actually fitted.\n\n");
        for (Axis axis : Axis.values()) {
            sb.append("### Sweep over ").append(axis).append("\n\n![time against ").append(axis).append("](")
                    .append(opt.name).append('_').append(axis.name().toLowerCase(Locale.ROOT)).append(".png)\n\n");
            sb.append("| ").append(axis).append(" | method | mean s | min s | runs | peak | predicted peak | "
                    + "predicted FLOPs | GFLOP/s | of SGEMM | outside BLAS | rel. error vs JC |\n"
                    + "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Point p : points) {
                if (p.axis != axis) {
                    continue;
                }
                for (Method m : METHODS) {
                    MethodRuns.Result r = p.results.get(m);
                    if (!r.ran()) {
                        sb.append(String.format(Locale.ROOT, "| %d | %s | not run: %s | | | | %s | %.3g | | | | |%n",
                                p.value(), m.shortName(), r.skipped, CostModel.human(r.estimate.peakBytes()),
                                r.estimate.flops()));
                        continue;
                    }
                    sb.append(String.format(Locale.ROOT, "| %d | %s | %.4g | %.4g | %d | %s | %s | %.3g | %.2f | "
                            + "%.1f%% | %.0f%% | %s |%n", p.value(), m.shortName(), r.mean(), r.min(), r.seconds.size(),
                            CostModel.human(r.measuredPeak), CostModel.human(r.estimate.peakBytes()),
                            r.estimate.flops(), r.estimate.flops() / r.mean() / 1e9,
                            100 * r.estimate.flops() / r.mean() / 1e9 / sgemm, 100 * r.outsideBlas(),
                            Double.isNaN(r.relErrVsJc) ? "—" : String.format(Locale.ROOT, "%.1e", r.relErrVsJc)));
                }
            }
            sb.append('\n');
        }
        limitSection(sb, points, sgemm);
    }

    private void limitSection(StringBuilder sb, List<Point> points, double sgemm) {
        sb.append("### Against the machine's limit\n\n");
        sb.append(String.format(Locale.ROOT, "SGEMM rate of this run: %.1f GFLOP/s (1024³ float32, the best of the "
                + "two measurements). Achieved rate = cost-model FLOPs / mean time; \"outside BLAS\" = share of the "
                + "wall time with no GEMM running (`Blas.countTime`).%n%n", sgemm));
        sb.append("| method | best achieved GFLOP/s (point) | of SGEMM | outside BLAS there | outside BLAS, range over "
                + "all points |\n|---|---:|---:|---:|---|\n");
        for (Method m : METHODS) {
            double best = 0;
            Point at = null;
            double lo = 1;
            double hi = 0;
            for (Point p : points) {
                MethodRuns.Result r = p.results.get(m);
                if (!r.ran()) {
                    continue;
                }
                double g = r.estimate.flops() / r.mean() / 1e9;
                if (g > best) {
                    best = g;
                    at = p;
                }
                lo = Math.min(lo, r.outsideBlas());
                hi = Math.max(hi, r.outsideBlas());
            }
            if (at == null) {
                continue;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %.1f (%s = %d) | %.0f%% | %.0f%% | %.0f%% – %.0f%% |%n",
                    m.shortName(), best, at.axis, at.value(), 100 * best / sgemm,
                    100 * at.results.get(m).outsideBlas(), 100 * lo, 100 * hi));
        }
        sb.append('\n');
    }

    private static Fit find(List<Fit> fits, Axis axis, Method m, String quantity) {
        for (Fit f : fits) {
            if (f.axis() == axis && f.method() == m && f.quantity().equals(quantity)) {
                return f;
            }
        }
        throw new IllegalStateException("no fit " + axis + " " + m + " " + quantity);
    }

    private static String range(int[] v) {
        return v[0] + "…" + v[v.length - 1] + " (" + v.length + ")";
    }

    private static void row(StringBuilder sb, String k, String v) {
        sb.append("| ").append(k).append(" | ").append(v).append(" |\n");
    }

    static Csv pointsCsv(List<Point> points, double sgemmGflops) {
        Csv csv = new Csv("axis", "n", "o", "w", "method", "status", "runs", "mean_s", "min_s", "times_s",
                "peak_bytes", "predicted_peak_bytes", "predicted_flops", "gflops", "fraction_of_sgemm",
                "outside_blas", "reference_time", "reference_memory", "rel_err_vs_jc", "load_average");
        for (Point p : points) {
            for (Method m : METHODS) {
                MethodRuns.Result r = p.results.get(m);
                ReferenceCost.Terms ref = ReferenceCost.of(m, p.n, p.widths());
                boolean ran = r.ran();
                double g = ran ? r.estimate.flops() / r.mean() / 1e9 : Double.NaN;
                StringBuilder times = new StringBuilder();
                for (double t : r.seconds) {
                    times.append(times.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.6g", t));
                }
                csv.row(p.axis, p.n, p.o, p.w, m.shortName(), ran ? "ran" : r.skipped == null ? "not run" : r.skipped,
                        r.seconds.size(), ran ? r.mean() : Double.NaN, ran ? r.min() : Double.NaN, times,
                        ran ? r.measuredPeak : null, r.estimate == null ? null : r.estimate.peakBytes(),
                        r.estimate == null ? Double.NaN : r.estimate.flops(), g, g / sgemmGflops,
                        ran ? r.outsideBlas() : Double.NaN, ref.time(), ref.memory(), r.relErrVsJc, p.load);
            }
        }
        return csv;
    }

    static Csv fitsCsv(List<Fit> fits) {
        Csv csv = new Csv("axis", "method", "quantity", "fitted_exponent", "r2", "reference_exponent",
                "within_tolerance", "values", "dominant_reference_term");
        for (Fit f : fits) {
            StringBuilder v = new StringBuilder();
            for (int x : f.values()) {
                v.append(v.length() > 0 ? " " : "").append(x);
            }
            csv.row(f.axis(), f.method().shortName(), f.quantity(), f.fitted(), f.r2(), f.predicted(),
                    f.quantity().equals("time") ? String.valueOf(f.within()) : "", v, f.regime());
        }
        return csv;
    }

    private void plots(List<Point> points) throws IOException {
        for (Axis axis : Axis.values()) {
            List<Charts.Series> series = new ArrayList<>();
            for (Method m : METHODS) {
                List<double[]> xy = new ArrayList<>();
                for (Point p : points) {
                    if (p.axis == axis && p.results.get(m).ran()) {
                        xy.add(new double[] {p.value(), p.results.get(m).min()});
                    }
                }
                if (!xy.isEmpty()) {
                    series.add(new Charts.Series(m.shortName().toUpperCase(Locale.ROOT),
                            xy.stream().mapToDouble(a -> a[0]).toArray(),
                            xy.stream().mapToDouble(a -> a[1]).toArray()));
                }
            }
            if (series.isEmpty()) {
                continue;
            }
            String fixed = switch (axis) {
                case N -> "O = " + opt.o0 + ", W = " + opt.w0;
                case O -> "N = " + opt.n0 + ", W = " + opt.w0;
                case W -> "N = " + opt.n0 + ", O = " + opt.o0;
            };
            Charts.logLogLines(opt.out.resolve(opt.name + "_" + axis.name().toLowerCase(Locale.ROOT) + ".png"),
                    "10-layer ReLU FCN, full NTK, float32 (" + fixed + ")", axis.name(), "seconds (fastest run)",
                    series);
        }
    }

    /** The rate at which {@link #callsPerRound} assumes a method runs: low, so that few runs are added. */
    static final double ASSUMED_RATE = 1e10;

    /**
     * How many times a method predicted at {@code flops} runs in one round: enough warm-up calls to fill
     * {@code minSeconds}, enough timed calls to fill a quarter of it, at the {@link #ASSUMED_RATE}; at least one,
     * at most 50 warm-ups and 10 timed calls.
     */
    static int callsPerRound(double flops, boolean warmUp, double minSeconds) {
        double predicted = Math.max(flops / ASSUMED_RATE, 1e-4);
        double fill = warmUp ? minSeconds : minSeconds / 4;
        return (int) Math.max(1, Math.min(warmUp ? 50 : 10, Math.ceil(fill / predicted)));
    }
}
