package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GradientDescentMse;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.predict.KernelSpectrum;
import org.ntk4j.predict.Predict;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * How well each N×N kernel kind approximates the full empirical NTK: the full kernel Θ (NO×NO) is computed
 * once, each kind K is read as K ⊗ I_O, and they are compared on the kernel itself, its spectrum, and the
 * kernel-regression predictions they make on held-out inputs (infinite-time MSE gradient descent, i.e.
 * f_test = K_test,train (K + r·I)⁻¹ Y, with r from a {@link DiagReg} as in neural-tangents: diag_reg · trace/dimension
 * of each kernel when relative, diag_reg itself when absolute), all through {@link GradientDescentMse} and
 * {@link KernelSpectrum}. Given the held-out labels, each kernel's regression is also scored against them (the test
 * accuracy, {@link Predict#accuracy}), the full kernel's and each kind's, as {@code ntk4j study} reports them.
 */
public final class ApproximationReport {
    /** One kind's figures; ratios are kind / full. */
    public static final class Row {
        /** The kind, as {@link KernelKind#toString()} writes it. */
        public final String kind;
        /** ‖Θ − K ⊗ I_O‖_F / ‖Θ‖_F over the training kernel. */
        public final double relativeFrobeniusError;
        /** |λ_max(K) − λ_max(Θ)| / |λ_max(Θ)| over the training kernel. */
        public final double lambdaMaxRelativeError;
        /**
         * λ_min(K) / λ_min(Θ) over the training kernel; NaN when Θ is numerically singular
         * ({@link ApproximationReport#numericallySingular}), where its λ_min is round-off and the ratio means
         * nothing; 0 when only K is, whose λ_min, round-off of either sign, is taken as 0 (as its condition number
         * +∞ implies).
         */
        public final double lambdaMinRatio;
        /**
         * Condition number λ_max/λ_min of K over that of Θ, a numerically singular kernel's being +∞: +∞ when only K
         * is singular, NaN when Θ is.
         */
        public final double conditionNumberRatio;
        /** ‖p − p_full‖_F / ‖p_full‖_F of the infinite-time test predictions [M, O]. */
        public final double predictionRelativeDifference;
        /** Fraction of test examples, in [0, 1], whose predicted class (argmax over O) matches the full kernel's. */
        public final double argmaxAgreement;
        /** Wall-clock seconds to compute the kind's train and test kernels. */
        public final double seconds;
        /** Peak tensor storage, in bytes above what was live before, while computing those kernels (at least 1). */
        public final long peakBytes;
        /** {@link #seconds} over the full kernel's seconds. */
        public final double timeRatio;
        /** {@link #peakBytes} over the full kernel's peak bytes. */
        public final double memoryRatio;
        /**
         * Fraction of test examples, in [0, 1], whose predicted class (argmax over O) is their label; NaN when the
         * report was run without test labels.
         */
        public final double testAccuracy;

        Row(String kind, double frob, double lmax, double lmin, double cond, double pred, double argmax,
            double seconds, long peakBytes, double timeRatio, double memoryRatio, double testAccuracy) {
            this.kind = kind;
            this.relativeFrobeniusError = frob;
            this.lambdaMaxRelativeError = lmax;
            this.lambdaMinRatio = lmin;
            this.conditionNumberRatio = cond;
            this.predictionRelativeDifference = pred;
            this.argmaxAgreement = argmax;
            this.seconds = seconds;
            this.peakBytes = peakBytes;
            this.timeRatio = timeRatio;
            this.memoryRatio = memoryRatio;
            this.testAccuracy = testAccuracy;
        }

        /**
         * A row measured earlier and read back from a report that keeps only some figures (a resumed training
         * study's): those given; the prediction difference, argmax agreement, seconds and the time and memory
         * ratios NaN, the peak bytes 0.
         *
         * @param kind the kind, as {@link KernelKind#toString()} writes it
         * @param relativeFrobeniusError {@link #relativeFrobeniusError}
         * @param lambdaMaxRelativeError {@link #lambdaMaxRelativeError}
         * @param lambdaMinRatio {@link #lambdaMinRatio}
         * @param conditionNumberRatio {@link #conditionNumberRatio}
         * @param testAccuracy {@link #testAccuracy}
         * @return the row
         */
        public static Row recorded(String kind, double relativeFrobeniusError, double lambdaMaxRelativeError,
                                   double lambdaMinRatio, double conditionNumberRatio, double testAccuracy) {
            return new Row(kind, relativeFrobeniusError, lambdaMaxRelativeError, lambdaMinRatio, conditionNumberRatio,
                    Double.NaN, Double.NaN, Double.NaN, 0, Double.NaN, Double.NaN, testAccuracy);
        }
    }

    private final List<Row> rows = new ArrayList<>();
    private final double fullSeconds;
    private final long fullPeak;
    private double fullTestAccuracy = Double.NaN;
    private boolean fullSingular;

    private ApproximationReport(double fullSeconds, long fullPeak) {
        this.fullSeconds = fullSeconds;
        this.fullPeak = fullPeak;
    }

    /**
     * The rows, one per kind, in the order the kinds were given.
     *
     * @return the report's own list (not a copy)
     */
    public List<Row> rows() {
        return rows;
    }

    /**
     * Time the full kernel took.
     *
     * @return wall-clock seconds to compute the full train [N, N, O, O] and test [M, N, O, O] kernels
     */
    public double fullSeconds() {
        return fullSeconds;
    }

    /**
     * Memory the full kernel took.
     *
     * @return peak tensor storage in bytes above what was live before, while computing the full kernels (at
     *     least 1)
     */
    public long fullPeakBytes() {
        return fullPeak;
    }

    /**
     * Whether the full training kernel Θ is singular to working precision ({@link #numericallySingular}), which
     * leaves every row's {@link Row#lambdaMinRatio} and {@link Row#conditionNumberRatio} NaN.
     *
     * @return true if Θ's λ_min is round-off
     */
    public boolean fullSingular() {
        return fullSingular;
    }

    /**
     * The full kernel's accuracy on the held-out labels.
     *
     * @return the fraction of test examples, in [0, 1], whose class predicted by kernel regression with the full
     *     eNTK is their label; NaN when the report was run without test labels
     */
    public double fullTestAccuracy() {
        return fullTestAccuracy;
    }

    /**
     * Runs the comparison. {@code yTrain} [N, O] holds the regression targets (e.g. one-hot labels);
     * {@code xTest} the held-out inputs. The input tensors stay the caller's; every kernel computed here is
     * closed before returning.
     *
     * @param ntk the kernel to compare with; its method and memory budget apply, its trace and diagonal axes
     *     are replaced by each kind's
     * @param xTrain training inputs [N, ...]
     * @param xTest held-out inputs [M, ...], of the same per-example shape
     * @param yTrain regression targets [N, O], O the number of logits of the model
     * @param kinds the N×N kinds to compare with the full kernel (see {@link KernelKind})
     * @param diagReg diagonal regularisation of each training kernel, the full one and each kind's (relative to
     *     the kernel's own trace/dimension, or absolute)
     * @return the report: one row per kind, and the full kernel's time and memory
     * @throws IllegalArgumentException before any kernel is computed, if an argument is null, a kind is not N×N
     *     ({@code full}, {@code diagonal}) or names a logit the model lacks, the model's outputs are not [N, O],
     *     {@code yTrain} is not [N, O], or {@code xTest} holds no example or examples unlike {@code xTrain}'s (shape,
     *     dtype)
     */
    public static ApproximationReport run(EmpiricalNtk ntk, Tensor xTrain, Tensor xTest, Tensor yTrain,
                                          List<KernelKind> kinds, DiagReg diagReg) {
        return run(ntk, xTrain, xTest, yTrain, null, kinds, diagReg, null);
    }

    /**
     * {@link #run(EmpiricalNtk, Tensor, Tensor, Tensor, List, DiagReg)} that also scores every kind's (and the full
     * kernel's) kernel-regression predictions against the held-out labels, and hands the full training kernel to
     * {@code fullTrainKernel} before it is closed (to measure, e.g., how it moves during training without
     * computing it twice).
     *
     * @param ntk the kernel to compare with; its method and memory budget apply, its trace and diagonal axes
     *     are replaced by each kind's
     * @param xTrain training inputs [N, ...]
     * @param xTest held-out inputs [M, ...], of the same per-example shape
     * @param yTrain regression targets [N, O], O the number of logits of the model
     * @param testLabels the classes in [0, O) of the M held-out inputs; null leaves {@link Row#testAccuracy} and
     *     {@link #fullTestAccuracy()} NaN
     * @param kinds the N×N kinds to compare with the full kernel (see {@link KernelKind})
     * @param diagReg diagonal regularisation of each training kernel, the full one and each kind's (relative to
     *     the kernel's own trace/dimension, or absolute)
     * @param fullTrainKernel called once with the full training kernel Θ [N, N, O, O], which it may read but
     *     must not close or keep; null for none
     * @return the report: one row per kind, and the full kernel's time, memory and accuracy
     * @throws IllegalArgumentException before any kernel is computed, if an argument other than {@code testLabels}
     *     and {@code fullTrainKernel} is null, a kind is not N×N ({@code full}, {@code diagonal}) or names a logit the
     *     model lacks, the model's outputs are not [N, O], {@code yTrain} is not [N, O], {@code xTest} holds no
     *     example or examples unlike {@code xTrain}'s (shape, dtype), or {@code testLabels} does not have M entries,
     *     each in [0, O)
     */
    public static ApproximationReport run(EmpiricalNtk ntk, Tensor xTrain, Tensor xTest, Tensor yTrain,
                                          int[] testLabels, List<KernelKind> kinds, DiagReg diagReg,
                                          java.util.function.Consumer<Tensor> fullTrainKernel) {
        int o = requireComparable(ntk, xTrain, xTest, yTrain, kinds);
        if (testLabels != null && testLabels.length != xTest.dim(0)) {
            throw new IllegalArgumentException("approximation report: " + testLabels.length + " test labels for "
                    + xTest.dim(0) + " held-out inputs");
        }
        if (testLabels != null) {
            for (int i = 0; i < testLabels.length; i++) {
                // a label outside [0, O) never matches a predicted class: it would be counted wrong, silently
                if (testLabels[i] < 0 || testLabels[i] >= o) {
                    throw new IllegalArgumentException("testLabels: entry " + i + " is " + testLabels[i]
                            + ", expected a class in [0, " + o + ")");
                }
            }
        }
        if (diagReg == null) { // before the full kernel; its value was checked when it was made
            throw new IllegalArgumentException("diagReg: expected a DiagReg (DiagReg.NONE for none), got null");
        }
        long base = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        long t0 = System.nanoTime();
        // closed on every path: a kind refused by its own kernel (projected:K that fits no chunk, say) or a failed
        // solve leaves nothing allocated
        try (Tensor thetaTrain = ntk.kernel(KernelKind.full(), xTrain, null); // [N, N, O, O]
             Tensor thetaTest = ntk.kernel(KernelKind.full(), xTest, xTrain)) { // [M, N, O, O]
            double fullSeconds = (System.nanoTime() - t0) / 1e9;
            long fullPeak = Math.max(1, Tensor.peakBytes() - base);
            return compare(ntk, xTrain, xTest, yTrain, testLabels, kinds, diagReg, fullTrainKernel, o, thetaTrain,
                    thetaTest, new ApproximationReport(fullSeconds, fullPeak));
        }
    }

    /** {@link #run}'s comparison once the full kernels, which the caller closes, are computed. */
    private static ApproximationReport compare(EmpiricalNtk ntk, Tensor xTrain, Tensor xTest, Tensor yTrain,
                                               int[] testLabels, List<KernelKind> kinds, DiagReg diagReg,
                                               java.util.function.Consumer<Tensor> fullTrainKernel, int o,
                                               Tensor thetaTrain, Tensor thetaTest, ApproximationReport report) {
        double fullSeconds = report.fullSeconds;
        long fullPeak = report.fullPeak;
        int n = xTrain.dim(0);
        if (fullTrainKernel != null) {
            fullTrainKernel.accept(thetaTrain);
        }
        int no = n * o;
        try (KernelMatrix full = KernelMatrix.of(thetaTrain);
             GradientDescentMse fullRegression = GradientDescentMse.of(full, yTrain, 1, diagReg);
             Tensor fullPred = fullRegression.predictTest(Double.POSITIVE_INFINITY, thetaTest, null, null)) {
            KernelSpectrum fullSpectrum = KernelSpectrum.of(full);
            report.fullSingular = numericallySingular(fullSpectrum, thetaTrain.dtype());
            report.fullTestAccuracy = accuracy(fullPred, testLabels);
            double[] row = new double[no];
            for (KernelKind kind : kinds) {
                long b0 = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                long s0 = System.nanoTime();
                try (Tensor kTrain = ntk.kernel(kind, xTrain, null);
                     Tensor kTest = ntk.kernel(kind, xTest, xTrain)) {
                    double seconds = (System.nanoTime() - s0) / 1e9;
                    long peak = Math.max(1, Tensor.peakBytes() - b0);
                    double num = 0;
                    double den = 0;
                    for (int i = 0; i < no; i++) {
                        full.getRow(i, row);
                        for (int j = 0; j < no; j++) {
                            double approx = (i % o == j % o) ? kTrain.get(i / o, j / o) : 0;
                            double d = row[j] - approx;
                            num += d * d;
                            den += row[j] * row[j];
                        }
                    }
                    try (KernelMatrix k = KernelMatrix.of(kTrain);
                         GradientDescentMse regression = GradientDescentMse.of(k, yTrain, 1, diagReg);
                         Tensor pred = regression.predictTest(Double.POSITIVE_INFINITY, kTest, null, null)) {
                        KernelSpectrum spectrum = KernelSpectrum.of(k); // each eigenvalue O times in K ⊗ I
                        double lmax = spectrum.lambdaMax();
                        double lmin = spectrum.lambdaMin();
                        double fmax = fullSpectrum.lambdaMax();
                        double fmin = fullSpectrum.lambdaMin();
                        double pn = 0;
                        double pd = 0;
                        int agree = 0;
                        int m = pred.dim(0);
                        for (int a = 0; a < m; a++) {
                            int am = 0;
                            int af = 0;
                            for (int c = 0; c < o; c++) {
                                double p = pred.get(a, c);
                                double f = fullPred.get(a, c);
                                pn += (p - f) * (p - f);
                                pd += f * f;
                                am = p > pred.get(a, am) ? c : am;
                                af = f > fullPred.get(a, af) ? c : af;
                            }
                            agree += am == af ? 1 : 0;
                        }
                        // a singular Θ's λ_min is round-off (of either sign): no ratio to it means anything
                        boolean fullSingular = report.fullSingular;
                        // a singular K's λ_min is round-off too (a tiny number of either sign, which divided by Θ's
                        // reads as a measurement): it is taken as 0, the value its condition number +∞ already
                        // implies, so the two figures agree
                        boolean kindSingular = numericallySingular(spectrum, kTrain.dtype());
                        double condition = kindSingular ? Double.POSITIVE_INFINITY : lmax / lmin;
                        double kindMin = kindSingular ? 0 : lmin;
                        report.rows.add(new Row(kind.toString(), Math.sqrt(num / den),
                                Math.abs(lmax - fmax) / Math.abs(fmax), fullSingular ? Double.NaN : kindMin / fmin,
                                fullSingular ? Double.NaN : condition / (fmax / fmin),
                                Math.sqrt(pn / pd), agree / (double) m, seconds, peak, seconds / fullSeconds,
                                peak / (double) fullPeak, accuracy(pred, testLabels)));
                    }
                }
            }
        }
        return report;
    }

    /**
     * Checks, before any kernel is computed, what the comparison needs: N×N kinds (each is read as K ⊗ I_O; full and
     * diagonal have no such reading), a model with outputs [N, O] (the kinds that project the logits need them, and
     * the regression targets are [N, O]), targets [N, O], at least one held-out input, held-out examples like the
     * training ones, and logits the model has.
     *
     * @param ntk the kernel to compare with
     * @param xTrain training inputs [N, ...]
     * @param xTest held-out inputs [M, ...]
     * @param yTrain regression targets, [N, O] expected
     * @param kinds the kinds to compare
     * @return O, the model's outputs per example
     */
    private static int requireComparable(EmpiricalNtk ntk, Tensor xTrain, Tensor xTest, Tensor yTrain,
                                         List<KernelKind> kinds) {
        if (ntk == null || xTrain == null || xTest == null || yTrain == null || kinds == null) {
            String name = ntk == null ? "ntk" : xTrain == null ? "xTrain" : xTest == null ? "xTest"
                    : yTrain == null ? "yTrain" : "kinds";
            throw new IllegalArgumentException(name + ": must not be null");
        }
        for (int i = 0; i < kinds.size(); i++) {
            KernelKind kind = kinds.get(i);
            if (kind == null) {
                throw new IllegalArgumentException("kinds: entry " + i + " is null");
            }
            if (!kind.isSquare()) {
                throw new IllegalArgumentException("kinds: " + kind + " is not an N×N kind (each kind is compared as "
                        + "K ⊗ I_O with the full kernel); expected trace, pntk, pntk-unscaled, logit:K, probes:R or "
                        + "projected:K");
            }
        }
        if (xTrain.rank() < 1 || xTest.rank() < 1 || xTest.dim(0) < 1) {
            throw new IllegalArgumentException((xTrain.rank() < 1 ? "xTrain: needs a batch axis" : xTest.rank() < 1
                    ? "xTest: needs a batch axis" : "xTest: needs at least 1 held-out input") + ", got "
                    + org.ntk4j.tensor.Shapes.str(xTrain.rank() < 1 ? xTrain.shape() : xTest.shape()));
        }
        int[] perExample = org.ntk4j.tensor.Shapes.dropFirst(xTrain.shape());
        if (!java.util.Arrays.equals(org.ntk4j.tensor.Shapes.dropFirst(xTest.shape()), perExample)
                || xTest.dtype() != xTrain.dtype()) {
            // the held-out kernel [M, N, O, O], computed second, would refuse them naming xTrain as its "x2"
            throw new IllegalArgumentException("xTest: examples must be " + new org.ntk4j.graph.TensorType(
                    xTrain.dtype(), perExample) + " like those of xTrain, got a batch "
                    + org.ntk4j.graph.TensorType.of(xTest));
        }
        int[] out = ntk.model().outputShape(perExample);
        if (out.length != 1) {
            throw new IllegalArgumentException("approximation report: needs a model with outputs [N, O], the model "
                    + "gives [N] + " + org.ntk4j.tensor.Shapes.str(out));
        }
        int o = out[0];
        int n = xTrain.dim(0);
        if (yTrain.rank() != 2 || yTrain.dim(0) != n || yTrain.dim(1) != o) {
            throw new IllegalArgumentException("yTrain: expected [" + n + ", " + o + "] (N training examples, O "
                    + "outputs of the model), got " + org.ntk4j.tensor.Shapes.str(yTrain.shape()));
        }
        for (KernelKind kind : kinds) {
            if (kind.family() == KernelKind.Family.LOGIT && kind.argument() >= o) {
                throw new IllegalArgumentException("kinds: " + kind + " but the model has " + o + " outputs (0.."
                        + (o - 1) + ")");
            }
        }
        return o;
    }

    /**
     * Whether a kernel is singular to working precision: λ_min ≤ λ_max · d · ε (d its dimension, ε the machine
     * epsilon of the kernel's dtype: 2^-52 for f64, 2^-23 for f32), NumPy's {@code matrix_rank} tolerance. Its
     * λ_min is then round-off, possibly negative, and its condition number is taken as +∞. On a positive spectrum
     * this is exactly NumPy's test (the singular values are the eigenvalues); any λ_min ≤ 0 is singular too, so a
     * zero or negative-definite kernel (λ_max &lt; 0, where λ_max·d·ε lies above λ_min) is.
     *
     * @param spectrum the kernel's eigenvalues
     * @param dtype the dtype the kernel was computed in
     * @return true if λ_min is not above that tolerance
     * @throws IllegalArgumentException if spectrum or dtype is null
     */
    public static boolean numericallySingular(KernelSpectrum spectrum, DType dtype) {
        if (spectrum == null || dtype == null) {
            throw new IllegalArgumentException((spectrum == null ? "spectrum" : "dtype") + ": must not be null");
        }
        double eps = dtype == DType.F32 ? Math.ulp(1.0f) : Math.ulp(1.0);
        return !(spectrum.lambdaMin() > spectrum.lambdaMax() * spectrum.dimension() * eps);
    }

    /** Fraction of rows of {@code pred} [M, O] whose argmax is the label ({@link Predict#accuracy}); NaN without. */
    private static double accuracy(Tensor pred, int[] labels) {
        return labels == null ? Double.NaN : Predict.accuracy(pred, labels);
    }

    /**
     * A kind's test accuracy less the full kernel's: the accuracy the approximation costs (negative) or gains.
     *
     * @param row one of {@link #rows()}
     * @return {@link Row#testAccuracy} − {@link #fullTestAccuracy()}, in [−1, 1]; NaN when the report was run without
     *     test labels
     * @throws IllegalArgumentException if row is null
     */
    public double testAccuracyDifference(Row row) {
        if (row == null) {
            throw new IllegalArgumentException("row: must not be null");
        }
        return row.testAccuracy - fullTestAccuracy;
    }

    /**
     * The report as a Markdown table.
     *
     * @return a line with the full kernel's time and peak memory (and its test accuracy, when the report was run
     *     with test labels), a line saying so if the full kernel is singular, then the table, one row per kind,
     *     with the kind's test accuracy and its difference to the full kernel's as the last two columns when the
     *     report was run with test labels
     */
    public String table() {
        boolean scored = !Double.isNaN(fullTestAccuracy);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "full eNTK: %.3f s, peak %s", fullSeconds, CostModel.human(fullPeak)));
        sb.append(scored ? String.format(Locale.ROOT, ", test accuracy %.3f%n", fullTestAccuracy)
                : String.format(Locale.ROOT, "%n"));
        if (fullSingular) {
            sb.append("the full eNTK is singular to working precision (λ_min ≤ λ_max·NO·ε): its λ_min is round-off, "
                    + "so the λ_min and condition ratios are NaN\n");
        }
        sb.append("| kind | rel. Frobenius error | rel. error λ_max | λ_min ratio | cond. ratio | rel. diff. "
                + "predictions | argmax agreement | time ratio | memory ratio |"
                + (scored ? " test accuracy | accuracy diff. |" : "") + "\n");
        sb.append("|---|---|---|---|---|---|---|---|---|" + (scored ? "---|---|" : "") + "\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %.4g | %.4g | %.4g | %.4g | %.4g | %.3f | %.3f | %.3f |",
                    r.kind, r.relativeFrobeniusError, r.lambdaMaxRelativeError, r.lambdaMinRatio,
                    r.conditionNumberRatio, r.predictionRelativeDifference, r.argmaxAgreement, r.timeRatio,
                    r.memoryRatio));
            if (scored) {
                sb.append(String.format(Locale.ROOT, " %.3f | %+.3f |", r.testAccuracy, testAccuracyDifference(r)));
            }
            sb.append(String.format(Locale.ROOT, "%n"));
        }
        return sb.toString();
    }

    /**
     * Seeded one-hot targets: example i gets class (seeded uniform) in [0, O).
     *
     * @param dtype element type
     * @param n number of examples N
     * @param o number of classes O; must be positive
     * @param seed seed of the class draws
     * @return targets [N, O], which the caller closes
     */
    public static Tensor randomOneHot(DType dtype, int n, int o, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Tensor y = Tensor.zeros(dtype, n, o);
        for (int i = 0; i < n; i++) {
            y.set(1.0, i, r.nextInt(o));
        }
        return y;
    }

    /**
     * Least-squares slope of log(y) against log(x): the exponent of y ∝ x^slope.
     *
     * @param x positive abscissae
     * @param y positive ordinates, at least as many as {@code x}
     * @return the slope; NaN when the x values are all equal (or not positive)
     */
    public static double logLogSlope(double[] x, double[] y) {
        int n = x.length;
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += Math.log(x[i]) / n;
            my += Math.log(y[i]) / n;
        }
        double sxy = 0;
        double sxx = 0;
        for (int i = 0; i < n; i++) {
            sxy += (Math.log(x[i]) - mx) * (Math.log(y[i]) - my);
            sxx += (Math.log(x[i]) - mx) * (Math.log(x[i]) - mx);
        }
        return sxy / sxx;
    }
}
