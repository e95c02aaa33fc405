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
 * posteriors, mean and covariance; max_learning_rate with and without momentum. Different computation orders
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
             KernelMatrix km = KernelMatrix.of(k); GradientDescentMse gd = GradientDescentMse.of(km, y, 0.7, 1e-2,
                     false)) {
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
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, 0, false);
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
                try (Gaussian gauss = GpInference.infer(order[g], thDD, thTD, thTT, kDD, kTD, kTT, y, 1e-2, false,
                        true)) {
                    assertClose(order[g] + " mean", gauss.mean().toDoubleArray(), mean[g]);
                    assertClose(order[g] + " covariance", gauss.covariance().toDoubleArray(), cov[g]);
                }
            }
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
