package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
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
class TiledVectorProductsTest {
    private static int blasThreads;

    @BeforeAll
    static void oneBlasThread() {
        blasThreads = org.ntk4j.cpu.Blas.threads();
        org.ntk4j.cpu.Blas.setThreads(1); // as tiled runs do (TiledKernelRun): bits independent of the thread count
    }

    @AfterAll
    static void restoreBlasThreads() {
        org.ntk4j.cpu.Blas.setThreads(blasThreads);
    }

    static final Model MODEL = Zoo.parse("fcn(depth=2,width=32,out=10)");
    static final int[] IN = {12};
    static final int N1 = 40;
    static final int N2 = 24;

    /** The predicted peak of whole blocks of 16 examples (what the planner needed before basis tiles). */
    static long wholeBlocksNeed(EmpiricalNtk vp, int n2) {
        return TilePlanner.of(vp, KernelKind.full()).budget(1L << 40).blockBudget(Long.MAX_VALUE).tile(16)
                .plan(N1, n2, IN, DType.F64).predictedPeakBytes();
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
                // float64: the rounding of dot products of a few thousand terms; a wrong column is off by O(1)
                assertThat(TiledKernelTest.maxRelativeDifference(tiled, sd)).as("against SD").isLessThan(1e-12);
                assertThat(TiledKernelTest.maxRelativeDifference(tiled, vpWhole)).as("against whole VP")
                        .isLessThan(1e-12);
            }
        }
    }

    @Test
    void theMeasuredPeakOfARunStaysUnderTheBudget() throws Exception {
        try (Params p = MODEL.init(4, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, N1, 12)) {
            EmpiricalNtk vp = EmpiricalNtk.of(MODEL, p).method(Method.NTK_VECTOR_PRODUCTS);
            long budget = wholeBlocksNeed(vp, 0) / 2;
            TilePlan plan = TilePlanner.of(vp, KernelKind.full()).budget(budget).tile(16).plan(N1, 0, IN, DType.F64);
            assertThat(plan.blockBudgetBytes()).isLessThan(Long.MAX_VALUE);
            TiledKernel tk = new TiledKernel(vp, plan, x, null);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            tk.run(java.util.Set.of(), (t, k) -> { }, null);
            long measured = Tensor.peakBytes() - base + x.bytes();
            assertThat(measured).as("measured peak of %s", plan).isLessThanOrEqualTo(budget);
            assertThat(tk.tilesComputed()).isEqualTo(plan.tileCount());
        }
    }

    @Test
    void theBlockBudgetAndTheBitsDoNotDependOnTheWorkersAsked() {
        try (Params p = MODEL.init(4, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, N1, 12)) {
            EmpiricalNtk vp = EmpiricalNtk.of(MODEL, p).method(Method.NTK_VECTOR_PRODUCTS);
            // not enough for a whole block: basis tiles
            long budget = wholeBlocksNeed(vp, 0) * 3 / 4;
            double[] first = null;
            long firstBudget = 0;
            for (int w : new int[] {1, 3}) {
                TilePlan plan = TilePlanner.of(vp, KernelKind.full()).budget(budget).tile(16).workers(w)
                        .plan(N1, 0, IN, DType.F64);
                assertThat(plan.predictedPeakBytes()).isLessThanOrEqualTo(budget);
                // blocks sized for as many at once as the machine has cores (6 tiles here): that many workers fit
                assertThat(plan.workers()).isEqualTo(Math.min(w, Runtime.getRuntime().availableProcessors()));
                try (Tensor k = new TiledKernel(vp, plan, x, null).computeAll()) {
                    if (first == null) {
                        first = k.toDoubleArray();
                        firstBudget = plan.blockBudgetBytes();
                        assertThat(firstBudget).isLessThan(Long.MAX_VALUE);
                    } else {
                        assertThat(plan.blockBudgetBytes()).isEqualTo(firstBudget);
                        org.ntk4j.Fixtures.assertSameElements(w + " workers", k.toDoubleArray(), first);
                    }
                }
            }
        }
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
