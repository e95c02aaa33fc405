package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Inputs to the predictors that used to give a silent answer or a failure from inside: a train kernel far from
 * positive semi-definite at a finite time (its negative modes were clipped to nothing), a NaN in the ODE's initial
 * outputs or test kernel (reported as the integrator's failure), a null loss (an NPE inside Hipparchus).
 */
class BadPredictionInputsTest {
    private static final double[] K = {4, 1, .5, 1, 3, .2, .5, .2, 2};

    @Test
    void aKernelFarFromPositiveSemiDefiniteIsRefusedAtFiniteTimes() {
        double[] indefinite = K.clone();
        indefinite[0] = -100;
        try (Tensor k = Tensor.of(indefinite, 3, 3); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
             Tensor kt = Tensor.of(new double[] {1, .5, .2}, 1, 3);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, 0, true)) {
            assertThatThrownBy(() -> gd.predictTest(10, kt, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("gradient descent: the train kernel (+ r·I) is not positive semi-definite: "
                            + "its smallest eigenvalue is -100.");
        }
    }

    @Test
    void theOdeNamesNonFiniteInputsAndANullLoss() {
        try (Tensor k = Tensor.of(K, 3, 3); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
             Tensor f0 = Tensor.zeros(DType.F64, 3, 2);
             Tensor kt = Tensor.of(new double[] {1, Double.NaN, .2}, 1, 3)) {
            f0.setFlat(4, Double.NaN);
            GradientDescentOde ode = GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN);
            assertThatThrownBy(() -> ode.predict(new double[] {1}, f0, null, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("f0_train: NaN at flat index 4");
            assertThatThrownBy(() -> ode.predict(new double[] {1}, null, kt, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("test-train kernel: NaN at flat index 1");
            assertThatThrownBy(() -> GradientDescentOde.of(km, y, null, 1, Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("loss: must not be null (Loss.MSE or Loss.CROSS_ENTROPY)");
        }
    }

    /** Test outputs at t = 0 without the test-train kernel were dropped without a word (neural-tangents refuses). */
    @Test
    void theOdeRefusesTestOutputsWithoutTheTestKernel() {
        try (Tensor k = Tensor.of(K, 3, 3); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
             Tensor f0Test = Tensor.zeros(DType.F64, 4, 2)) {
            GradientDescentOde ode = GradientDescentOde.of(km, y, Loss.CROSS_ENTROPY, 1, Double.NaN);
            assertThatThrownBy(() -> ode.predict(new double[] {1}, null, null, f0Test))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("f0_test: given without the test-train kernel (pass kTestTrain, or null for f0_test)");
        }
    }

    /**
     * gp_inference names the kernel it could not solve and diag_reg, whether dpotrf fails (a rank-one NNGP) or
     * succeeds on a numerically singular kernel ([[16, 4], [4, 1 + ε]]: exact pivots 4 and √ε, rcond ≈ ε/21), which
     * it solved without a word.
     */
    @Test
    void gpInferenceNamesTheKernelItCannotSolve() {
        double eps = Math.ulp(1.0);
        try (Tensor rankOne = Tensor.of(new double[] {1, 1, 1, 1}, 2, 2);
             Tensor singular = Tensor.of(new double[] {16, 4, 4, 1 + eps}, 2, 2);
             Tensor td = Tensor.of(new double[] {1, 0}, 1, 2); Tensor y = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2)) {
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NNGP, null, null, null, rankOne, td, null,
                    y, 0, false, false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NNGP + r·I (r = 0.0) is not positive definite (leading "
                            + "minor 2 of 2); use a larger diag_reg");
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NTKGP, singular, td, null, null, null,
                    null, y, 0, false, false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("gp_inference: the train-train NTK + r·I (r = 0.0) is numerically singular "
                            + "(reciprocal condition number ")
                    .hasMessageEndingWith("< ε = 2^-53: the solution would have no correct digit); use a larger "
                            + "diag_reg");
        }
    }
}
