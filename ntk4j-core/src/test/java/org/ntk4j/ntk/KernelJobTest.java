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
            KernelJob.Request byKind = new KernelJob.Request(NET, p, x, x2, KernelKind.parse("pntk", 0), null,
                    Method.AUTO, 1L << 30, false, 0, 0);
            try (KernelJob.Result r = KernelJob.run(byKind);
                 Tensor expected = EmpiricalNtk.of(NET, p).kernel(KernelKind.parse("pntk", 0), x, x2)) {
                assertThat(r.kernel().shape()).containsExactly(9, 7);
                assertThat(maxRelDiff(r.kernel(), expected)).isLessThan(1e-12);
                assertThat(r.sem()).isNull();
                assertThat(r.estimate().flops()).isPositive();
                assertThat(r.method()).isNotEqualTo(Method.AUTO);
            }
            KernelJob.Request byAxes = new KernelJob.Request(NET, p, x, null, null, new int[][] {{}, {-1}},
                    Method.NTK_VECTOR_PRODUCTS, 1L << 30, false, 0, 0);
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
            KernelJob.Request q = new KernelJob.Request(NET, p, x, null, KernelKind.trace(), null, Method.AUTO,
                    1L << 30, false, 2, 3);
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

    @Test
    void aRequestNeedsAKindOrAxes() {
        assertThatThrownBy(() -> new KernelJob.Request(NET, null, null, null, null, null, Method.AUTO, 1, false, 0,
                0)).hasMessageContaining("neither");
        assertThatThrownBy(() -> new KernelJob.Request(NET, null, null, null, KernelKind.trace(), new int[][] {{}, {}},
                Method.AUTO, 1, false, 0, 0)).hasMessageContaining("both");
    }
}
