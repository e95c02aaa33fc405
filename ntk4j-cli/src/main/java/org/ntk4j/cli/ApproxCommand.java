package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.PntkWidthStudy;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j approx}: how well each N×N kind approximates the full eNTK, and (with --widths) how the pNTK's
 * error falls with width.
 */
@Command(name = "approx", mixinStandardHelpOptions = true,
        footer = {"", "Example:",
            "  ntk4j approx --model 'fcn(depth=2,width=512,out=10)' --data synthetic:36,28,28 --n 24"},
        description = {"Compare every N×N kernel kind (read as K ⊗ I_O) with the full empirical NTK.",
            "--memory bounds each kernel (every kind's and width's planned before the first is computed); the "
                + "spectra and regressions on float64 copies of the kernels are not kernel calls and are not "
                + "bounded by it."})
public final class ApproxCommand implements Callable<Integer> {
    /** Called after each part's report is written (a test's hook: {@link PartialReport}); nothing unless set. */
    java.util.function.IntConsumer afterPart = parts -> { };

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec or an ONNX file (default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,width=512,out=10)";

    @picocli.CommandLine.Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--data", description = "Inputs [N+M, ...]: a data source as for 'kernel' (default: "
            + "${DEFAULT-VALUE}).")
    String data = "synthetic:48,28,28";

    @Option(names = "--n", description = "Training inputs: the first N of the data (default: ${DEFAULT-VALUE}).")
    int n = 32;

    @Option(names = "--kinds", split = ",", description = "Kinds to compare (default: ${DEFAULT-VALUE}).")
    List<String> kinds = List.of("pntk", "trace", "logit:0", "probes:4", "projected:1024");

    @Option(names = "--method", description = "auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @picocli.CommandLine.Mixin
    MemoryOption memory = new MemoryOption();

    @Option(names = "--dtype", description = "f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f64";

    @Option(names = "--seed", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Mixin
    DiagRegOption diagReg = new DiagRegOption();

    @Option(names = "--labels", description = "Regress on the data's labels (one-hot targets of the N training "
            + "inputs) instead of seeded one-hot targets, and report the test accuracy of each kernel's regression on "
            + "the held-out inputs' labels, and its difference to the full eNTK's. Needs labelled --data.")
    boolean labels;

    @Option(names = "--widths", split = ",", description = "Width study: repeat the pNTK error over these widths "
            + "(the model spec's width option is replaced) and fit its exponent.")
    int[] widths;

    int seeds = 3;

    @Option(names = "--seeds", paramLabel = "<seeds>", defaultValue = "3", description = "Seeds per width in the "
            + "width study (default: ${DEFAULT-VALUE}).")
    void setSeeds(int value) {
        if (value < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--seeds must be at least 1, got "
                    + value);
        }
        seeds = value;
    }

    @Option(names = "--report", description = "Write the figures as JSON; with --widths, rewritten after each "
            + "width (\"complete\": false until the last), so that a stopped run keeps the widths it finished.")
    Path report;

    @Option(names = "--resume", description = "With --widths: continue the stopped width study whose partial "
            + "--report is given: the same settings, the widths it finished not measured again.")
    boolean resume;

    @picocli.CommandLine.Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Override
    public Integer call() throws Exception {
        // the report (with --widths rewritten after each width): this run's until it ends, a second run on it refused
        try (org.ntk4j.io.TileStore.RunLock claim = PartialReport.claim(widths == null ? null : report)) {
            return measure();
        }
    }

    private Integer measure() throws Exception {
        if (widths == null && spec.commandLine().getParseResult().hasMatchedOption("--seeds")) {
            throw new IllegalArgumentException("--seeds: applies only to the width study, which --widths asks for");
        }
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        long budget = memory.budget();
        DiagReg reg = diagReg.value();
        if (labels && widths != null) {
            throw new IllegalArgumentException("--labels: scores the kernel regressions of one comparison; the width "
                    + "study (--widths) measures the pNTK's kernel error alone");
        }
        for (String option : new String[] {"--diag-reg", "--diag-reg-absolute"}) {
            // the width study solves no regression: a regulariser given to it would be ignored silently
            if (widths != null && spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + ": regularises the kernel regressions of one comparison; "
                        + "the width study (--widths) solves none");
            }
        }
        List<KernelKind> list = KernelOptions.squareKinds(kinds, seed);
        // the width study measures the pNTK alone: other kinds given to it would be ignored silently (before
        // 2026-12-07 they were, and its table of pNTK errors answered --kinds trace); --kinds pntk is what it measures
        if (widths != null && spec.commandLine().getParseResult().hasMatchedOption("--kinds")
                && !list.equals(List.of(KernelKind.parse("pntk", seed)))) {
            throw new IllegalArgumentException("--kinds " + String.join(",", kinds) + ": the width study (--widths) "
                    + "measures the pNTK's error alone; drop --kinds, or compare the kinds without --widths");
        }
        ModelArgument.Resolved resolved = modelArgument.resolve(model);
        if (widths != null && resolved.onnx() != null) {
            throw new IllegalArgumentException("--widths: the width study varies a zoo model's width; an ONNX model "
                    + "has one");
        }
        if (widths != null) {
            StudyCommand.requirePositiveDistinct(widths);
        }
        if (resume && widths == null) {
            throw new IllegalArgumentException("--resume: continues a width study (--widths), which is measured "
                    + "width by width; approx without --widths is one measurement");
        }
        JsonReport partial = resume ? PartialReport.forResume("approx", "--report", report, "every width") : null;
        OutputFiles outputs = overwrite.outputs().inputSource("--data", data);
        if (!resume) {
            PartialReport.refuseNewRunOnto("approx", "--report", report, overwrite.overwrite);
            outputs.output("--report", report, ".json"); // a resumed report is the stopped run's own, rewritten
        }
        outputs.check();
        PrintWriter out = spec.commandLine().getOut();
        Reports.ApproxSettings settings = new Reports.ApproxSettings(model, data, n, dt, seed);
        JsonReport json;
        try (Dataset loaded = KernelOptions.named("--data", () -> DataSource.loadDataset(
                resolved.dataSpec("--data", data), dt, seed));
             // as kernel lays it out: flat s² columns are an s×s image for a cnn (every width takes the same shape);
             // the inputs alone, refused as kernel's are (--labels reads the labels from the dataset as loaded: a
             // layout keeps the examples and their order)
             Tensor all = resolved.layout("--data", loaded.x())) {
            // N = 1 is a comparison: the full kernel is then one O×O block, the kinds' k·I_O its trace part (pNTK's
            // error at N = 1 is that of the block's off-diagonal and unequal diagonal), with the spectra of both
            // and a regression on the one training example
            if (all.dim(0) <= n || n < 1) {
                throw new IllegalArgumentException("--n: the data has " + all.dim(0) + " examples; need 1 <= N < that "
                        + "(the rest are held out), got " + n);
            }
            int[] per = Shapes.dropFirst(all.shape());
            // closed however the measurement ends (a width study that fails part way, say)
            try (Tensor xTrain = org.ntk4j.cpu.Layout.sliceAxis(all, 0, 0, n);
                 Tensor xTest = org.ntk4j.cpu.Layout.sliceAxis(all, 0, n, all.dim(0))) {
                if (widths == null) {
                    Model net = resolved.model();
                    int o = outputs(net, per);
                    for (KernelKind kk : list) {
                        KernelOptions.requireKindFits("--kinds", kk, net, per, budget);
                    }
                    int[] testLabels = labels ? heldOutLabels(loaded, o) : null;
                    try (Params p = resolved.params(null, seed, per, dt);
                         Tensor y = labels ? trainingTargets(loaded, dt, o)
                                 : ApproximationReport.randomOneHot(dt, n, o, seed)) {
                        EmpiricalNtk ntk = EmpiricalNtk.of(net, p).method(m).memoryBudget(budget);
                        requireKernelsFit(new KernelOptions.BudgetCheck(), ntk, list, n, xTest.dim(0), per, dt)
                                .requireAllFit();
                        // the same regressions and accuracy as study's (ApproximationReport scores both)
                        ApproximationReport r = ApproximationReport.run(ntk, xTrain, xTest, y, testLabels, list, reg,
                                null);
                        out.printf(Locale.ROOT, "%s on %d training and %d held-out inputs %s, %d outputs, %s, %s%n",
                                model, n, xTest.dim(0), Shapes.str(per), o, labels ? "one-hot labels as targets"
                                        : "seeded one-hot targets", DiagRegOption.describe(reg));
                        out.print(r.table());
                        json = Reports.approx(settings, reg, r);
                    }
                } else {
                    // every width's full and pNTK kernels planned before the first is computed
                    KernelOptions.BudgetCheck check = new KernelOptions.BudgetCheck();
                    for (int w : widths) {
                        Model net = Zoo.parse(Zoo.withWidth(model, w));
                        try {
                            requireKernelsFit(check, pricedWidth(net, w, per, dt, m, budget),
                                    List.of(KernelKind.parse("pntk", seed)), n, 0, per, dt);
                        } finally {
                            net.releaseCaches();
                        }
                    }
                    check.requireAllFit();
                    json = widthStudy(out, xTrain, m, budget, settings, partial);
                }
            }
        }
        if (report != null) {
            json.write(report);
            out.println("wrote " + report);
        }
        out.flush();
        return 0;
    }

    /**
     * The width study: each width's row printed, and the report rewritten, as soon as it is measured; a resume checks
     * its settings against the partial report and measures only the widths it lacks.
     *
     * @return the complete report
     */
    private JsonReport widthStudy(PrintWriter out, Tensor x, Method m, long budget, Reports.ApproxSettings settings,
                                  JsonReport partial) throws IOException {
        Reports.ApproxWidthSettings ws = new Reports.ApproxWidthSettings(widths, seeds, m.shortName(),
                RunFingerprint.ofData(x));
        List<PntkWidthStudy.Row> done = new ArrayList<>();
        if (partial != null) {
            PartialReport.requireSame(partial, "model", "--model", settings.model());
            PartialReport.requireSame(partial, "data", "--data", settings.data());
            PartialReport.requireSame(partial, "n", "--n", settings.n());
            PartialReport.requireSame(partial, "dtype", "--dtype", settings.dtype().shortName());
            PartialReport.requireSame(partial, "widths", "--widths", ws.widths());
            PartialReport.requireSame(partial, "seeds", "--seeds", ws.seeds());
            PartialReport.requireSame(partial, "seed", "--seed", settings.seed());
            PartialReport.requireSame(partial, "method", "--method", ws.method());
            PartialReport.requireSameData(partial, "--data", data, ws.dataFingerprint());
            done.addAll(Reports.approxRows(partial, report));
        }
        out.printf(Locale.ROOT, "pNTK relative Frobenius error against the full eNTK, %d inputs, mean over %d seeds%n",
                x.dim(0), seeds);
        if (partial != null) {
            out.println("resuming " + report + ": " + done.size() + " of " + widths.length + " widths done");
        }
        out.println("| width | mean error | min | max |");
        out.println("|---|---|---|---|");
        // the finished widths, a prefix of --widths (the study measures them in order), from the partial report
        done.forEach(row -> printRow(out, row));
        out.flush();
        int[] measured = {0};
        PntkWidthStudy.Result r;
        // a signal says what the report keeps (closed before the exit: a run that ends says nothing of it)
        try (PartialReport.Interruption interruption = report == null ? null
                : new PartialReport.Interruption(report, done.size(), widths.length, "widths",
                        spec.commandLine().getErr())) {
            r = PntkWidthStudy.run(w -> Zoo.parse(Zoo.withWidth(model, w)), widths, seeds, seed, x,
                    e -> e.method(m).memoryBudget(budget), row -> {
                printRow(out, row);
                done.add(row);
                if (report != null) {
                    try {
                        interruption.written(done.size(), () -> Reports.approx(settings, ws, done, null)
                                .write(report));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                afterPart.accept(++measured[0]);
            }, List.copyOf(done));
        } catch (UncheckedIOException e) {
            throw e.getCause(); // the report could not be written: one line, as any output's failure
        }
        if (widths.length < 2) {
            out.println("fitted exponent of the pNTK error in width: none (one width; give two or more to fit it)");
        } else {
            out.printf(Locale.ROOT, "fitted exponent of the pNTK error in width: %.3f (theory: %s)%n", r.exponent(),
                    ConvergenceCommand.widthTheory(model, !ConvergenceCommand.widthChangesModel(model, x, widths),
                            ConvergenceCommand.roundOff(r.rows().stream().mapToDouble(PntkWidthStudy.Row::maxError),
                                    x.dtype()), "errors", x.dtype()));
        }
        return Reports.approx(settings, ws, r.rows(), r);
    }

    /**
     * Width {@code width}'s model priced from shapes ({@link EmpiricalNtk#ofShapes}) for a width study's check of
     * every width before any work: nothing of the parameters' size is allocated, and a width whose parameters this
     * JVM cannot hold ({@link Model#requireParamsFit}) is refused at once, naming the width and their size.
     */
    static EmpiricalNtk pricedWidth(Model net, int width, int[] per, DType dt, Method m, long budget) {
        net.paramSpecs(per); // a shape that does not fit is refused as by any command, not as the width's size
        try {
            net.requireParamsFit(per, dt);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--widths " + width + ": " + e.getMessage(), e);
        }
        return EmpiricalNtk.ofShapes(net).method(m).memoryBudget(budget);
    }

    /**
     * Adds to {@code check} the kernels of a comparison ({@link ApproximationReport#run}): the full kernel and each
     * kind's, of the N training inputs with themselves and (M > 0) of the M held-out inputs against them.
     *
     * @return {@code check}
     */
    static KernelOptions.BudgetCheck requireKernelsFit(KernelOptions.BudgetCheck check, EmpiricalNtk ntk,
                                                       List<KernelKind> kinds, int n, int m, int[] per, DType dt) {
        List<KernelKind> all = new ArrayList<>();
        all.add(KernelKind.full());
        all.addAll(kinds);
        for (KernelKind k : all) {
            check.kernel(ntk, k, n, 0, per, dt);
            if (m > 0) {
                check.kernel(ntk, k, m, n, per, dt);
            }
        }
        return check;
    }

    private static void printRow(PrintWriter out, PntkWidthStudy.Row row) {
        out.printf(Locale.ROOT, "| %d | %.4g | %.4g | %.4g |%n", row.width(), row.meanError(), row.minError(),
                row.maxError());
        out.flush();
    }

    /**
     * The labels of the held-out inputs (those after the first N), checked to be classes of the model's O outputs,
     * naming --data and the example's index in it.
     */
    private int[] heldOutLabels(Dataset all, int o) {
        if (!all.hasLabels()) {
            throw new IllegalArgumentException("--labels: --data " + data + " has no labels (see docs/data.md)");
        }
        KernelOptions.requireLabelsBelow("--data", all, o, "one-hot targets and the test accuracy of a model with "
                + o + " outputs");
        try (Dataset test = all.rows(n, all.size())) {
            return test.labels();
        }
    }

    /** The one-hot labels of the first N inputs [N, O] (checked by {@link #heldOutLabels}). */
    private Tensor trainingTargets(Dataset all, DType dt, int o) {
        try (Dataset train = all.rows(0, n)) {
            return train.oneHot(dt, o);
        }
    }

    private static int outputs(Model net, int[] per) {
        int[] out = net.outputShape(per);
        if (out.length != 1) {
            throw new IllegalArgumentException("approx: needs a model with outputs [N, O], got [N] + "
                    + Shapes.str(out));
        }
        return out[0];
    }
}
