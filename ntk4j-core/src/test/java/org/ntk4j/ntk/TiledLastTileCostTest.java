package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A tiled run prices each of its blocks at its own size: 33 examples in tiles of 16 leave a last tile of one example,
 * whose trace, for a model that moves the examples off axis 0 at N = 1 ({@link OneExampleKernelTest}), carries no
 * per-example pass, so its blocks run the exact batch path beside the other tile's pass. Before 2026-12-07 the
 * planner priced every block as a 16 × 16 one of per-example passes: Jacobian contraction's plan predicted 1.3 MiB
 * where its 16 × 1 blocks hold 4 MiB of batch Jacobians.
 */
class TiledLastTileCostTest {
    private static final int[] IN = {4, 8};

    /**
     * The plan's per-worker peak is the largest, over its tiles, of the untiled estimate at the tile's own size (a
     * diagonal tile's with itself) times the margin, plus a mirrored block's copy. A block one of whose tiles has no
     * per-example pass runs the exact batch path from both tiles' examples alone, holding both sides' batch
     * Jacobians [n, 4, 8, 72] but no pass (since 2026-12-07, evening: before, the other tile's pass was held beside
     * them, and counted): its estimate counts at least the Jacobians.
     */
    @ParameterizedTest
    @CsvSource({"JACOBIAN_CONTRACTION, 0", "JACOBIAN_CONTRACTION, 33", "STRUCTURED_DERIVATIVES, 0",
        "STRUCTURED_DERIVATIVES, 33", "NTK_VECTOR_PRODUCTS, 33"})
    void thePredictedPeakIsTheLargestTileAtItsOwnSize(Method method, int n2) {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 4, 33, 4, 8)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(33, n2, IN, DType.F64);
            assertThat(plan.tileCount()).isEqualTo(n2 == 0 ? 6 : 9);
            EmpiricalNtk tiles = ntk.forTiles(KernelKind.trace(), 33, n2, IN, DType.F64);
            long passOf16;
            long passOf1;
            try (Tensor x16 = Layout.sliceAxis(x, 0, 0, 16);
                 Tensor x1 = Layout.sliceAxis(x, 0, 32, 33);
                 PreparedTile t16 = tiles.prepare(x16);
                 PreparedTile t1 = tiles.prepare(x1)) {
                passOf16 = t16.bytes();
                passOf1 = t1.bytes();
            }
            assertThat(passOf1).as("the one-example tile holds no pass").isZero();
            double largest = 0;
            for (TilePlan.Tile t : plan.tiles()) {
                CostModel c = new CostModel(m, IN, DType.F64, t.rows(), t.diagonal() ? 0 : t.columns(),
                        new int[] {-1}, new int[0]);
                long peak = c.estimate(method).peakBytes();
                if (!t.diagonal() && (t.rows() == 1) != (t.columns() == 1) && method != Method.NTK_VECTOR_PRODUCTS) {
                    long jacobians = 8L * (t.rows() + t.columns()) * 4 * 8 * 72;
                    assertThat(peak).as("block %d × %d", t.rows(), t.columns())
                            .isGreaterThanOrEqualTo(jacobians);
                }
                long mirror = t.mirrored() ? 8L * t.rows() * t.columns() * 4 * 4 : 0;
                largest = Math.max(largest, Math.ceil(TilePlanner.SAFETY * peak) + mirror);
            }
            double perWorker = plan.predictedPeakBytes() - plan.inputBytes();
            assertThat(perWorker).isCloseTo(largest, org.assertj.core.data.Offset.offset(1.0));
        }
    }

    /**
     * Run within the predicted peak (no room for a cache of prepared tiles), the tiled kernel traced over the features
     * stays under it, and equals the closed form Θ[a, b, t, u] = 1 + x1[a, t]·x2[b, u] (the mean over f of
     * {@link OneExampleKernelTest#closedForm}'s diagonal). Before the fix Jacobian contraction's measured peak was
     * about three times the predicted one.
     */
    @ParameterizedTest
    @CsvSource({"JACOBIAN_CONTRACTION, 0", "JACOBIAN_CONTRACTION, 33", "STRUCTURED_DERIVATIVES, 0",
        "STRUCTURED_DERIVATIVES, 33"})
    void aRunOfALastTileOfOneExampleStaysUnderThePredictedPeak(Method method, int n2) throws IOException {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, 33, 4, 8);
             Tensor x2 = n2 == 0 ? null : Tensor.randomNormal(DType.F64, 5, n2, 4, 8)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            long predicted = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(33, n2, IN, DType.F64)
                    .predictedPeakBytes();
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).budget(predicted)
                    .workers(1).plan(33, n2, IN, DType.F64);
            TiledKernel tk = new TiledKernel(ntk, plan.withWorkers(1, predicted), x1, x2);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            try (Tensor k = tk.computeAll()) {
                long measured = Tensor.peakBytes() - base - k.bytes() + x1.bytes() + (x2 == null ? 0 : x2.bytes());
                assertThat(tk.preparedCacheBytes()).isZero();
                assertThat(measured).as("measured peak of %s", plan.describe()).isLessThanOrEqualTo(predicted);
                Tensor y = x2 == null ? x1 : x2;
                double worst = 0;
                for (int a = 0; a < 33; a++) {
                    for (int b = 0; b < y.dim(0); b++) {
                        for (int t = 0; t < 4; t++) {
                            for (int u = 0; u < 4; u++) {
                                double dot = 1;
                                for (int c = 0; c < 8; c++) {
                                    dot += x1.get(a, t, c) * y.get(b, u, c);
                                }
                                worst = Math.max(worst, Math.abs(k.get(a, b, t, u) - dot) / Math.max(1, Math.abs(dot)));
                            }
                        }
                    }
                }
                assertThat(worst).isLessThan(1e-12);
            }
        }
    }

    /**
     * The untiled kernel of 16 examples against one (or one against 16) runs as one tile whose block takes the exact
     * batch path from both sides' examples alone: no pass of the 16 is made (before 2026-12-07, evening, it was made,
     * forward and backward, and held while the batch Jacobians were formed, though nothing read it). The FLOPs counted
     * equal the cost model's to 0.1% (the unread pass added 0.12% of 16 × 1's), the measured peak stays within its
     * estimate, which leaves less room than the pass of the 16 ({@link PreparedTile#bytes()}; a run holding it, as
     * before, would exceed it), and the kernel equals the closed form.
     */
    @ParameterizedTest
    @CsvSource({"JACOBIAN_CONTRACTION, 16, 1", "JACOBIAN_CONTRACTION, 1, 16", "STRUCTURED_DERIVATIVES, 16, 1",
        "STRUCTURED_DERIVATIVES, 1, 16"})
    void anUntiledKernelAgainstOneExampleStaysWithinItsEstimate(Method method, int n1, int n2) {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 6, n1, 4, 8);
             Tensor x2 = Tensor.randomNormal(DType.F64, 7, n2, 4, 8);
             Tensor oracle = OneExampleKernelTest.closedForm(x1, x2)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method).traceAxes();
            CostModel.Estimate e = new CostModel(m, IN, DType.F64, n1, n2, new int[0], new int[0]).estimate(method);
            long paramBytes = new CostModel(m, IN, DType.F64, 1, 0, new int[0], new int[0]).paramBytes;
            long passOf16;
            try (PreparedTile sixteen = ntk.prepare(n1 == 16 ? x1 : x2)) {
                passOf16 = sixteen.bytes();
            }
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            long before = org.ntk4j.graph.FlopCount.total();
            try (Tensor k = ntk.ntk(x1, x2)) {
                double counted = org.ntk4j.graph.FlopCount.total() - before;
                long measured = Tensor.peakBytes() - base + x1.bytes() + x2.bytes() + paramBytes;
                assertThat(counted).as("FLOPs counted")
                        .isCloseTo(e.flops(), org.assertj.core.data.Percentage.withPercentage(0.1));
                assertThat(measured).as("measured against the estimate").isLessThanOrEqualTo(e.peakBytes());
                // the estimate leaves less room than the pass: a run that held it (as before) would exceed it
                assertThat(e.peakBytes() - measured).as("room left by the estimate").isLessThan(passOf16);
                assertThat(EmpiricalNtkTest.relativeError(k, oracle)).isLessThan(1e-12);
            }
        }
    }

    /**
     * An x2 of one example, 33 × 1 in tiles of 16: every block runs the exact batch path, which reads no pass, so the
     * run prepares none (before 2026-12-07, evening, each row tile of 16 ran its per-example pass, forward and
     * backward, which no block read, and the estimate counted it as held; with room for it, the run also cached them).
     * Run within its predicted peak or with room for a cache of prepared tiles, it keeps no cache, counts the FLOPs of
     * its blocks' estimates to 0.1% (the unread passes added 0.26%), peaks within the estimate of its largest block,
     * which leaves less room than a row tile's pass ({@link PreparedTile#bytes()}; a run holding it, as before, would
     * exceed it), as planned (the plan's peak is that estimate with the margin), and equals the closed form Θ[a, b, t,
     * u] = 1 + x1[a, t]·x2[b, u].
     */
    @ParameterizedTest
    @CsvSource({"JACOBIAN_CONTRACTION, false", "JACOBIAN_CONTRACTION, true", "STRUCTURED_DERIVATIVES, false",
        "STRUCTURED_DERIVATIVES, true"})
    void anX2OfOneExamplePreparesNoPass(Method method, boolean roomForACache) throws IOException {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, 33, 4, 8);
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, 1, 4, 8)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            TilePlanner planner = TilePlanner.of(ntk, KernelKind.trace()).tile(16).workers(1);
            long predicted = planner.plan(33, 1, IN, DType.F64).predictedPeakBytes();
            TilePlan plan = planner.budget(roomForACache ? 1L << 30 : predicted).plan(33, 1, IN, DType.F64);
            assertThat(plan.tileCount()).isEqualTo(3);
            double flops = 0;
            long largest = 0;
            for (TilePlan.Tile t : plan.tiles()) {
                CostModel.Estimate e = new CostModel(m, IN, DType.F64, t.rows(), t.columns(), new int[] {-1},
                        new int[0]).estimate(method);
                flops += e.flops();
                largest = Math.max(largest, e.peakBytes());
            }
            long passOf16;
            try (Tensor x16 = Layout.sliceAxis(x1, 0, 0, 16);
                 PreparedTile t16 = ntk.forTiles(KernelKind.trace(), 33, 1, IN, DType.F64).prepare(x16)) {
                passOf16 = t16.bytes();
            }
            TiledKernel tk = new TiledKernel(ntk, plan, x1, x2);
            double[] worst = new double[1];
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            long before = org.ntk4j.graph.FlopCount.total();
            tk.run(java.util.Set.of(), (t, k) -> worst[0] = Math.max(worst[0], worstAgainstClosedForm(k, x1,
                    t.rowFrom(), x2, 0)), null);
            double counted = org.ntk4j.graph.FlopCount.total() - before;
            // the tiles' slices of x1 and x2 are copies, made in the run; the parameters were live before it
            long measured = Tensor.peakBytes() - base + new CostModel(m, IN, DType.F64, 1, 0, new int[] {-1},
                    new int[0]).paramBytes;
            assertThat(tk.tilesComputed()).isEqualTo(3);
            assertThat(tk.preparedCacheBytes()).isZero();
            assertThat(counted).as("FLOPs counted")
                    .isCloseTo(flops, org.assertj.core.data.Percentage.withPercentage(0.1));
            assertThat(measured).as("measured peak").isLessThanOrEqualTo(largest);
            // the estimate leaves less room than a row tile's pass: a run that held it (as before) would exceed it
            assertThat(largest - measured).as("room left by the estimate").isLessThan(passOf16);
            assertThat(plan.predictedPeakBytes() - plan.inputBytes())
                    .isEqualTo((long) Math.ceil(TilePlanner.SAFETY * largest));
            assertThat(worst[0]).isLessThan(1e-12);
        }
    }

    /**
     * projected:K's sketch of one example whose trace moves the examples is formed from its batch Jacobians
     * ({@link ProjectedSketch}); its estimate prices that (one VJP of O one-hot cotangents, every Jacobian held), not
     * a per-example pass: the measured peak is within the cost model's tested 20% of the estimate, and FLOPs
     * counted equal those predicted.
     */
    @org.junit.jupiter.api.Test
    void projectedSketchOfOneExampleIsPricedAsItsBatchJacobians() {
        Model m = OneExampleKernelTest.transposingAtOneExample(true, 32);
        int[] in = {4, 32};
        KernelKind kind = KernelKind.parse("projected:8", 7);
        try (Params p = m.init(3, in, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 4, 1, 4, 32)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p);
            CostModel.Estimate e = ProjectedSketch.estimate(ntk.traceAxes(-1).diagonalAxes(), kind, 1, 0, 1, in,
                    DType.F64);
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            long paramBytes = new CostModel(m, in, DType.F64, 1, 0, new int[] {-1}, new int[0]).paramBytes;
            long before = org.ntk4j.graph.FlopCount.total();
            try (Tensor k = ntk.kernel(kind, x, null)) {
                long measured = Tensor.peakBytes() - base + x.bytes() + paramBytes;
                double flops = org.ntk4j.graph.FlopCount.total() - before;
                assertThat((double) measured).as("measured peak against %s", e.peakBytes())
                        .isBetween(e.peakBytes() / 1.2, e.peakBytes() * 1.2);
                assertThat(flops).isCloseTo(e.flops(), org.assertj.core.data.Percentage.withPercentage(1));
            }
        }
    }

    /**
     * A last row tile of one example against another set: each of its blocks runs the exact batch path, which reads
     * no pass of the column tile, so the run prepares none (before 2026-12-07 every column tile of that row ran its
     * per-example pass, forward and backward, for nothing). Run alone (every other tile done), within the predicted
     * peak or with room for a cache of prepared tiles (since 2026-12-07, evening, none is kept: no block of the run
     * reads one), the row counts the FLOPs its blocks' estimates predict (1%), holds at most what the
     * planner prices for its largest block (which now counts no pass held beside a row tile of one example), and
     * equals the closed form Θ[a, b, t, u] = 1 + x1[a, t]·x2[b, u].
     */
    @ParameterizedTest
    @CsvSource({"JACOBIAN_CONTRACTION, false", "JACOBIAN_CONTRACTION, true", "STRUCTURED_DERIVATIVES, false",
        "STRUCTURED_DERIVATIVES, true"})
    void aLastRowOfOneExamplePreparesNoPassOfItsColumns(Method method, boolean cached) throws IOException {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, 33, 4, 8);
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, 40, 4, 8)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            TilePlanner planner = TilePlanner.of(ntk, KernelKind.trace()).tile(16).workers(1);
            long predicted = planner.plan(33, 40, IN, DType.F64).predictedPeakBytes();
            TilePlan plan = planner.budget(cached ? 1L << 30 : predicted).plan(33, 40, IN, DType.F64);
            java.util.Set<Integer> done = new java.util.HashSet<>();
            double flops = 0;
            long largest = 0;
            for (TilePlan.Tile t : plan.tiles()) {
                if (t.rows() != 1) {
                    done.add(t.index());
                    continue;
                }
                CostModel.Estimate e = new CostModel(m, IN, DType.F64, 1, t.columns(), new int[] {-1},
                        new int[0]).estimate(method);
                flops += e.flops();
                largest = Math.max(largest, e.peakBytes());
            }
            assertThat(done).hasSize(6);
            TiledKernel tk = new TiledKernel(ntk, plan, x1, x2);
            double[] worst = new double[1];
            long base = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            long before = org.ntk4j.graph.FlopCount.total();
            tk.run(done, (t, k) -> worst[0] = Math.max(worst[0], worstAgainstClosedForm(k, x1, 32, x2,
                    t.columnFrom())), null);
            double counted = org.ntk4j.graph.FlopCount.total() - before;
            // the tiles' slices of x1 and x2 are copies, made in the run; the parameters were live before it
            long measured = Tensor.peakBytes() - base + new CostModel(m, IN, DType.F64, 1, 0, new int[] {-1},
                    new int[0]).paramBytes;
            assertThat(tk.tilesComputed()).isEqualTo(3);
            assertThat(tk.preparedCacheBytes()).as("no block reads a prepared tile: nothing cached").isZero();
            assertThat(counted).as("FLOPs counted")
                    .isCloseTo(flops, org.assertj.core.data.Percentage.withPercentage(1));
            assertThat(measured).as("measured peak").isLessThanOrEqualTo(largest);
            assertThat(worst[0]).isLessThan(1e-12);
        }
    }

    /**
     * A block that runs the exact batch path from its tiles' examples alone still checks them as a prepared tile
     * does: a NaN in an x2 of one example is refused in one line naming the value, not reported as a non-finite
     * result of the network.
     */
    @org.junit.jupiter.api.Test
    void aNonFiniteExampleOfAnExactBlockIsRefused() {
        Model m = OneExampleKernelTest.transposingAtOneExample();
        try (Params p = m.init(3, IN, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, 17, 4, 8);
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, 1, 4, 8)) {
            x2.setFlat(5, Double.NaN);
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(17, 1, IN, DType.F64);
            TiledKernel tk = new TiledKernel(ntk, plan, x1, x2);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> tk.computeTile(0))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("contains a non-finite value (NaN) at flat index 5");
        }
    }

    /**
     * The largest relative error of a traced block [r, c, 4, 4] of rows from {@code row} of x1 and columns from
     * {@code column} of x2 against the closed form Θ[a, b, t, u] = 1 + x1[a, t]·x2[b, u].
     */
    private static double worstAgainstClosedForm(Tensor k, Tensor x1, int row, Tensor x2, int column) {
        double worst = 0;
        for (int a = 0; a < k.dim(0); a++) {
            for (int b = 0; b < k.dim(1); b++) {
                for (int t = 0; t < 4; t++) {
                    for (int u = 0; u < 4; u++) {
                        double dot = 1;
                        for (int f = 0; f < 8; f++) {
                            dot += x1.get(row + a, t, f) * x2.get(column + b, u, f);
                        }
                        worst = Math.max(worst, Math.abs(k.get(a, b, t, u) - dot) / Math.max(1, Math.abs(dot)));
                    }
                }
            }
        }
        return worst;
    }

    /**
     * The exact batch path's note says why it runs: for a side of one example of a model that moves the examples off
     * axis 0 at N = 1 that its trace moves them (before 2026-12-07 it said "the model mixes examples", which this
     * model does not), and for BatchNorm in training mode that the model mixes them.
     */
    @org.junit.jupiter.api.Test
    void theExactPathsNoteSaysWhyItRuns() {
        Model moving = OneExampleKernelTest.transposingAtOneExample();
        String moved = "the model traces a batch of one example with its batch axis moved off axis 0";
        for (int[] n : new int[][] {{1, 16}, {16, 1}, {1, 0}}) {
            CostModel c = new CostModel(moving, IN, DType.F64, n[0], n[1], new int[] {-1}, new int[0]);
            assertThat(c.estimate(Method.JACOBIAN_CONTRACTION).note())
                    .isEqualTo("batch Jacobians: N·O one-hot cotangents (" + moved + ")");
            assertThat(c.estimate(Method.STRUCTURED_DERIVATIVES).note())
                    .isEqualTo("runs as Jacobian contraction: " + moved + ", so there are no per-example cotangents");
        }
        Model mixing = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(4),
                org.ntk4j.nn.Layers.batchNorm()), "mixing");
        CostModel c = new CostModel(mixing, new int[] {3}, DType.F64, 5, 0, new int[] {-1}, new int[0]);
        assertThat(c.estimate(Method.JACOBIAN_CONTRACTION).note())
                .isEqualTo("batch Jacobians: N·O one-hot cotangents (the model mixes examples)");
        assertThat(c.estimate(Method.STRUCTURED_DERIVATIVES).note()).isEqualTo("runs as Jacobian contraction: the "
                + "model mixes examples, so there are no per-example cotangents");
    }
}
