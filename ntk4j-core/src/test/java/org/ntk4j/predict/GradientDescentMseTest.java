package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class GradientDescentMseTest {
    static final double INF = Double.POSITIVE_INFINITY;

    /** Gram matrix of random features: a PSD kernel between sets a (rows) and b (cols) of P-dim features. */
    static double[][] gram(double[][] a, double[][] b) {
        double[][] k = new double[a.length][b.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b.length; j++) {
                double s = 0;
                for (int p = 0; p < a[i].length; p++) {
                    s += a[i][p] * b[j][p];
                }
                k[i][j] = s;
            }
        }
        return k;
    }

    static double[][] random(Random r, int rows, int cols) {
        double[][] x = new double[rows][cols];
        for (double[] row : x) {
            for (int j = 0; j < cols; j++) {
                row[j] = r.nextGaussian();
            }
        }
        return x;
    }

    static Tensor tensor(double[][] a) {
        int c = a[0].length;
        double[] flat = new double[a.length * c];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, flat, i * c, c);
        }
        return Tensor.of(flat, a.length, c);
    }

    static double[][] array(Tensor t) {
        double[][] a = new double[t.dim(0)][t.dim(1)];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                a[i][j] = t.get(i, j);
            }
        }
        return a;
    }

    /** Solves A x = b by Gaussian elimination with partial pivoting (independent of LAPACK). */
    static double[][] gaussSolve(double[][] a0, double[][] b0) {
        int n = a0.length;
        int k = b0[0].length;
        double[][] a = new double[n][];
        double[][] b = new double[n][];
        for (int i = 0; i < n; i++) {
            a[i] = a0[i].clone();
            b[i] = b0[i].clone();
        }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int i = c + 1; i < n; i++) {
                p = Math.abs(a[i][c]) > Math.abs(a[p][c]) ? i : p;
            }
            double[] t = a[c];
            a[c] = a[p];
            a[p] = t;
            t = b[c];
            b[c] = b[p];
            b[p] = t;
            for (int i = c + 1; i < n; i++) {
                double f = a[i][c] / a[c][c];
                for (int j = c; j < n; j++) {
                    a[i][j] -= f * a[c][j];
                }
                for (int j = 0; j < k; j++) {
                    b[i][j] -= f * b[c][j];
                }
            }
        }
        double[][] x = new double[n][k];
        for (int i = n - 1; i >= 0; i--) {
            for (int j = 0; j < k; j++) {
                double s = b[i][j];
                for (int c = i + 1; c < n; c++) {
                    s -= a[i][c] * x[c][j];
                }
                x[i][j] = s / a[i][i];
            }
        }
        return x;
    }

    static void assertClose(double[][] actual, double[][] expected, double relTol) {
        double scale = 0;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[0].length; j++) {
                scale = Math.max(scale, Math.abs(expected[i][j]));
                worst = Math.max(worst, Math.abs(actual[i][j] - expected[i][j]));
            }
        }
        assertThat(worst).as("max abs difference, scale " + scale).isLessThanOrEqualTo(relTol * scale);
    }

    /** A problem: N train and M test points with P-dim features, O outputs. */
    record Problem(double[][] kTrain, double[][] kTest, double[][] y, double[][] f0Train, double[][] f0Test) {
        static Problem random(long seed, int n, int m, int p, int o) {
            Random r = new Random(seed);
            double[][] xt = GradientDescentMseTest.random(r, n, p);
            double[][] xs = GradientDescentMseTest.random(r, m, p);
            return new Problem(gram(xt, xt), gram(xs, xt), GradientDescentMseTest.random(r, n, o),
                    GradientDescentMseTest.random(r, n, o), GradientDescentMseTest.random(r, m, o));
        }
    }

    @Test
    void infiniteTimeIsKernelRegression() {
        Problem pr = Problem.random(1, 12, 5, 20, 3);
        double diagReg = 1e-3;
        try (Tensor k = tensor(pr.kTrain()); KernelMatrix km = KernelMatrix.of(k); Tensor y = tensor(pr.y());
             GradientDescentMse gd = GradientDescentMse.of(km, y, 0.7, DiagReg.relative(diagReg));
             Tensor kt = tensor(pr.kTest()); Tensor f0 = tensor(pr.f0Train()); Tensor f0t = tensor(pr.f0Test());
             Tensor fTest = gd.predictTest(INF, kt, f0, f0t); Tensor fTrain = gd.predictTrain(INF, f0)) {
            // r = diag_reg · trace / N, and f_test = f0_test + K_test (K + rI)⁻¹ (y − f0)
            double trace = 0;
            for (int i = 0; i < 12; i++) {
                trace += pr.kTrain()[i][i];
            }
            double r = diagReg * trace / 12;
            assertThat(gd.regulariser()).isCloseTo(r, org.assertj.core.data.Offset.offset(1e-15 * r));
            double[][] a = new double[12][];
            double[][] rhs = new double[12][3];
            for (int i = 0; i < 12; i++) {
                a[i] = pr.kTrain()[i].clone();
                a[i][i] += r;
                for (int j = 0; j < 3; j++) {
                    rhs[i][j] = pr.y()[i][j] - pr.f0Train()[i][j];
                }
            }
            double[][] alpha = gaussSolve(a, rhs);
            double[][] expected = gram(pr.kTest(), transpose(alpha));
            for (int i = 0; i < 5; i++) {
                for (int j = 0; j < 3; j++) {
                    expected[i][j] += pr.f0Test()[i][j];
                }
            }
            assertClose(array(fTest), expected, 1e-10);
            assertClose(array(fTrain), pr.y(), 0); // neural-tangents: f_train(∞) = y
        }
    }

    static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    /**
     * Integrates the linearised gradient flow of L = 1/(2|y|) ‖f_train − y‖² with RK4:
     * df_train/dt = −(η/|y|) (K + rI)(f_train − y), df_test/dt = −(η/|y|) K_test (f_train − y),
     * where A is the (regularised) train matrix on the flattened outputs and B the test matrix.
     */
    static double[][] rk4(double[][] a, double[][] b, double[] y, double[] fTrain0, double[] fTest0, double eta,
                          double t, int steps) {
        int d = y.length;
        double c = eta / d;
        double h = t / steps;
        double[] f = fTrain0.clone();
        double[] g = fTest0.clone();
        for (int s = 0; s < steps; s++) {
            double[] k1 = rate(a, f, y, c);
            double[] k2 = rate(a, axpy(f, k1, h / 2), y, c);
            double[] k3 = rate(a, axpy(f, k2, h / 2), y, c);
            double[] k4 = rate(a, axpy(f, k3, h), y, c);
            // the test outputs follow the train residual at the same stages
            double[] l1 = rate(b, f, y, c);
            double[] l2 = rate(b, axpy(f, k1, h / 2), y, c);
            double[] l3 = rate(b, axpy(f, k2, h / 2), y, c);
            double[] l4 = rate(b, axpy(f, k3, h), y, c);
            for (int i = 0; i < d; i++) {
                f[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
            }
            for (int i = 0; i < g.length; i++) {
                g[i] += h / 6 * (l1[i] + 2 * l2[i] + 2 * l3[i] + l4[i]);
            }
        }
        return new double[][] {f, g};
    }

    static double[] rate(double[][] m, double[] f, double[] y, double c) {
        double[] out = new double[m.length];
        for (int i = 0; i < m.length; i++) {
            double s = 0;
            for (int j = 0; j < f.length; j++) {
                s += m[i][j] * (f[j] - y[j]);
            }
            out[i] = -c * s;
        }
        return out;
    }

    static double[] axpy(double[] x, double[] v, double a) {
        double[] r = x.clone();
        for (int i = 0; i < r.length; i++) {
            r[i] += a * v[i];
        }
        return r;
    }

    /** K ⊗ I_O on the flattened (n, o) outputs. */
    static double[][] kron(double[][] k, int o) {
        double[][] r = new double[k.length * o][k[0].length * o];
        for (int a = 0; a < k.length; a++) {
            for (int b = 0; b < k[0].length; b++) {
                for (int i = 0; i < o; i++) {
                    r[a * o + i][b * o + i] = k[a][b];
                }
            }
        }
        return r;
    }

    static double[] flat(double[][] a) {
        double[] f = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, f, i * a[0].length, a[0].length);
        }
        return f;
    }

    static double[][] unflat(double[] f, int cols) {
        double[][] a = new double[f.length / cols][cols];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(f, i * cols, a[i], 0, cols);
        }
        return a;
    }

    @Test
    void finiteTimeMatchesTheIntegratedGradientFlowForAnNxNKernel() {
        int n = 10;
        int m = 4;
        int o = 3;
        Problem pr = Problem.random(2, n, m, 14, o);
        double eta = 2.5;
        double diagReg = 0.05;
        double trace = 0;
        for (int i = 0; i < n; i++) {
            trace += pr.kTrain()[i][i];
        }
        double[][] a = kron(pr.kTrain(), o);
        for (int i = 0; i < n * o; i++) {
            a[i][i] += diagReg * trace / n;
        }
        double[][] b = kron(pr.kTest(), o);
        try (Tensor k = tensor(pr.kTrain()); KernelMatrix km = KernelMatrix.of(k); Tensor y = tensor(pr.y());
             GradientDescentMse gd = GradientDescentMse.of(km, y, eta, DiagReg.relative(diagReg));
             Tensor kt = tensor(pr.kTest()); Tensor f0 = tensor(pr.f0Train()); Tensor f0t = tensor(pr.f0Test())) {
            for (double t : new double[] {0.0, 0.3, 2.0, 9.0}) {
                double[][] ref = rk4(a, b, flat(pr.y()), flat(pr.f0Train()), flat(pr.f0Test()), eta, t, 4000);
                try (Tensor fTrain = gd.predictTrain(t, f0); Tensor fTest = gd.predictTest(t, kt, f0, f0t)) {
                    assertClose(array(fTrain), unflat(ref[0], o), 1e-10);
                    assertClose(array(fTest), unflat(ref[1], o), 1e-10);
                }
            }
            // without f0 (neural-tangents' default fx_train_0 = 0): the flow starts from zero outputs
            double[][] ref = rk4(a, b, flat(pr.y()), new double[n * o], new double[m * o], eta, 1.5, 4000);
            try (Tensor fTest = gd.predictTest(1.5, kt, null, null)) {
                assertClose(array(fTest), unflat(ref[1], o), 1e-10);
            }
        }
    }

    /** Θ [N, N, O, O] with cross-output terms, as a 4-D tensor and as the NO×NO matrix. */
    static Tensor fullKernel(double[][] rows, double[][] cols, int o, double[][] mix) {
        // features per (example, output): φ(x, k) = Σ_j mix[k][j] x_j-block, giving a genuine [N, N, O, O] Gram
        int p = rows[0].length;
        Tensor t = Tensor.zeros(DType.F64, rows.length, cols.length, o, o);
        for (int a = 0; a < rows.length; a++) {
            for (int b = 0; b < cols.length; b++) {
                for (int k = 0; k < o; k++) {
                    for (int l = 0; l < o; l++) {
                        double s = 0;
                        for (int q = 0; q < p; q++) {
                            s += rows[a][q] * mix[k][q] * cols[b][q] * mix[l][q];
                        }
                        t.set(s, a, b, k, l);
                    }
                }
            }
        }
        return t;
    }

    static double[][] matrix(Tensor full) {
        int n1 = full.dim(0);
        int n2 = full.dim(1);
        int o = full.dim(2);
        double[][] m = new double[n1 * o][n2 * o];
        for (int a = 0; a < n1; a++) {
            for (int b = 0; b < n2; b++) {
                for (int k = 0; k < o; k++) {
                    for (int l = 0; l < o; l++) {
                        m[a * o + k][b * o + l] = full.get(a, b, k, l);
                    }
                }
            }
        }
        return m;
    }

    @Test
    void fullKernelMatchesTheIntegratedGradientFlowAndKernelRegression() {
        Random r = new Random(3);
        int n = 7;
        int m = 3;
        int o = 3;
        double[][] xt = random(r, n, 30);
        double[][] xs = random(r, m, 30);
        double[][] mix = random(r, o, 30);
        double[][] y = random(r, n, o);
        double[][] f0 = random(r, n, o);
        double[][] f0s = random(r, m, o);
        double eta = 0.8;
        try (Tensor kTrain = fullKernel(xt, xt, o, mix); Tensor kTest = fullKernel(xs, xt, o, mix);
             KernelMatrix km = KernelMatrix.of(kTrain); Tensor ty = tensor(y);
             GradientDescentMse gd = GradientDescentMse.of(km, ty, eta, DiagReg.relative(0));
             Tensor tf0 = tensor(f0); Tensor tf0s = tensor(f0s)) {
            double[][] a = matrix(kTrain);
            double[][] b = matrix(kTest);
            for (double t : new double[] {0.7, 6.0}) {
                double[][] ref = rk4(a, b, flat(y), flat(f0), flat(f0s), eta, t, 4000);
                try (Tensor fTrain = gd.predictTrain(t, tf0); Tensor fTest = gd.predictTest(t, kTest, tf0, tf0s)) {
                    assertClose(array(fTrain), unflat(ref[0], o), 1e-10);
                    assertClose(array(fTest), unflat(ref[1], o), 1e-10);
                }
            }
            // t = ∞: f_test = f0_test + Θ_test Θ⁻¹ vec(y − f0)
            double[][] rhs = new double[n * o][1];
            for (int i = 0; i < n * o; i++) {
                rhs[i][0] = flat(y)[i] - flat(f0)[i];
            }
            double[][] alpha = gaussSolve(a, rhs);
            double[] expected = new double[m * o];
            for (int i = 0; i < m * o; i++) {
                for (int j = 0; j < n * o; j++) {
                    expected[i] += b[i][j] * alpha[j][0];
                }
                expected[i] += flat(f0s)[i];
            }
            try (Tensor fTest = gd.predictTest(INF, kTest, tf0, tf0s)) {
                assertClose(array(fTest), unflat(expected, o), 1e-9);
            }
        }
    }

    @Test
    void fullLayoutOfKTimesIdentityEqualsTheNxNLayout() {
        Problem pr = Problem.random(4, 9, 5, 12, 4);
        int o = 4;
        try (Tensor k = tensor(pr.kTrain()); Tensor kt = tensor(pr.kTest());
             Tensor kFull = kronTensor(pr.kTrain(), o); Tensor ktFull = kronTensor(pr.kTest(), o);
             KernelMatrix shared = KernelMatrix.of(k); KernelMatrix full = KernelMatrix.of(kFull);
             Tensor y = tensor(pr.y()); Tensor f0 = tensor(pr.f0Train()); Tensor f0t = tensor(pr.f0Test());
             GradientDescentMse a = GradientDescentMse.of(shared, y, 1.3, DiagReg.relative(1e-2));
             GradientDescentMse b = GradientDescentMse.of(full, y, 1.3, DiagReg.relative(1e-2))) {
            assertThat(shared.dimension()).isEqualTo(9);
            assertThat(full.dimension()).isEqualTo(36);
            assertThat(b.regulariser()).isCloseTo(a.regulariser(), org.assertj.core.data.Offset.offset(1e-14));
            for (double t : new double[] {0.5, 40, INF}) {
                try (Tensor pa = a.predictTest(t, kt, f0, f0t); Tensor pb = b.predictTest(t, ktFull, f0, f0t);
                     Tensor qa = a.predictTrain(t, f0); Tensor qb = b.predictTrain(t, f0)) {
                    assertClose(array(pb), array(pa), 1e-11);
                    assertClose(array(qb), array(qa), 1e-11);
                }
            }
        }
    }

    static Tensor kronTensor(double[][] k, int o) {
        Tensor t = Tensor.zeros(DType.F64, k.length, k[0].length, o, o);
        for (int a = 0; a < k.length; a++) {
            for (int b = 0; b < k[0].length; b++) {
                for (int i = 0; i < o; i++) {
                    t.set(k[a][b], a, b, i, i);
                }
            }
        }
        return t;
    }

    @Test
    void longFiniteTimeApproachesInfiniteTimeAndFloat32KernelsAreRead() {
        Problem pr = Problem.random(5, 8, 3, 30, 2);
        try (Tensor k = tensor(pr.kTrain()); KernelMatrix km = KernelMatrix.of(k); Tensor y = tensor(pr.y());
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(1e-2));
             Tensor kt = tensor(pr.kTest()); Tensor kt32 = kt.to(DType.F32);
             Tensor inf = gd.predictTest(INF, kt, null, null); Tensor late = gd.predictTest(1e9, kt, null, null);
             Tensor late32 = gd.predictTest(1e9, kt32, null, null)) {
            assertClose(array(late), array(inf), 1e-10);
            assertClose(array(late32), array(inf), 1e-6);
        }
    }

    @Test
    void inPlaceFactorisationGivesTheSameAnswerOnce() {
        Problem pr = Problem.random(8, 9, 4, 12, 2);
        try (Tensor k = tensor(pr.kTrain()); KernelMatrix kept = KernelMatrix.of(k);
             KernelMatrix scratch = KernelMatrix.of(k);
             KernelMatrix scratch2 = KernelMatrix.of(k); Tensor y = tensor(pr.y()); Tensor kt = tensor(pr.kTest());
             GradientDescentMse a = GradientDescentMse.of(kept, y, 1, DiagReg.relative(1e-3));
             GradientDescentMse b = GradientDescentMse.ofDestroying(scratch, y, 1, DiagReg.relative(1e-3));
             GradientDescentMse c = GradientDescentMse.ofDestroying(scratch2, y, 1, DiagReg.relative(1e-3))) {
            try (Tensor pa = a.predictTest(INF, kt, null, null); Tensor pb = b.predictTest(INF, kt, null, null);
                 Tensor qa = a.predictTest(2, kt, null, null); Tensor qc = c.predictTest(2, kt, null, null)) {
                Fixtures.assertSameElements("scratch predictions", pb.toDoubleArray(), pa.toDoubleArray());
                assertClose(array(qc), array(qa), 1e-13);
            }
            assertThat(kept.get(0, 0)).isEqualTo(pr.kTrain()[0][0]);
            assertThatThrownBy(() -> b.predictTest(2, kt, null, null)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("overwritten");
            assertThatThrownBy(() -> c.predictTest(INF, kt, null, null)).isInstanceOf(IllegalStateException.class);
            // coefficients applied tile by tile give the same predictions
            try (Tensor w = a.coefficients(INF, null); Tensor top = org.ntk4j.cpu.Layout.sliceAxis(kt, 0, 0, 2);
                 Tensor bottom = org.ntk4j.cpu.Layout.sliceAxis(kt, 0, 2, 4); Tensor f1 = a.testOutputs(top, w, null);
                 Tensor f2 = a.testOutputs(bottom, w, null); Tensor all = a.predictTest(INF, kt, null, null)) {
                double[] joined = new double[8];
                System.arraycopy(f1.toDoubleArray(), 0, joined, 0, 4);
                System.arraycopy(f2.toDoubleArray(), 0, joined, 4, 4);
                Fixtures.assertSameElements("tile by tile", joined, all.toDoubleArray());
            }
        }
    }

    /**
     * K = [[16, 4], [4, 1 + ε]] (ε = 2⁻⁵²) is positive definite and its Cholesky factor is exact (pivots 4 and √ε,
     * the second the exact difference (1 + ε) − 1, on any machine), so dpotrf succeeds; but its reciprocal condition
     * number is about ε/21 < 2⁻⁵³: kernel regression on it amplifies round-off by 1/ε. It is refused at t = ∞ (it was
     * solved without a word), while 1 + 2⁻³⁰ in its place is solved to the closed form K⁻¹ y = [1 + 2³⁰, −4·2³⁰]/16
     * for y = [1, 0] (x₂ = −4/(16·δ), x₁ = (1 − 4 x₂)/16).
     */
    @Test
    void aNumericallySingularKernelIsRefusedAtInfiniteTimeThoughCholeskySucceeds() {
        double eps = Math.ulp(1.0);
        try (Tensor k = Tensor.of(new double[] {16, 4, 4, 1 + eps}, 2, 2); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0}, 2, 1); Tensor kt = Tensor.of(new double[] {1, 0}, 1, 2);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(0))) {
            assertThatThrownBy(() -> gd.predictTest(INF, kt, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("kernel regression: the regularised train kernel is numerically singular "
                            + "(reciprocal condition number ")
                    .hasMessageEndingWith("< ε = 2^-53; regulariser r = 0.0); use a larger diag_reg");
            // finite t stays available: the eigendecomposition does not invert
            try (Tensor f = gd.predictTest(10, kt, null, null)) {
                assertThat(f.firstNonFinite()).isEqualTo(-1);
            }
        }
        double delta = Math.scalb(1.0, -30);
        try (Tensor k = Tensor.of(new double[] {16, 4, 4, 1 + delta}, 2, 2); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0}, 2, 1); Tensor kt = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(0));
             Tensor f = gd.predictTest(INF, kt, null, null)) {
            double x2 = -4 / (16 * delta);
            assertThat(f.getFlat(1)).isCloseTo(x2, org.assertj.core.data.Percentage.withPercentage(1e-10));
            assertThat(f.getFlat(0)).isCloseTo((1 - 4 * x2) / 16,
                    org.assertj.core.data.Percentage.withPercentage(1e-10));
        }
    }

    /**
     * A mode of eigenvalue 0 does not move at any finite t, even when η·t/|y| overflows to ∞ (0·∞ made every train
     * prediction NaN): K = diag(1, 0), y = I, η = 10, t = 10³⁰⁸ gives f_train = diag(1, 0).
     */
    @Test
    void aZeroModeStaysPutWhenTheScaledTimeOverflows() {
        try (Tensor k = Tensor.of(new double[] {1, 0, 0, 0}, 2, 2); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 10, DiagReg.relative(0));
             Tensor f = gd.predictTrain(1e308, null)) {
            assertThat(f.toDoubleArray()).containsExactly(1, 0, 0, 0);
        }
    }

    /**
     * Duplicated training examples with different targets, no regulariser: K is singular, and the eigensolver leaves
     * round-off eigenvalues of either sign, near 1e-16·λ_max, in place of its zeros. The flow from f0 = 0 cannot
     * separate two identical inputs: at any t their train outputs are equal, and as t grows (here ηt/|y| ≈ 4·10¹⁸,
     * every true mode converged to e^(−10¹⁷)) f_train tends to each unique input's mean target and f_test to kernel
     * regression on the unique inputs with those means, K_tu K_uu⁻¹ ȳ (hand-derived: the flow's limit is the
     * projection of y on the range of K = P K_uu Pᵀ, P the N×u indicator matrix; solved here by Gaussian
     * elimination). A positive round-off eigenvalue counted as a mode was fitted by that time: the duplicates'
     * train outputs went to their own targets and the test outputs off by about its 1/λ times the round-off of its
     * eigenvector (the CLI: test MSE 12.2 at t = 10²⁰ against 0.26 for the limit).
     */
    @Test
    void roundOffEigenvaluesOfDuplicatedExamplesAreNotTrainedAtLongTimes() {
        Random r = new Random(7);
        int u = 8;
        int dup = 6;
        int o = 2;
        double[][] unique = random(r, u, 12);
        double[][] xs = random(r, 4, 12);
        double[][] yUnique = random(r, u, o);
        double[][] xt = new double[u + dup][];
        double[][] y = new double[u + dup][];
        double[][] yMean = new double[u][o];
        for (int i = 0; i < u + dup; i++) {
            xt[i] = unique[i % u];
            // a duplicate's targets differ from its original's: y and y + 1
            y[i] = new double[o];
            for (int j = 0; j < o; j++) {
                y[i][j] = yUnique[i % u][j] + (i < u ? 0 : 1);
            }
        }
        for (int a = 0; a < u; a++) {
            for (int j = 0; j < o; j++) {
                yMean[a][j] = a < dup ? yUnique[a][j] + 0.5 : yUnique[a][j];
            }
        }
        double[][] expected = times(gram(xs, unique), gaussSolve(gram(unique, unique), yMean));
        double t = 1e20;
        try (Tensor k = tensor(gram(xt, xt)); KernelMatrix km = KernelMatrix.of(k); Tensor yt = tensor(y);
             Tensor kTest = tensor(gram(xs, xt));
             GradientDescentMse gd = GradientDescentMse.of(km, yt, 1, DiagReg.NONE);
             Tensor fTest = gd.predictTest(t, kTest, null, null); Tensor fTrain = gd.predictTrain(t, null)) {
            double[] lambda = gd.eigenvalues();
            assertThat(lambda[dup - 1]).as("round-off in place of the zeros")
                    .isLessThan(1e-13 * lambda[lambda.length - 1]);
            assertThat(lambda[dup]).as("the smallest true mode").isGreaterThan(1e-3 * lambda[lambda.length - 1]);
            assertClose(array(fTest), expected, 1e-9);
            double[][] trainExpected = new double[u + dup][];
            for (int i = 0; i < u + dup; i++) {
                trainExpected[i] = yMean[i % u];
            }
            assertClose(array(fTrain), trainExpected, 1e-9);
            // the trained ensemble's mean (neural-tangents' gradient_descent_mse_ensemble) reads the same modes
            try (GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(GpInference.Kernels.ofNtk(k), yt, 1,
                    DiagReg.NONE);
                 GpInference.Gaussian g = ens.predict(GpInference.Posterior.NTK, t, GpInference.Kernels.ofNtk(kTest))) {
                assertClose(array(g.mean()), expected, 1e-9);
            }
        }
    }

    static double[][] times(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b[0].length; j++) {
                for (int k = 0; k < b.length; k++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    @Test
    void clearErrors() {
        try (Tensor rect = Tensor.zeros(DType.F64, 3, 4)) {
            assertThatThrownBy(() -> KernelMatrix.of(rect)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("kernel: expected a train-train kernel [N, N] or [N, N, O, O], got [3, 4]");
        }
        Problem pr = Problem.random(6, 5, 2, 8, 2);
        try (Tensor k = tensor(pr.kTrain()); KernelMatrix km = KernelMatrix.of(k);
             Tensor y4 = Tensor.zeros(DType.F64, 4, 2); Tensor y = tensor(pr.y());
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(0));
             Tensor badTest = Tensor.zeros(DType.F64, 3, 4); Tensor f0 = Tensor.zeros(DType.F64, 5, 3)) {
            assertThatThrownBy(() -> GradientDescentMse.of(km, y4, 1, DiagReg.relative(0)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("targets: 4 rows for a kernel of 5 training examples");
            assertThatThrownBy(() -> GradientDescentMse.of(km, y, 0, DiagReg.relative(0)))
                    .hasMessageContaining("learning rate: expected a positive finite number, got 0.0");
            assertThatThrownBy(() -> GradientDescentMse.of(km, y, 1, DiagReg.relative(-1)))
                    .hasMessageContaining("diag_reg: expected a finite number >= 0, got -1.0");
            assertThatThrownBy(() -> gd.predictTest(1, badTest, null, null))
                    .hasMessage("test-train kernel: expected [M, 5] to match the train kernel, got [3, 4]");
            assertThatThrownBy(() -> gd.predictTrain(-1, null)).hasMessageContaining("t: expected a time >= 0");
            assertThatThrownBy(() -> gd.predictTrain(1, f0)).hasMessage("f0_train: expected [5, 2], got [5, 3]");
        }
        // a rank-deficient kernel (5 points, 2 features) without regulariser cannot be factorised
        Random r = new Random(7);
        double[][] x = random(r, 5, 2);
        try (Tensor k = tensor(gram(x, x)); KernelMatrix km = KernelMatrix.of(k);
             Tensor y = Tensor.zeros(DType.F64, 5, 1);
             GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(0));
             Tensor kt = tensor(gram(x, x))) {
            // whether round-off leaves dpotrf a non-positive pivot differs between machines: either refusal names it
            assertThatThrownBy(() -> gd.predictTest(INF, kt, null, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageMatching("(?s).*(not positive definite|numerically singular).*")
                    .hasMessageContaining("diag_reg");
            // finite t works on a singular kernel: its null modes just do not move
            try (Tensor f = gd.predictTest(3, kt, null, null)) {
                assertThat(f.firstNonFinite()).isEqualTo(-1);
            }
        }
        try (Tensor nan = Tensor.of(new double[] {1, Double.NaN, Double.NaN, 1}, 2, 2)) {
            assertThatThrownBy(() -> KernelMatrix.of(nan)).hasMessageContaining("kernel: NaN at flat index 1");
        }
    }
}
