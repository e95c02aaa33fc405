package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.Examples;

/**
 * {@link Predict#run}, the library form of {@code ntk4j predict}: its kernel regression against the eNTK's
 * regression solved by hand (Gaussian elimination, float64), its per-time figures against the predictions, several
 * times at once against one at a time, the posterior's figures, and the request's refusals.
 */
class PredictTest {
    static final Model NET = Zoo.parse("fcn(depth=2,width=16,out=3)");
    static final int N = 12;
    static final int M = 7;
    static final int O = 3;

    private static Tensor inputs(Random r, int n) {
        double[] x = new double[n * 5];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        return Tensor.of(x, n, 5);
    }

    private static int[] labels(Random r, int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = r.nextInt(O);
        }
        return l;
    }

    @Test
    void kernelRegressionEqualsTheRegressionSolvedByHand() {
        Random r = new Random(3);
        int[] yTrain = labels(r, N);
        int[] yTest = labels(r, M);
        double reg = 1e-3;
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(1, new int[] {5}, DType.F64)) {
            PredictRequest q = PredictRequest.of(NET, p, new Examples(xTr, yTrain, O), new Examples(xTe, yTest, O))
                    .withKind(KernelKind.trace()).withMethod(Method.JACOBIAN_CONTRACTION, 1L << 30)
                    .withDiagReg(DiagReg.absolute(reg));
            // oracle: K_test,train (K + r I)^-1 Y with the trace eNTK, by Gaussian elimination
            double[][] expected;
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p);
            try (Tensor k = ntk.kernel(KernelKind.trace(), xTr, null);
                 Tensor kt = ntk.kernel(KernelKind.trace(), xTe, xTr)) {
                double[][] a = GradientDescentMseTest.array(k);
                for (int i = 0; i < N; i++) {
                    a[i][i] += reg;
                }
                double[][] y = new double[N][O];
                for (int i = 0; i < N; i++) {
                    y[i][yTrain[i]] = 1;
                }
                double[][] alpha = GradientDescentMseTest.gaussSolve(a, y);
                double[][] b = GradientDescentMseTest.array(kt);
                expected = new double[M][O];
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < N; j++) {
                        for (int c = 0; c < O; c++) {
                            expected[i][c] += b[i][j] * alpha[j][c];
                        }
                    }
                }
            }
            try (PredictResult res = Predict.run(q)) {
                assertThat(res.solver()).isEqualTo(PredictResult.Solver.CLOSED_FORM);
                assertThat(res.method()).isEqualTo(Method.JACOBIAN_CONTRACTION);
                assertThat(res.predictions().shape()).containsExactly(M, O);
                GradientDescentMseTest.assertClose(GradientDescentMseTest.array(res.predictions()), expected, 1e-9);
                assertThat(res.regulariser()).isEqualTo(reg);
                assertThat(res.fullKernel()).isFalse();
                assertThat(res.maxLearningRate()).isPositive().isFinite();
                // the figures are those of the predictions
                PredictResult.TimePoint t = res.points().get(0);
                int right = 0;
                double sq = 0;
                for (int i = 0; i < M; i++) {
                    int best = 0;
                    for (int c = 1; c < O; c++) {
                        best = expected[i][c] > expected[i][best] ? c : best;
                    }
                    right += best == yTest[i] ? 1 : 0;
                    for (int c = 0; c < O; c++) {
                        double d = expected[i][c] - (c == yTest[i] ? 1 : 0);
                        sq += d * d;
                    }
                }
                assertThat(t.t()).isInfinite();
                assertThat(t.testAccuracy()).isEqualTo(right / (double) M);
                assertThat(t.testLoss()).isCloseTo(sq / (M * O), org.assertj.core.data.Percentage.withPercentage(1e-6));
                // t = ∞ interpolates the (lightly regularised) training targets
                assertThat(t.trainAccuracy()).isEqualTo(1.0);
            }
        }
    }

    @Test
    void severalTimesAtOnceAreEachTimeAlone() {
        Random r = new Random(5);
        int[] yTrain = labels(r, N);
        int[] yTest = labels(r, M);
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(2, new int[] {5}, DType.F64)) {
            PredictRequest base = PredictRequest.of(NET, p, new Examples(xTr, yTrain, O),
                    new Examples(xTe, yTest,
                            O)).withKind(KernelKind.full()).withDiagReg(DiagReg.relative(1e-4)).withLearningRate(0.5)
                    .withInitOutputs(true);
            double[] times = {3, 30, Double.POSITIVE_INFINITY};
            try (PredictResult all = Predict.run(base.withTimes(times))) {
                assertThat(all.predictions().shape()).containsExactly(3, M, O);
                assertThat(all.fullKernel()).isTrue();
                double[] flat = all.predictions().toDoubleArray();
                for (int i = 0; i < times.length; i++) {
                    try (PredictResult one = Predict.run(base.withTimes(times[i]))) {
                        double[] alone = one.predictions().toDoubleArray();
                        for (int j = 0; j < alone.length; j++) {
                            assertThat(flat[i * M * O + j]).as("t = %s, entry %d", times[i], j)
                                    .isCloseTo(alone[j], org.assertj.core.data.Offset.offset(1e-9 * (1
                                            + Math.abs(alone[j]))));
                        }
                        assertThat(all.points().get(i).testLoss()).isCloseTo(one.points().get(0).testLoss(),
                                org.assertj.core.data.Offset.offset(1e-9));
                    }
                }
                // more time, lower train loss
                assertThat(all.points().get(1).trainLoss()).isLessThan(all.points().get(0).trainLoss());
            }
        }
    }

    /**
     * The ODE (cross-entropy, here with momentum) trains with K + r·I, r the request's diag_reg, as the closed form
     * does: the same outputs as {@link GradientDescentOde} on the trace eNTK regularised by hand (r = diag_reg ×
     * the mean diagonal, or diag_reg itself); diag_reg 0 is neural-tangents' unregularised gradient_descent. (The ODE
     * ignored the request's diag_reg, so --diag-reg changed nothing with --loss or --momentum.)
     */
    @Test
    void theOdeTrainsWithTheRequestsDiagReg() {
        Random r = new Random(11);
        int[] yTrain = labels(r, N);
        int[] yTest = labels(r, M);
        double[] ts = {2, 20};
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(4, new int[] {5}, DType.F64);
             Tensor y = GradientDescentOdeTest.oneHot(yTrain, O)) {
            PredictRequest base = PredictRequest.of(NET, p, new Examples(xTr, yTrain, O), new Examples(xTe, yTest, O))
                    .withKind(KernelKind.trace()).withMethod(Method.JACOBIAN_CONTRACTION, 1L << 30).withTimes(ts)
                    .withLearningRate(3);
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p);
            try (Tensor k = ntk.kernel(KernelKind.trace(), xTr, null);
                 Tensor kt = ntk.kernel(KernelKind.trace(), xTe, xTr)) {
                double[] kv = k.toDoubleArray();
                double trace = 0;
                for (int i = 0; i < N; i++) {
                    trace += kv[i * N + i];
                }
                double[][] cases = {{0.5, 0}, {0.7, 1}, {0, 0}}; // {diag_reg, absolute}
                for (double[] c : cases) {
                    boolean absolute = c[1] == 1;
                    double reg = absolute ? c[0] : c[0] * trace / N;
                    double[] kr = kv.clone();
                    for (int i = 0; i < N; i++) {
                        kr[i * N + i] += reg;
                    }
                    PredictRequest q = base.withDiagReg(absolute ? DiagReg.absolute(c[0]) : DiagReg.relative(c[0]))
                            .withLoss(Loss.CROSS_ENTROPY, 0.5);
                    try (Tensor kRegT = Tensor.of(kr, N, N); KernelMatrix kReg = KernelMatrix.of(kRegT);
                         PredictResult res = Predict.run(q)) {
                        assertThat(res.solver()).isEqualTo(PredictResult.Solver.ODE);
                        assertThat(res.regulariser()).as("r for %s", java.util.Arrays.toString(c))
                                .isCloseTo(reg, org.assertj.core.data.Offset.offset(1e-12 * (1 + reg)));
                        GradientDescentOde.Outputs[] expected = GradientDescentOde.of(kReg, y, Loss.CROSS_ENTROPY, 3,
                                0.5).predict(ts, null, kt, null);
                        double[] got = res.predictions().toDoubleArray();
                        for (int i = 0; i < ts.length; i++) {
                            try (GradientDescentOde.Outputs e = expected[i]) {
                                double[] want = e.test().toDoubleArray();
                                for (int j = 0; j < want.length; j++) {
                                    assertThat(got[i * M * O + j]).as("%s t = %s [%d]", java.util.Arrays.toString(c),
                                            ts[i], j).isCloseTo(want[j], org.assertj.core.data.Offset.offset(1e-9));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theNngpPosteriorHasNoTrainingFigures() {
        Random r = new Random(7);
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(3, new int[] {5}, DType.F64)) {
            PredictRequest q = PredictRequest.of(NET, p, new Examples(xTr, labels(r, N), O),
                    new Examples(xTe, labels(r, M), O)).withKind(KernelKind.trace())
                    .withPosterior(GpInference.Posterior.NNGP).withCovariance(true);
            try (PredictResult res = Predict.run(q)) {
                assertThat(res.solver()).isEqualTo(PredictResult.Solver.POSTERIOR);
                assertThat(res.maxLearningRate()).isNaN(); // no NTK computed
                assertThat(res.covariance().shape()).containsExactly(M, M);
                assertThat(res.meanVariance()).isPositive();
                assertThat(res.points()).hasSize(1);
                assertThat(res.points().get(0).trainLoss()).isNaN();
            }
        }
    }

    /**
     * Without the covariance asked for, each posterior computes only its diagonal, from each test point's kernels
     * with itself ([M] instead of [M, M]): the same mean and mean variance as with the covariance (float64, 1e-10),
     * for the pNTK, the trace and a probes kind.
     */
    @Test
    void theMeanVarianceWithoutTheCovarianceIsTheCovariancesMeanDiagonal() {
        Random r = new Random(8);
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(5, new int[] {5}, DType.F64)) {
            for (GpInference.Posterior post : GpInference.Posterior.values()) {
                for (KernelKind kind : new KernelKind[] {KernelKind.parse("pntk", 0), KernelKind.trace(),
                    KernelKind.parse("probes:3", 2)}) {
                    PredictRequest q = PredictRequest.of(NET, p, new Examples(xTr, labels(r, N), O),
                            new Examples(xTe, labels(r, M), O)).withKind(kind);
                    try (PredictResult full = Predict.run(q.withPosterior(post).withCovariance(true));
                         PredictResult diagonal = Predict.run(q.withPosterior(post))) {
                        assertThat(diagonal.covariance()).isNull();
                        assertThat(diagonal.meanVariance()).as("%s %s", post, kind)
                                .isCloseTo(full.meanVariance(), org.assertj.core.data.Offset.offset(1e-10
                                        * Math.abs(full.meanVariance())));
                        double[] a = full.predictions().toDoubleArray();
                        double[] b = diagonal.predictions().toDoubleArray();
                        for (int i = 0; i < a.length; i++) {
                            assertThat(b[i]).isEqualTo(a[i]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void meaninglessRequestsAreRefusedBeforeAnyWork() {
        Random r = new Random(9);
        try (Tensor xTr = inputs(r, N); Tensor xTe = inputs(r, M); Params p = NET.init(4, new int[] {5}, DType.F64)) {
            PredictRequest q = PredictRequest.of(NET, p, new Examples(xTr, labels(r, N), O),
                    new Examples(xTe, labels(r, M), O));
            assertThatThrownBy(() -> q.withKind(KernelKind.parse("diagonal", 0)))
                    .hasMessageStartingWith("--kind: diagonal gives one N×N kernel per output");
            assertThatThrownBy(() -> q.withKind(KernelKind.full()).withPosterior(GpInference.Posterior.NTK))
                    .hasMessageContaining("needs an N×N kernel");
            assertThatThrownBy(() -> q.withLoss(Loss.CROSS_ENTROPY, Double.NaN))
                    .hasMessageContaining("the ODE is integrated to finite times");
            assertThatThrownBy(() -> q.withTimes(10).withLoss(Loss.MSE, 1.5)).hasMessageContaining("[0, 1)");
            assertThatThrownBy(() -> q.withTimes()).hasMessage("--t: no time given");
            // the posterior is over initialisations (mean 0 at t = 0): a network's own f0 was dropped without a word
            assertThatThrownBy(() -> q.withInitOutputs(true).withPosterior(GpInference.Posterior.NTK))
                    .hasMessageStartingWith("--f0 init: --posterior ntk is the Gaussian over initialisations");
            // a covariance is a posterior's: refused without one, and dropped with the posterior
            assertThatThrownBy(() -> q.withCovariance(true)).hasMessage("--cov: needs --posterior nngp|ntk|ntkgp");
            PredictRequest withCov = q.withPosterior(GpInference.Posterior.NNGP).withCovariance(true);
            assertThat(withCov.covariance()).isTrue();
            assertThat(withCov.withPosterior(GpInference.Posterior.NTK).covariance()).isTrue();
            assertThat(withCov.withPosterior(null).covariance()).isFalse();
            assertThat(withCov.withPosterior(null).posterior()).isNull();
            assertThatThrownBy(() -> q.withTimes(-1)).hasMessageContaining("expected times >= 0");
            assertThatThrownBy(() -> PredictRequest.of(Zoo.parse("fcn(depth=1,width=4,out=2)"), p,
                    new Examples(xTr, new int[N], 2), new Examples(xTe, new int[M], 3)))
                    .hasMessageContaining("classes");
        }
    }
}
