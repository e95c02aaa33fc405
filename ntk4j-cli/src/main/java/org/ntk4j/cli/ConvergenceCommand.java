package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.infinite.Convergence;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.Method;
import org.ntk4j.plot.Charts;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j convergence}: how far a finite network's eNTK (a zoo fcn, cnn or resnet: those with an analytic
 * limit), and the mean of an ensemble of them, is from the analytic infinite-width NTK as the width (the channels of
 * a cnn or resnet) grows, with the fitted exponents ({@link Convergence}).
 */
@Command(name = "convergence", mixinStandardHelpOptions = true,
        footer = {"", "Example:",
            "  ntk4j convergence --model 'fcn(depth=2,act=relu)' --widths 64,256,1024 --seeds 4 --ensemble 16",
            "  ntk4j convergence --model 'cnn(depth=2,pool=gap)' --data synthetic:8,6,6,2 --widths 16,64,256 "
                    + "--ensemble 4"},
        description = "Relative Frobenius distance of the eNTK (single and ensemble mean) of an fcn, cnn or resnet "
                + "to its infinite-width NTK, over widths (channels), with the fitted log-log exponent. --memory "
                + "bounds each eNTK (every width's planned before the first is computed); the analytic limit and "
                + "the ensemble's running mean are not kernel calls and are not bounded by it.")
public final class ConvergenceCommand implements Callable<Integer> {
    /** Called after each part's report is written (a test's hook: {@link PartialReport}); nothing unless set. */
    java.util.function.IntConsumer afterPart = parts -> { };

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "An fcn, cnn (pool=gap or flatten) or resnet, any act; its "
            + "width option (channels for cnn and resnet) is replaced by each of --widths (default: "
            + "${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,act=relu)";

    @Option(names = "--widths", split = ",", description = "Widths (default: 64,128,256,512,1024,2048).")
    int[] widths = {64, 128, 256, 512, 1024, 2048};

    @Option(names = "--data", description = "Inputs: a data source as for 'kernel', laid out for the model as there "
            + "(a cnn or resnet takes images, e.g. synthetic:16,8,8,3; default: ${DEFAULT-VALUE}).")
    String data = "synthetic:32,16";

    @Option(names = "--seeds", description = "Single eNTKs per width whose distance is averaged (the first members "
            + "of the ensemble; default: ${DEFAULT-VALUE}).")
    int seeds = 4;

    @Option(names = "--ensemble", paramLabel = "K", description = "Ensemble size per width, seeds --seed.."
            + "--seed + K - 1 (default: ${DEFAULT-VALUE}).")
    int ensemble = 64;

    @Option(names = "--seed", description = "First seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--method", description = "auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @Mixin
    MemoryOption memory = new MemoryOption();

    @Option(names = "--dtype", description = "f32 or f64 of the eNTKs (default: ${DEFAULT-VALUE}); the limit is "
            + "computed in float64.")
    String dtype = "f32";

    @Option(names = {"--report", "--json"}, description = "Write the figures as JSON, rewritten after each width "
            + "(\"complete\": false until the last), so that a stopped run keeps the widths it finished.")
    Path report;

    @Option(names = "--resume", description = "Continue the stopped run whose partial --report is given: the same "
            + "settings, the widths it finished not measured again.")
    boolean resume;

    @Option(names = "--plot", description = "Write a log-log PNG of the distances against width.")
    Path plot;

    @Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Override
    public Integer call() throws Exception {
        // the report (rewritten after each part): this run's until it ends, a second run on it refused
        try (org.ntk4j.io.TileStore.RunLock claim = PartialReport.claim(report)) {
            return measure();
        }
    }

    private Integer measure() throws Exception {
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        long budget = memory.budget();
        if (widths.length < 2) {
            throw new IllegalArgumentException("--widths: give at least two widths to fit an exponent");
        }
        StudyCommand.requirePositiveDistinct(widths);
        if (ensemble < 1 || seeds < 1 || seeds > ensemble) {
            throw new IllegalArgumentException("--seeds and --ensemble: need 1 <= --seeds <= --ensemble, got "
                    + seeds + " and " + ensemble);
        }
        requireLimit();
        org.ntk4j.nn.Model net = Zoo.parse(model);
        String reportOption = KernelOptions.typedName(spec, "--report", "--json"); // its messages name it as typed
        JsonReport partial = resume ? PartialReport.forResume("convergence", reportOption, report, "every width")
                : null;
        OutputFiles outputs = overwrite.outputs().inputSource("--data", data);
        if (!resume) {
            PartialReport.refuseNewRunOnto("convergence", reportOption, report, overwrite.overwrite);
            outputs.output(reportOption, report, ".json"); // a resumed report is the stopped run's own, rewritten
        }
        // a resume whose every width is done may find the plot its stopped run drew before it was killed
        StoppedRunPlots plots = new StoppedRunPlots(partial != null && !overwrite.overwrite
                && partial.get("widths_done") instanceof int[] finished
                && java.util.Arrays.equals(java.util.Arrays.stream(finished).sorted().toArray(),
                        java.util.Arrays.stream(widths).sorted().toArray()));
        plots.output(outputs, "--plot", plot);
        outputs.check();
        PrintWriter out = spec.commandLine().getOut();
        long start = System.nanoTime();
        Convergence.Result r;
        try (Tensor loaded = KernelOptions.named("--data", () -> DataSource.load(data, dt, seed));
             // as kernel lays it out: flat s² columns are an s×s image for a cnn; refused in one line if it fits not
             Tensor x = KernelOptions.named("--data", () -> org.ntk4j.io.InputLayout.forModel(net, loaded))) {
            requireKernelsFit(x, m, budget);
            Reports.ConvergenceSettings settings = new Reports.ConvergenceSettings(model, data, dt, seeds, ensemble,
                    seed, widths, m.shortName(), RunFingerprint.ofData(loaded));
            List<Convergence.Row> done = new ArrayList<>();
            double secondsBefore = 0;
            if (partial != null) {
                requireSameSettings(partial, settings);
                done.addAll(Reports.convergenceRows(partial, report));
                secondsBefore = partial.get("seconds") instanceof Number n ? n.doubleValue() : 0;
            }
            out.printf(Locale.ROOT, "%s on %d inputs %s (%s): relative Frobenius distance of the trace eNTK to the "
                            + "infinite-width NTK; single: mean (min..max) over seeds %d..%d; ensemble: the mean of "
                            + "%d eNTKs (seeds %d..%d)%n", model, x.dim(0), data, dt.shortName(), seed,
                    seed + seeds - 1, ensemble, seed, seed + ensemble - 1);
            if (partial != null) {
                out.println("resuming " + report + ": " + done.size() + " of " + widths.length + " widths done");
            }
            out.println("| width | single eNTK | min | max | ensemble mean |");
            out.println("|---|---|---|---|---|");
            // the finished widths, a prefix of --widths (the run measures them in order), from the partial report
            done.forEach(row -> printRow(out, row));
            out.flush();
            double before = secondsBefore;
            int[] measured = {0};
            // a signal says what the report keeps (closed before the exit: a run that ends says nothing of it)
            try (PartialReport.Interruption interruption = report == null ? null
                    : new PartialReport.Interruption(report, done.size(), widths.length, "widths",
                            spec.commandLine().getErr())) {
                // each width's row as soon as it is measured, and the report with it: a run stopped at the largest
                // width keeps the others
                try {
                    r = Convergence.run(v -> Zoo.withWidth(model, v), widths, seeds, ensemble, seed, x,
                            e -> e.method(m).memoryBudget(budget), row -> {
                                printRow(out, row);
                                done.add(row);
                                if (report != null) {
                                    interruption.written(done.size(), () -> write(Reports.convergence(settings,
                                            done, null, before + seconds(start))));
                                }
                                afterPart.accept(++measured[0]);
                            }, List.copyOf(done));
                } catch (UncheckedIOException e) {
                    throw e.getCause(); // the report could not be written: one line, as any output's failure
                }
                double seconds = seconds(start);
                boolean widthFree = !widthChangesModel(model, x, widths);
                boolean roundOff = roundOff(r.rows().stream().mapToDouble(Convergence.Row::singleMax), dt);
                out.printf(Locale.ROOT, "fitted exponent in width: single eNTK %.3f (theory %s), ensemble mean %.3f; "
                        + "%.1f s%n", r.singleExponent(), widthTheory(model, widthFree, roundOff, "distances", dt),
                        r.ensembleExponent(), seconds);
                // distances of 0 (a degenerate model, the eNTK exactly its limit) have no place on log axes: known
                // before the plot, which a resume could never draw, so the report is completed and the plot refused
                // after it
                boolean drawable = r.rows().stream().anyMatch(row -> row.singleMean() > 0 || row.ensemble() > 0);
                if (plot != null && drawable && plots.draw("--plot", plot, out, png -> plot(png, r,
                        widthFree || roundOff))) {
                    out.println("wrote " + plot);
                }
                if (report != null) {
                    // complete, after the plot: a run stopped before its plot stays resumable
                    // through the hook's lock, as each part's: a signal's line and the report agree
                    interruption.written(r.rows().size(), () -> Reports.convergence(settings, r.rows(), r,
                            before + seconds).write(report));
                    out.println("wrote " + report);
                }
                if (plot != null && !drawable) {
                    out.flush();
                    throw new IllegalArgumentException("--plot " + plot + ": not written: the distances are 0 at every "
                            + "width, which log axes cannot show (the figures are in the table" + (report == null ? ""
                            : " and " + report) + ")");
                }
            }
        }
        out.flush();
        return 0;
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static void printRow(PrintWriter out, Convergence.Row row) {
        out.printf(Locale.ROOT, "| %d | %.4g | %.4g | %.4g | %.4g |%n", row.width(), row.singleMean(), row.singleMin(),
                row.singleMax(), row.ensemble());
        out.flush();
    }

    /** The partial report after a width (an I/O error ends the run as any other: the previous report stays). */
    private void write(JsonReport json) {
        try {
            json.write(report);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Refuses, before any work, a budget that some width's trace eNTK of the inputs does not fit (the widest is
     * measured last: a budget too small for it is not found after the others' hours).
     */
    private void requireKernelsFit(Tensor x, Method m, long budget) {
        int[] per = org.ntk4j.tensor.Shapes.dropFirst(x.shape());
        KernelOptions.BudgetCheck check = new KernelOptions.BudgetCheck();
        for (int w : widths) {
            org.ntk4j.nn.Model net = Zoo.parse(Zoo.withWidth(model, w));
            try {
                check.kernel(ApproxCommand.pricedWidth(net, w, per, x.dtype(), m, budget),
                        org.ntk4j.ntk.KernelKind.trace(), x.dim(0), 0, per, x.dtype());
            } finally {
                net.releaseCaches();
            }
        }
        check.requireAllFit();
    }

    /** Refuses a resume whose settings differ from those of the partial report's run, naming the first. */
    private void requireSameSettings(JsonReport partial, Reports.ConvergenceSettings s) {
        PartialReport.requireSame(partial, "model", "--model", s.model());
        PartialReport.requireSame(partial, "data", "--data", s.data());
        PartialReport.requireSame(partial, "dtype", "--dtype", s.dtype().shortName());
        PartialReport.requireSame(partial, "seeds", "--seeds", s.seeds());
        PartialReport.requireSame(partial, "ensemble", "--ensemble", s.ensemble());
        PartialReport.requireSame(partial, "seed", "--seed", s.seed());
        PartialReport.requireSame(partial, "widths", "--widths", s.widths());
        PartialReport.requireSame(partial, "method", "--method", s.method());
        PartialReport.requireSameData(partial, "--data", data, s.dataFingerprint());
    }

    /**
     * Whether the widths give different networks ({@link Zoo#widthChangesModel}, comparing the first two): not for
     * fcn(depth=0) or cnn(depth=0), which no width changes.
     */
    static boolean widthChangesModel(String model, Tensor x, int[] widths) {
        return widths.length < 2 || Zoo.widthChangesModel(model, org.ntk4j.tensor.Shapes.dropFirst(x.shape()),
                widths[0], widths[1]);
    }

    /**
     * The theory of an exponent fitted in width (a single eNTK's distance to the limit, the pNTK's error): −0.5,
     * the fluctuations of a finite width; 0 where no layer has the width, so that every width is the same network
     * with the same kernels (fcn(depth=0), linear in its parameters, has the limit itself as eNTK: the distances are
     * round-off); none where the figures are round-off at every width although the width changes the network (a
     * degenerate setting such as w_std=0, which leaves only the output bias's gradient), so nothing is there to fall.
     *
     * @param model the model spec, as given
     * @param widthFree whether no width changes the network ({@link #widthChangesModel} false)
     * @param roundOff whether every figure is round-off ({@link #roundOff})
     * @param what the figures fitted, "distances" or "errors"
     * @param dt the dtype they were computed in
     * @return the text after "theory "
     */
    static String widthTheory(String model, boolean widthFree, boolean roundOff, String what, DType dt) {
        return widthFree ? "0: no layer of " + model + " has the width, so every width is the same network"
                : roundOff ? "none: the " + what + " are round-off at every width (at most " + ROUND_OFF + " ε of "
                + dt.shortName() + ")" : "-0.5";
    }

    /** The ε multiples below which {@link #roundOff} takes a relative distance or error for round-off. */
    private static final int ROUND_OFF = 100;

    /**
     * Whether every relative distance or error is round-off: at most 100 ε of the dtype (about 1e-5 in float32,
     * 2e-14 in float64), far below a finite width's fluctuations (a single eNTK's distance at width 2048 is about
     * 0.05, the mean of 64 about 0.007).
     */
    static boolean roundOff(java.util.stream.DoubleStream figures, DType dt) {
        double epsilon = dt == DType.F64 ? 0x1p-52 : 0x1p-23;
        return figures.allMatch(v -> v <= ROUND_OFF * epsilon);
    }

    /**
     * The log-log plot of the distances against width, with the width^-1/2 line through the first single one
     * (none where the theory is not −1/2: a model that no width changes, or distances that are round-off), into
     * {@code png} (--plot, or where a resume draws it aside: {@link StoppedRunPlots}).
     */
    private void plot(Path png, Convergence.Result r, boolean noTrend) throws IOException {
        int n = r.rows().size();
        double[] w = new double[n];
        double[] single = new double[n];
        double[] ens = new double[n];
        double[] ref = new double[n];
        for (int i = 0; i < n; i++) {
            Convergence.Row row = r.rows().get(i);
            w[i] = row.width();
            single[i] = row.singleMean();
            ens[i] = row.ensemble();
            ref[i] = r.rows().get(0).singleMean() * Math.sqrt(r.rows().get(0).width() / w[i]);
        }
        List<Charts.Series> series = new ArrayList<>();
        // a line whose distances are all 0 has no point on log axes (the plot is drawn when one has)
        if (java.util.Arrays.stream(single).anyMatch(v -> v > 0)) {
            series.add(new Charts.Series("single eNTK", w, single));
        }
        if (java.util.Arrays.stream(ens).anyMatch(v -> v > 0)) {
            series.add(new Charts.Series("mean of " + ensemble + " eNTKs", w, ens));
        }
        if (!noTrend && ref[0] > 0) {
            series.add(new Charts.Series("width^-1/2", w, ref));
        }
        Charts.logLogLines(png, "distance to the infinite-width NTK, " + model, "width",
                "relative Frobenius distance", series);
    }

    /**
     * Refuses, in one line naming --model, a model without an analytic limit (before the width is set, which only
     * some models have): only the zoo models of {@link InfiniteLimit#SUPPORTED} have one. {@link InfiniteLimit} names
     * kernel's --infinite, which this command does not have.
     */
    private void requireLimit() {
        if (ModelArgument.isOnnx(model)) {
            throw new IllegalArgumentException("--model: convergence compares against the analytic infinite-width "
                    + "NTK, which ntk4j has for a zoo " + InfiniteLimit.SUPPORTED
                    + " only, not an imported ONNX model");
        }
        try {
            InfiniteLimit.of(model); // the spec as given: an ONNX file or another zoo model is named as such
        } catch (IllegalArgumentException e) {
            String text = e.getMessage() == null ? "" : e.getMessage();
            int not = text.lastIndexOf(", not ");
            if (!text.startsWith("--infinite: ") || not < 0) {
                throw e; // a malformed spec or a bad option: the message names it
            }
            throw new IllegalArgumentException("--model: convergence compares against the analytic infinite-width "
                    + "NTK, which ntk4j has for a zoo " + InfiniteLimit.SUPPORTED + " only, " + text.substring(not + 2),
                    e);
        }
    }
}
