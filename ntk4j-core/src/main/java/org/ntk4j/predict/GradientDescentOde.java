package org.ntk4j.predict;

import org.hipparchus.ode.ODEState;
import org.hipparchus.ode.ODEStateAndDerivative;
import org.hipparchus.ode.OrdinaryDifferentialEquation;
import org.hipparchus.ode.nonstiff.DormandPrince853Integrator;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The outputs of a linearised network trained by gradient descent on any {@link Loss}, as neural-tangents'
 * {@code predict.gradient_descent(loss, k_train_train, y_train, learning_rate, momentum)}: the function-space ODE
 * is integrated with Hipparchus' adaptive Dormand–Prince 8(5,3) (absolute and relative tolerance
 * {@link #TOLERANCE} per component by default). With g = ∂L/∂f_train:
 * <ul>
 *   <li>no momentum: τ = η t and df_train/dτ = −K g, df_test/dτ = −K_test,train g;</li>
 *   <li>momentum μ (heavy ball): τ = √η t, μ' = (μ − 1)/√η, and df/dτ = q, dq/dτ = −K g + μ' q for the train and
 *       the test outputs, with q(0) = 0 (neural-tangents' continuous-time momentum).</li>
 * </ul>
 * K acts on the O outputs as K ⊗ I (an N×N kernel) or as the NO×NO matrix (full kernel), as in
 * {@link GradientDescentMse}, whose closed form the MSE loss has. With a diagonal regulariser r (the factory with
 * a {@link DiagReg}: r = diag_reg · trace(K)/dim if relative, diag_reg if absolute) the training outputs move
 * with K + r·I and the test outputs with K_test,train, as in {@link GradientDescentMse}: the MSE loss without
 * momentum then integrates that closed form's flow. neural-tangents' {@code gradient_descent} takes no diag_reg:
 * r = 0 (the factory without it) reproduces it.
 *
 * <p>Thread-safe once configured: {@link #predict} may be called from several threads at once, each integration
 * with its own state and its own count of evaluations against the cap. Set {@link #tolerance(double)} and {@link
 * #maxEvaluations(int)} before sharing the predictor (a call already running keeps the values it started with).
 */
public final class GradientDescentOde {
    /** Default absolute and relative tolerance of the integrator. */
    public static final double TOLERANCE = 1e-10;
    /**
     * Default cap on the right-hand side evaluations of one {@link #predict}. The integrator is explicit, so its
     * steps shrink with the flow's stiffness η·λ_max/|y|: a learning rate far above the largest convergent one
     * would otherwise integrate for ever. Ten million is far more than a convergent learning rate needs over
     * thousands of its steps.
     */
    public static final int MAX_EVALUATIONS = 10_000_000;

    private final double[] kernel; // d×d, row-major
    private final int d;
    private final boolean full;
    private final double[] y;
    private final int n;
    private final int outputs;
    private final Loss loss;
    private final double learningRate;
    private final double momentum; // NaN: none
    /** The absolute regulariser r added to the train-train kernel's diagonal ({@link #kernel} holds K + r·I). */
    private final double regulariser;
    // Settings (configure before sharing the predictor: a predict already running keeps the values it read), and
    // the count of the predict that finished last. Each predict counts its own evaluations: calls from several
    // threads at once each meet the cap alone (one shared counter made concurrent calls stop each other).
    private volatile double tolerance = TOLERANCE;
    private volatile int maxEvaluations = MAX_EVALUATIONS;
    private volatile int evaluations;

    private GradientDescentOde(KernelMatrix k, Tensor yTrain, Loss loss, double learningRate, double momentum,
                               double regulariser) {
        this.d = k.dimension();
        this.full = k.isFull();
        this.kernel = new double[d * d];
        double[] row = new double[d];
        for (int i = 0; i < d; i++) {
            k.getRow(i, row);
            System.arraycopy(row, 0, kernel, i * d, d);
        }
        // the flow of the symmetric part (K + Kᵀ)/2, as the closed form's (KernelMatrix.symmetrise)
        KernelMatrix.symmetrise(kernel, d);
        for (int i = 0; i < d; i++) {
            kernel[i * d + i] += regulariser;
        }
        this.regulariser = regulariser;
        this.y = yTrain.toDoubleArray();
        this.n = yTrain.dim(0);
        this.outputs = yTrain.dim(1);
        this.loss = loss;
        this.learningRate = learningRate;
        this.momentum = momentum;
    }

    /**
     * The predictor for train-train kernel {@code kTrainTrain} (copied), targets [N, O], learning rate η &gt; 0 and
     * momentum μ in [0, 1) or NaN for plain gradient descent, without a regulariser (r = 0: neural-tangents'
     * {@code gradient_descent}).
     *
     * @param kTrainTrain train-train kernel (copied, not closed)
     * @param yTrain targets [N, O]
     * @param loss the loss whose gradient flow is integrated
     * @param learningRate η &gt; 0
     * @param momentum μ in [0, 1), or NaN for plain gradient descent
     * @return the predictor (it holds no native memory: nothing to close)
     */
    public static GradientDescentOde of(KernelMatrix kTrainTrain, Tensor yTrain, Loss loss, double learningRate,
                                        double momentum) {
        return of(kTrainTrain, yTrain, loss, learningRate, momentum, DiagReg.NONE);
    }

    /**
     * As {@link #of(KernelMatrix, Tensor, Loss, double, double)}, the training outputs moving with K + r·I: r =
     * {@link DiagReg#regulariser(KernelMatrix)} (diag_reg · trace(K)/dim, the mean diagonal, if relative, as
     * {@link GradientDescentMse}; diag_reg itself if absolute). The test outputs move with the test-train kernel as
     * given.
     *
     * @param kTrainTrain train-train kernel (copied, not closed)
     * @param yTrain targets [N, O]
     * @param loss the loss whose gradient flow is integrated
     * @param learningRate η &gt; 0
     * @param momentum μ in [0, 1), or NaN for plain gradient descent
     * @param diagReg the regulariser ({@link DiagReg#NONE} for none)
     * @return the predictor (it holds no native memory: nothing to close)
     * @throws IllegalArgumentException as {@link #of(KernelMatrix, Tensor, Loss, double, double)}, or if diagReg is
     *     null, or the kernel's relative asymmetry exceeds {@link KernelMatrix#SYMMETRY_TOLERANCE} (within it, its
     *     symmetric part (K + Kᵀ)/2 is integrated, as {@link GradientDescentMse} factorises it)
     */
    public static GradientDescentOde of(KernelMatrix kTrainTrain, Tensor yTrain, Loss loss, double learningRate,
                                        double momentum, DiagReg diagReg) {
        if (loss == null) {
            throw new IllegalArgumentException("loss: must not be null (Loss.MSE or Loss.CROSS_ENTROPY)");
        }
        if (kTrainTrain == null || yTrain == null) {
            throw new IllegalArgumentException((kTrainTrain == null ? "train-train kernel" : "targets")
                    + ": must not be null");
        }
        if (yTrain.rank() != 2 || yTrain.dim(0) != kTrainTrain.examples()) {
            throw new IllegalArgumentException("targets: expected [" + kTrainTrain.examples() + ", O], got "
                    + Shapes.str(yTrain.shape()));
        }
        if (kTrainTrain.isFull() && kTrainTrain.blockSize() != yTrain.dim(1)) {
            throw new IllegalArgumentException("targets: " + yTrain.dim(1) + " outputs for a full kernel with "
                    + kTrainTrain.blockSize() + " outputs");
        }
        GradientDescentMse.checkLearningRate(learningRate);
        if (!Double.isNaN(momentum) && !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("--momentum: expected a number in [0, 1), got " + momentum);
        }
        int bad = yTrain.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException("targets: " + yTrain.getFlat(bad) + " at flat index " + bad);
        }
        long dim = (long) kTrainTrain.dimension() * kTrainTrain.dimension();
        if (dim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("gradient descent ODE: a " + kTrainTrain.dimension() + "×"
                    + kTrainTrain.dimension() + " kernel is too large for the ODE solver's copy");
        }
        GradientDescentMse.requireDiagReg(diagReg);
        // refused if far from symmetric; within the tolerance its copy is symmetrised, as the closed form's
        kTrainTrain.requireSymmetric("train-train kernel");
        double r = diagReg.regulariser(kTrainTrain);
        return new GradientDescentOde(kTrainTrain, yTrain, loss, learningRate, momentum, r);
    }

    /**
     * The absolute regulariser r added to the train-train kernel's diagonal (0 without one).
     *
     * @return r
     */
    public double regulariser() {
        return regulariser;
    }

    /**
     * Sets the integrator's absolute and relative tolerance (default {@link #TOLERANCE}).
     *
     * @param tol the tolerance, &gt; 0
     * @return this predictor (which is mutable)
     * @throws IllegalArgumentException if tol is not positive
     */
    public GradientDescentOde tolerance(double tol) {
        if (!(tol > 0)) {
            throw new IllegalArgumentException("tolerance: expected a positive number, got " + tol);
        }
        this.tolerance = tol;
        return this;
    }

    /**
     * Sets the most right-hand side evaluations one {@link #predict} may take (default {@link #MAX_EVALUATIONS});
     * past it, {@code predict} stops with an error that names the time it did not reach.
     *
     * @param max the cap, &gt; 0
     * @return this predictor (which is mutable)
     * @throws IllegalArgumentException if max is not positive
     */
    public GradientDescentOde maxEvaluations(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max evaluations: expected a positive number, got " + max);
        }
        this.maxEvaluations = max;
        return this;
    }

    /**
     * Right-hand side evaluations of the last {@link #predict} to finish (the cost of the integration; with calls
     * from several threads, that of whichever returned last).
     *
     * @return the count
     */
    public int evaluations() {
        return evaluations;
    }

    /** Train outputs [N, O] and test outputs [M, O] (null without a test kernel) at one time. */
    public record Outputs(Tensor train, Tensor test) implements AutoCloseable {
        @Override
        public void close() {
            train.close();
            if (test != null) {
                test.close();
            }
        }
    }

    /**
     * f_train(t) and f_test(t) for finite times {@code ts} (ascending, ≥ 0), integrating once through all of them.
     * {@code kTestTrain} is [M, N] (N×N kernel) or [M, N, O, O] (full), or null for the train outputs only;
     * {@code f0Train}/{@code f0Test} null mean 0.
     *
     * @param ts the times, ascending, ≥ 0 and finite
     * @param f0Train train outputs at initialisation [N, O], or null
     * @param kTestTrain test-train kernel, or null
     * @param f0Test test outputs at initialisation [M, O], or null
     * @return the outputs at each time, in the order of {@code ts}; the caller closes each
     * @throws IllegalArgumentException if a time is negative, infinite, NaN or out of order, an input has the wrong
     *     shape or is not finite, {@code f0Test} comes without {@code kTestTrain}, or the integration fails or
     *     reaches {@link #maxEvaluations}
     */
    public Outputs[] predict(double[] ts, Tensor f0Train, Tensor kTestTrain, Tensor f0Test) {
        if (ts == null) {
            throw new IllegalArgumentException("t: the ODE needs finite times >= 0 in ascending order, got null");
        }
        for (int i = 0; i < ts.length; i++) {
            if (!(ts[i] >= 0) || Double.isInfinite(ts[i]) || (i > 0 && ts[i] < ts[i - 1])) {
                throw new IllegalArgumentException("t: the ODE needs finite times >= 0 in ascending order, got "
                        + java.util.Arrays.toString(ts));
            }
        }
        if (f0Test != null && kTestTrain == null) {
            // neural-tangents refuses it too: the test outputs cannot move without the test-train kernel
            throw new IllegalArgumentException("f0_test: given without the test-train kernel (pass kTestTrain, or "
                    + "null for f0_test)");
        }
        int no = n * outputs;
        int m = 0;
        double[] kTest = null;
        if (kTestTrain != null) {
            int[] s = kTestTrain.shape();
            boolean ok = !full ? s.length == 2 && s[1] == n
                    : s.length == 4 && s[1] == n && s[2] == outputs && s[3] == outputs;
            if (!ok) {
                throw new IllegalArgumentException("test-train kernel: expected [M, " + n
                        + (full ? ", " + outputs + ", " + outputs + "]" : "]") + ", got " + Shapes.str(s));
            }
            m = s[0];
            requireFinite("test-train kernel", kTestTrain);
            kTest = kTestTrain.toDoubleArray();
        }
        int mo = m * outputs;
        boolean mom = !Double.isNaN(momentum);
        int dim = (no + mo) * (mom ? 2 : 1);
        double[] state = new double[dim];
        if (f0Train != null) {
            checkOutputs("f0_train", f0Train, n);
            System.arraycopy(f0Train.toDoubleArray(), 0, state, 0, no);
        }
        if (f0Test != null) {
            checkOutputs("f0_test", f0Test, m);
            System.arraycopy(f0Test.toDoubleArray(), 0, state, no, mo);
        }
        double timeScale = mom ? Math.sqrt(learningRate) : learningRate;
        double mu = mom ? (momentum - 1) / Math.sqrt(learningRate) : 0;
        final int testRows = m;
        final double[] kt = kTest;
        final int cap = maxEvaluations;
        final double tol = tolerance;
        // this call's evaluations (the predictor may integrate for other threads at the same time)
        final int[] count = new int[1];
        OrdinaryDifferentialEquation ode = new OrdinaryDifferentialEquation() {
            private final double[] g = new double[no];
            private final double[] f = new double[no];

            @Override
            public int getDimension() {
                return dim;
            }

            @Override
            public double[] computeDerivatives(double t, double[] s) {
                if (count[0] == cap) {
                    throw new EvaluationCap();
                }
                count[0]++;
                System.arraycopy(s, 0, f, 0, no);
                loss.gradient(f, y, outputs, g);
                double[] ds = new double[dim];
                int off = mom ? no + mo : 0; // where −K g goes: dq (momentum) or df
                applyTrain(g, ds, off);
                if (kt != null) {
                    applyTest(kt, testRows, g, ds, off + no);
                }
                if (mom) {
                    for (int i = 0; i < no + mo; i++) {
                        ds[i] = s[no + mo + i];                 // df/dτ = q
                        ds[no + mo + i] += mu * s[no + mo + i]; // dq/dτ = −K g + μ' q
                    }
                }
                return ds;
            }
        };
        Outputs[] out = new Outputs[ts.length];
        double tau = 0;
        ODEState current = new ODEState(0, state);
        int reached = 0; // how many of ts are done
        try {
            for (int i = 0; i < ts.length; i++) {
                reached = i;
                double target = ts[i] * timeScale;
                if (target > tau) {
                    DormandPrince853Integrator integ = new DormandPrince853Integrator(0, target - tau, tol, tol);
                    ODEStateAndDerivative r = integ.integrate(ode, current, target);
                    current = new ODEState(r.getTime(), r.getPrimaryState());
                    tau = target;
                }
                double[] s = current.getPrimaryState();
                Tensor tr = Tensor.of(java.util.Arrays.copyOfRange(s, 0, no), n, outputs);
                Tensor te = kt == null ? null : Tensor.of(java.util.Arrays.copyOfRange(s, no, no + mo), m, outputs);
                out[i] = new Outputs(tr, te);
            }
        } catch (org.hipparchus.exception.MathRuntimeException | EvaluationCap e) {
            evaluations = count[0];
            for (Outputs o : out) {
                if (o != null) {
                    o.close();
                }
            }
            if (e instanceof EvaluationCap) {
                throw new IllegalArgumentException("gradient descent ODE: stopped after " + cap
                        + " right-hand side evaluations short of t = " + ts[reached] + " (learning rate "
                        + learningRate + "); the flow is too stiff for the explicit integrator at this learning rate "
                        + "and time: use a smaller learning rate or time, or raise the cap "
                        + "(GradientDescentOde.maxEvaluations)", e);
            }
            throw new IllegalArgumentException("gradient descent ODE: the integrator failed (" + e.getMessage()
                    + "); try a smaller learning rate or time", e);
        }
        evaluations = count[0];
        return out;
    }

    /** Thrown from the right-hand side when {@link #maxEvaluations} is reached; {@code predict} reports it. */
    private static final class EvaluationCap extends RuntimeException {
        private static final long serialVersionUID = 1L;

        EvaluationCap() {
            super("evaluation cap reached", null, false, false);
        }
    }

    /** ds[off + ·] = −K g for the train outputs. */
    private void applyTrain(double[] g, double[] ds, int off) {
        if (full) {
            for (int i = 0; i < d; i++) {
                double s = 0;
                int base = i * d;
                for (int j = 0; j < d; j++) {
                    s += kernel[base + j] * g[j];
                }
                ds[off + i] = -s;
            }
            return;
        }
        for (int a = 0; a < n; a++) {
            for (int k = 0; k < outputs; k++) {
                double s = 0;
                for (int b = 0; b < n; b++) {
                    s += kernel[a * n + b] * g[b * outputs + k];
                }
                ds[off + a * outputs + k] = -s;
            }
        }
    }

    /** ds[off + ·] = −K_test,train g. */
    private void applyTest(double[] kt, int m, double[] g, double[] ds, int off) {
        int o = outputs;
        for (int a = 0; a < m; a++) {
            for (int k = 0; k < o; k++) {
                double s = 0;
                if (full) {
                    for (int b = 0; b < n; b++) {
                        int base = ((a * n + b) * o + k) * o;
                        for (int l = 0; l < o; l++) {
                            s += kt[base + l] * g[b * o + l];
                        }
                    }
                } else {
                    for (int b = 0; b < n; b++) {
                        s += kt[a * n + b] * g[b * o + k];
                    }
                }
                ds[off + a * o + k] = -s;
            }
        }
    }

    private void checkOutputs(String what, Tensor f, int rows) {
        if (f.rank() != 2 || f.dim(0) != rows || f.dim(1) != outputs) {
            throw new IllegalArgumentException(what + ": expected [" + rows + ", " + outputs + "], got "
                    + Shapes.str(f.shape()));
        }
        requireFinite(what, f);
    }

    /** A NaN or ±∞ in an input is named here, not reported later as the integrator's failure. */
    private static void requireFinite(String what, Tensor t) {
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(what + ": " + t.getFlat(bad) + " at flat index " + bad);
        }
    }

    /**
     * neural-tangents' {@code max_learning_rate(ntk_train_train, y_train_size, momentum)}: 2 (1 + μ) |y| / λ_max,
     * the largest learning rate for which gradient descent on the MSE loss 1/(2|y|)‖f − y‖² of the linearised network
     * converges (μ = 0 without momentum). λ_max of the train-train kernel (K ⊗ I has the eigenvalues of K) comes
     * from {@link #largestEigenvalue}: matrix-vector products, no eigendecomposition.
     *
     * <p>A zero kernel (λ_max = 0: outputs that do not depend on the parameters) gives +∞: gradient descent leaves
     * the linearised outputs at f0 whatever the learning rate, so no rate diverges (neural-tangents divides by
     * λ_max + 10⁻¹², a large finite number standing in for the same).
     *
     * @param kTrainTrain train-train kernel, positive semi-definite
     * @param targets |y|, the number of target entries N·O
     * @param momentum μ, 0 without momentum
     * @return the largest convergent learning rate; +∞ for a zero kernel
     * @throws IllegalArgumentException when targets &lt; 1, the momentum is outside [0, 1), or the kernel's largest
     *     eigenvalue is negative (the kernel is not positive semi-definite)
     */
    public static double maxLearningRate(KernelMatrix kTrainTrain, int targets, double momentum) {
        if (kTrainTrain == null) {
            throw new IllegalArgumentException("max learning rate: the train-train kernel must not be null");
        }
        if (targets < 1) {
            throw new IllegalArgumentException("max learning rate: targets (|y|, the number of target entries N·O) "
                    + "must be at least 1, got " + targets);
        }
        if (!Double.isNaN(momentum) && !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("max learning rate: momentum must be in [0, 1) (or NaN for none), got "
                    + momentum);
        }
        double m = Double.isNaN(momentum) ? 0 : momentum;
        double lambda = largestEigenvalue(kTrainTrain, 1e-12, 10_000);
        if (lambda == 0) {
            return Double.POSITIVE_INFINITY;
        }
        if (!(lambda > 0)) {
            throw new IllegalArgumentException("max learning rate: the train-train kernel [" + kTrainTrain.dimension()
                    + ", " + kTrainTrain.dimension() + "] must be positive semi-definite, its largest eigenvalue is "
                    + lambda);
        }
        return 2 * (1 + m) * targets / lambda;
    }

    /**
     * λ_max of a positive semi-definite kernel by the Lanczos iteration (full reorthogonalisation, one kernel-vector
     * product per step), stopped when the largest Ritz value changes by less than {@code relTol} relative, or
     * after {@code maxIter} steps or the dimension. The start vector is fixed (deterministic). The iteration runs
     * on K / 2^e, 2^e ≤ max|K_ij| &lt; 2^(e+1), and scales its estimate back (exactly: a power of two): a kernel
     * of finite entries above about 1e154 (inputs of 1e150 in float64) would otherwise overflow its squared norms
     * to ∞ and the tridiagonal matrix to NaN, which LAPACK refuses.
     *
     * @param k the kernel, positive semi-definite; its symmetric part (K + Kᵀ)/2 is iterated (the same for a
     *     symmetric kernel), as the closed form factorises it ({@link KernelMatrix#symmetrise()})
     * @param relTol relative change of the largest Ritz value at which to stop
     * @param maxIter the most steps
     * @return the estimate of λ_max
     */
    public static double largestEigenvalue(KernelMatrix k, double relTol, int maxIter) {
        if (k == null) {
            throw new IllegalArgumentException("largest eigenvalue: the kernel must not be null");
        }
        int dim = k.dimension();
        int steps = Math.min(dim, maxIter);
        double[][] q = new double[steps + 1][];
        double[] alpha = new double[steps];
        double[] beta = new double[steps];
        double[] v = new double[dim];
        java.util.SplittableRandom r = new java.util.SplittableRandom(0x5eed);
        for (int i = 0; i < dim; i++) {
            v[i] = r.nextDouble() + 0.5;
        }
        scale(v, 1 / norm(v));
        q[0] = v;
        double[] row = new double[dim];
        double largest = 0;
        for (int i = 0; i < dim; i++) {
            k.getRow(i, row);
            for (int c = 0; c < dim; c++) {
                largest = Math.max(largest, Math.abs(row[c]));
            }
        }
        if (largest == 0) {
            return 0; // the zero kernel
        }
        // a power of two: the scaled products and sums are the unscaled ones, exactly, but for overflow
        int exponent = Math.getExponent(largest);
        double unit = Math.scalb(1.0, -exponent);
        double previous = Double.NaN;
        double ritz = 0;
        double[] wt = new double[dim];
        for (int j = 0; j < steps; j++) {
            double[] w = new double[dim];
            // w = ((K + Kᵀ)/2) q from the rows alone: K q and Kᵀ q = Σ_i q_i·row_i, averaged (the symmetric part,
            // which Lanczos needs and the closed form factorises: KernelMatrix.symmetrise)
            java.util.Arrays.fill(wt, 0);
            for (int i = 0; i < dim; i++) {
                k.getRow(i, row);
                double s = 0;
                double qi = unit * q[j][i];
                for (int c = 0; c < dim; c++) {
                    s += row[c] * unit * q[j][c];
                    wt[c] += row[c] * qi;
                }
                w[i] = s;
            }
            for (int i = 0; i < dim; i++) {
                w[i] = 0.5 * (w[i] + wt[i]);
            }
            alpha[j] = dot(w, q[j]);
            for (int pass = 0; pass < 2; pass++) { // full reorthogonalisation, twice
                for (int i = 0; i <= j; i++) {
                    double c = dot(w, q[i]);
                    for (int e = 0; e < dim; e++) {
                        w[e] -= c * q[i][e];
                    }
                }
            }
            ritz = largestRitz(alpha, beta, j + 1);
            double b = norm(w);
            if (b <= 1e-14 * Math.abs(ritz) || j + 1 == steps
                    || (!Double.isNaN(previous) && Math.abs(ritz - previous) <= relTol * Math.abs(ritz))) {
                break;
            }
            previous = ritz;
            beta[j] = b;
            scale(w, 1 / b);
            q[j + 1] = w;
        }
        return Math.scalb(ritz, exponent);
    }

    /** The largest eigenvalue of the symmetric tridiagonal matrix (alpha, beta) of order m, through LAPACK. */
    private static double largestRitz(double[] alpha, double[] beta, int m) {
        try (Tensor t = Tensor.zeros(DType.F64, m, m)) {
            for (int i = 0; i < m; i++) {
                t.setFlat(i * m + i, alpha[i]);
                if (i + 1 < m) {
                    t.setFlat(i * m + i + 1, beta[i]);
                    t.setFlat((i + 1) * m + i, beta[i]);
                }
            }
            double[] ev = org.ntk4j.cpu.Lapack.symmetricEigenvalues(t);
            return ev[m - 1];
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    private static void scale(double[] a, double c) {
        for (int i = 0; i < a.length; i++) {
            a[i] *= c;
        }
    }
}
