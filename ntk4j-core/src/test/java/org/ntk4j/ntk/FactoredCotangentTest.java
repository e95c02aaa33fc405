package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Stacked cotangents that factor, D[o, n, r, f] = M[n, r, f] · G[o, n, f] ({@link CotangentFactors}), and the
 * factored order of structured derivatives ({@link ContractionOrder#FACTORED}) that contracts them: found exactly
 * where the structure holds (the last convolution before a global average pool, through a batch norm's division
 * too), its factors multiply back to the pass's cotangent, and the kernels it gives equal Jacobian contraction's for
 * every kind of output pairs, x2 = x1 and apart (float64, 1e-10), and float32 within its rounding.
 */
class FactoredCotangentTest {
    /** The outputs of the consumers (in the graph's order) whose stacked cotangents factor in the pass of k = O. */
    private static List<Var> factoredConsumers(SidePlan side) {
        List<Var> ys = new ArrayList<>();
        for (ParameterConsumers.Consumer c : side.pc.consumers) {
            if (side.pass().factored(c.equation.output()) != null && !ys.contains(c.equation.output())) {
                ys.add(c.equation.output());
            }
        }
        return ys;
    }

    /** The convolution outputs of the forward graph, in order. */
    private static List<Var> convOutputs(SidePlan side) {
        List<Var> ys = new ArrayList<>();
        for (org.ntk4j.graph.Equation e : side.graph.equations()) {
            if (e.primitive() instanceof org.ntk4j.primitive.Conv) {
                ys.add(e.output());
            }
        }
        return ys;
    }

    @Test
    void onlyTheLastConvolutionBeforeAGlobalPoolFactors() {
        int[] in = {6, 6, 3};
        SidePlan pooled = SidePlan.of(Zoo.parse("cnn(depth=3,channels=4,out=3)"), 2, in, DType.F64);
        List<Var> convs = convOutputs(pooled);
        assertThat(convs).hasSize(3);
        assertThat(factoredConsumers(pooled)).containsExactly(convs.get(2));
        // flattened into the readout, every pixel has its own weights per output: nothing factors
        SidePlan flat = SidePlan.of(Zoo.parse("cnn(depth=3,channels=4,out=3,pool=flatten)"), 2, in, DType.F64);
        assertThat(factoredConsumers(flat)).isEmpty();
        // the pass returns the factors' values besides its own outputs: the mask and the pooled cotangent
        assertThat(pooled.pass().graph.outputs().size()).isGreaterThan(flat.pass().graph.outputs().size());
    }

    /** M ⊙ G equals the stacked cotangent δ the pass computed, element for element (float64). */
    @Test
    void theFactorsMultiplyBackToTheCotangent() {
        // a cnn (mask · pooled cotangent · scalars) and torchvision's resnet18 at 64×64 (its last block's conv:
        // also through the batch norm's scale and its division by the deviation; layer4 has 2×2 positions)
        String[][] models = {{"cnn(depth=2,channels=4,out=3)", "5,5,3", "3"}, {"resnet18(width=4,out=5)", "64,64,3",
            "2"}};
        for (String[] spec : models) {
            Model m = Zoo.parse(spec[0]);
            int[] in = java.util.Arrays.stream(spec[1].split(",")).mapToInt(Integer::parseInt).toArray();
            int n = Integer.parseInt(spec[2]);
            SidePlan side = SidePlan.of(m, n, in, DType.F64);
            List<Var> factored = factoredConsumers(side);
            assertThat(factored).as(spec[0]).hasSize(1);
            try (Params p = m.init(4, in, DType.F64);
                 Tensor x = Tensor.randomNormal(DType.F64, 5, Shapes.prepend(n, in));
                 PerExamplePass pass = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x)) {
                ParameterConsumers.Consumer c = side.pc.consumers.stream()
                        .filter(k -> k.equation.output() == factored.get(0)).findFirst().orElseThrow();
                Tensor[] mg = pass.cotangentFactors(c);
                try (Tensor mf = mg[0]; Tensor g = mg[1]; Tensor d = StructuredDerivatives.cotangent(pass, c)) {
                    int o = d.dim(0);
                    int r = d.dim(2);
                    int f = d.dim(3);
                    assertThat(mf.shape()).containsExactly(n, r, f);
                    assertThat(g.shape()).containsExactly(o, n, f);
                    double worst = 0;
                    double largest = 0;
                    for (int k = 0; k < o; k++) {
                        for (int e = 0; e < n; e++) {
                            for (int q = 0; q < r; q++) {
                                for (int ch = 0; ch < f; ch++) {
                                    double want = d.getFlat(((k * n + e) * r + q) * f + ch);
                                    double got = mf.getFlat((e * r + q) * f + ch) * g.getFlat((k * n + e) * f + ch);
                                    worst = Math.max(worst, Math.abs(got - want));
                                    largest = Math.max(largest, Math.abs(want));
                                }
                            }
                        }
                    }
                    assertThat(largest).as(spec[0]).isGreaterThan(0);
                    assertThat(worst).as(spec[0]).isLessThanOrEqualTo(1e-14 * largest);
                }
            }
        }
    }

    /** The plan's order for the parameter whose consumer outputs {@code y}. */
    private static ContractionOrder orderAt(SidePlan side, Var y, int n2, boolean same, OutputPairs pairs) {
        for (SdPlan.Step s : side.sdPlan(side.n, same ? side.n : n2, side.o, same, pairs).steps) {
            if (s instanceof SdPlan.Linear l && l.st().consumer.equation.output() == y) {
                return l.order();
            }
        }
        throw new AssertionError("no linear step at " + y);
    }

    /**
     * Random small pooled cnns, kernels of every kind of output pairs, x2 = x1 or apart: the last conv takes the
     * factored order (from two outputs on) and structured derivatives equal Jacobian contraction (float64).
     */
    @Property(tries = 30, seed = "20261206")
    void factoredKernelsEqualJacobianContraction(@ForAll @IntRange(min = 1, max = 2) int depth,
                                                 @ForAll @IntRange(min = 1, max = 5) int channels,
                                                 @ForAll @IntRange(min = 1, max = 6) int out,
                                                 @ForAll @IntRange(min = 2, max = 5) int size,
                                                 @ForAll @IntRange(min = 1, max = 4) int n1,
                                                 @ForAll @IntRange(min = 0, max = 3) int n2,
                                                 @ForAll OutputPairs pairs) {
        Model m = Zoo.parse("cnn(depth=" + depth + ",channels=" + channels + ",out=" + out + ")");
        int[] in = {size, size, 2};
        boolean same = n2 == 0;
        int m2 = pairs.perExample() ? n1 : n2; // the kernel of each example with itself pairs x1_n with x2_n
        SidePlan side = SidePlan.of(m, n1, in, DType.F64);
        Var last = convOutputs(side).get(depth - 1);
        // (with one output nothing is taken apart: the factored order is never the cheapest there)
        assertThat(factoredConsumers(side)).isEqualTo(out > 1 ? List.of(last) : List.of());
        int[] diagonal = pairs.perExample() ? new int[] {0} : pairs == OutputPairs.DIAGONAL ? new int[] {1}
                : new int[0];
        int[] trace = pairs == OutputPairs.TRACE || pairs == OutputPairs.PER_EXAMPLE_TRACE ? new int[] {1}
                : new int[0];
        try (Params p = m.init(n1 + 10L * n2, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(n1, in));
             Tensor x2 = same ? null : Tensor.randomNormal(DType.F64, 2, Shapes.prepend(m2, in))) {
            EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes(trace).diagonalAxes(diagonal);
            try (Tensor sd = e.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2);
                 Tensor jc = e.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2)) {
                assertThat(OutputPairs.of(e.costModel(n1, same ? 0 : m2, in, DType.F64).axes)).isEqualTo(pairs);
                assertThat(Fixtures.relativeError(sd, jc)).as("sd vs jc").isLessThan(1e-10);
            }
        }
        // from 16 positions on the factored order is the cheapest (with four the Gram or sandwich order can be)
        if (out > 1 && size >= 4) {
            assertThat(orderAt(side, last, m2, same, pairs)).isEqualTo(ContractionOrder.FACTORED);
        }
    }

    /** The small cnn of the benchmarks at a tenth of its batch: the factored order, float32 within 1e-5. */
    @Test
    void float32StaysWithinItsRounding() {
        Model m = Zoo.parse("cnn(depth=3,channels=16,out=10)");
        int[] in = {8, 8, 3};
        SidePlan side = SidePlan.of(m, 4, in, DType.F32);
        Var last = convOutputs(side).get(2);
        assertThat(orderAt(side, last, 4, true, OutputPairs.FULL)).isEqualTo(ContractionOrder.FACTORED);
        try (Params p32 = m.init(6, in, DType.F32); Params p64 = m.init(6, in, DType.F64);
             Tensor x64 = Tensor.randomNormal(DType.F64, 7, Shapes.prepend(4, in));
             Tensor x32 = x64.to(DType.F32);
             Tensor sd = EmpiricalNtk.of(m, p32).traceAxes().method(Method.STRUCTURED_DERIVATIVES).ntk(x32, null);
             Tensor jc = EmpiricalNtk.of(m, p64).traceAxes().method(Method.JACOBIAN_CONTRACTION).ntk(x64, null);
             Tensor sd64 = sd.to(DType.F64)) {
            assertThat(Fixtures.relativeError(sd64, jc)).isLessThan(1e-5);
        }
    }

    /**
     * The factored step's memory in the plan's cost walk against the bytes held: a pooled conv of a wide fan-in
     * (48 input channels, C = 432) and few features (F = 4), whose step (A, P, Q and the combination) holds more
     * than the per-example pass, for every kind of output pairs, x2 = x1 and apart: within 10%, as
     * {@link PredictedPeakTest} asks of every method.
     */
    @Test
    void theFactoredStepsPeakIsPredicted() {
        Model m = Zoo.parse("cnn(depth=1,channels=4,out=3)");
        int[] in = {6, 6, 48};
        int[][][] axes = {{{}, {}}, {{-1}, {}}, {{}, {-1}}, {{}, {0}}, {{-1}, {0}}}; // {trace, diagonal}
        org.assertj.core.api.SoftAssertions soft = new org.assertj.core.api.SoftAssertions();
        try (Params p = m.init(1, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 2, Shapes.prepend(12, in));
             Tensor x2 = Tensor.randomNormal(DType.F64, 3, Shapes.prepend(12, in))) {
            Var last = convOutputs(SidePlan.of(m, 12, in, DType.F64)).get(0);
            for (int[][] a : axes) {
                for (Tensor second : new Tensor[] {x2, null}) {
                    EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1])
                            .method(Method.STRUCTURED_DERIVATIVES);
                    CostModel cm = ntk.costModel(12, second == null ? 0 : 12, in, DType.F64);
                    OutputPairs pairs = OutputPairs.of(cm.axes);
                    assertThat(orderAt(SidePlan.of(m, 12, in, DType.F64), last, 12, second == null, pairs))
                            .isEqualTo(ContractionOrder.FACTORED);
                    long predicted = cm.estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
                    long measured = PredictedPeakTest.measuredPeakBytes(ntk, p, x1, second);
                    soft.assertThat((double) predicted / measured).as("%s x2 %s: predicted %d, measured %d", pairs,
                            second == null ? "= x1" : "apart", predicted, measured).isBetween(0.9, 1.1);
                }
            }
        }
        soft.assertAll();
    }
}
