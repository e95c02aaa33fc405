package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.Tensor;

/**
 * Predictions against an independent NumPy oracle in float64 (numpy_predict_oracle.py next to this class in the
 * test resources: neural-tangents' closed forms written with eigh and solve): gradient_descent_mse with a relative
 * diag_reg, f0 ≠ 0, N ≠ M and two outputs at finite t and t = ∞; the full NO×NO layout; gp_inference's three
 * posteriors, mean and covariance; max_learning_rate with and without momentum; gradient_descent_mse_ensemble at
 * finite t; the full layout with a relative diag_reg, f0 and a learning rate. Different computation orders
 * (LAPACK's dsyevd against NumPy's, Lanczos against eigh) agree to round-off: relative 1e-12.
 */
class NumpyPredictOracleTest {
    static final double INF = Double.POSITIVE_INFINITY;
    static final double TOL = 1e-12;

    static final double[] K = {4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0};
    static final double[] K_TEST = {1.0, 0.5, 0.2, 0.3, -0.4, 0.9};
    static final double[] Y = {1, 0, 0, 1, 1, 0};
    static final double[] F0 = {0.1, -0.2, 0.3, 0.05, -0.1, 0.2};
    static final double[] F0_TEST = {0.2, 0.1, -0.3, 0.4};

    static void assertClose(String what, double[] actual, double... expected) {
        assertThat(actual).as(what).hasSize(expected.length);
        double scale = 0;
        for (double e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(actual[i] - expected[i])).as(what + " [" + i + "]: " + actual[i] + " vs "
                    + expected[i]).isLessThanOrEqualTo(TOL * scale);
        }
    }

    @Test
    void gradientDescentMseWithRelativeDiagRegAndInitialOutputs() {
        try (Tensor k = Tensor.of(K, 3, 3); Tensor kt = Tensor.of(K_TEST, 2, 3); Tensor y = Tensor.of(Y, 3, 2);
             Tensor f0 = Tensor.of(F0, 3, 2); Tensor f0t = Tensor.of(F0_TEST, 2, 2);
             KernelMatrix km = KernelMatrix.of(k); GradientDescentMse gd = GradientDescentMse.of(km, y, 0.7,
                     DiagReg.relative(1e-2))) {
            assertThat(gd.regulariser()).isCloseTo(0.03, org.assertj.core.data.Offset.offset(1e-16));
            double[][] train = {
                {0.2993941674831999, -0.11827418151348244, 0.30476828294461383, 0.21013427631775483,
                    0.04134288689173132, 0.1914792465210341},
                {1.0000227775120514, -2.216657202375183e-06, 3.1933382615978445e-06, 0.9999936279369679,
                    0.9998917581489543, 2.6655378673190455e-05},
                {1, 0, 0, 1, 1, 0}};
            double[][] test = {
                {0.24956845743680003, 0.13215181125987524, -0.22504544748198962, 0.3722188209251681},
                {0.4111655047150462, 0.22238424947709245, 0.30283140929540037, 0.15025095715825912},
                {0.41116397445360076, 0.22238437505657477, 0.30287874090374495, 0.15023806199680237}};
            double[] ts = {0.5, 40, INF};
            for (int i = 0; i < ts.length; i++) {
                try (Tensor fTrain = gd.predictTrain(ts[i], f0); Tensor fTest = gd.predictTest(ts[i], kt, f0, f0t)) {
                    assertClose("train t = " + ts[i], fTrain.toDoubleArray(), train[i]);
                    assertClose("test t = " + ts[i], fTest.toDoubleArray(), test[i]);
                }
            }
            assertThat(GradientDescentOde.maxLearningRate(km, 6, Double.NaN)).isCloseTo(2.5415274585363448,
                    org.assertj.core.data.Percentage.withPercentage(1e-10));
            assertThat(GradientDescentOde.maxLearningRate(km, 6, 0.5)).isCloseTo(3.8122911878045174,
                    org.assertj.core.data.Percentage.withPercentage(1e-10));
        }
    }

    @Test
    void fullKernelIsTheNoByNoMatrix() {
        double[] full = {3.0, 0.4, 0.4, 2.5, 1.0, 0.2, -0.3, 0.6, 1.0, -0.3, 0.2, 0.6, 2.0, 0.1, 0.1, 1.5};
        double[] fullTest = {0.5, 0.1, 0.0, 0.7, 0.3, -0.2, 0.2, 0.4};
        try (Tensor k = Tensor.of(full, 2, 2, 2, 2); Tensor kt = Tensor.of(fullTest, 1, 2, 2, 2);
             Tensor y = Tensor.of(new double[] {0, 1, 1, 0}, 2, 2); KernelMatrix km = KernelMatrix.of(k);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(0));
             Tensor f3 = gd.predictTest(3, kt, null, null); Tensor fInf = gd.predictTest(INF, kt, null, null)) {
            assertClose("full t = 3", f3.toDoubleArray(), 0.12425962654180167, 0.33280286588331137);
            assertClose("full t = inf", fInf.toDoubleArray(), 0.17975460122699385, 0.4740030674846626);
        }
    }

    @Test
    void gpInferenceMeansAndCovariances() {
        double[] theta = {4.0, 1.0, 0.5, 1.0, 0.3, 1.0, 3.0, 0.2, 0.5, -0.4, 0.5, 0.2, 2.0, 0.2, 0.9,
            1.0, 0.5, 0.2, 2.0, 0.1, 0.3, -0.4, 0.9, 0.1, 1.5};
        double[] nngp = {2.0, 0.6, 0.1, 0.5, 0.2, 0.6, 1.5, 0.3, 0.2, -0.1, 0.1, 0.3, 1.2, 0.1, 0.4,
            0.5, 0.2, 0.1, 1.1, 0.05, 0.2, -0.1, 0.4, 0.05, 0.9};
        double[][] mean = {
            {0.2933548503072197, 0.02692954662172187, 0.5038947968390957, -0.1931469885369132},
            {0.2566799944481315, 0.08957810019289524, 0.5099715160471278, -0.18270710939989507},
            {0.2566799944481315, 0.08957810019289524, 0.5099715160471278, -0.18270710939989507}};
        double[][] cov = {
            {0.970375500651808, -0.017197432964152812, -0.017197432964152812, 0.7068460579044834},
            {0.9745388846695031, -0.017529843277673096, -0.017529843277673096, 0.7205745297244459},
            {1.726632593488025, 0.03775101321826563, 0.03775101321826563, 1.0066489705018193}};
        Posterior[] order = {Posterior.NNGP, Posterior.NTK, Posterior.NTKGP};
        try (Tensor th = Tensor.of(theta, 5, 5); Tensor kn = Tensor.of(nngp, 5, 5);
             Tensor thDD = block(th, 0, 3, 0, 3); Tensor thTD = block(th, 3, 2, 0, 3);
             Tensor thTT = block(th, 3, 2, 3, 2); Tensor kDD = block(kn, 0, 3, 0, 3);
             Tensor kTD = block(kn, 3, 2, 0, 3); Tensor kTT = block(kn, 3, 2, 3, 2);
             Tensor y = Tensor.of(Y, 3, 2)) {
            for (int g = 0; g < order.length; g++) {
                try (Gaussian gauss = GpInference.infer(order[g], thDD, thTD, thTT, kDD, kTD, kTT, y,
                        DiagReg.relative(1e-2), true)) {
                    assertClose(order[g] + " mean", gauss.mean().toDoubleArray(), mean[g]);
                    assertClose(order[g] + " covariance", gauss.covariance().toDoubleArray(), cov[g]);
                }
            }
        }
    }

    /**
     * gradient_descent_mse_ensemble at finite t (learning rate 0.7, diag_reg 1e-2 relative to each decomposed
     * kernel's mean diagonal): the test mean and covariance of nngp and ntk, against a line-by-line NumPy port of
     * neural-tangents' einsums (the script's "ensemble" block).
     */
    @Test
    void gradientDescentMseEnsembleAtFiniteTimes() {
        double[] theta = {4.0, 1.0, 0.5, 1.0, 0.3, 1.0, 3.0, 0.2, 0.5, -0.4, 0.5, 0.2, 2.0, 0.2, 0.9,
            1.0, 0.5, 0.2, 2.0, 0.1, 0.3, -0.4, 0.9, 0.1, 1.5};
        double[] nngp = {2.0, 0.6, 0.1, 0.5, 0.2, 0.6, 1.5, 0.3, 0.2, -0.1, 0.1, 0.3, 1.2, 0.1, 0.4,
            0.5, 0.2, 0.1, 1.1, 0.05, 0.2, -0.1, 0.4, 0.05, 0.9};
        double[] ts = {0.5, 40};
        double[][][] nngpExpected = {
            {{0.03277492831996281, 0.010644034526102054, 0.033586525132605474, -0.005967722132743004},
                {1.0694595076719526, 0.03759950427041775, 0.03759950427041775, 0.8771619019740889}},
            {{0.2922722196692377, 0.027771895902117823, 0.4989982714901581, -0.18983031252837906},
                {0.9703767554017138, -0.017192101017097824, -0.017192101017097852, 0.7068695517778428}}};
        double[][][] ntkExpected = {
            {{0.06123299800731564, 0.02520780033955429, 0.06493303944849287, -0.02210900838799122},
                {1.0448747674244774, 0.03145453306765079, 0.03145453306765079, 0.853071665410577}},
            {{0.25668137537560065, 0.08957859473138106, 0.5099306627080359, -0.18270728476289108},
                {0.9745389226488252, -0.01752908896705841, -0.017529088967058407, 0.7205620561686066}}};
        try (Tensor th = Tensor.of(theta, 5, 5); Tensor kn = Tensor.of(nngp, 5, 5);
             Tensor thDD = block(th, 0, 3, 0, 3); Tensor thTD = block(th, 3, 2, 0, 3);
             Tensor thTT = block(th, 3, 2, 3, 2); Tensor kDD = block(kn, 0, 3, 0, 3);
             Tensor kTD = block(kn, 3, 2, 0, 3); Tensor kTT = block(kn, 3, 2, 3, 2);
             Tensor y = Tensor.of(Y, 3, 2);
             GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(new GpInference.Kernels(kDD, thDD), y,
                     0.7, DiagReg.relative(1e-2))) {
            GpInference.Kernels td = new GpInference.Kernels(kTD, thTD);
            GpInference.Kernels tt = new GpInference.Kernels(kTT, thTT);
            for (int i = 0; i < ts.length; i++) {
                for (Posterior g : new Posterior[] {Posterior.NNGP, Posterior.NTK}) {
                    double[][] expected = g == Posterior.NNGP ? nngpExpected[i] : ntkExpected[i];
                    try (Gaussian gauss = ens.predict(g, ts[i], td, tt)) {
                        assertClose(g + " mean t = " + ts[i], gauss.mean().toDoubleArray(), expected[0]);
                        assertClose(g + " covariance t = " + ts[i], gauss.covariance().toDoubleArray(),
                                expected[1]);
                    }
                }
            }
        }
    }

    /**
     * gradient_descent_mse on the full NO×NO kernel with diag_reg relative to trace/(N·O), f0 ≠ 0 and learning rate
     * 0.7: train and test at t = 3 and t = ∞ (the script's "full, regularised" block).
     */
    @Test
    void fullKernelWithRelativeDiagRegAndInitialOutputs() {
        double[] full = {3.0, 0.4, 0.4, 2.5, 1.0, 0.2, -0.3, 0.6, 1.0, -0.3, 0.2, 0.6, 2.0, 0.1, 0.1, 1.5};
        double[] fullTest = {0.5, 0.1, 0.0, 0.7, 0.3, -0.2, 0.2, 0.4};
        try (Tensor k = Tensor.of(full, 2, 2, 2, 2); Tensor kt = Tensor.of(fullTest, 1, 2, 2, 2);
             Tensor y = Tensor.of(new double[] {0, 1, 1, 0}, 2, 2);
             Tensor f0 = Tensor.of(new double[] {0.1, -0.2, 0.3, 0.05}, 2, 2);
             Tensor f0t = Tensor.of(new double[] {0.2, -0.1}, 1, 2); KernelMatrix km = KernelMatrix.of(k);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 0.7, DiagReg.relative(1e-2));
             Tensor tr3 = gd.predictTrain(3, f0); Tensor te3 = gd.predictTest(3, kt, f0, f0t);
             Tensor trInf = gd.predictTrain(INF, f0); Tensor teInf = gd.predictTest(INF, kt, f0, f0t)) {
            assertThat(gd.regulariser()).isCloseTo(0.0225, org.assertj.core.data.Offset.offset(1e-16));
            assertClose("full train t = 3", tr3.toDoubleArray(), 0.20345465073245064, 0.5891419148474932,
                    0.6254022564516974, 0.17174863010654884);
            assertClose("full test t = 3", te3.toDoubleArray(), 0.28348365795136815, 0.18948499053579834);
            assertClose("full train t = inf", trInf.toDoubleArray(), 0, 1, 1, 0);
            assertClose("full test t = inf", teInf.toDoubleArray(), 0.3569924818244376, 0.3703139685607497);
        }
    }

    /** Rows r0 .. r0 + rows − 1, columns c0 .. c0 + cols − 1 of a matrix. */
    static Tensor block(Tensor a, int r0, int rows, int c0, int cols) {
        int w = a.dim(1);
        double[] d = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                d[i * cols + j] = a.getFlat((r0 + i) * w + c0 + j);
            }
        }
        return Tensor.of(d, rows, cols);
    }
}
