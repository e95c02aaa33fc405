package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Tiles whose NTK-vector-product blocks do not fit the budget whole run each block over tiles of basis vectors
 * sized to what the budget leaves it ({@link TilePlan#blockBudgetBytes()}), as the untiled kernel does within its
 * budget: at a budget that refuses whole blocks, the plan fits, its kernel equals structured derivatives' (float64,
 * an independent method) and whole-block NTK-vector products' to rounding, its measured peak stays under the
 * budget, and the per-block budget (so the basis tiles), sized for as many blocks at once as the machine has cores,
 * is the same whatever the number of workers asked for.
 */
class TiledVectorProductsTest extends BlockBudgetChecks {
    /** The predicted peak of whole blocks of 16 examples (what the planner needed before basis tiles). */
    static long wholeBlocksNeed(EmpiricalNtk vp, int n2) {
        return wholeBlocksNeed(vp, KernelKind.full(), n2);
    }

    @ParameterizedTest(name = "x2 = x1: {0}")
    @ValueSource(booleans = {true, false})
    void blocksOverTheBudgetRunInTilesOfBasisVectorsAndAgree(boolean same) throws Exception {
        try (Params p = MODEL.init(4, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, N1, 12);
             Tensor x2 = same ? null : Tensor.randomNormal(DType.F64, 2, N2, 12)) {
            int n2 = same ? 0 : N2;
            EmpiricalNtk vp = EmpiricalNtk.of(MODEL, p).method(Method.NTK_VECTOR_PRODUCTS);
            long whole = wholeBlocksNeed(vp, n2);
            long budget = whole / 2;
            // whole blocks of 16 do not fit half their need ...
            assertThatThrownBy(() -> TilePlanner.of(vp, KernelKind.full()).budget(budget).blockBudget(Long.MAX_VALUE)
                    .tile(16).plan(N1, n2, IN, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs");
            // ... blocks in tiles of basis vectors do
            TilePlan plan = TilePlanner.of(vp, KernelKind.full()).budget(budget).tile(16).plan(N1, n2, IN, DType.F64);
            assertThat(plan.method()).isEqualTo(Method.NTK_VECTOR_PRODUCTS);
            assertThat(plan.tileCount()).isGreaterThan(1);
            assertThat(plan.blockBudgetBytes()).isLessThan(budget);
            assertThat(plan.predictedPeakBytes()).isLessThanOrEqualTo(budget);
            assertThat(plan.describe()).contains("each block in tiles of basis vectors within");
            CostModel block = vp.costModel(16, same ? 0 : 16, IN, DType.F64);
            assertThat(block.estimate(Method.NTK_VECTOR_PRODUCTS, plan.blockBudgetBytes()).note())
                    .contains("sized to the memory budget");

            // the caller's own budget does not matter: the blocks are sized to the plan's
            try (Tensor tiled = new TiledKernel(vp.memoryBudget(1L << 34), plan, x1, x2).computeAll();
                 Tensor sd = EmpiricalNtk.of(MODEL, p).method(Method.STRUCTURED_DERIVATIVES).memoryBudget(1L << 34)
                         .kernel(KernelKind.full(), x1, x2);
                 Tensor vpWhole = vp.memoryBudget(1L << 34).kernel(KernelKind.full(), x1, x2)) {
                assertAgrees(tiled, sd, "SD", vpWhole);
            }
        }
    }

    @Test
    void theMeasuredPeakOfARunStaysUnderTheBudget() throws Exception {
        measuredPeakStaysUnder(Method.NTK_VECTOR_PRODUCTS, 0.5);
    }

    /** Basis tiles sized for as many blocks at once as the machine has cores (6 tiles here): that many workers fit. */
    @Test
    void theBlockBudgetAndTheBitsDoNotDependOnTheWorkersAsked() {
        blockBudgetAndBitsIndependentOfWorkers(Method.NTK_VECTOR_PRODUCTS, 0.75, true);
    }

    /** The largest byte count {@link CostModel#human} prints as {@code text} ("1.3 MiB": 1.35 MiB). */
    static long atMost(String text) {
        String[] vu = text.trim().split(" ");
        int unit = java.util.List.of("B", "KiB", "MiB", "GiB", "TiB").indexOf(vu[1]);
        assertThat(unit).as("unit of %s", text).isGreaterThanOrEqualTo(0);
        return (long) ((Double.parseDouble(vu[0]) + (unit == 0 ? 0 : 0.05)) * Math.pow(1024, unit));
    }

    @Test
    void aFixedBlockBudgetIsKeptAndAnImpossibleOneRefused() {
        try (Params p = MODEL.init(4, IN, DType.F64)) {
            EmpiricalNtk vp = EmpiricalNtk.of(MODEL, p).method(Method.NTK_VECTOR_PRODUCTS);
            long budget = wholeBlocksNeed(vp, 0) / 2;
            TilePlan derived = TilePlanner.of(vp, KernelKind.full()).budget(budget).tile(16)
                    .plan(N1, 0, IN, DType.F64);
            // a resumed run with a larger budget keeps the recorded per-block budget
            TilePlan resumed = TilePlanner.of(vp, KernelKind.full()).budget(budget * 4)
                    .blockBudget(derived.blockBudgetBytes()).tile(16).plan(N1, 0, IN, DType.F64);
            assertThat(resumed.blockBudgetBytes()).isEqualTo(derived.blockBudgetBytes());
            // and the smallest need it names when nothing fits is that of one basis vector per step: enough
            long tiny = 1000;
            assertThatThrownBy(() -> TilePlanner.of(vp, KernelKind.full()).budget(tiny).tile(16)
                    .plan(N1, 0, IN, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("raise --memory to at least")
                    .satisfies(e -> {
                        String m = e.getMessage();
                        String need = m.substring(m.lastIndexOf("at least ") + "at least ".length());
                        TilePlan fits = TilePlanner.of(vp, KernelKind.full()).budget(atMost(need)).tile(16)
                                .plan(N1, 0, IN, DType.F64);
                        assertThat(fits.blockBudgetBytes()).isLessThan(Long.MAX_VALUE);
                    });
        }
    }
}
