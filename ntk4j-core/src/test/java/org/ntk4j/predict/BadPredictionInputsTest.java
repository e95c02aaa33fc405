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
}
