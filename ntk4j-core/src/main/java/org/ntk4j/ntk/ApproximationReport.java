package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * How well each N×N kernel kind approximates the full empirical NTK: the full kernel Θ (NO×NO) is computed
 * once, each kind K is read as K ⊗ I_O, and they are compared on the kernel itself, its spectrum, and the
 * kernel-regression predictions they make on held-out inputs (infinite-time MSE gradient descent, i.e.
 * f_test = K_test,train (K + r·I)⁻¹ Y, with r = diagReg · trace/dimension as in neural-tangents).
 */
public final class ApproximationReport {
    /** One kind's figures; ratios are kind / full. */
    public static final class Row {
        public final String kind;
        public final double relativeFrobeniusError;
        public final double lambdaMaxRelativeError;
        public final double lambdaMinRatio;
        public final double conditionNumberRatio;
        public final double predictionRelativeDifference;
        public final double argmaxAgreement;
        public final double seconds;
        public final long peakBytes;
        public final double timeRatio;
        public final double memoryRatio;

        Row(String kind, double frob, double lmax, double lmin, double cond, double pred, double argmax,
            double seconds, long peakBytes, double timeRatio, double memoryRatio) {
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
        }
    }

    private final List<Row> rows = new ArrayList<>();
    private final double fullSeconds;
    private final long fullPeak;

    private ApproximationReport(double fullSeconds, long fullPeak) {
        this.fullSeconds = fullSeconds;
        this.fullPeak = fullPeak;
    }

    public List<Row> rows() {
        return rows;
    }

    public double fullSeconds() {
        return fullSeconds;
    }

    public long fullPeakBytes() {
        return fullPeak;
    }

    /**
     * Runs the comparison. {@code yTrain} [N, O] holds the regression targets (e.g. one-hot labels);
     * {@code xTest} the held-out inputs.
     */
    public static ApproximationReport run(EmpiricalNtk ntk, Tensor xTrain, Tensor xTest, Tensor yTrain,
                                          List<KernelKind> kinds, double diagReg) {
        int n = xTrain.dim(0);
        int o = yTrain.dim(1);
        long base = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        long t0 = System.nanoTime();
        Tensor thetaTrain = ntk.kernel(KernelKind.full(), xTrain, null); // [N, N, O, O]
        Tensor thetaTest = ntk.kernel(KernelKind.full(), xTest, xTrain); // [M, N, O, O]
        double fullSeconds = (System.nanoTime() - t0) / 1e9;
        long fullPeak = Math.max(1, Tensor.peakBytes() - base);
        ApproximationReport report = new ApproximationReport(fullSeconds, fullPeak);
        int no = n * o;
        double[][] full = new double[no][no];
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                for (int k = 0; k < o; k++) {
                    for (int l = 0; l < o; l++) {
                        full[a * o + k][b * o + l] = thetaTrain.get(a, b, k, l);
                    }
                }
            }
        }
        double[] fullEig = eigenvalues(full);
        double[][] fullPred = predictFull(full, thetaTest, yTrain, n, o, diagReg);
        for (KernelKind kind : kinds) {
            long b0 = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            long s0 = System.nanoTime();
            Tensor kTrain = ntk.kernel(kind, xTrain, null);
            Tensor kTest = ntk.kernel(kind, xTest, xTrain);
            double seconds = (System.nanoTime() - s0) / 1e9;
            long peak = Math.max(1, Tensor.peakBytes() - b0);
            double num = 0;
            double den = 0;
            for (int i = 0; i < no; i++) {
                for (int j = 0; j < no; j++) {
                    double approx = (i % o == j % o) ? kTrain.get(i / o, j / o) : 0;
                    double d = full[i][j] - approx;
                    num += d * d;
                    den += full[i][j] * full[i][j];
                }
            }
            double[][] kk = new double[n][n];
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    kk[a][b] = kTrain.get(a, b);
                }
            }
            double[] eig = eigenvalues(kk); // each with multiplicity O in K ⊗ I
            double lmax = eig[eig.length - 1];
            double lmin = eig[0];
            double fmax = fullEig[fullEig.length - 1];
            double fmin = fullEig[0];
            double[][] pred = predictKind(kk, kTest, yTrain, diagReg);
            double pn = 0;
            double pd = 0;
            int agree = 0;
            for (int m = 0; m < pred.length; m++) {
                int am = 0;
                int af = 0;
                for (int k = 0; k < o; k++) {
                    double d = pred[m][k] - fullPred[m][k];
                    pn += d * d;
                    pd += fullPred[m][k] * fullPred[m][k];
                    am = pred[m][k] > pred[m][am] ? k : am;
                    af = fullPred[m][k] > fullPred[m][af] ? k : af;
                }
                agree += am == af ? 1 : 0;
            }
            report.rows.add(new Row(kind.toString(), Math.sqrt(num / den), Math.abs(lmax - fmax) / Math.abs(fmax),
                    lmin / fmin, (lmax / lmin) / (fmax / fmin), Math.sqrt(pn / pd), agree / (double) pred.length,
                    seconds, peak, seconds / fullSeconds, peak / (double) fullPeak));
            kTrain.close();
            kTest.close();
        }
        thetaTrain.close();
        thetaTest.close();
        return report;
    }

    static double[] eigenvalues(double[][] a) {
        int n = a.length;
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, flat, i * n, n);
        }
        try (Tensor t = Tensor.of(flat, n, n)) {
            return Lapack.symmetricEigenvalues(t);
        }
    }

    /** Solves (A + r·I) X = B with r = diagReg · trace(A)/n. */
    static double[][] regularisedSolve(double[][] a, double[][] b, double diagReg) {
        int n = a.length;
        int k = b[0].length;
        double tr = 0;
        for (int i = 0; i < n; i++) {
            tr += a[i][i];
        }
        double r = diagReg * tr / n;
        double[] fa = new double[n * n];
        double[] fb = new double[n * k];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, fa, i * n, n);
            fa[i * n + i] += r;
            System.arraycopy(b[i], 0, fb, i * k, k);
        }
        try (Tensor ta = Tensor.of(fa, n, n); Tensor tb = Tensor.of(fb, n, k);
             Tensor x = Lapack.solvePositiveDefinite(ta, tb)) {
            double[][] out = new double[n][k];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < k; j++) {
                    out[i][j] = x.getFlat(i * k + j);
                }
            }
            return out;
        }
    }

    private static double[][] predictFull(double[][] full, Tensor thetaTest, Tensor y, int n, int o,
                                          double diagReg) {
        double[][] rhs = new double[n * o][1];
        for (int i = 0; i < n * o; i++) {
            rhs[i][0] = y.getFlat(i);
        }
        double[][] alpha = regularisedSolve(full, rhs, diagReg);
        int m = thetaTest.dim(0);
        double[][] pred = new double[m][o];
        for (int a = 0; a < m; a++) {
            for (int k = 0; k < o; k++) {
                double s = 0;
                for (int b = 0; b < n; b++) {
                    for (int l = 0; l < o; l++) {
                        s += thetaTest.get(a, b, k, l) * alpha[b * o + l][0];
                    }
                }
                pred[a][k] = s;
            }
        }
        return pred;
    }

    private static double[][] predictKind(double[][] k, Tensor kTest, Tensor y, double diagReg) {
        int n = k.length;
        int o = y.dim(1);
        double[][] rhs = new double[n][o];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < o; j++) {
                rhs[i][j] = y.get(i, j);
            }
        }
        double[][] alpha = regularisedSolve(k, rhs, diagReg);
        int m = kTest.dim(0);
        double[][] pred = new double[m][o];
        for (int a = 0; a < m; a++) {
            for (int j = 0; j < o; j++) {
                double s = 0;
                for (int b = 0; b < n; b++) {
                    s += kTest.get(a, b) * alpha[b][j];
                }
                pred[a][j] = s;
            }
        }
        return pred;
    }

    /** The report as a Markdown table. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "full eNTK: %.3f s, peak %s%n", fullSeconds, CostModel.human(fullPeak)));
        sb.append("| kind | rel. Frobenius error | rel. error λ_max | λ_min ratio | cond. ratio | rel. diff. "
                + "predictions | argmax agreement | time ratio | memory ratio |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "| %s | %.4g | %.4g | %.4g | %.4g | %.4g | %.3f | %.3f | %.3f |%n",
                    r.kind, r.relativeFrobeniusError, r.lambdaMaxRelativeError, r.lambdaMinRatio,
                    r.conditionNumberRatio, r.predictionRelativeDifference, r.argmaxAgreement, r.timeRatio,
                    r.memoryRatio));
        }
        return sb.toString();
    }

    /** Seeded one-hot targets: example i gets class (seeded uniform) in [0, O). */
    public static Tensor randomOneHot(DType dtype, int n, int o, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        Tensor y = Tensor.zeros(dtype, n, o);
        for (int i = 0; i < n; i++) {
            y.set(1.0, i, r.nextInt(o));
        }
        return y;
    }

    /** Least-squares slope of log(y) against log(x): the exponent of y ∝ x^slope. */
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
