package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The kernels of each example with itself under a memory budget that no method fits whole: they run in example
 * chunks, equal to the whole kernel (float64, within 1e-12 of its largest entry), for a diagonal and a traced batch
 * axis, x2 = x1 and x2 given, AUTO and a fixed method; the predicted FLOPs are those counted, the predicted peak
 * is within 10% of the measured one and both within the budget; explain says how it runs.
 */
class ExampleChunksTest {
    private static final Model MODEL = Zoo.parse("cnn(depth=1,channels=8,out=5)");
    private static final int[] IN = {8, 8, 3};
    private static final int N = 40;

    @Test
    void chunkedKernelsEqualTheWholeKernelWithinTheBudget() {
        Params p = MODEL.init(4, IN, DType.F64);
        int[][][] axes = {{{}, {0}}, {{-1}, {0}}, {{0}, {}}, {{0, -1}, {}}}; // {trace, diagonal}
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(N, IN));
             Tensor x2 = Tensor.randomNormal(DType.F64, 6, Shapes.prepend(N, IN))) {
            for (int[][] a : axes) {
                for (Method method : new Method[] {Method.AUTO, Method.JACOBIAN_CONTRACTION,
                    Method.STRUCTURED_DERIVATIVES}) {
                    for (Tensor second : new Tensor[] {null, x2}) {
                        EmpiricalNtk whole = EmpiricalNtk.of(MODEL, p).traceAxes(a[0]).diagonalAxes(a[1])
                                .method(method);
                        int n2 = second == null ? 0 : N;
                        CostModel c = whole.costModel(N, n2, IN, DType.F64);
                        // a budget of what the chunks hold beside them (the inputs, the whole kernel) and half the
                        // rest of the smallest whole peak: only VP fits whole, by tiling its basis vectors at many
                        // times the FLOPs; chunks of several examples by JC or SD are cheaper
                        long smallest = Long.MAX_VALUE;
                        for (CostModel.Estimate e : c.estimates()) {
                            smallest = Math.min(smallest, e.peakBytes());
                        }
                        long held = ExampleChunks.heldBytes(c);
                        long budget = held + (smallest - held) / 2;
                        EmpiricalNtk chunked = whole.memoryBudget(budget);
                        String what = String.format("trace %s diagonal %s %s x2 %s",
                                java.util.Arrays.toString(a[0]), java.util.Arrays.toString(a[1]), method.shortName(),
                                second == null ? "= x1" : "given");
                        ExampleChunks.Plan plan = ExampleChunks.plan(c, method, budget);
                        assertThat(plan).as(what).isNotNull();
                        assertThat(plan.size()).as(what).isBetween(2, N - 1);
                        CostModel.Estimate predicted = ExampleChunks.estimate(c, method, budget);
                        assertThat(chunked.resolveMethod(N, n2, IN, DType.F64)).as(what)
                                .isEqualTo(method == Method.AUTO ? plan.method() : method);
                        try (Tensor expected = whole.ntk(x1, second)) {
                            long base = Tensor.liveBytes();
                            Tensor.resetPeakBytes();
                            long flops = FlopCount.total();
                            try (Tensor k = chunked.ntk(x1, second)) {
                                assertThat(FlopCount.total() - flops).as(what + ": counted FLOPs")
                                        .isEqualTo(Math.round(predicted.flops()));
                                long measured = Tensor.peakBytes() - base + 8L * p.count() + 8L * (x1.size()
                                        + (second == null ? 0 : x2.size()));
                                assertThat((double) predicted.peakBytes() / measured).as(what + ": peak, predicted "
                                        + predicted.peakBytes() + " measured " + measured).isBetween(0.9, 1.1);
                                assertThat(predicted.peakBytes()).as(what).isLessThanOrEqualTo(budget);
                                assertThat(k.shape()).isEqualTo(expected.shape());
                                double scale = 0;
                                for (int i = 0; i < expected.size(); i++) {
                                    scale = Math.max(scale, Math.abs(expected.getFlat(i)));
                                }
                                for (int i = 0; i < expected.size(); i++) {
                                    assertThat(k.getFlat(i)).as(what + " at " + i).isCloseTo(expected.getFlat(i),
                                            org.assertj.core.data.Offset.offset(1e-12 * scale));
                                }
                            }
                        }
                    }
                }
            }
            assertThat(EmpiricalNtk.of(MODEL, p).traceAxes().diagonalAxes(0).costModel(N, 0, IN, DType.F64)
                    .explain(200_000)).contains("in example chunks").contains("auto chooses: ");
        }
        p.close();
    }

    /**
     * Kernels with both example axes never run in example chunks, and a budget that not even one example fits is
     * refused with the budget's message.
     */
    @Test
    void chunksOnlyForOneExampleAxisAndOnlyWhereOneExampleFits() {
        Params p = MODEL.init(4, IN, DType.F64);
        CostModel full = EmpiricalNtk.of(MODEL, p).traceAxes().costModel(N, 0, IN, DType.F64);
        assertThat(ExampleChunks.plan(full, Method.AUTO, 100_000)).isNull();
        EmpiricalNtk tiny = EmpiricalNtk.of(MODEL, p).traceAxes().diagonalAxes(0).memoryBudget(20_000);
        assertThat(ExampleChunks.plan(tiny.costModel(N, 0, IN, DType.F64), Method.AUTO, 20_000)).isNull();
        try (Tensor x = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(N, IN))) {
            assertThatThrownBy(() -> tiny.ntk(x, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("memory budget").hasMessageContaining("not even one example fits")
                    .hasMessageNotContaining("--out");
        }
        p.close();
    }

    /**
     * Batch norm in training mode normalises with the statistics of the whole batch, so a chunk of examples would
     * be another network: under a budget that would chunk an independent model the kernel is the whole kernel
     * (it was that of chunks of the 12 examples, 12% to 2690× off), and AUTO, fitting nothing, says why.
     */
    @Test
    void aModelThatMixesItsExamplesNeverRunsInChunks() {
        Model bn = new Model(Layers.serial(Layers.dense(16), Layers.batchNorm(), Layers.tanh(), Layers.dense(3)),
                "bn-mlp");
        int[] in = {5};
        int n = 12;
        Params p = bn.init(1, in, DType.F64);
        int[][][] axes = {{{}, {0}}, {{0}, {}}, {{0, -1}, {}}}; // {trace, diagonal}
        try (Tensor x = Tensor.randomNormal(DType.F64, 2, n, 5)) {
            for (int[][] a : axes) {
                for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.STRUCTURED_DERIVATIVES,
                    Method.AUTO}) {
                    EmpiricalNtk whole = EmpiricalNtk.of(bn, p).traceAxes(a[0]).diagonalAxes(a[1]).method(method);
                    CostModel c = whole.costModel(n, 0, in, DType.F64);
                    long smallest = Long.MAX_VALUE;
                    for (CostModel.Estimate e : c.estimates()) {
                        smallest = Math.min(smallest, e.peakBytes());
                    }
                    long held = ExampleChunks.heldBytes(c);
                    long budget = held + (smallest - held) / 2; // chunks of an independent model would fit
                    String what = String.format("trace %s diagonal %s %s", java.util.Arrays.toString(a[0]),
                            java.util.Arrays.toString(a[1]), method.shortName());
                    EmpiricalNtk bounded = whole.memoryBudget(budget); // AUTO: NTK-vector products in tiles
                    if (method != Method.AUTO && c.estimate(method, budget).peakBytes() > budget) {
                        // an explicit method that does not fit whole runs in no chunks: refused (2026-12-07)
                        assertThatThrownBy(() -> bounded.ntk(x, null)).as(what)
                                .isInstanceOf(IllegalArgumentException.class)
                                .hasMessageContaining("method " + method.shortName() + " needs at least")
                                .hasMessageContaining("the model mixes the examples of its batch")
                                .hasMessageNotContaining("--out");
                    } else {
                        try (Tensor expected = whole.ntk(x, null); Tensor k = bounded.ntk(x, null)) {
                            assertThat(org.ntk4j.Fixtures.relativeError(k, expected)).as(what).isLessThan(1e-12);
                        }
                    }
                    assertThat(ExampleChunks.plan(c, method, budget)).as(what).isNull();
                }
            }
            EmpiricalNtk tiny = EmpiricalNtk.of(bn, p).traceAxes().diagonalAxes(0).memoryBudget(4096);
            assertThatThrownBy(() -> tiny.ntk(x, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the model mixes the examples of its batch").hasMessageNotContaining("--out");
        }
        p.close();
    }
}
