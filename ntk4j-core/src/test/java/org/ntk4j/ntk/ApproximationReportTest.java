package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.KernelSpectrum;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class ApproximationReportTest {
    private static final DiagReg REG = DiagReg.relative(1e-4);

    /** With one output every N×N kind is the full kernel: zero error, equal spectra and predictions. */
    @Test
    void withOneOutputEveryKindIsExact() {
        Model m = Zoo.parse("fcn(depth=1,width=12,out=1)");
        Params p = m.init(2, new int[] {3}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 3, 6, 3);
        Tensor xt = Tensor.randomNormal(DType.F64, 4, 3, 3);
        Tensor y = Tensor.randomNormal(DType.F64, 5, 6, 1);
        ApproximationReport r = ApproximationReport.run(EmpiricalNtk.of(m, p), x, xt, y,
                List.of(KernelKind.parse("pntk", 0), KernelKind.parse("trace", 0), KernelKind.parse("logit:0", 0)),
                DiagReg.relative(1e-6));
        assertThat(r.rows()).hasSize(3);
        for (ApproximationReport.Row row : r.rows()) {
            assertThat(row.relativeFrobeniusError).as(row.kind).isLessThan(1e-12);
            assertThat(row.lambdaMaxRelativeError).as(row.kind).isLessThan(1e-10);
            assertThat(row.lambdaMinRatio).as(row.kind).isCloseTo(1.0, within(1e-8));
            assertThat(row.conditionNumberRatio).as(row.kind).isCloseTo(1.0, within(1e-8));
            assertThat(row.predictionRelativeDifference).as(row.kind).isLessThan(1e-8);
            assertThat(row.argmaxAgreement).isEqualTo(1.0);
        }
        assertThat(r.table()).contains("| pntk |").contains("argmax agreement").doesNotContain("test accuracy");
    }

    /** x of (A + r·I) x = b by Gaussian elimination with partial pivoting: an oracle independent of LAPACK. */
    private static double[] solve(double[] a, int d, double r, double[] b) {
        double[] m = a.clone();
        double[] x = b.clone();
        for (int i = 0; i < d; i++) {
            m[i * d + i] += r;
        }
        for (int c = 0; c < d; c++) {
            int piv = c;
            for (int i = c + 1; i < d; i++) {
                piv = Math.abs(m[i * d + c]) > Math.abs(m[piv * d + c]) ? i : piv;
            }
            for (int j = 0; j < d; j++) {
                double t = m[c * d + j];
                m[c * d + j] = m[piv * d + j];
                m[piv * d + j] = t;
            }
            double t = x[c];
            x[c] = x[piv];
            x[piv] = t;
            for (int i = c + 1; i < d; i++) {
                double f = m[i * d + c] / m[c * d + c];
                for (int j = c; j < d; j++) {
                    m[i * d + j] -= f * m[c * d + j];
                }
                x[i] -= f * x[c];
            }
        }
        for (int i = d - 1; i >= 0; i--) {
            double s = x[i];
            for (int j = i + 1; j < d; j++) {
                s -= m[i * d + j] * x[j];
            }
            x[i] = s / m[i * d + i];
        }
        return x;
    }

    private static int argmax(double[] p, int row, int o) {
        int am = 0;
        for (int c = 1; c < o; c++) {
            am = p[row * o + c] > p[row * o + am] ? c : am;
        }
        return am;
    }

    /**
     * An absolute diag_reg adds r itself to each kernel's diagonal (the full NO×NO one and the kind's N×N one alike),
     * and with held-out labels the report scores each kernel's regression: both checked against predictions solved
     * here by Gaussian elimination, and the table gains the test accuracy and its difference to the full kernel's.
     */
    @Test
    void absoluteDiagRegAndHeldOutAccuracyAgreeWithADirectSolve() {
        Model m = Zoo.parse("fcn(depth=1,width=32,out=3)");
        int n = 8;
        int mt = 12;
        int o = 3;
        double r = 0.3;
        int[] labels = {0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 0, 2};
        try (Params p = m.init(5, new int[] {4}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 6, n, 4);
             Tensor xt = Tensor.randomNormal(DType.F64, 7, mt, 4);
             Tensor y = ApproximationReport.randomOneHot(DType.F64, n, o, 8)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            ApproximationReport rep = ApproximationReport.run(ntk, x, xt, y, labels, List.of(KernelKind.trace()),
                    DiagReg.absolute(r), null);
            double[] full = new double[mt * o];
            double[] kind = new double[mt * o];
            try (Tensor th = ntk.kernel(KernelKind.full(), x, null); Tensor tt = ntk.kernel(KernelKind.full(), xt, x);
                 Tensor k = ntk.kernel(KernelKind.trace(), x, null);
                 Tensor kt = ntk.kernel(KernelKind.trace(), xt, x)) {
                int d = n * o;
                double[] a = new double[d * d];
                double[] b = new double[d];
                for (int i = 0; i < n; i++) {
                    for (int c = 0; c < o; c++) {
                        b[i * o + c] = y.get(i, c);
                        for (int j = 0; j < n; j++) {
                            for (int l = 0; l < o; l++) {
                                a[(i * o + c) * d + j * o + l] = th.get(i, j, c, l);
                            }
                        }
                    }
                }
                double[] w = solve(a, d, r, b);
                double[] kk = new double[n * n];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        kk[i * n + j] = k.get(i, j);
                    }
                }
                for (int c = 0; c < o; c++) {
                    double[] yc = new double[n];
                    for (int i = 0; i < n; i++) {
                        yc[i] = y.get(i, c);
                    }
                    double[] wc = solve(kk, n, r, yc);
                    for (int t = 0; t < mt; t++) {
                        double sk = 0;
                        double sf = 0;
                        for (int j = 0; j < n; j++) {
                            sk += kt.get(t, j) * wc[j];
                            for (int l = 0; l < o; l++) {
                                sf += tt.get(t, j, c, l) * w[j * o + l];
                            }
                        }
                        kind[t * o + c] = sk;
                        full[t * o + c] = sf;
                    }
                }
            }
            double num = 0;
            double den = 0;
            int rightFull = 0;
            int rightKind = 0;
            for (int t = 0; t < mt; t++) {
                for (int c = 0; c < o; c++) {
                    num += Math.pow(kind[t * o + c] - full[t * o + c], 2);
                    den += Math.pow(full[t * o + c], 2);
                }
                rightFull += argmax(full, t, o) == labels[t] ? 1 : 0;
                rightKind += argmax(kind, t, o) == labels[t] ? 1 : 0;
            }
            ApproximationReport.Row row = rep.rows().get(0);
            assertThat(row.predictionRelativeDifference).isCloseTo(Math.sqrt(num / den), within(1e-9));
            assertThat(rep.fullTestAccuracy()).isEqualTo(rightFull / (double) mt);
            assertThat(row.testAccuracy).isEqualTo(rightKind / (double) mt);
            assertThat(rep.testAccuracyDifference(row)).isEqualTo(row.testAccuracy - rep.fullTestAccuracy());
            assertThat(rep.table()).contains(String.format(java.util.Locale.ROOT, ", test accuracy %.3f%n",
                    rep.fullTestAccuracy())).contains("| test accuracy | accuracy diff. |")
                    .contains(String.format(java.util.Locale.ROOT, " %.3f | %+.3f |%n", row.testAccuracy,
                            rep.testAccuracyDifference(row)));
        }
    }

    /** With ten outputs the approximations differ from the full kernel, and the report says by how much. */
    @Test
    void reportsTheErrorOfEachKind() {
        Model m = Zoo.parse("fcn(depth=1,width=64,out=10)");
        Params p = m.init(2, new int[] {5}, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 3, 8, 5);
        Tensor xt = Tensor.randomNormal(DType.F64, 4, 4, 5);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 8, 10, 1);
        ApproximationReport r = ApproximationReport.run(EmpiricalNtk.of(m, p), x, xt, y,
                List.of(KernelKind.parse("pntk", 0), KernelKind.parse("pntk-unscaled", 0)), REG);
        ApproximationReport.Row pntk = r.rows().get(0);
        ApproximationReport.Row unscaled = r.rows().get(1);
        assertThat(pntk.relativeFrobeniusError).isBetween(1e-3, 1.0);
        // the unscaled sum of logits is O times too large: its λ_max error is about O - 1
        assertThat(unscaled.lambdaMaxRelativeError).isGreaterThan(5.0);
        assertThat(pntk.lambdaMaxRelativeError).isLessThan(unscaled.lambdaMaxRelativeError);
    }

    /**
     * A narrow ReLU fcn whose full kernel is singular (rank below NO): its λ_min is round-off of either sign, in
     * float32 about 1e-7 of λ_max, and no ratio to it is reported; a nonsingular one keeps its ratios.
     */
    @Test
    void aSingularFullKernelHasNoLambdaMinOrConditionRatio() {
        Model m = Zoo.parse("fcn(depth=2,width=3,out=5,act=relu)");
        for (DType dtype : new DType[] {DType.F64, DType.F32}) {
            Params p = m.init(3, new int[] {3}, dtype);
            Tensor x = Tensor.randomNormal(dtype, 5, 6, 3);
            Tensor xt = Tensor.randomNormal(dtype, 6, 4, 3);
            Tensor y = ApproximationReport.randomOneHot(dtype, 6, 5, 1);
            ApproximationReport r = ApproximationReport.run(EmpiricalNtk.of(m, p), x, xt, y,
                    List.of(KernelKind.parse("pntk", 0), KernelKind.parse("trace", 0)), REG);
            assertThat(r.fullSingular()).as("%s", dtype).isTrue();
            assertThat(r.table()).contains("singular to working precision").contains("| NaN | NaN |");
            for (ApproximationReport.Row row : r.rows()) {
                assertThat(row.lambdaMinRatio).as("%s %s", dtype, row.kind).isNaN();
                assertThat(row.conditionNumberRatio).as("%s %s", dtype, row.kind).isNaN();
                assertThat(row.relativeFrobeniusError).as("%s %s", dtype, row.kind).isBetween(0.1, 1.0);
            }
        }
        Model wide = Zoo.parse("fcn(depth=1,width=40,out=4)");
        Params p = wide.init(3, new int[] {5}, DType.F32);
        Tensor x = Tensor.randomNormal(DType.F32, 5, 7, 5);
        Tensor xt = Tensor.randomNormal(DType.F32, 6, 5, 5);
        ApproximationReport r = ApproximationReport.run(EmpiricalNtk.of(wide, p), x, xt,
                ApproximationReport.randomOneHot(DType.F32, 7, 4, 1), List.of(KernelKind.parse("pntk", 0)), REG);
        assertThat(r.fullSingular()).isFalse();
        assertThat(r.table()).doesNotContain("singular");
        assertThat(r.rows().get(0).lambdaMinRatio).isBetween(1.3, 1.5); // 1.40 in float64 (the NumPy oracle)
        assertThat(r.rows().get(0).conditionNumberRatio).isBetween(0.45, 0.6); // 0.524 in float64
    }

    /**
     * A kind of rank below N (projected:1 sketches each example's O = 2 output gradients into one dimension: rank
     * at most 2 of N = 6) is singular while Θ (98 parameters, NO = 12) is not. Its λ_min is round-off of either
     * sign, and its ratio to Θ's λ_min (it was -5.2e-13 here in float64) measures nothing: the report takes a
     * singular K's λ_min as 0 (so the λ_min ratio is 0, as the condition ratio is +∞).
     */
    @Test
    void aSingularKindHasLambdaMinRatioZeroNotItsRoundOff() {
        Model m = Zoo.parse("fcn(depth=1,width=16,out=2)");
        for (DType dtype : new DType[] {DType.F64, DType.F32}) {
            Params p = m.init(3, new int[] {3}, dtype);
            Tensor x = Tensor.randomNormal(dtype, 5, 6, 3);
            Tensor xt = Tensor.randomNormal(dtype, 6, 4, 3);
            Tensor y = ApproximationReport.randomOneHot(dtype, 6, 2, 1);
            KernelKind projected = KernelKind.projected(1, 7);
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            try (Tensor k = ntk.kernel(projected, x, null); Tensor k64 = k.to(DType.F64)) {
                // this K has rank at most 2 of 6: its four smallest eigenvalues are round-off
                double[] e = Lapack.symmetricEigenvalues(k64);
                assertThat(e[3]).as("%s", dtype).isLessThan(1e-6 * e[5]);
            }
            ApproximationReport r = ApproximationReport.run(ntk, x, xt, y, List.of(projected, KernelKind.pntk()),
                    REG);
            assertThat(r.fullSingular()).as("%s", dtype).isFalse();
            ApproximationReport.Row singular = r.rows().get(0);
            assertThat(singular.conditionNumberRatio).as("%s", dtype).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(singular.lambdaMinRatio).as("%s", dtype).isEqualTo(0.0);
            ApproximationReport.Row pntk = r.rows().get(1); // a nonsingular kind keeps its measured ratio
            assertThat(pntk.lambdaMinRatio).as("%s", dtype).isGreaterThan(0.1);
            assertThat(pntk.conditionNumberRatio).as("%s", dtype).isFinite().isPositive();
        }
    }

    /**
     * Bad arguments are refused in one line naming the argument, before the full kernel is computed: a kind that is
     * not N×N (full and diagonal have no K ⊗ I_O reading; before, they failed after the full kernel with "index [0, 0]
     * has rank 2, tensor has shape [4, 4, 3]"), null kinds, targets not [N, O], no held-out inputs, a logit the model
     * does not have, and a model whose outputs are not [N, O] (a sequence model's [N, T, O]).
     */
    @Test
    void badArgumentsAreRefusedNamingThem() {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=3)");
        Params p = m.init(1, new int[] {2}, DType.F64);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
        Tensor x = Tensor.randomNormal(DType.F64, 1, 4, 2);
        Tensor xt = Tensor.randomNormal(DType.F64, 2, 3, 2);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 4, 3, 1);
        List<KernelKind> trace = List.of(KernelKind.trace());
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, List.of(KernelKind.diagonal()), REG))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kinds: diagonal is not an N×N kind (each kind is compared as K ⊗ I_O with the full "
                        + "kernel); expected trace, pntk, pntk-unscaled, logit:K, probes:R or projected:K");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, List.of(KernelKind.full()), REG))
                .hasMessageStartingWith("kinds: full is not an N×N kind");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, null, REG))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("kinds: must not be null");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, java.util.Arrays.asList(KernelKind.trace(),
                null), REG)).isInstanceOf(IllegalArgumentException.class).hasMessage("kinds: entry 1 is null");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, List.of(KernelKind.logit(3)), REG))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kinds: logit:3 but the model has 3 outputs (0..2)");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, ApproximationReport.randomOneHot(DType.F64, 4,
                2, 1), trace, REG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("yTrain: expected [4, 3] (N training examples, O outputs of the model), got [4, 2]");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, ApproximationReport.randomOneHot(DType.F64, 3,
                3, 1), trace, REG)).hasMessage("yTrain: expected [4, 3] (N training examples, O outputs of the "
                + "model), got [3, 3]");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, Tensor.zeros(DType.F64, 0, 2), y, trace, REG))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("xTest: needs at least 1 held-out input, got [0, 2]");
        Model sequence = KernelKindOracleTest.sequenceModel();
        Params q = sequence.init(1, new int[] {4, 2}, DType.F64);
        Tensor s = Tensor.randomNormal(DType.F64, 3, 3, 4, 2);
        Tensor st = Tensor.randomNormal(DType.F64, 4, 2, 4, 2);
        assertThatThrownBy(() -> ApproximationReport.run(EmpiricalNtk.of(sequence, q), s, st,
                ApproximationReport.randomOneHot(DType.F64, 3, 3, 1), trace, REG))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("approximation report: needs a model with outputs [N, O], the model gives [N] + [4, 3]");
    }

    /**
     * The arguments read only after the full kernel were checked only then: a negative or NaN diagReg, held-out
     * inputs whose examples differ from the training ones (in shape or dtype; refused by the second full kernel as
     * "x2: ... like those of x1", naming the training inputs) and test labels outside [0, O) (counted as wrong
     * predictions, silently). Each is now refused first, in one line naming it, and nothing is left allocated
     * (before, the full kernels thrown past were never closed: Tensor.liveBytes grew).
     */
    @Test
    void diagRegHeldOutShapeAndLabelsAreRefusedBeforeAnyKernel() {
        Model m = Zoo.parse("fcn(depth=1,width=4,out=3)");
        Params p = m.init(1, new int[] {2}, DType.F64);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
        Tensor x = Tensor.randomNormal(DType.F64, 1, 4, 2);
        Tensor xt = Tensor.randomNormal(DType.F64, 2, 3, 2);
        Tensor y = ApproximationReport.randomOneHot(DType.F64, 4, 3, 1);
        List<KernelKind> trace = List.of(KernelKind.trace());
        long live = Tensor.liveBytes();
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, trace, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("diagReg: expected a DiagReg (DiagReg.NONE for none), got null");
        assertThat(Tensor.liveBytes()).isEqualTo(live);
        try (Tensor wide = Tensor.randomNormal(DType.F64, 2, 3, 3); Tensor single = xt.to(DType.F32)) {
            long withThem = Tensor.liveBytes();
            assertThatThrownBy(() -> ApproximationReport.run(ntk, x, wide, y, trace, REG))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("xTest: examples must be f64[2] like those of xTrain, got a batch f64[3,3]");
            assertThat(Tensor.liveBytes()).isEqualTo(withThem);
            assertThatThrownBy(() -> ApproximationReport.run(ntk, x, single, y, trace, REG))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("xTest: examples must be f64[2] like those of xTrain, got a batch f32[3,2]");
            assertThat(Tensor.liveBytes()).isEqualTo(withThem);
        }
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, new int[] {0, 3, 1}, trace, REG, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("testLabels: entry 1 is 3, expected a class in [0, 3)");
        assertThatThrownBy(() -> ApproximationReport.run(ntk, x, xt, y, new int[] {0, -1, 1}, trace, REG, null))
                .hasMessage("testLabels: entry 1 is -1, expected a class in [0, 3)");
        assertThat(Tensor.liveBytes()).isEqualTo(live);
    }

    /**
     * numericallySingular is NumPy's matrix_rank test, S.min() <= S.max()·d·ε, on a positive spectrum (there the
     * singular values are the eigenvalues), and true whenever λ_min <= 0: a negative-definite kernel (λ_max < 0,
     * where λ_max·d·ε > λ_min), a zero kernel and d = 1 with λ = 0 are singular; d = 1 with λ > 0 is not. The
     * boundaries, exact in binary: λ_max·d·ε itself is singular, the next double above it is not, with ε = 2^-52
     * for float64 and 2^-23 for float32. A missing spectrum or dtype is refused in one line.
     */
    @Test
    void numericallySingularAtTheMatrixRankToleranceAndForNonPositiveSpectra() {
        DType f64 = DType.F64;
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(new double[] {-3, -1}), f64))
                .isTrue();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(new double[] {0, 0}), f64))
                .isTrue();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(new double[] {0}), f64))
                .isTrue();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(new double[] {2}), f64))
                .isFalse();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(new double[] {2}),
                DType.F32)).isFalse();
        double[] e = new double[40];
        java.util.Arrays.fill(e, 1);
        e[0] = 40 * 0x1p-52;
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(e), f64)).isTrue();
        e[0] = Math.nextUp(40 * 0x1p-52);
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(e), f64)).isFalse();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(
                new double[] {0x1p-22, 1}), DType.F32)).isTrue();
        assertThat(ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(
                new double[] {Math.nextUp(0x1p-22), 1}), DType.F32)).isFalse();
        assertThatThrownBy(() -> ApproximationReport.numericallySingular(null, f64))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("spectrum: must not be null");
        assertThatThrownBy(() -> ApproximationReport.numericallySingular(KernelSpectrum.ofEigenvalues(
                new double[] {1}), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("dtype: must not be null");
    }

    @Test
    void lapackEigenvaluesAndSolve() {
        Tensor a = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2); // eigenvalues 1, 3
        assertThat(Lapack.symmetricEigenvalues(a)).containsExactly(new double[] {1, 3}, within(1e-14));
        Tensor b = Tensor.of(new double[] {3, 0, 3, 1}, 2, 2);
        Tensor x = Lapack.solvePositiveDefinite(a, b); // [[1, -1/3], [1, 2/3]]
        assertThat(x.toDoubleArray()).containsExactly(new double[] {1, -1.0 / 3, 1, 2.0 / 3}, within(1e-14));
        Tensor notPd = Tensor.of(new double[] {1, 2, 2, 1}, 2, 2);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Lapack.solvePositiveDefinite(notPd, b))
                .hasMessageContaining("not positive definite");
    }

    @Test
    void logLogSlope() {
        double[] w = {64, 256, 1024};
        double[] e = {1 / 8.0, 1 / 16.0, 1 / 32.0};
        assertThat(ApproximationReport.logLogSlope(w, e)).isCloseTo(-0.5, within(1e-12));
    }
}
