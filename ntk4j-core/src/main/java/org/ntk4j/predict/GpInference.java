package org.ntk4j.predict;

import java.util.Locale;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.UnaryOperator;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The "posterior" Gaussians of neural-tangents' {@code predict.gp_inference(k_train_train, y_train, diag_reg,
 * diag_reg_absolute_scale)} at test points, for N×N kernels acting on the O outputs as K ⊗ I (float64 throughout,
 * Cholesky solves through LAPACK), the pair given as one {@link DiagReg}. With K the NNGP, Θ the NTK, d the training
 * and t the test points, and the regulariser r added to the train-train kernel that is solved (r = diag_reg ·
 * trace/N for {@link DiagReg#relative}, diag_reg for {@link DiagReg#absolute}):
 * <pre>
 *   nngp:  mean = K_td (K_dd + rI)⁻¹ y   cov = K_tt − K_td (K_dd + rI)⁻¹ K_dt
 *   ntkgp: mean = Θ_td (Θ_dd + rI)⁻¹ y   cov = Θ_tt − Θ_td (Θ_dd + rI)⁻¹ Θ_dt
 *   ntk:   mean = Θ_td (Θ_dd + rI)⁻¹ y   cov = K_tt + A K_dd Aᵀ − (A K_dt + K_td Aᵀ),  A = Θ_td (Θ_dd + rI)⁻¹
 * </pre>
 * The ntk mean is the outputs of the linearised network trained to t = ∞ from f0 = 0 ({@link GradientDescentMse}
 * at t = ∞); its covariance is that of an ensemble of such networks over the initialisation (the K terms), and
 * needs both kernels. The covariance [M, M] is shared by the O outputs.
 *
 * <p>A train-train kernel is refused when its relative asymmetry exceeds {@link KernelMatrix#SYMMETRY_TOLERANCE}
 * (it is then not K(x, x)); within it (float32 round-off, a kernel assembled from tiles computed in different
 * orders) its symmetric part (K + Kᵀ)/2 is solved, the nearest symmetric matrix, so that both triangles count and
 * K and Kᵀ give the same posterior. A Cholesky factorisation of K itself would read one triangle and ignore the
 * other (neural-tangents' {@code cho_factor} reads the upper one; its finite-time {@code eigh} symmetrises).
 *
 * <p>Two entry points compute the same numbers: {@link #infer} with the eleven arguments, and neural-tangents' shape
 * <pre>
 *   gpInference(new Kernels(nngpDD, ntkDD), yTrain, DiagReg.relative(1e-4)).predict(Posterior.NTK, testTrain,
 *           testTest)
 * </pre>
 * whose {@link Kernels} pair the NNGP and the NTK of the same points and whose {@link Predictor} keeps its
 * factorisations between calls ({@link #infer} factorises on each). The finite-time Gaussians of trained ensembles
 * are {@link GradientDescentMseEnsemble}'s; at t = ∞ they are the nngp and ntk ones here. The kernels are
 * tensors, as {@code EmpiricalNtk.kernel} gives them, not {@link KernelMatrix}es: the posterior is for N×N kernels
 * only (no full layout) within one tensor; a shared-layout matrix converts with {@link KernelMatrix#toTensor()}.
 */
public final class GpInference {
    /** The message prefix of gp_inference's refusals. */
    private static final String GP = "gp_inference";

    /** Which Gaussian: the Bayesian posterior (NNGP), the trained ensemble (NTK), or the GP with the NTK. */
    public enum Posterior {
        /** The Bayesian posterior of the NNGP. */
        NNGP,
        /** The ensemble of linearised networks trained to t = ∞ with MSE. */
        NTK,
        /** The GP with the NTK as its prior covariance. */
        NTKGP;

        /**
         * Parses {@code nngp}, {@code ntk}, {@code ntkgp} or {@code ntk-gp}, case-insensitive.
         *
         * @param text the name
         * @return the posterior
         * @throws IllegalArgumentException if the text names none
         */
        public static Posterior parse(String text) {
            if (text == null) {
                throw new IllegalArgumentException("--posterior: expected nngp, ntk or ntkgp, got null");
            }
            switch (text.trim().toLowerCase(Locale.ROOT)) {
                case "nngp":
                    return NNGP;
                case "ntk":
                    return NTK;
                case "ntkgp":
                case "ntk-gp":
                    return NTKGP;
                default:
                    throw new IllegalArgumentException("--posterior: expected nngp, ntk or ntkgp, got '" + text + "'");
            }
        }

        /**
         * The lower-case name.
         *
         * @return {@code nngp}, {@code ntk} or {@code ntkgp}
         */
        public String shortName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * True when the covariance needs the NNGP (nngp, ntk); the mean needs it for nngp only.
         *
         * @return whether NNGP kernels are needed
         */
        public boolean needsNngp() {
            return this != NTKGP;
        }
    }

    /**
     * A mean [M, O] with the covariance [M, M] or only its diagonal, the variances [M] (each null when not asked
     * for).
     *
     * @param mean the predictive mean [M, O]
     * @param covariance the predictive covariance [M, M], shared by the O outputs, or null
     * @param variances the predictive variances [M] (the covariance's diagonal) when computed without the
     *     covariance ({@link #inferVariances}), else null
     */
    public record Gaussian(Tensor mean, Tensor covariance, Tensor variances) implements AutoCloseable {
        /**
         * A mean with its covariance (or none).
         *
         * @param mean the predictive mean [M, O]
         * @param covariance the predictive covariance [M, M], or null
         */
        public Gaussian(Tensor mean, Tensor covariance) {
            this(mean, covariance, null);
        }

        /**
         * Whether the Gaussian carries its variances: the covariance, or the variances alone. A Gaussian asked for
         * its mean only ({@link GpInference#infer} with {@code covariance} false, the {@code predict} methods of
         * {@link Predictor} and {@link GradientDescentMseEnsemble} without test-test kernels) has none, and
         * {@link #meanVariance()} refuses it.
         *
         * @return true when {@link #covariance()} or {@link #variances()} is present
         */
        public boolean hasVariances() {
            return covariance != null || variances != null;
        }

        /**
         * The mean of the diagonal of the covariance: the average predictive variance of one output. It needs the
         * variances, which a Gaussian asked for its mean only does not have ({@link #hasVariances()}): asking for
         * them is a programming error, refused, rather than a NaN that would travel on into reports unnoticed.
         *
         * @return the average variance, from the covariance's diagonal or the variances
         * @throws IllegalStateException if neither the covariance nor the variances were computed (the message names
         *     the calls that compute them)
         */
        public double meanVariance() {
            if (!hasVariances()) {
                throw new IllegalStateException("gp_inference: meanVariance: this Gaussian holds the mean only "
                        + "(hasVariances() is false); ask for the covariance (infer with covariance true, or predict "
                        + "with the test-test kernels) or for the variances alone (inferVariances, "
                        + "predictVariances with the test diagonals)");
            }
            int m = covariance != null ? covariance.dim(0) : variances.dim(0);
            double s = 0;
            for (int i = 0; i < m; i++) {
                s += covariance != null ? covariance.getFlat(i * m + i) : variances.getFlat(i);
            }
            return s / m;
        }

        @Override
        public void close() {
            mean.close();
            if (covariance != null) {
                covariance.close();
            }
            if (variances != null) {
                variances.close();
            }
        }
    }

    private GpInference() {
    }

    /**
     * r for gp_inference's train-train kernel: {@link DiagReg#regulariser(Tensor)}, refusing a kernel that is not
     * [N, N] (the posteriors read N×N kernels only) by gp_inference's name.
     */
    static double regulariser(Tensor kTrainTrain, DiagReg diagReg) {
        GradientDescentMse.requireDiagReg(diagReg);
        if (kTrainTrain == null || kTrainTrain.rank() != 2 || kTrainTrain.dim(0) != kTrainTrain.dim(1)) {
            throw new IllegalArgumentException("gp_inference: the train-train kernel must be [N, N], got "
                    + (kTrainTrain == null ? "null" : Shapes.str(kTrainTrain.shape())));
        }
        return diagReg.regulariser(kTrainTrain);
    }

    /**
     * The posterior at the test points. Kernels are [N, N] (train-train), [M, N] (test-train) and [M, M]
     * (test-test), float32 or float64; {@code yTrain} is [N, O]. {@code ntk*} may be null for nngp, {@code nngp*}
     * for ntkgp; the test-test kernels may be null when {@code covariance} is false.
     *
     * @param g which posterior
     * @param ntkTrainTrain NTK [N, N], or null for nngp
     * @param ntkTestTrain NTK [M, N], or null for nngp
     * @param ntkTestTest NTK [M, M], or null for nngp or without covariance
     * @param nngpTrainTrain NNGP [N, N], or null for ntkgp
     * @param nngpTestTrain NNGP [M, N], or null for ntkgp
     * @param nngpTestTest NNGP [M, M], or null for ntkgp or without covariance
     * @param yTrain targets [N, O]
     * @param diagReg the regulariser added to the train-train kernel solved
     * @param covariance whether to compute the covariance
     * @return the Gaussian, which the caller closes; the input tensors are not closed
     * @throws IllegalArgumentException if the posterior or the targets are null, a kernel the posterior needs is
     *     missing or of the wrong shape, a train-train kernel is not symmetric, a target is not finite, the
     *     regulariser is null, or the regularised train-train kernel is not positive definite or is numerically
     *     singular (raise diag_reg)
     */
    public static Gaussian infer(Posterior g, Tensor ntkTrainTrain, Tensor ntkTestTrain, Tensor ntkTestTest,
                                 Tensor nngpTrainTrain, Tensor nngpTestTrain, Tensor nngpTestTest, Tensor yTrain,
                                 DiagReg diagReg, boolean covariance) {
        return infer(g, ntkTrainTrain, ntkTestTrain, ntkTestTest, nngpTrainTrain, nngpTestTrain, nngpTestTest, yTrain,
                diagReg, covariance, false);
    }

    /**
     * The posterior's mean and its variances alone, the covariance's diagonal [M], from the test-test kernels'
     * diagonals [M] (each test point's kernel with itself: {@code EmpiricalNtk.diagonalAxes(0)}) instead of the
     * [M, M] kernels, and without the [M, M] products: for the nngp and ntkgp posteriors var_i = k_tt[i] − Σ_j
     * K_td[i, j]·W[j, i], W = (K_dd + rI)⁻¹ K_dt; for ntk var_i = K_tt[i] + Σ_j Aᵀ[j, i]·(K_dd Aᵀ)[j, i] − 2 Σ_j
     * Aᵀ[j, i]·K_td[i, j], Aᵀ = (Θ_dd + rI)⁻¹ Θ_dt. Equal to the covariance's diagonal from {@link #infer} (up to
     * rounding).
     *
     * @param g which posterior
     * @param ntkTrainTrain NTK [N, N], or null for nngp
     * @param ntkTestTrain NTK [M, N], or null for nngp
     * @param ntkTestDiagonal NTK of each test point with itself [M], or null for nngp
     * @param nngpTrainTrain NNGP [N, N], or null for ntkgp
     * @param nngpTestTrain NNGP [M, N], or null for ntkgp
     * @param nngpTestDiagonal NNGP of each test point with itself [M], or null for ntkgp
     * @param yTrain targets [N, O]
     * @param diagReg the regulariser added to the train-train kernel solved
     * @return the Gaussian with its {@link Gaussian#variances}, which the caller closes; the inputs are not closed
     * @throws IllegalArgumentException if the posterior or the targets are null, a kernel the posterior needs is
     *     missing, of the wrong shape or not finite, a train-train kernel is not symmetric, a target is not finite,
     *     the regulariser is null, or the regularised train-train kernel is not positive definite or is numerically
     *     singular (raise diag_reg)
     */
    public static Gaussian inferVariances(Posterior g, Tensor ntkTrainTrain, Tensor ntkTestTrain,
                                          Tensor ntkTestDiagonal, Tensor nngpTrainTrain, Tensor nngpTestTrain,
                                          Tensor nngpTestDiagonal, Tensor yTrain, DiagReg diagReg) {
        return infer(g, ntkTrainTrain, ntkTestTrain, ntkTestDiagonal, nngpTrainTrain, nngpTestTrain,
                nngpTestDiagonal, yTrain, diagReg, true, true);
    }

    /**
     * The NNGP and the NTK between the same two sets of points, as neural-tangents' {@code Kernel(nngp, ntk)}:
     * [N, N] train-train, [M, N] test-train, [M, M] test-test or [M] test diagonals. Either may be null when the
     * posterior asked for does not read it (the ntkgp posterior reads no NNGP, nngp no NTK; ntk reads both for its
     * covariance); a missing one that is needed is refused by name when the posterior is computed. Not closed by
     * the predictors and ensembles that take it; {@link #close()} closes both tensors, for a pair that owns them
     * (as {@link org.ntk4j.infinite.InfiniteLimit#kernels} returns), in try-with-resources.
     *
     * @param nngp the NNGP, or null
     * @param ntk the NTK, or null
     */
    public record Kernels(Tensor nngp, Tensor ntk) implements AutoCloseable {
        /**
         * Refuses a pair with neither kernel.
         *
         * @param nngp the NNGP, or null
         * @param ntk the NTK, or null
         * @throws IllegalArgumentException if both are null
         */
        public Kernels {
            if (nngp == null && ntk == null) {
                throw new IllegalArgumentException("gp_inference: Kernels: nngp and ntk are both null; give at least "
                        + "one");
            }
        }

        /**
         * The NTK alone, for the ntkgp posterior and the ntk posterior's mean.
         *
         * @param ntk the NTK
         * @return the pair with no NNGP
         * @throws IllegalArgumentException if {@code ntk} is null
         */
        public static Kernels ofNtk(Tensor ntk) {
            return new Kernels(null, ntk);
        }

        /**
         * The NNGP alone, for the nngp posterior.
         *
         * @param nngp the NNGP
         * @return the pair with no NTK
         * @throws IllegalArgumentException if {@code nngp} is null
         */
        public static Kernels ofNngp(Tensor nngp) {
            return new Kernels(nngp, null);
        }

        /**
         * Closes both tensors (the absent one skipped): only for a pair that owns them, once the predictors and
         * ensembles that hold it are done with them. Idempotent, as {@link Tensor#close()}.
         */
        @Override
        public void close() {
            try {
                if (nngp != null) {
                    nngp.close();
                }
            } finally {
                if (ntk != null) {
                    ntk.close();
                }
            }
        }
    }

    /**
     * The training side of the inference, as neural-tangents' {@code gp_inference(k_train_train, y_train, diag_reg,
     * diag_reg_absolute_scale)}: its methods, like the function that returns, take the posterior asked for
     * ({@code get}) and the test kernels, and compute the Gaussian that {@link #infer} or {@link #inferVariances}
     * computes for the same arguments (the same numbers). As in neural-tangents, the Cholesky factorisation of each
     * regularised train-train kernel (the NNGP's for nngp, the NTK's for ntk and ntkgp) is made on first use and
     * kept until {@link #close()}: later calls, for other test points or posteriors reading the same kernel, solve
     * with it. The tensors are held, not copied: they must stay open, and unchanged, while the predictor is used.
     *
     * <p>Thread-safe: predictions may be asked from several threads at once, and each factorisation is made once.
     * {@link #close()} waits for the predictions in progress in other threads to finish (they solve with the
     * factorisations it frees: freeing them under a running solve would read released, possibly reused, native
     * memory); a prediction asked for once close has begun throws an IllegalStateException.
     */
    public static final class Predictor implements AutoCloseable {
        private final Kernels trainTrain;
        private final Tensor yTrain;
        private final DiagReg diagReg;
        /** Held (shared) by each prediction for its whole run, (exclusively) by close. */
        private final ReentrantReadWriteLock inUse = new ReentrantReadWriteLock();
        private Lapack.Cholesky nngpFactor;
        private Lapack.Cholesky ntkFactor;
        private volatile boolean closed;

        /**
         * Checks what can be checked without the test points.
         *
         * @param trainTrain the train-train kernels [N, N]
         * @param yTrain the targets [N, O]
         * @param diagReg the regulariser added to the train-train kernel solved
         * @throws IllegalArgumentException if the kernels, the targets or the regulariser are null
         */
        public Predictor(Kernels trainTrain, Tensor yTrain, DiagReg diagReg) {
            if (trainTrain == null) {
                throw new IllegalArgumentException("gp_inference: trainTrain: the train-train kernels must not be "
                        + "null");
            }
            if (yTrain == null) {
                throw new IllegalArgumentException("gp_inference: targets must not be null");
            }
            GradientDescentMse.requireDiagReg(diagReg);
            this.trainTrain = trainTrain;
            this.yTrain = yTrain;
            this.diagReg = diagReg;
        }

        /**
         * The train-train kernels (held, not copied).
         *
         * @return the kernels given
         */
        public Kernels trainTrain() {
            return trainTrain;
        }

        /**
         * The targets (held, not copied).
         *
         * @return the targets [N, O]
         */
        public Tensor yTrain() {
            return yTrain;
        }

        /**
         * The regulariser as given.
         *
         * @return diag_reg with its scale
         */
        public DiagReg diagReg() {
            return diagReg;
        }

        /**
         * The posterior's mean alone.
         *
         * @param get which posterior
         * @param testTrain the test-train kernels [M, N]
         * @return the Gaussian with its mean only, which the caller closes
         * @throws IllegalArgumentException as {@link #infer}, and if {@code testTrain} is null
         */
        public Gaussian predict(Posterior get, Kernels testTrain) {
            requireKernels(GP, testTrain, "testTrain");
            return compute(GP, get, testTrain, null, false, false);
        }

        /**
         * The posterior's mean and covariance.
         *
         * @param get which posterior
         * @param testTrain the test-train kernels [M, N]
         * @param testTest the test-test kernels [M, M]
         * @return the Gaussian with its mean and covariance, which the caller closes
         * @throws IllegalArgumentException as {@link #infer}, and if a kernel pair is null
         */
        public Gaussian predict(Posterior get, Kernels testTrain, Kernels testTest) {
            requireKernels(GP, testTrain, "testTrain");
            requireKernels(GP, testTest, "testTest");
            return compute(GP, get, testTrain, testTest, true, false);
        }

        /**
         * The posterior's mean and variances [M] (the covariance's diagonal), from each test point's kernels with
         * itself, as {@link #inferVariances}.
         *
         * @param get which posterior
         * @param testTrain the test-train kernels [M, N]
         * @param testDiagonal the kernels of each test point with itself [M]
         * @return the Gaussian with its mean and variances, which the caller closes
         * @throws IllegalArgumentException as {@link #inferVariances}, and if a kernel pair is null
         */
        public Gaussian predictVariances(Posterior get, Kernels testTrain, Kernels testDiagonal) {
            requireKernels(GP, testTrain, "testTrain");
            requireKernels(GP, testDiagonal, "testDiagonal");
            return compute(GP, get, testTrain, testDiagonal, true, true);
        }

        /**
         * The Gaussian with the cached factorisation; {@code who} opens the messages (the ensemble's t = ∞ calls
         * this with its own name). {@code testTest} may be null without covariance.
         */
        Gaussian compute(String who, Posterior get, Kernels testTrain, Kernels testTest, boolean covariance,
                         boolean diagonal) {
            requirePosterior(who, get);
            boolean useNtk = get != Posterior.NNGP;
            Tensor kdd = useNtk ? trainTrain.ntk() : trainTrain.nngp();
            int n = checkTrain(who, useNtk, kdd, yTrain);
            checkTestTrain(who, useNtk, useNtk ? testTrain.ntk() : testTrain.nngp(), n);
            inUse.readLock().lock();
            try {
                if (closed) {
                    throw new IllegalStateException(who + ": predictor used after close()");
                }
                Lapack.Cholesky f = factor(who, useNtk, kdd);
                return gaussian(who, get, testTrain.ntk(), testTest == null ? null : testTest.ntk(),
                        trainTrain.nngp(), testTrain.nngp(), testTest == null ? null : testTest.nngp(), yTrain, n,
                        f::solve, f::solve, covariance, diagonal);
            } finally {
                inUse.readLock().unlock();
            }
        }

        /**
         * The factorisation of the NTK's or the NNGP's K + rI, made on first request (once, also when raced); the
         * caller holds {@link #inUse}'s read lock.
         */
        private synchronized Lapack.Cholesky factor(String who, boolean useNtk, Tensor kdd) {
            Lapack.Cholesky f = useNtk ? ntkFactor : nngpFactor;
            if (f == null) {
                double r = regulariser(kdd, diagReg);
                f = factorise(who, kdd, r, !diagReg.isAbsolute(), "the train-train " + (useNtk ? "NTK" : "NNGP")
                        + " + r·I (r = " + r + ")");
                if (useNtk) {
                    ntkFactor = f;
                } else {
                    nngpFactor = f;
                }
            }
            return f;
        }

        /**
         * Releases the cached factorisations (not the kernels or the targets, which are the caller's), once the
         * predictions in progress have finished. Idempotent.
         */
        @Override
        public void close() {
            closed = true; // predictions that start from now on are refused, and cannot delay the write lock
            inUse.writeLock().lock();
            try {
                synchronized (this) {
                    if (nngpFactor != null) {
                        nngpFactor.close();
                        nngpFactor = null;
                    }
                    if (ntkFactor != null) {
                        ntkFactor.close();
                        ntkFactor = null;
                    }
                }
            } finally {
                inUse.writeLock().unlock();
            }
        }
    }

    private static void requireKernels(String who, Kernels k, String argument) {
        if (k == null) {
            throw new IllegalArgumentException(who + ": " + argument + ": the kernels must not be null");
        }
    }

    /**
     * neural-tangents' {@code gp_inference(k_train_train, y_train, diag_reg, diag_reg_absolute_scale)}, the last two
     * as one {@link DiagReg}: {@code DiagReg.relative(d)} for {@code diag_reg=d} (the default scale),
     * {@code DiagReg.absolute(d)} for {@code diag_reg=d, diag_reg_absolute_scale=True}.
     * {@code GpInference.gpInference(Kernels.ofNtk(kdd), y, DiagReg.relative(1e-4)).predict(Posterior.NTKGP,
     * Kernels.ofNtk(ktd), Kernels.ofNtk(ktt))} gives the numbers of {@code infer(NTKGP, kdd, ktd, ktt, null, null,
     * null, y, DiagReg.relative(1e-4), true)}.
     *
     * @param trainTrain the train-train kernels [N, N] (held, not copied)
     * @param yTrain the targets [N, O] (held, not copied)
     * @param diagReg the regulariser added to the train-train kernel solved
     * @return the predictor, which the caller closes (it keeps its factorisations)
     * @throws IllegalArgumentException as the {@link Predictor}'s constructor
     */
    public static Predictor gpInference(Kernels trainTrain, Tensor yTrain, DiagReg diagReg) {
        return new Predictor(trainTrain, yTrain, diagReg);
    }

    private static Gaussian infer(Posterior g, Tensor ntkTrainTrain, Tensor ntkTestTrain, Tensor ntkTestTest,
                                  Tensor nngpTrainTrain, Tensor nngpTestTrain, Tensor nngpTestTest, Tensor yTrain,
                                  DiagReg diagReg, boolean covariance, boolean diagonal) {
        requirePosterior(GP, g);
        boolean useNtk = g != Posterior.NNGP;
        Tensor kdd = useNtk ? ntkTrainTrain : nngpTrainTrain;
        int n = checkTrain(GP, useNtk, kdd, yTrain);
        // the test-train kernel is refused before the factorisation, which a bad one would waste
        checkTestTrain(GP, useNtk, useNtk ? ntkTestTrain : nngpTestTrain, n);
        double r = regulariser(kdd, diagReg);
        String solved = "the train-train " + (useNtk ? "NTK" : "NNGP") + " + r·I (r = " + r + ")";
        // one factorisation per call, for the mean's and the covariance's solves alike
        try (Lapack.Cholesky kReg = factorise(GP, kdd, r, !diagReg.isAbsolute(), solved)) {
            return gaussian(GP, g, ntkTestTrain, ntkTestTest, nngpTrainTrain, nngpTestTrain, nngpTestTest, yTrain, n,
                    kReg::solve, kReg::solve, covariance, diagonal);
        }
    }

    /** Refuses a null posterior: not a silent default (it would otherwise be read as the ntk one). */
    static void requirePosterior(String who, Posterior g) {
        if (g == null) {
            throw new IllegalArgumentException(who + ": the posterior must be one of nngp, ntk, ntkgp, got null");
        }
    }

    /**
     * Checks the test-train kernel a posterior's mean reads (the NTK's for ntk and ntkgp, the NNGP's for nngp):
     * present, finite and [M, N]; before any factorisation, which a bad test kernel would waste.
     */
    static void checkTestTrain(String who, boolean useNtk, Tensor ktd, int n) {
        require(who, ktd, "test-train " + (useNtk ? "NTK" : "NNGP"));
        checkTestTrain(who, ktd, n);
    }

    /**
     * Checks the targets and the train-train kernel the posterior solves (present, finite, [N, N], symmetric within
     * the tolerance), and returns N.
     */
    static int checkTrain(String who, boolean useNtk, Tensor kdd, Tensor yTrain) {
        if (yTrain == null) {
            throw new IllegalArgumentException(who + ": targets must not be null");
        }
        String name = useNtk ? "NTK" : "NNGP";
        require(who, kdd, "train-train " + name);
        int n = kdd.dim(0);
        if (kdd.rank() != 2 || kdd.dim(1) != n) {
            throw new IllegalArgumentException(who + ": the train-train kernel must be [N, N], got "
                    + Shapes.str(kdd.shape()));
        }
        if (yTrain.rank() != 2 || yTrain.dim(0) != n) {
            throw new IllegalArgumentException(who + ": targets must be [" + n + ", O], got "
                    + Shapes.str(yTrain.shape()));
        }
        int badTarget = yTrain.firstNonFinite();
        if (badTarget >= 0) {
            throw new IllegalArgumentException(who + ": targets: " + yTrain.getFlat(badTarget) + " at flat index "
                    + badTarget);
        }
        // a kernel far from symmetric is refused (it is not K(x, x)); within the tolerance its symmetric part is
        // factorised (regularised), so that K and Kᵀ give the same posterior
        KernelMatrix.requireSymmetric(who + ": the train-train " + name, kdd);
        return n;
    }

    /**
     * The Gaussian at the test points from the operators a posterior applies to the train-train side, for the
     * train-train kernel of N points and targets already checked ({@link #checkTrain}): the mean K_td·meanOp(y),
     * and with {@code covariance} (the test-test kernels [M, M], or [M] with {@code diagonal}) for nngp and ntkgp
     * k_tt − K_td W, W = covOp(K_dt), for ntk K_tt + A K_dd Aᵀ − A K_dt − K_td Aᵀ with Aᵀ = covOp(Θ_dt). The
     * posteriors' operators are (K + rI)⁻¹ for both; {@link GradientDescentMseEnsemble}'s are its finite-time
     * functions of the train-train kernel. Each operator maps a float64 [N, k] to a new float64 [N, k].
     */
    static Gaussian gaussian(String who, Posterior g, Tensor ntkTestTrain, Tensor ntkTestTest, Tensor nngpTrainTrain,
                             Tensor nngpTestTrain, Tensor nngpTestTest, Tensor yTrain, int n,
                             UnaryOperator<Tensor> meanOp, UnaryOperator<Tensor> covOp, boolean covariance,
                             boolean diagonal) {
        boolean useNtk = g != Posterior.NNGP;
        Tensor ktd = useNtk ? ntkTestTrain : nngpTestTrain;
        require(who, ktd, "test-train " + (useNtk ? "NTK" : "NNGP"));
        int m = checkTestTrain(who, ktd, n);
        int o = yTrain.dim(1);
        Tensor mean;
        try (Tensor alpha = meanOp.apply(yTrain)) {
            mean = matmul(ktd, false, alpha, false, m, n, o);
        }
        if (!covariance) {
            return new Gaussian(mean, null);
        }
        try {
            Tensor cov;
            if (g == Posterior.NNGP || g == Posterior.NTKGP) {
                Tensor ktt = g == Posterior.NNGP ? nngpTestTest : ntkTestTest;
                require(who, ktt, "test-test " + (g == Posterior.NNGP ? "NNGP" : "NTK"));
                checkTestTest(who, ktt, m, diagonal);
                try (Tensor kdt = transpose(ktd, m, n); Tensor w = covOp.apply(kdt)) {
                    if (diagonal) {
                        Tensor var = Tensor.empty(DType.F64, m);
                        for (int i = 0; i < m; i++) {
                            var.setFlat(i, ktt.getFlat(i) - rowTimesColumn(ktd, w, i));
                        }
                        return new Gaussian(mean, null, var);
                    }
                    try (Tensor q = matmul(ktd, false, w, false, m, n, m)) {
                        cov = Tensor.empty(DType.F64, m, m);
                        for (int i = 0; i < m * m; i++) {
                            cov.setFlat(i, ktt.getFlat(i) - q.getFlat(i));
                        }
                    }
                }
            } else {
                require(who, nngpTrainTrain, "train-train NNGP (the NTK covariance needs both kernels)");
                require(who, nngpTestTrain, "test-train NNGP (the NTK covariance needs both kernels)");
                require(who, nngpTestTest, "test-test NNGP");
                checkSquare(who, nngpTrainTrain, n);
                KernelMatrix.requireSymmetric(who + ": the train-train NNGP", nngpTrainTrain);
                if (checkTestTrain(who, nngpTestTrain, n) != m) {
                    throw new IllegalArgumentException(who + ": the test-train NNGP has " + nngpTestTrain.dim(0)
                            + " rows, the NTK " + m);
                }
                checkTestTest(who, nngpTestTest, m, diagonal);
                // Aᵀ = covOp(Θ_dt) [N, M]
                try (Tensor thetaDt = transpose(ktd, m, n);
                     Tensor at = covOp.apply(thetaDt);
                     Tensor kat = matmul(nngpTrainTrain, false, at, false, n, n, m)) { // K_dd Aᵀ
                    if (diagonal) {
                        Tensor var = Tensor.empty(DType.F64, m);
                        for (int i = 0; i < m; i++) {
                            var.setFlat(i, nngpTestTest.getFlat(i) + columnTimesColumn(at, kat, i)
                                    - 2 * rowTimesColumn(nngpTestTrain, at, i));
                        }
                        return new Gaussian(mean, null, var);
                    }
                    try (Tensor akat = matmul(at, true, kat, false, m, n, m);            // A K_dd Aᵀ
                         Tensor nngpDt = transpose(nngpTestTrain, m, n);
                         Tensor cross = matmul(at, true, nngpDt, false, m, n, m)) { // A K_dt
                        cov = Tensor.empty(DType.F64, m, m);
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < m; j++) {
                                double v = nngpTestTest.getFlat(i * m + j) + akat.getFlat(i * m + j)
                                        - cross.getFlat(i * m + j) - cross.getFlat(j * m + i);
                                cov.setFlat(i * m + j, v);
                            }
                        }
                    }
                }
            }
            symmetrise(cov, m);
            return new Gaussian(mean, cov);
        } catch (RuntimeException e) {
            mean.close();
            throw e;
        }
    }

    /**
     * The Cholesky factor of K + rI, its refusal (not positive definite, numerically singular: LAPACK's reciprocal
     * condition number below 2^-53) naming the kernel and diag_reg; for a zero diagonal and a diag_reg relative to
     * it ({@code relative}), which adds r = 0 however large, the refusal says to use an absolute one.
     */
    private static Lapack.Cholesky factorise(String who, Tensor k, double r, boolean relative, String what) {
        try (Tensor kReg = regularised(k, r)) {
            return Lapack.Cholesky.of(kReg);
        } catch (IllegalArgumentException e) {
            String reason = e.getMessage().replaceFirst("^solve: the kernel matrix is ", "")
                    .replaceFirst("; use a larger diagonal regulariser$", "");
            boolean zeroDiagonal = r == 0 && relative;
            for (int i = 0, n = k.dim(0); i < n && zeroDiagonal; i++) {
                zeroDiagonal = k.getFlat(i * n + i) == 0;
            }
            throw new IllegalArgumentException(who + ": " + what + " is " + reason + "; use a larger diag_reg"
                    + (zeroDiagonal ? GradientDescentMse.ZERO_DIAGONAL : ""), e);
        }
    }

    private static void require(String who, Tensor t, String what) {
        if (t == null) {
            throw new IllegalArgumentException(who + ": the " + what + " kernel is needed");
        }
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(who + ": the " + what + " kernel has " + t.getFlat(bad)
                    + " at flat index " + bad);
        }
    }

    private static int checkTestTrain(String who, Tensor k, int n) {
        if (k.rank() != 2 || k.dim(1) != n) {
            throw new IllegalArgumentException(who + ": a test-train kernel must be [M, " + n + "], got "
                    + Shapes.str(k.shape()));
        }
        return k.dim(0);
    }

    /** A test-test kernel: [M, M], or each test point's with itself [M] ({@code diagonal}). */
    private static void checkTestTest(String who, Tensor k, int m, boolean diagonal) {
        if (!diagonal) {
            checkSquare(who, k, m);
        } else if (k.rank() != 1 || k.dim(0) != m) {
            throw new IllegalArgumentException(who + ": expected the test points' kernels with themselves ["
                    + m + "], got " + Shapes.str(k.shape()));
        }
    }

    /** Σ_j a[i, j]·b[j, i] for a [M, N] and b [N, M]: the diagonal entry (a·b)[i, i]. */
    private static double rowTimesColumn(Tensor a, Tensor b, int i) {
        return stridedDot(a, i * b.dim(0), 1, b, i, b.dim(1), b.dim(0));
    }

    /** Σ_j a[j, i]·b[j, i] for a and b [N, M]: the diagonal entry (aᵀ·b)[i, i]. */
    private static double columnTimesColumn(Tensor a, Tensor b, int i) {
        return stridedDot(a, i, b.dim(1), b, i, b.dim(1), b.dim(0));
    }

    /** Σ_{j &lt; n} a[aOff + j·aStep]·b[bOff + j·bStep], in float64. */
    private static double stridedDot(Tensor a, int aOff, int aStep, Tensor b, int bOff, int bStep, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            s += a.getFlat(aOff + j * aStep) * b.getFlat(bOff + j * bStep);
        }
        return s;
    }

    private static void checkSquare(String who, Tensor k, int m) {
        if (k.rank() != 2 || k.dim(0) != m || k.dim(1) != m) {
            throw new IllegalArgumentException(who + ": expected a [" + m + ", " + m + "] kernel, got "
                    + Shapes.str(k.shape()));
        }
    }

    private static Tensor regularised(Tensor k, double r) {
        int n = k.dim(0);
        Tensor c = k.to(DType.F64);
        // the symmetric part (K + Kᵀ)/2, which the asymmetry tolerance lets differ from K by round-off: both
        // triangles count, as in the NTK posterior's quadratic forms, rather than the one Cholesky would read
        symmetrise(c, n);
        for (int i = 0; i < n; i++) {
            c.setFlat(i * n + i, c.getFlat(i * n + i) + r);
        }
        return c;
    }

    /** The [cols, rows] transpose of a [rows, cols] matrix, in float64. */
    private static Tensor transpose(Tensor a, int rows, int cols) {
        Tensor t = Tensor.empty(DType.F64, cols, rows);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t.setFlat(j * rows + i, a.getFlat(i * cols + j));
            }
        }
        return t;
    }

    /** op(a) op(b) for op(a) [p, q] and op(b) [q, s], in float64 (transposed operands are read as such). */
    private static Tensor matmul(Tensor a, boolean ta, Tensor b, boolean tb, int p, int q, int s) {
        try (Tensor a64 = a.to(DType.F64); Tensor b64 = b.to(DType.F64)) {
            Tensor c = Tensor.empty(DType.F64, p, s);
            org.ntk4j.cpu.Blas.dgemm(ta, tb, p, s, q, 1, a64.doublePointer(), ta ? p : q, b64.doublePointer(),
                    tb ? q : s, 0, c.doublePointer(), s);
            return c;
        }
    }

    /**
     * (C + Cᵀ)/2 of a float64 [m, m] tensor, in place ({@link KernelMatrix#symmetrise()}): exact symmetry (the two
     * products round differently).
     */
    private static void symmetrise(Tensor c, int m) {
        KernelMatrix.symmetrise(c.doublePointer(), m);
    }
}
