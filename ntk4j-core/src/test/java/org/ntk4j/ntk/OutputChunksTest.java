package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives in output chunks ({@link OutputChunks}) — the full kernel, its trace and its per-output
 * diagonal — equals the unchunked kernel (float64, 1e-12 relative), counts exactly the FLOPs it predicts, peaks
 * within 10% of its prediction, and is what AUTO runs when no method fits the budget with all O outputs at once.
 */
class OutputChunksTest {
    /** A model, its example shape, the kernel's output pairs (full, trace or per-output diagonal), k, x2 = x1. */
    record Case(String spec, int[] in, OutputPairs pairs, int k, boolean same) {
        @Override
        public String toString() {
            return spec + " " + pairs + " k=" + k + (same ? " x2=x1" : " x2");
        }

        int[] trace() {
            return pairs == OutputPairs.TRACE ? new int[] {1} : new int[0];
        }

        int[] diagonal() {
            return pairs == OutputPairs.DIAGONAL ? new int[] {1} : new int[0];
        }
    }

    static Stream<Case> cases() {
        List<Case> r = new ArrayList<>();
        String[][] models = {{"fcn(depth=2,width=12,out=10)", "5"}, {"resnet(blocks=1,channels=2,out=10)", "4,4"}};
        for (String[] m : models) {
            int[] in = java.util.Arrays.stream(m[1].split(",")).mapToInt(Integer::parseInt).toArray();
            for (OutputPairs pairs : OutputPairs.values()) {
                for (int k : new int[] {1, 3, 10}) {
                    for (boolean same : new boolean[] {false, true}) {
                        r.add(new Case(m[0], in, pairs, k, same));
                    }
                }
            }
        }
        return r.stream();
    }

    private static double relativeError(Tensor a, Tensor b) {
        return org.ntk4j.Fixtures.relativeError(a, b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedEqualsUnchunkedAndCountsWhatItPredicts(Case c) {
        Model m = Zoo.parse(c.spec());
        Params p = m.init(3, c.in(), DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(3, c.in()));
        Tensor x2 = c.same() ? null : Tensor.randomNormal(DType.F64, 2, Shapes.prepend(2, c.in()));
        int[] trace = c.trace();
        int[] diagonal = c.diagonal();
        EmpiricalNtk e = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).traceAxes(trace)
                .diagonalAxes(diagonal);
        KernelInputs in = new KernelInputs(m, p, trace, diagonal, x1, x2, true);
        CostModel cost = e.costModel(3, c.same() ? 0 : 2, c.in(), DType.F64);
        assertThat(OutputChunks.applies(cost)).isTrue();
        double predicted = OutputChunks.estimate(cost, c.k()).flops();
        // Jacobian contraction: independent of structured derivatives (which may run in chunks itself, x2 = x1)
        try (Tensor expected = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes(trace)
                .diagonalAxes(diagonal).ntk(x1, x2)) {
            long before = FlopCount.total();
            try (Tensor chunked = OutputChunks.kernel(m, p, trace, diagonal, in, c.k(), Tiles.MAX_TENSOR_BYTES,
                    null)) {
                assertThat(chunked.shape()).isEqualTo(expected.shape());
                long counted = FlopCount.total() - before;
                assertThat(counted).as("counted vs predicted").isEqualTo(Math.round(predicted));
                assertThat(relativeError(chunked, expected)).isLessThan(1e-12);
            }
        }
    }

    /** Smaller chunks hold less: the measured peak of a chunked run is within 10% of its prediction. */
    @Test
    void predictedPeakOfChunksWithinTenPercent() {
        Model m = Zoo.parse("fcn(depth=2,width=256,out=10)");
        int[] in = {128};
        Params p = m.init(1, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 2, 12, 128);
        Tensor x2 = Tensor.randomNormal(DType.F64, 3, 8, 128);
        // {trace, diagonal}: the full kernel, the trace, the per-output diagonal
        for (int[][] axes : new int[][][] {{{}, {}}, {{1}, {}}, {{}, {1}}}) {
            int[] trace = axes[0];
            int[] diagonal = axes[1];
            for (Tensor second : new Tensor[] {x2, null}) {
                for (int k : new int[] {2, 5}) {
                    EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes(trace).diagonalAxes(diagonal);
                    CostModel cost = e.costModel(12, second == null ? 0 : 8, in, DType.F64);
                    long predicted = OutputChunks.estimate(cost, k).peakBytes();
                    KernelInputs ki = new KernelInputs(m, p, trace, diagonal, x1, second, true);
                    OutputChunks.kernel(m, p, trace, diagonal, ki, k, Tiles.MAX_TENSOR_BYTES, null).close();
                    long base = Tensor.liveBytes();
                    Tensor.resetPeakBytes();
                    try (Tensor kernel = OutputChunks.kernel(m, p, trace, diagonal, ki, k, Tiles.MAX_TENSOR_BYTES,
                            null)) {
                        long measured = Tensor.peakBytes() - base + 8L * p.count()
                                + 8L * (x1.size() + (second == null ? 0 : x2.size()));
                        assertThat((double) predicted / measured).as("trace %d, diagonal %d, %s, k %d: predicted %d, "
                                + "measured %d", trace.length, diagonal.length, second == null ? "x2 = x1" : "x2", k,
                                predicted, measured)
                                .isBetween(0.9, 1.1);
                    }
                }
            }
        }
    }

    /**
     * A budget below every method's unchunked peak: AUTO chooses structured derivatives in output chunks, the
     * kernel it computes equals the unchunked one and its prediction fits the budget.
     */
    @Test
    void budgetBelowEveryUnchunkedPeakRunsInChunks() {
        Model m = Zoo.parse("fcn(depth=2,width=256,out=10)");
        int[] in = {128};
        Params p = m.init(1, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 2, 12, 128);
        EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes();
        CostModel cost = e.costModel(12, 0, in, DType.F64);
        long budget = OutputChunks.estimate(cost, 4).peakBytes();
        for (CostModel.Estimate u : cost.estimates()) {
            assertThat(u.peakBytes()).as("%s unchunked", u.method()).isGreaterThan(budget);
        }
        CostModel.Estimate chosen = cost.choose(budget);
        assertThat(chosen.method()).isEqualTo(Method.STRUCTURED_DERIVATIVES);
        assertThat(chosen.outputChunk()).isBetween(4, 9);
        assertThat(chosen.peakBytes()).isLessThanOrEqualTo(budget);
        assertThat(cost.explain(budget)).contains("in output chunks of " + chosen.outputChunk());
        try (Tensor expected = e.method(Method.JACOBIAN_CONTRACTION).memoryBudget(1L << 34).ntk(x1, null)) {
            long before = FlopCount.total();
            try (Tensor chunked = e.memoryBudget(budget).ntk(x1, null)) {
                assertThat(FlopCount.total() - before).isEqualTo(Math.round(chosen.flops()));
                assertThat(relativeError(chunked, expected)).isLessThan(1e-12);
            }
        }
    }

    /**
     * Output chunks are as large as the budget allows and no larger than one tensor holds: with a tensor limit of
     * the stacked basis [k, N, O] for k = 20 (float64) and a budget of 16 GiB, chunks of more than 20 outputs
     * cannot run and are not chosen (a probes:20000 kernel in float64 was planned in chunks of 5000, whose basis
     * of 4.0 GB then failed); the kernel is still Jacobian contraction's.
     */
    @Test
    void chunksStayWithinWhatOneTensorHolds() {
        Model m = Zoo.parse("fcn(depth=2,width=32,out=96,act=relu)");
        int[] in = {3};
        long limit = 20L * 10 * 96 * 8;
        try (Params p = m.init(5, in, DType.F64); Tensor x1 = Tensor.randomNormal(DType.F64, 4, 10, 3)) {
            EmpiricalNtk sd = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).traceAxes()
                    .memoryBudget(1L << 34).tileBytes(limit);
            CostModel cost = sd.costModel(10, 0, in, DType.F64);
            assertThat(OutputChunks.estimate(cost, 21).peakBytes()).isEqualTo(Long.MAX_VALUE);
            assertThat(OutputChunks.estimate(cost, 21).note()).contains("more than one tensor holds");
            assertThat(OutputChunks.estimate(cost, 20).peakBytes()).isLessThan(Long.MAX_VALUE);
            CostModel.Estimate runs = cost.estimate(Method.STRUCTURED_DERIVATIVES, 1L << 34);
            assertThat(runs.outputChunk()).isBetween(1, 20);
            try (Tensor expected = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes()
                    .memoryBudget(1L << 34).ntk(x1, null);
                 Tensor chunked = sd.ntk(x1, null)) {
                assertThat(relativeError(chunked, expected)).isLessThan(1e-12);
            }
        }
    }

    /**
     * The full kernel of x1 with itself, with O large against the rest: each pair of output chunks is contracted
     * once, so chunks take fewer FLOPs than the whole pass even when it fits. Structured derivatives then run in
     * the chunks (at least 10% fewer FLOPs, counted = predicted), equal to Jacobian contraction; a kernel of x1
     * and x2, a traced kernel and a small O keep the whole pass.
     */
    @Test
    void chunksOfFewerFlopsRunEvenWhenTheWholePassFits() {
        Model m = Zoo.parse("fcn(depth=2,width=32,out=96,act=relu)");
        int[] in = {3};
        try (Params p = m.init(5, in, DType.F64); Tensor x1 = Tensor.randomNormal(DType.F64, 4, 10, 3);
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, 7, 3)) {
            EmpiricalNtk sd = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).traceAxes()
                    .memoryBudget(1L << 34);
            CostModel cost = sd.costModel(10, 0, in, DType.F64);
            CostModel.Estimate whole = cost.estimate(Method.STRUCTURED_DERIVATIVES);
            CostModel.Estimate runs = cost.estimate(Method.STRUCTURED_DERIVATIVES, 1L << 34);
            assertThat(whole.peakBytes()).isLessThan(1L << 34);
            assertThat(runs.outputChunk()).as("chunk size").isBetween(OutputChunks.MIN_CHUNK_FOR_FLOPS, 95);
            assertThat(runs.flops()).isLessThanOrEqualTo((1 - OutputChunks.SAVING) * whole.flops());
            assertThat(runs.peakBytes()).isLessThan(whole.peakBytes());
            assertThat(cost.explain(1L << 34)).contains("in output chunks of " + runs.outputChunk());
            try (Tensor expected = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes()
                    .memoryBudget(1L << 34).ntk(x1, null)) {
                long before = FlopCount.total();
                try (Tensor chunked = sd.ntk(x1, null)) {
                    assertThat(FlopCount.total() - before).as("counted").isEqualTo(Math.round(runs.flops()));
                    assertThat(relativeError(chunked, expected)).isLessThan(1e-12);
                }
            }
            // x1 against x2, and the trace: chunks only add passes
            assertThat(sd.costModel(10, 7, in, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES, 1L << 34)
                    .outputChunk()).isZero();
            assertThat(sd.traceAxes(-1).costModel(10, 0, in, DType.F64)
                    .estimate(Method.STRUCTURED_DERIVATIVES, 1L << 34).outputChunk()).isZero();
            try (Tensor expected = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes()
                    .memoryBudget(1L << 34).ntk(x1, x2);
                 Tensor got = sd.ntk(x1, x2)) {
                assertThat(relativeError(got, expected)).isLessThan(1e-12);
            }
        }
        // the FCN example (O = 8): the whole pass
        Model fcn = Zoo.parse("fcn(depth=3,width=512,out=8)");
        assertThat(new CostModel(fcn, new int[] {3072}, DType.F32, 16, 0, new int[0], new int[0])
                .estimate(Method.STRUCTURED_DERIVATIVES, 1L << 34).outputChunk()).isZero();
    }
}
