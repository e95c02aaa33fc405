package org.ntk4j.predict;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.UnaryOperator;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The mean and covariance, at finite training times t, of an infinite ensemble of linearised networks trained by
 * gradient descent on the MSE loss from random initialisations, as neural-tangents' {@code
 * predict.gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, learning_rate, diag_reg,
 * diag_reg_absolute_scale)(t, x_test, get, compute_cov)}, for N×N kernels acting on the O outputs as K ⊗ I (float64
 * throughout), diag_reg and diag_reg_absolute_scale given as one {@link DiagReg}. The kernels are given, not a
 * kernel function: the train-train pair here, the test-train and test-test pairs at each call.
 *
 * <p>With K the NNGP (the outputs' covariance at initialisation, f0 ~ GP(0, K)), Θ the NTK, d the training and t
 * the test points, r the regulariser (diag_reg · trace/N of the kernel it is added to for {@link DiagReg#relative},
 * diag_reg for {@link DiagReg#absolute}), Θ_dd + rI = V diag(λ) Vᵀ and s = η t/|y| (|y| = N·O, the time scaling
 * of {@link GradientDescentMse}):
 * <pre>
 *   ntk:   B = Θ_td V diag((1 − e^(−λ s))/λ) Vᵀ   mean = B y   cov = K_tt + B K_dd Bᵀ − B K_dt − K_td Bᵀ
 *   nngp:  B = K_td V diag((1 − e^(−λ s))/λ) Vᵀ   mean = B y   cov = K_tt − K_td V diag((1 − e^(−2λ s))/λ) Vᵀ K_dt
 * </pre>
 * with, for nngp, V and λ those of K_dd + rI. Both are the law of f_t = f0_t + B (y − f0_d) over f0: for ntk with
 * f0_d ~ N(0, K_dd), for nngp (only the readout trained, so the NNGP drives the dynamics) with f0_d ~ N(0, K_dd +
 * rI), which gives neural-tangents' 2t form — the nngp covariance is K_tt + B (K_dd + rI) Bᵀ − B K_dt − K_td Bᵀ
 * (the regulariser read as observation noise; the two agree when r = 0). At t = 0 the mean is 0 and the covariance
 * K_tt; at t = +∞ the Gaussians are {@link GpInference}'s nngp and ntk posteriors, computed by its (cached)
 * Cholesky factorisation, as neural-tangents' {@code t=None} is. Eigenvalues at or below λ_max·d·ε (round-off, of
 * either sign) contribute 0, as in {@link GradientDescentMse}; an indefinite kernel is refused there. The mean
 * equals {@link GradientDescentMse}'s test predictions from f0 = 0 with the same kernel.
 *
 * <p>One eigendecomposition per kernel used (the NTK's for ntk, the NNGP's for nngp; the ntk covariance reads K but
 * does not decompose it) is made on first use and kept, as neural-tangents caches {@code eigenspace(get)}: a copy
 * of the train-train kernel (d² doubles) decomposed in place. The train-train kernels and the targets are held, not
 * copied: they must stay open and unchanged while the ensemble is used. A train-train kernel is refused when it is
 * not symmetric (relative asymmetry above {@link KernelMatrix#SYMMETRY_TOLERANCE}); within it its symmetric part is
 * used, as by {@link GpInference}.
 *
 * <p>Thread-safe: predictions may be asked from several threads at once, and each factorisation is made once.
 * {@link #close()} waits for the predictions in progress in other threads to finish (they read the
 * eigendecompositions and factorisations it frees); a prediction asked for once close has begun throws an
 * IllegalStateException.
 */
public final class GradientDescentMseEnsemble implements AutoCloseable {
    private static final String WHO = "gradient_descent_mse_ensemble";
    private final Kernels trainTrain;
    private final Tensor yTrain;
    private final double learningRate;
    private final DiagReg diagReg;
    private final int n;
    /** t = ∞: gp_inference with its cached Cholesky factorisations. */
    private final GpInference.Predictor atInfinity;
    /** Held (shared) by each prediction for its whole run, (exclusively) by close. */
    private final ReentrantReadWriteLock inUse = new ReentrantReadWriteLock();
    private GradientDescentMse nngpFlow;
    private GradientDescentMse ntkFlow;
    private volatile boolean closed;

    private GradientDescentMseEnsemble(Kernels trainTrain, Tensor yTrain, double learningRate, DiagReg diagReg,
                                       int n) {
        this.trainTrain = trainTrain;
        this.yTrain = yTrain;
        this.learningRate = learningRate;
        this.diagReg = diagReg;
        this.n = n;
        this.atInfinity = new GpInference.Predictor(trainTrain, yTrain, diagReg);
    }

    /**
     * The ensemble for the train-train kernels (either may be null: nngp reads only the NNGP; ntk reads the NTK,
     * and the NNGP for its covariance) and the targets.
     *
     * @param trainTrain the train-train NNGP and NTK [N, N], float32 or float64 (held, not copied)
     * @param yTrain the targets [N, O] (held, not copied)
     * @param learningRate η &gt; 0: time enters as η·t/|y|
     * @param diagReg the regulariser added to each train-train kernel (diag_reg and diag_reg_absolute_scale)
     * @return the ensemble, which the caller closes
     * @throws IllegalArgumentException if the kernels or the targets are null, a kernel is not [N, N], not finite
     *     or not symmetric, the two kernels' N differ, the targets are not [N, O] or not finite, the learning rate is
     *     not a positive finite number, or the regulariser is null
     */
    public static GradientDescentMseEnsemble of(Kernels trainTrain, Tensor yTrain, double learningRate,
                                                DiagReg diagReg) {
        if (trainTrain == null) {
            throw new IllegalArgumentException(WHO + ": trainTrain: the train-train kernels must not be null");
        }
        GradientDescentMse.checkLearningRate(learningRate);
        GradientDescentMse.requireDiagReg(diagReg);
        int n = -1;
        for (Posterior g : new Posterior[] {Posterior.NNGP, Posterior.NTK}) {
            Tensor k = g == Posterior.NTK ? trainTrain.ntk() : trainTrain.nngp();
            if (k == null) {
                continue;
            }
            int size = GpInference.checkTrain(WHO, g == Posterior.NTK, k, yTrain);
            if (n >= 0 && size != n) {
                throw new IllegalArgumentException(WHO + ": the train-train NNGP is [" + n + ", " + n + "], the NTK "
                        + Shapes.str(k.shape()));
            }
            n = size;
        }
        return new GradientDescentMseEnsemble(trainTrain, yTrain, learningRate, diagReg, n);
    }

    /**
     * The ensemble's mean at time t.
     *
     * @param get {@link Posterior#NNGP} (only the readout trained) or {@link Posterior#NTK}
     * @param t training time, ≥ 0, or {@code Double.POSITIVE_INFINITY} (the gp_inference posterior)
     * @param testTrain the test-train kernels [M, N] (the one {@code get} names)
     * @return the Gaussian with its mean [M, O] only, which the caller closes
     * @throws IllegalArgumentException if get is null or ntkgp, t is negative or NaN, the kernels are null, or a
     *     kernel that {@code get} reads is missing, of the wrong shape or not finite
     */
    public Gaussian predict(Posterior get, double t, Kernels testTrain) {
        return compute(get, t, testTrain, null, "testTrain", false, false);
    }

    /**
     * The ensemble's mean [M, O] and covariance [M, M] (shared by the O outputs) at time t.
     *
     * @param get {@link Posterior#NNGP} or {@link Posterior#NTK}
     * @param t training time, ≥ 0, or {@code Double.POSITIVE_INFINITY}
     * @param testTrain the test-train kernels [M, N]: the NTK and the NNGP for ntk, the NNGP for nngp
     * @param testTest the test-test kernels [M, M]: the NNGP (the covariance at initialisation)
     * @return the Gaussian with its mean and covariance, which the caller closes
     * @throws IllegalArgumentException as {@link #predict(Posterior, double, Kernels)}, and if the test-test
     *     kernels are null, or the NNGPs the covariance reads are missing, of the wrong shape or not finite
     */
    public Gaussian predict(Posterior get, double t, Kernels testTrain, Kernels testTest) {
        return compute(get, t, testTrain, testTest, "testTest", true, false);
    }

    /**
     * The ensemble's mean and variances [M] (the covariance's diagonal) at time t, from each test point's NNGP with
     * itself [M] instead of the [M, M] test-test kernel, without [M, M] products (as
     * {@link GpInference#inferVariances}).
     *
     * @param get {@link Posterior#NNGP} or {@link Posterior#NTK}
     * @param t training time, ≥ 0, or {@code Double.POSITIVE_INFINITY}
     * @param testTrain the test-train kernels [M, N]
     * @param testDiagonal each test point's kernels with itself [M] (the NNGP is read)
     * @return the Gaussian with its mean and variances, which the caller closes
     * @throws IllegalArgumentException as {@link #predict(Posterior, double, Kernels, Kernels)}
     */
    public Gaussian predictVariances(Posterior get, double t, Kernels testTrain, Kernels testDiagonal) {
        return compute(get, t, testTrain, testDiagonal, "testDiagonal", true, true);
    }

    /**
     * The regulariser r added to the diagonal of the train-train kernel that {@code get} decomposes.
     *
     * @param get {@link Posterior#NNGP} or {@link Posterior#NTK}
     * @return r
     * @throws IllegalArgumentException if get is null or ntkgp, or its train-train kernel was not given
     */
    public double regulariser(Posterior get) {
        return GpInference.regulariser(trainKernel(get), diagReg);
    }

    private Gaussian compute(Posterior get, double t, Kernels testTrain, Kernels testTest, String testTestName,
                             boolean covariance, boolean diagonal) {
        Tensor kdd = trainKernel(get);
        GradientDescentMse.checkTime(t);
        if (testTrain == null) {
            throw new IllegalArgumentException(WHO + ": testTrain: the kernels must not be null");
        }
        if (covariance && testTest == null) {
            throw new IllegalArgumentException(WHO + ": " + testTestName + ": the kernels must not be null");
        }
        // the test-train kernel is refused before the eigendecomposition or factorisation, which it would waste
        boolean ntk = get == Posterior.NTK;
        GpInference.checkTestTrain(WHO, ntk, ntk ? testTrain.ntk() : testTrain.nngp(), n);
        inUse.readLock().lock();
        try {
            checkOpen();
            if (t == Double.POSITIVE_INFINITY) {
                // the ntk/nngp posterior: a Cholesky solve, kept, rather than the eigenbasis at t = ∞
                return atInfinity.compute(WHO, get, testTrain, testTest, covariance, diagonal);
            }
            GradientDescentMse flow = flow(get, kdd);
            UnaryOperator<Tensor> meanOp = rhs -> flow.expm1Operator(t, rhs);
            // nngp: B (K_dd + rI) Bᵀ − B K_dt − K_td Bᵀ = −K_td V diag((1 − e^(−2λs))/λ) Vᵀ K_dt: the operator at
            // 2t (2t may overflow to ∞ for t near Double.MAX_VALUE: then e^(−2λs) = 0, the limit, is right)
            UnaryOperator<Tensor> covOp = get == Posterior.NNGP ? rhs -> flow.expm1Operator(2 * t, rhs) : meanOp;
            return GpInference.gaussian(WHO, get, testTrain.ntk(), testTest == null ? null : testTest.ntk(),
                    trainTrain.nngp(), testTrain.nngp(), testTest == null ? null : testTest.nngp(), yTrain, n,
                    meanOp, covOp, covariance, diagonal);
        } finally {
            inUse.readLock().unlock();
        }
    }

    /** The train-train kernel {@code get} decomposes, refusing ntkgp, null and a kernel not given. */
    private Tensor trainKernel(Posterior get) {
        if (get == null || get == Posterior.NTKGP) {
            // the GP with the NTK has a posterior (t = ∞) but no training dynamics: nothing to evaluate at finite t
            throw new IllegalArgumentException(WHO + ": get: expected nngp or ntk, got "
                    + (get == null ? "null" : get.shortName() + " (the GP with the NTK has no finite-time ensemble; "
                    + "use GpInference for its t = ∞ posterior)"));
        }
        Tensor k = get == Posterior.NTK ? trainTrain.ntk() : trainTrain.nngp();
        if (k == null) {
            throw new IllegalArgumentException(WHO + ": get " + get.shortName() + ": the train-train "
                    + (get == Posterior.NTK ? "NTK" : "NNGP") + " kernel is needed");
        }
        return k;
    }

    /**
     * The finite-time flow of {@code get}'s kernel, made on first request (once, also when raced): a float64 copy of
     * the kernel, symmetrised, which its eigendecomposition overwrites (made here, so that errors surface now).
     * The caller holds {@link #inUse}'s read lock.
     */
    private synchronized GradientDescentMse flow(Posterior get, Tensor kdd) {
        GradientDescentMse f = get == Posterior.NTK ? ntkFlow : nngpFlow;
        if (f == null) {
            KernelMatrix copy = KernelMatrix.of(kdd);
            try {
                // symmetrised (K + Kᵀ)/2 by the predictor's factorisation, as every train-train kernel's
                f = GradientDescentMse.owning(copy, yTrain, learningRate, diagReg);
            } catch (RuntimeException e) {
                copy.close();
                throw e;
            }
            try {
                f.eigenvalues();
            } catch (RuntimeException e) {
                f.close();
                throw e;
            }
            if (get == Posterior.NTK) {
                ntkFlow = f;
            } else {
                nngpFlow = f;
            }
        }
        return f;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(WHO + ": used after close()");
        }
    }

    /**
     * Releases the eigendecompositions and the t = ∞ factorisations (not the kernels or the targets, which are the
     * caller's), once the predictions in progress have finished. Idempotent.
     */
    @Override
    public void close() {
        closed = true; // predictions that start from now on are refused, and cannot delay the write lock
        inUse.writeLock().lock();
        try {
            atInfinity.close();
            synchronized (this) {
                if (nngpFlow != null) {
                    nngpFlow.close();
                    nngpFlow = null;
                }
                if (ntkFlow != null) {
                    ntkFlow.close();
                    ntkFlow = null;
                }
            }
        } finally {
            inUse.writeLock().unlock();
        }
    }
}
