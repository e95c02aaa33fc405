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
 * projected:K computed in memory is priced by what it runs (per-example Jacobian rows sketched over example chunks),
 * reports Jacobian contraction, and stays within the memory budget by running in the largest chunks that fit.
 */
class ProjectedInMemoryBudgetTest {
    private static final Model MODEL = Zoo.parse("fcn(depth=2,width=64,out=5)");
    private static final int[] EXAMPLE = {10};
    private static final KernelKind KIND = KernelKind.parse("projected:8", 3);

    /** A budget between what chunks of one example need and what the whole batch at once needs. */
    private static long midBudget(EmpiricalNtk ntk, int n1, int n2) {
        EmpiricalNtk plain = ntk.traceAxes(-1).diagonalAxes();
        long least = ProjectedSketch.estimate(plain, KIND, n1, n2, 1, EXAMPLE, DType.F64).peakBytes();
        long whole = ProjectedSketch.estimate(plain, KIND, n1, n2, Math.max(n1, n2), EXAMPLE, DType.F64)
                .peakBytes();
        assertThat(whole).as("the whole batch's Jacobian rows dominate").isGreaterThan(2 * least);
        return (least + whole) / 2;
    }

    @Test
    void budgetedKernelStaysWithinItsBudgetAndEqualsTheUnbudgetedOne() {
        try (Params p = MODEL.init(1, EXAMPLE, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 5, 24, 10);
             Tensor x2 = Tensor.randomNormal(DType.F64, 6, 9, 10)) {
            for (Tensor second : new Tensor[] {null, x2}) {
                EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p);
                int n2 = second == null ? 0 : second.dim(0);
                long budget = midBudget(ntk, 24, n2);
                try (Tensor whole = ntk.kernel(KIND, x1, second);
                     KernelJob.Result r = KernelJob.run(KernelJob.Request.of(MODEL, p, x1, second, KIND)
                             .withMethod(Method.AUTO, budget))) {
                    String side = second == null ? "x2 = x1" : "x2 given";
                    assertThat(r.method()).as(side).isEqualTo(Method.JACOBIAN_CONTRACTION);
                    assertThat(r.estimate().method()).as(side).isEqualTo(Method.JACOBIAN_CONTRACTION);
                    assertThat(r.estimate().peakBytes()).as(side + ": predicted peak").isLessThanOrEqualTo(budget);
                    assertThat(r.peakBytes()).as(side + ": measured peak (tensors' high-water mark)")
                            .isLessThanOrEqualTo(budget);
                    // the prediction is of what runs: within the cost model's tested 20%, FLOPs as counted
                    assertThat((double) r.peakBytes()).as(side).isBetween(0.8 * r.estimate().peakBytes(),
                            1.2 * r.estimate().peakBytes());
                    assertThat((double) r.flopsCounted()).as(side + ": FLOPs counted")
                            .isCloseTo(r.estimate().flops(), org.assertj.core.data.Percentage.withPercentage(1e-6));
                    assertThat(r.kernel().shape()).isEqualTo(whole.shape());
                    double scale = 0;
                    for (int i = 0; i < whole.size(); i++) {
                        scale = Math.max(scale, Math.abs(whole.getFlat(i)));
                    }
                    for (int i = 0; i < whole.size(); i++) {
                        assertThat(r.kernel().getFlat(i)).as(side + ": entry %d", i)
                                .isCloseTo(whole.getFlat(i), org.assertj.core.data.Offset.offset(1e-12 * scale));
                    }
                }
            }
        }
    }

    @Test
    void planTakesTheLargestChunkThatFits() {
        try (Params p = MODEL.init(1, EXAMPLE, DType.F64)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p);
            long budget = midBudget(ntk, 24, 0);
            ProjectedSketch.Planned plan = ProjectedSketch.plan(ntk.memoryBudget(budget), KIND, 24, 0, EXAMPLE,
                    DType.F64);
            EmpiricalNtk plain = ntk.traceAxes(-1).diagonalAxes();
            assertThat(plan.chunk()).isBetween(2, 23);
            assertThat(plan.estimate().peakBytes()).isLessThanOrEqualTo(budget);
            assertThat(ProjectedSketch.estimate(plain, KIND, 24, 0, plan.chunk() + 1, EXAMPLE, DType.F64)
                    .peakBytes()).as("one example more per chunk").isGreaterThan(budget);
            assertThat(plan.estimate().note()).contains("over chunks of " + plan.chunk() + " examples");
        }
    }

    @Test
    void tooSmallABudgetIsRefusedNamingTheLeastThatSuffices() {
        try (Params p = MODEL.init(1, EXAMPLE, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 5, 24, 10)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p);
            long least = ProjectedSketch.estimate(ntk.traceAxes(-1).diagonalAxes(), KIND, 24, 0, 1, EXAMPLE,
                    DType.F64).peakBytes();
            assertThatThrownBy(() -> ntk.memoryBudget(least - 1).kernel(KIND, x, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("memory budget: " + CostModel.human(least - 1) + " is too small for the "
                            + "projected:8 kernel of 24 × 24 examples")
                    .hasMessageContaining("raise --memory to at least " + CostModel.humanAtLeast(least));
            try (Tensor k = ntk.memoryBudget(least).kernel(KIND, x, null)) {
                assertThat(k.shape()).containsExactly(24, 24);
            }
        }
    }

    /**
     * A tile's sketch holds its Jacobian rows and their example-major copy: the tile planner prices that (it priced
     * Jacobian contraction's one Jacobian of a tile with itself, half of it, when the run is one tile).
     */
    @Test
    void aSingleTilePlanCoversWhatItsTileHolds() {
        try (Params p = MODEL.init(1, EXAMPLE, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 5, 16, 10)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p);
            TilePlan plan = TilePlanner.of(ntk, KIND).plan(16, 0, EXAMPLE, DType.F64);
            assertThat(plan.tileCount()).isEqualTo(1);
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor k = new TiledKernel(ntk, plan, x, null).computeAll()) {
                long measured = Tensor.peakBytes() - before + p.count() * 8L + x.bytes();
                assertThat(measured).isLessThanOrEqualTo(plan.predictedPeakBytes());
                assertThat(k.shape()).containsExactly(16, 16);
            }
        }
    }
}
