package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** gp_inference: mean = predict at t = ∞, covariance symmetric PSD and equal to the direct float64 formulas. */
class GpInferenceTest {
    private static final int N = 6;
    private static final int M = 4;
    private static final int O = 2;

    /** Joint PSD kernel over N + M points: G Gᵀ/width for random features G (plus a small ridge for the NTK). */
    static double[][] joint(long seed, int width, double ridge) {
        return features(new SplittableRandom(seed), N + M, width, ridge);
    }

    /** G Gᵀ / width + ridge·I for G [d, width] of standard normals: a kernel of rank min(d, width) before the ridge. */
    static double[][] features(SplittableRandom r, int d, int width, double ridge) {
        double[][] g = new double[d][width];
        for (double[] row : g) {
            for (int j = 0; j < width; j++) {
                row[j] = r.nextGaussian();
            }
        }
        double[][] k = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int q = 0; q < width; q++) {
                    s += g[i][q] * g[j][q];
                }
                k[i][j] = s / width + (i == j ? ridge : 0);
            }
        }
        return k;
    }

    static Tensor block(double[][] k, int r0, int rows, int c0, int cols) {
        double[] v = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                v[i * cols + j] = k[r0 + i][c0 + j];
            }
        }
        return Tensor.of(v, rows, cols);
    }

    /** Gauss-Jordan inverse with partial pivoting (the independent oracle). */
    static double[][] inverse(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int i = c + 1; i < n; i++) {
                p = Math.abs(m[i][c]) > Math.abs(m[p][c]) ? i : p;
            }
            double[] t = m[c];
            m[c] = m[p];
            m[p] = t;
            double d = m[c][c];
            for (int j = 0; j < 2 * n; j++) {
                m[c][j] /= d;
            }
            for (int i = 0; i < n; i++) {
                if (i != c) {
                    double f = m[i][c];
                    for (int j = 0; j < 2 * n; j++) {
                        m[i][j] -= f * m[c][j];
                    }
                }
            }
        }
        double[][] inv = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(m[i], n, inv[i], 0, n);
        }
        return inv;
    }

    static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b[0].length; j++) {
                double s = 0;
                for (int q = 0; q < b.length; q++) {
                    s += a[i][q] * b[q][j];
                }
                c[i][j] = s;
            }
        }
        return c;
    }

    static double[][] t(double[][] a) {
        double[][] r = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                r[j][i] = a[i][j];
            }
        }
        return r;
    }

    static double[][] sub(double[][] k, int r0, int rows, int c0, int cols) {
        double[][] s = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(k[r0 + i], c0, s[i], 0, cols);
        }
        return s;
    }

    /**
     * One Cholesky factorisation of the regularised train kernel per call (the mean's and the covariance's solves
     * each factorised it again), with the numbers of the former computation: X = (K + rI)⁻¹ B by {@link
     * Lapack#solvePositiveDefinite} per right-hand side, then the products, to 1e-12 relative in float64.
     */
    @ParameterizedTest
    @EnumSource(Posterior.class)
    void factorisesTheTrainKernelOncePerCallWithTheSameNumbers(Posterior g) {
        double[][] theta = joint(4, 5, 0.05);
        double[][] nngp = joint(5, 7, 0.01);
        double diagReg = 0.02;
        double[] yFlat = new double[N * O];
        SplittableRandom rnd = new SplittableRandom(6);
        for (int i = 0; i < yFlat.length; i++) {
            yFlat[i] = rnd.nextGaussian();
        }
        double[][] k = g == Posterior.NNGP ? nngp : theta;
        try (Tensor thDD = block(theta, 0, N, 0, N); Tensor thTD = block(theta, N, M, 0, N);
             Tensor thTT = block(theta, N, M, N, M); Tensor kDD = block(nngp, 0, N, 0, N);
             Tensor kTD = block(nngp, N, M, 0, N); Tensor kTT = block(nngp, N, M, N, M);
             Tensor yt = Tensor.of(yFlat, N, O); Tensor kdt = block(k, 0, N, N, M);
             Tensor kReg = block(k, 0, N, 0, N)) {
            double r = GpInference.regulariser(kReg, DiagReg.relative(diagReg));
            for (int i = 0; i < N; i++) {
                kReg.setFlat(i * N + i, kReg.getFlat(i * N + i) + r);
            }
            double[][] ktd = sub(k, N, M, 0, N);
            double[][] mean;
            double[][] aT; // (K + rI)⁻¹ K_dt [N, M], the former second solve
            try (Tensor alpha = Lapack.solvePositiveDefinite(kReg, yt); Tensor w = Lapack.solvePositiveDefinite(kReg,
                    kdt)) {
                mean = mul(ktd, rows(alpha));
                aT = rows(w);
            }
            double[][] cov = new double[M][M];
            if (g == Posterior.NTK) {
                double[][] a = t(aT);
                double[][] akat = mul(mul(a, sub(nngp, 0, N, 0, N)), aT);
                double[][] cross = mul(a, sub(nngp, 0, N, N, M));
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < M; j++) {
                        cov[i][j] = nngp[N + i][N + j] + akat[i][j] - cross[i][j] - cross[j][i];
                    }
                }
            } else {
                double[][] q = mul(ktd, aT);
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < M; j++) {
                        cov[i][j] = k[N + i][N + j] - q[i][j];
                    }
                }
            }
            long before = Lapack.Cholesky.factorisations();
            try (Gaussian res = GpInference.infer(g, thDD, thTD, thTT, kDD, kTD, kTT, yt, DiagReg.relative(diagReg),
                    true)) {
                assertThat(Lapack.Cholesky.factorisations() - before).as(g + ": factorisations").isEqualTo(1);
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < O; j++) {
                        assertRelative(res.mean().getFlat(i * O + j), mean[i][j], g + " mean");
                    }
                    for (int j = 0; j < M; j++) {
                        // symmetrised: the mean of the two mirror entries
                        assertRelative(res.covariance().getFlat(i * M + j), (cov[i][j] + cov[j][i]) / 2, g + " cov");
                    }
                }
            }
            try (Tensor thDiag = diagonal(theta); Tensor kDiag = diagonal(nngp)) {
                before = Lapack.Cholesky.factorisations();
                try (Gaussian res = GpInference.inferVariances(g, thDD, thTD, thDiag, kDD, kTD, kDiag, yt,
                        DiagReg.relative(diagReg))) {
                    assertThat(Lapack.Cholesky.factorisations() - before).as(g + ": variances").isEqualTo(1);
                    for (int i = 0; i < M; i++) {
                        assertRelative(res.variances().getFlat(i), cov[i][i], g + " variance");
                    }
                }
            }
        }
    }

    private static void assertRelative(double actual, double expected, String what) {
        assertThat(Math.abs(actual - expected)).as(what + ": " + actual + " against " + expected)
                .isLessThanOrEqualTo(1e-12 * Math.max(Math.abs(expected), 1e-300));
    }

    /** A [rows, cols] tensor as rows of doubles. */
    private static double[][] rows(Tensor a) {
        int rows = a.dim(0);
        int cols = a.dim(1);
        double[][] r = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                r[i][j] = a.getFlat(i * cols + j);
            }
        }
        return r;
    }

    /** The test points' kernels with themselves [M], from a joint kernel. */
    private static Tensor diagonal(double[][] k) {
        double[] d = new double[M];
        for (int i = 0; i < M; i++) {
            d[i] = k[N + i][N + i];
        }
        return Tensor.of(d, M);
    }

    @ParameterizedTest
    @EnumSource(Posterior.class)
    void matchesTheDirectFormulasInFloat64(Posterior g) {
        double[][] theta = joint(1, 5, 0.05);
        double[][] nngp = joint(2, 3, 0.0); // rank 3 < N: singular train block, as an empirical NNGP is
        double diagReg = 0.01;
        SplittableRandom rnd = new SplittableRandom(3);
        double[][] y = new double[N][O];
        double[] yFlat = new double[N * O];
        for (int i = 0; i < N * O; i++) {
            yFlat[i] = rnd.nextGaussian();
            y[i / O][i % O] = yFlat[i];
        }
        double[][] kdd = g == Posterior.NNGP ? sub(nngp, 0, N, 0, N) : sub(theta, 0, N, 0, N);
        double tr = 0;
        for (int i = 0; i < N; i++) {
            tr += kdd[i][i];
        }
        double r = diagReg * tr / N;
        for (int i = 0; i < N; i++) {
            kdd[i][i] += r;
        }
        double[][] inv = inverse(kdd);
        double[][] ktd = g == Posterior.NNGP ? sub(nngp, N, M, 0, N) : sub(theta, N, M, 0, N);
        double[][] a = mul(ktd, inv);
        double[][] mean = mul(a, y);
        double[][] cov;
        if (g == Posterior.NTK) {
            double[][] kdd0 = sub(nngp, 0, N, 0, N);
            double[][] kdt = sub(nngp, 0, N, N, M);
            double[][] akat = mul(mul(a, kdd0), t(a));
            double[][] cross = mul(a, kdt);
            cov = new double[M][M];
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < M; j++) {
                    cov[i][j] = nngp[N + i][N + j] + akat[i][j] - cross[i][j] - cross[j][i];
                }
            }
        } else {
            double[][] k = g == Posterior.NNGP ? nngp : theta;
            double[][] q = mul(a, sub(k, 0, N, N, M));
            cov = new double[M][M];
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < M; j++) {
                    cov[i][j] = k[N + i][N + j] - q[i][j];
                }
            }
        }
        try (Tensor thDD = block(theta, 0, N, 0, N); Tensor thTD = block(theta, N, M, 0, N);
             Tensor thTT = block(theta, N, M, N, M); Tensor kDD = block(nngp, 0, N, 0, N);
             Tensor kTD = block(nngp, N, M, 0, N); Tensor kTT = block(nngp, N, M, N, M);
             Tensor yt = Tensor.of(yFlat, N, O);
             Gaussian res = GpInference.infer(g, thDD, thTD, thTT, kDD, kTD, kTT, yt, DiagReg.relative(diagReg),
                     true)) {
            assertThat(res.mean().shape()).containsExactly(M, O);
            assertThat(res.covariance().shape()).containsExactly(M, M);
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < O; j++) {
                    assertThat(res.mean().getFlat(i * O + j)).isCloseTo(mean[i][j],
                            org.assertj.core.data.Offset.offset(1e-10));
                }
                for (int j = 0; j < M; j++) {
                    assertThat(res.covariance().getFlat(i * M + j)).as(g + " cov[" + i + "," + j + "]")
                            .isCloseTo(cov[i][j], org.assertj.core.data.Offset.offset(1e-10));
                    assertThat(res.covariance().getFlat(i * M + j)).isEqualTo(res.covariance().getFlat(j * M + i));
                }
            }
            double[] ev = Lapack.symmetricEigenvalues(res.covariance());
            assertThat(ev[0]).as(g + " smallest eigenvalue").isGreaterThan(-1e-10);
            assertThat(res.meanVariance()).isGreaterThan(0);
        }
    }

    @ParameterizedTest
    @EnumSource(Posterior.class)
    void onEmpiricalKernelsTheMeanIsPredictAtInfinityAndTheCovariancePsd(Posterior g) {
        Model net = Zoo.parse("fcn(depth=1,width=16,out=3,act=tanh)");
        int[] in = {5};
        Params p = net.init(4, in, DType.F64);
        Tensor xTrain = Tensor.randomNormal(DType.F64, 1, 8, 5);
        Tensor xTest = Tensor.randomNormal(DType.F64, 2, 5, 5);
        EmpiricalNtk e = EmpiricalNtk.of(net, p).traceAxes(-1).method(Method.JACOBIAN_CONTRACTION);
        double diagReg = 1e-3;
        try (Tensor thDD = e.ntk(xTrain, null); Tensor thTD = e.ntk(xTest, xTrain); Tensor thTT = e.ntk(xTest, null);
             Tensor kDD = e.nngp(xTrain, null); Tensor kTD = e.nngp(xTest, xTrain); Tensor kTT = e.nngp(xTest, null);
             Tensor y = Tensor.randomNormal(DType.F64, 3, 8, 3);
             Gaussian res = GpInference.infer(g, thDD, thTD, thTT, kDD, kTD, kTT, y, DiagReg.relative(diagReg), true)) {
            Tensor kTrain = g == Posterior.NNGP ? kDD : thDD;
            Tensor kTest = g == Posterior.NNGP ? kTD : thTD;
            try (KernelMatrix km = KernelMatrix.of(kTrain);
                 GradientDescentMse gd = GradientDescentMse.of(km, y, 1, DiagReg.relative(diagReg));
                 Tensor ref = gd.predictTest(Double.POSITIVE_INFINITY, kTest, null, null)) {
                for (int i = 0; i < ref.size(); i++) {
                    assertThat(res.mean().getFlat(i)).isCloseTo(ref.getFlat(i),
                            org.assertj.core.data.Offset.offset(1e-10 * (1 + Math.abs(ref.getFlat(i)))));
                }
            }
            double[] ev = Lapack.symmetricEigenvalues(res.covariance());
            double scale = Math.abs(ev[ev.length - 1]) + 1e-300;
            assertThat(ev[0]).as(g + " covariance PSD").isGreaterThan(-1e-9 * Math.max(1, scale));
            // the variances alone, from each test point's kernels with itself: the covariance's diagonal
            EmpiricalNtk perExample = e.diagonalAxes(0);
            try (Tensor thT = perExample.ntk(xTest, null); Tensor kT = perExample.nngp(xTest, null);
                 Gaussian v = GpInference.inferVariances(g, thDD, thTD, thT, kDD, kTD, kT, y,
                         DiagReg.relative(diagReg))) {
                assertThat(v.covariance()).isNull();
                assertThat(v.variances().shape()).containsExactly(xTest.dim(0));
                int mm = xTest.dim(0);
                for (int i = 0; i < mm; i++) {
                    assertThat(thT.getFlat(i)).as("NTK of test point %d with itself", i)
                            .isCloseTo(thTT.getFlat(i * mm + i), org.assertj.core.data.Offset.offset(1e-12));
                    assertThat(v.variances().getFlat(i)).as(g + " variance " + i).isCloseTo(
                            res.covariance().getFlat(i * mm + i), org.assertj.core.data.Offset.offset(1e-10));
                }
                for (int i = 0; i < res.mean().size(); i++) {
                    assertThat(v.mean().getFlat(i)).isEqualTo(res.mean().getFlat(i));
                }
                assertThat(v.meanVariance()).isCloseTo(res.meanVariance(), org.assertj.core.data.Offset.offset(1e-10));
            }
            int m = res.covariance().dim(0);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    assertThat(res.covariance().getFlat(i * m + j)).isEqualTo(res.covariance().getFlat(j * m + i));
                }
            }
        }
    }

    /**
     * Cholesky reads one triangle of the train-train kernel: a kernel that is not symmetric is refused instead of
     * half ignored, and a target that is not finite is named instead of failing inside LAPACK.
     */
    @Test
    void anAsymmetricKernelAndNonFiniteTargetsAreRefused() {
        double[] k = {4, 1, .5, 1, 3, .2, .5, .2, 2};
        double[] changed = k.clone();
        changed[2] = 100;
        try (Tensor kdd = Tensor.of(changed, 3, 3); Tensor sym = Tensor.of(k, 3, 3);
             Tensor ktd = Tensor.of(new double[] {1, .5, .2}, 1, 3); Tensor ktt = Tensor.of(new double[] {1}, 1, 1);
             Tensor y = Tensor.of(new double[] {1, 0, 0, 1, 1, 1}, 3, 2);
             Tensor yNan = Tensor.of(new double[] {1, 0, Double.NaN, 1, 1, 1}, 3, 2)) {
            assertThatThrownBy(() -> GpInference.infer(Posterior.NTKGP, kdd, ktd, ktt, null, null, null, y,
                    DiagReg.NONE, true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NTK: not symmetric (max |K − Kᵀ| / max |K| = 0.995); a "
                            + "train-train kernel K(x, x) must be symmetric");
            assertThatThrownBy(() -> GpInference.infer(Posterior.NTKGP, sym, ktd, ktt, null, null, null, yNan,
                    DiagReg.NONE, true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: targets: NaN at flat index 2");
            try (Gaussian g = GpInference.infer(Posterior.NTKGP, sym, ktd, ktt, null, null, null, y, DiagReg.NONE,
                    true)) {
                assertThat(g.mean().firstNonFinite()).isEqualTo(-1);
            }
        }
    }

    /**
     * A train-train kernel asymmetric within the tolerance (relative 1e-6 here) is solved as its symmetric part
     * (K + Kᵀ)/2: K and Kᵀ give the same mean and covariance, those of the Gauss-Jordan oracle on the symmetric
     * part (the Cholesky factorisation read one triangle, and K and Kᵀ differed by about the asymmetry).
     */
    @Test
    void aKernelAsymmetricWithinTheToleranceIsSolvedAsItsSymmetricPart() {
        double[][] k = joint(41, 20, 0.1);
        double scale = 0;
        for (double[] row : k) {
            for (double v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        SplittableRandom rnd = new SplittableRandom(42);
        double[][] skewed = new double[N][N];
        double[][] symmetricPart = new double[N][N];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j <= i; j++) {
                double e = i == j ? 0 : 1e-6 * scale * (2 * rnd.nextDouble() - 1);
                skewed[i][j] = k[i][j] + e;
                skewed[j][i] = k[j][i] - e;
                symmetricPart[i][j] = 0.5 * (skewed[i][j] + skewed[j][i]);
                symmetricPart[j][i] = symmetricPart[i][j];
            }
        }
        double r = 1e-3;
        double[][] inv = inverse(plusDiagonal(symmetricPart, r));
        double[][] ktd = new double[M][N];
        for (int i = 0; i < M; i++) {
            ktd[i] = java.util.Arrays.copyOfRange(k[N + i], 0, N);
        }
        double[][] y = new double[N][O];
        for (int i = 0; i < N; i++) {
            y[i][0] = Math.sin(i + 1.0);
            y[i][1] = i % 2 == 0 ? 1 : -0.5;
        }
        double[][] mean = product(ktd, product(inv, y));
        double[][] reduction = product(ktd, product(inv, transposed(ktd)));
        try (Tensor kdd = block(skewed, 0, N, 0, N); Tensor kddT = block(transposed(skewed), 0, N, 0, N);
             Tensor ktdT = block(k, N, M, 0, N); Tensor ktt = block(k, N, M, N, M);
             Tensor yt = block(y, 0, N, 0, O)) {
            assertThat(KernelMatrix.SYMMETRY_TOLERANCE).isGreaterThan(2e-6);
            for (Tensor kernel : new Tensor[] {kdd, kddT}) {
                try (Gaussian g = GpInference.infer(Posterior.NTKGP, kernel, ktdT, ktt, null, null, null, yt,
                        DiagReg.absolute(r), true)) {
                    for (int i = 0; i < M; i++) {
                        for (int o = 0; o < O; o++) {
                            assertThat(g.mean().getFlat(i * O + o)).isCloseTo(mean[i][o],
                                    org.assertj.core.data.Offset.offset(1e-11));
                        }
                        for (int j = 0; j < M; j++) {
                            assertThat(g.covariance().getFlat(i * M + j)).isCloseTo(k[N + i][N + j]
                                    - reduction[i][j], org.assertj.core.data.Offset.offset(1e-11));
                        }
                    }
                }
            }
        }
    }

    private static double[][] plusDiagonal(double[][] a, double r) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
            c[i][i] += r;
        }
        return c;
    }

    private static double[][] transposed(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    private static double[][] product(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b[0].length; j++) {
                double s = 0;
                for (int q = 0; q < b.length; q++) {
                    s += a[i][q] * b[q][j];
                }
                c[i][j] = s;
            }
        }
        return c;
    }

    @Test
    void theNtkCovarianceNeedsTheNngpAndBadInputIsNamed() {
        try (Tensor k = Tensor.of(new double[] {2, 0, 0, 2}, 2, 2); Tensor kt = Tensor.of(new double[] {1, 0}, 1, 2);
             Tensor ktt = Tensor.of(new double[] {1}, 1, 1); Tensor y = Tensor.of(new double[] {1, 2}, 2, 1)) {
            assertThatThrownBy(() -> GpInference.infer(Posterior.NTK, k, kt, ktt, null, null, null, y,
                    DiagReg.relative(0), true))
                    .hasMessageContaining("NNGP");
            try (Gaussian mean = GpInference.infer(Posterior.NTK, k, kt, null, null, null, null, y,
                    DiagReg.relative(0), false)) {
                assertThat(mean.mean().getFlat(0)).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-15));
                assertThat(mean.covariance()).isNull();
            }
            try (Gaussian res = GpInference.infer(Posterior.NTKGP, k, kt, ktt, null, null, null, y,
                    DiagReg.relative(0), true)) {
                assertThat(res.covariance().getFlat(0)).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-15));
            }
        }
        assertThatThrownBy(() -> Posterior.parse("gp")).hasMessageContaining("nngp, ntk or ntkgp");
    }

    /**
     * The mean variance's contract: a Gaussian with its covariance or its variances has it (the diagonal's mean,
     * against hand-computed values), one asked for its mean only says so ({@link Gaussian#hasVariances}) and refuses
     * {@link Gaussian#meanVariance} with an IllegalStateException naming the calls that compute variances.
     */
    @Test
    void meanVarianceNeedsVariancesAndSaysHowToAskForThem() {
        try (Gaussian cov = new Gaussian(Tensor.of(new double[] {1, 2}, 1, 2),
                     Tensor.of(new double[] {2, 0.5, 0.5, 4.5}, 2, 2));
             Gaussian vars = new Gaussian(Tensor.of(new double[] {1, 2, 3}, 3, 1), null,
                     Tensor.of(new double[] {1, 2, 6.5}, 3))) {
            assertThat(cov.hasVariances()).isTrue();
            assertThat(cov.meanVariance()).isEqualTo(3.25);
            assertThat(vars.hasVariances()).isTrue();
            assertThat(vars.meanVariance()).isEqualTo(9.5 / 3);
        }
        double[][] k = joint(11, 3, 0.1);
        try (Tensor kDD = block(k, 0, N, 0, N); Tensor kTD = block(k, N, M, 0, N);
             Tensor y = Tensor.of(new double[N * O], N, O);
             Gaussian meanOnly = GpInference.infer(Posterior.NNGP, null, null, null, kDD, kTD, null, y,
                     DiagReg.relative(1e-3), false);
             GpInference.Predictor predictor = GpInference.gpInference(GpInference.Kernels.ofNngp(kDD), y,
                     DiagReg.relative(1e-3));
             Gaussian meanOnlyToo = predictor.predict(Posterior.NNGP, GpInference.Kernels.ofNngp(kTD))) {
            for (Gaussian g : new Gaussian[] {meanOnly, meanOnlyToo}) {
                assertThat(g.mean().shape()).containsExactly(M, O);
                assertThat(g.hasVariances()).isFalse();
                assertThatThrownBy(g::meanVariance).isInstanceOf(IllegalStateException.class)
                        .hasMessage("gp_inference: meanVariance: this Gaussian holds the mean only (hasVariances() is "
                                + "false); ask for the covariance (infer with covariance true, or predict with the "
                                + "test-test kernels) or for the variances alone (inferVariances, predictVariances "
                                + "with the test diagonals)");
            }
        }
    }
}
