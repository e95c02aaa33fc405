package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The memory budget binds an explicit method as it binds AUTO (before 2026-12-07 it was AUTO's alone, and an
 * explicit method ran above it): structured derivatives run in output chunks and NTK-vector products in tiles of
 * basis vectors within it, giving the unbounded kernel (float64, within 1e-12 of its largest entry) with a measured
 * peak within the budget; a method that fits it in no steps — Jacobian contraction, which has none, or any method
 * below its least — is refused before any work, naming the least budget, which then runs. The tile planner's tiles
 * fit the budget too where a smaller tile needs more than a larger one.
 */
class ExplicitMethodBudgetTest {
    private static final Model MODEL = Zoo.parse("fcn(depth=2,width=32,out=6)");
    private static final int[] IN = {12};
    private static final int N = 10;
    /** The factor by which a measured peak may exceed the prediction ({@link MemoryBudgetProperties}). */
    private static final double SLACK = 1.05;

    @Test
    void anExplicitMethodOverTheBudgetRunsInItsStepsWithinIt() {
        try (Params p = MODEL.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(N, IN));
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(N - 3, IN))) {
            for (KernelKind kind : new KernelKind[] {KernelKind.full(), KernelKind.trace()}) {
                for (Method m : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.NTK_VECTOR_PRODUCTS}) {
                    for (Tensor second : new Tensor[] {null, x2}) {
                        int n2 = second == null ? 0 : second.dim(0);
                        String what = kind + ", " + m.shortName() + ", x2 " + (second == null ? "= x1" : "given");
                        EmpiricalNtk unbounded = EmpiricalNtk.of(MODEL, p).forKind(kind, IN).method(m)
                                .memoryBudget(Long.MAX_VALUE);
                        CostModel c = unbounded.costModel(N, n2, IN, DType.F64);
                        long whole = c.estimate(m).peakBytes();
                        long least = c.leastPeakBytes(m);
                        assertThat(least).as(what).isLessThan(whole);
                        long budget = least + (whole - least) / 3;
                        EmpiricalNtk bounded = unbounded.memoryBudget(budget);
                        CostModel.Estimate planned = bounded.plannedEstimate(N, n2, IN, DType.F64);
                        assertThat(planned.peakBytes()).as(what).isLessThanOrEqualTo(budget);
                        if (m == Method.STRUCTURED_DERIVATIVES) {
                            assertThat(planned.outputChunk()).as(what + ": in output chunks").isPositive();
                        } else {
                            assertThat(planned.note()).as(what).contains("sized to the memory budget");
                        }
                        long measured = PredictedPeakTest.measuredPeakBytes(bounded, p, x1, second);
                        assertThat(measured).as(what + ": measured peak, budget " + budget).isLessThanOrEqualTo(budget);
                        try (Tensor expected = unbounded.ntk(x1, second); Tensor k = bounded.ntk(x1, second)) {
                            assertEqualToRounding(what, k, expected);
                        }
                    }
                }
            }
        }
    }

    @Test
    void jacobianContractionOverTheBudgetIsRefusedNamingItsLeastWhichRuns() {
        try (Params p = MODEL.init(3, IN, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(N, IN))) {
            EmpiricalNtk jc = EmpiricalNtk.of(MODEL, p).method(Method.JACOBIAN_CONTRACTION);
            CostModel c = jc.costModel(N, 0, IN, DType.F64);
            long least = c.leastPeakBytes(Method.JACOBIAN_CONTRACTION);
            // Jacobian contraction has no smaller steps: its whole peak is its least
            assertThat(least).isEqualTo(c.estimate(Method.JACOBIAN_CONTRACTION).peakBytes());
            // AUTO fits below it (structured derivatives)
            assertThat(c.leastPeakBytes()).isLessThan(least);
            long budget = least - 1;
            long live = Tensor.liveBytes();
            long flops = FlopCount.total();
            assertThatThrownBy(() -> jc.memoryBudget(budget).ntk(x, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("memory budget: method jc needs at least " + CostModel.humanAtLeast(least)
                            + " for these shapes, above the budget of " + CostModel.human(budget)
                            + ": raise --memory to at least " + CostModel.humanAtLeast(least)
                            + ", or let AUTO choose (--method auto), which fits this budget, or compute it in tiles "
                            + "with --out, which may fit");
            assertThat(Tensor.liveBytes()).as("nothing allocated by the refusal").isEqualTo(live);
            // without a budget given, an explicit method is bound by the off-heap limit, which its refusal names
            assertThatThrownBy(() -> c.planned(Method.JACOBIAN_CONTRACTION, budget, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("memory budget: method jc needs at least " + CostModel.humanAtLeast(least)
                            + " for these shapes, above this JVM's off-heap limit of " + CostModel.human(budget)
                            + " (no --memory given): raise -Xmx or -Dorg.bytedeco.javacpp.maxBytes (NTK4J_JAVA_OPTS)");
            assertThat(FlopCount.total()).as("no work before the refusal").isEqualTo(flops);
            long shown = bytesOf(CostModel.humanAtLeast(least));
            EmpiricalNtk atShown = jc.memoryBudget(shown);
            long measured = PredictedPeakTest.measuredPeakBytes(atShown, p, x, null);
            assertThat((double) measured).as("measured peak at the least budget shown, %d", shown)
                    .isLessThanOrEqualTo(SLACK * shown);
            try (Tensor expected = jc.memoryBudget(Long.MAX_VALUE).ntk(x, null); Tensor k = atShown.ntk(x, null)) {
                assertEqualToRounding("jc at its least budget", k, expected);
            }
        }
    }

    /**
     * The kernels of each example with itself (a diagonal batch axis) by an explicit method: its least is that of
     * chunks of one example beside the whole kernel, the refusal names it (and no tiles, which need both example
     * axes), and a budget of that figure runs in example chunks.
     */
    @Test
    void aKernelOfEachExampleByAnExplicitMethodNamesTheLeastOfItsChunks() {
        try (Params p = MODEL.init(3, IN, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 4, Shapes.prepend(N, IN))) {
            EmpiricalNtk jc = EmpiricalNtk.of(MODEL, p).traceAxes().diagonalAxes(0)
                    .method(Method.JACOBIAN_CONTRACTION);
            CostModel c = jc.costModel(N, 0, IN, DType.F64);
            long least = c.leastPeakBytes(Method.JACOBIAN_CONTRACTION);
            assertThat(least).isLessThan(c.estimate(Method.JACOBIAN_CONTRACTION).peakBytes());
            assertThatThrownBy(() -> jc.memoryBudget(least - 1).ntk(x, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("method jc needs at least " + CostModel.humanAtLeast(least))
                    .message().doesNotContain("--out");
            EmpiricalNtk atShown = jc.memoryBudget(bytesOf(CostModel.humanAtLeast(least)));
            assertThat(atShown.plannedEstimate(N, 0, IN, DType.F64).note()).contains("chunks of 1 examples");
            try (Tensor expected = jc.memoryBudget(Long.MAX_VALUE).ntk(x, null); Tensor k = atShown.ntk(x, null)) {
                assertEqualToRounding("each example, jc in chunks", k, expected);
            }
        }
    }

    /**
     * The planner's tiles fit the budget where the peak falls as the tile grows (64 examples of a 3072-wide dense
     * layer read their weight through a transposed copy that 80 do not, so tiles of 64 need more than tiles of 80):
     * the tiles balanced for the machine's cores, below the largest that fit, did not always fit themselves, and on
     * two cores a plan of NTK-vector products under 30 MiB was accepted with a predicted peak of 2.8 GiB. Every plan
     * over a range of budgets now predicts a peak within its budget (shapes only: nothing runs).
     */
    @Test
    void theTilesChosenFitTheBudgetWhereASmallerTileNeedsMore() {
        Model m = Zoo.parse("fcn(depth=2,width=512)");
        int[] in = {3072};
        try (Params zeros = Params.zeros(m.paramSpecs(in), DType.F32)) {
            // {method, budget in MiB}: on two cores, vp's tiles balanced to 64 examples did not fit 28 to 32 MiB
            for (long[] methodAndBudget : new long[][] {{0, 28}, {0, 30}, {0, 32}, {0, 36}, {1, 30}}) {
                Method method = methodAndBudget[0] == 0 ? Method.NTK_VECTOR_PRODUCTS : Method.AUTO;
                long mib = methodAndBudget[1];
                long budget = mib << 20;
                TilePlan plan = TilePlanner.of(EmpiricalNtk.of(m, zeros).method(method).memoryBudget(budget),
                        KernelKind.trace()).plan(256, 0, in, DType.F32);
                assertThat(plan.predictedPeakBytes()).as("%s within %d MiB: %d × %d tiles", method.shortName(), mib,
                        plan.rowTile(), plan.columnTile()).isLessThanOrEqualTo(budget);
            }
        }
    }

    private static void assertEqualToRounding(String what, Tensor k, Tensor expected) {
        assertThat(k.shape()).as(what).isEqualTo(expected.shape());
        double scale = 0;
        for (int i = 0; i < expected.size(); i++) {
            scale = Math.max(scale, Math.abs(expected.getFlat(i)));
        }
        assertThat(scale).as(what).isPositive();
        for (int i = 0; i < expected.size(); i++) {
            assertThat(k.getFlat(i)).as(what + " at " + i).isCloseTo(expected.getFlat(i), Offset.offset(1e-12 * scale));
        }
    }

    /** The bytes of a figure of {@link CostModel#humanAtLeast} ("12.5 KiB"), as {@code --memory 12.5k} reads it. */
    private static long bytesOf(String figure) {
        String[] parts = figure.split(" ");
        int unit = java.util.List.of("B", "KiB", "MiB", "GiB", "TiB").indexOf(parts[1]);
        return new java.math.BigDecimal(parts[0]).multiply(java.math.BigDecimal.valueOf(1L << (10 * unit)))
                .setScale(0, java.math.RoundingMode.FLOOR).longValueExact();
    }
}
