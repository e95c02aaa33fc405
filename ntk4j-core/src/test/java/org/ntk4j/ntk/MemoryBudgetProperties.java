package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Locale;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Memory budgets against the bytes a kernel call actually holds, on random small networks of every layer
 * ({@link LayerNetworkProperties#randomNetwork}), kinds full, trace and diagonal, x2 = x1 and given, methods JC,
 * VP, SD and AUTO, each with no budget and with budgets around the least that any method can run in: the peak of
 * live off-heap tensor bytes during the call ({@link Tensor#peakBytes()}, plus the parameters and inputs the caller
 * holds, as the cost model counts them) stays within {@link #SLACK} times the predicted peak of what the call runs
 * ({@link EmpiricalNtk#plannedEstimate}), and within that slack of the budget, which every plan that runs fits (AUTO's
 * choice, and an explicit method's since 2026-12-07). AUTO below the least budget of any method, and an explicit
 * method below its own least ({@link CostModel#leastPeakBytes(Method)}), are refused before any work, naming the
 * budget, the least budget rounded up and what to do, and that figure's budget is accepted. Before 2026-12-07 an
 * explicit method ignored a budget it did not fit, and ran above it.
 */
class MemoryBudgetProperties {
    /**
     * The factor by which a measured peak may exceed the predicted one, and an accepted budget. The worst draw of
     * 5,000 (seeds 1 to 5,000 of this generator, every kind, method and budget) measured 4.4% above its prediction
     * (752 bytes against 720, structured derivatives of a network of a few hundred bytes, where a scalar's 8 bytes
     * weigh): what is left out now is small against any tensor (the cost model counts values by their types, the
     * measurement by their allocations). Before 2026-12-06 the draws of {@link #theDrawsThatFoundUncountedValues}
     * and NTK-vector products with x2 given measured 10% to 29% above, through values the model left out: the slack
     * was 1.2, and did not hold them all.
     */
    private static final double SLACK = 1.05;
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES, Method.AUTO};
    /**
     * Kinds full, trace and diagonal, and the kernels of each example with itself (the batch axis diagonal: "each",
     * with the outputs traced too: "each, traced"), which run in example chunks when the whole does not fit.
     */
    private static final String[] KINDS = {"full", "trace", "diagonal", "each", "each, traced"};

    @Property(tries = 12, seed = "20261206")
    void measuredPeakStaysWithinThePredictionAndTheBudget(@ForAll long seed) {
        check(seed);
    }

    /**
     * Draws of the property's generator on which the measured peak exceeded the prediction by 10% to 29% before
     * 2026-12-06, each through a value the cost model left out: NTK-vector products in example chunks whose last,
     * smaller chunk peaked above the others (2295); Jacobian contraction's directly written rows, which form the
     * data and cotangent factors of all examples (1070); structured derivatives' pass of x2 made first, x1's
     * beside it (1463, 2494); rows of a broadcast parameter formed through a product and a reduction's copy as
     * large as δ (5172, 2546); batch Jacobians copied by a reshape (895).
     */
    @org.junit.jupiter.api.Test
    void theDrawsThatFoundUncountedValues() {
        for (long seed : new long[] {2295, 1070, 1463, 2494, 5172, 2546, 895}) {
            check(seed);
        }
    }

    /** The property for the draw of {@code seed}. */
    private static void check(long seed) {
        Random r = new Random(seed);
        LayerNetworkProperties.Net net = LayerNetworkProperties.randomNetwork(r);
        int n1 = 1 + r.nextInt(3);
        String kind = KINDS[r.nextInt(KINDS.length)];
        boolean eachWithItself = kind.startsWith("each");
        // the kernels of each example with itself pair x1's examples with x2's: as many, or x2 = x1
        int n2 = r.nextBoolean() ? 0 : eachWithItself ? n1 : 1 + r.nextInt(3);
        try (Params p = net.model().init(seed, net.in(), DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, seed + 1, Shapes.prepend(n1, net.in()));
             Tensor x2 = n2 == 0 ? null : Tensor.randomNormal(DType.F64, seed + 2, Shapes.prepend(n2, net.in()))) {
            EmpiricalNtk base = eachWithItself
                    ? EmpiricalNtk.of(net.model(), p).traceAxes(kind.equals("each") ? new int[0] : new int[] {-1})
                    .diagonalAxes(0)
                    : EmpiricalNtk.of(net.model(), p).forKind(KernelKind.parse(kind, 0), net.in());
            CostModel c = base.costModel(n1, n2, net.in(), DType.F64);
            long least = c.leastPeakBytes();
            long whole = Long.MAX_VALUE;
            for (CostModel.Estimate e : c.estimates()) {
                whole = Math.min(whole, e.peakBytes());
            }
            long[] budgets = {Long.MAX_VALUE, whole, least, least + r.nextLong(Math.max(1, whole - least) + 1),
                least - 1};
            for (Method m : METHODS) {
                // an explicit method is also tried at its own least budget and just below it
                long leastOfM = c.leastPeakBytes(m);
                long[] tried = m == Method.AUTO ? budgets : java.util.stream.LongStream.concat(
                        java.util.Arrays.stream(budgets), java.util.stream.LongStream.of(leastOfM, leastOfM - 1))
                        .toArray();
                for (long budget : tried) {
                    String what = String.format(Locale.ROOT, "%s, kind %s, N1=%d, %s, %s, budget %s", net, kind, n1,
                            n2 == 0 ? "x2 = x1" : "N2=" + n2, m.shortName(),
                            budget == Long.MAX_VALUE ? "none" : budget + " B");
                    EmpiricalNtk ntk = base.method(m).memoryBudget(budget);
                    if (budget < leastOfM) {
                        checkRefusal(ntk, x1, x2, budget, leastOfM, what);
                        continue;
                    }
                    long predicted = ntk.plannedEstimate(n1, n2, net.in(), DType.F64).peakBytes();
                    assertThat(predicted).as("%s: the plan that runs fits the budget", what)
                            .isLessThanOrEqualTo(budget);
                    long measured = PredictedPeakTest.measuredPeakBytes(ntk, p, x1, x2);
                    assertThat((double) measured).as("%s: measured %d, predicted %d", what, measured, predicted)
                            .isLessThanOrEqualTo(SLACK * predicted);
                    assertThat((double) measured).as("%s: measured %d against the budget (predicted %d)", what,
                            measured, predicted).isLessThanOrEqualTo(SLACK * budget);
                }
            }
        }
    }

    /**
     * A float32 dense layer read by a product with few rows (x·W, x of 4 examples, W [256, 1024]: 1 MiB) is
     * computed from Wᵀ: a copy kept with the parameter, or, when none can be kept — here the parameters' storage was
     * handed out, as a caller that fills them through their buffers does — a transient copy of W's size for the
     * product. The prediction counts it: the measured peak stays within 10% of it for every method. Before
     * 2026-12-06 structured derivatives held 2,164,328 bytes against 1,632,240 predicted.
     */
    @org.junit.jupiter.api.Test
    void aTransientTransposedWeightIsInThePrediction() {
        org.ntk4j.nn.Model m = org.ntk4j.nn.Zoo.parse("fcn(depth=1,width=1024,out=10)");
        int[] in = {256};
        try (Params p = m.init(1, in, DType.F32);
             Tensor x = Tensor.randomNormal(DType.F32, 2, 4, 256)) {
            for (Tensor t : p.tensors().values()) {
                t.floats(); // handed out: no copy in another layout can be kept with it
            }
            for (Method method : METHODS) {
                EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method).memoryBudget(Long.MAX_VALUE);
                long predicted = ntk.plannedEstimate(4, 0, in, DType.F32).peakBytes();
                ntk.ntk(x, null).close();
                long base = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                try (Tensor k = ntk.ntk(x, null)) {
                    long measured = Tensor.peakBytes() - base + 4L * p.count() + x.bytes();
                    assertThat((double) measured).as("%s: measured %d, predicted %d", method.shortName(), measured,
                            predicted).isBetween(0.9 * predicted, 1.1 * predicted);
                }
            }
        }
    }

    /**
     * NTK-vector products of x1 with another x2 hold the other side's examples beside each VJP and JVP (x1 while the
     * VJP of f(x2) runs, x2 while the JVP of f(x1) runs), and the parameters and inputs beside the final transpose:
     * the prediction counts them. Inputs of 256 features into a dense layer of width 2: before 2026-12-06 the
     * measured peak exceeded the prediction by about x1's size (a third and more), whole and in tiles of one basis
     * vector.
     */
    @org.junit.jupiter.api.Test
    void vectorProductsCountTheOtherSidesExamples() {
        org.ntk4j.nn.Model m = org.ntk4j.nn.Zoo.parse("fcn(depth=1,width=2,out=2)");
        int[] in = {256};
        try (Params p = m.init(1, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 2, 3, 256);
             Tensor x2 = Tensor.randomNormal(DType.F64, 3, 2, 256)) {
            EmpiricalNtk vp = EmpiricalNtk.of(m, p).method(Method.NTK_VECTOR_PRODUCTS);
            long least = vp.costModel(3, 2, in, DType.F64).smallestSteps(Method.NTK_VECTOR_PRODUCTS).peakBytes();
            for (long budget : new long[] {Long.MAX_VALUE, least}) {
                EmpiricalNtk ntk = vp.memoryBudget(budget);
                long predicted = ntk.plannedEstimate(3, 2, in, DType.F64).peakBytes();
                long measured = PredictedPeakTest.measuredPeakBytes(ntk, p, x1, x2);
                assertThat((double) measured).as("budget %d: measured %d, predicted %d", budget, measured, predicted)
                        .isBetween(0.9 * predicted, 1.02 * predicted);
            }
        }
    }

    /**
     * A kernel of each example with itself (a diagonal batch axis) that not even chunks of one example fit: AUTO's
     * refusal names the least budget of chunks of one example beside the whole kernel, below the least of the whole
     * problem (which it named before 2026-12-06), and a budget of that figure runs within it.
     */
    @org.junit.jupiter.api.Test
    void theRefusalOfAKernelOfEachExampleNamesTheLeastOfChunksOfOne() {
        org.ntk4j.nn.Model m = org.ntk4j.nn.Zoo.parse("cnn(depth=1,channels=8,out=2)");
        int[] in = {6, 6, 1};
        try (Params p = m.init(1, in, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 2, 6, 6, 6, 1)) {
            EmpiricalNtk auto = EmpiricalNtk.of(m, p).diagonalAxes(0);
            CostModel c = auto.costModel(6, 0, in, DType.F64);
            long least = c.leastPeakBytes();
            assertThat(least).isLessThan(c.leastWholePeakBytes());
            assertThatThrownBy(() -> auto.memoryBudget(least - 1).ntk(x, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("needs " + CostModel.humanAtLeast(least));
            EmpiricalNtk atLeast = auto.memoryBudget(least);
            assertThat(atLeast.plannedEstimate(6, 0, in, DType.F64).peakBytes()).isLessThanOrEqualTo(least);
            long measured = PredictedPeakTest.measuredPeakBytes(atLeast, p, x, null);
            assertThat((double) measured).as("measured %d, budget %d", measured, least)
                    .isLessThanOrEqualTo(SLACK * least);
        }
    }

    /**
     * AUTO, or an explicit method, below its least budget: refused before any work, naming the budget, the method,
     * the least budget rounded up (so that the figure shown suffices) and what to do; a budget of the figure shown
     * is accepted.
     */
    private static void checkRefusal(EmpiricalNtk ntk, Tensor x1, Tensor x2, long budget, long least,
                                     String what) {
        long before = Tensor.liveBytes();
        assertThatThrownBy(() -> ntk.ntk(x1, x2)).as(what).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(CostModel.human(budget))
                .hasMessageContaining(ntk.method() == Method.AUTO ? "needs " + CostModel.humanAtLeast(least)
                        : "method " + ntk.method().shortName() + " needs at least " + CostModel.humanAtLeast(least))
                .hasMessageContaining("raise --memory");
        assertThat(Tensor.liveBytes()).as("%s: the refusal leaves nothing allocated", what).isEqualTo(before);
        long shown = parseHuman(CostModel.humanAtLeast(least));
        assertThat(shown).as(what).isGreaterThanOrEqualTo(least);
        int n2 = x2 == null ? 0 : x2.dim(0);
        assertThat(ntk.memoryBudget(shown).plannedEstimate(x1.dim(0), n2, Shapes.dropFirst(x1.shape()), DType.F64)
                .peakBytes()).as("%s: a budget of the figure shown is accepted", what).isLessThanOrEqualTo(shown);
    }

    /** The bytes of a figure of {@link CostModel#humanAtLeast} ("12.5 KiB"), as {@code --memory 12.5k} reads it. */
    private static long parseHuman(String figure) {
        String[] parts = figure.split(" ");
        int unit = java.util.List.of("B", "KiB", "MiB", "GiB", "TiB").indexOf(parts[1]);
        return new java.math.BigDecimal(parts[0]).multiply(java.math.BigDecimal.valueOf(1L << (10 * unit)))
                .setScale(0, java.math.RoundingMode.FLOOR).longValueExact();
    }
}
