package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The three exact empirical-NTK methods side by side, in one process, written out as Markdown and CSV.
 *
 * <ol>
 *   <li><b>Main setting</b>: neural-tangents' FCN notebook example ({@code notebooks/empirical_ntk_fcn.ipynb}):
 *       inputs of size 3072, three hidden ReLU layers of width 2048 with biases (zoo default b_std = 0.05),
 *       O = 8, N = 16, float32; the full kernel [N, N, O, O] and the default traced kernel [N, N]. For each
 *       method: median wall time of the timed repetitions after the warm-up, measured peak off-heap bytes,
 *       the cost model's FLOPs and peak, achieved GFLOP/s; then JC/SD and JC/VP time ratios, once the kernels
 *       agree (relative Frobenius error below 1e-4).</li>
 *   <li><b>Width sweep</b>: fcn(depth=3, width=W, out=8) on inputs of size W, N = 16, float32, full kernel; every
 *       method whose predicted peak fits the budget is timed; log-log least-squares exponents in W of time,
 *       memory and predicted FLOPs over W &ge; 256.</li>
 * </ol>
 * Repetitions run round-robin over the methods (warm-up round, then each timed round runs every method once),
 * so that load from other processes falls on all of them alike.
 *
 * <pre>
 *   java -Xmx20g -Dorg.bytedeco.javacpp.maxBytes=20g -cp ... org.ntk4j.bench.NtkMethodsBench [--quick] [options]
 * </pre>
 * Run with {@code --help} for the options.
 */
public final class NtkMethodsBench {
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};
    private static final int N = 16;
    private static final int OUT = 8;
    private static final int DEPTH = 3;

    /** Command-line settings: picocli's options, checked in full before the run ({@link BenchCli}). */
    @Command(name = "ntk4j bench methods", abbreviateSynopsis = true, sortOptions = false,
            description = {"JC vs NTK-VP vs SD: neural-tangents' FCN example (full and traced kernels), then a width "
                + "sweep with fitted exponents.",
                "Writes STEM.md, STEM_main.csv, STEM_sweep.csv and STEM_fits.csv in --out; an existing file of the "
                + "report is refused unless --overwrite.", ""})
    static final class Options implements BenchCli.Bench {
        /** The files of a report STEM, all written by every run. */
        static final String[] FILES = {".md", "_main.csv", "_sweep.csv", "_fits.csv"};

        @Option(names = "--quick", description = "main setting at width 512, sweep 64..1024, 2 timed rounds (1 in "
                + "the sweep)")
        boolean quick;
        @Option(names = "--no-main", description = "skip the main setting")
        boolean noMain;
        @Option(names = "--no-sweep", description = "skip the width sweep")
        boolean noSweep;
        boolean main = true;
        boolean sweep = true;
        @Option(names = "--main-width", paramLabel = "W", description = "hidden width of the main setting (default "
                + "2048, --quick 512)")
        int mainWidth = 2048;
        @Option(names = "--main-input", paramLabel = "D", description = "input size of the main setting (default "
                + "3072)")
        int mainInput = 3072;
        @Option(names = "--widths", split = ",", paramLabel = "W", description = "sweep widths (default "
                + "64,128,256,512,1024,2048,4096; --quick up to 1024)")
        int[] widths = {64, 128, 256, 512, 1024, 2048, 4096};
        @Option(names = "--fit-from", paramLabel = "W", description = "smallest width in the exponent fits (default "
                + "256)")
        int fitFrom = 256;
        @Option(names = "--warmup", paramLabel = "K", description = "untimed rounds before the timed ones (default 1)")
        int warmup = 1;
        @Option(names = "--reps", paramLabel = "R", description = "timed rounds in the main setting (default 3, "
                + "--quick 2)")
        int reps = 3;
        @Option(names = "--sweep-reps", paramLabel = "R", description = "timed rounds per sweep width (default 2, "
                + "--quick 1)")
        int sweepReps = 2;
        /** Widths from this one up time one round without a separate warm-up (the JIT is warm by then). */
        @Option(names = "--sweep-single-from", paramLabel = "W", description = "from this width up: one timed round,"
                + " no warm-up (default 2048)")
        int sweepSingleFrom = 2048;
        @Option(names = "--budget-gib", paramLabel = "G", description = "sweep memory budget: a method whose "
                + "predicted peak exceeds it is skipped (default 12)")
        double budgetGiB = 12;
        @Option(names = "--blas-threads", paramLabel = "T", description = "OpenBLAS threads (default: OpenBLAS's own "
                + "choice)")
        int blasThreads;
        @Option(names = "--out", paramLabel = "DIR", description = "where the .md and .csv files go, created if "
                + "missing (default: the repository's ntk4j-bench/)")
        Path out = BenchCli.defaultOutDir();
        @Option(names = "--name", paramLabel = "STEM", description = "the files' name stem, without a directory "
                + "(default ntk_methods, or ntk_methods_quick)")
        String name;
        @Mixin
        BenchCli.Overwrite overwrite = new BenchCli.Overwrite();
        @Mixin
        BenchCli.Help help = new BenchCli.Help();

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            if (noMain && noSweep) {
                throw new IllegalArgumentException("--no-main with --no-sweep measures nothing; drop one of them");
            }
            BenchCli.notWith(given, "--no-main", "the main setting does not run", "--main-width", "--main-input",
                    "--reps");
            BenchCli.notWith(given, "--no-sweep", "the width sweep does not run", "--widths", "--fit-from",
                    "--sweep-reps", "--sweep-single-from", "--budget-gib");
            main = !noMain;
            sweep = !noSweep;
            if (quick) {
                mainWidth = given.hasMatchedOption("--main-width") ? mainWidth : 512;
                widths = given.hasMatchedOption("--widths") ? widths : new int[] {64, 128, 256, 512, 1024};
                reps = given.hasMatchedOption("--reps") ? reps : 2;
                sweepReps = given.hasMatchedOption("--sweep-reps") ? sweepReps : 1;
            }
            BenchCli.positive("--main-width", mainWidth);
            BenchCli.positive("--main-input", mainInput);
            BenchCli.positive("--widths", widths);
            BenchCli.positive("--fit-from", fitFrom);
            BenchCli.nonNegative("--warmup", warmup);
            BenchCli.positive("--reps", reps);
            BenchCli.positive("--sweep-reps", sweepReps);
            BenchCli.positive("--sweep-single-from", sweepSingleFrom);
            BenchCli.positive("--budget-gib", budgetGiB);
            if (given.hasMatchedOption("--blas-threads")) {
                BenchCli.positive("--blas-threads", blasThreads);
            }
            name = BenchCli.stem(name != null ? name : quick ? "ntk_methods_quick" : "ntk_methods");
            BenchCli.checkOutputs(overwrite.overwrite, out, name, FILES);
        }

        @Override
        public int run(String[] args) throws IOException {
            return new NtkMethodsBench(this).run(args);
        }
    }

    /** The methods measured in one setting (model, inputs, kernel kind). */
    static final class Setting {
        final String label;
        final String spec;
        final int width;
        final int input;
        final boolean traced;
        final Map<Method, MethodRuns.Result> results = new EnumMap<>(Method.class);
        long paramBytes;
        long inputBytes;
        String loadBefore;
        String loadAfter;

        Setting(String label, String spec, int width, int input, boolean traced) {
            this.label = label;
            this.spec = spec;
            this.width = width;
            this.input = input;
            this.traced = traced;
        }

        String kernelShape() {
            return traced ? "[16, 16] (trace -1)" : "[16, 16, 8, 8] (full)";
        }
    }

    private final Options opt;
    private final BenchLog log = new BenchLog();

    private NtkMethodsBench(Options opt) {
        this.opt = opt;
    }

    /**
     * Runs the settings and writes the Markdown and CSV results.
     *
     * @param args the settings to run and the output paths ({@code --help})
     */
    public static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private int run(String[] args) throws IOException {
        if (opt.blasThreads > 0) {
            Blas.setThreads(opt.blasThreads);
        }
        long start = System.nanoTime();
        say("ntk4j empirical-NTK methods benchmark%s, %s", opt.quick ? " (quick)" : "", Machine.now());
        say("%s; OpenBLAS threads %d, ntk4j threads %d; JavaCPP maxBytes %s; load average %s", Blas.config(),
                Blas.threads(), Parallel.threads(), CostModel.human(org.ntk4j.tensor.NativeMemory.maxBytes()),
                Machine.loadAverage());
        List<Setting> main = new ArrayList<>();
        boolean agree = true;
        if (opt.main) {
            String spec = fcn(opt.mainWidth);
            for (boolean traced : new boolean[] {false, true}) {
                Setting s = new Setting(traced ? "traced" : "full", spec, opt.mainWidth, opt.mainInput, traced);
                measure(s, opt.warmup, opt.reps, Double.POSITIVE_INFINITY);
                agree &= verify(s);
                main.add(s);
            }
        }
        List<Setting> sweep = new ArrayList<>();
        if (opt.sweep) {
            double budget = opt.budgetGiB * (1L << 30);
            for (int w : opt.widths) {
                Setting s = new Setting("W=" + w, fcn(w), w, w, false);
                boolean single = w >= opt.sweepSingleFrom;
                measure(s, single ? 0 : opt.warmup, single ? 1 : opt.sweepReps, budget);
                agree &= verify(s);
                sweep.add(s);
                closeKernels(s);
            }
        }
        double total = (System.nanoTime() - start) / 1e9;
        say("total %.1f s", total);
        write(args, main, sweep, total, agree);
        for (Setting s : main) {
            closeKernels(s);
        }
        return agree ? 0 : 1;
    }

    private static String fcn(int width) {
        return "fcn(depth=" + DEPTH + ",width=" + width + ",out=" + OUT + ")";
    }

    // ------------------------------------------------------------------ measuring

    private void measure(Setting s, int warmup, int reps, double budget) {
        Model model = Zoo.parse(s.spec);
        int[] in = {s.input};
        int[] trace = s.traced ? new int[] {-1} : new int[0];
        s.loadBefore = Machine.loadAverage();
        say("== %s: %s, x [%d, %d] f32, kernel %s, %d warm-up + %d timed round(s)", s.label, s.spec, N, s.input,
                s.kernelShape(), warmup, reps);
        CostModel cm = new CostModel(model, in, DType.F32, N, 0, trace, new int[0]);
        List<Method> running = new ArrayList<>();
        for (Method m : METHODS) {
            MethodRuns.Result r = new MethodRuns.Result(m);
            s.results.put(m, r);
            try {
                r.estimate = cm.estimate(m);
            } catch (IllegalArgumentException e) {
                r.skipped = "no estimate: " + e.getMessage();
                say("  %-3s skipped: %s", m.shortName(), r.skipped);
                continue;
            }
            if (r.estimate.peakBytes() > budget) {
                r.skipped = String.format(Locale.ROOT, "predicted peak %s exceeds the %s budget",
                        CostModel.human(r.estimate.peakBytes()), CostModel.human((long) budget));
                say("  %-3s skipped: %s", m.shortName(), r.skipped);
                continue;
            }
            running.add(m);
        }
        try (Params p = model.init(0, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 1, N, s.input)) {
            s.paramBytes = p.count() * DType.F32.bytes();
            s.inputBytes = x.bytes();
            EmpiricalNtk base = EmpiricalNtk.of(model, p).traceAxes(trace);
            MethodRuns.roundRobin(base, x, running, s.results, warmup, reps, s.paramBytes + s.inputBytes, log);
        }
        s.loadAfter = Machine.loadAverage();
        for (Method m : running) {
            MethodRuns.Result r = s.results.get(m);
            if (r.ran()) {
                say("  %-3s median %.4f s (min %.4f, max %.4f), %.1f GFLOP/s of %.3g predicted FLOPs", m.shortName(),
                        r.median(), r.min(), r.max(), r.gflops(), r.estimate.flops());
            }
        }
    }

    /** Relative Frobenius errors against JC (or the first method that ran); false when one disagrees. */
    private boolean verify(Setting s) {
        return MethodRuns.verify(s.results, METHODS, log);
    }

    private static void closeKernels(Setting s) {
        for (MethodRuns.Result r : s.results.values()) {
            r.closeKernel();
        }
    }

    // ------------------------------------------------------------------ fits

    /** One fitted exponent. */
    static final class Fit {
        final Method method;
        final String quantity;
        final String expected;
        final int[] widths;
        final double slope;
        final double r2;

        Fit(Method method, String quantity, String expected, int[] widths, double slope, double r2) {
            this.method = method;
            this.quantity = quantity;
            this.expected = expected;
            this.widths = widths;
            this.slope = slope;
            this.r2 = r2;
        }
    }

    private List<Fit> fits(List<Setting> sweep) {
        List<Fit> fits = new ArrayList<>();
        String[] quantities = {"time", "predicted FLOPs", "measured peak", "measured peak - params - x",
            "predicted peak"};
        for (Method m : METHODS) {
            for (String q : quantities) {
                fit(fits, sweep, m, q, false);
                if (q.contains("peak")) {
                    fit(fits, sweep, m, q, true);
                }
            }
        }
        return fits;
    }

    /**
     * One fit over the widths >= fitFrom; with {@code untiledOnly}, over those where the method ran untiled
     * (tiling caps each tensor at 2 GiB and so flattens the memory curve), added only when that leaves out some.
     */
    private void fit(List<Fit> fits, List<Setting> sweep, Method m, String q, boolean untiledOnly) {
        List<Integer> ws = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        boolean leftOut = false;
        for (Setting s : sweep) {
            MethodRuns.Result r = s.results.get(m);
            if (s.width < opt.fitFrom || r.estimate == null) {
                continue;
            }
            if (untiledOnly && r.estimate.note().contains("tile")) {
                leftOut = true;
                continue;
            }
            boolean needsRun = !q.startsWith("predicted");
            if (needsRun && !r.ran()) {
                continue;
            }
            double y;
            switch (q) {
                case "time":
                    y = r.median();
                    break;
                case "predicted FLOPs":
                    y = r.estimate.flops();
                    break;
                case "measured peak":
                    y = r.measuredPeak;
                    break;
                case "measured peak - params - x":
                    y = r.measuredPeak - s.paramBytes - s.inputBytes;
                    break;
                default:
                    y = r.estimate.peakBytes();
            }
            if (y > 0) {
                ws.add(s.width);
                ys.add(y);
            }
        }
        if (ws.size() < 2 || (untiledOnly && !leftOut)) {
            return;
        }
        double[] x = ws.stream().mapToDouble(Integer::doubleValue).toArray();
        double[] y = ys.stream().mapToDouble(Double::doubleValue).toArray();
        LogLogFit f = LogLogFit.of(x, y);
        fits.add(new Fit(m, untiledOnly ? q + " (untiled widths)" : q, expected(m, q),
                ws.stream().mapToInt(Integer::intValue).toArray(), f.slope(), f.r2()));
    }

    /** The reference exponents (digest §1.2, inputs of size W, L = 4 dense layers). */
    private static String expected(Method m, String q) {
        boolean time = q.equals("time") || q.equals("predicted FLOPs");
        boolean working = q.equals("measured peak - params - x");
        switch (m) {
            case JACOBIAN_CONTRACTION:
                return time ? "2 (N O L W² + N² O² L W²)" : "2 (N O L W² Jacobians)";
            case NTK_VECTOR_PRODUCTS:
                return time ? "2 (N² O L W²)" : "2 (about JC's)";
            default:
                return time ? "between 1 and 2: contraction N² O² L W (1), N O L W² passes (2) dominate at W >= 256"
                        : working ? "1 (N O L W cotangents + N L W inputs)" : "2 once the L W² parameters dominate";
        }
    }

    // ------------------------------------------------------------------ output

    private void write(String[] args, List<Setting> main, List<Setting> sweep, double total, boolean agree)
            throws IOException {
        Files.createDirectories(opt.out);
        Path md = opt.out.resolve(opt.name + ".md");
        Path mainCsv = opt.out.resolve(opt.name + "_main.csv");
        Path sweepCsv = opt.out.resolve(opt.name + "_sweep.csv");
        Path fitsCsv = opt.out.resolve(opt.name + "_fits.csv");
        List<Fit> fits = fits(sweep);
        StringBuilder sb = new StringBuilder();
        sb.append("# Empirical NTK: JC vs NTK-VP vs SD").append(opt.quick ? " (quick mode)" : "").append("\n\n");
        sb.append("Generated by `org.ntk4j.bench.NtkMethodsBench` on ").append(Machine.now()).append(".\n\n");
        sb.append("## Machine and command\n\n");
        sb.append("| | |\n|---|---|\n");
        row(sb, "CPU", Machine.cpuModel());
        row(sb, "cores (JVM availableProcessors)", String.valueOf(Runtime.getRuntime().availableProcessors()));
        row(sb, "memory", Machine.memTotal());
        row(sb, "Java", Machine.java());
        row(sb, "JVM options", "`" + Machine.jvmOptions() + "`");
        row(sb, "arguments", "`" + (args.length == 0 ? "(none)" : String.join(" ", args)) + "`");
        row(sb, "BLAS", Blas.config() + "; " + Blas.threads() + " thread(s); ntk4j kernel threads "
                + Parallel.threads());
        row(sb, "JavaCPP maxBytes", CostModel.human(org.ntk4j.tensor.NativeMemory.maxBytes()));
        row(sb, "total run time", String.format(Locale.ROOT, "%.1f s", total));
        row(sb, "kernels agree (rel. Frobenius < 1e-4)", agree ? "yes, in every setting" : "**NO** (see tables)");
        sb.append('\n');
        sb.append("Times are wall-clock seconds of `EmpiricalNtk.ntk(x, null)` (x2 = x1), including input and "
                + "parameter validation. Peak is the high-water mark of off-heap tensor bytes during the call "
                + "(`Tensor.resetPeakBytes()` before, `Tensor.peakBytes()` after), counting the parameters and x "
                + "that are live throughout, as the cost model does. GFLOP/s = predicted FLOPs / median time. "
                + "Load average (1, 5, 15 min) is shown per setting: other processes on the machine add noise; "
                + "the methods run round-robin so that it falls on all of them alike.\n\n");
        if (!main.isEmpty()) {
            Setting s0 = main.get(0);
            sb.append("## Main setting: neural-tangents' FCN example\n\n");
            sb.append(String.format(Locale.ROOT, "`%s` on x of shape [%d, %d] float32 (parameters %s, "
                    + "%d scalars; biases on: zoo default b_std = 0.05, w_std = 1.5, NTK parameterisation), "
                    + "O = %d, N = %d, x2 = x1. %d warm-up round(s), then %d timed round(s); median reported.%n%n",
                    s0.spec, N, s0.input, CostModel.human(s0.paramBytes), s0.paramBytes / 4, OUT, N, opt.warmup,
                    opt.reps));
            for (Setting s : main) {
                sb.append("### Kernel ").append(s.kernelShape()).append("\n\n");
                mainTable(sb, s);
                sb.append('\n');
                ratios(sb, s);
                sb.append("\nLoad average before / after: ").append(s.loadBefore).append(" / ").append(s.loadAfter)
                        .append("\n\n");
            }
        }
        if (!sweep.isEmpty()) {
            sb.append("## Width sweep\n\n");
            sb.append(String.format(Locale.ROOT, "`fcn(depth=3, width=W, out=8)` (biases on), x [%d, W] float32, "
                    + "full kernel [16, 16, 8, 8]. Memory budget %.0f GiB: a method whose predicted peak exceeds it "
                    + "is skipped. Widths below %d: %d warm-up + %d timed round(s); from %d up: one timed round, "
                    + "no warm-up (the JIT is warm by then, and a round of JC costs tens of seconds).%n%n", N,
                    opt.budgetGiB, opt.sweepSingleFrom, opt.warmup, opt.sweepReps, opt.sweepSingleFrom));
            sweepTable(sb, sweep);
            sb.append('\n');
            sb.append(String.format(Locale.ROOT, "### Fitted exponents in W (least squares on log-log, widths >= %d)"
                    + "%n%n", opt.fitFrom));
            sb.append(String.format(Locale.ROOT, "Small widths are left out: there fixed per-call costs (graph "
                    + "tracing, validation, per-example loops, thread hand-offs) dominate and the curves flatten."
                    + "%n%n"));
            sb.append("| method | quantity | exponent | R² | widths | reference |\n|---|---|---:|---:|---|---|\n");
            for (Fit f : fits) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.3f | %s | %s |%n", f.method.shortName(),
                        f.quantity, f.slope, f.r2, joinInts(f.widths), f.expected));
            }
            sb.append('\n');
        }
        sb.append("## Files\n\n`").append(mainCsv.getFileName()).append("`, `").append(sweepCsv.getFileName())
                .append("`, `").append(fitsCsv.getFileName()).append("`. ").append(CONTRACTION_COLUMN)
                .append("\n\n## Log\n\n```\n").append(log.text()).append("```\n");
        AtomicFile.writeString(md, sb.toString());
        writeCsv(mainCsv, main, true);
        writeCsv(sweepCsv, sweep, false);
        StringBuilder fc = new StringBuilder("method,quantity,exponent,r2,widths,reference\n");
        for (Fit f : fits) {
            fc.append(String.format(Locale.ROOT, "%s,%s,%.4f,%.4f,%s,\"%s\"%n", f.method.shortName(), f.quantity,
                    f.slope, f.r2, joinInts(f.widths).replace(", ", " "), f.expected));
        }
        AtomicFile.writeString(fitsCsv, fc.toString());
        say("wrote %s, %s, %s, %s", md, mainCsv, sweepCsv, fitsCsv);
    }

    /**
     * What the CSV column {@code predicted_contraction_flops} holds ({@link CostModel.Estimate#contractionFlops}),
     * said in the report: for JC it is the reference's term, not the part of {@code predicted_flops} JC runs.
     */
    static final String CONTRACTION_COLUMN = "The CSV column `predicted_contraction_flops` is the cost model's "
            + "contraction term as the reference's cost table writes it, 2·|Θ|·T·P (|Θ| the kernel's elements, T the "
            + "size of the traced axes, P the parameters); for NTK-VP it is the whole JVP work. It is not a part of "
            + "`predicted_flops` for JC: with x2 = x1, as here, JC contracts the Jacobian with itself as a Gram, "
            + "about half that term, which `predicted_flops` counts, so JC's `predicted_contraction_flops` can exceed "
            + "its `predicted_flops`.";

    private static void row(StringBuilder sb, String k, String v) {
        sb.append("| ").append(k).append(" | ").append(v).append(" |\n");
    }

    private void mainTable(StringBuilder sb, Setting s) {
        sb.append("| method | median s | min s | max s | measured peak | predicted peak | predicted FLOPs | "
                + "GFLOP/s | rel. error vs JC |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Method m : METHODS) {
            MethodRuns.Result r = s.results.get(m);
            if (!r.ran()) {
                sb.append("| ").append(m.shortName()).append(" | ").append(r.skipped == null ? "not run" : r.skipped)
                        .append(" | | | | | | | |\n");
                continue;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %.4f | %.4f | %.4f | %s | %s | %.3g | %.1f | %s |%n",
                    m.shortName(), r.median(), r.min(), r.max(), CostModel.human(r.measuredPeak),
                    CostModel.human(r.estimate.peakBytes()), r.estimate.flops(), r.gflops(), err(r)));
        }
    }

    private static String err(MethodRuns.Result r) {
        return Double.isNaN(r.relErrVsJc) ? "—" : r.method == Method.JACOBIAN_CONTRACTION ? "(reference)"
                : String.format(Locale.ROOT, "%.1e", r.relErrVsJc);
    }

    private static void ratios(StringBuilder sb, Setting s) {
        MethodRuns.Result jc = s.results.get(Method.JACOBIAN_CONTRACTION);
        MethodRuns.Result vp = s.results.get(Method.NTK_VECTOR_PRODUCTS);
        MethodRuns.Result sd = s.results.get(Method.STRUCTURED_DERIVATIVES);
        boolean agree = (Double.isNaN(vp.relErrVsJc) || KernelAgreement.agrees(vp.relErrVsJc))
                && (Double.isNaN(sd.relErrVsJc) || KernelAgreement.agrees(sd.relErrVsJc));
        if (!agree) {
            sb.append("**The kernels disagree; no ratios are reported.**\n");
            return;
        }
        if (jc.ran() && sd.ran()) {
            double r = jc.median() / sd.median();
            sb.append(String.format(Locale.ROOT, "- JC / SD time: **%.1f×** (medians; %.1f× on the fastest rounds)"
                    + " — target ≥ 30×: %s; predicted FLOP ratio %.1f×%n", r, jc.min() / sd.min(),
                    r >= 30 ? "met" : "**not met**", jc.estimate.flops() / sd.estimate.flops()));
        }
        if (jc.ran() && vp.ran()) {
            double r = jc.median() / vp.median();
            sb.append(String.format(Locale.ROOT, "- JC / VP time: **%.2f×** (medians; %.2f× on the fastest rounds)"
                    + " — target > 1× (VP faster): %s; predicted FLOP ratio %.2f×%n", r, jc.min() / vp.min(),
                    r > 1 ? "met" : "**not met**", jc.estimate.flops() / vp.estimate.flops()));
        }
    }

    private static void sweepTable(StringBuilder sb, List<Setting> sweep) {
        sb.append("| W | params | method | median s | rounds | measured peak | predicted peak | predicted FLOPs | "
                + "GFLOP/s | rel. error vs JC |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Setting s : sweep) {
            for (Method m : METHODS) {
                MethodRuns.Result r = s.results.get(m);
                String head = String.format(Locale.ROOT, "| %d | %s | %s | ", s.width, CostModel.human(s.paramBytes),
                        m.shortName());
                if (!r.ran()) {
                    sb.append(head).append(r.skipped == null ? "not run" : "skipped: " + r.skipped).append(
                            String.format(Locale.ROOT, " | | | %s | %s | | |%n", r.estimate == null ? ""
                                    : CostModel.human(r.estimate.peakBytes()), r.estimate == null ? ""
                                    : String.format(Locale.ROOT, "%.3g", r.estimate.flops())));
                    continue;
                }
                sb.append(head).append(String.format(Locale.ROOT, "%.4f | %d | %s | %s | %.3g | %.1f | %s |%n",
                        r.median(), r.seconds.size(), CostModel.human(r.measuredPeak),
                        CostModel.human(r.estimate.peakBytes()), r.estimate.flops(), r.gflops(), err(r)));
            }
        }
    }

    private static void writeCsv(Path path, List<Setting> settings, boolean main) throws IOException {
        StringBuilder sb = new StringBuilder("setting,model,width,input,kernel,method,status,rounds,median_s,min_s,"
                + "max_s,times_s,measured_peak_bytes,param_bytes,input_bytes,predicted_peak_bytes,predicted_flops,"
                + "predicted_contraction_flops,gflops,rel_err_vs_jc,load_before,load_after\n");
        for (Setting s : settings) {
            for (Method m : METHODS) {
                MethodRuns.Result r = s.results.get(m);
                boolean ran = r.ran();
                sb.append(String.format(Locale.ROOT,
                        "%s,\"%s\",%d,%d,%s,%s,\"%s\",%d,%s,%s,%s,\"%s\",%s,%d,%d,%s,%s,%s,%s,%s,\"%s\",\"%s\"%n",
                        main ? s.label : "sweep", s.spec, s.width, s.input, s.traced ? "traced" : "full",
                        m.shortName(), ran ? "ran" : (r.skipped == null ? "not run" : r.skipped.replace('"', '\'')),
                        r.seconds.size(), ran ? num(r.median()) : "", ran ? num(r.min()) : "",
                        ran ? num(r.max()) : "", joinTimes(r.seconds), ran ? String.valueOf(r.measuredPeak) : "",
                        s.paramBytes, s.inputBytes, r.estimate == null ? "" : String.valueOf(r.estimate.peakBytes()),
                        r.estimate == null ? "" : num(r.estimate.flops()),
                        r.estimate == null ? "" : num(r.estimate.contractionFlops()), ran ? num(r.gflops()) : "",
                        Double.isNaN(r.relErrVsJc) ? "" : num(r.relErrVsJc), s.loadBefore, s.loadAfter));
            }
        }
        AtomicFile.writeString(path, sb.toString());
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.6g", v);
    }

    private static String joinTimes(List<Double> t) {
        StringBuilder sb = new StringBuilder();
        for (double v : t) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            sb.append(String.format(Locale.ROOT, "%.4f", v));
        }
        return sb.toString();
    }

    private static String joinInts(int[] a) {
        StringBuilder sb = new StringBuilder();
        for (int v : a) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(v);
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ environment

    private void say(String format, Object... args) {
        log.say(format, args);
    }
}
