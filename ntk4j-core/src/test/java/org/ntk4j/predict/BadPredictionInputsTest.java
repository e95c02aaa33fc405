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
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.NONE)) {
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
                    y, DiagReg.relative(0), false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NNGP + r·I (r = 0.0) is not positive definite (leading "
                            + "minor 2 of 2); use a larger diag_reg");
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NTKGP, singular, td, null, null, null,
                    null, y, DiagReg.relative(0), false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("gp_inference: the train-train NTK + r·I (r = 0.0) is numerically singular "
                            + "(reciprocal condition number ")
                    .hasMessageEndingWith("< ε = 2^-53: the solution would have no correct digit); use a larger "
                            + "diag_reg");
        }
    }

    /**
     * A zero train kernel (outputs that do not depend on the parameters, or the NNGP of a zero-initialised readout)
     * has mean diagonal 0: a relative diag_reg adds r = 0 however large, so "use a larger diag_reg" alone could not
     * be followed. The refusal says to use an absolute one; an absolute diag_reg then solves it.
     */
    @Test
    void aZeroKernelIsToldThatARelativeDiagRegAddsNothing() {
        String hint = "; the kernel's diagonal is zero, so a diag_reg relative to its mean adds nothing: use an "
                + "absolute one (--diag-reg-absolute)";
        try (Tensor zero = Tensor.zeros(DType.F64, 2, 2); KernelMatrix km = KernelMatrix.of(zero);
             Tensor td = Tensor.of(new double[] {1, 0}, 1, 2); Tensor y = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
             GradientDescentMse relative = GradientDescentMse.of(km, y, 1, DiagReg.relative(1e3));
             GradientDescentMse absolute = GradientDescentMse.of(km, y, 1, DiagReg.absolute(0.5))) {
            assertThatThrownBy(() -> relative.predictTest(Double.POSITIVE_INFINITY, td, null, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("kernel regression: the regularised train kernel is not positive definite (leading "
                            + "minor 1 of 2; regulariser r = 0.0); use a larger diag_reg" + hint);
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NNGP, null, null, null, zero, td, null,
                    y, DiagReg.relative(1e3), false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NNGP + r·I (r = 0.0) is not positive definite (leading "
                            + "minor 1 of 2); use a larger diag_reg" + hint);
            // K + 0.5 I with K = 0: f_test = K_td (0.5 I)⁻¹ y = [2, 0]
            try (Tensor f = absolute.predictTest(Double.POSITIVE_INFINITY, td, null, null)) {
                org.assertj.core.api.Assertions.assertThat(f.toDoubleArray()).containsExactly(new double[] {2, 0},
                        org.assertj.core.data.Offset.offset(1e-15));
            }
        }
    }

    /**
     * An absolute diag_reg of 0 on a zero kernel is refused with "use a larger diag_reg" alone: that one can be
     * followed (it is already absolute), so the hint to use an absolute one, which it was given, would mislead.
     */
    @Test
    void aZeroKernelWithAnAbsoluteZeroDiagRegIsNotToldToUseAnAbsoluteOne() {
        try (Tensor zero = Tensor.zeros(DType.F64, 2, 2); KernelMatrix km = KernelMatrix.of(zero);
             Tensor td = Tensor.of(new double[] {1, 0}, 1, 2); Tensor y = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
             GradientDescentMse absolute = GradientDescentMse.of(km, y, 1, DiagReg.absolute(0))) {
            assertThatThrownBy(() -> absolute.predictTest(Double.POSITIVE_INFINITY, td, null, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("kernel regression: the regularised train kernel is not positive definite (leading "
                            + "minor 1 of 2; regulariser r = 0.0); use a larger diag_reg");
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NNGP, null, null, null, zero, td, null,
                    y, DiagReg.absolute(0), false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NNGP + r·I (r = 0.0) is not positive definite (leading "
                            + "minor 1 of 2); use a larger diag_reg");
        }
    }

    /**
     * Null arguments of the closed-form and GP predictors are named in one line (they were NullPointerExceptions
     * from inside, and a null posterior was silently read as the ntk one), and the public regulariser refuses a
     * kernel that is not [N, N] (it read the entries i·N + i of a full kernel as its diagonal: a wrong r).
     */
    @Test
    void nullArgumentsAndAFullKernelForTheGpRegulariserAreNamed() {
        try (Tensor k = Tensor.of(K, 3, 3); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
             Tensor kt = Tensor.of(new double[] {1, .5, .2}, 1, 3);
             Tensor ktt = Tensor.of(new double[] {2}, 1, 1);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.NONE);
             Tensor full = Tensor.zeros(DType.F64, 3, 3, 2, 2)) {
            assertThatThrownBy(() -> gd.predictTest(1, null, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("test-train kernel: must not be null");
            assertThatThrownBy(() -> gd.testOutputs(kt, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("coefficients: expected [3, 2], got null");
            assertThatThrownBy(() -> GradientDescentMse.of(km, null, 1, DiagReg.relative(0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("targets: must not be null");
            assertThatThrownBy(() -> GradientDescentMse.of(null, y, 1, DiagReg.relative(0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("train-train kernel: must not be null");
            assertThatThrownBy(() -> GradientDescentOde.of(km, null, Loss.MSE, 1, Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("targets: must not be null");
            // were NullPointerExceptions (Objects.requireNonNull, ts.length, k.dimension())
            assertThatThrownBy(() -> GradientDescentOde.maxLearningRate(null, 6, Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("max learning rate: the train-train kernel must not be null");
            assertThatThrownBy(() -> GradientDescentOde.largestEigenvalue(null, 1e-12, 10))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("largest eigenvalue: the kernel must not be null");
            assertThatThrownBy(() -> GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN).predict(null, null, null,
                    null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("t: the ODE needs finite times >= 0 in ascending order, got null");
            assertThatThrownBy(() -> GpInference.infer(null, k, kt, ktt, null, null, null, y, DiagReg.relative(0),
                    true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the posterior must be one of nngp, ntk, ntkgp, got null");
            assertThatThrownBy(() -> GpInference.infer(GpInference.Posterior.NTKGP, k, kt, ktt, null, null, null,
                    null, DiagReg.relative(0), true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: targets must not be null");
            assertThatThrownBy(() -> GpInference.regulariser(full, DiagReg.relative(1e-3)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train kernel must be [N, N], got [3, 3, 2, 2]");
            // the diagonal 4, 3, 2 of K: r = 1e-3 · 9/3
            org.assertj.core.api.Assertions.assertThat(GpInference.regulariser(k, DiagReg.relative(1e-3)))
                    .isCloseTo(3e-3, org.assertj.core.data.Offset.offset(1e-18));
        }
    }

    /**
     * A request with a negative diag_reg or a learning rate that is not a positive finite number is refused when it
     * is made; it used to pass, and Predict.run refused it only after computing the train kernel. (The diag_reg is
     * refused by its {@link DiagReg} factory, before the request sees it; a missing one by the request.)
     */
    @Test
    void aRequestWithABadRegulariserOrLearningRateIsRefusedBeforeAnyWork() {
        org.ntk4j.nn.Model model = org.ntk4j.nn.Zoo.parse("fcn(depth=1,width=4,out=2)");
        try (org.ntk4j.nn.Params p = model.init(0, new int[] {3}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 1, 4, 3)) {
            org.ntk4j.train.Examples data = new org.ntk4j.train.Examples(x, new int[] {0, 1, 0, 1}, 2);
            PredictRequest q = PredictRequest.of(model, p, data, data);
            assertThatThrownBy(() -> q.withDiagReg(DiagReg.relative(-1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("diag_reg: expected a finite number >= 0, got -1.0");
            assertThatThrownBy(() -> q.withDiagReg(DiagReg.absolute(Double.POSITIVE_INFINITY)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("diag_reg: expected a finite number >= 0, got Infinity");
            assertThatThrownBy(() -> q.withDiagReg(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("predict: diagReg: expected a value, got null");
            assertThatThrownBy(() -> q.withLearningRate(Double.NaN))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("learning rate: expected a positive finite number, got NaN");
        }
    }
}
