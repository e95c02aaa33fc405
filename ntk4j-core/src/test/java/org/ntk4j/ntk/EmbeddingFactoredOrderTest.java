package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.primitive.GatherRows;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The factored order of structured derivatives for an embedding table (gather_rows' consumer rule) under a pooled
 * readout, y = dense(mean_r tanh(T[ids])): P = Σ_r M·A is kept as its nonzero columns, M's rows summed per
 * distinct id of an example, and Q = Σ_v P1 P2 pairs the examples' equal ids ({@link OneHotFactored}): neither the
 * one-hot A [N, R, V] nor P [N, F, V] is formed. Its blocks equal the other orders' and the dense one-hot
 * contraction computed here (float64), its FLOPs are counted as planned, and the plan's peak memory (nothing of V)
 * is the one measured.
 */
class EmbeddingFactoredOrderTest {
    /** An embedding table [V, F] read at the ids [R] of each example (the ONNX Gather of token ids). */
    private record Embedding(int vocabulary, int features) implements Layer {
        @Override
        public String kind() {
            return "embedding";
        }

        @Override
        public List<int[]> outputShapes(List<int[]> inputShapes) {
            return List.of(new int[] {inputShapes.get(0)[0], features});
        }

        @Override
        public void declare(ParamScope scope, List<int[]> inputShapes) {
            scope.declare("table", new int[] {vocabulary, features}, 1.0, 0.0);
        }

        @Override
        public List<Var> apply(ParamScope scope, List<Var> inputs) {
            Var table = scope.get("table");
            return List.of(table.builder().apply(new GatherRows(0), table, inputs.get(0)));
        }
    }

    private static Model model(int vocabulary, int features, int out) {
        return new Model(Layers.serial(new Embedding(vocabulary, features), Layers.tanh(), Layers.globalAvgPool(),
                Layers.dense(out)), "embedding-bag");
    }

    /** n examples of r ids in [−V, V) (negative ones count from the end), repeats within an example included. */
    private static Tensor ids(long seed, int n, int r, int vocabulary) {
        return Tensor.of(idValues(seed, n, r, vocabulary), n, r);
    }

    /** The values of {@link #ids}. */
    private static double[] idValues(long seed, int n, int r, int vocabulary) {
        java.util.Random random = new java.util.Random(seed);
        double[] v = new double[n * r];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 5 == 4 ? v[i - 2] : random.nextInt(2 * vocabulary) - vocabulary;
        }
        return v;
    }

    private static int row(double id, int vocabulary) {
        return Math.floorMod((long) id, vocabulary);
    }

    /**
     * The table's block in every order (the factored one forced) for every kind of output pairs, x2 = x1 (one
     * pass) and apart, for ids that repeat within an example and are shared across examples (some negative,
     * counting from the end), ids that no two examples share, and one id everywhere: each block equals the dense
     * one-hot contraction Σ_{v,f} J1[n1,o1,v,f] J2[n2,o2,v,f], J[n,o,v,f] = Σ_r [id(n,r) = v] D[o,n,r,f], formed
     * here from the pass's cotangent D (float64, 1e-12 of the largest entry); the factored order runs without P
     * over V and counts exactly the FLOPs its plan predicts, besides the factors' own products.
     */
    @Test
    void theFactoredOrderEqualsTheOtherOrdersAndTheOneHotContraction() {
        int vocabulary = 23;
        int n = 3;
        int r = 6;
        java.util.Random random = new java.util.Random(11);
        double[] disjoint1 = new double[n * r];
        double[] disjoint2 = new double[n * r];
        for (int i = 0; i < n * r; i++) { // example e of side s reads ids in [(2e + s)·3, (2e + s)·3 + 3)
            disjoint1[i] = (2 * (i / r)) * 3 + random.nextInt(3);
            disjoint2[i] = (2 * (i / r) + 1) * 3 + random.nextInt(3);
        }
        double[] one = new double[n * r];
        java.util.Arrays.fill(one, 7);
        double[][][] cases = {{idValues(1, n, r, vocabulary), idValues(2, n, r, vocabulary)}, {disjoint1, disjoint2},
            {one, one}};
        for (double[][] c : cases) {
            for (boolean same : new boolean[] {false, true}) {
                try (Tensor x1 = Tensor.of(c[0], n, r); Tensor x2 = Tensor.of(c[1], n, r)) {
                    checkEveryOrder(vocabulary, 3, 4, x1, same ? x1 : x2);
                }
            }
        }
    }

    /**
     * The checks of {@link #theFactoredOrderEqualsTheOtherOrdersAndTheOneHotContraction} for the ids x1 and x2
     * (x2 = x1: the kernel of one pass with itself, the factored order's pairs n2 ≥ n1 only).
     */
    private static void checkEveryOrder(int vocabulary, int features, int out, Tensor x1, Tensor x2) {
        int n = x1.dim(0);
        int r = x1.dim(1);
        boolean same = x2 == x1;
        Model m = model(vocabulary, features, out);
        int[] in = {r};
        SidePlan side = SidePlan.of(m, n, in, DType.F64);
        StructuredDerivatives.Structured st = side.structured(0);
        assertThat(st.consumer.linear()).isNotNull();
        SidePlan.Pass.Factored factored = side.pass().factored(st.consumer.equation.output());
        assertThat(factored).as("the table's cotangent factors").isNotNull();
        assertThat(StructuredDerivatives.dataByRule(st, ContractionOrder.FACTORED, false)).isNotNull();
        try (Params p = m.init(3, in, DType.F64);
             PerExamplePass pass1 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x1);
             PerExamplePass pass2 = same ? null
                     : new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x2);
             Tensor d1 = StructuredDerivatives.cotangent(pass1, st.consumer);
             Tensor d2 = StructuredDerivatives.cotangent(same ? pass1 : pass2, st.consumer)) {
            PerExamplePass second = same ? pass1 : pass2;
            int o = d1.dim(0);
            double[][][][] j1 = oneHotRows(x1, d1, vocabulary);
            double[][][][] j2 = oneHotRows(x2, d2, vocabulary);
            // the full block [n1, o1, n2, o2]
            double[][][][] want = new double[n][o][n][o];
            double largest = 0;
            for (int a = 0; a < n; a++) {
                for (int oa = 0; oa < o; oa++) {
                    for (int b = 0; b < n; b++) {
                        for (int ob = 0; ob < o; ob++) {
                            double s = 0;
                            for (int v = 0; v < vocabulary; v++) {
                                for (int f = 0; f < features; f++) {
                                    s += j1[a][oa][v][f] * j2[b][ob][v][f];
                                }
                            }
                            want[a][oa][b][ob] = s;
                            largest = Math.max(largest, Math.abs(s));
                        }
                    }
                }
            }
            // the scale of the entries, x1's diagonal (ids no two examples share give a block of zeros apart)
            for (int a = 0; a < n; a++) {
                for (int oa = 0; oa < o; oa++) {
                    double s = 0;
                    for (int v = 0; v < vocabulary; v++) {
                        for (int f = 0; f < features; f++) {
                            s += j1[a][oa][v][f] * j1[a][oa][v][f];
                        }
                    }
                    largest = Math.max(largest, s);
                }
            }
            assertThat(largest).isGreaterThan(1e-3);
            for (OutputPairs pairs : OutputPairs.values()) {
                for (ContractionOrder order : ContractionOrder.values()) {
                    try (Tensor acc = Tensor.zeros(DType.F64, pairs.blockShape(n, n, o))) {
                        long before = FlopCount.total();
                        StructuredDerivatives.addParameterBlock(acc, st, pass1, st.consumer, second, st.consumer,
                                pairs, same, order);
                        long counted = FlopCount.total() - before;
                        for (int i = 0; i < acc.size(); i++) {
                            // of a side with itself, the blocks n2 ≥ n1 (the kernel mirrors the others)
                            if (same && !pairs.perExample() && lowerBlock(pairs, i, n, o)) {
                                continue;
                            }
                            assertThat(acc.getFlat(i)).as("%s %s %s at %d", order, pairs, same, i)
                                    .isCloseTo(expected(want, pairs, i, n, o), within(1e-12 * largest));
                        }
                        if (order == ContractionOrder.FACTORED) {
                            double planned = StructuredDerivatives.blockFlops(order, st.consumer.linear(), n, n, o,
                                    r, vocabulary, features, pairs, same);
                            assertThat(planned).as("no term of V").isLessThan(
                                    StructuredDerivatives.factoredFlops(n, n, o, r, vocabulary, features, pairs,
                                            same));
                            assertThat((double) counted).as("%s FLOPs", pairs).isEqualTo(planned
                                    + (same ? 1 : 2) * factored.factors().formationFlops());
                        }
                    }
                }
            }
        }
    }

    /** Whether element i of a block of {@code pairs} (not per example) is of a pair of examples n2 &lt; n1. */
    private static boolean lowerBlock(OutputPairs pairs, int i, int n, int o) {
        return switch (pairs) {
            case FULL -> i / o % n < i / (o * n * o); // [n1, o1, n2, o2]
            case DIAGONAL -> i / o % n < i / (n * o); // [n1, n2, o]
            default -> i % n < i / n;                 // [n1, n2]
        };
    }

    private static org.assertj.core.data.Offset<Double> within(double tolerance) {
        return org.assertj.core.data.Offset.offset(tolerance);
    }

    /** J[n][o][v][f] = Σ_r onehot(id(n, r))[v] D[o, n, r, f], the one-hot A formed densely. */
    private static double[][][][] oneHotRows(Tensor ids, Tensor d, int vocabulary) {
        int o = d.dim(0);
        int n = d.dim(1);
        int r = d.dim(2);
        int features = d.dim(3);
        double[][][] a = new double[n][r][vocabulary];
        for (int e = 0; e < n; e++) {
            for (int q = 0; q < r; q++) {
                a[e][q][row(ids.getFlat(e * r + q), vocabulary)] = 1;
            }
        }
        double[][][][] j = new double[n][o][vocabulary][features];
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < o; k++) {
                for (int v = 0; v < vocabulary; v++) {
                    for (int f = 0; f < features; f++) {
                        double s = 0;
                        for (int q = 0; q < r; q++) {
                            s += a[e][q][v] * d.getFlat(((k * n + e) * r + q) * features + f);
                        }
                        j[e][k][v][f] = s;
                    }
                }
            }
        }
        return j;
    }

    /** Element i of the block of {@code pairs} from the full block [n1, o1, n2, o2] (per example: n1 = n2). */
    private static double expected(double[][][][] full, OutputPairs pairs, int i, int n, int o) {
        switch (pairs) {
            case FULL:
                return full[i / (o * n * o)][i / (n * o) % o][i / o % n][i % o];
            case DIAGONAL:
                return full[i / (n * o)][i % o][i / o % n][i % o];
            case TRACE: {
                double s = 0;
                for (int k = 0; k < o; k++) {
                    s += full[i / n][k][i % n][k];
                }
                return s;
            }
            case PER_EXAMPLE:
                return full[i / (o * o)][i / o % o][i / (o * o)][i % o];
            default: { // PER_EXAMPLE_TRACE
                double s = 0;
                for (int k = 0; k < o; k++) {
                    s += full[i][k][i][k];
                }
                return s;
            }
        }
    }

    /**
     * A vocabulary of 5,000 and 64 positions (N·R·V = 1.3e6 values of a one-hot): the plan takes the factored
     * order for the table,
     * the kernel equals Jacobian contraction's, and the predicted peak is the measured one within 10% — below the
     * one-hot's N·R·V alone, for every kind of output pairs, x2 = x1 and apart.
     */
    @Test
    void aLargeVocabularyTakesTheFactoredOrderWithoutTheOneHot() {
        int vocabulary = 5_000;
        int n = 4;
        int r = 64;
        Model m = model(vocabulary, 2, 10);
        int[] in = {r};
        long oneHotBytes = 8L * n * r * vocabulary;
        int[][][] axes = {{{}, {}}, {{-1}, {}}, {{}, {-1}}, {{}, {0}}, {{-1}, {0}}}; // {trace, diagonal}
        org.assertj.core.api.SoftAssertions soft = new org.assertj.core.api.SoftAssertions();
        try (Params p = m.init(5, in, DType.F64); Tensor x1 = ids(3, n, r, vocabulary);
             Tensor x2 = ids(4, n, r, vocabulary)) {
            SidePlan side = SidePlan.of(m, n, in, DType.F64);
            StructuredDerivatives.Structured st = side.structured(0);
            for (int[][] a : axes) {
                for (Tensor second : new Tensor[] {x2, null}) {
                    EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1])
                            .method(Method.STRUCTURED_DERIVATIVES);
                    CostModel cm = ntk.costModel(n, second == null ? 0 : n, in, DType.F64);
                    OutputPairs pairs = OutputPairs.of(cm.axes);
                    ContractionOrder order = null;
                    for (SdPlan.Step s : side.sdPlan(n, n, side.o, second == null, pairs).steps) {
                        if (s instanceof SdPlan.Linear l && l.st().consumer == st.consumer) {
                            order = l.order();
                        }
                    }
                    soft.assertThat(order).as("%s", pairs).isEqualTo(ContractionOrder.FACTORED);
                    long predicted = cm.estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
                    long measured = PredictedPeakTest.measuredPeakBytes(ntk, p, x1, second);
                    soft.assertThat((double) predicted / measured).as("%s x2 %s: predicted %d, measured %d", pairs,
                            second == null ? "= x1" : "apart", predicted, measured).isBetween(0.9, 1.1);
                    soft.assertThat(predicted).as("%s", pairs).isLessThan(oneHotBytes);
                    try (Tensor sd = ntk.ntk(x1, second);
                         Tensor jc = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1])
                                 .method(Method.JACOBIAN_CONTRACTION).ntk(x1, second)) {
                        soft.assertThat(Fixtures.relativeError(sd, jc)).as("%s sd vs jc", pairs).isLessThan(1e-12);
                    }
                }
            }
        }
        soft.assertAll();
    }

    /**
     * Of the plan for the factored order, nothing grows with the vocabulary: for every kind of output pairs, x2 = x1
     * and apart, the table's step in a model of 50,000 tokens (N = 4, R = 64) takes the factored order with the
     * FLOPs of one of 5,000 tokens, and the predicted peak of the whole kernel grows by the larger table's values
     * alone (P over V would add N·F·V values a side).
     */
    @Test
    void theFactoredOrdersPlanHoldsNothingOfTheVocabulary() {
        int n = 4;
        int r = 64;
        int features = 2;
        int[] in = {r};
        int[][][] axes = {{{}, {}}, {{-1}, {}}, {{}, {-1}}, {{}, {0}}, {{-1}, {0}}}; // {trace, diagonal}
        int[] vocabularies = {5_000, 50_000};
        for (int[][] a : axes) {
            for (boolean apart : new boolean[] {false, true}) {
                long[] peaks = new long[2];
                double[] flops = new double[2];
                for (int k = 0; k < 2; k++) {
                    Model m = model(vocabularies[k], features, 10);
                    try (Params p = m.init(5, in, DType.F64)) {
                        EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1])
                                .method(Method.STRUCTURED_DERIVATIVES);
                        CostModel cm = ntk.costModel(n, apart ? n : 0, in, DType.F64);
                        OutputPairs pairs = OutputPairs.of(cm.axes);
                        SidePlan side = SidePlan.of(m, n, in, DType.F64);
                        StructuredDerivatives.Structured st = side.structured(0);
                        ContractionOrder order = null;
                        for (SdPlan.Step s : side.sdPlan(n, n, side.o, !apart, pairs).steps) {
                            if (s instanceof SdPlan.Linear l && l.st().consumer == st.consumer) {
                                order = l.order();
                            }
                        }
                        assertThat(order).as("%s", pairs).isEqualTo(ContractionOrder.FACTORED);
                        flops[k] = StructuredDerivatives.blockFlops(order, st.consumer.linear(), n, n, side.o, r,
                                vocabularies[k], features, pairs, !apart);
                        peaks[k] = cm.estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
                    }
                }
                assertThat(flops[1]).as("%s apart %s: block FLOPs", java.util.Arrays.deepToString(a), apart)
                        .isEqualTo(flops[0]);
                assertThat(peaks[1] - peaks[0]).as("%s apart %s: peak", java.util.Arrays.deepToString(a), apart)
                        .isEqualTo(8L * features * (vocabularies[1] - vocabularies[0]));
            }
        }
    }

    /**
     * An id out of range (a row of NaN in the one-hot, and NaN forward values): the factored order's block is NaN
     * at the pairs of that example, as the Gram order's id equality gives, for every kind of output pairs, and
     * equal to it elsewhere (1e-12) — never a finite value where the one-hot's product has none.
     */
    @Test
    void anIdOutOfRangeMakesItsExamplesPairsNaN() {
        int vocabulary = 11;
        int n = 3;
        int r = 4;
        Model m = model(vocabulary, 2, 3);
        int[] in = {r};
        SidePlan side = SidePlan.of(m, n, in, DType.F64);
        StructuredDerivatives.Structured st = side.structured(0);
        double[] bad = idValues(5, n, r, vocabulary);
        bad[r + 2] = vocabulary + 3; // example 1
        try (Params p = m.init(3, in, DType.F64); Tensor x1 = Tensor.of(bad, n, r);
             Tensor x2 = ids(6, n, r, vocabulary);
             PerExamplePass pass1 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x1);
             PerExamplePass pass2 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x2)) {
            int o = side.o;
            for (OutputPairs pairs : OutputPairs.values()) {
                try (Tensor factored = Tensor.zeros(DType.F64, pairs.blockShape(n, n, o));
                     Tensor gram = Tensor.zeros(DType.F64, pairs.blockShape(n, n, o))) {
                    StructuredDerivatives.addParameterBlock(factored, st, pass1, st.consumer, pass2, st.consumer,
                            pairs, false, ContractionOrder.FACTORED);
                    StructuredDerivatives.addParameterBlock(gram, st, pass1, st.consumer, pass2, st.consumer,
                            pairs, false, ContractionOrder.GRAM);
                    long nan = 0;
                    for (int i = 0; i < gram.size(); i++) {
                        double want = gram.getFlat(i);
                        if (Double.isNaN(want)) {
                            nan++;
                            assertThat(factored.getFlat(i)).as("%s at %d", pairs, i).isNaN();
                        } else {
                            assertThat(factored.getFlat(i)).as("%s at %d", pairs, i)
                                    .isCloseTo(want, within(1e-12 * Math.max(1, Math.abs(want))));
                        }
                    }
                    assertThat(nan).as("%s: the pairs of example 1", pairs).isEqualTo(pairs.perExample()
                            ? gram.size() / n : pairs.blockSize(1, n, o));
                }
            }
        }
    }

    /**
     * In float32 the factored order's block equals the Gram order's (id equality, another order of the same sums)
     * within 1e-5 of the largest entry, for every kind of output pairs, x2 = x1 and apart.
     */
    @Test
    void float32BlocksAgreeWithTheGramOrder() {
        int vocabulary = 40;
        int n = 5;
        int r = 8;
        Model m = model(vocabulary, 4, 3);
        int[] in = {r};
        SidePlan side = SidePlan.of(m, n, in, DType.F32);
        StructuredDerivatives.Structured st = side.structured(0);
        try (Params p = m.init(3, in, DType.F32);
             Tensor x1 = Tensor.of(DType.F32, idValues(8, n, r, vocabulary), n, r);
             Tensor x2 = Tensor.of(DType.F32, idValues(9, n, r, vocabulary), n, r);
             PerExamplePass pass1 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x1);
             PerExamplePass pass2 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x2)) {
            for (boolean same : new boolean[] {false, true}) {
                PerExamplePass second = same ? pass1 : pass2;
                for (OutputPairs pairs : OutputPairs.values()) {
                    try (Tensor factored = Tensor.zeros(DType.F32, pairs.blockShape(n, n, side.o));
                         Tensor gram = Tensor.zeros(DType.F32, pairs.blockShape(n, n, side.o))) {
                        StructuredDerivatives.addParameterBlock(factored, st, pass1, st.consumer, second,
                                st.consumer, pairs, same, ContractionOrder.FACTORED);
                        StructuredDerivatives.addParameterBlock(gram, st, pass1, st.consumer, second, st.consumer,
                                pairs, same, ContractionOrder.GRAM);
                        double largest = 0;
                        for (int i = 0; i < gram.size(); i++) {
                            largest = Math.max(largest, Math.abs(gram.getFlat(i)));
                        }
                        assertThat(largest).isGreaterThan(1e-3);
                        for (int i = 0; i < gram.size(); i++) {
                            if (same && !pairs.perExample() && lowerBlock(pairs, i, n, side.o)) {
                                continue;
                            }
                            assertThat(factored.getFlat(i)).as("%s %s at %d", pairs, same, i)
                                    .isCloseTo(gram.getFlat(i), within(1e-5 * largest));
                        }
                    }
                }
            }
        }
    }
}
