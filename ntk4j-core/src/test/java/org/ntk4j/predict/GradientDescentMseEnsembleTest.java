package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.Tensor;

/**
 * gradient_descent_mse_ensemble: the finite-time mean and covariance against an oracle that shares no code with
 * the eigenbasis (B by RK4 on the linear training ODE, then the quadratic form in plain loops), t = ∞ against the
 * gp_inference posteriors, t = 0 against the prior, and one-line refusals.
 */
class GradientDescentMseEnsembleTest {
    private static final int N = 7;
    private static final int M = 4;
    private static final int O = 2;
    private static final double ETA = 3.0;
    private static final double DIAG_REG = 0.05;

    /** A joint problem over N + M points: NTK and NNGP from random features (the NTK with a small ridge). */
    record Problem(double[][] theta, double[][] nngp, double[][] y, int n, int m) {
        static Problem random(long seed, int n, int m, int o) {
            SplittableRandom r = new SplittableRandom(seed);
            double[][] y = new double[n][o];
            for (double[] row : y) {
                for (int j = 0; j < o; j++) {
                    row[j] = r.nextGaussian();
                }
            }
            return new Problem(GpInferenceTest.features(r, n + m, n + 2, 0.05),
                    GpInferenceTest.features(r, n + m, n + 1, 0.0), y, n, m);
        }

        Tensor dd(double[][] k) {
            return GpInferenceTest.block(k, 0, n, 0, n);
        }

        Tensor td(double[][] k) {
            return GpInferenceTest.block(k, n, m, 0, n);
        }

        Tensor tt(double[][] k) {
            return GpInferenceTest.block(k, n, m, n, m);
        }

        Tensor diag(double[][] k) {
            double[] v = new double[m];
            for (int i = 0; i < m; i++) {
                v[i] = k[n + i][n + i];
            }
            return Tensor.of(v, m);
        }

        Tensor targets() {
            int o = y[0].length;
            double[] v = new double[n * o];
            for (int i = 0; i < n; i++) {
                System.arraycopy(y[i], 0, v, i * o, o);
            }
            return Tensor.of(v, n, o);
        }
    }

    /**
     * The oracle's B(t) [M, N]: f_test(t) − f0_test = B (y − f0_train) for the flow df_d/dt = −c (K_dd + rI)(f_d −
     * y), df_t/dt = −c K_td (f_d − y), c = η/|y|: with E(0) = I, dE/dt = −c (K_dd + rI) E and dB/dt = c K_td E,
     * integrated by classical RK4 in plain loops (no eigendecomposition, no BLAS).
     */
    static double[][] rk4B(double[][] k, int n, int m, double r, double c, double t, int steps) {
        double[][] e = new double[n][n];
        for (int i = 0; i < n; i++) {
            e[i][i] = 1;
        }
        double[][] b = new double[m][n];
        double h = t / steps;
        for (int s = 0; s < steps; s++) {
            double[][][] ke = new double[4][][];
            double[][][] kb = new double[4][][];
            double[][] stage = e;
            for (int q = 0; q < 4; q++) {
                ke[q] = new double[n][n];
                kb[q] = new double[m][n];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        double v = r * stage[i][j];
                        for (int l = 0; l < n; l++) {
                            v += k[i][l] * stage[l][j];
                        }
                        ke[q][i][j] = -c * v;
                    }
                }
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double v = 0;
                        for (int l = 0; l < n; l++) {
                            v += k[n + i][l] * stage[l][j];
                        }
                        kb[q][i][j] = c * v;
                    }
                }
                if (q < 3) {
                    double w = q < 2 ? h / 2 : h;
                    stage = new double[n][n];
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            stage[i][j] = e[i][j] + w * ke[q][i][j];
                        }
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    e[i][j] += h / 6 * (ke[0][i][j] + 2 * ke[1][i][j] + 2 * ke[2][i][j] + ke[3][i][j]);
                }
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    b[i][j] += h / 6 * (kb[0][i][j] + 2 * kb[1][i][j] + 2 * kb[2][i][j] + kb[3][i][j]);
                }
            }
        }
        return b;
    }

    static double relativeRegulariser(double[][] k, int n, double diagReg) {
        double tr = 0;
        for (int i = 0; i < n; i++) {
            tr += k[i][i];
        }
        return diagReg * tr / n;
    }

    /**
     * The oracle's covariance of f_t = f0_t + B (y − f0_d), f0 ~ GP(0, K), with Var f0_d = K_dd + noise·I:
     * K_tt + B (K_dd + noise I) Bᵀ − B K_dt − K_td Bᵀ.
     */
    static double[][] oracleCov(double[][] nngp, double[][] b, int n, int m, double noise) {
        double[][] cov = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                double v = nngp[n + i][n + j];
                for (int a = 0; a < n; a++) {
                    v -= b[i][a] * nngp[a][n + j] + nngp[n + i][a] * b[j][a];
                    for (int c = 0; c < n; c++) {
                        v += b[i][a] * (nngp[a][c] + (a == c ? noise : 0)) * b[j][c];
                    }
                }
                cov[i][j] = v;
            }
        }
        return cov;
    }

    static double[][] oracleMean(double[][] b, double[][] y) {
        int o = y[0].length;
        double[][] f = new double[b.length][o];
        for (int i = 0; i < b.length; i++) {
            for (int k = 0; k < o; k++) {
                for (int a = 0; a < y.length; a++) {
                    f[i][k] += b[i][a] * y[a][k];
                }
            }
        }
        return f;
    }

    static void assertClose(Tensor actual, double[][] expected, double tol) {
        int cols = expected[0].length;
        assertThat(actual.size()).isEqualTo(expected.length * cols);
        double scale = 0;
        for (double[] row : expected) {
            for (double v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < cols; j++) {
                assertThat(actual.getFlat(i * cols + j)).as("[%d, %d]", i, j)
                        .isCloseTo(expected[i][j], org.assertj.core.data.Offset.offset(tol * Math.max(scale, 1)));
            }
        }
    }

    static void assertClose(Tensor actual, Tensor expected, double tol) {
        assertThat(actual.shape()).containsExactly(expected.shape());
        double scale = 1;
        for (int i = 0; i < expected.size(); i++) {
            scale = Math.max(scale, Math.abs(expected.getFlat(i)));
        }
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.getFlat(i)).as("flat %d", i)
                    .isCloseTo(expected.getFlat(i), org.assertj.core.data.Offset.offset(tol * scale));
        }
    }

    private final Problem p = Problem.random(11, N, M, O);
    private final Tensor ntkDD = p.dd(p.theta());
    private final Tensor ntkTD = p.td(p.theta());
    private final Tensor ntkTT = p.tt(p.theta());
    private final Tensor nngpDD = p.dd(p.nngp());
    private final Tensor nngpTD = p.td(p.nngp());
    private final Tensor nngpTT = p.tt(p.nngp());
    private final Tensor y = p.targets();
    private final Kernels dd = new Kernels(nngpDD, ntkDD);
    private final Kernels td = new Kernels(nngpTD, ntkTD);
    private final Kernels tt = new Kernels(nngpTT, ntkTT);

    @ParameterizedTest
    @EnumSource(value = Posterior.class, names = {"NNGP", "NTK"})
    void meanAndCovarianceMatchTheIntegratedFlow(Posterior get) {
        double[][] k = get == Posterior.NTK ? p.theta() : p.nngp();
        double r = relativeRegulariser(k, N, DIAG_REG);
        double c = ETA / (N * O);
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG))) {
            assertThat(ens.regulariser(get)).isCloseTo(r, org.assertj.core.data.Offset.offset(1e-15));
            for (double t : new double[] {0.5, 3, 20}) {
                double[][] b = rk4B(k, N, M, r, c, t, (int) Math.max(2000, 1000 * t)); // c·λ_max·h < 0.002
                // nngp: the regulariser is the training outputs' observation noise; ntk: K_dd as it is
                double[][] cov = oracleCov(p.nngp(), b, N, M, get == Posterior.NNGP ? r : 0);
                try (Gaussian g = ens.predict(get, t, td, tt);
                     Gaussian v = ens.predictVariances(get, t, td, new Kernels(p.diag(p.nngp()), p.diag(p.theta())));
                     Gaussian mean = ens.predict(get, t, td)) {
                    assertThat(g.mean().shape()).containsExactly(M, O);
                    assertThat(g.covariance().shape()).containsExactly(M, M);
                    assertClose(g.mean(), oracleMean(b, p.y()), 1e-12);
                    assertClose(g.covariance(), cov, 1e-12);
                    assertClose(mean.mean(), g.mean(), 1e-14);
                    assertThat(mean.covariance()).isNull();
                    assertClose(v.mean(), g.mean(), 1e-14);
                    for (int i = 0; i < M; i++) {
                        assertThat(v.variances().getFlat(i)).isCloseTo(cov[i][i],
                                org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Posterior.class, names = {"NNGP", "NTK"})
    void infiniteTimeIsTheGpInferencePosteriorAndLateTimesApproachIt(Posterior get) {
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG));
             Gaussian inf = ens.predict(get, Double.POSITIVE_INFINITY, td, tt);
             Gaussian post = GpInference.infer(get, ntkDD, ntkTD, ntkTT, nngpDD, nngpTD, nngpTT, y,
                     DiagReg.relative(DIAG_REG), true);
             Gaussian infVar = ens.predictVariances(get, Double.POSITIVE_INFINITY, td,
                     new Kernels(p.diag(p.nngp()), p.diag(p.theta())));
             Gaussian postVar = GpInference.inferVariances(get, ntkDD, ntkTD, p.diag(p.theta()), nngpDD, nngpTD,
                     p.diag(p.nngp()), y, DiagReg.relative(DIAG_REG));
             // diag_reg 0.05 of the mean diagonal bounds λ below: η t/|y| · λ_min ≫ 40 at t = 1e6
             Gaussian late = ens.predict(get, 1e6, td, tt)) {
            assertClose(inf.mean(), post.mean(), 1e-14);
            assertClose(inf.covariance(), post.covariance(), 1e-14);
            assertClose(infVar.variances(), postVar.variances(), 1e-14);
            assertClose(late.mean(), post.mean(), 1e-10);
            assertClose(late.covariance(), post.covariance(), 1e-10);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Posterior.class, names = {"NNGP", "NTK"})
    void theMeanIsGradientDescentFromZero(Posterior get) {
        Tensor k = get == Posterior.NTK ? ntkDD : nngpDD;
        Tensor kt = get == Posterior.NTK ? ntkTD : nngpTD;
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.absolute(DIAG_REG));
             GradientDescentMse gd = GradientDescentMse.fromTensor(k, y, ETA, DiagReg.absolute(DIAG_REG))) {
            for (double t : new double[] {0.1, 7, Double.POSITIVE_INFINITY}) {
                try (Gaussian g = ens.predict(get, t, td); Tensor f = gd.predictTest(t, kt, null, null)) {
                    assertClose(g.mean(), f, 1e-12);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Posterior.class, names = {"NNGP", "NTK"})
    void atTimeZeroTheEnsembleIsThePrior(Posterior get) {
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG));
             Gaussian g = ens.predict(get, 0, td, tt)) {
            for (double v : g.mean().toDoubleArray()) {
                assertThat(Math.abs(v)).isEqualTo(0.0);
            }
            assertThat(g.covariance().toDoubleArray()).containsExactly(nngpTT.toDoubleArray());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Posterior.class, names = {"NNGP", "NTK"})
    void theCovarianceIsSymmetricPositiveSemiDefinite(Posterior get) {
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(0))) {
            for (double t : new double[] {0.01, 1, 100, 1e4}) {
                try (Gaussian g = ens.predict(get, t, td, tt);
                     KernelMatrix cov = KernelMatrix.of(g.covariance())) {
                    double[] c = g.covariance().toDoubleArray();
                    for (int i = 0; i < M; i++) {
                        for (int j = 0; j < M; j++) {
                            assertThat(c[i * M + j]).isEqualTo(c[j * M + i]);
                        }
                    }
                    KernelSpectrum s = KernelSpectrum.of(cov);
                    assertThat(s.lambdaMin()).as("t = %s", t).isGreaterThan(-1e-12 * Math.max(1, s.lambdaMax()));
                }
            }
        }
    }

    @Test
    void eachFactorisationIsMadeOnceAndKept() {
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG))) {
            long before = Lapack.Cholesky.factorisations();
            for (int i = 0; i < 3; i++) {
                ens.predict(Posterior.NTK, Double.POSITIVE_INFINITY, td, tt).close();
            }
            assertThat(Lapack.Cholesky.factorisations() - before).isEqualTo(1);
            ens.predict(Posterior.NNGP, Double.POSITIVE_INFINITY, td).close();
            assertThat(Lapack.Cholesky.factorisations() - before).isEqualTo(2);
        }
        try (GpInference.Predictor gp = GpInference.gpInference(dd, y, DiagReg.relative(DIAG_REG))) {
            long before = Lapack.Cholesky.factorisations();
            gp.predict(Posterior.NTKGP, td, tt).close();
            gp.predict(Posterior.NTK, td, tt).close();
            gp.predictVariances(Posterior.NTK, td, new Kernels(p.diag(p.nngp()), p.diag(p.theta()))).close();
            assertThat(Lapack.Cholesky.factorisations() - before).isEqualTo(1);
        }
    }

    @Test
    void concurrentCallsGiveTheSequentialNumbers() throws Exception {
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG));
             GradientDescentMseEnsemble seq = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG));
             Gaussian expected = seq.predict(Posterior.NTK, 2.5, td, tt)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                java.util.List<Future<double[]>> futures = new java.util.ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    futures.add(pool.submit(() -> {
                        try (Gaussian g = ens.predict(Posterior.NTK, 2.5, td, tt)) {
                            return g.covariance().toDoubleArray();
                        }
                    }));
                }
                for (Future<double[]> f : futures) {
                    assertThat(f.get()).containsExactly(expected.covariance().toDoubleArray());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    /**
     * close() in one thread while others predict: each prediction either gives the numbers of a prediction made
     * alone or, once close has begun, is refused with the one IllegalStateException; none reads the released
     * factorisations (which a solve in progress did: a closed tensor's error, or freed, reused memory).
     */
    @Test
    void closeWaitsForThePredictionsInProgress() throws Exception {
        int n = 400; // the train-train factor is more than 1 MiB: the tensor pool keeps its storage for reuse
        int m = 200;
        Problem big = Problem.random(5, n, m, 1);
        try (Tensor kdd = big.dd(big.theta()); Tensor ktd = big.td(big.theta()); Tensor kdd2 = big.dd(big.nngp());
             Tensor ktd2 = big.td(big.nngp()); Tensor ktt2 = big.tt(big.nngp()); Tensor targets = big.targets()) {
            Kernels bigDd = new Kernels(kdd2, kdd);
            Kernels bigTd = new Kernels(ktd2, ktd);
            Kernels bigTt = Kernels.ofNngp(ktt2);
            double[] expectedInf;
            double[] expectedFinite;
            try (GradientDescentMseEnsemble alone = GradientDescentMseEnsemble.of(bigDd, targets, 1,
                    DiagReg.relative(DIAG_REG));
                 Gaussian inf = alone.predict(Posterior.NTK, Double.POSITIVE_INFINITY, bigTd, bigTt);
                 Gaussian fin = alone.predict(Posterior.NTK, 50, bigTd, bigTt)) {
                expectedInf = inf.covariance().toDoubleArray();
                expectedFinite = fin.covariance().toDoubleArray();
            }
            for (boolean predictor : new boolean[] {true, false}) {
                GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(bigDd, targets, 1,
                        DiagReg.relative(DIAG_REG));
                GpInference.Predictor gp = GpInference.gpInference(bigDd, targets, DiagReg.relative(DIAG_REG));
                ExecutorService pool = Executors.newFixedThreadPool(3);
                java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
                try {
                    java.util.List<Future<Integer>> workers = new java.util.ArrayList<>();
                    for (int w = 0; w < 3; w++) {
                        boolean finite = !predictor && w % 2 == 1;
                        workers.add(pool.submit(() -> {
                            for (int i = 0; ; i++) {
                                try (Gaussian g = predictor ? gp.predict(Posterior.NTK, bigTd, bigTt)
                                        : ens.predict(Posterior.NTK, finite ? 50 : Double.POSITIVE_INFINITY, bigTd,
                                        bigTt)) {
                                    assertClose(g.covariance(), Tensor.of(finite ? expectedFinite : expectedInf, m, m),
                                            1e-9);
                                    done.incrementAndGet();
                                } catch (IllegalStateException e) {
                                    assertThat(e).hasMessageEndingWith("used after close()");
                                    return i;
                                }
                            }
                        }));
                    }
                    // until three predictions have finished (or a worker has failed, which f.get reports)
                    while (done.get() < 3 && workers.stream().noneMatch(Future::isDone)) {
                        Thread.sleep(1);
                    }
                    if (predictor) {
                        gp.close();
                    } else {
                        ens.close();
                    }
                    for (Future<Integer> f : workers) {
                        // rethrows a worker's failed assertion or unexpected exception; a close that never
                        // returned (a deadlock) fails here rather than hanging the build
                        f.get(2, java.util.concurrent.TimeUnit.MINUTES);
                    }
                } finally {
                    pool.shutdownNow();
                    gp.close();
                    ens.close();
                }
            }
        }
    }

    @Test
    void aBadTestTrainKernelIsRefusedBeforeAnyFactorisation() {
        long before = Lapack.Cholesky.factorisations();
        try (GpInference.Predictor gp = GpInference.gpInference(dd, y, DiagReg.relative(DIAG_REG));
             GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(dd, y, ETA, DiagReg.relative(DIAG_REG))) {
            assertOneLine(() -> gp.predict(Posterior.NTK, Kernels.ofNngp(nngpTD)),
                    "gp_inference: the test-train NTK kernel is needed");
            assertOneLine(() -> gp.predict(Posterior.NNGP, Kernels.ofNngp(nngpTT)),
                    "gp_inference: a test-train kernel must be [M, 7], got [4, 4]");
            assertOneLine(() -> ens.predict(Posterior.NTK, Double.POSITIVE_INFINITY, Kernels.ofNngp(nngpTD)),
                    "gradient_descent_mse_ensemble: the test-train NTK kernel is needed");
            assertOneLine(() -> GpInference.infer(Posterior.NTK, ntkDD, null, null, null, null, null, y,
                    DiagReg.relative(DIAG_REG), false), "gp_inference: the test-train NTK kernel is needed");
        }
        assertThat(Lapack.Cholesky.factorisations() - before).isZero();
        // a singular train-train kernel (no regulariser) with no test-train kernel: the missing kernel is named, as
        // before the factorisations were kept (the factorisation is not tried)
        try (Tensor singular = Tensor.of(new double[] {1, 1, 1, 1}, 2, 2); Tensor y2 = Tensor.of(new double[] {1, 0},
                2, 1)) {
            assertOneLine(() -> GpInference.infer(Posterior.NTK, singular, null, null, null, null, null, y2,
                    DiagReg.relative(0), false), "gp_inference: the test-train NTK kernel is needed");
        }
    }

    @Test
    void badInputIsOneLineNamingTheArgument() {
        String who = "gradient_descent_mse_ensemble: ";
        assertOneLine(() -> GradientDescentMseEnsemble.of(null, y, 1, DiagReg.relative(0)), who + "trainTrain:");
        assertOneLine(() -> GradientDescentMseEnsemble.of(dd, null, 1, DiagReg.relative(0)),
                who + "targets must not be null");
        assertOneLine(() -> GradientDescentMseEnsemble.of(dd, y, 0, DiagReg.relative(0)),
                "learning rate: expected a positive");
        assertOneLine(() -> GradientDescentMseEnsemble.of(dd, y, Double.NaN, DiagReg.relative(0)), "learning rate:");
        assertOneLine(() -> GradientDescentMseEnsemble.of(dd, y, 1, DiagReg.relative(-1)),
                "diag_reg: expected a finite");
        assertOneLine(() -> GradientDescentMseEnsemble.of(Kernels.ofNtk(ntkTD), y, 1, DiagReg.relative(0)),
                who + "the train-train kernel must be [N, N], got [4, 7]");
        assertOneLine(() -> GradientDescentMseEnsemble.of(dd, nngpTD, 1, DiagReg.relative(0)),
                who + "targets must be [7, O], got [4, 7]");
        try (Tensor yNan = y.copy(); Tensor asym = ntkDD.copy();
             Tensor small = GpInferenceTest.block(p.nngp(), 0, 5, 0, 5)) {
            yNan.setFlat(3, Double.NaN);
            assertOneLine(() -> GradientDescentMseEnsemble.of(dd, yNan, 1, DiagReg.relative(0)), who + "targets: NaN");
            asym.setFlat(1, asym.getFlat(1) + 1);
            assertOneLine(() -> GradientDescentMseEnsemble.of(Kernels.ofNtk(asym), y, 1, DiagReg.relative(0)),
                    who + "the train-train NTK: not symmetric");
            assertOneLine(() -> GradientDescentMseEnsemble.of(new Kernels(small, ntkDD), y, 1, DiagReg.relative(0)),
                    who + "targets must be [5, O], got [7, 2]");
        }
        try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(Kernels.ofNtk(ntkDD), y, 1,
                DiagReg.relative(0.1))) {
            assertOneLine(() -> ens.predict(null, 1, td), who + "get: expected nngp or ntk, got null");
            assertOneLine(() -> ens.predict(Posterior.NTKGP, 1, td), who + "get: expected nngp or ntk, got ntkgp");
            assertOneLine(() -> ens.predict(Posterior.NNGP, 1, td), who + "get nngp: the train-train NNGP kernel is "
                    + "needed");
            assertOneLine(() -> ens.predict(Posterior.NTK, -1, td), "t: expected a time >= 0 (or infinity), got -1");
            assertOneLine(() -> ens.predict(Posterior.NTK, Double.NaN, td), "t: expected a time >= 0");
            assertOneLine(() -> ens.predict(Posterior.NTK, 1, null), who + "testTrain: the kernels must not be null");
            assertOneLine(() -> ens.predict(Posterior.NTK, 1, td, null), who + "testTest: the kernels must not be");
            assertOneLine(() -> ens.predictVariances(Posterior.NTK, 1, td, null), who + "testDiagonal:");
            assertOneLine(() -> ens.predict(Posterior.NTK, 1, Kernels.ofNtk(ntkTT)),
                    who + "a test-train kernel must be [M, 7], got [4, 4]");
            // the ntk covariance reads the NNGP, which this ensemble was not given: by name, at t finite and ∞
            for (double t : new double[] {1, Double.POSITIVE_INFINITY}) {
                assertOneLine(() -> ens.predict(Posterior.NTK, t, td, tt), who + "the train-train NNGP (the NTK "
                        + "covariance needs both kernels) kernel is needed");
            }
            try (Tensor bad = ntkTD.copy()) {
                bad.setFlat(5, Double.POSITIVE_INFINITY);
                assertOneLine(() -> ens.predict(Posterior.NTK, 1, Kernels.ofNtk(bad)),
                        who + "the test-train NTK kernel has Infinity at flat index 5");
            }
            ens.close();
            assertThatThrownBy(() -> ens.predict(Posterior.NTK, 1, td)).isInstanceOf(IllegalStateException.class)
                    .hasMessage(who + "used after close()");
        }
    }

    private static void assertOneLine(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String prefix) {
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(prefix)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
