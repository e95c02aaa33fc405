package org.ntk4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.plot.Charts;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

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

    /** Command-line settings. */
    static final class Options {
        boolean quick;
        boolean sweeps = true;
        boolean withPeers;
        int n0 = 16;
        int o0 = 8;
        int w0 = 128;
        int[] ns = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
        int[] os = {1, 2, 4, 8, 16, 32, 64, 128, 256};
        int[] ws = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
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
        int warmup = 1;
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
        double minPointSeconds = 1.0;
        /** A method whose predicted FLOPs at a point pass this is not run there (time budget). */
        double maxFlops = 1.5e12;
        double budgetGiB = 8;
        int blasThreads;
        PeersBench.Options peers = new PeersBench.Options();
        Path out = Files.isDirectory(Paths.get("ntk4j-bench")) ? Paths.get("ntk4j-bench") : Paths.get(".");
        String name;

        static Options parse(String[] args) {
            Options o = new Options();
            if (Arrays.asList(args).contains("--quick")) {
                o.quick = true;
                o.reps = 3;
                o.maxFlops = 6e10;
                o.onceFlops = 2e10;
                o.onceReps = 1;
                o.minPointSeconds = 0.5;
                o.peers.quick = true;
            }
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--quick" -> { }
                    case "--with-peers" -> o.withPeers = true;
                    case "--no-sweeps" -> o.sweeps = false;
                    case "--ns" -> o.ns = ints(a, value(a, args, ++i));
                    case "--os" -> o.os = ints(a, value(a, args, ++i));
                    case "--ws" -> o.ws = ints(a, value(a, args, ++i));
                    case "--n" -> o.n0 = positive(a, value(a, args, ++i));
                    case "--o" -> o.o0 = positive(a, value(a, args, ++i));
                    case "--w" -> o.w0 = positive(a, value(a, args, ++i));
                    case "--warmup" -> o.warmup = nonNegative(a, value(a, args, ++i));
                    case "--min-point-seconds" -> o.minPointSeconds = nonNegativeReal(a, value(a, args, ++i));
                    case "--reps" -> o.reps = positive(a, value(a, args, ++i));
                    case "--max-flops" -> o.maxFlops = positiveReal(a, value(a, args, ++i));
                    case "--budget-gib" -> o.budgetGiB = positiveReal(a, value(a, args, ++i));
                    case "--blas-threads" -> o.blasThreads = positive(a, value(a, args, ++i));
                    case "--peer-settings" -> o.peers.settings = value(a, args, ++i).split(",");
                    case "--peer-memory-gib" -> o.peers.memoryGiB = positiveReal(a, value(a, args, ++i));
                    case "--no-install" -> o.peers.install = false;
                    case "--peer-timeout" -> o.peers.timeoutSeconds = positive(a, value(a, args, ++i));
                    case "--peer-warmup-seconds" -> o.peers.warmupSeconds = Double.parseDouble(value(a, args, ++i));
                    case "--out" -> o.out = Paths.get(value(a, args, ++i));
                    case "--name" -> o.name = value(a, args, ++i);
                    case "--help", "-h" -> {
                        System.out.println(usage());
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + a + "'; " + usage());
                }
            }
            if (o.name == null) {
                o.name = o.quick ? "paper_fcn_quick" : "paper_fcn";
            }
            o.peers.warmup = o.warmup;
            o.peers.reps = o.reps;
            return o;
        }

        static String value(String opt, String[] args, int i) {
            if (i >= args.length) {
                throw new IllegalArgumentException(opt + ": missing value");
            }
            return args[i];
        }

        static int positive(String opt, String v) {
            int x = integer(opt, v);
            if (x < 1) {
                throw new IllegalArgumentException(opt + ": expected a positive integer, got " + v);
            }
            return x;
        }

        static int nonNegative(String opt, String v) {
            int x = integer(opt, v);
            if (x < 0) {
                throw new IllegalArgumentException(opt + ": expected an integer >= 0, got " + v);
            }
            return x;
        }

        private static int integer(String opt, String v) {
            try {
                return Integer.parseInt(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(opt + ": expected an integer, got '" + v + "'");
            }
        }

        static double positiveReal(String opt, String v) {
            try {
                double x = Double.parseDouble(v.trim());
                if (x > 0) {
                    return x;
                }
            } catch (NumberFormatException e) {
                // falls through to the message
            }
            throw new IllegalArgumentException(opt + ": expected a positive number, got '" + v + "'");
        }

        static double nonNegativeReal(String opt, String v) {
            try {
                double x = Double.parseDouble(v.trim());
                if (x >= 0) {
                    return x;
                }
            } catch (NumberFormatException e) {
                // falls through to the message
            }
            throw new IllegalArgumentException(opt + ": expected a number >= 0, got '" + v + "'");
        }

        static int[] ints(String opt, String v) {
            String[] parts = v.split(",");
            int[] r = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                r[i] = positive(opt, parts[i]);
            }
            return r;
        }

        static String usage() {
            return String.join("\n",
                    "usage: ntk4j bench paper-fcn [--quick] [--with-peers] [options]",
                    "  --quick               3 timed runs (1 above 2e10 FLOPs), 6e10-FLOP cap: under 5 minutes",
                    "  --with-peers          also PyTorch (functorch), DJL and hand-written NumPy (fcn settings) on the",
                    "                        FCN example and a cnn, same run",
                    "  --no-sweeps           skip the Figure 1 sweeps (with --with-peers: peers only)",
                    "  --ns/--os/--ws a,b,.. sweep values (default N 1..512, O 1..256, W 16..4096, powers of 2)",
                    "  --n/--o/--w V         the fixed values while another is swept (default N 16, O 8, W 128)",
                    "  --warmup K --reps R   untimed and timed rounds per point (default 1 and 5; 2 above 5e10 FLOPs)",
                    "  --min-point-seconds S a cheap method runs several times a round: warm-ups filling S s, timed",
                    "                        runs filling S/4 s, at an assumed 1e10 FLOP/s (default 1; --quick 0.5)",
                    "  --max-flops F         skip a method at a point predicted above F FLOPs (default 5e11)",
                    "  --budget-gib G        skip a method at a point predicted above G GiB (default 8)",
                    "  --blas-threads T      OpenBLAS threads (default: OpenBLAS's choice)",
                    "  --peer-settings a,b   peer settings: fcn-example, cnn (default both)",
                    "  --peer-memory-gib G   memory a peer may use for Jacobians/cotangents (default 8)",
                    "  --no-install          with --with-peers: do not apt-get install python3-torch when missing",
                    "  --peer-timeout S      stop a PyTorch peer process after S seconds (default 900)",
                    "  --peer-warmup-seconds S  with --with-peers: warm each cheap ntk4j method up for S s before",
                    "                        its rounds (default 10; the JIT's steady state takes seconds)",
                    "  --out DIR --name STEM where the files go (default ntk4j-bench/, paper_fcn[_quick])");
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
     * @param args {@code [--quick] [--with-peers]} and the other options of the class comment
     * @throws IOException when a result file cannot be written
     */
    public static void main(String[] args) throws IOException {
        Options opt;
        try {
            opt = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("ntk4j: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(new PaperFcnBench(opt, args).run());
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
        Files.write(md, sb.toString().getBytes(StandardCharsets.UTF_8));
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
                + "paper's average) and fastest of the timed runs after %d warm-up round(s) (%d timed rounds; %d where a "
                + "point is predicted above %.0e FLOPs); the points of a sweep are interleaved round by round. A method "
                + "predicted under %.2g s at a point (at an assumed 1e10 FLOP/s) runs several times a round: warm-ups "
                + "filling that time (the JIT compiles per-call code only after hundreds of calls), timed runs filling "
                + "a quarter of it (the `runs` column counts them). The "
                + "exponents and the plots use the fastest run of each point, the one least disturbed by other "
                + "processes on a shared machine. "
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
                            xy.stream().mapToDouble(a -> a[0]).toArray(), xy.stream().mapToDouble(a -> a[1]).toArray()));
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
                    "10-layer ReLU FCN, full NTK, float32 (" + fixed + ")", axis.name(), "seconds (fastest run)", series);
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
