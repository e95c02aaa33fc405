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
 * The empirical NNGP's own cost ({@link CostModel#nngp}, since 2026-12-07): its FLOPs are those counted while it
 * runs, its measured peak within 1% of the prediction, and the memory budget binds it by that cost — not by the
 * NTK methods', which it does not run (AUTO refused a budget that no NTK method fits, however cheap the NNGP).
 */
class NngpBudgetTest {
    private static final Model NET = Zoo.parse("fcn(depth=2,width=16,out=5)");

    @Test
    void theNngpIsCostedAndBoundedByWhatItRuns() {
        try (Params p = NET.init(2, new int[] {7}, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, 11, 7);
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, 11, 7)) {
            for (int[][] axes : new int[][][] {{{-1}, {}}, {{}, {}}, {{}, {-1}}, {{0, 1}, {}}}) {
                for (Tensor second : new Tensor[] {null, x2}) {
                    EmpiricalNtk e = EmpiricalNtk.of(NET, p).traceAxes(axes[0]).diagonalAxes(axes[1]);
                    int n2 = second == null ? 0 : second.dim(0);
                    CostModel.Estimate est = e.nngpEstimate(11, n2, new int[] {7}, DType.F64);
                    long held = p.count() * 8 + x.bytes() + (second == null ? 0 : second.bytes());
                    Tensor.resetPeakBytes();
                    long before = Tensor.liveBytes();
                    long flops0 = org.ntk4j.graph.FlopCount.total();
                    try (Tensor k = e.nngp(x, second)) {
                        long peak = Tensor.peakBytes() - before + held;
                        String what = java.util.Arrays.deepToString(axes) + ", n2 " + n2;
                        assertThat((double) (org.ntk4j.graph.FlopCount.total() - flops0)).as(what)
                                .isEqualTo(est.flops());
                        assertThat((double) peak).as(what).isLessThanOrEqualTo(1.01 * est.peakBytes());
                        // at its peak exactly the budget runs it, the same kernel; a byte less is refused
                        try (Tensor bounded = e.memoryBudget(est.peakBytes()).nngp(x, second)) {
                            assertThat(bounded.toDoubleArray()).as(what).containsExactly(k.toDoubleArray());
                        }
                        assertThatThrownBy(() -> e.memoryBudget(est.peakBytes() - 1).nngp(x, second)).as(what)
                                .hasMessageStartingWith("memory budget: the NNGP of 11 × " + (n2 == 0 ? 11 : n2)
                                        + " examples needs at least " + CostModel.humanAtLeast(est.peakBytes()));
                    }
                }
            }
            // a budget that no NTK method fits, AUTO refused, runs the NNGP
            EmpiricalNtk e = EmpiricalNtk.of(NET, p);
            long budget = e.nngpEstimate(11, 0, new int[] {7}, DType.F64).peakBytes();
            EmpiricalNtk bounded = e.memoryBudget(budget);
            assertThatThrownBy(() -> bounded.ntk(x, null)).hasMessageStartingWith("memory budget: no method fits");
            try (Tensor k = bounded.nngp(x, null)) {
                assertThat(k.shape()).containsExactly(11, 11);
            }
        }
    }
}
