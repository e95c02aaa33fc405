package org.ntk4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.predict.GpInference;
import org.ntk4j.predict.GradientDescentMse;
import org.ntk4j.predict.GradientDescentOde;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j predict}: kernel regression / linearised MSE training with the empirical NTK of a model at
 * initialisation, as neural-tangents' {@code gradient_descent_mse}: train and test sets in, test accuracy and MSE
 * out. With no arguments it runs the default job on the embedded Fashion-MNIST subset.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j predict --train default:train:1000 --test default:test:500 --kind pntk --t 10,100,inf"},
        description = {"Kernel regression and linearised gradient-descent training (MSE loss, time t) with the "
            + "empirical NTK at initialisation; prints test accuracy and MSE.",
            "With no arguments: fcn(depth=3,width=512) on the embedded 2,000 training / 1,000 test Fashion-MNIST "
                + "images (globally standardised), pNTK kernel, t = ∞."})
public final class PredictCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec (see 'ntk4j models'; default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=3,width=512)";

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

    @Option(names = "--diag-reg", description = "Diagonal regulariser r: K + r·(trace/dim)·I (default: "
            + "${DEFAULT-VALUE}; neural-tangents' default is 0).")
    double diagReg = 1e-4;

    @Option(names = "--diag-reg-absolute", description = "Add --diag-reg itself to the diagonal, not scaled by "
            + "the mean diagonal (neural-tangents' diag_reg_absolute_scale).")
    boolean diagRegAbsolute;

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

    @Option(names = "--seed", description = "Seed of the parameters (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--params-in", description = "Parameters to use (.npz, as written by 'kernel --params-out').")
    Path paramsIn;

    @Option(names = "--memory", description = "Memory budget for AUTO, e.g. 8g (default: 80%% of the off-heap "
            + "limit).")
    String memory;

    @Option(names = "--out", description = "Write the test predictions as .npy: [M, O] for one t, [T, M, O] for "
            + "several.")
    Path out;

    @Option(names = "--report", description = "Write a JSON report (accuracy, MSE, seconds, memory per t).")
    Path report;

    @Option(names = "--plots", description = "Directory for training_curves.png: test and train MSE and test error "
            + "against t (log-log; needs two or more finite times in --t).")
    Path plots;

    @Option(names = "--posterior", description = "Gaussian-process inference instead of training "
            + "(neural-tangents' gp_inference): nngp, ntk or ntkgp; needs an N×N --kind and t = ∞.")
    String posterior;

    @Option(names = "--cov", description = "With --posterior: write the test covariance [M, M] as .npy.")
    Path cov;

    @Option(names = "--loss", description = "Training loss: mse (closed form) or cross-entropy (the function-space "
            + "ODE, Dormand-Prince 8(5,3); finite --t only). Default: ${DEFAULT-VALUE}.")
    String loss = "mse";

    @Option(names = "--momentum", description = "Momentum μ in [0, 1) (neural-tangents' continuous-time momentum; "
            + "solved as an ODE, finite --t only).")
    Double momentum;

    @picocli.CommandLine.Mixin
    OverwriteOption overwrite = new OverwriteOption();

    /** The figures of one time t. */
    record Result(double t, double testAccuracy, double testMse, double trainAccuracy, double trainMse) {
    }

    @Override
    public Integer call() throws Exception {
        DType dt = DType.parse(dtype);
        Method m = Method.parse(method);
        KernelKind kk = KernelKind.parse(kind, seed);
        if (kk.family() == KernelKind.Family.DIAGONAL) {
            throw new IllegalArgumentException("--kind: diagonal gives one N×N kernel per output, which "
                    + "gradient_descent_mse does not take; use full (exact) or an N×N kind (trace, pntk, ...)");
        }
        double[] ts = parseTimes(times);
        if (plots != null && java.util.Arrays.stream(ts).filter(t -> t > 0 && t < Double.POSITIVE_INFINITY).count() < 2) {
            throw new IllegalArgumentException("--plots: the training curves need two or more finite times > 0 in --t, "
                    + "e.g. --t 1,10,100,1000");
        }
        boolean initOutputs = parseF0(f0);
        Standardizer.Mode mode = Standardizer.Mode.parse(standardize);
        long budget = KernelOptions.memoryBudget(memory);
        Model net = Zoo.parse(model);
        org.ntk4j.predict.Loss lossFn = org.ntk4j.predict.Loss.parse(loss);
        GpInference.Posterior post = posterior == null ? null : GpInference.Posterior.parse(posterior);
        boolean ode = lossFn != org.ntk4j.predict.Loss.MSE || momentum != null;
        checkAlternatives(post, ode, kk, ts);
        overwrite.outputs().inputSource("--train", train).inputSource("--test", test).input("--params-in", paramsIn)
                .output("--out", out, ".npy").output("--report", report, ".json")
                .output("--cov", cov, ".npy").outputIn("--plots", plots, TRAINING_CURVES).check();
        PrintWriter o = spec.commandLine().getOut();
        long start = System.nanoTime();
        try (Dataset trainRaw = DataSource.loadDataset(train, dt, seed);
             Dataset testRaw = DataSource.loadDataset(test, dt, seed + 1)) {
            Standardizer std = KernelOptions.fitStandardizer(trainRaw.x(), mode, "--train " + train,
                    spec.commandLine().getErr());
            if (Shapes.size(testRaw.exampleShape()) != Shapes.size(trainRaw.exampleShape())) {
                throw new IllegalArgumentException("--test: examples of shape " + Shapes.str(testRaw.exampleShape())
                        + " do not match the training examples " + Shapes.str(trainRaw.exampleShape()));
            }
            // test examples with the training examples' size but another shape (a flat CSV against images) are
            // read in the training layout, row-major
            try (Dataset trainStd = std.apply(trainRaw); Dataset testStd = std.apply(testRaw);
                 Dataset tr = InputLayout.forModel(net, trainStd);
                 Dataset te = testStd.withX(InputLayout.reshapeExamples(testStd.x(), tr.exampleShape()))) {
                int[] perExample = tr.exampleShape();
                int[] outShape = net.outputShape(perExample);
                if (outShape.length != 1) {
                    throw new IllegalArgumentException("--model: predict needs outputs [N, O], " + net.spec()
                            + " gives [N] + " + Shapes.str(outShape));
                }
                int outputs = outShape[0];
                KernelOptions.requireProbesFit(kk, net, perExample, budget);
                tr.requireLabelsBelow(outputs, "predict with " + outputs + " model outputs");
                te.requireLabelsBelow(outputs, "predict with " + outputs + " model outputs");
                try (Params p = paramsIn != null ? ParamsFile.load(paramsIn, net, perExample, dt)
                        : net.init(seed, perExample, dt)) {
                    Model bn = KernelCommand.withBuffersOf(net, p);
                    if (post != null || ode) {
                        runAlternative(o, bn, p, tr, te, kk, m, budget, outputs, ts, initOutputs, post, lossFn);
                    } else {
                        run(o, bn, p, tr, te, kk, m, budget, dt, outputs, ts, initOutputs, mode, start);
                    }
                }
            }
        }
        o.flush();
        return 0;
    }

    private void run(PrintWriter o, Model net, Params p, Dataset tr, Dataset te, KernelKind kk, Method m, long budget,
                     DType dt, int outputs, double[] ts, boolean initOutputs, Standardizer.Mode mode, long start)
            throws java.io.IOException {
        int n = tr.size();
        int mTest = te.size();
        EmpiricalNtk ntk = EmpiricalNtk.of(net, p).method(m).memoryBudget(budget);
        Method used = kk.family() == KernelKind.Family.PROJECTED ? Method.JACOBIAN_CONTRACTION
                : ntk.forKind(kk, tr.exampleShape()).resolveMethod(n, 0, tr.exampleShape(), dt);
        o.printf(Locale.ROOT, "model %s: %d parameters, %d outputs; train %s %s, test %s %s (standardised: %s); %s%n",
                net.spec(), p.count(), outputs, tr.name(), Shapes.str(tr.x().shape()), te.name(),
                Shapes.str(te.x().shape()), mode.name().toLowerCase(Locale.ROOT).replace('_', '-'), dt.shortName());
        try (Tensor y = tr.oneHot(DType.F64, outputs); Tensor yTest = te.oneHot(DType.F64, outputs);
             Tensor f0Train = initOutputs ? outputs(net, p, tr.x()) : null;
             Tensor f0Test = initOutputs ? outputs(net, p, te.x()) : null) {
            long k0 = System.nanoTime();
            KernelMatrix kTrain = KernelRows.train(ntk, kk, tr.x(), outputs);
            double trainKernelSeconds = (System.nanoTime() - k0) / 1e9;
            printMaxLearningRate(o, kTrain, n * outputs);
            boolean hasInf = false;
            boolean hasFinite = false;
            for (double t : ts) {
                hasInf |= t == Double.POSITIVE_INFINITY;
                hasFinite |= t != Double.POSITIVE_INFINITY;
            }
            double regressionSeconds;
            double testKernelSeconds = 0;
            List<Tensor> coefficients = new ArrayList<>();
            double[][] testPred = new double[ts.length][mTest * outputs];
            Result[] results = new Result[ts.length];
            try (kTrain; GradientDescentMse gd = GradientDescentMse.of(kTrain, y, learningRate, diagReg,
                    diagRegAbsolute, !(hasInf && hasFinite))) {
                long r0 = System.nanoTime();
                double[] trainMse = new double[ts.length];
                double[] trainAcc = new double[ts.length];
                for (int i = 0; i < ts.length; i++) {
                    coefficients.add(gd.coefficients(ts[i], f0Train));
                    try (Tensor fTrain = gd.predictTrain(ts[i], f0Train)) {
                        trainMse[i] = mse(fTrain, y);
                        trainAcc[i] = accuracy(fTrain, tr.labels());
                    }
                }
                regressionSeconds = (System.nanoTime() - r0) / 1e9;
                long t0 = System.nanoTime();
                double[] applySeconds = {0};
                KernelRows.forEachTile(ntk, kk, te.x(), tr.x(), outputs, (first, rows) -> {
                    long a0 = System.nanoTime();
                    int count = rows.dim(0);
                    for (int i = 0; i < ts.length; i++) {
                        try (Tensor f0Rows = f0Test == null ? null
                                : org.ntk4j.cpu.Layout.sliceAxis(f0Test, 0, first, first + count);
                             Tensor f = gd.testOutputs(rows, coefficients.get(i), f0Rows)) {
                            System.arraycopy(f.toDoubleArray(), 0, testPred[i], first * outputs, count * outputs);
                        }
                    }
                    applySeconds[0] += (System.nanoTime() - a0) / 1e9;
                });
                testKernelSeconds = (System.nanoTime() - t0) / 1e9 - applySeconds[0];
                regressionSeconds += applySeconds[0];
                for (int i = 0; i < ts.length; i++) {
                    try (Tensor f = Tensor.of(testPred[i], mTest, outputs)) {
                        results[i] = new Result(ts[i], accuracy(f, te.labels()), mse(f, yTest), trainAcc[i],
                                trainMse[i]);
                    }
                }
                o.printf(Locale.ROOT, "kind %s, method %s%s: train kernel %s %.2f s, test kernel %.2f s; regression "
                                + "(float64, diag_reg %.3g%s, r = %.4g, learning rate %.3g, f0 %s) %.2f s%n", kk,
                        used.shortName(), m == Method.AUTO ? " (auto)" : "", kTrain.isFull()
                                ? "[" + n + "·" + outputs + ", " + n + "·" + outputs + "]" : "[" + n + ", " + n + "]",
                        trainKernelSeconds, testKernelSeconds, diagReg, diagRegAbsolute ? " absolute" : " × mean diagonal",
                        gd.regulariser(), learningRate, initOutputs ? "init" : "zero", regressionSeconds);
            } finally {
                for (Tensor c : coefficients) {
                    c.close();
                }
            }
            for (Result r : results) {
                o.printf(Locale.ROOT, "t = %s: test accuracy %.2f%% (%d/%d), test MSE %.5f; train accuracy %.2f%%, "
                                + "train MSE %.5f%n", timeText(r.t()), 100 * r.testAccuracy(),
                        Math.round(r.testAccuracy() * mTest), mTest, r.testMse(), 100 * r.trainAccuracy(),
                        r.trainMse());
            }
            double totalSeconds = (System.nanoTime() - start) / 1e9;
            long rss = peakResidentBytes();
            o.printf(Locale.ROOT, "total %.2f s (data, kernels, regression; JVM start excluded); peak resident memory %s%n",
                    totalSeconds, rss > 0 ? CostModel.human(rss) : "unknown");
            if (plots != null) {
                writeCurves(plots, results, net.spec() + ", " + kk + ", " + tr.name());
            }
            if (out != null) {
                double[] all = new double[ts.length * mTest * outputs];
                for (int i = 0; i < ts.length; i++) {
                    System.arraycopy(testPred[i], 0, all, i * mTest * outputs, mTest * outputs);
                }
                try (Tensor pred = ts.length == 1 ? Tensor.of(all, mTest, outputs)
                        : Tensor.of(all, ts.length, mTest, outputs)) {
                    Npy.write(out, pred);
                }
                o.println("wrote " + out);
            }
            if (report != null) {
                JsonReport json = new JsonReport().put("model", net.spec()).put("parameters", p.count())
                        .put("train", tr.name()).put("test", te.name()).put("n_train", n).put("n_test", mTest)
                        .put("outputs", outputs).put("standardize", mode.name().toLowerCase(Locale.ROOT))
                        .put("kind", kk.toString()).put("method", used.shortName()).put("auto", m == Method.AUTO)
                        .put("dtype", dt.shortName()).put("diag_reg", diagReg).put("diag_reg_absolute", diagRegAbsolute)
                        .put("learning_rate", learningRate).put("f0", initOutputs ? "init" : "zero")
                        .put("train_kernel_seconds", trainKernelSeconds).put("test_kernel_seconds", testKernelSeconds)
                        .put("regression_seconds", regressionSeconds).put("total_seconds", totalSeconds)
                        .put("peak_resident_bytes", rss);
                for (Result r : results) {
                    String key = "t_" + timeText(r.t());
                    json.put(key + ".test_accuracy", r.testAccuracy()).put(key + ".test_mse", r.testMse())
                            .put(key + ".train_accuracy", r.trainAccuracy()).put(key + ".train_mse", r.trainMse());
                }
                json.write(report);
                o.println("wrote " + report);
            }
        }
    }

    /** Refuses option combinations that have no meaning, before any work. */
    private void checkAlternatives(GpInference.Posterior post, boolean ode, KernelKind kk, double[] ts) {
        if (cov != null && post == null) {
            throw new IllegalArgumentException("--cov: needs --posterior nngp|ntk|ntkgp");
        }
        if (momentum != null && !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("--momentum: expected a number in [0, 1), got " + momentum);
        }
        if (post != null) {
            if (ode) {
                throw new IllegalArgumentException("--posterior: gp_inference is the t = ∞ MSE posterior; drop --loss "
                        + loss + (momentum != null ? " and --momentum" : ""));
            }
            if (kk.family() == KernelKind.Family.FULL) {
                throw new IllegalArgumentException("--posterior: needs an N×N kernel (--kind trace, pntk, ...), not "
                        + "full");
            }
            if (ts.length != 1 || ts[0] != Double.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("--posterior: the posterior is the t = ∞ prediction; drop --t");
            }
            if (plots != null) {
                throw new IllegalArgumentException("--plots: the training curves need training times, not "
                        + "--posterior");
            }
        }
        if (ode) {
            for (double t : ts) {
                if (t == Double.POSITIVE_INFINITY) {
                    throw new IllegalArgumentException("--loss " + loss + (momentum != null ? " --momentum" : "")
                            + ": the ODE is integrated to finite times; give --t, e.g. --t 10,100,1000");
                }
            }
            if (plots != null) {
                throw new IllegalArgumentException("--plots: training curves are drawn for the MSE closed form only");
            }
        }
    }

    private void printMaxLearningRate(PrintWriter o, KernelMatrix kTrain, int targets) {
        double lr = GradientDescentOde.maxLearningRate(kTrain, targets, momentum == null ? Double.NaN : momentum);
        o.printf(Locale.ROOT, "max learning rate (neural-tangents' max_learning_rate: 2(1 + μ)|y|/λ_max, λ_max by "
                + "Lanczos): %.6g%s%n", lr, learningRate > lr ? "; the learning rate is above it" : "");
    }

    /** --posterior (gp_inference) or the ODE (--loss cross-entropy, --momentum): whole kernels, one tile. */
    private void runAlternative(PrintWriter o, Model net, Params p, Dataset tr, Dataset te, KernelKind kk, Method m,
                                long budget, int outputs, double[] ts, boolean initOutputs,
                                GpInference.Posterior post, org.ntk4j.predict.Loss lossFn) throws java.io.IOException {
        int n = tr.size();
        int mTest = te.size();
        EmpiricalNtk ntk = EmpiricalNtk.of(net, p).method(m).memoryBudget(budget);
        o.printf(Locale.ROOT, "model %s: %d parameters, %d outputs; train %s %s, test %s %s%n", net.spec(), p.count(),
                outputs, tr.name(), Shapes.str(tr.x().shape()), te.name(), Shapes.str(te.x().shape()));
        double[][] testPred = new double[ts.length][];
        try (Tensor y = tr.oneHot(DType.F64, outputs); Tensor yTest = te.oneHot(DType.F64, outputs)) {
            if (post != null) {
                EmpiricalNtk nngpFn = EmpiricalNtk.of(net, p).traceAxes(-1);
                boolean needNtk = post != GpInference.Posterior.NNGP;
                boolean needNngp = post.needsNngp();
                                try (Tensor thDD = needNtk ? ntk.kernel(kk, tr.x(), null) : null;
                     Tensor thTD = needNtk ? ntk.kernel(kk, te.x(), tr.x()) : null;
                     Tensor thTT = needNtk && post == GpInference.Posterior.NTKGP ? ntk.kernel(kk, te.x(), null) : null;
                     Tensor kDD = needNngp ? nngpFn.nngp(tr.x(), null) : null;
                     Tensor kTD = needNngp ? nngpFn.nngp(te.x(), tr.x()) : null;
                     Tensor kTT = needNngp ? nngpFn.nngp(te.x(), null) : null) {
                    if (needNtk) {
                        try (KernelMatrix km = KernelMatrix.of(thDD)) {
                            printMaxLearningRate(o, km, n * outputs);
                        }
                    }
                    try (GpInference.Gaussian g = GpInference.infer(post, thDD, thTD, thTT, kDD, kTD, kTT, y, diagReg,
                            diagRegAbsolute, true)) {
                        testPred[0] = g.mean().toDoubleArray();
                        o.printf(Locale.ROOT, "posterior %s (gp_inference, kind %s, diag_reg %.3g%s): mean predictive "
                                        + "variance %.6g%n", post.shortName(), kk, diagReg,
                                diagRegAbsolute ? " absolute" : " × mean diagonal", g.meanVariance());
                        try (Tensor f = Tensor.of(testPred[0], mTest, outputs)) {
                            o.printf(Locale.ROOT, "test accuracy %.2f%% (%d/%d), test MSE %.5f (posterior mean)%n",
                                    100 * accuracy(f, te.labels()), Math.round(accuracy(f, te.labels()) * mTest),
                                    mTest, mse(f, yTest));
                        }
                        if (cov != null) {
                            Npy.write(cov, g.covariance());
                            o.println("wrote " + cov);
                        }
                    }
                }
            } else {
                double mom = momentum == null ? Double.NaN : momentum;
                try (KernelMatrix kTrain = KernelRows.train(ntk, kk, tr.x(), outputs);
                     Tensor kTest = ntk.kernel(kk, te.x(), tr.x());
                     Tensor f0Train = initOutputs ? outputs(net, p, tr.x()) : null;
                     Tensor f0Test = initOutputs ? outputs(net, p, te.x()) : null) {
                    printMaxLearningRate(o, kTrain, n * outputs);
                    double[] sorted = ts.clone();
                    java.util.Arrays.sort(sorted);
                    GradientDescentOde solver = GradientDescentOde.of(kTrain, y, lossFn, learningRate, mom);
                    GradientDescentOde.Outputs[] res = solver.predict(sorted, f0Train, kTest, f0Test);
                    o.printf(Locale.ROOT, "loss %s%s, kind %s: function-space ODE (Dormand-Prince 8(5,3), tolerance "
                                    + "%.0e, %d evaluations), learning rate %.3g, f0 %s%n", lossFn.shortName(),
                            Double.isNaN(mom) ? "" : String.format(Locale.ROOT, ", momentum %.3g", mom), kk,
                            GradientDescentOde.TOLERANCE, solver.evaluations(), learningRate,
                            initOutputs ? "init" : "zero");
                    for (int i = 0; i < ts.length; i++) {
                        int at = java.util.Arrays.binarySearch(sorted, ts[i]);
                        testPred[i] = res[at].test().toDoubleArray();
                        double trainAcc = accuracy(res[at].train(), tr.labels());
                        double trainLoss = lossFn.value(res[at].train().toDoubleArray(), y.toDoubleArray(), outputs);
                        try (Tensor f = Tensor.of(testPred[i], mTest, outputs)) {
                            o.printf(Locale.ROOT, "t = %s: test accuracy %.2f%% (%d/%d), test loss %.5f; train "
                                            + "accuracy %.2f%%, train loss %.5f%n", timeText(ts[i]),
                                    100 * accuracy(f, te.labels()), Math.round(accuracy(f, te.labels()) * mTest), mTest,
                                    lossFn.value(testPred[i], yTest.toDoubleArray(), outputs), 100 * trainAcc,
                                    trainLoss);
                        }
                    }
                    for (GradientDescentOde.Outputs r : res) {
                        r.close();
                    }
                }
            }
        }
        if (out != null) {
            double[] all = new double[ts.length * mTest * outputs];
            for (int i = 0; i < ts.length; i++) {
                System.arraycopy(testPred[i], 0, all, i * mTest * outputs, mTest * outputs);
            }
            try (Tensor pred = ts.length == 1 ? Tensor.of(all, mTest, outputs) : Tensor.of(all, ts.length, mTest, outputs)) {
                Npy.write(out, pred);
            }
            o.println("wrote " + out);
        }
        if (report != null) {
            new JsonReport().put("model", net.spec()).put("n_train", n).put("n_test", mTest)
                    .put("posterior", post == null ? "none" : post.shortName()).put("loss", lossFn.shortName())
                    .write(report);
            o.println("wrote " + report);
        }
    }

    /** The PNG --plots DIR gets. */
    static final String TRAINING_CURVES = "training_curves.png";

    /** Smallest value drawn on the training curves: the train MSE falls to round-off (1e-30) as t grows. */
    static final double CURVE_FLOOR = 1e-5;

    /** Test and train MSE and test error (1 − accuracy) against t, log-log, finite t > 0 only. */
    private void writeCurves(Path dir, Result[] results, String title) throws java.io.IOException {
        List<Double> t = new ArrayList<>();
        List<Result> finite = new ArrayList<>();
        for (Result r : results) {
            if (r.t() > 0 && r.t() < Double.POSITIVE_INFINITY) {
                t.add(r.t());
                finite.add(r);
            }
        }
        double[] ts = t.stream().mapToDouble(Double::doubleValue).toArray();
        double[] testMse = finite.stream().mapToDouble(Result::testMse).toArray();
        double[] trainMse = finite.stream().mapToDouble(Result::trainMse).toArray();
        double[] testError = finite.stream().mapToDouble(r -> 1 - r.testAccuracy()).toArray();
        java.nio.file.Files.createDirectories(dir);
        Path png = dir.resolve(TRAINING_CURVES);
        org.ntk4j.plot.Charts.logLogLines(png, "linearised training, " + title, "time t (learning rate "
                        + String.format(Locale.ROOT, "%.3g", learningRate) + ")", "MSE, error rate",
                List.of(new org.ntk4j.plot.Charts.Series("test MSE", ts, testMse),
                        new org.ntk4j.plot.Charts.Series("train MSE (down to 1e-5)", ts, trainMse),
                        new org.ntk4j.plot.Charts.Series("test error (1 − accuracy)", ts, testError)), CURVE_FLOOR);
        spec.commandLine().getOut().println("wrote " + png);
    }

    /** f(x) at the given parameters, in float64. */
    private static Tensor outputs(Model net, Params p, Tensor x) {
        try (Tensor f = net.apply(p, x)) {
            return f.to(DType.F64);
        }
    }

    static String timeText(double t) {
        return t == Double.POSITIVE_INFINITY ? "inf"
                : new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", t)).stripTrailingZeros().toPlainString();
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
            }
            if (!(t >= 0)) {
                throw new IllegalArgumentException("--t: expected times >= 0 or inf, got '" + texts.get(i) + "'");
            }
            ts[i] = t;
        }
        if (ts.length == 0) {
            throw new IllegalArgumentException("--t: no time given");
        }
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

    /** Fraction of rows whose largest output is at the label's column (ties: the first). */
    static double accuracy(Tensor f, int[] labels) {
        int rows = f.dim(0);
        int cols = f.dim(1);
        int right = 0;
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int j = 1; j < cols; j++) {
                best = f.getFlat(i * cols + j) > f.getFlat(i * cols + best) ? j : best;
            }
            right += best == labels[i] ? 1 : 0;
        }
        return right / (double) rows;
    }

    /** Mean over examples and outputs of (f − y)² (neural-tangents' loss 1/(2|y|)‖f − y‖² is half of it). */
    static double mse(Tensor f, Tensor y) {
        double s = 0;
        for (int i = 0; i < f.size(); i++) {
            double d = f.getFlat(i) - y.getFlat(i);
            s += d * d;
        }
        return s / f.size();
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
