package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.ntk4j.io.Checkpoints;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.plot.Charts;
import org.ntk4j.study.TrainingStudy;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j study}: the eNTK and its N×N approximations through training, at several widths of a zoo model or
 * for one ONNX network ({@link TrainingStudy}): one table per metric (rows epochs, columns widths, or the one
 * network), JSON, and a PNG per metric against the epoch with one line per width.
 */
@Command(name = "study", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j study --widths 64,256 --checkpoints 'ckpt/w{width}/epoch-{epoch}.npz' "
            + "--plot-dir st"},
        description = "At each checkpoint of each width (or of one ONNX network: docs/study.md): the pNTK's (and "
                + "other N×N kinds') relative Frobenius error against the full eNTK, λ_max error, λ_min and "
                + "condition-number ratios, kernel-regression test accuracy, and the kernel velocity "
                + "‖Θ_t − Θ_0‖_F/‖Θ_0‖_F, on a held-out sample. --memory bounds each kernel (every width's planned "
                + "before the first checkpoint is read); the spectra, regressions and the epoch-0 kernel kept for the "
                + "velocity (float64 copies) are not kernel calls and are not bounded by it.")
public final class StudyCommand implements Callable<Integer> {
    /** Called after each part's report is written (a test's hook: {@link PartialReport}); nothing unless set. */
    java.util.function.IntConsumer afterPart = parts -> { };

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec, whose width option is replaced by each of --widths "
            + "(default: ${DEFAULT-VALUE}); or an .onnx file, whose checkpoints are .npz parameter files under its "
            + "initializer names (as --params-in reads them). Left out for .onnx checkpoints.")
    String model = "fcn(depth=2,out=10)";

    @Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--widths", split = ",", description = "Widths (default: 64,128,256,512,1024).")
    int[] widths = {64, 128, 256, 512, 1024};

    @Option(names = "--checkpoints", paramLabel = "PATTERN", required = true, description = "Parameter files "
            + "(.npz): a path with {width} (replaced by each width) and, in its file name, {epoch} or * standing for "
            + "the epoch number, e.g. 'ckpt/w{width}/epoch-{epoch}.npz'; every width needs epoch 0. For an ONNX "
            + "model, no {width}: 'ck/epoch-{epoch}.npz', or one .onnx export per epoch, 'ck/epoch-{epoch}.onnx' "
            + "(without --model: epoch 0's file is the network).")
    String checkpoints;

    @Option(names = "--sample", description = "Held-out labelled sample: the first --n inputs are kernel "
            + "regression's training part, the rest its test part (default: ${DEFAULT-VALUE}).")
    String sample = "default:test:300";

    @Option(names = "--n", description = "Training part of the sample (default: two thirds of it).")
    Integer n;

    @Option(names = "--kinds", split = ",", description = "N×N kinds compared with the full eNTK "
            + "(default: ${DEFAULT-VALUE}).")
    List<String> kinds = List.of("pntk", "trace");

    @Option(names = "--method", description = "auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @Mixin
    MemoryOption memory = new MemoryOption();

    @Option(names = "--dtype", description = "f32 or f64 of the kernels (default: ${DEFAULT-VALUE}).")
    String dtype = "f64";

    @Option(names = "--seed", description = "Seed of probes and projections (default: ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Mixin
    DiagRegOption diagReg = new DiagRegOption();

    @Option(names = {"--json", "--report"}, description = "Write every figure as JSON, rewritten after each "
            + "checkpoint (\"complete\": false until the last), so that a stopped run keeps the checkpoints it "
            + "measured.")
    Path json;

    @Option(names = "--resume", description = "Continue the stopped run whose partial --json is given: the same "
            + "settings and checkpoint files, the checkpoints it measured not measured again.")
    boolean resume;

    @Option(names = "--plot-dir", paramLabel = "DIR", description = "Write one PNG per metric (x: epoch, one line "
            + "per width) into DIR, created if missing.")
    Path plotDir;

    @Mixin
    OverwriteOption overwrite = new OverwriteOption();

    /** One table and one plot: a name, a title and how to read it from a point. */
    private record Metric(String file, String title, ToDoubleFunction<TrainingStudy.Point> read) {
    }

    /**
     * The key of the one network of an ONNX study among {@link TrainingStudy}'s widths (a zoo study's keys are its
     * widths, all positive).
     */
    private static final int ONE_NETWORK = 0;

    /**
     * How the checkpoints are read: a zoo spec at each width with .npz parameters; an ONNX model with .npz parameters
     * under its initializer names ({@code --params-in}'s files); or one .onnx export per epoch, each its own weights.
     */
    private enum Source { ZOO, ONNX_PARAMS, ONNX_FILES }

    private Source source = Source.ZOO;
    /** The network of an ONNX study: --model's, or the epoch-0 .onnx file's; null for a zoo study. */
    private ModelArgument.Resolved onnxModel;
    /** The epoch-0 .onnx file of {@link Source#ONNX_FILES}. */
    private Path epoch0File;
    /** What a signal says once the checkpoints are being measured with --json; null before, or without --json. */
    private PartialReport.Interruption interruption;

    @Override
    public Integer call() throws Exception {
        // the report (rewritten after each part): this run's until it ends, a second run on it refused
        try (org.ntk4j.io.TileStore.RunLock claim = PartialReport.claim(json)) {
            return measure();
        } finally {
            if (interruption != null) {
                interruption.close(); // a run that ends, or fails, says nothing of an interruption
            }
        }
    }

    private Integer measure() throws Exception {
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        long budget = memory.budget();
        List<KernelKind> kindList = KernelOptions.squareKinds(kinds, seed);
        boolean onnxFiles = checkpoints.toLowerCase(Locale.ROOT).endsWith(".onnx");
        boolean modelGiven = spec.commandLine().getParseResult().hasMatchedOption("--model");
        if (onnxFiles && modelGiven) {
            // the epoch-0 file is the network: a --model beside it would be a second one to agree with
            throw new IllegalArgumentException("--model " + model + ": the --checkpoints are .onnx files, each the "
                    + "network at its epoch (epoch 0's is the model); leave --model out");
        }
        source = onnxFiles ? Source.ONNX_FILES : ModelArgument.isOnnx(model) ? Source.ONNX_PARAMS : Source.ZOO;
        if (source == Source.ZOO) {
            checkWidths(); // refused in the order a zoo study always refused them
        }
        if (checkpoints.isBlank()) { // Path.of("") is the working directory, which the next check would name
            throw new IllegalArgumentException("--checkpoints: empty; expected a pattern of .npz parameter files with "
                    + "{epoch} (or *) for the epoch number, e.g. 'ck/epoch-{epoch}.npz' for train's checkpoints");
        }
        requireNotDirectory(checkpoints, checkpoints);
        if (source != Source.ZOO) {
            if (spec.commandLine().getParseResult().hasMatchedOption("--widths")) {
                throw new IllegalArgumentException("--widths: varies a zoo model's width; an ONNX model has one "
                        + "(leave --widths out, and {width} out of --checkpoints)");
            }
            if (checkpoints.contains("{width}")) {
                throw new IllegalArgumentException("--checkpoints " + checkpoints + ": has {width}, but an ONNX model "
                        + "has one width; give its files' path without {width}");
            }
        } else {
            if (widths.length > 1 && !checkpoints.contains("{width}")) {
                // every width would read the same files, of one width: refused by the first other width's
                // parameters, naming a width the user may not have given (the default --widths)
                throw new IllegalArgumentException("--checkpoints " + checkpoints + ": no {width} in it, so the "
                        + widths.length + " widths of --widths (" + java.util.Arrays.stream(widths).mapToObj(
                        Integer::toString).collect(java.util.stream.Collectors.joining(",")) + (spec.commandLine()
                        .getParseResult().hasMatchedOption("--widths") ? "" : ", the default") + ") would all read "
                        + "the same files; put {width} where each width's path differs, or give one width");
            }
        }
        diagReg.value(); // checked before any file is read
        if (source == Source.ZOO) {
            // the zoo spec checked (and the ONNX options refused with it) before the checkpoint files are looked for
            modelArgument.resolve(model);
        }
        int[] keys = source == Source.ZOO ? widths : new int[] {ONE_NETWORK};
        TreeMap<Integer, TreeMap<Integer, Path>> files = new TreeMap<>();
        for (int w : keys) {
            files.put(w, checkpointFiles(checkpoints, w, source == Source.ZOO ? " for width " + w : ""));
        }
        ModelArgument.Resolved first;
        if (source == Source.ZOO) {
            // parsed outside the --sample refusals: its own (a width too large for the JVM) are not the sample's
            first = new ModelArgument.Resolved(Zoo.parse(Zoo.withWidth(model, widths[0])), null);
        } else {
            epoch0File = source == Source.ONNX_FILES ? files.get(ONE_NETWORK).get(0) : null;
            onnxModel = source == Source.ONNX_FILES ? resolveCheckpoint(epoch0File) : modelArgument.resolve(model);
            first = onnxModel;
        }
        List<Metric> metrics = metrics(kindList);
        String reportOption = KernelOptions.typedName(spec, "--json", "--report"); // its messages name it as typed
        JsonReport partial = resume ? PartialReport.forResume("study", reportOption, json, "every checkpoint") : null;
        OutputFiles outputs = overwrite.outputs().inputSource("--sample", sample);
        if (!resume) {
            PartialReport.refuseNewRunOnto("study", reportOption, json, overwrite.overwrite);
            outputs.output(reportOption, json, ".json"); // a resumed report is the stopped run's own, rewritten
        }
        if (source == Source.ONNX_PARAMS) {
            outputs.input("--model", Path.of(onnxSpec().file().toString()));
        }
        files.values().forEach(byEpoch -> byEpoch.values().forEach(f -> outputs.input("--checkpoints", f)));
        // a resume whose every checkpoint is done may find the plots its stopped run drew before it was killed
        StoppedRunPlots stoppedRunPlots = new StoppedRunPlots(partial != null && !overwrite.overwrite
                && files.entrySet().stream().allMatch(e -> partial.get(Reports.studyPrefix(source != Source.ZOO,
                        e.getKey()) + "epochs_done") instanceof int[] d && java.util.Arrays.stream(d).boxed()
                        .collect(java.util.stream.Collectors.toSet()).equals(e.getValue().keySet())));
        for (Metric metric : metrics) {
            stoppedRunPlots.outputIn(outputs, "--plot-dir", plotDir, metric.file + ".png");
        }
        outputs.check();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        TrainingStudy study;
        Reports.StudySettings settings;
        Map<String, String> fingerprints;
        Set<String> done = new HashSet<>();
        double secondsBefore = 0;
        int nTrain;
        int nTest;
        int[] per;
        try (Dataset loaded = KernelOptions.named("--sample", () -> DataSource.loadDataset(
                first.dataSpec("--sample", sample), dt, seed));
             // as kernel lays it out: flat s² columns are an s×s image for a cnn (every width takes the same shape);
             // an ONNX model's examples in its input's shape
             Dataset all = first.layout("--sample", loaded)) {
            if (!all.hasLabels()) {
                throw new IllegalArgumentException("--sample " + sample + ": has no labels; the study's kernel "
                        + "regression needs labelled data (see docs/data.md)");
            }
            nTrain = n == null ? all.size() * 2 / 3 : n;
            if (nTrain < 2 || nTrain >= all.size()) {
                throw new IllegalArgumentException("--n: the sample has " + all.size() + " examples; need 2 <= N < "
                        + "that (the rest are the test part), got " + nTrain);
            }
            nTest = all.size() - nTrain;
            per = all.exampleShape();
            int[] shapeOut = first.model().outputShape(per);
            if (shapeOut.length != 1) {
                throw new IllegalArgumentException("--model: the study needs outputs [N, O], got [N] + "
                        + Shapes.str(shapeOut));
            }
            int o = shapeOut[0];
            // the labels of both parts, as predict's and train's are checked: naming --sample and the example's index
            // in it (the test part's own index would not find it in the file)
            KernelOptions.requireLabelsBelow("--sample", all, o, "one-hot targets and the test accuracy of a model "
                    + "with " + o + " outputs");
            try (Dataset train = all.rows(0, nTrain); Dataset test = all.rows(nTrain, all.size());
                 Tensor y = train.oneHot(dt, o)) {
                // every width's kernels planned before the first checkpoint is read
                KernelOptions.BudgetCheck check = new KernelOptions.BudgetCheck();
                for (int w : keys) {
                    Model net = network(w);
                    try {
                        // an ONNX model's parameters are its file's, already read: priced from shapes as a width's
                        EmpiricalNtk priced = source == Source.ZOO ? ApproxCommand.pricedWidth(net, w, per, dt, m,
                                budget) : EmpiricalNtk.ofShapes(net).method(m).memoryBudget(budget);
                        for (KernelKind k : kindList) {
                            KernelOptions.requireKindFits("--kinds", k, net, per, budget);
                        }
                        ApproxCommand.requireKernelsFit(check, priced, kindList, nTrain, nTest, per, dt);
                    } finally {
                        net.releaseCaches();
                    }
                }
                check.requireAllFit();
                fingerprints = checkEveryCheckpoint(files, per, dt, err, train.x(), test.x());
                settings = new Reports.StudySettings(source == Source.ZOO ? model : onnxModel.model().spec(), sample,
                        nTrain, nTest, dt, diagReg.value(), keys, m.shortName(), seed, checkpoints,
                        source != Source.ZOO);
                study = TrainingStudy.of(train.x(), y, test.x(), test.labels(), kindList, diagReg.value(),
                        e -> e.method(m).memoryBudget(budget));
                if (partial != null) {
                    secondsBefore = restore(partial, settings, study, kindList, fingerprints, done);
                    out.println("resuming " + json + ": " + done.size() + " of " + fingerprints.size()
                            + " checkpoints done");
                    out.flush();
                }
                if (json != null) {
                    interruption = new PartialReport.Interruption(json, done.size(), fingerprints.size(),
                            "checkpoints", err);
                }
                int parts = 0;
                for (int w : keys) {
                    Model net = network(w);
                    try {
                        // the stopped run measured this width's epoch 0: its kernel, the velocity's reference, again
                        boolean needReference = done.contains(part(w, 0));
                        for (var e : files.get(w).entrySet()) {
                            String part = part(w, e.getKey());
                            if (done.contains(part)) {
                                continue;
                            }
                            if (needReference) {
                                try (Checkpoint c0 = checkpoint(files.get(w).get(0), net, per, dt)) {
                                    study.reference(w, c0.model(), c0.params());
                                }
                                needReference = false;
                            }
                            try (Checkpoint c = checkpoint(e.getValue(), net, per, dt)) {
                                TrainingStudy.Point pt = study.add(w, e.getKey(), c.model(), c.params());
                                err.printf(Locale.ROOT, "%sepoch %d: %s error %.4g, velocity %.4g (%.1f s)%n",
                                        source == Source.ZOO ? "width " + w + ", " : "", e.getKey(),
                                        pt.kinds().get(0).kind, pt.kinds().get(0).relativeFrobeniusError,
                                        pt.kernelVelocity(), pt.seconds());
                                err.flush();
                            }
                            done.add(part);
                            if (json != null) {
                                double secondsNow = secondsBefore + (System.nanoTime() - start) / 1e9;
                                interruption.written(done.size(), () -> Reports.study(settings, study,
                                        reportMetrics(metrics), secondsNow, false, fingerprints).write(json));
                            }
                            afterPart.accept(++parts);
                        }
                        study.forget(w);
                    } finally {
                        // the width's plans and traced graphs, and its models for each checkpoint's buffers: a
                        // study measures each width once
                        net.releaseCaches();
                    }
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        out.printf(Locale.ROOT, "%s on %s: %d kernel-regression training and %d test inputs %s, %s, %s; %.1f s%n",
                source == Source.ZOO ? model + " at widths " + joined(widths)
                        : source == Source.ONNX_PARAMS ? model + " at the parameters of " + checkpoints : checkpoints,
                sample, nTrain, nTest, Shapes.str(per), dt.shortName(), DiagRegOption.describe(diagReg.value()),
                seconds);
        int[] epochs = study.epochs();
        int plots = 0;
        int kept = 0; // the stopped run's plots that a resume kept (StoppedRunPlots)
        for (Metric metric : metrics) {
            out.println();
            out.println(metric.title);
            StringBuilder head = new StringBuilder("| epoch |");
            StringBuilder rule = new StringBuilder("|---|");
            for (int w : keys) {
                head.append(' ').append(columnName(w)).append(" |");
                rule.append("---|");
            }
            out.println(head);
            out.println(rule);
            double[][] byWidth = new double[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                byWidth[i] = study.series(keys[i], metric.read);
            }
            for (int e = 0; e < epochs.length; e++) {
                StringBuilder row = new StringBuilder("| " + epochs[e] + " |");
                for (int i = 0; i < keys.length; i++) {
                    double v = byWidth[i][e];
                    row.append(' ').append(Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.4g", v)).append(" |");
                }
                out.println(row);
            }
            if (plotDir != null) {
                double[] x = new double[epochs.length];
                for (int e = 0; e < epochs.length; e++) {
                    x[e] = epochs[e];
                }
                // a width whose figure is undefined at every epoch (a λ_min ratio against a singular eNTK is NaN)
                // has no line; a metric undefined everywhere has no plot
                List<Charts.Series> lines = new ArrayList<>();
                for (int i = 0; i < keys.length; i++) {
                    if (java.util.Arrays.stream(byWidth[i]).anyMatch(Double::isFinite)) {
                        lines.add(new Charts.Series(columnName(keys[i]), x, byWidth[i]));
                    }
                }
                if (lines.isEmpty()) {
                    out.println("(no finite value at any " + (source == Source.ZOO ? "width" : "epoch") + ": no plot "
                            + metric.file + ".png)");
                } else if (stoppedRunPlots.draw("--plot-dir", plotDir.resolve(metric.file + ".png"), out,
                        png -> Charts.lines(png, metric.title, "epoch", metric.file, lines))) {
                    plots++;
                } else {
                    kept++;
                }
            }
        }
        out.println();
        if (plotDir != null && (plots > 0 || kept == 0)) {
            out.println("wrote " + plots + " plots to " + plotDir);
        }
        if (json != null) {
            // complete, after the plots: a run stopped before its plots stays resumable
            // through the hook's lock, as each part's: a signal's line and the report agree
            JsonReport completed = Reports.study(settings, study, reportMetrics(metrics), secondsBefore + seconds,
                    true, fingerprints);
            PartialReport.Interruption.Write<IOException> complete = () -> completed.write(json);
            if (interruption != null) {
                interruption.written(fingerprints.size(), complete);
            } else {
                complete.write();
            }
            out.println("wrote " + json);
        }
        out.flush();
        return 0;
    }

    /**
     * A column of the tables and a line of the plots: "width W" of a zoo model; an ONNX model's file name (or, for
     * .onnx checkpoints, their pattern's file name, {@code epoch-{epoch}.onnx}).
     */
    private String columnName(int key) {
        if (source == Source.ZOO) {
            return "width " + key;
        }
        Path name = source == Source.ONNX_PARAMS ? onnxSpec().file().getFileName() : Path.of(checkpoints)
                .getFileName();
        return name == null ? checkpoints : name.toString();
    }

    /** --model of {@link Source#ONNX_PARAMS} as the import reads it. */
    private org.ntk4j.onnx.OnnxSpec onnxSpec() {
        return org.ntk4j.onnx.OnnxSpec.parse(onnxModel.model().spec());
    }

    /** The network of width {@code w}: the zoo model at that width, or the ONNX network (one width). */
    private Model network(int w) {
        return source == Source.ZOO ? Zoo.parse(Zoo.withWidth(model, w)) : onnxModel.model();
    }

    /**
     * One checkpoint read for a kernel: the network with its buffers and its parameters ({@code release}: an ONNX
     * import of that checkpoint's own, whose caches are released with it).
     */
    private record Checkpoint(Model model, Params params, Model release) implements AutoCloseable {
        @Override
        public void close() {
            params.close();
            if (release != null) {
                release.releaseCaches();
            }
        }
    }

    /**
     * Reads the checkpoint {@code file} of {@code net}: a parameter file as {@code --params-in} reads it (zoo and
     * ONNX models alike; its buffers, trained running statistics, are the network's), or an .onnx export, imported
     * with the ONNX options given (--freeze, --params-only, ...), whose stored weights are the checkpoint.
     */
    private Checkpoint checkpoint(Path file, Model net, int[] per, DType dt) throws IOException {
        if (source == Source.ONNX_FILES) {
            ModelArgument.Resolved r = file.equals(epoch0File) ? onnxModel : resolveCheckpoint(file);
            Params p = r.onnx().params(dt);
            return new Checkpoint(r.model(), p, r == onnxModel ? null : r.model());
        }
        Params p = KernelOptions.named("--checkpoints", () -> loadParams(file, net, per, dt));
        return new Checkpoint(KernelCommand.withBuffersOf(net, p), p, null);
    }

    /**
     * A .npz checkpoint read as {@code --params-in} reads it ({@link ParamsFile#load}); for an ONNX model, a file
     * refused for holding a name that is not a parameter is refused saying why, where the reason is one a PyTorch
     * state_dict runs into ({@link #notAParameter}).
     */
    private Params loadParams(Path file, Model net, int[] per, DType dt) throws IOException {
        try {
            return ParamsFile.load(file, net, per, dt);
        } catch (IllegalArgumentException e) {
            String why = source == Source.ONNX_PARAMS ? notAParameter(file) : null;
            if (why == null) {
                throw e;
            }
            throw new IllegalArgumentException(file + ": " + why, e);
        }
    }

    /**
     * Why a name of the .npz checkpoint {@code file} cannot be one of --model's parameters, where it is a constant
     * of the ONNX file that the checkpoint would leave at the file's value at every epoch: a weight --freeze or
     * --params-only made constant, or a batch norm's running statistic (a constant of the import); null for
     * anything else (ParamsFile's own message then says what differs).
     */
    private String notAParameter(Path file) {
        List<String> keys;
        try {
            keys = org.ntk4j.io.Npz.keys(file);
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
        String onnxFile = String.valueOf(onnxSpec().file().getFileName());
        String perEpoch = "give one .onnx export per epoch (--checkpoints 'ck/epoch-{epoch}.onnx'), each with its own";
        for (String k : keys) {
            if (onnxModel.onnx().parameterNames().contains(k)) {
                continue;
            }
            if (onnxModel.onnx().weightNames().contains(k)) {
                return "'" + k + "' is not a parameter: --freeze or --params-only made it a constant, which keeps "
                        + onnxFile + "'s value at every epoch; leave it out of the .npz where it did not train, or "
                        + perEpoch;
            }
            if (k.endsWith("running_mean") || k.endsWith("running_var") || k.endsWith("num_batches_tracked")) {
                return "'" + k + "' is a batch norm's running statistic, a constant of " + onnxFile + " that a .npz "
                        + "checkpoint cannot change (every epoch would compute with " + onnxFile + "'s); " + perEpoch
                        + " (exported with training=TrainingMode.PRESERVE)";
            }
        }
        return null;
    }

    /**
     * An .onnx checkpoint imported as {@code --model FILE} would be, with the ONNX options given; its refusals name
     * --checkpoints and the file.
     */
    private ModelArgument.Resolved resolveCheckpoint(Path file) {
        String path = file.toString().replace("%", "%25").replace("?", "%3F");
        try {
            return modelArgument.resolve(org.ntk4j.onnx.OnnxSpec.PREFIX + path);
        } catch (IllegalArgumentException e) {
            String msg = e.getMessage();
            throw new IllegalArgumentException(msg.startsWith("--model") ? "--checkpoints" + msg.substring(7) : msg,
                    e);
        }
    }

    /**
     * Reads every checkpoint once before any kernel, so that a file of another width or model, or a damaged one,
     * is refused before the hours of kernels of the others, not after them (an .onnx checkpoint: a graph that is not
     * epoch 0's network, {@link org.ntk4j.onnx.OnnxModel#differenceFrom}, and non-finite weights); and warns, once
     * each, when the training run that wrote one (its {@code .state.npz} beside it, {@code ntk4j train}'s) standardised
     * its inputs, which the study's sample is not, or trained another model spec than the width's. Returns each
     * checkpoint's {@link RunFingerprint} (its model, the bytes of an ONNX file among them, parameters and the sample)
     * by {@link #part}, which a resumed run compares with those its partial report recorded.
     */
    private Map<String, String> checkEveryCheckpoint(TreeMap<Integer, TreeMap<Integer, Path>> files, int[] per,
            DType dt, PrintWriter err, Tensor xTrain, Tensor xTest) throws IOException {
        boolean warned = false;
        boolean warnedModel = false;
        Map<String, String> fingerprints = new HashMap<>();
        for (var byWidth : files.entrySet()) {
            String specOfWidth = source == Source.ZOO ? Zoo.withWidth(model, byWidth.getKey())
                    : onnxModel.model().spec();
            Model net = network(byWidth.getKey());
            for (var byEpoch : byWidth.getValue().entrySet()) {
                Path f = byEpoch.getValue();
                if (source == Source.ONNX_FILES) {
                    fingerprints.put(part(byWidth.getKey(), byEpoch.getKey()), onnxCheckpoint(f, per, dt, xTrain,
                            xTest));
                    continue; // no .state.npz: ntk4j train writes .npz checkpoints
                }
                try (Params p = KernelOptions.named("--checkpoints", () -> loadParams(f, net, per, dt))) {
                    fingerprints.put(part(byWidth.getKey(), byEpoch.getKey()),
                            RunFingerprint.of(specOfWidth, p, xTrain, xTest));
                }
                Map<String, String> run = warned && warnedModel ? null : TrainedInputs.recorded(f);
                if (run != null && !warnedModel) {
                    // parameters of the same shapes fit a network of another act or param, which the run never
                    // trained: said once, as kernel --params-in says it (before 2026-12-07 the study said nothing)
                    warnedModel = TrainedInputs.warnIfOtherModel("--checkpoints", f, run, specOfWidth, err);
                    err.flush();
                }
                if (run != null && !warned) {
                    String standardize = run.getOrDefault("standardize", "none");
                    if (!standardize.equals("none")) {
                        err.println("ntk4j: warning: --checkpoints: " + f + " was trained on inputs standardised by "
                                + "--standardize " + standardize + "; the study computes its kernels on --sample "
                                + sample + " as loaded (train with --standardize none for a study: docs/study.md)");
                        err.flush();
                        warned = true;
                    }
                }
            }
        }
        return fingerprints;
    }

    /**
     * Reads an .onnx checkpoint: refuses, naming it, a graph that is not epoch 0's network (another structure,
     * parameter names or shapes) and non-finite weights; returns its fingerprint (the file's bytes, its parameters
     * and the sample).
     */
    private String onnxCheckpoint(Path f, int[] per, DType dt, Tensor xTrain, Tensor xTest) {
        ModelArgument.Resolved r = f.equals(epoch0File) ? onnxModel : resolveCheckpoint(f);
        try {
            String difference = r.onnx().differenceFrom(onnxModel.onnx());
            if (difference != null) {
                throw new IllegalArgumentException("--checkpoints: " + f + ": not the network of " + epoch0File
                        + " (epoch 0's): " + difference + "; a study measures checkpoints of one network");
            }
            try (Params p = r.onnx().params(dt)) {
                KernelOptions.named("--checkpoints", () -> {
                    try {
                        p.validate(r.model().paramSpecs(per), dt);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(f + ": " + e.getMessage(), e);
                    }
                    return null;
                });
                return RunFingerprint.of(r.model().spec(), p, xTrain, xTest);
            }
        } finally {
            if (r != onnxModel) {
                r.model().releaseCaches();
            }
        }
    }

    /** A checkpoint's name in the report: "width_W.epoch_E"; "epoch_E" for an ONNX model's one network. */
    private String part(int width, int epoch) {
        return Reports.studyPrefix(source != Source.ZOO, width) + "epoch_" + epoch;
    }

    private static List<Reports.StudyMetric> reportMetrics(List<Metric> metrics) {
        List<Reports.StudyMetric> read = new ArrayList<>();
        for (Metric metric : metrics) {
            read.add(new Reports.StudyMetric(metric.file, metric.title, metric.read));
        }
        return read;
    }

    /**
     * Checks a resume against its partial report, one line naming the first setting that differs or the first
     * checkpoint (or sample) whose fingerprint does, and restores the points it measured into {@code study},
     * adding them to {@code done}.
     *
     * @return the seconds the stopped run had spent
     */
    private double restore(JsonReport partial, Reports.StudySettings s, TrainingStudy study,
                           List<KernelKind> kindList, Map<String, String> fingerprints, Set<String> done) {
        // an ONNX model's spec holds --freeze, --params-only, --input-shape and --output, which change the figures
        PartialReport.requireSame(partial, "model", source == Source.ZOO ? "--model" : source == Source.ONNX_PARAMS
                ? "--model/--freeze/--params-only/--input-shape/--output"
                : "--freeze/--params-only/--input-shape/--output", s.model());
        PartialReport.requireSame(partial, "sample", "--sample", s.sample());
        PartialReport.requireSame(partial, "n", "--n", s.n());
        PartialReport.requireSame(partial, "dtype", "--dtype", s.dtype().shortName());
        PartialReport.requireSame(partial, "diag_reg", "--diag-reg", s.diagReg().value());
        // a report without the key was written by a relative diag_reg (the only one before --diag-reg-absolute)
        boolean wasAbsolute = Boolean.TRUE.equals(partial.get("diag_reg_absolute"));
        if (wasAbsolute != s.diagReg().isAbsolute()) {
            throw new IllegalArgumentException("--resume: --diag-reg-absolute " + (s.diagReg().isAbsolute() ? "given"
                    : "not given") + " but the partial report's run " + (wasAbsolute ? "had" : "did not have")
                    + " it; resume with the same --diag-reg-absolute (or start a new run)");
        }
        if (source == Source.ZOO) {
            PartialReport.requireSame(partial, "widths", "--widths", s.widths());
        }
        PartialReport.requireSame(partial, "kinds", "--kinds", String.join(",", study.kindNames()));
        PartialReport.requireSame(partial, "method", "--method", s.method());
        PartialReport.requireSame(partial, "seed", "--seed", s.seed());
        PartialReport.requireSame(partial, "checkpoints", "--checkpoints", s.checkpoints());
        for (int w : s.widths()) {
            Object epochs = partial.get(Reports.studyPrefix(s.oneNetwork(), w) + "epochs_done");
            if (!(epochs instanceof int[])) {
                continue;
            }
            String which = source == Source.ZOO ? "width " + w + ", epoch " : "epoch ";
            for (int e : (int[]) epochs) {
                String part = part(w, e);
                if (!fingerprints.containsKey(part)) {
                    throw new IllegalArgumentException("--resume: --checkpoints: the partial report's run measured "
                            + which + e + ", which has no checkpoint file now; start a new run");
                }
                if (!fingerprints.get(part).equals(partial.get(part + ".fingerprint"))) {
                    throw new IllegalArgumentException("--resume: --checkpoints: the checkpoint of " + which + e
                            + " (or the --sample inputs) differs from the one the partial report's run measured; "
                            + "start a new run");
                }
                List<ApproximationReport.Row> rows = new ArrayList<>();
                for (KernelKind k : kindList) {
                    String name = k.toString();
                    String key = part + "." + fileName(k);
                    rows.add(ApproximationReport.Row.recorded(name, Reports.studyFigure(partial, key + FROBENIUS),
                            Reports.studyFigure(partial, key + LAMBDA_MAX), Reports.studyFigure(partial,
                                    key + LAMBDA_MIN), Reports.studyFigure(partial, key + CONDITION),
                            Reports.studyFigure(partial, key + TEST_ACCURACY)));
                }
                study.restore(new TrainingStudy.Point(w, e, Reports.studyFigure(partial, part + "."
                        + VELOCITY), Reports.studyFigure(partial, part + "." + FULL_ACCURACY), rows, Double.NaN));
                done.add(part);
            }
        }
        return partial.get("seconds") instanceof Number n ? n.doubleValue() : 0;
    }

    private void checkWidths() {
        if (widths.length < 1) {
            throw new IllegalArgumentException("--widths: give at least one width");
        }
        requirePositiveDistinct(widths);
    }

    /**
     * Refuses a width below 1 or one given twice (a repeated width measures the same point again, and
     * the log-log fits of {@code convergence} and {@code approx --widths} over it give NaN exponents); shared
     * with those two.
     */
    static void requirePositiveDistinct(int[] widths) {
        for (int w : widths) {
            if (w < 1) {
                throw new IllegalArgumentException("--widths: expected positive widths, got " + w);
            }
        }
        KernelOptions.requireDistinct("--widths", "width", java.util.Arrays.stream(widths).boxed().toList(),
                w -> w);
    }

    /** The metrics' names, which the report's keys and the plots' file names end with. */
    private static final String VELOCITY = "kernel_velocity";
    private static final String FULL_ACCURACY = "full_test_accuracy";
    private static final String FROBENIUS = "_relative_frobenius_error";
    private static final String LAMBDA_MAX = "_lambda_max_relative_error";
    private static final String LAMBDA_MIN = "_lambda_min_ratio";
    private static final String CONDITION = "_condition_number_ratio";
    private static final String TEST_ACCURACY = "_test_accuracy";

    /** A kind in metric names: "pntk", "proj_8". */
    private static String fileName(KernelKind kind) {
        return kind.toString().replace(':', '_').replace('-', '_');
    }

    /** The metrics, in table order: the kernel velocity, the full kernel's accuracy, then five per kind. */
    private static List<Metric> metrics(List<KernelKind> kinds) {
        List<Metric> list = new ArrayList<>();
        list.add(new Metric(VELOCITY, "kernel velocity ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F of the full eNTK",
                TrainingStudy.Point::kernelVelocity));
        list.add(new Metric(FULL_ACCURACY, "kernel-regression test accuracy, full eNTK",
                TrainingStudy.Point::fullTestAccuracy));
        for (KernelKind k : kinds) {
            String name = k.toString();
            String file = fileName(k);
            list.add(new Metric(file + FROBENIUS, name + ": relative Frobenius error of K ⊗ I_O against the eNTK",
                    p -> p.kind(name).relativeFrobeniusError));
            list.add(new Metric(file + LAMBDA_MAX, name + ": relative error of λ_max",
                    p -> p.kind(name).lambdaMaxRelativeError));
            list.add(new Metric(file + LAMBDA_MIN, name + ": λ_min(K) / λ_min(Θ)",
                    p -> p.kind(name).lambdaMinRatio));
            list.add(new Metric(file + CONDITION, name + ": condition number of K / that of Θ",
                    p -> p.kind(name).conditionNumberRatio));
            list.add(new Metric(file + TEST_ACCURACY, name + ": kernel-regression test accuracy",
                    p -> p.kind(name).testAccuracy));
        }
        return list;
    }

    /**
     * The checkpoint files of one width by epoch: {@code pattern} with {width} replaced, whose file name holds
     * {epoch} or * standing for the epoch's digits.
     *
     * @param forWidth " for width W" in messages, or "" for an ONNX model's one network
     */
    static TreeMap<Integer, Path> checkpointFiles(String pattern, int width, String forWidth) throws IOException {
        String p = pattern.replace("{width}", Integer.toString(width));
        requireNotDirectory(pattern, p);
        Path path = Path.of(p);
        String name = path.getFileName() == null ? "" : path.getFileName().toString();
        String marker = name.contains("{epoch}") ? "{epoch}" : "*";
        int at = name.indexOf(marker);
        if (at < 0 || name.indexOf(marker, at + 1) >= 0 || (path.getParent() != null
                && (path.getParent().toString().contains("*") || path.getParent().toString().contains("{epoch}")))) {
            throw new IllegalArgumentException("--checkpoints " + pattern + ": the file name needs exactly one {epoch} "
                    + "or * standing for the epoch number (and the directories none)");
        }
        Pattern re = Pattern.compile(Pattern.quote(name.substring(0, at)) + "(\\d+)"
                + Pattern.quote(name.substring(at + marker.length())));
        Path dir = path.getParent() == null ? Path.of(".") : path.getParent();
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--checkpoints " + pattern + ": no directory " + dir + forWidth);
        }
        TreeMap<Integer, Path> byEpoch = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                Matcher mt = re.matcher(f.getFileName().toString());
                if (mt.matches() && Files.isRegularFile(f)) {
                    int epoch;
                    try {
                        epoch = Integer.parseInt(mt.group(1));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--checkpoints: epoch number too large in " + f, e);
                    }
                    Path before = byEpoch.put(epoch, f);
                    if (before != null) {
                        throw new IllegalArgumentException("--checkpoints: " + before + " and " + f
                                + " are both epoch " + epoch);
                    }
                }
            }
        }
        if (byEpoch.isEmpty()) {
            throw new IllegalArgumentException("--checkpoints " + pattern + ": no file in " + dir + " matches "
                    + name + forWidth);
        }
        if (byEpoch.firstKey() != 0) {
            throw new IllegalArgumentException("--checkpoints " + pattern + ": " + (forWidth.isEmpty() ? "" : "width "
                    + width + " has ") + "no epoch-0 checkpoint (the initialisation), which the kernel velocity is "
                    + "measured against; its first is " + byEpoch.firstEntry().getValue());
        }
        return byEpoch;
    }

    /**
     * Refuses a --checkpoints that names a directory (as given, or once {width} is replaced, {@code path}): the
     * pattern is of the .npz files in it, with the epoch's place marked, which the user is shown with the directory
     * they gave. A path the file system cannot name is left to the pattern's own checks.
     */
    private static void requireNotDirectory(String pattern, String path) {
        boolean directory;
        try {
            directory = Files.isDirectory(Path.of(path));
        } catch (java.nio.file.InvalidPathException e) {
            return;
        }
        if (directory) {
            String dir = pattern.endsWith("/") ? pattern : pattern + "/";
            throw new IllegalArgumentException("--checkpoints " + pattern + ": a directory; expected a pattern of its "
                    + ".npz parameter files with {epoch} (or *) for the epoch number, e.g. '" + dir
                    + "epoch-{epoch}.npz' for train's checkpoints" + (pattern.contains("{width}") ? ""
                    : " (and {width} in the path for several widths)"));
        }
    }

    private static String joined(int[] a) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < a.length; i++) {
            sb.append(i > 0 ? "," : "").append(a[i]);
        }
        return sb.toString();
    }
}
