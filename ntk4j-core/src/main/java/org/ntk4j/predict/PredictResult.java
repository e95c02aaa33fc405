package org.ntk4j.predict;

import java.util.List;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.Tensor;

/**
 * What {@link Predict#run} found: the figures of each training time, the test predictions, and how they were
 * computed. Holds the predictions (and the covariance) off-heap: close it.
 *
 * @param solver how the predictions were computed
 * @param method the NTK method that computed the kernels (Jacobian contraction for {@code projected:K}); the
 *     request's when AUTO could not resolve it ahead (the posterior and the ODE)
 * @param outputs O, the model's outputs per example
 * @param trainExamples N
 * @param testExamples M
 * @param points the figures at each requested time, in the request's order
 * @param predictions the test outputs, [M, O] for one time, [T, M, O] for several
 * @param covariance the posterior's test covariance when it was asked for, [M, M] for one time, [T, M, M] for
 *     several; else null
 * @param maxLearningRate neural-tangents' {@code max_learning_rate} 2(1 + μ)|y|/λ_max of the train NTK; NaN when
 *     no NTK was computed (the NNGP posterior), +∞ for a zero train NTK (no learning rate diverges)
 * @param fullKernel whether the train kernel is the full NO×NO one
 * @param regulariser the value added to the train kernel's diagonal (closed form and ODE; NaN for the
 *     posterior, whose r depends on the kernel it solves)
 * @param meanVariance the posterior's mean predictive variance at the first time (posterior only, else NaN; each
 *     time's is its {@link TimePoint#meanVariance()})
 * @param evaluations the ODE solver's derivative evaluations (ODE only, else 0)
 * @param trainKernelSeconds seconds computing the train kernel (closed form only, else NaN)
 * @param testKernelSeconds seconds computing the test kernel (closed form only, else NaN)
 * @param regressionSeconds seconds of the float64 regression (closed form only, else NaN)
 */
public record PredictResult(Solver solver, Method method, int outputs, int trainExamples, int testExamples,
                            List<TimePoint> points, Tensor predictions, Tensor covariance, double maxLearningRate,
                            boolean fullKernel, double regulariser, double meanVariance, int evaluations,
                            double trainKernelSeconds, double testKernelSeconds, double regressionSeconds)
        implements AutoCloseable {
    /** How the predictions were computed. */
    public enum Solver {
        /** {@code gradient_descent_mse}: the closed form through the train kernel's eigendecomposition. */
        CLOSED_FORM,
        /**
         * {@code gp_inference}: the Gaussian-process posterior at t = ∞, and for nngp and ntk at finite t {@code
         * gradient_descent_mse_ensemble}: the trained ensemble's Gaussian.
         */
        POSTERIOR,
        /** The function-space ODE (another loss, or momentum), Dormand-Prince 8(5,3). */
        ODE
    }

    /**
     * The figures at one training time.
     *
     * @param t the time (∞ for kernel regression and the posterior)
     * @param testAccuracy fraction of test examples whose largest output is their label's
     * @param testLoss the test loss: the MSE (mean over examples and outputs of (f − y)²), or the ODE's loss
     * @param trainAccuracy the same on the training examples (NaN for the posterior)
     * @param trainLoss the same on the training examples (NaN for the posterior)
     * @param meanVariance the posterior's mean predictive variance at this time (NaN without a posterior)
     */
    public record TimePoint(double t, double testAccuracy, double testLoss, double trainAccuracy,
                            double trainLoss, double meanVariance) {
        /**
         * The figures of a time without a posterior (no variance).
         *
         * @param t the time
         * @param testAccuracy fraction of test examples whose largest output is their label's
         * @param testLoss the test loss
         * @param trainAccuracy the same on the training examples
         * @param trainLoss the same on the training examples
         */
        public TimePoint(double t, double testAccuracy, double testLoss, double trainAccuracy, double trainLoss) {
            this(t, testAccuracy, testLoss, trainAccuracy, trainLoss, Double.NaN);
        }
    }

    /**
     * Copies the list.
     *
     * @param solver how the predictions were computed
     * @param method the NTK method that computed the kernels (Jacobian contraction for {@code projected:K}); the
     *     request's when AUTO could not resolve it ahead (the posterior and the ODE)
     * @param outputs O, the model's outputs per example
     * @param trainExamples N
     * @param testExamples M
     * @param points the figures at each requested time, in the request's order
     * @param predictions the test outputs, [M, O] for one time, [T, M, O] for several
     * @param covariance the posterior's test covariance when it was asked for, [M, M] for one time, [T, M, M] for
     *     several; else null
     * @param maxLearningRate neural-tangents' {@code max_learning_rate} 2(1 + μ)|y|/λ_max of the train NTK; NaN when
     *     no NTK was computed (the NNGP posterior), +∞ for a zero train NTK (no learning rate diverges)
     * @param fullKernel whether the train kernel is the full NO×NO one
     * @param regulariser the value added to the train kernel's diagonal (closed form and ODE; NaN for the
     *     posterior, whose r depends on the kernel it solves)
     * @param meanVariance the posterior's mean predictive variance at the first time (posterior only, else NaN; each
     *     time's is its {@link TimePoint#meanVariance()})
     * @param evaluations the ODE solver's derivative evaluations (ODE only, else 0)
     * @param trainKernelSeconds seconds computing the train kernel (closed form only, else NaN)
     * @param testKernelSeconds seconds computing the test kernel (closed form only, else NaN)
     * @param regressionSeconds seconds of the float64 regression (closed form only, else NaN)
     */
    public PredictResult {
        points = List.copyOf(points);
    }

    @Override
    public void close() {
        predictions.close();
        if (covariance != null) {
            covariance.close();
        }
    }
}
