package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.nn.GradientStep;
import org.ntk4j.nn.Linearized;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The function-space ODE for any loss: against explicit Euler, the MSE closed form and real training. */
class GradientDescentOdeTest {
    private static final int N = 4;
    private static final int O = 3;

    static Tensor kernel(long seed, int n) {
        double[][] k = GpInferenceTest.joint(seed, 6, 0.1);
        double[] v = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                v[i * n + j] = 3 * k[i][j];
            }
        }
        return Tensor.of(v, n, n);
    }

    static Tensor oneHot(int[] labels, int o) {
        double[] v = new double[labels.length * o];
        for (int i = 0; i < labels.length; i++) {
            v[i * o + labels[i]] = 1;
        }
        return Tensor.of(v, labels.length, o);
    }

    /** Explicit Euler on the same ODE (the state [f, q] with momentum), step h, up to τ. */
    static double[] euler(double[] k, double[] y, double[] f0, Loss loss, double lr, double momentum, double t,
                          double h) {
        boolean mom = !Double.isNaN(momentum);
        double tau = t * (mom ? Math.sqrt(lr) : lr);
        double mu = mom ? (momentum - 1) / Math.sqrt(lr) : 0;
        int no = f0.length;
        double[] f = f0.clone();
        double[] q = new double[no];
        double[] g = new double[no];
        int steps = (int) Math.round(tau / h);
        for (int s = 0; s < steps; s++) {
            loss.gradient(f, y, O, g);
            double[] kg = new double[no];
            for (int a = 0; a < N; a++) {
                for (int o = 0; o < O; o++) {
                    double acc = 0;
                    for (int b = 0; b < N; b++) {
                        acc += k[a * N + b] * g[b * O + o];
                    }
                    kg[a * O + o] = acc;
                }
            }
            for (int i = 0; i < no; i++) {
                if (mom) {
                    double fi = f[i] + h * q[i];
                    q[i] = q[i] + h * (-kg[i] + mu * q[i]);
                    f[i] = fi;
                } else {
                    f[i] -= h * kg[i];
                }
            }
        }
        return f;
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, 0.9})
    void crossEntropyOdeMatchesAFineEulerIntegration(double momentum) {
        try (Tensor k = kernel(1, N); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = oneHot(new int[] {0, 2, 1, 2}, O);
             Tensor f0 = Tensor.randomNormal(DType.F64, 5, N, O)) {
            double lr = 2.0;
            double t = 3.0;
            GradientDescentOde ode = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, lr, momentum);
            GradientDescentOde.Outputs[] r = ode.predict(new double[] {t}, f0, null, null);
            // Richardson extrapolation of two explicit Euler runs: first-order error cancels, O(h²) remains
            double[] e1 = euler(k.toDoubleArray(), y.toDoubleArray(), f0.toDoubleArray(), Loss.CROSS_ENTROPY, lr,
                    momentum, t, 2e-5);
            double[] e2 = euler(k.toDoubleArray(), y.toDoubleArray(), f0.toDoubleArray(), Loss.CROSS_ENTROPY, lr,
                    momentum, t, 1e-5);
            double moved = 0;
            for (int i = 0; i < N * O; i++) {
                double ref = 2 * e2[i] - e1[i];
                assertThat(r[0].train().getFlat(i)).as("f[" + i + "]")
                        .isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-6));
                moved = Math.max(moved, Math.abs(ref - f0.getFlat(i)));
            }
            assertThat(moved).as("the outputs moved").isGreaterThan(1e-2);
            r[0].close();
        }
    }

    @Test
    void mseOdeMatchesTheClosedFormOnTrainAndTest() {
        try (Tensor k = kernel(2, N); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.randomNormal(DType.F64, 3, N, O);
             Tensor kt = Tensor.randomNormal(DType.F64, 4, 2, N); Tensor f0 = Tensor.randomNormal(DType.F64, 6, N, O);
             Tensor f0t = Tensor.randomNormal(DType.F64, 7, 2, O);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 0.5, DiagReg.NONE)) {
            double[] ts = {0, 1.5, 40};
            GradientDescentOde.Outputs[] r = GradientDescentOde.of(km, y, Loss.MSE, 0.5, Double.NaN)
                    .predict(ts, f0, kt, f0t);
            for (int i = 0; i < ts.length; i++) {
                try (Tensor tr = gd.predictTrain(ts[i], f0); Tensor te = gd.predictTest(ts[i], kt, f0, f0t)) {
                    for (int e = 0; e < tr.size(); e++) {
                        assertThat(r[i].train().getFlat(e)).isCloseTo(tr.getFlat(e),
                                org.assertj.core.data.Offset.offset(1e-8));
                    }
                    for (int e = 0; e < te.size(); e++) {
                        assertThat(r[i].test().getFlat(e)).isCloseTo(te.getFlat(e),
                                org.assertj.core.data.Offset.offset(1e-8));
                    }
                }
                r[i].close();
            }
        }
    }

    @Test
    void crossEntropyOdeMatchesTrainingTheLinearisedNetworkBySmallSteps() {
        Model net = Zoo.parse("fcn(depth=1,width=12,out=3,act=tanh)");
        int[] in = {4};
        Params p0 = net.init(3, in, DType.F64);
        Model lin = Linearized.linearize(net, p0);
        int n = 5;
        Tensor x = Tensor.randomNormal(DType.F64, 8, n, 4);
        Tensor xTest = Tensor.randomNormal(DType.F64, 9, 2, 4);
        int[] labels = {0, 1, 2, 1, 0};
        double step = 0.25;
        int steps = 400;
        try (Tensor y = oneHot(labels, O);
             Tensor kFull = EmpiricalNtk.of(lin, p0).traceAxes().method(Method.JACOBIAN_CONTRACTION).ntk(x, null);
             Tensor kTest = EmpiricalNtk.of(lin, p0).traceAxes().method(Method.JACOBIAN_CONTRACTION).ntk(xTest, x);
             KernelMatrix km = KernelMatrix.of(kFull); Tensor f0 = lin.apply(p0, x);
             Tensor f0t = lin.apply(p0, xTest)) {
            Params q = p0;
            for (int s = 0; s < steps; s++) {
                try (Tensor f = lin.apply(q, x)) {
                    double[] g = new double[n * O];
                    Loss.CROSS_ENTROPY.gradient(f.toDoubleArray(), y.toDoubleArray(), O, g);
                    try (Tensor gt = Tensor.of(g, n, O)) {
                        Params next = GradientStep.step(lin, q, x, gt, step);
                        if (q != p0) {
                            q.close();
                        }
                        q = next;
                    }
                }
            }
            GradientDescentOde.Outputs[] r = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, step, Double.NaN)
                    .predict(new double[] {steps}, f0, kTest, f0t);
            try (Tensor trained = lin.apply(q, x); Tensor trainedTest = lin.apply(q, xTest)) {
                double diff = 0;
                double moved = 0;
                for (int i = 0; i < trained.size(); i++) {
                    diff = Math.max(diff, Math.abs(trained.getFlat(i) - r[0].train().getFlat(i)));
                    moved = Math.max(moved, Math.abs(trained.getFlat(i) - f0.getFlat(i)));
                }
                for (int i = 0; i < trainedTest.size(); i++) {
                    diff = Math.max(diff, Math.abs(trainedTest.getFlat(i) - r[0].test().getFlat(i)));
                }
                assertThat(moved).as("training moved the outputs").isGreaterThan(0.1);
                assertThat(diff).as("gradient descent vs its flow (step " + step + ")").isLessThan(0.02 * moved);
            }
            r[0].close();
        }
    }

    /**
     * A zero train kernel (outputs that do not depend on the parameters): gradient descent never moves the
     * linearised outputs, so every learning rate is stable and the answer is +∞ (it threw "no positive eigenvalue",
     * which stopped a prediction over a side figure); a kernel that is not positive semi-definite is refused, named.
     */
    @Test
    void maxLearningRateOfAZeroKernelIsInfiniteAndOfANegativeOneAnError() {
        try (Tensor zero = Tensor.zeros(DType.F64, 3, 3); KernelMatrix km = KernelMatrix.of(zero)) {
            assertThat(GradientDescentOde.maxLearningRate(km, 6, Double.NaN)).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(GradientDescentOde.maxLearningRate(km, 6, 0.5)).isEqualTo(Double.POSITIVE_INFINITY);
        }
        try (Tensor negative = Tensor.of(new double[] {-2, 0, 0, -1}, 2, 2);
             KernelMatrix km = KernelMatrix.of(negative)) {
            assertThatThrownBy(() -> GradientDescentOde.maxLearningRate(km, 2, Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("max learning rate: the train-train kernel [2, 2] must be positive "
                            + "semi-definite, its largest eigenvalue is -");
        }
    }

    @Test
    void maxLearningRateUsesLanczosLambdaMax() {
        try (Tensor k = kernel(4, 9); KernelMatrix km = KernelMatrix.of(k)) {
            double[] ev = Lapack.symmetricEigenvalues(k);
            double lambda = GradientDescentOde.largestEigenvalue(km, 1e-14, 100);
            assertThat(lambda).isCloseTo(ev[ev.length - 1], org.assertj.core.data.Offset.offset(1e-10 * ev[8]));
            assertThat(GradientDescentOde.maxLearningRate(km, 27, Double.NaN))
                    .isCloseTo(2 * 27 / ev[8], org.assertj.core.data.Offset.offset(1e-9));
            assertThat(GradientDescentOde.maxLearningRate(km, 27, 0.5))
                    .isCloseTo(3 * 27 / ev[8], org.assertj.core.data.Offset.offset(1e-9));
            assertThatThrownBy(() -> GradientDescentOde.maxLearningRate(km, 0, Double.NaN))
                    .hasMessageContaining("targets").hasMessageContaining("got 0");
            assertThatThrownBy(() -> GradientDescentOde.maxLearningRate(km, 27, -0.5))
                    .hasMessageContaining("momentum must be in [0, 1)").hasMessageContaining("got -0.5");
            assertThatThrownBy(() -> GradientDescentOde.maxLearningRate(km, 27, 1.0))
                    .hasMessageContaining("momentum must be in [0, 1)");
        }
        SplittableRandom r = new SplittableRandom(1);
        double[] big = new double[60 * 60];
        double[][] j = new double[60][8];
        for (double[] row : j) {
            for (int c = 0; c < 8; c++) {
                row[c] = r.nextGaussian();
            }
        }
        for (int a = 0; a < 60; a++) {
            for (int b = 0; b < 60; b++) {
                double s = 0;
                for (int c = 0; c < 8; c++) {
                    s += j[a][c] * j[b][c];
                }
                big[a * 60 + b] = s;
            }
        }
        try (Tensor k = Tensor.of(big, 60, 60); KernelMatrix km = KernelMatrix.of(k)) {
            double[] ev = Lapack.symmetricEigenvalues(k);
            assertThat(GradientDescentOde.largestEigenvalue(km, 1e-14, 1000))
                    .isCloseTo(ev[59], org.assertj.core.data.Offset.offset(1e-10 * ev[59]));
        }
    }

    /**
     * A kernel of finite entries near float64's largest (inputs of 1e150) or its smallest: λ_max is that of the kernel
     * scaled to order 1, times the scale, to the same relative tolerance. Before 2026-12-07 the squared norms of
     * the Lanczos vectors overflowed, and LAPACK refused the NaN tridiagonal matrix with an IllegalStateException
     * (predict printed its stack trace).
     */
    @Test
    void lambdaMaxOfAKernelNearTheEndsOfTheRangeIsFinite() {
        try (Tensor k = kernel(4, 9)) {
            double[] ev = Lapack.symmetricEigenvalues(k);
            for (double scale : new double[] {1e300, 3e-300}) {
                double[] scaled = k.toDoubleArray();
                for (int i = 0; i < scaled.length; i++) {
                    scaled[i] *= scale;
                }
                try (Tensor big = Tensor.of(scaled, 9, 9); KernelMatrix km = KernelMatrix.of(big)) {
                    double lambda = GradientDescentOde.largestEigenvalue(km, 1e-14, 100);
                    assertThat(lambda / scale).as("scale %s", scale)
                            .isCloseTo(ev[8], org.assertj.core.data.Offset.offset(1e-10 * ev[8]));
                    assertThat(GradientDescentOde.maxLearningRate(km, 27, Double.NaN) * scale).as("scale %s", scale)
                            .isCloseTo(2 * 27 / ev[8], org.assertj.core.data.Offset.offset(1e-9));
                }
            }
        }
    }

    @Test
    void badArgumentsAreNamed() {
        try (Tensor k = kernel(2, N); KernelMatrix km = KernelMatrix.of(k); Tensor y = Tensor.zeros(DType.F64, N, O)) {
            assertThatThrownBy(() -> GradientDescentOde.of(km, y, Loss.MSE, 1, 1.0)).hasMessageContaining("--momentum");
            assertThatThrownBy(() -> GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN)
                    .predict(new double[] {Double.POSITIVE_INFINITY}, null, null, null)).hasMessageContaining("finite");
        }
        assertThatThrownBy(() -> Loss.parse("hinge")).hasMessageContaining("mse or cross-entropy");
    }

    @Test
    void aLearningRateFarTooLargeStopsAtTheEvaluationCapNamingTheTime() {
        try (Tensor k = kernel(1, N); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = oneHot(new int[] {0, 2, 1, 2}, O);
             Tensor f0 = Tensor.randomNormal(DType.F64, 5, N, O)) {
            GradientDescentOde ode = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, 1e300, Double.NaN)
                    .maxEvaluations(20_000);
            assertThatThrownBy(() -> ode.predict(new double[] {0, 1, 2}, f0, null, null))
                    .hasMessageContaining("stopped after 20000 right-hand side evaluations short of t = 1.0")
                    .hasMessageContaining("learning rate 1.0E300");
            assertThat(ode.evaluations()).isEqualTo(20_000);
            // the same predictor at a convergent learning rate stays far below the cap
            GradientDescentOde fine = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, 1, Double.NaN)
                    .maxEvaluations(20_000);
            GradientDescentOde.Outputs[] r = fine.predict(new double[] {0, 1, 2}, f0, null, null);
            assertThat(fine.evaluations()).isPositive().isLessThan(20_000);
            for (GradientDescentOde.Outputs o : r) {
                o.close();
            }
            assertThatThrownBy(() -> fine.maxEvaluations(0)).hasMessageContaining("max evaluations");
        }
    }
    /**
     * With diag_reg the training outputs move with K + r·I (r relative to the mean diagonal, or absolute), so the
     * MSE ODE without momentum integrates gradient_descent_mse's regularised flow: NumPy's closed form
     * (numpy_predict_oracle.py's shared-layout block: learning rate 0.7, diag_reg 1e-2 × trace/3 = 0.03, f0 ≠ 0),
     * to the integrator's tolerance.
     */
    @Test
    void mseWithDiagRegIntegratesTheRegularisedClosedForm() {
        double[][] train = {
            {0.2993941674831999, -0.11827418151348244, 0.30476828294461383, 0.21013427631775483,
                0.04134288689173132, 0.1914792465210341},
            {1.0000227775120514, -2.216657202375183e-06, 3.1933382615978445e-06, 0.9999936279369679,
                0.9998917581489543, 2.6655378673190455e-05}};
        double[][] test = {
            {0.24956845743680003, 0.13215181125987524, -0.22504544748198962, 0.3722188209251681},
            {0.4111655047150462, 0.22238424947709245, 0.30283140929540037, 0.15025095715825912}};
        try (Tensor k = Tensor.of(NumpyPredictOracleTest.K, 3, 3);
             Tensor kt = Tensor.of(NumpyPredictOracleTest.K_TEST, 2, 3);
             Tensor y = Tensor.of(NumpyPredictOracleTest.Y, 3, 2);
             Tensor f0 = Tensor.of(NumpyPredictOracleTest.F0, 3, 2);
             Tensor f0t = Tensor.of(NumpyPredictOracleTest.F0_TEST, 2, 2); KernelMatrix km = KernelMatrix.of(k)) {
            GradientDescentOde relative = GradientDescentOde.of(km, y, Loss.MSE, 0.7, Double.NaN,
                    DiagReg.relative(1e-2));
            GradientDescentOde absolute = GradientDescentOde.of(km, y, Loss.MSE, 0.7, Double.NaN,
                    DiagReg.absolute(0.03));
            assertThat(relative.regulariser()).isCloseTo(0.03, org.assertj.core.data.Offset.offset(1e-16));
            assertThat(absolute.regulariser()).isEqualTo(0.03);
            assertThat(GradientDescentOde.of(km, y, Loss.MSE, 0.7, Double.NaN).regulariser()).isZero();
            for (GradientDescentOde ode : new GradientDescentOde[] {relative, absolute}) {
                GradientDescentOde.Outputs[] out = ode.predict(new double[] {0.5, 40}, f0, kt, f0t);
                try (GradientDescentOde.Outputs a = out[0]; GradientDescentOde.Outputs b = out[1]) {
                    for (int i = 0; i < 2; i++) {
                        GradientDescentOde.Outputs o = i == 0 ? a : b;
                        double[] tr = o.train().toDoubleArray();
                        double[] te = o.test().toDoubleArray();
                        for (int j = 0; j < tr.length; j++) {
                            assertThat(tr[j]).as("train t_%d [%d]", i, j)
                                    .isCloseTo(train[i][j], org.assertj.core.data.Offset.offset(1e-8));
                        }
                        for (int j = 0; j < te.length; j++) {
                            assertThat(te[j]).as("test t_%d [%d]", i, j)
                                    .isCloseTo(test[i][j], org.assertj.core.data.Offset.offset(1e-8));
                        }
                    }
                }
            }
            assertThatThrownBy(() -> GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN, DiagReg.relative(-1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("diag_reg: expected a finite number >= 0, got -1.0");
        }
    }
}
