package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link KernelJob}, the library form of {@code ntk4j kernel} in memory: the kernel of a kind, of explicit axes and
 * of an ensemble equal what {@link EmpiricalNtk} and hand averaging give; the figures are filled in.
 */
class KernelJobTest {
    static final Model NET = Zoo.parse("fcn(depth=2,width=12,out=4)");

    private static double maxRelDiff(Tensor a, Tensor b) {
        double scale = 0;
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            scale = Math.max(scale, Math.abs(b.getFlat(i)));
            worst = Math.max(worst, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return worst / scale;
    }

    @Test
    void aKindAndItsAxesGiveEmpiricalNtksKernel() {
        try (Params p = NET.init(1, new int[] {6}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 5, 9, 6);
             Tensor x2 = Tensor.randomNormal(DType.F64, 6, 7, 6)) {
            KernelJob.Request byKind = KernelJob.Request.of(NET, p, x, x2, KernelKind.parse("pntk", 0))
                    .withMethod(Method.AUTO, 1L << 30);
            try (KernelJob.Result r = KernelJob.run(byKind);
                 Tensor expected = EmpiricalNtk.of(NET, p).kernel(KernelKind.parse("pntk", 0), x, x2)) {
                assertThat(r.kernel().shape()).containsExactly(9, 7);
                assertThat(maxRelDiff(r.kernel(), expected)).isLessThan(1e-12);
                assertThat(r.sem()).isNull();
                assertThat(r.estimate().flops()).isPositive();
                assertThat(r.method()).isNotEqualTo(Method.AUTO);
            }
            KernelJob.Request byAxes = KernelJob.Request.ofAxes(NET, p, x, null, new int[][] {{}, {-1}})
                    .withMethod(Method.NTK_VECTOR_PRODUCTS, 1L << 30);
            try (KernelJob.Result r = KernelJob.run(byAxes);
                 Tensor expected = EmpiricalNtk.of(NET, p).kernel(KernelKind.parse("diagonal", 0), x, null)) {
                assertThat(r.kernel().shape()).containsExactly(9, 9, 4);
                assertThat(r.method()).isEqualTo(Method.NTK_VECTOR_PRODUCTS);
                assertThat(maxRelDiff(r.kernel(), expected)).isLessThan(1e-12);
            }
        }
    }

    @Test
    void anEnsembleIsTheMeanOfItsMembers() {
        try (Params p = NET.init(3, new int[] {6}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 7, 8, 6)) {
            KernelJob.Request q = KernelJob.Request.of(NET, p, x, null, KernelKind.trace())
                    .withMethod(Method.AUTO, 1L << 30).withEnsemble(2, 3);
            try (KernelJob.Result r = KernelJob.run(q);
                 Params p4 = NET.init(4, new int[] {6}, DType.F64);
                 Tensor k3 = EmpiricalNtk.of(NET, p).kernel(KernelKind.trace(), x, null);
                 Tensor k4 = EmpiricalNtk.of(NET, p4).kernel(KernelKind.trace(), x, null)) {
                double[] mean = new double[k3.size()];
                double[] sem = new double[k3.size()];
                for (int i = 0; i < mean.length; i++) {
                    double a = k3.getFlat(i);
                    double b = k4.getFlat(i);
                    mean[i] = (a + b) / 2;
                    sem[i] = Math.abs(a - b) / 2; // sample std (|a − b|/√2) over √2
                }
                try (Tensor m = Tensor.of(mean, 8, 8); Tensor s = Tensor.of(sem, 8, 8)) {
                    assertThat(maxRelDiff(r.kernel(), m)).isLessThan(1e-12);
                    assertThat(maxRelDiff(r.sem(), s)).isLessThan(1e-9);
                }
            }
        }
    }

    /**
     * The factories take {@code ntk4j kernel}'s defaults and each with-method changes its components alone: the
     * requests equal the canonical constructor's with the same values, and a negative ensemble is refused.
     */
    @Test
    void theFactoriesAndWithMethodsSetTheNamedComponents() {
        int[][] axes = {{}, {-1}};
        KernelJob.Request q = KernelJob.Request.of(NET, null, null, null, KernelKind.trace());
        assertThat(q).isEqualTo(new KernelJob.Request(NET, null, null, null, KernelKind.trace(), null, Method.AUTO,
                EmpiricalNtk.defaultMemoryBudget(), false, 0, 0));
        assertThat(q.withMethod(Method.JACOBIAN_CONTRACTION, 12345).withNngp(true).withEnsemble(3, 7))
                .isEqualTo(new KernelJob.Request(NET, null, null, null, KernelKind.trace(), null,
                        Method.JACOBIAN_CONTRACTION, 12345, true, 3, 7));
        assertThat(q.withNngp(true).withNngp(false)).isEqualTo(q);
        KernelJob.Request byAxes = KernelJob.Request.ofAxes(NET, null, null, null, axes);
        assertThat(byAxes.kind()).isNull();
        assertThat(byAxes.axes()).isSameAs(axes);
        assertThat(byAxes.withEnsemble(2, 5).members()).isEqualTo(2);
        assertThat(byAxes.members()).isEqualTo(1);
        assertThatThrownBy(() -> q.withEnsemble(-1, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("kernel job: ensemble: expected K >= 1 members, or 0 for the kernel at the parameters, "
                        + "got -1");
        assertThatThrownBy(() -> KernelJob.Request.of(NET, null, null, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("kernel job: kind: expected");
        assertThatThrownBy(() -> KernelJob.Request.ofAxes(NET, null, null, null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("kernel job: axes: expected");
    }

    @Test
    void aRequestNeedsAKindOrAxes() {
        assertThatThrownBy(() -> new KernelJob.Request(NET, null, null, null, null, null, Method.AUTO, 1, false, 0,
                0)).hasMessageContaining("neither");
        assertThatThrownBy(() -> new KernelJob.Request(NET, null, null, null, KernelKind.trace(), new int[][] {{}, {}},
                Method.AUTO, 1, false, 0, 0)).hasMessageContaining("both");
    }
}
