package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * What tiled runs whose blocks are sized to a per-block budget ({@link TilePlan#blockBudgetBytes()}) must show,
 * whichever method's form within a budget they use (NTK-vector products over tiles of basis vectors, structured
 * derivatives over chunks of outputs): on one BLAS thread, as tiled runs compute (bits independent of the thread
 * count), the fcn of {@link #MODEL} on {@link #N1} examples of {@link #IN} in tiles of 16.
 */
abstract class BlockBudgetChecks {
    static final Model MODEL = Zoo.parse("fcn(depth=2,width=32,out=10)");
    static final int[] IN = {12};
    static final int N1 = 40;
    static final int N2 = 24;

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

    /** The predicted peak of whole blocks of 16 examples (what the planner needs without a per-block budget). */
    static long wholeBlocksNeed(EmpiricalNtk ntk, KernelKind kind, int n2) {
        return TilePlanner.of(ntk, kind).budget(1L << 40).blockBudget(Long.MAX_VALUE).tile(16)
                .plan(N1, n2, IN, DType.F64).predictedPeakBytes();
    }

    /**
     * The tiled kernel agrees with an independent method's and with the same method's whole blocks: float64, the
     * rounding of dot products of a few thousand terms; a wrong column or chunk is off by O(1).
     */
    static void assertAgrees(Tensor tiled, Tensor independent, String independentName, Tensor whole) {
        assertThat(TiledKernelTest.maxRelativeDifference(tiled, independent)).as("against " + independentName)
                .isLessThan(1e-12);
        assertThat(TiledKernelTest.maxRelativeDifference(tiled, whole)).as("against whole blocks").isLessThan(1e-12);
    }

    /**
     * A run of the plan for the given share of what whole blocks of 16 need (blocks sized to a per-block budget)
     * peaks under that budget.
     */
    static void measuredPeakStaysUnder(Method method, double shareOfWholeNeed) throws Exception {
        try (Params p = MODEL.init(4, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, N1, 12)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p).method(method);
            long budget = (long) (wholeBlocksNeed(ntk, KernelKind.full(), 0) * shareOfWholeNeed);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).budget(budget).tile(16)
                    .plan(N1, 0, IN, DType.F64);
            assertThat(plan.blockBudgetBytes()).isLessThan(Long.MAX_VALUE);
            TiledKernel tk = new TiledKernel(ntk, plan, x, null);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            tk.run(java.util.Set.of(), (t, k) -> { }, null);
            long measured = Tensor.peakBytes() - base + x.bytes();
            assertThat(measured).as("measured peak of %s", plan).isLessThanOrEqualTo(budget);
            assertThat(tk.tilesComputed()).isEqualTo(plan.tileCount());
        }
    }

    /**
     * Under the given share of what whole blocks of 16 need, plans for 1 and 3 workers asked get the same
     * per-block budget (sized for the machine's cores) and the kernel the same bits; with {@code allWorkersFit},
     * each plan runs as many workers as asked, up to the cores.
     */
    static void blockBudgetAndBitsIndependentOfWorkers(Method method, double shareOfWholeNeed,
                                                       boolean allWorkersFit) {
        try (Params p = MODEL.init(4, IN, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 1, N1, 12)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(MODEL, p).method(method);
            long budget = (long) (wholeBlocksNeed(ntk, KernelKind.full(), 0) * shareOfWholeNeed);
            double[] first = null;
            long firstBudget = 0;
            for (int w : new int[] {1, 3}) {
                TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).budget(budget).tile(16).workers(w)
                        .plan(N1, 0, IN, DType.F64);
                assertThat(plan.predictedPeakBytes()).isLessThanOrEqualTo(budget);
                if (allWorkersFit) {
                    assertThat(plan.workers()).isEqualTo(Math.min(w, Runtime.getRuntime().availableProcessors()));
                }
                try (Tensor k = new TiledKernel(ntk, plan, x, null).computeAll()) {
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
}
