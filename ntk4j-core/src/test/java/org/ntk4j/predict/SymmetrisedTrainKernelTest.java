package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A train-train kernel whose asymmetry is within {@link KernelMatrix#SYMMETRY_TOLERANCE} (a float32 kernel computed
 * in tiles) is used as its symmetric part (K + Kᵀ)/2 by every consumer that assumes symmetry: the closed form at
 * t = ∞ and finite t, for both layouts, the ODE, the spectrum and the max learning rate. The oracle is the
 * symmetrised kernel built here, entry by entry, in float64. Before, LAPACK's factorisations read the lower triangle
 * alone (column-major 'U' on row-major storage): the prediction of the lower triangle mirrored, which differs from the
 * symmetric part's by far more than round-off, as {@link #theOldReadingOfOneTriangleDiffersMeasurably} shows.
 */
class SymmetrisedTrainKernelTest {
    private static final int N = 8;
    private static final int M = 5;
    private static final int O = 3;
    /** Relative asymmetry put into the upper triangle: half the tolerance, so the kernel is accepted. */
    private static final double ASYMMETRY = 5e-6;

    /** G Gᵀ / P + I/2 for G [N, P] of seeded normals: symmetric positive definite, condition number about 10-100. */
    private static double[] spd(long seed, int n, int p) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] g = new double[n * p];
        for (int i = 0; i < g.length; i++) {
            g[i] = r.nextDouble(-1, 1);
        }
        double[] k = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int c = 0; c < p; c++) {
                    s += g[i * p + c] * g[j * p + c];
                }
                k[i * n + j] = s / p + (i == j ? 0.5 : 0);
            }
        }
        return k;
    }

    /** k with its upper triangle (j &gt; i) perturbed by up to ASYMMETRY · max|k|: asymmetric within tolerance. */
    private static double[] perturbUpper(double[] k, int d, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double max = 0;
        for (double v : k) {
            max = Math.max(max, Math.abs(v));
        }
        double[] a = k.clone();
        for (int i = 0; i < d; i++) {
            for (int j = i + 1; j < d; j++) {
                a[i * d + j] += ASYMMETRY * max * r.nextDouble(-1, 1);
            }
        }
        return a;
    }

    /** The oracle (K + Kᵀ)/2, entry by entry. */
    private static double[] symmetricPart(double[] k, int d) {
        double[] s = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                s[i * d + j] = 0.5 * (k[i * d + j] + k[j * d + i]);
            }
        }
        return s;
    }

    /** The lower triangle mirrored: what a factorisation reading one triangle saw (the old code). */
    private static double[] lowerMirrored(double[] k, int d) {
        double[] s = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                s[i * d + j] = i >= j ? k[i * d + j] : k[j * d + i];
            }
        }
        return s;
    }

    private static Tensor random(long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        int size = 1;
        for (int s : shape) {
            size *= s;
        }
        double[] v = new double[size];
        for (int i = 0; i < size; i++) {
            v[i] = r.nextDouble(-1, 1);
        }
        return Tensor.of(v, shape);
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            worst = Math.max(worst, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return worst;
    }

    private static double maxAbs(Tensor a) {
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.getFlat(i)));
        }
        return m;
    }

    /** f_test and f_train at t = ∞ and at a finite t of the closed form on kernel k [N, N]. */
    private static Tensor[] closedForm(double[] k, Tensor y, Tensor kTest, DiagReg reg) {
        try (Tensor kt = Tensor.of(k, N, N); GradientDescentMse gd = GradientDescentMse.fromTensor(kt, y, 1, reg)) {
            return new Tensor[] {gd.predictTest(Double.POSITIVE_INFINITY, kTest, null, null),
                gd.predictTest(50, kTest, null, null), gd.predictTrain(50, null)};
        }
    }

    @Test
    void closedFormOfAnAsymmetricKernelIsThatOfItsSymmetricPart() {
        double[] k = perturbUpper(spd(1, N, 12), N, 2);
        try (Tensor kt = Tensor.of(k, N, N); KernelMatrix m = KernelMatrix.of(kt)) {
            assertThat(m.relativeAsymmetry()).isGreaterThan(ASYMMETRY / 10).isLessThan(KernelMatrix.SYMMETRY_TOLERANCE);
        }
        double[] transposed = new double[N * N];
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < N; j++) {
                transposed[i * N + j] = k[j * N + i];
            }
        }
        for (DiagReg reg : new DiagReg[] {DiagReg.NONE, DiagReg.relative(1e-3), DiagReg.absolute(0.1)}) {
            try (Tensor y = random(3, N, O); Tensor kTest = random(4, M, N)) {
                Tensor[] asym = closedForm(k, y, kTest, reg);
                Tensor[] sym = closedForm(symmetricPart(k, N), y, kTest, reg);
                Tensor[] trans = closedForm(transposed, y, kTest, reg);
                for (int i = 0; i < asym.length; i++) {
                    assertThat(maxAbsDiff(asym[i], sym[i])).as("%s, output %d", reg, i)
                            .isLessThanOrEqualTo(1e-12 * maxAbs(sym[i]));
                    // K and Kᵀ are the same kernel now (one triangle each would have differed)
                    assertThat(maxAbsDiff(trans[i], sym[i])).as("%s, Kᵀ, output %d", reg, i)
                            .isLessThanOrEqualTo(1e-12 * maxAbs(sym[i]));
                    asym[i].close();
                    sym[i].close();
                    trans[i].close();
                }
            }
        }
    }

    @Test
    void theOldReadingOfOneTriangleDiffersMeasurably() {
        double[] k = perturbUpper(spd(1, N, 12), N, 2);
        try (Tensor y = random(3, N, O); Tensor kTest = random(4, M, N)) {
            Tensor[] now = closedForm(k, y, kTest, DiagReg.NONE);
            Tensor[] old = closedForm(lowerMirrored(k, N), y, kTest, DiagReg.NONE);
            for (int i = 0; i < now.length - 1; i++) { // the test predictions at t = ∞ and t = 50
                // round-off of this well-conditioned problem is ~1e-15 relative; the triangle left out moved the
                // predictions by ~1e-6 relative
                assertThat(maxAbsDiff(now[i], old[i])).as("output %d", i).isGreaterThan(1e-9 * maxAbs(now[i]));
            }
            for (int i = 0; i < now.length; i++) {
                now[i].close();
                old[i].close();
            }
        }
    }

    @Test
    void fullLayoutIsSymmetrisedAsTheNoByNoMatrix() {
        int d = N * O;
        double[] noByNo = perturbUpper(spd(5, d, 30), d, 6);
        double[] sym = symmetricPart(noByNo, d);
        try (Tensor y = random(7, N, O); Tensor kTest = random(8, M, N, O, O);
             Tensor asymTheta = theta(noByNo); Tensor symTheta = theta(sym);
             GradientDescentMse a = GradientDescentMse.fromTensor(asymTheta, y, 1, DiagReg.relative(1e-4));
             GradientDescentMse s = GradientDescentMse.fromTensor(symTheta, y, 1, DiagReg.relative(1e-4))) {
            for (double t : new double[] {Double.POSITIVE_INFINITY, 20}) {
                try (Tensor pa = a.predictTest(t, kTest, null, null); Tensor ps = s.predictTest(t, kTest, null, null)) {
                    assertThat(maxAbsDiff(pa, ps)).as("t = %s", t).isLessThanOrEqualTo(1e-12 * maxAbs(ps));
                }
            }
        }
    }

    /** The [N, N, O, O] kernel whose NO×NO matrix (row n·O + k) is {@code m}. */
    private static Tensor theta(double[] m) {
        int d = N * O;
        Tensor t = Tensor.zeros(DType.F64, N, N, O, O);
        for (int a = 0; a < N; a++) {
            for (int b = 0; b < N; b++) {
                for (int k = 0; k < O; k++) {
                    for (int l = 0; l < O; l++) {
                        t.set(m[(a * O + k) * d + b * O + l], a, b, k, l);
                    }
                }
            }
        }
        return t;
    }

    @Test
    void odeSpectrumAndMaxLearningRateUseTheSymmetricPart() {
        double[] k = perturbUpper(spd(9, N, 12), N, 10);
        double[] sym = symmetricPart(k, N);
        try (Tensor kt = Tensor.of(k, N, N); Tensor st = Tensor.of(sym, N, N); KernelMatrix km = KernelMatrix.of(kt);
             KernelMatrix sm = KernelMatrix.of(st); Tensor y = random(11, N, O); Tensor kTest = random(12, M, N)) {
            GradientDescentOde.Outputs[] a = GradientDescentOde.of(km, y, Loss.MSE, 1, Double.NaN,
                    DiagReg.relative(1e-4)).predict(new double[] {5, 40}, null, kTest, null);
            GradientDescentOde.Outputs[] s = GradientDescentOde.of(sm, y, Loss.MSE, 1, Double.NaN,
                    DiagReg.relative(1e-4)).predict(new double[] {5, 40}, null, kTest, null);
            for (int i = 0; i < a.length; i++) {
                assertThat(maxAbsDiff(a[i].test(), s[i].test())).isLessThanOrEqualTo(1e-12 * maxAbs(s[i].test()));
                assertThat(maxAbsDiff(a[i].train(), s[i].train())).isLessThanOrEqualTo(1e-12 * maxAbs(s[i].train()));
                a[i].close();
                s[i].close();
            }
            double[] ea = KernelSpectrum.of(km).eigenvalues();
            double[] es = KernelSpectrum.of(sm).eigenvalues();
            for (int i = 0; i < N; i++) {
                assertThat(Math.abs(ea[i] - es[i])).isLessThanOrEqualTo(1e-12 * es[N - 1]);
            }
            double la = GradientDescentOde.maxLearningRate(km, N * O, 0);
            double ls = GradientDescentOde.maxLearningRate(sm, N * O, 0);
            assertThat(Math.abs(la - ls)).isLessThanOrEqualTo(1e-12 * ls);
            // the kernel given is left as it was: the symmetrised copies are the consumers' own
            assertThat(km.get(0, 1)).isEqualTo(k[1]);
        }
    }

    @Test
    void symmetriseAcrossTilesMatchesTheEntryByEntryOracle() {
        int d = 300; // crosses the 256-wide tiles: diagonal and off-diagonal tile pairs, a ragged last tile
        SplittableRandom r = new SplittableRandom(13);
        double[] a = new double[d * d];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextDouble(-1, 1);
        }
        double[] expected = symmetricPart(a, d);
        try (KernelMatrix m = KernelMatrix.zerosShared(d)) {
            double[] row = new double[d];
            for (int i = 0; i < d; i++) {
                System.arraycopy(a, i * d, row, 0, d);
                m.putRow(i, row);
            }
            m.symmetrise();
            for (int i = 0; i < d; i++) {
                m.getRow(i, row);
                for (int j = 0; j < d; j++) {
                    assertThat(row[j]).as("(%d, %d)", i, j).isEqualTo(expected[i * d + j]);
                }
            }
            assertThat(m.relativeAsymmetry()).isZero();
        }
        double[] heap = a.clone();
        KernelMatrix.symmetrise(heap, d);
        assertThat(heap).containsExactly(expected);
    }

    /**
     * Entries beyond Double.MAX_VALUE / 2 (a float64 kernel of huge inputs, which the Lanczos iteration scales for):
     * an exactly symmetric kernel stays bit for bit as it is, and the symmetric part of an asymmetric pair is its mean,
     * where (a + b)/2 overflowed to ∞ (the closed form then refused c·I at t = ∞ as numerically singular and predicted
     * 0 at finite t).
     */
    @Test
    void symmetriseOfEntriesNearTheLargestDoubleDoesNotOverflow() {
        double c = 1.5e308;
        double[] sym = {c, 1e308, 1e308, 1.7e308};
        double[] asym = {c, 1.2e308, 1.0e308, 1.7e308};
        double mean = 0.5 * 1.2e308 + 0.5 * 1.0e308; // exact halves, one rounding: the mean (1.1e308)
        try (KernelMatrix s = KernelMatrix.zerosShared(2); KernelMatrix a = KernelMatrix.zerosShared(2)) {
            s.putRow(0, new double[] {sym[0], sym[1]});
            s.putRow(1, new double[] {sym[2], sym[3]});
            a.putRow(0, new double[] {asym[0], asym[1]});
            a.putRow(1, new double[] {asym[2], asym[3]});
            s.symmetrise();
            a.symmetrise();
            assertThat(new double[] {s.get(0, 0), s.get(0, 1), s.get(1, 0), s.get(1, 1)}).containsExactly(sym);
            assertThat(new double[] {a.get(0, 0), a.get(0, 1), a.get(1, 0), a.get(1, 1)})
                    .containsExactly(c, mean, mean, 1.7e308);
        }
        double[] heapSym = sym.clone();
        double[] heapAsym = asym.clone();
        KernelMatrix.symmetrise(heapSym, 2);
        KernelMatrix.symmetrise(heapAsym, 2);
        assertThat(heapSym).containsExactly(sym);
        assertThat(heapAsym).containsExactly(c, mean, mean, 1.7e308);
        // the closed form on c·I (no regulariser): f_test = K_test K⁻¹ y = y for K_test = the first row of K
        try (Tensor k = Tensor.of(new double[] {c, 0, 0, c}, 2, 2); Tensor y = Tensor.of(new double[] {1, -2}, 2, 1);
             Tensor kTest = Tensor.of(new double[] {c, 0}, 1, 2);
             GradientDescentMse gd = GradientDescentMse.fromTensor(k, y, 1, DiagReg.NONE);
             Tensor f = gd.predictTest(Double.POSITIVE_INFINITY, kTest, null, null);
             Tensor f3 = gd.predictTest(3, kTest, null, null)) {
            // t = ∞ was refused as numerically singular, t = 3 (converged: e^(−λt) = 0) predicted 0
            assertThat(f.getFlat(0)).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-15));
            assertThat(f3.getFlat(0)).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-15));
        }
    }

    @Test
    void aKernelFarFromSymmetricIsRefusedByTheSolversGivenAMatrix() {
        double[] k = spd(14, N, 12);
        k[1] += 1; // entry (0, 1) only: relative asymmetry far above the tolerance
        try (KernelMatrix m = KernelMatrix.zerosShared(N); Tensor y = random(15, N, O)) {
            double[] row = new double[N];
            for (int i = 0; i < N; i++) {
                System.arraycopy(k, i * N, row, 0, N);
                m.putRow(i, row);
            }
            assertThatThrownBy(() -> GradientDescentMse.of(m, y, 1, DiagReg.NONE))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("train-train kernel: not symmetric");
            assertThatThrownBy(() -> GradientDescentOde.of(m, y, Loss.MSE, 1, Double.NaN, DiagReg.NONE))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("train-train kernel: not symmetric");
        }
    }
}
