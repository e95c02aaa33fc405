package org.ntk4j.predict;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.infinite.LimitKernel;
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
            // the train kernel is not read again: unless both t = ∞ and finite t are asked (two factorisations),
            // the one factorisation works in its storage
            try (kTrain; GradientDescentMse gd = hasInf && hasFinite
                    ? GradientDescentMse.of(kTrain, y, r.learningRate(), r.diagReg())
                    : GradientDescentMse.ofDestroying(kTrain, y, r.learningRate(), r.diagReg())) {
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

    /**
     * The kernels a posterior reads, [N1, N2] for x1 against x2 (x2 null: x1 with itself) or [M] for each example
     * with itself: the empirical ones at the request's parameters, or the model's analytic infinite-width limit.
     */
    private interface PosteriorKernels {
        Tensor ntk(Tensor x1, Tensor x2);

        Tensor ntkDiagonal(Tensor x);

        Tensor nngp(Tensor x1, Tensor x2);

        Tensor nngpDiagonal(Tensor x);
    }

    /** The empirical kernels: the NTK of the request's kind, the NNGP f(x1)·f(x2)ᵀ averaged over the logits. */
    private static PosteriorKernels empirical(EmpiricalNtk ntk, KernelKind kk, int[] perExample) {
        // the NNGP runs no NTK method: the same budget binds its forward passes and contraction
        EmpiricalNtk nngpFn = ntk.traceAxes(-1);
        return new PosteriorKernels() {
            @Override
            public Tensor ntk(Tensor x1, Tensor x2) {
                return ntk.kernel(kk, x1, x2);
            }

            @Override
            public Tensor ntkDiagonal(Tensor x) {
                return ntk.forKind(kk, perExample).diagonalAxes(0).ntk(x, null);
            }

            @Override
            public Tensor nngp(Tensor x1, Tensor x2) {
                return nngpFn.nngp(x1, x2);
            }

            @Override
            public Tensor nngpDiagonal(Tensor x) {
                return nngpFn.diagonalAxes(0).nngp(x, null);
            }
        };
    }

    /**
     * The analytic infinite-width kernels of the model: the NTK laid out as the request's kind, the NNGP of one
     * logit (the empirical NNGP's counterpart: the limit's is K ⊗ I_O), in the examples' dtype. Each example's
     * kernels with itself are computed one example at a time: M expectations' work, not M².
     */
    private static PosteriorKernels infinite(org.ntk4j.infinite.InfiniteLimit lim, KernelKind kk, DType dt) {
        return new PosteriorKernels() {
            @Override
            public Tensor ntk(Tensor x1, Tensor x2) {
                return lim.kernel(kk, x1, x2, LimitKernel.NTK, dt);
            }

            @Override
            public Tensor ntkDiagonal(Tensor x) {
                return diagonal(x, LimitKernel.NTK);
            }

            @Override
            public Tensor nngp(Tensor x1, Tensor x2) {
                return lim.kernel(KernelKind.trace(), x1, x2, LimitKernel.NNGP, dt);
            }

            @Override
            public Tensor nngpDiagonal(Tensor x) {
                return diagonal(x, LimitKernel.NNGP);
            }

            /** Each example's kernel with itself: the NNGP of one logit, or the NTK laid out as the kind. */
            private Tensor diagonal(Tensor x, LimitKernel which) {
                int m = x.dim(0);
                Tensor d = Tensor.empty(DType.F64, m);
                for (int i = 0; i < m; i++) {
                    try (Tensor xi = org.ntk4j.cpu.Layout.sliceAxis(x, 0, i, i + 1);
                         Tensor k = lim.kernel(which == LimitKernel.NNGP ? KernelKind.trace() : kk, xi, null, which,
                                 dt)) {
                        d.setFlat(i, k.getFlat(0));
                    }
                }
                return d;
            }
        };
    }

    /** gp_inference and gradient_descent_mse_ensemble: whole kernels, one tile. */
    private static PredictResult posterior(PredictRequest r) {
        Examples tr = r.train();
        Examples te = r.test();
        KernelKind kk = r.kind();
        GpInference.Posterior post = r.posterior();
        int n = tr.size();
        int mTest = te.size();
        int outputs = tr.classes();
        boolean needNtk = post != GpInference.Posterior.NNGP;
        boolean needNngp = post.needsNngp();
        // without the covariance asked for, only its diagonal (the mean variance): each test point's kernels with
        // itself [M] instead of the [M, M] test-test kernels
        boolean variancesOnly = !r.covariance() && !kk.isSketched();
        int[] perExample = Arrays.copyOfRange(te.x().shape(), 1, te.x().rank());
        DType dt = tr.x().dtype();
        Method used;
        PosteriorKernels source;
        if (r.infinite()) {
            // no NTK method and no parameters: the kernels themselves are the memory, refused before any work
            long entries = (needNtk ? 1L : 0L) * ((long) n * n + (long) mTest * n
                    + (post == GpInference.Posterior.NTKGP ? (variancesOnly ? mTest : (long) mTest * mTest) : 0))
                    + (needNngp ? 1L : 0L) * ((long) n * n + (long) mTest * n
                    + (variancesOnly ? mTest : (long) mTest * mTest));
            long bytes = entries * dt.bytes();
            if (bytes > r.memoryBudget()) {
                throw new IllegalArgumentException("memory budget: the infinite-width kernels (" + n + " training, "
                        + mTest + " test examples, " + dt.shortName() + ") take " + CostModel.human(bytes)
                        + ", more than the " + CostModel.human(r.memoryBudget()) + " of --memory (raise --memory, or "
                        + "use fewer examples)");
            }
            used = r.method();
            source = infinite(PredictRequest.limit(r.model(), perExample), kk, dt);
        } else {
            EmpiricalNtk ntk = ntk(r);
            // before any work: the NTK's plan (an NNGP posterior's method is the NNGP's contraction, not an NTK
            // method's, which it need not fit) and every NNGP's cost within the budget
            used = needNtk ? methodUsed(r, ntk) : null;
            if (needNngp) {
                EmpiricalNtk nngpFn = ntk.traceAxes(-1);
                // the train-train, test-train and test-test NNGPs: the largest checked, so that its least fits all
                // three
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
                CostModel.Estimate e = fns[largest].nngpEstimate(sizes[largest][0], sizes[largest][1], perExample,
                        dt);
                used = needNtk ? used : e.method();
            }
            source = empirical(ntk, kk, perExample);
        }
        try (Tensor y = oneHot(tr); Tensor yTest = oneHot(te);
             Tensor thDD = needNtk ? source.ntk(tr.x(), null) : null;
             Tensor thTD = needNtk ? source.ntk(te.x(), tr.x()) : null;
             Tensor thTT = needNtk && post == GpInference.Posterior.NTKGP ? variancesOnly
                     ? source.ntkDiagonal(te.x()) : source.ntk(te.x(), null) : null;
             Tensor kDD = needNngp ? source.nngp(tr.x(), null) : null;
             Tensor kTD = needNngp ? source.nngp(te.x(), tr.x()) : null;
             Tensor kTT = needNngp ? variancesOnly ? source.nngpDiagonal(te.x()) : source.nngp(te.x(), null)
                     : null) {
            double maxLr = Double.NaN;
            if (needNtk) {
                try (KernelMatrix km = KernelMatrix.of(thDD)) {
                    maxLr = GradientDescentOde.maxLearningRate(km, n * outputs, r.momentum());
                }
            }
            double[] ts = r.times();
            double[][] means = new double[ts.length][];
            double[][] covariances = new double[ts.length][];
            List<PredictResult.TimePoint> points = new ArrayList<>();
            if (post == GpInference.Posterior.NTKGP) { // t = ∞ only (checked by the request)
                try (GpInference.Gaussian g = variancesOnly
                        ? GpInference.inferVariances(post, thDD, thTD, thTT, kDD, kTD, kTT, y, r.diagReg())
                        : GpInference.infer(post, thDD, thTD, thTT, kDD, kTD, kTT, y, r.diagReg(), true)) {
                    points.add(posteriorPoint(ts[0], g, means, covariances, 0, r, te, yTest));
                }
            } else {
                // nngp and ntk: the trained ensemble at each t (at t = ∞ gp_inference's posterior, the same
                // numbers), one factorisation per kernel for all the times
                GpInference.Kernels dd = new GpInference.Kernels(kDD, thDD);
                GpInference.Kernels td = new GpInference.Kernels(kTD, thTD);
                GpInference.Kernels tt = new GpInference.Kernels(kTT, thTT);
                try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, r.learningRate(),
                        r.diagReg())) {
                    for (int i = 0; i < ts.length; i++) {
                        try (GpInference.Gaussian g = variancesOnly ? ens.predictVariances(post, ts[i], td, tt)
                                : ens.predict(post, ts[i], td, tt)) {
                            points.add(posteriorPoint(ts[i], g, means, covariances, i, r, te, yTest));
                        }
                    }
                }
            }
            return new PredictResult(PredictResult.Solver.POSTERIOR, used, outputs, n, mTest, points,
                    stack(means, mTest, outputs), r.covariance() ? stack(covariances, mTest, mTest) : null, maxLr,
                    false, Double.NaN, points.get(0).meanVariance(), 0, Double.NaN, Double.NaN, Double.NaN);
        }
    }

    /** The figures of one time's Gaussian; its mean (and covariance when asked for) copied into row {@code i}. */
    private static PredictResult.TimePoint posteriorPoint(double t, GpInference.Gaussian g, double[][] means,
                                                          double[][] covariances, int i, PredictRequest r,
                                                          Examples te, Tensor yTest) {
        means[i] = g.mean().toDoubleArray();
        if (r.covariance()) {
            covariances[i] = g.covariance().toDoubleArray();
        }
        try (Tensor f = Tensor.of(means[i], te.size(), te.classes())) {
            return new PredictResult.TimePoint(t, accuracy(f, te.labels()), mse(f, yTest), Double.NaN, Double.NaN,
                    g.meanVariance());
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
            // the training outputs move with K + rI, as in the closed form: --diag-reg means the same in every
            // solver (neural-tangents' gradient_descent has none: diag_reg 0 reproduces it)
            GradientDescentOde solver = GradientDescentOde.of(kTrain, y, lossFn, r.learningRate(), r.momentum(),
                    r.diagReg());
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
                    stack(testPred, mTest, outputs), null, maxLr, kTrain.isFull(), solver.regulariser(), Double.NaN,
                    solver.evaluations(), Double.NaN, Double.NaN, Double.NaN);
        }
    }

    /** [M, O] for one time, [T, M, O] for several (or [M, M] and [T, M, M] for covariances). */
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
