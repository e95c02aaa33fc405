package org.ntk4j.predict;

import org.bytedeco.javacpp.DoublePointer;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Kernel regression and the outputs of a linearised network trained by gradient descent on the MSE loss, in
 * closed form, as neural-tangents' {@code predict.gradient_descent_mse(k_train_train, y_train, learning_rate,
 * diag_reg, diag_reg_absolute_scale)} (float64 throughout), the pair given as one {@link DiagReg}.
 *
 * <p>With K the train-train kernel regularised as K + r·I, r = {@link DiagReg#regulariser(KernelMatrix)}
 * (diag_reg · trace(K)/dim for {@link DiagReg#relative}, diag_reg itself for {@link DiagReg#absolute}), η the
 * learning rate, |y| = N·O the number of targets (the loss is 1/(2|y|) ‖f − y‖²) and
 * K + r·I = V diag(λ) Vᵀ, the gradient flow df_train/dt = −(η/|y|) (K + r·I)(f_train − y), df_test/dt =
 * −(η/|y|) K_test,train (f_train − y) gives
 * <pre>
 *   f_train(t) = f0_train + V diag(1 − e^(−λ⁺ η t/|y|)) Vᵀ (y − f0_train)
 *   f_test(t)  = f0_test  + K_test,train V diag((1 − e^(−λ⁺ η t/|y|)) / λ) Vᵀ (y − f0_train)
 * </pre>
 * where λ⁺ = λ above the eigensolver's round-off λ_max·d·ε (ε = 2⁻⁵², NumPy's {@code matrix_rank} tolerance) and 0
 * at or below it: eigenvalues of either sign that round-off left in place of a singular kernel's zeros (duplicated
 * examples, a rank below d) are clipped, and their modes contribute nothing to the train or test predictions, so
 * that as t grows they tend to the pseudo-inverse's regression (neural-tangents divides by |λ|, which gives the
 * same 0 for negative λ, NaN for λ = 0, and, for a round-off λ &gt; 0, the round-off of its eigenvector times 1/λ
 * in the test outputs once t passes |y|/(ηλ): errors of the order of the outputs themselves). At t = ∞ a Cholesky
 * solve gives f_train = y and
 * f_test = f0_test + K_test,train (K + r·I)⁻¹ (y − f0_train): kernel (ridge) regression; with f0 = 0 it is
 * plain kernel regression on the targets. The test-train kernel is never regularised. K is its symmetric part
 * (K + Kᵀ)/2 ({@link KernelMatrix#symmetrise()}, on the factorisations' copy): a train-train kernel whose relative
 * asymmetry exceeds {@link KernelMatrix#SYMMETRY_TOLERANCE} is refused, one within it (float32 round-off, a kernel
 * assembled from row tiles) counts both triangles, which LAPACK's factorisations would otherwise read one of.
 * A K + r·I that is not positive definite, or numerically singular (LAPACK's reciprocal condition estimate below
 * ε = 2⁻⁵³, where the solve would have no correct digit although round-off let the Cholesky factorisation
 * succeed), is refused at t = ∞ with a message to raise diag_reg: no pseudo-inverse is taken.
 *
 * <p>An N×N kernel acts on the O outputs as K ⊗ I_O (O independent problems sharing K), a full kernel as the
 * NO×NO matrix (see {@link KernelMatrix}). The factorisations are computed on first use and kept, as
 * neural-tangents caches them: Cholesky for t = ∞ (d³/3 flops, one d×d copy), the symmetric eigendecomposition for
 * finite t (about 9d³ flops with dsyevd, one d×d copy plus 2d² of workspace while it runs), d = N or N·O.
 *
 * <p>Thread-safe: predictions may be asked from several threads at once, and each factorisation is made once (the
 * first thread to need it makes it, the others wait for it). Closing the predictor while another thread uses it is
 * not allowed; a predictor used after {@link #close()} throws an IllegalStateException.
 */
public final class GradientDescentMse implements AutoCloseable {
    private final KernelMatrix kernel;
    private final Tensor yTrain;
    private final int n;
    private final int outputs;
    private final double learningRate;
    private final double regulariser;
    private final boolean factoriseInPlace;
    /**
     * Whether the kernel's diagonal is all zero (a zero kernel) and diag_reg is relative to its mean: it then adds
     * nothing, which a refusal of the factorisation says.
     */
    private final boolean zeroDiagonal;
    /** Whether {@link #kernel} is this predictor's own copy (made from a tensor), closed with it. */
    private final boolean ownsKernel;
    private boolean kernelOverwritten;
    private KernelMatrix cholesky;
    private KernelMatrix eigenvectors; // row i = eigenvector i
    private double[] eigenvalues;
    /**
     * λ_max·d·ε (ε = 2⁻⁵², d the dimension; 0 when λ_max ≤ 0): an eigenvalue of K + r·I at or below it is taken as 0,
     * its mode left out of the finite-t predictions (see {@link #spectralWeights}).
     */
    private double roundOffFloor;
    private boolean closed;

    private GradientDescentMse(KernelMatrix kernel, Tensor yTrain, double learningRate, double regulariser,
                               boolean factoriseInPlace, boolean ownsKernel, boolean zeroDiagonal) {
        this.kernel = kernel;
        this.zeroDiagonal = zeroDiagonal;
        this.yTrain = yTrain;
        this.n = yTrain.dim(0);
        this.outputs = yTrain.dim(1);
        this.learningRate = learningRate;
        this.regulariser = regulariser;
        this.factoriseInPlace = factoriseInPlace;
        this.ownsKernel = ownsKernel;
    }

    /**
     * The predictor for train-train kernel {@code kTrainTrain} (not copied, not closed: it must stay open while
     * this predictor is used) and targets {@code yTrain} [N, O] (copied).
     *
     * @param kTrainTrain  train-train kernel (not copied, not closed)
     * @param yTrain       targets [N, O] (copied)
     * @param learningRate η &gt; 0: time enters as η·t
     * @param diagReg      the regulariser: K + r·I is used for the training dynamics
     * @return the predictor, which the caller closes
     * @throws IllegalArgumentException if the kernel's relative asymmetry exceeds
     *     {@link KernelMatrix#SYMMETRY_TOLERANCE}, or the targets, learning rate or diagReg do not fit it
     */
    public static GradientDescentMse of(KernelMatrix kTrainTrain, Tensor yTrain, double learningRate,
                                        DiagReg diagReg) {
        return create(kTrainTrain, yTrain, learningRate, diagReg, false, false);
    }

    /**
     * As {@link #of}, but the first factorisation works in {@code kTrainTrain}'s own storage, which it destroys,
     * instead of a copy (saving d² doubles: 3.2 GB for the full kernel of 2,000 examples and 10 outputs). The
     * caller must not read the kernel afterwards (only close it), and only that one factorisation is available:
     * t = ∞ (Cholesky) or finite t (eigendecomposition), not both (the other is an IllegalStateException).
     *
     * @param kTrainTrain train-train kernel (not copied, not closed; overwritten by the first factorisation)
     * @param yTrain targets [N, O] (copied)
     * @param learningRate η &gt; 0: time enters as η·t
     * @param diagReg the regulariser: K + r·I is used for the training dynamics
     * @return the predictor, which the caller closes
     */
    public static GradientDescentMse ofDestroying(KernelMatrix kTrainTrain, Tensor yTrain, double learningRate,
                                                  DiagReg diagReg) {
        return create(kTrainTrain, yTrain, learningRate, diagReg, true, false);
    }

    /**
     * As {@link #of(KernelMatrix, Tensor, double, DiagReg)} for a train-train kernel held in a tensor, as
     * {@link GpInference} and {@code EmpiricalNtk.kernel} give it: [N, N] (an N×N kind, K ⊗ I_O on the outputs) or
     * [N, N, O, O] (the full kernel). The kernel is copied into a {@link KernelMatrix} of the predictor's own,
     * closed with it (the tensor is not closed, and may be closed or changed once this returns); for a kernel
     * larger than one tensor, assemble a {@code KernelMatrix} and use {@link #of}. (Not an overload of {@code of}:
     * a call {@code of(null, ...)} would then be ambiguous.)
     *
     * @param kTrainTrain train-train kernel [N, N] or [N, N, O, O], float32 or float64 (copied, not closed)
     * @param yTrain targets [N, O] (copied)
     * @param learningRate η &gt; 0: time enters as η·t
     * @param diagReg the regulariser: K + r·I is used for the training dynamics
     * @return the predictor, which the caller closes
     * @throws IllegalArgumentException if the kernel is null, not [N, N] or [N, N, O, O], not finite or not
     *     symmetric ({@link KernelMatrix#of(Tensor)}), or as {@link #of(KernelMatrix, Tensor, double, DiagReg)}
     */
    public static GradientDescentMse fromTensor(Tensor kTrainTrain, Tensor yTrain, double learningRate,
                                                DiagReg diagReg) {
        if (kTrainTrain == null) {
            throw new IllegalArgumentException("train-train kernel: must not be null");
        }
        KernelMatrix copy = KernelMatrix.of(kTrainTrain);
        try {
            return create(copy, yTrain, learningRate, diagReg, false, true);
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
    }

    /**
     * A predictor that owns {@code kTrainTrain} (closed with it), which its first factorisation overwrites: for
     * {@link GradientDescentMseEnsemble}, which asks it for finite t only (the eigendecomposition).
     */
    static GradientDescentMse owning(KernelMatrix kTrainTrain, Tensor yTrain, double learningRate,
                                     DiagReg diagReg) {
        return create(kTrainTrain, yTrain, learningRate, diagReg, true, true);
    }

    private static GradientDescentMse create(KernelMatrix kTrainTrain, Tensor yTrain, double learningRate,
                                             DiagReg diagReg, boolean factoriseInPlace, boolean ownsKernel) {
        if (kTrainTrain == null || yTrain == null) {
            throw new IllegalArgumentException((kTrainTrain == null ? "train-train kernel" : "targets")
                    + ": must not be null");
        }
        requireDiagReg(diagReg);
        if (yTrain.rank() != 2) {
            throw new IllegalArgumentException("targets: expected [N, O], got " + Shapes.str(yTrain.shape()));
        }
        if (yTrain.dim(0) != kTrainTrain.examples()) {
            throw new IllegalArgumentException("targets: " + yTrain.dim(0) + " rows for a kernel of "
                    + kTrainTrain.examples() + " training examples");
        }
        if (kTrainTrain.isFull() && kTrainTrain.blockSize() != yTrain.dim(1)) {
            throw new IllegalArgumentException("targets: " + yTrain.dim(1) + " outputs for a full kernel with "
                    + kTrainTrain.blockSize() + " outputs");
        }
        checkLearningRate(learningRate);
        int bad = yTrain.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException("targets: " + yTrain.getFlat(bad) + " at flat index " + bad);
        }
        // refused now if far from symmetric (it is not K(x, x)); within the tolerance its factorisations symmetrise it
        kTrainTrain.requireSymmetric("train-train kernel");
        double r = diagReg.regulariser(kTrainTrain);
        // an absolute diag_reg (0 here) is followed by "use a larger diag_reg" alone
        boolean zeroDiagonal = r == 0 && !diagReg.isAbsolute();
        for (int i = 0; i < kTrainTrain.dimension() && zeroDiagonal; i++) {
            zeroDiagonal = kTrainTrain.get(i, i) == 0;
        }
        return new GradientDescentMse(kTrainTrain, yTrain.to(DType.F64), learningRate, r, factoriseInPlace,
                ownsKernel, zeroDiagonal);
    }

    /**
     * The absolute regulariser r added to the diagonal.
     *
     * @return r
     */
    public double regulariser() {
        return regulariser;
    }

    /**
     * The eigenvalues of K + r·I, ascending (computes the eigendecomposition if not done yet).
     *
     * @return a copy of the eigenvalues
     */
    public double[] eigenvalues() {
        ensureEigen();
        return eigenvalues.clone();
    }

    /**
     * f_train(t) [N, O]; {@code t = Double.POSITIVE_INFINITY} is t = ∞; {@code f0Train} null means 0.
     *
     * @param t training time, ≥ 0 or +∞
     * @param f0Train outputs at initialisation [N, O], or null
     * @return the predictions, which the caller closes
     */
    public Tensor predictTrain(double t, Tensor f0Train) {
        checkOpen();
        checkTime(t);
        if (t == Double.POSITIVE_INFINITY) {
            checkOutputs("f0_train", f0Train, n);
            return yTrain.copy();
        }
        try (Tensor r = residual(f0Train)) {
            Tensor f = inEigenbasis(spectralWeights(t, false), r);
            addInPlace(f, f0Train);
            return f;
        }
    }

    /**
     * f_test(t) [M, O] for the test-train kernel {@code kTestTrain}: [M, N] for an N×N train kernel, [M, N, O, O]
     * for a full one (float32 or float64). {@code f0Train}/{@code f0Test} null mean 0. Test examples may be passed
     * in row tiles (the predictions of a tile depend only on its rows).
     *
     * @param t training time, ≥ 0 or +∞
     * @param kTestTrain test-train kernel
     * @param f0Train train outputs at initialisation [N, O], or null
     * @param f0Test test outputs at initialisation [M, O], or null
     * @return the predictions [M, O], which the caller closes
     */
    public Tensor predictTest(double t, Tensor kTestTrain, Tensor f0Train, Tensor f0Test) {
        checkOpen();
        checkTime(t);
        int m = checkTestKernel(kTestTrain);
        checkOutputs("f0_test", f0Test, m);
        try (Tensor w = coefficients(t, f0Train)) {
            return testOutputs(kTestTrain, w, f0Test);
        }
    }

    /**
     * f0_test + K_test,train W for coefficients W from {@link #coefficients}: computing W once per t and applying
     * it to the row tiles of a large test kernel gives the same predictions as {@link #predictTest}.
     *
     * @param kTestTrain test-train kernel (or a row tile of it)
     * @param coefficients W [N, O] from {@link #coefficients}
     * @param f0Test test outputs at initialisation [M, O], or null
     * @return the predictions [M, O], which the caller closes
     */
    public Tensor testOutputs(Tensor kTestTrain, Tensor coefficients, Tensor f0Test) {
        checkOpen();
        int m = checkTestKernel(kTestTrain);
        checkOutputs("f0_test", f0Test, m);
        if (coefficients == null || coefficients.rank() != 2 || coefficients.dim(0) != n
                || coefficients.dim(1) != outputs) {
            throw new IllegalArgumentException("coefficients: expected [" + n + ", " + outputs + "], got "
                    + (coefficients == null ? "null" : Shapes.str(coefficients.shape())));
        }
        Tensor f = applyTestKernel(kTestTrain, coefficients, m);
        addInPlace(f, f0Test);
        return f;
    }

    /**
     * The coefficients W [N, O] with f_test(t) = f0_test + K_test,train W (for a full kernel, Σ_{b,l}
     * Θ_test[m, b, k, l] W[b, l]): (K + rI)⁻¹ (y − f0_train) at t = ∞, V diag((1 − e^(−λ⁺ηt/|y|))/λ) Vᵀ (y −
     * f0_train) otherwise.
     *
     * @param t training time, ≥ 0 or +∞
     * @param f0Train train outputs at initialisation [N, O], or null
     * @return W [N, O], which the caller closes
     */
    public Tensor coefficients(double t, Tensor f0Train) {
        checkOpen();
        checkTime(t);
        try (Tensor r = residual(f0Train)) {
            if (t == Double.POSITIVE_INFINITY) {
                return solve(r);
            }
            return inEigenbasis(spectralWeights(t, true), r);
        }
    }

    /**
     * V diag((1 − e^(−λ⁺ηt/|y|))/λ) Vᵀ R, the operator of {@link #coefficients} at a finite t applied to any number
     * of columns: R [d, k] (d the kernel's dimension), float32 or float64. The ensemble's covariances apply it to a
     * test-train kernel's transpose [N, M].
     *
     * @param t training time, finite and ≥ 0
     * @param r the right-hand sides [d, k]
     * @return [d, k] float64, which the caller closes
     */
    Tensor expm1Operator(double t, Tensor r) {
        checkOpen();
        checkTime(t);
        int d = kernel.dimension();
        if (t == Double.POSITIVE_INFINITY || r.rank() != 2 || r.dim(0) != d) {
            throw new IllegalArgumentException("gradient descent: expected a finite t and [" + d + ", k] right-hand "
                    + "sides, got t = " + t + " and " + Shapes.str(r.shape()));
        }
        double[] g = spectralWeights(t, true);
        try (Tensor r64 = r.to(DType.F64)) {
            return eigenProduct(g, r64, r.dim(1));
        }
    }

    /**
     * The functions of the eigenvalues λ of K + rI that finite-time predictions apply, s = ηt/|y|: 1 − e^(−λ⁺ s)
     * (the training outputs), or (1 − e^(−λ⁺ s))/λ with {@code divided} (the coefficients); 0 where λ is at most
     * {@link #roundOffFloor}, λ_max·d·ε, so that such a mode stays put even when η·t overflows (0·∞ would be NaN).
     * Below that floor (NumPy's {@code matrix_rank} and {@code pinv} tolerance, the one {@code spectrum} flags) an
     * eigenvalue is the eigensolver's round-off, of either sign: a kernel with duplicated examples or of rank below d
     * has such eigenvalues in place of its zeros, and a positive one, near 1e-16·λ_max, would otherwise count as a
     * mode that training fits by time |y|/(ηλ), its round-off eigenvector amplified by 1/λ into the test outputs
     * (and duplicated training examples fitted to different targets). Computes the eigendecomposition if not done
     * yet.
     */
    private double[] spectralWeights(double t, boolean divided) {
        ensureEigen();
        double s = learningRate * t / ((double) n * outputs);
        double[] g = new double[eigenvalues.length];
        for (int i = 0; i < g.length; i++) {
            double lambda = eigenvalues[i];
            boolean mode = lambda > roundOffFloor;
            double grown = mode ? -Math.expm1(-lambda * s) : 0;
            g[i] = divided && mode ? grown / lambda : grown;
        }
        return g;
    }

    // ------------------------------------------------------------------ linear algebra

    /** y − f0 as [N, O] float64 (the memory of vec(y − f0) for the full layout). */
    private Tensor residual(Tensor f0Train) {
        checkOutputs("f0_train", f0Train, n);
        Tensor r = yTrain.copy();
        if (f0Train != null) {
            for (int i = 0; i < r.size(); i++) {
                r.setFlat(i, r.getFlat(i) - f0Train.getFlat(i));
            }
        }
        return r;
    }

    /** (K + rI)⁻¹ R by Cholesky; R [N, O] viewed as [d, k] = [N, O] (shared) or [NO, 1] (full). */
    private Tensor solve(Tensor r) {
        ensureCholesky();
        int d = kernel.dimension();
        int k = (int) ((long) n * outputs / d);
        // dpotrs takes the right-hand sides one after another ([k, d]): the transpose of [d, k]
        Tensor x = transposed(r, d, k);
        Lapack.choleskySolveInPlace(cholesky.pointer(), d, x.doublePointer(), k);
        Tensor out = transposed(x, k, d);
        x.close();
        return out.reshapeMove(n, outputs); // [d, k] is the memory of [N, O]
    }

    /** The Cholesky factor of K + r·I, made on first request (once, also when several threads ask at once). */
    private synchronized void ensureCholesky() {
        checkOpen();
        if (cholesky == null) {
            KernelMatrix c = regularisedCopy();
            int dim = c.dimension();
            double norm = Lapack.oneNorm(c.pointer(), dim);
            int info = Lapack.choleskyInPlace(c.pointer(), dim);
            // dpotrf succeeds on a singular kernel whenever round-off leaves its pivots positive: the solve would
            // then return round-off amplified by 1/ε, a silently wrong regression. Refused as well: rcond < ε.
            double rcond = info != 0 ? 0 : Lapack.choleskyReciprocalCondition(c.pointer(), dim, norm);
            if (info != 0 || rcond < Lapack.SINGULAR_TO_WORKING_PRECISION) {
                if (c != kernel) {
                    c.close();
                }
                throw new IllegalArgumentException("kernel regression: the regularised train kernel is "
                        + (info != 0 ? "not positive definite (leading minor " + info + " of " + dim
                        : String.format(java.util.Locale.ROOT, "numerically singular (reciprocal condition number "
                        + "%.3g < ε = 2^-53", rcond))
                        + "; regulariser r = " + regulariser + "); use a larger diag_reg"
                        + (zeroDiagonal ? ZERO_DIAGONAL : ""));
            }
            cholesky = c;
        }
    }

    /**
     * The end of a refusal to factorise a kernel whose diagonal is zero, where "use a larger diag_reg" alone cannot be
     * followed with a relative diag_reg (r = diag_reg × the mean diagonal = 0 however large); also gp_inference's.
     */
    static final String ZERO_DIAGONAL = "; the kernel's diagonal is zero, so a diag_reg relative to its mean adds "
            + "nothing: use an absolute one (--diag-reg-absolute)";

    /** V diag(g) Vᵀ R for R [N, O] viewed as [d, k]. */
    private Tensor inEigenbasis(double[] g, Tensor r) {
        int d = kernel.dimension();
        int k = (int) ((long) n * outputs / d);
        return eigenProduct(g, r, k).reshapeMove(n, outputs); // [d, k] is the memory of [N, O]
    }

    /** V diag(g) Vᵀ R for R [d, k] float64: [d, k]. */
    private Tensor eigenProduct(double[] g, Tensor r, int k) {
        int d = kernel.dimension();
        DoublePointer e = eigenvectors.pointer(); // E = Vᵀ, row i = v_i
        try (Tensor c = Tensor.empty(DType.F64, d, k)) {
            Blas.dgemm(false, false, d, k, d, 1, e, d, r.doublePointer(), k, 0, c.doublePointer(), k); // Vᵀ R
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < k; j++) {
                    c.setFlat(i * k + j, c.getFlat(i * k + j) * g[i]);
                }
            }
            Tensor out = Tensor.empty(DType.F64, d, k);
            Blas.dgemm(true, false, d, k, d, 1, e, d, c.doublePointer(), k, 0, out.doublePointer(), k); // V (g ∘ C)
            return out;
        }
    }

    /**
     * Below −this × λ_max an eigenvalue is not round-off: the kernel is not positive semi-definite, as an NTK is, and
     * clipping it to 0 would silently drop a mode (a float32 kernel of 2,000 examples rounds its eigenvalues by
     * well under 1e-4 × λ_max).
     */
    static final double INDEFINITE = 1e-3;

    /** The eigendecomposition of K + r·I, made on first request (once, also when several threads ask at once). */
    private synchronized void ensureEigen() {
        checkOpen();
        if (eigenvectors == null) {
            KernelMatrix v = regularisedCopy();
            double[] lambda = Lapack.symmetricEigenInPlace(v.pointer(), v.dimension(), true);
            double max = lambda.length == 0 ? 0 : Math.max(Math.abs(lambda[0]), Math.abs(lambda[lambda.length - 1]));
            if (lambda.length > 0 && lambda[0] < -INDEFINITE * max) {
                if (v != kernel) {
                    v.close();
                }
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "gradient descent: the "
                        + "train kernel (+ r·I) is not positive semi-definite: its smallest eigenvalue is %.4g, its "
                        + "largest in magnitude %.4g; an NTK's eigenvalues are negative by round-off at most",
                        lambda[0], max));
            }
            // 0 when λ_max ≤ 0 (a zero kernel): then no eigenvalue is a mode; d·ε first, so that a λ_max near the
            // largest double does not overflow
            roundOffFloor = lambda.length == 0 ? 0
                    : Math.max(lambda[lambda.length - 1], 0) * (lambda.length * Math.ulp(1.0));
            eigenvalues = lambda;
            eigenvectors = v;
        }
    }

    private KernelMatrix regularisedCopy() {
        if (kernelOverwritten) {
            throw new IllegalStateException("the train kernel was overwritten by the first factorisation "
                    + "(ofDestroying): t = ∞ and finite t cannot both be asked of this predictor");
        }
        KernelMatrix c;
        if (factoriseInPlace) {
            kernelOverwritten = true;
            c = kernel;
        } else {
            c = kernel.copy();
        }
        // (K + Kᵀ)/2: both factorisations read one triangle of K; the one place for the closed form (and the
        // ensemble's flows), on the copy (or the kernel given to be destroyed), never on the caller's kernel
        c.symmetrise();
        if (regulariser != 0) {
            c.addToDiagonal(regulariser);
        }
        return c;
    }

    /** K_test,train W: one GEMM [M, N]·[N, O] (shared), or Σ_{b,l} Θ[m, b, k, l] W[b, l] (full). */
    private Tensor applyTestKernel(Tensor kTest, Tensor w, int m) {
        if (!kernel.isFull()) {
            Tensor out = Tensor.empty(DType.F64, m, outputs);
            if (kTest.dtype() == DType.F64) {
                Blas.gemm(false, false, m, outputs, n, 1, kTest, 0, n, w, 0, outputs, 0, out, 0, outputs);
            } else {
                try (Tensor k64 = kTest.to(DType.F64)) {
                    Blas.gemm(false, false, m, outputs, n, 1, k64, 0, n, w, 0, outputs, 0, out, 0, outputs);
                }
            }
            return out;
        }
        // The [O, O] blocks sit innermost: contract them in place instead of transposing Θ to [M, O, N, O].
        int o = outputs;
        double[] wv = w.toDoubleArray();
        Tensor out = Tensor.zeros(DType.F64, m, o);
        double[] acc = new double[o];
        for (int a = 0; a < m; a++) {
            java.util.Arrays.fill(acc, 0);
            long base = (long) a * n * o * o;
            for (int b = 0; b < n; b++) {
                int src = (int) (base + (long) b * o * o);
                for (int k = 0; k < o; k++) {
                    double s = 0;
                    for (int l = 0; l < o; l++) {
                        s += kTest.getFlat(src + k * o + l) * wv[b * o + l];
                    }
                    acc[k] += s;
                }
            }
            for (int k = 0; k < o; k++) {
                out.setFlat(a * o + k, acc[k]);
            }
        }
        return out;
    }

    private static Tensor transposed(Tensor x, int rows, int cols) {
        Tensor t = Tensor.empty(DType.F64, cols, rows);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t.setFlat(j * rows + i, x.getFlat(i * cols + j));
            }
        }
        return t;
    }

    // ------------------------------------------------------------------ checks

    /** Refuses a learning rate η that is not a positive finite number (the closed form, the ODE, a request). */
    static void checkLearningRate(double learningRate) {
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate: expected a positive finite number, got " + learningRate);
        }
    }

    /**
     * Refuses a null regulariser (the closed form, the posteriors, the ODE, a request), naming {@link DiagReg#NONE}
     * for none; its value was checked when it was made.
     */
    static void requireDiagReg(DiagReg diagReg) {
        if (diagReg == null) {
            throw new IllegalArgumentException("diag_reg: expected a DiagReg (DiagReg.NONE for none), got null");
        }
    }

    static void checkTime(double t) {
        if (!(t >= 0)) {
            throw new IllegalArgumentException("t: expected a time >= 0 (or infinity), got " + t);
        }
    }

    private void checkOutputs(String what, Tensor f, int rows) {
        if (f == null) {
            return;
        }
        if (f.rank() != 2 || f.dim(0) != rows || f.dim(1) != outputs) {
            throw new IllegalArgumentException(what + ": expected [" + rows + ", " + outputs + "], got "
                    + Shapes.str(f.shape()));
        }
        int bad = f.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(what + ": " + f.getFlat(bad) + " at flat index " + bad);
        }
    }

    private int checkTestKernel(Tensor k) {
        if (k == null) {
            throw new IllegalArgumentException("test-train kernel: must not be null");
        }
        int[] s = k.shape();
        boolean ok = !kernel.isFull() ? s.length == 2 && s[1] == n
                : s.length == 4 && s[1] == n && s[2] == outputs && s[3] == outputs;
        if (!ok) {
            throw new IllegalArgumentException("test-train kernel: expected [M, " + n
                    + (kernel.isFull() ? ", " + outputs + ", " + outputs + "]" : "]")
                    + " to match the train kernel, got " + Shapes.str(s));
        }
        int bad = k.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException("test-train kernel: " + k.getFlat(bad) + " at flat index " + bad);
        }
        return s[0];
    }

    private static void addInPlace(Tensor f, Tensor f0) {
        if (f0 != null) {
            for (int i = 0; i < f.size(); i++) {
                f.setFlat(i, f.getFlat(i) + f0.getFlat(i));
            }
        }
    }

    /** A predictor used after {@link #close()}: one line saying so, never a recomputed (and leaked) factorisation. */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("gradient descent predictor used after close()");
        }
    }

    /**
     * Releases the factorisations, and the kernel's copy made by {@link #fromTensor} (a {@link KernelMatrix} given to
     * the predictor belongs to the caller). Idempotent.
     */
    @Override
    public synchronized void close() {
        closed = true;
        yTrain.close();
        // an in-place factorisation is the caller's kernel matrix: the caller closes it
        if (cholesky != null && cholesky != kernel) {
            cholesky.close();
        }
        if (eigenvectors != null && eigenvectors != kernel) {
            eigenvectors.close();
        }
        cholesky = null;
        eigenvectors = null;
        if (ownsKernel) {
            kernel.close();
        }
    }
}
