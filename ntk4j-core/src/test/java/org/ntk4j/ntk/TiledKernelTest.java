package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Tiled kernels equal the untiled kernel to rounding (float64), for every kind, method and tile size, including
 * sizes that do not divide N, and bit for bit whatever the number of workers; a kernel of x1 with itself is exactly
 * symmetric; the planner keeps the predicted peak under the budget and refuses what cannot fit.
 */
class TiledKernelTest {
    private static int blasThreads;

    /**
     * OpenBLAS splits one GEMM over its threads by the GEMM's size, so with several BLAS threads a row's bits
     * may depend on the whole matrix; tiled runs give BLAS one thread per tile (see TilePlanner), and the
     * untiled reference is computed the same way.
     */
    @org.junit.jupiter.api.BeforeAll
    static void oneBlasThread() {
        blasThreads = org.ntk4j.cpu.Blas.threads();
        org.ntk4j.cpu.Blas.setThreads(1);
    }

    @org.junit.jupiter.api.AfterAll
    static void restoreBlasThreads() {
        org.ntk4j.cpu.Blas.setThreads(blasThreads);
    }

    static final int N1 = 37;
    static final int N2 = 21;
    static final String[] KINDS = {"full", "trace", "diagonal", "pntk", "pntk-unscaled", "logit:1", "probes:2",
        "projected:16"};

    static Stream<Object[]> cases() {
        Stream.Builder<Object[]> b = Stream.builder();
        // fcn: dense structured parameters; cnn: conv filters (SD's sandwich/Gram orders), biases by rows
        for (String model : new String[] {"fcn(depth=2,width=12,out=3)|10", "cnn(depth=1,channels=3,out=3)|4,4,1"}) {
            for (String kind : KINDS) {
                for (Method m : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
                    Method.NTK_VECTOR_PRODUCTS}) {
                    if (kind.startsWith("projected") && m != Method.JACOBIAN_CONTRACTION) {
                        continue; // its sketch runs on Jacobian rows whatever the method
                    }
                    b.add(new Object[] {model, kind, m});
                }
            }
        }
        return b.build();
    }

    static Model model(String spec) {
        return Zoo.parse(spec.substring(0, spec.indexOf('|')));
    }

    static int[] input(String spec) {
        return java.util.Arrays.stream(spec.substring(spec.indexOf('|') + 1).split(","))
                .mapToInt(Integer::parseInt).toArray();
    }

    /**
     * Tiled against untiled, float64: max |Δ| over max |K|. The rounding bound of a dot product of P terms is
     * P·ε·‖J_a‖‖J_b‖ ≤ P·ε·max|K| (a kernel's entries are bounded by its diagonal); P is at most a few hundred
     * here, so 1e-13 holds on every CPU, while a wrong tile (a wrong offset, a missing term) is off by O(1).
     */
    static final double TILED_TOLERANCE = 1e-13;

    static double maxRelativeDifference(Tensor a, Tensor b) {
        assertThat(a.shape()).isEqualTo(b.shape());
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.size(); i++) {
            diff = Math.max(diff, Math.abs(a.getFlat(i) - b.getFlat(i)));
            scale = Math.max(scale, Math.abs(b.getFlat(i)));
        }
        return diff / Math.max(scale, Double.MIN_NORMAL);
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void tiledEqualsUntiledToRounding(String spec, String kindText, Method method) {
        Model m = model(spec);
        int[] in = input(spec);
        KernelKind kind = KernelKind.parse(kindText, 3);
        try (Params p = m.init(5, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(N1, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(N2, in))) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method).memoryBudget(1L << 34);
            for (Tensor second : new Tensor[] {null, x2}) {
                try (Tensor whole = ntk.kernel(kind, x1, second)) {
                    // tiles of 16 (37 = 16 + 16 + 5; 21 = 16 + 5) and 32 (37 = 32 + 5): sizes that do not divide N
                    for (int t : new int[] {16, 32}) {
                        TilePlan plan = TilePlanner.of(ntk, kind).tile(t).plan(N1, second == null ? 0 : N2, in,
                                DType.F64);
                        assertThat(plan.method()).isEqualTo(method);
                        assertThat(plan.rowTile()).isEqualTo(t);
                        assertThat(plan.tileCount()).isGreaterThan(1);
                        try (Tensor tiled = new TiledKernel(ntk, plan, x1, second).computeAll()) {
                            assertThat(tiled.shape()).containsExactly(whole.shape());
                            String what = String.format("%s %s %s x2 %s, tiles of %d", spec, kind, method,
                                    second == null ? "= x1" : "given", t);
                            // agreement to rounding, on every CPU: a tile's GEMMs have other shapes than the whole
                            // kernel's, and OpenBLAS's kernels for some CPUs (SkylakeX, Cooperlake) round an entry
                            // differently by the matrix's size (docs/big-kernels.md, "What is guaranteed")
                            assertThat(maxRelativeDifference(tiled, whole)).as(what).isLessThan(TILED_TOLERANCE);
                        }
                    }
                }
            }
        }
    }

    /** Exactly, by construction (the upper triangle mirrored), whatever BLAS kernel computed it. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("symmetryCases")
    void kernelOfX1WithItselfIsExactlySymmetric(Method method, DType dtype) {
        Model m = Zoo.parse("cnn(depth=2,channels=3,out=3)");
        int[] in = {5, 5, 2};
        try (Params p = m.init(1, in, dtype); Tensor x = Tensor.randomNormal(dtype, 4, Shapes.prepend(6, in));
             Tensor k = EmpiricalNtk.of(m, p).method(method).traceAxes().ntk(x, null)) {
            for (int a = 0; a < 6; a++) {
                for (int b = 0; b < 6; b++) {
                    for (int o1 = 0; o1 < 3; o1++) {
                        for (int o2 = 0; o2 < 3; o2++) {
                            assertThat(k.get(a, b, o1, o2)).as("K[%d, %d, %d, %d]", a, b, o1, o2)
                                    .isEqualTo(k.get(b, a, o2, o1));
                        }
                    }
                }
            }
        }
    }

    static Stream<Object[]> symmetryCases() {
        Stream.Builder<Object[]> b = Stream.builder();
        for (Method m : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
            Method.NTK_VECTOR_PRODUCTS}) {
            for (DType d : new DType[] {DType.F32, DType.F64}) {
                b.add(new Object[] {m, d});
            }
        }
        return b.build();
    }

    @Test
    void symmetricPlansComputeOnlyTheUpperTriangle() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=2)");
        try (Params p = m.init(1, new int[] {4}, DType.F64)) {
            TilePlan plan = TilePlanner.of(EmpiricalNtk.of(m, p).memoryBudget(1L << 30), KernelKind.trace()).tile(3)
                    .plan(50, 0, new int[] {4}, DType.F64);
            assertThat(plan.rowBounds()).as("3 rounded up to 16").containsExactly(0, 16, 32, 48, 50);
            assertThat(plan.tileCount()).isEqualTo(10); // 4·5/2
            List<String> ij = new ArrayList<>();
            for (TilePlan.Tile t : plan.tiles()) {
                assertThat(t.column()).isGreaterThanOrEqualTo(t.row());
                assertThat(t.mirrored()).isEqualTo(t.column() > t.row());
                ij.add(t.row() + "," + t.column());
            }
            assertThat(ij).startsWith("0,0", "0,1", "0,2", "0,3", "1,1");
            TilePlan rect = TilePlanner.of(EmpiricalNtk.of(m, p).memoryBudget(1L << 30), KernelKind.trace()).tile(32)
                    .plan(70, 40, new int[] {4}, DType.F64);
            assertThat(rect.tileCount()).isEqualTo(3 * 2);
            assertThat(rect.columnBounds()).containsExactly(0, 32, 40);
        }
    }

    /** Bit for bit on every CPU: each tile is the same sequence of calls, on one BLAS thread, whoever runs it. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(value = Method.class, names = {"STRUCTURED_DERIVATIVES",
        "JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS"})
    void resultsDoNotDependOnTheNumberOfWorkers(Method method) {
        Model m = Zoo.parse("fcn(depth=2,width=16,out=4)");
        int[] in = {6};
        try (Params p = m.init(2, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 50, 6)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method).memoryBudget(1L << 30);
            double[] first = null;
            for (int w : new int[] {1, 2, 4}) {
                TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).tile(16).workers(w).plan(50, 0, in, DType.F64);
                assertThat(plan.workers()).isEqualTo(w);
                try (Tensor k = new TiledKernel(ntk, plan, x, null).computeAll()) {
                    if (first == null) {
                        first = k.toDoubleArray();
                    } else {
                        org.ntk4j.Fixtures.assertSameElements(w + " workers", k.toDoubleArray(), first);
                    }
                }
            }
        }
    }

    /**
     * A plan for fewer workers (a Spark task's: one) keeps the tiles, the method, the per-block budget and the BLAS
     * threads, so the bits; its predicted peak is the inputs plus one block per worker; its budget alone decides
     * whether the run keeps its cache of prepared tiles.
     */
    @Test
    void aPlanForOneWorkerHasTheSameTilesAndBitsAndItsOwnPeakAndBudget() {
        Model m = Zoo.parse("fcn(depth=2,width=16,out=4)");
        int[] in = {6};
        try (Params p = m.init(2, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 50, 6)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).memoryBudget(1L << 30);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).tile(16).workers(4).plan(50, 0, in, DType.F64);
            assertThat(plan.workers()).isEqualTo(4);
            assertThat(plan.inputBytes()).isEqualTo(x.bytes());
            long perWorker = (plan.predictedPeakBytes() - plan.inputBytes()) / 4;
            assertThat(perWorker).isPositive();
            TilePlan one = plan.withWorkers(1, perWorker + plan.inputBytes());
            assertThat(one.workers()).isEqualTo(1);
            assertThat(one.predictedPeakBytes()).isEqualTo(plan.inputBytes() + perWorker);
            assertThat(one.budgetBytes()).isEqualTo(one.predictedPeakBytes());
            assertThat(one.rowBounds()).isEqualTo(plan.rowBounds());
            assertThat(one.tileCount()).isEqualTo(plan.tileCount());
            assertThat(one.method()).isEqualTo(plan.method());
            assertThat(one.blasThreads()).isEqualTo(plan.blasThreads());
            assertThat(one.blockBudgetBytes()).isEqualTo(plan.blockBudgetBytes());
            TiledKernel tight = new TiledKernel(ntk, one, x, null);
            TiledKernel roomy = new TiledKernel(ntk, plan.withWorkers(1, 1L << 30), x, null);
            try (Tensor a = new TiledKernel(ntk, plan, x, null).computeAll(); Tensor b = tight.computeAll();
                 Tensor c = roomy.computeAll()) {
                org.ntk4j.Fixtures.assertSameElements("one worker, no cache", b.toDoubleArray(), a.toDoubleArray());
                org.ntk4j.Fixtures.assertSameElements("one worker, cache", c.toDoubleArray(), a.toDoubleArray());
            }
            assertThat(tight.preparedCacheBytes()).as("no room beside the peak: no cache").isZero();
            assertThat(roomy.preparedCacheBytes()).as("room: a cache").isPositive();
            assertThatThrownBy(() -> plan.withWorkers(0, 1L << 20)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void plannerFitsTheBudgetAndTheMeasuredPeakStaysUnderIt() {
        Model m = Zoo.parse("fcn(depth=2,width=32,out=10)");
        int[] in = {32};
        int n = 160;
        try (Params p = m.init(2, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 3, n, 32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            long untiled = TilePlanner.of(ntk.memoryBudget(1L << 40), KernelKind.full()).plan(n, 0, in, DType.F32)
                    .predictedPeakBytes();
            long budget = untiled / 4;
            TilePlan plan = TilePlanner.of(ntk, KernelKind.full()).budget(budget).plan(n, 0, in, DType.F32);
            assertThat(plan.tileCount()).isGreaterThan(1);
            assertThat(plan.predictedPeakBytes()).isLessThanOrEqualTo(budget);
            TiledKernel tk = new TiledKernel(ntk, plan, x, null);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            List<Integer> seen = new ArrayList<>();
            try {
                tk.run(java.util.Set.of(), (t, k) -> {
                    synchronized (seen) {
                        seen.add(t.index());
                    }
                }, null);
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
            long measured = Tensor.peakBytes() - base + x.bytes();
            assertThat(measured).as("measured peak of %s", plan).isLessThanOrEqualTo(budget);
            assertThat(seen).hasSize(plan.tileCount());
            assertThat(tk.tilesComputed()).isEqualTo(plan.tileCount());
        }
    }

    /**
     * With room in the budget the run keeps every prepared tile and says how much it estimated them at; the plan's
     * predicted peak plus that estimate bounds what the run holds. With no room beside the predicted peak it keeps
     * none, says 0, and stays under the predicted peak.
     */
    @Test
    void theCacheOfPreparedTilesIsReportedAndBoundsThePeakWithThePrediction() {
        Model m = Zoo.parse("fcn(depth=2,width=32,out=10)");
        int[] in = {32};
        int n = 160;
        try (Params p = m.init(2, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 3, n, 32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            for (boolean room : new boolean[] {true, false}) {
                TilePlan sized = TilePlanner.of(ntk, KernelKind.trace()).tile(32).budget(1L << 30)
                        .plan(n, 0, in, DType.F32);
                long budget = room ? 1L << 30 : sized.predictedPeakBytes();
                TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(32).budget(budget)
                        .plan(n, 0, in, DType.F32);
                TiledKernel tk = new TiledKernel(ntk, plan, x, null);
                long base = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                try {
                    tk.run(java.util.Set.of(), (t, k) -> { }, null);
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
                long measured = Tensor.peakBytes() - base + x.bytes();
                if (room) {
                    assertThat(tk.preparedCacheBytes()).as("cache kept with room").isPositive();
                    assertThat(measured).as("measured peak, cache kept")
                            .isGreaterThan(plan.predictedPeakBytes() / 2)
                            .isLessThanOrEqualTo(plan.predictedPeakBytes() + tk.preparedCacheBytes());
                } else {
                    assertThat(tk.preparedCacheBytes()).as("no room: no cache").isZero();
                    assertThat(measured).as("measured peak, no cache").isLessThanOrEqualTo(plan.predictedPeakBytes());
                }
            }
        }
    }

    /**
     * The least budget a refusal names plans the run, for the tiles the planner would choose and for a --tile given
     * (larger than the smallest tiles), and a tenth of its unit less does not: before 2026-12-06 the figure was
     * rounded to the nearest ("raise --memory to at least 1.1 MiB", and 1.1 MiB was refused again), and a --tile
     * given was told the smallest tiles' need.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 16, 48})
    void theLeastBudgetARefusalNamesIsEnough(int tile) {
        Model m = Zoo.parse("fcn(depth=2,width=256,out=10)");
        int[] in = {64};
        try (Params p = m.init(0, in, DType.F32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            java.util.function.LongFunction<TilePlan> plan = budget -> TilePlanner.of(ntk, KernelKind.full())
                    .budget(budget).tile(tile).plan(800, 0, in, DType.F32);
            String refusal = "";
            try {
                plan.apply(1L << 20);
            } catch (IllegalArgumentException e) {
                refusal = e.getMessage();
            }
            java.util.regex.Matcher advised = java.util.regex.Pattern
                    .compile("raise --memory to at least ([0-9.]+) (KiB|MiB)").matcher(refusal);
            assertThat(advised.find()).as(refusal).isTrue();
            long unit = advised.group(2).equals("KiB") ? 1L << 10 : 1L << 20;
            long least = (long) (Double.parseDouble(advised.group(1)) * unit); // as --memory parses it
            TilePlan planned = plan.apply(least);
            assertThat(planned.rowTile()).isEqualTo(tile == 0 ? planned.rowTile() : tile);
            assertThatThrownBy(() -> plan.apply(least - unit / 10)).as(refusal)
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    /**
     * Tiles of projected:K are sketched whole (a tile's sketch is one chunk), so they do not go below 16 examples: a
     * budget that 16-example tiles exceed is refused before any work, naming --memory and the least budget of those
     * tiles (docs/big-kernels.md), never run over it; at that least budget the run plans, and its measured peak
     * stays within it.
     */
    @Test
    void projectedTilesBelowTheSmallestAreRefusedNamingTheLeastBudget() throws java.io.IOException {
        Model m = Zoo.parse("fcn(depth=2,width=64,out=10)");
        int[] in = {32};
        KernelKind kind = KernelKind.parse("projected:16", 5);
        try (Params p = m.init(2, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 4, 40, 32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            java.util.function.LongFunction<TilePlan> plan = budget -> TilePlanner.of(ntk, kind).budget(budget)
                    .workers(1).plan(40, 0, in, DType.F64);
            long sixteen = TilePlanner.of(ntk, kind).tile(16).workers(1).plan(40, 0, in, DType.F64)
                    .predictedPeakBytes();
            String refusal = "";
            try {
                plan.apply(sixteen * 9 / 10);
            } catch (IllegalArgumentException e) {
                refusal = e.getMessage();
            }
            assertThat(refusal).contains("is too small for the projected:16 kernel of 40 × 40 examples")
                    .contains("the smallest tiles (16 examples, method jc)");
            java.util.regex.Matcher advised = java.util.regex.Pattern
                    .compile("raise --memory to at least ([0-9.]+) (KiB|MiB)").matcher(refusal);
            assertThat(advised.find()).as(refusal).isTrue();
            long unit = advised.group(2).equals("KiB") ? 1L << 10 : 1L << 20;
            long least = (long) (Double.parseDouble(advised.group(1)) * unit);
            assertThat(least).isGreaterThanOrEqualTo(sixteen);
            TilePlan planned = plan.apply(least);
            assertThat(planned.rowTile()).isEqualTo(16);
            TiledKernel tk = new TiledKernel(ntk, planned, x, null);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            tk.run(java.util.Set.of(), (t, k) -> { }, null);
            long measured = Tensor.peakBytes() - base + x.bytes();
            assertThat(measured).as("measured peak of %s", planned.describe()).isLessThanOrEqualTo(least);
        }
    }

    @Test
    void anImpossibleBudgetIsRefusedWithTheSmallestThatWorks() {
        Model m = Zoo.parse("fcn(depth=2,width=64,out=10)");
        try (Params p = m.init(2, new int[] {32}, DType.F32)) {
            assertThatThrownBy(() -> TilePlanner.of(EmpiricalNtk.of(m, p), KernelKind.trace()).budget(1000)
                    .plan(100, 0, new int[] {32}, DType.F32))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("memory budget: 1000 B is too small")
                    .hasMessageContaining("the smallest tiles (16 examples, method ")
                    .hasMessageContaining("raise --memory to at least");
            // one example: its tile says so in the singular
            assertThatThrownBy(() -> TilePlanner.of(EmpiricalNtk.of(m, p), KernelKind.trace()).budget(1000)
                    .plan(1, 0, new int[] {32}, DType.F32))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the smallest tiles (1 example, method ");
        }
    }
}
