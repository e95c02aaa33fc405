package org.ntk4j.predict;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.Examples;

/**
 * The prediction workflow of {@code ntk4j predict}, as a library function: the empirical NTK of a model at its
 * parameters on labelled training and test examples, then kernel regression / linearised MSE training at each
 * time t (the closed form), the Gaussian-process posterior, or the function-space ODE for another loss or momentum.
 * Reading, standardising and writing files is the caller's; everything here is in memory.
 */
public final class Predict {
    private Predict() {
    }

    /**
     * Runs the request.
     *
     * <p>The closed form computes the train kernel once (float64, tiled past one tensor's size), the regression's
     * coefficients for every t, and the test kernel tile by tile against the training examples, applying every
     * t's coefficients to each tile. The posterior and the ODE compute their kernels whole.
     *
     * @param request what to compute
     * @return the figures and predictions, which the caller closes
     * @throws IllegalArgumentException if the model's outputs per example are not [O] with O the examples' class
     *     count, or the kernel computation refuses the inputs
     */
    public static PredictResult run(PredictRequest request) {
        Model net = request.model();
        Examples tr = request.train();
        Examples te = request.test();
        int[] perExample = Arrays.copyOfRange(tr.x().shape(), 1, tr.x().rank());
        int[] outShape = net.outputShape(perExample);
        if (outShape.length != 1 || outShape[0] != tr.classes()) {
            throw new IllegalArgumentException("predict: the model's outputs per example " + Arrays.toString(outShape)
                    + " must be [" + tr.classes() + "], one per class");
        }
        if (request.posterior() != null) {
            return posterior(request);
        }
        return request.ode() ? ode(request) : closedForm(request);
    }

    /**
     * The method the train kernel is computed with: AUTO resolved for the train examples (a sketched kind always
     * runs Jacobian contraction), the figure the output and the report give.
     */
    private static Method methodUsed(PredictRequest r, EmpiricalNtk ntk) {
        Tensor x = r.train().x();
        int[] perExample = Arrays.copyOfRange(x.shape(), 1, x.rank());
        // the train kernel's plan within the budget: an explicit method that fits it in no steps is refused here,
        // before any work, as AUTO is when no method fits
        return r.kind().isSketched() ? Method.JACOBIAN_CONTRACTION
                : ntk.forKind(r.kind(), perExample).costModel(x.dim(0), 0, perExample, x.dtype())
                .planned(ntk.method(), ntk.memoryBudget()).method();
    }

    private static EmpiricalNtk ntk(PredictRequest r) {
        return EmpiricalNtk.of(r.model(), r.params()).method(r.method()).memoryBudget(r.memoryBudget());
    }

    private static PredictResult closedForm(PredictRequest r) {
        Examples tr = r.train();
        Examples te = r.test();
        KernelKind kk = r.kind();
        int n = tr.size();
        int mTest = te.size();
        int outputs = tr.classes();
        double[] ts = r.times();
        EmpiricalNtk ntk = ntk(r);
        Method used = methodUsed(r, ntk);
        try (Tensor y = oneHot(tr); Tensor yTest = oneHot(te);
             Tensor f0Train = r.initOutputs() ? outputs(r.model(), r.params(), tr.x()) : null;
             Tensor f0Test = r.initOutputs() ? outputs(r.model(), r.params(), te.x()) : null) {
            long k0 = System.nanoTime();
            KernelMatrix kTrain = KernelRows.train(ntk, kk, tr.x(), outputs);
            double trainKernelSeconds = (System.nanoTime() - k0) / 1e9;
            double maxLr = GradientDescentOde.maxLearningRate(kTrain, n * outputs, r.momentum());
            boolean fullKernel = kTrain.isFull();
            boolean hasInf = false;
            boolean hasFinite = false;
            for (double t : ts) {
                hasInf |= t == Double.POSITIVE_INFINITY;
                hasFinite |= t != Double.POSITIVE_INFINITY;
            }
            List<Tensor> coefficients = new ArrayList<>();
            double[][] testPred = new double[ts.length][mTest * outputs];
            List<PredictResult.TimePoint> points = new ArrayList<>();
            double regulariser;
            double regressionSeconds;
            double testKernelSeconds;
            try (kTrain; GradientDescentMse gd = GradientDescentMse.of(kTrain, y, r.learningRate(), r.diagReg(),
                    r.diagRegAbsolute(), !(hasInf && hasFinite))) {
                regulariser = gd.regulariser();
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
                        points.add(new PredictResult.TimePoint(ts[i], accuracy(f, te.labels()), mse(f, yTest),
                                trainAcc[i], trainMse[i]));
                    }
                }
            } finally {
                for (Tensor c : coefficients) {
                    c.close();
                }
            }
            return new PredictResult(PredictResult.Solver.CLOSED_FORM, used, outputs, n, mTest, points,
                    stack(testPred, mTest, outputs), null, maxLr, fullKernel, regulariser, Double.NaN, 0,
                    trainKernelSeconds, testKernelSeconds, regressionSeconds);
        }
    }

    /** gp_inference: whole kernels, one tile. */
    private static PredictResult posterior(PredictRequest r) {
        Examples tr = r.train();
        Examples te = r.test();
        KernelKind kk = r.kind();
        GpInference.Posterior post = r.posterior();
        int n = tr.size();
        int mTest = te.size();
        int outputs = tr.classes();
        EmpiricalNtk ntk = ntk(r);
        // the NNGP runs no NTK method: the same budget binds its forward passes and contraction
        EmpiricalNtk nngpFn = ntk.traceAxes(-1);
        boolean needNtk = post != GpInference.Posterior.NNGP;
        boolean needNngp = post.needsNngp();
        // without the covariance asked for, only its diagonal (the mean variance): each test point's kernels with
        // itself [M] instead of the [M, M] test-test kernels
        boolean variancesOnly = !r.covariance() && !kk.isSketched();
        int[] perExample = Arrays.copyOfRange(te.x().shape(), 1, te.x().rank());
        // before any work: the NTK's plan (an NNGP posterior's method is the NNGP's contraction, not an NTK
        // method's, which it need not fit) and every NNGP's cost within the budget
        DType dt = tr.x().dtype();
        Method used = needNtk ? methodUsed(r, ntk) : null;
        if (needNngp) {
            // the train-train, test-train and test-test NNGPs: the largest checked, so that its least fits all three
            EmpiricalNtk[] fns = {nngpFn, nngpFn, variancesOnly ? nngpFn.diagonalAxes(0) : nngpFn};
            int[][] sizes = {{n, 0}, {mTest, n}, {mTest, 0}};
            int largest = 0;
            long most = -1;
            for (int i = 0; i < fns.length; i++) {
                long peak = fns[i].costModel(sizes[i][0], sizes[i][1], perExample, dt).nngp().peakBytes();
                if (peak > most) {
                    most = peak;
                    largest = i;
                }
            }
            CostModel.Estimate e = fns[largest].nngpEstimate(sizes[largest][0], sizes[largest][1], perExample, dt);
            used = needNtk ? used : e.method();
        }
        try (Tensor y = oneHot(tr); Tensor yTest = oneHot(te);
             Tensor thDD = needNtk ? ntk.kernel(kk, tr.x(), null) : null;
             Tensor thTD = needNtk ? ntk.kernel(kk, te.x(), tr.x()) : null;
             Tensor thTT = needNtk && post == GpInference.Posterior.NTKGP ? variancesOnly
                     ? ntk.forKind(kk, perExample).diagonalAxes(0).ntk(te.x(), null) : ntk.kernel(kk, te.x(), null)
                     : null;
             Tensor kDD = needNngp ? nngpFn.nngp(tr.x(), null) : null;
             Tensor kTD = needNngp ? nngpFn.nngp(te.x(), tr.x()) : null;
             Tensor kTT = needNngp ? (variancesOnly ? nngpFn.diagonalAxes(0) : nngpFn).nngp(te.x(), null) : null) {
            double maxLr = Double.NaN;
            if (needNtk) {
                try (KernelMatrix km = KernelMatrix.of(thDD)) {
                    maxLr = GradientDescentOde.maxLearningRate(km, n * outputs, r.momentum());
                }
            }
            GpInference.Gaussian g = variancesOnly
                    ? GpInference.inferVariances(post, thDD, thTD, thTT, kDD, kTD, kTT, y, r.diagReg(),
                            r.diagRegAbsolute())
                    : GpInference.infer(post, thDD, thTD, thTT, kDD, kTD, kTT, y, r.diagReg(), r.diagRegAbsolute(),
                            true);
            Tensor covariance = null;
            try {
                double[] mean = g.mean().toDoubleArray();
                double accuracy;
                double testMse;
                try (Tensor f = Tensor.of(mean, mTest, outputs)) {
                    accuracy = accuracy(f, te.labels());
                    testMse = mse(f, yTest);
                }
                if (r.covariance()) {
                    covariance = g.covariance().copy();
                }
                return new PredictResult(PredictResult.Solver.POSTERIOR, used, outputs, n, mTest,
                        List.of(new PredictResult.TimePoint(Double.POSITIVE_INFINITY, accuracy, testMse, Double.NaN,
                                Double.NaN)), Tensor.of(mean, mTest, outputs), covariance, maxLr, false, Double.NaN,
                        g.meanVariance(), 0, Double.NaN, Double.NaN, Double.NaN);
            } finally {
                g.close();
            }
        }
    }

    /** The function-space ODE (another loss, or momentum): whole kernels, one tile. */
    private static PredictResult ode(PredictRequest r) {
        Examples tr = r.train();
        Examples te = r.test();
        KernelKind kk = r.kind();
        int n = tr.size();
        int mTest = te.size();
        int outputs = tr.classes();
        double[] ts = r.times();
        EmpiricalNtk ntk = ntk(r);
        Loss lossFn = r.loss();
        double[][] testPred = new double[ts.length][];
        List<PredictResult.TimePoint> points = new ArrayList<>();
        try (Tensor y = oneHot(tr); Tensor yTest = oneHot(te);
             KernelMatrix kTrain = KernelRows.train(ntk, kk, tr.x(), outputs);
             Tensor kTest = ntk.kernel(kk, te.x(), tr.x());
             Tensor f0Train = r.initOutputs() ? outputs(r.model(), r.params(), tr.x()) : null;
             Tensor f0Test = r.initOutputs() ? outputs(r.model(), r.params(), te.x()) : null) {
            double maxLr = GradientDescentOde.maxLearningRate(kTrain, n * outputs, r.momentum());
            double[] sorted = ts.clone();
            Arrays.sort(sorted);
            GradientDescentOde solver = GradientDescentOde.of(kTrain, y, lossFn, r.learningRate(), r.momentum());
            GradientDescentOde.Outputs[] res = solver.predict(sorted, f0Train, kTest, f0Test);
            try {
                for (int i = 0; i < ts.length; i++) {
                    int at = Arrays.binarySearch(sorted, ts[i]);
                    testPred[i] = res[at].test().toDoubleArray();
                    double trainAcc = accuracy(res[at].train(), tr.labels());
                    double trainLoss = lossFn.value(res[at].train().toDoubleArray(), y.toDoubleArray(), outputs);
                    try (Tensor f = Tensor.of(testPred[i], mTest, outputs)) {
                        points.add(new PredictResult.TimePoint(ts[i], accuracy(f, te.labels()),
                                lossFn.value(testPred[i], yTest.toDoubleArray(), outputs), trainAcc, trainLoss));
                    }
                }
            } finally {
                for (GradientDescentOde.Outputs o : res) {
                    o.close();
                }
            }
            return new PredictResult(PredictResult.Solver.ODE, methodUsed(r, ntk), outputs, n, mTest, points,
                    stack(testPred, mTest, outputs), null, maxLr, kTrain.isFull(), Double.NaN, Double.NaN,
                    solver.evaluations(), Double.NaN, Double.NaN, Double.NaN);
        }
    }

    /** [M, O] for one time, [T, M, O] for several. */
    private static Tensor stack(double[][] testPred, int mTest, int outputs) {
        double[] all = new double[testPred.length * mTest * outputs];
        for (int i = 0; i < testPred.length; i++) {
            System.arraycopy(testPred[i], 0, all, i * mTest * outputs, mTest * outputs);
        }
        return testPred.length == 1 ? Tensor.of(all, mTest, outputs) : Tensor.of(all, testPred.length, mTest, outputs);
    }

    /** One-hot float64 targets [N, classes]. */
    private static Tensor oneHot(Examples e) {
        Tensor t = Tensor.zeros(DType.F64, e.size(), e.classes());
        int[] labels = e.labels();
        for (int i = 0; i < labels.length; i++) {
            t.setFlat(i * e.classes() + labels[i], 1.0);
        }
        return t;
    }

    /** f(x) at the given parameters, in float64. */
    private static Tensor outputs(Model net, Params p, Tensor x) {
        try (Tensor f = net.apply(p, x)) {
            return f.to(DType.F64);
        }
    }

    /**
     * Fraction of rows whose largest output is at the label's column (ties: the first).
     *
     * @param f outputs [N, O]
     * @param labels N labels in [0, O)
     * @return the accuracy in [0, 1]
     */
    public static double accuracy(Tensor f, int[] labels) {
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

    /**
     * Mean over examples and outputs of (f − y)² (neural-tangents' loss 1/(2|y|)‖f − y‖² is half of it).
     *
     * @param f outputs
     * @param y targets, the same size
     * @return the mean squared error
     */
    public static double mse(Tensor f, Tensor y) {
        double s = 0;
        for (int i = 0; i < f.size(); i++) {
            double d = f.getFlat(i) - y.getFlat(i);
            s += d * d;
        }
        return s / f.size();
    }
}
