package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Lapack;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class ApproximationReportTest {
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
                1e-6);
        assertThat(r.rows()).hasSize(3);
        for (ApproximationReport.Row row : r.rows()) {
            assertThat(row.relativeFrobeniusError).as(row.kind).isLessThan(1e-12);
            assertThat(row.lambdaMaxRelativeError).as(row.kind).isLessThan(1e-10);
            assertThat(row.lambdaMinRatio).as(row.kind).isCloseTo(1.0, within(1e-8));
            assertThat(row.conditionNumberRatio).as(row.kind).isCloseTo(1.0, within(1e-8));
            assertThat(row.predictionRelativeDifference).as(row.kind).isLessThan(1e-8);
            assertThat(row.argmaxAgreement).isEqualTo(1.0);
        }
        assertThat(r.table()).contains("| pntk |").contains("argmax agreement");
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
                List.of(KernelKind.parse("pntk", 0), KernelKind.parse("pntk-unscaled", 0)), 1e-4);
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
                    List.of(KernelKind.parse("pntk", 0), KernelKind.parse("trace", 0)), 1e-4);
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
                ApproximationReport.randomOneHot(DType.F32, 7, 4, 1), List.of(KernelKind.parse("pntk", 0)), 1e-4);
        assertThat(r.fullSingular()).isFalse();
        assertThat(r.table()).doesNotContain("singular");
        assertThat(r.rows().get(0).lambdaMinRatio).isBetween(1.3, 1.5); // 1.40 in float64 (the NumPy oracle)
        assertThat(r.rows().get(0).conditionNumberRatio).isBetween(0.45, 0.6); // 0.524 in float64
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
