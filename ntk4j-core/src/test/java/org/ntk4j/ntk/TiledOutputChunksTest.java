package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Tiles whose structured-derivative blocks do not fit the budget whole run each block over chunks of outputs sized
 * to what the budget leaves it ({@link TilePlan#blockBudgetBytes()}), as the untiled kernel does within its budget
 * ({@link OutputChunks}): at a budget that refuses whole blocks, the plan fits, its kernel (full, traced, diagonal)
 * equals Jacobian contraction's (float64, an independent method) and whole structured derivatives' to rounding, its
 * measured peak stays under the budget, and the per-block budget and the bits do not depend on the workers asked.
 */
class TiledOutputChunksTest extends BlockBudgetChecks {
    @ParameterizedTest(name = "kind {0}, x2 = x1: {1}")
    @CsvSource({"full, true", "full, false", "trace, true", "trace, false", "diagonal, true", "diagonal, false"})
    void blocksOverTheBudgetRunInOutputChunksAndAgree(String kindName, boolean same) {
        KernelKind kind = KernelKind.parse(kindName, 0);
        try (Params p = MODEL.init(4, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, N1, 12);
             Tensor x2 = same ? null : Tensor.randomNormal(DType.F64, 2, N2, 12)) {
            int n2 = same ? 0 : N2;
            EmpiricalNtk sd = EmpiricalNtk.of(MODEL, p).method(Method.STRUCTURED_DERIVATIVES);
            long budget = wholeBlocksNeed(sd, kind, n2) * 2 / 3;
            // whole blocks of 16 do not fit two thirds of their need ...
            assertThatThrownBy(() -> TilePlanner.of(sd, kind).budget(budget).blockBudget(Long.MAX_VALUE)
                    .tile(16).plan(N1, n2, IN, DType.F64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs");
            // ... blocks in chunks of outputs do
            TilePlan plan = TilePlanner.of(sd, kind).budget(budget).tile(16).plan(N1, n2, IN, DType.F64);
            assertThat(plan.method()).isEqualTo(Method.STRUCTURED_DERIVATIVES);
            assertThat(plan.tileCount()).isGreaterThan(1);
            assertThat(plan.blockBudgetBytes()).isLessThan(budget);
            assertThat(plan.predictedPeakBytes()).isLessThanOrEqualTo(budget);
            assertThat(plan.describe()).contains("each block in chunks of outputs within");
            // a block of two tiles (every run of more than one tile has them; a tile with itself, one pass of half
            // the memory, may fit whole)
            CostModel block = sd.forKind(kind, IN).costModel(16, 16, IN, DType.F64);
            assertThat(block.estimate(Method.STRUCTURED_DERIVATIVES, plan.blockBudgetBytes()).outputChunk())
                    .isBetween(1, 9);

            // the caller's own budget does not matter: the blocks are sized to the plan's
            try (Tensor tiled = new TiledKernel(sd.memoryBudget(1L << 34), plan, x1, x2).computeAll();
                 Tensor jc = EmpiricalNtk.of(MODEL, p).method(Method.JACOBIAN_CONTRACTION).memoryBudget(1L << 34)
                         .kernel(kind, x1, x2);
                 Tensor sdWhole = sd.memoryBudget(1L << 34).kernel(kind, x1, x2)) {
                assertAgrees(tiled, jc, "JC", sdWhole);
            }
        }
    }

    @Test
    void theMeasuredPeakOfARunStaysUnderTheBudget() throws Exception {
        measuredPeakStaysUnder(Method.STRUCTURED_DERIVATIVES, 2.0 / 3);
    }

    @Test
    void theBlockBudgetAndTheBitsDoNotDependOnTheWorkersAsked() {
        blockBudgetAndBitsIndependentOfWorkers(Method.STRUCTURED_DERIVATIVES, 0.75, false);
    }

    /**
     * Where the smallest tiles' blocks fit whole, the planner takes the largest tiles whose blocks run whole, not
     * larger tiles in chunks (which repeat passes: 10.2 s against 3.7 s on a 600-example fcn); a --tile given runs in
     * chunks if it must.
     */
    @Test
    void wholeBlocksOfSmallerTilesArePreferredToLargerTilesInChunks() {
        try (Params p = MODEL.init(4, IN, DType.F64)) {
            EmpiricalNtk sd = EmpiricalNtk.of(MODEL, p).method(Method.STRUCTURED_DERIVATIVES);
            int n = 400;
            long whole16 = TilePlanner.of(sd, KernelKind.full()).budget(1L << 40).blockBudget(Long.MAX_VALUE)
                    .tile(16).workers(1).plan(n, 0, IN, DType.F64).predictedPeakBytes();
            long whole32 = TilePlanner.of(sd, KernelKind.full()).budget(1L << 40).blockBudget(Long.MAX_VALUE)
                    .tile(32).workers(1).plan(n, 0, IN, DType.F64).predictedPeakBytes();
            assertThat(whole32).isGreaterThan(whole16);
            long budget = (whole16 + whole32) / 2;
            TilePlan chosen = TilePlanner.of(sd, KernelKind.full()).budget(budget).plan(n, 0, IN, DType.F64);
            assertThat(chosen.rowTile()).isEqualTo(16);
            assertThat(chosen.blockBudgetBytes()).isEqualTo(Long.MAX_VALUE);
            TilePlan given = TilePlanner.of(sd, KernelKind.full()).budget(budget).tile(32).plan(n, 0, IN, DType.F64);
            assertThat(given.rowTile()).isEqualTo(32);
            assertThat(given.blockBudgetBytes()).isLessThan(budget);
            assertThat(given.predictedPeakBytes()).isLessThanOrEqualTo(budget);
        }
    }

    /**
     * With x2 given no tile meets itself: each tile holds its pass by the blocks it takes part in. 200 examples
     * against one, tiles of 16, 118 KiB: a row tile's block with itself fits no output chunk of the per-block budget
     * (whole, 138 KiB), the planner prices the 16 × 1 blocks in chunks (66.5 KiB), and before 2026-12-07 the row tile
     * held its pass by that block with itself, so the blocks ran whole (120 KiB) and the run peaked at 158 KiB of
     * its 118 KiB. Now its tiles hold no pass, the blocks run in chunks, within the plan's prediction, and agree
     * with Jacobian contraction.
     */
    @Test
    void tilesOfARunWithAnX2HoldTheirPassesByTheBlocksTheyTakePartIn() {
        org.ntk4j.nn.Model model = org.ntk4j.nn.Zoo.parse("fcn(depth=2,width=64,out=5)");
        int[] in = {48};
        try (Params p = model.init(0, in, DType.F32);
             Tensor x1 = Tensor.randomNormal(DType.F32, 1, 200, 48);
             Tensor x2 = Tensor.randomNormal(DType.F32, 2, 1, 48)) {
            long budget = 118 << 10;
            EmpiricalNtk ntk = EmpiricalNtk.of(model, p).memoryBudget(budget);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).budget(budget).workers(1).tile(16)
                    .plan(200, 1, in, DType.F32);
            assertThat(plan.method()).isEqualTo(Method.STRUCTURED_DERIVATIVES);
            EmpiricalNtk sd = ntk.method(Method.STRUCTURED_DERIVATIVES).forKind(KernelKind.trace(), in);
            long blockBudget = plan.blockBudgetBytes();
            assertThat(sd.costModel(16, 0, in, DType.F32).estimate(Method.STRUCTURED_DERIVATIVES, blockBudget)
                    .outputChunk()).as("16 with itself: no chunk fits, whole").isZero();
            assertThat(sd.costModel(16, 1, in, DType.F32).estimate(Method.STRUCTURED_DERIVATIVES, blockBudget)
                    .outputChunk()).as("16 × 1: in chunks").isPositive();
            long inputs = x1.bytes() + x2.bytes();
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor tiled = new TiledKernel(ntk, plan, x1, x2).computeAll()) {
                long held = Tensor.peakBytes() - before;
                assertThat(held).as("the run's tensors beyond the inputs and parameters")
                        .isLessThanOrEqualTo(plan.predictedPeakBytes() - inputs);
                try (Tensor jc = EmpiricalNtk.of(model, p).method(Method.JACOBIAN_CONTRACTION)
                        .kernel(KernelKind.trace(), x1, x2)) {
                    assertThat(TiledKernelTest.maxRelativeDifference(tiled, jc)).isLessThan(1e-5);
                }
            }
        }
    }

    /**
     * A tile whose block with itself needs output chunks holds no pass; against a narrow tile whose block with it
     * fits whole, the block runs whole with the passes made for it (and agrees with Jacobian contraction).
     */
    @Test
    void aBlockThatFitsWholeBesideAChunkedTileRunsWhole() {
        try (Params p = MODEL.init(4, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, N1, 12)) {
            EmpiricalNtk sd = EmpiricalNtk.of(MODEL, p).method(Method.STRUCTURED_DERIVATIVES).traceAxes();
            long wide = sd.costModel(32, 0, IN, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
            long narrow = sd.costModel(32, 2, IN, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
            assertThat(narrow).as("32 × 2 whole needs less than 32 × 32").isLessThan(wide);
            long budget = (wide + narrow) / 2;
            EmpiricalNtk tiles = sd.memoryBudget(budget).forTiles(KernelKind.full(), N1, 0, IN, DType.F64);
            assertThat(sd.costModel(32, 0, IN, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES, budget)
                    .outputChunk()).as("32 with itself: chunks").isPositive();
            try (Tensor rows = Layout.sliceAxis(x, 0, 0, 32);
                 Tensor columns = Layout.sliceAxis(x, 0, 32, 34);
                 Tensor first34 = Layout.sliceAxis(x, 0, 0, 34);
                 PreparedTile r = tiles.prepare(rows);
                 PreparedTile c = tiles.prepare(columns);
                 Tensor block = tiles.kernel(r, c);
                 Tensor diagonal = tiles.kernel(r, r);
                 Tensor all = EmpiricalNtk.of(MODEL, p).method(Method.JACOBIAN_CONTRACTION).traceAxes()
                         .memoryBudget(1L << 34).ntk(first34, null)) {
                assertThat(r.bytes()).as("the chunked tile holds no pass").isZero();
                assertThat(c.bytes()).as("the narrow tile's own block fits whole: its pass").isPositive();
                try (Tensor expectedBlock = Layout.sliceAxis(Layout.sliceAxis(all, 0, 0, 32), 1, 32, 34);
                     Tensor expectedDiagonal = Layout.sliceAxis(Layout.sliceAxis(all, 0, 0, 32), 1, 0, 32)) {
                    assertThat(TiledKernelTest.maxRelativeDifference(block, expectedBlock)).isLessThan(1e-12);
                    assertThat(TiledKernelTest.maxRelativeDifference(diagonal, expectedDiagonal)).isLessThan(1e-12);
                }
            }
        }
    }
}
