package org.ntk4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GpInference;
import org.ntk4j.predict.GradientDescentOde;
import org.ntk4j.predict.Predict;
import org.ntk4j.predict.PredictRequest;
import org.ntk4j.predict.PredictResult;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.train.Examples;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j predict}: kernel regression / linearised MSE training with the empirical NTK of a model at
 * initialisation, as neural-tangents' {@code gradient_descent_mse}: train and test sets in, test accuracy and MSE
 * out. With no arguments it runs the default job on the embedded Fashion-MNIST subset. The command reads and
 * standardises the data, builds a {@link PredictRequest}, runs {@link Predict#run} and prints and writes its
 * {@link PredictResult}.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        footer = {"", "Example:",
            "  ntk4j predict --train default:train:1000 --test default:test:500 --kind pntk --t 10,100,inf"},
        description = {"Kernel regression and linearised gradient-descent training (MSE loss, time t) with the "
            + "empirical NTK at initialisation; prints test accuracy and MSE.",
            "With no arguments: fcn(depth=3,width=512) on the embedded 2,000 training / 1,000 test Fashion-MNIST "
                + "images (globally standardised), pNTK kernel, t = ∞."})
public final class PredictCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec (see 'ntk4j models') or an ONNX file (docs/onnx.md; "
            + "default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=3,width=512)";

    @picocli.CommandLine.Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--train", description = "Labelled training data (default: ${DEFAULT-VALUE}); "
            + DataSource.FORMS + ".")
    String train = DataSource.DEFAULT_TRAIN;

    @Option(names = "--test", description = "Labelled test data (default: ${DEFAULT-VALUE}).")
    String test = DataSource.DEFAULT_TEST;

    @Option(names = "--kind", description = "Kernel: full (NO×NO, exact), trace, pntk, pntk-unscaled, logit:K, "
            + "probes:R, projected:K (N×N kinds act as K ⊗ I_O; default: ${DEFAULT-VALUE}).")
    String kind = "pntk";

    @Option(names = "--t", split = ",", description = "Training time(s), comma-separated; inf (default) is "
            + "t = ∞, i.e. kernel regression. Finite t uses the eigendecomposition of the train kernel.")
    List<String> times = List.of("inf");

    @picocli.CommandLine.Mixin
    DiagRegOption diagReg = new DiagRegOption();

    @Option(names = "--learning-rate", description = "Learning rate η: time enters as η·t (default: "
            + "${DEFAULT-VALUE}).")
    double learningRate = 1;

    @Option(names = "--f0", description = "Initial outputs: zero (kernel regression on the targets; "
            + "neural-tangents' default) or init (the network's outputs at initialisation: the linearised network). "
            + "Default: ${DEFAULT-VALUE}.")
    String f0 = "zero";

    @Option(names = "--standardize", description = "global (one mean and std over the training pixels, "
            + "as neural-tangents' examples), per-feature or none (default: ${DEFAULT-VALUE}).")
    String standardize = "global";

    @Option(names = "--method", description = "auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @Option(names = "--dtype", description = "Precision of the kernel computation, f32 or f64 (default: "
            + "${DEFAULT-VALUE}); the regression itself is always float64.")
    String dtype = "f32";

    @Option(names = "--seed", description = "Seed of the parameters, synthetic data and probes:R's or "
            + "projected:K's directions; refused where it draws none of them (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--params-in", description = "Parameters to use (.npz, as written by 'kernel --params-out' or "
            + "'train'; train's see inputs standardised by their run's statistics: docs/training.md).")
    Path paramsIn;

    @picocli.CommandLine.Mixin
    MemoryOption memory = new MemoryOption();

    @Option(names = "--out", description = "Write the test predictions as .npy: [M, O] for one t, [T, M, O] for "
            + "several.")
    Path out;

    @Option(names = "--report", description = "Write a JSON report (accuracy, MSE, seconds, memory per t).")
    Path report;

    @Option(names = "--plots", description = "Directory for training_curves.png: test and train MSE and test error "
            + "against t (log-log; needs two or more finite times in --t).")
    Path plots;

    @Option(names = "--posterior", description = "Gaussian-process inference instead of training "
            + "(neural-tangents' gp_inference at t = ∞): nngp, ntk or ntkgp; needs an N×N --kind. With finite --t, "
            + "nngp and ntk give the trained ensemble's Gaussian at each t (gradient_descent_mse_ensemble).")
    String posterior;

    @Option(names = "--cov", description = "With --posterior: write the test covariance as .npy, [M, M] for one t, "
            + "[T, M, M] for several.")
    Path cov;

    @Option(names = "--infinite", description = "With --posterior: the model's analytic infinite-width NNGP and NTK "
            + "(zoo fcn, cnn or resnet; neural-tangents' stax kernel_fn) instead of the empirical kernels; no "
            + "--method, --params-in or --f0 init.")
    boolean infinite;

    @Option(names = "--loss", description = "Training loss: mse (closed form) or cross-entropy (the function-space "
            + "ODE, Dormand-Prince 8(5,3); finite --t only). Default: ${DEFAULT-VALUE}.")
    String loss = "mse";

    @Option(names = "--momentum", description = "Momentum μ in [0, 1) (neural-tangents' continuous-time momentum; "
            + "solved as an ODE, finite --t only).")
    Double momentum;

    @picocli.CommandLine.Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Override
    public Integer call() throws Exception {
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        KernelKind kk = KernelOptions.parsed("--kind", kind, t -> KernelKind.parse(t, seed));
        PredictRequest.checkKind(kk);
        if (test.trim().equalsIgnoreCase("none")) {
            // train's --test none trains without evaluation; predict's test examples are what it predicts
            throw new IllegalArgumentException("--test: predict needs the examples to predict, got 'none' (only train "
                    + "takes --test none, to train without a test set); give test data, e.g. default:test:1000");
        }
        double[] ts = parseTimes(times);
        if (plots != null
                && java.util.Arrays.stream(ts).filter(t -> t > 0 && t < Double.POSITIVE_INFINITY).count() < 2) {
            throw new IllegalArgumentException("--plots: the training curves need two or more finite times > 0 in --t, "
                    + "e.g. --t 1,10,100,1000");
        }
        boolean initOutputs = parseF0(f0);
        Standardizer.Mode mode = KernelOptions.parsed("--standardize", standardize, Standardizer.Mode::parse);
        long budget = memory.budget();
        ModelArgument.Resolved resolved = modelArgument.resolve(model);
        Model net = resolved.model();
        org.ntk4j.predict.Loss lossFn = org.ntk4j.predict.Loss.parse(loss);
        GpInference.Posterior post = posterior == null ? null : GpInference.Posterior.parse(posterior);
        if (momentum != null && Double.isNaN(momentum)) { // NaN is the library's "no momentum": refuse it here
            throw new IllegalArgumentException("--momentum: expected a number in [0, 1), got NaN");
        }
        double mu = momentum == null ? Double.NaN : momentum;
        PredictRequest.checkSettings(kk, ts, post, lossFn, mu, cov != null);
        if (infinite) {
            if (resolved.onnx() != null) {
                throw new IllegalArgumentException("--infinite: the analytic kernels are those of a zoo "
                        + org.ntk4j.infinite.InfiniteLimit.SUPPORTED + ", not of an imported ONNX model");
            }
            if (paramsIn != null) {
                throw new IllegalArgumentException("--infinite: the analytic kernels have no parameters; drop "
                        + "--params-in");
            }
            // before any data is read: a posterior, no --method, a kind and a model with a limit
            PredictRequest.checkInfinite(net, kk, m, post);
        } else if (post == GpInference.Posterior.NNGP) {
            KernelOptions.requireNoNtkMethod(m, "--posterior nngp: the NNGP posterior (forward passes and one "
                    + "contraction of the outputs)");
        }
        KernelOptions.requireMethodApplies(m, kk);
        // a seed that draws nothing is refused, as kernel's (until the late-night review of 2026-12-07, predict
        // --params-in P --seed 5 predicted with P, the seed unused, without a word)
        KernelOptions.requireSeedDraws(spec, paramsIn != null ? "--params-in " + paramsIn
                : resolved.onnx() != null ? "the ONNX model's stored weights"
                : infinite ? "--infinite (the analytic kernels have no parameters)" : null, kk, train, test);
        DiagReg reg = diagReg.value();
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("--learning-rate: expected a positive finite number, got "
                    + learningRate);
        }
        if (plots != null && post != null) {
            throw new IllegalArgumentException("--plots: the training curves need training times, not --posterior");
        }
        if (plots != null && (lossFn != org.ntk4j.predict.Loss.MSE || momentum != null)) {
            throw new IllegalArgumentException("--plots: training curves are drawn for the MSE closed form only");
        }
        KernelOptions.requireParamsFile(paramsIn);
        overwrite.outputs().inputSource("--train", train).inputSource("--test", test).input("--params-in", paramsIn)
                .output("--out", out, ".npy").output("--report", report, ".json")
                .output("--cov", cov, ".npy").outputIn("--plots", plots, TRAINING_CURVES).check();
        PrintWriter o = spec.commandLine().getOut();
        long start = System.nanoTime();
        try (Dataset trainRaw = KernelOptions.named("--train",
                () -> DataSource.loadDataset(resolved.dataSpec("--train", train), dt, seed));
             Dataset testRaw = KernelOptions.named("--test",
                     () -> DataSource.loadDataset(resolved.dataSpec("--test", test), dt, seed + 1))) {
            PrintWriter err = spec.commandLine().getErr();
            // parameters of ntk4j train (their record beside them): the statistics their run standardised by, in
            // the same mode, so that the network sees inputs of the scale it was trained at; warnings otherwise
            Standardizer std = TrainedInputs.standardizer("--params-in", paramsIn, model,
                    KernelOptions.fitStandardizer(trainRaw.x(), mode, "--train " + train, err), "--train " + train,
                    err);
            // before the standardisation fitted on --train is applied to them, and before they are read in the
            // training layout, whose refusals name neither option
            KernelOptions.requireExampleSize("--test", testRaw.exampleShape(), "the training examples",
                    trainRaw.exampleShape());
            // test examples with the training examples' size, as flat rows (a CSV against images) or of their shape
            // up to axes of size 1, are read in the training layout, row-major; another shape is refused
            try (Dataset trainStd = std.apply(trainRaw); Dataset testStd = std.apply(testRaw);
                 Dataset tr = resolved.layout("--train", trainStd);
                 Dataset te = testStd.withX(resolved.layoutLike("--test", testStd.x(), tr.exampleShape(),
                         "the training examples"))) {
                int[] perExample = tr.exampleShape();
                int[] outShape = net.outputShape(perExample);
                if (outShape.length != 1) {
                    throw new IllegalArgumentException("--model: predict needs outputs [N, O], " + net.spec()
                            + " gives [N] + " + Shapes.str(outShape));
                }
                int outputs = outShape[0];
                KernelOptions.requireKindFits("--kind", kk, net, perExample, budget);
                KernelOptions.requireLabelsBelow("--train", tr, outputs, "predict with " + outputs + " model outputs");
                KernelOptions.requireLabelsBelow("--test", te, outputs, "predict with " + outputs + " model outputs");
                // the analytic kernels read no parameters: none are drawn (a wide spec's would only cost memory)
                try (Params p = infinite ? null : resolved.params(paramsIn, seed, perExample, dt)) {
                    if (post != GpInference.Posterior.NNGP && !infinite) {
                        // the train kernel's plan, as Predict.run checks it first (its refusal shown without
                        // kernel's advice of tiles, Main.TilesWithOut: predict's --out is the predictions)
                        new KernelOptions.BudgetCheck().kernel(org.ntk4j.ntk.EmpiricalNtk.of(net, p).method(m)
                                .memoryBudget(budget), kk, tr.size(), 0, perExample, dt).requireAllFit();
                    }
                    Examples trainExamples = new Examples(tr.x(), tr.labels(), outputs);
                    Examples testExamples = new Examples(te.x(), te.labels(), outputs);
                    // built as the API documents it: the factory with predict's defaults, then a with-method per
                    // setting. Each step is checked as a whole request, so the times come before the loss (whose
                    // ODE needs finite times) and the posterior, then the covariance, last (a posterior refuses the
                    // ODE, a full kind and f0 init); the options were checked together above, so no step refuses
                    // what the whole request accepts
                    PredictRequest base = (infinite
                            ? PredictRequest.ofInfinite(net, trainExamples, testExamples, post)
                            : PredictRequest.of(KernelCommand.withBuffersOf(net, p), p, trainExamples, testExamples))
                            .withKind(kk).withMethod(m, budget).withTimes(ts);
                    PredictRequest request = base
                            .withDiagReg(reg)
                            .withLearningRate(learningRate).withInitOutputs(initOutputs)
                            .withLoss(lossFn, mu).withPosterior(post).withCovariance(cov != null);
                    try (PredictResult r = Predict.run(request)) {
                        print(o, request, r, tr, te, mode, dt, start);
                    }
                }
            }
        }
        o.flush();
        return 0;
    }

    /** Prints the result as the command always has, and writes --plots, --cov, --out and --report. */
    private void print(PrintWriter o, PredictRequest q, PredictResult r, Dataset tr, Dataset te,
                       Standardizer.Mode mode, DType dt, long start) throws java.io.IOException {
        Model net = q.model();
        KernelKind kk = q.kind();
        int outputs = r.outputs();
        int n = r.trainExamples();
        int mTest = r.testExamples();
        String reg = q.diagReg().isAbsolute() ? " absolute" : " × mean diagonal";
        String f0Text = q.initOutputs() ? "init" : "zero";
        String method = r.method().shortName() + (q.method() == Method.AUTO ? " (auto)" : "");
        // one header for every solver: the model, the data as standardised, the dtype of the kernels
        o.printf(Locale.ROOT, "model %s: %s, %d outputs; train %s %s, test %s %s (standardised: %s); "
                        + "%s%n", net.spec(), q.params() == null ? "infinite width" : q.params().count()
                        + " parameters", outputs, tr.name(), Shapes.str(tr.x().shape()),
                te.name(), Shapes.str(te.x().shape()), mode.optionName(),
                dt.shortName());
        if (r.solver() == PredictResult.Solver.CLOSED_FORM) {
            printMaxLearningRate(o, r.maxLearningRate());
            o.printf(Locale.ROOT, "kind %s, method %s: train kernel %s %.2f s, test kernel %.2f s; regression "
                            + "(float64, diag_reg %.3g%s, r = %.4g, learning rate %.3g, f0 %s) %.2f s%n", kk,
                    method, r.fullKernel()
                            ? "[" + n + "·" + outputs + ", " + n + "·" + outputs + "]" : "[" + n + ", " + n + "]",
                    r.trainKernelSeconds(), r.testKernelSeconds(), q.diagReg().value(), reg, r.regulariser(),
                    q.learningRate(), f0Text, r.regressionSeconds());
            for (PredictResult.TimePoint t : r.points()) {
                o.printf(Locale.ROOT, "t = %s: test accuracy %.2f%% (%d/%d), test MSE %.5f; train accuracy %.2f%%, "
                                + "train MSE %.5f%n", timeText(t.t()), 100 * t.testAccuracy(),
                        Math.round(t.testAccuracy() * mTest), mTest, t.testLoss(), 100 * t.trainAccuracy(),
                        t.trainLoss());
            }
        } else if (r.solver() == PredictResult.Solver.POSTERIOR) {
            if (!Double.isNaN(r.maxLearningRate())) {
                printMaxLearningRate(o, r.maxLearningRate());
            }
            // the NNGP posterior runs no NTK method: none is named
            String how = String.format(Locale.ROOT, "kind %s%s, diag_reg %.3g%s", kk, q.infinite()
                    ? ", infinite-width limit" : q.posterior() == GpInference.Posterior.NNGP ? "" : ", method "
                    + method, q.diagReg().value(), reg);
            if (!q.ensemble()) {
                PredictResult.TimePoint t = r.points().get(0);
                o.printf(Locale.ROOT, "posterior %s (gp_inference, %s): mean predictive variance %.6g%n",
                        q.posterior().shortName(), how, r.meanVariance());
                o.printf(Locale.ROOT, "test accuracy %.2f%% (%d/%d), test MSE %.5f (posterior mean)%n",
                        100 * t.testAccuracy(), Math.round(t.testAccuracy() * mTest), mTest, t.testLoss());
            } else {
                // finite times: the trained ensemble's Gaussian at each (t = inf is gp_inference's posterior)
                o.printf(Locale.ROOT, "posterior %s (gradient_descent_mse_ensemble, %s, learning rate %.3g)%n",
                        q.posterior().shortName(), how, q.learningRate());
                for (PredictResult.TimePoint t : r.points()) {
                    o.printf(Locale.ROOT, "t = %s: mean predictive variance %.6g, test accuracy %.2f%% (%d/%d), "
                                    + "test MSE %.5f (ensemble mean)%n", timeText(t.t()), t.meanVariance(),
                            100 * t.testAccuracy(), Math.round(t.testAccuracy() * mTest), mTest, t.testLoss());
                }
            }
        } else {
            printMaxLearningRate(o, r.maxLearningRate());
            double mom = q.momentum();
            o.printf(Locale.ROOT, "loss %s%s, kind %s, method %s: function-space ODE (Dormand-Prince 8(5,3), "
                            + "tolerance %.0e, %d evaluations), diag_reg %.3g%s, r = %.4g, learning rate %.3g, f0 %s%n",
                    q.loss().shortName(), Double.isNaN(mom) ? "" : String.format(Locale.ROOT, ", momentum %.3g", mom),
                    kk, method, GradientDescentOde.TOLERANCE, r.evaluations(), q.diagReg().value(), reg,
                    r.regulariser(), q.learningRate(), f0Text);
            for (PredictResult.TimePoint t : r.points()) {
                o.printf(Locale.ROOT, "t = %s: test accuracy %.2f%% (%d/%d), test loss %.5f; train accuracy %.2f%%, "
                                + "train loss %.5f%n", timeText(t.t()), 100 * t.testAccuracy(),
                        Math.round(t.testAccuracy() * mTest), mTest, t.testLoss(), 100 * t.trainAccuracy(),
                        t.trainLoss());
            }
        }
        double totalSeconds = (System.nanoTime() - start) / 1e9;
        long rss = peakResidentBytes();
        o.printf(Locale.ROOT, "total %.2f s (data, kernels, %s; JVM start excluded); peak resident memory %s%n",
                totalSeconds, r.solver() == PredictResult.Solver.CLOSED_FORM ? "regression"
                        : r.solver() == PredictResult.Solver.POSTERIOR ? "posterior" : "ODE",
                rss > 0 ? CostModel.human(rss) : "unknown");
        // refused up front for the posterior and the ODE; curves with no point on the log axis are left out, and
        // when none has one the chart is not written: said after the other outputs are, which stand on their own
        String undrawn = plots == null ? null : writeCurves(plots, r.points(), net.spec() + ", " + kk + ", "
                + tr.name());
        if (cov != null) {
            Npy.write(cov, r.covariance());
            o.println("wrote " + cov);
        }
        writePredictions(o, r);
        if (report != null) {
            Reports.predict(q, r, tr.name(), te.name(), mode, dt, totalSeconds, rss).write(report);
            o.println("wrote " + report);
        }
        if (undrawn != null) {
            o.flush();
            throw new IllegalArgumentException("--plots " + plots + ": " + TRAINING_CURVES + " not written: "
                    + undrawn + " below " + CURVE_FLOOR_TEXT + " at every finite t > 0, which the log axis cannot "
                    + "show");
        }
    }

    private void writePredictions(PrintWriter o, PredictResult r) throws java.io.IOException {
        if (out != null) {
            Npy.write(out, r.predictions());
            o.println("wrote " + out);
        }
    }

    private void printMaxLearningRate(PrintWriter o, double lr) {
        o.printf(Locale.ROOT, "max learning rate (neural-tangents' max_learning_rate: 2(1 + μ)|y|/λ_max, λ_max by "
                + "Lanczos): %s%s%n", lr == Double.POSITIVE_INFINITY
                        ? "unbounded (the train kernel is zero: gradient descent leaves the outputs at f0)"
                        : String.format(Locale.ROOT, "%.6g", lr),
                learningRate > lr ? "; the learning rate is above it" : "");
    }

    /** The PNG --plots DIR gets. */
    static final String TRAINING_CURVES = "training_curves.png";

    /** Smallest value drawn on the training curves: the train MSE falls to round-off (1e-30) as t grows. */
    static final double CURVE_FLOOR = 1e-5;

    /** {@link #CURVE_FLOOR} as the messages and the chart write it. */
    private static final String CURVE_FLOOR_TEXT = "1e-5";

    /**
     * Test and train MSE and test error (1 − accuracy) against t, log-log, finite t > 0 only. A curve with no value
     * of at least {@link #CURVE_FLOOR} (a test error of 0 at every t, a test set fitted to round-off) has no point
     * on the log axis: it is left out and the title names it. Returns null when the chart was written, else the
     * curves (all of them) that had no point, and writes nothing.
     */
    private String writeCurves(Path dir, List<PredictResult.TimePoint> results, String title)
            throws java.io.IOException {
        List<Double> t = new ArrayList<>();
        List<PredictResult.TimePoint> finite = new ArrayList<>();
        for (PredictResult.TimePoint r : results) {
            if (r.t() > 0 && r.t() < Double.POSITIVE_INFINITY) {
                t.add(r.t());
                finite.add(r);
            }
        }
        double[] ts = t.stream().mapToDouble(Double::doubleValue).toArray();
        double[] testMse = finite.stream().mapToDouble(PredictResult.TimePoint::testLoss).toArray();
        double[] trainMse = finite.stream().mapToDouble(PredictResult.TimePoint::trainLoss).toArray();
        double[] testError = finite.stream().mapToDouble(r -> 1 - r.testAccuracy()).toArray();
        List<org.ntk4j.plot.Charts.Series> drawn = new ArrayList<>();
        List<String> left = new ArrayList<>();
        String[] names = {"test MSE", "train MSE", "test error (1 − accuracy)"};
        double[][] values = {testMse, trainMse, testError};
        for (int i = 0; i < names.length; i++) {
            if (java.util.Arrays.stream(values[i]).anyMatch(v -> v >= CURVE_FLOOR && Double.isFinite(v))) {
                drawn.add(new org.ntk4j.plot.Charts.Series(i == 1 ? names[i] + " (down to " + CURVE_FLOOR_TEXT + ")"
                        : names[i], ts, values[i]));
            } else {
                left.add(names[i]);
            }
        }
        if (drawn.isEmpty()) {
            return String.join(", ", left);
        }
        java.nio.file.Files.createDirectories(dir);
        Path png = dir.resolve(TRAINING_CURVES);
        String notDrawn = left.isEmpty() ? "" : " (" + String.join(", ", left) + " below " + CURVE_FLOOR_TEXT
                + " at every t: not drawn)";
        org.ntk4j.plot.Charts.logLogLines(png, "linearised training, " + title + notDrawn, "time t (learning rate "
                        + String.format(Locale.ROOT, "%.3g", learningRate) + ")", "MSE, error rate", drawn,
                CURVE_FLOOR);
        spec.commandLine().getOut().println("wrote " + png);
        return null;
    }

    static String timeText(double t) {
        if (t == Double.POSITIVE_INFINITY) {
            return "inf";
        }
        // plain digits for the times people write (0.5, 100, 250000), powers of ten beyond (1e+308, not 309 digits)
        java.math.BigDecimal d = new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", t)).stripTrailingZeros();
        boolean far = t != 0 && (Math.abs(t) >= 1e7 || Math.abs(t) < 1e-4);
        return far ? d.toString().replace("E", "e") : d.toPlainString();
    }

    static double[] parseTimes(List<String> texts) {
        double[] ts = new double[texts.size()];
        for (int i = 0; i < ts.length; i++) {
            String s = texts.get(i).trim().toLowerCase(Locale.ROOT);
            double t;
            if (s.equals("inf") || s.equals("infinity") || s.equals("∞")) {
                t = Double.POSITIVE_INFINITY;
            } else {
                try {
                    t = Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--t: expected times >= 0 or inf, got '" + texts.get(i) + "'");
                }
                if (Double.isInfinite(t)) { // 1e400: a finite time past float64, not the t = ∞ of kernel regression
                    throw new IllegalArgumentException("--t: '" + texts.get(i) + "' is beyond float64 (at most "
                            + Double.MAX_VALUE + "); write inf for t = ∞");
                }
            }
            if (!(t >= 0)) {
                throw new IllegalArgumentException("--t: expected times >= 0 or inf, got '" + texts.get(i) + "'");
            }
            ts[i] = t;
        }
        if (ts.length == 0) {
            throw new IllegalArgumentException("--t: no time given");
        }
        // one row (and one report key, t_<time>) per time: a repeat (1 and 1.0, inf and ∞) would print twice
        // (a time named by its spelling, compared by its value: texts.indexOf finds the first of an equal spelling)
        KernelOptions.requireDistinct("--t", "time", texts, text -> ts[texts.indexOf(text)]);
        return ts;
    }

    static boolean parseF0(String text) {
        switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "zero":
                return false;
            case "init":
                return true;
            default:
                throw new IllegalArgumentException("--f0: expected zero or init, got '" + text + "'");
        }
    }

    /** The process's peak resident set (VmHWM of /proc/self/status), or -1 where that file does not exist. */
    static long peakResidentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
