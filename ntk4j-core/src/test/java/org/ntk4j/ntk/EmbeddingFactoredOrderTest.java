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
 * readout, y = dense(mean_r tanh(T[ids])): P = Σ_r M·A is the scatter of M's rows at the ids, the one-hot A
 * [N, R, V] is never formed. Its blocks equal the other orders' and the dense one-hot contraction computed here
 * (float64), its FLOPs are counted as planned, and the plan's peak memory (without N·R·V) is the one measured.
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
        java.util.Random random = new java.util.Random(seed);
        double[] v = new double[n * r];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 5 == 4 ? v[i - 2] : random.nextInt(2 * vocabulary) - vocabulary;
        }
        return Tensor.of(v, n, r);
    }

    private static int row(double id, int vocabulary) {
        return (int) Math.floorMod((long) id, vocabulary);
    }

    /**
     * The table's block in every order (the factored one forced) for every kind of output pairs, two sides of
     * distinct ids: each equals the dense one-hot contraction Σ_{v,f} J1[n1,o1,v,f] J2[n2,o2,v,f], J[n,o,v,f] =
     * Σ_r [id(n,r) = v] D[o,n,r,f], formed here from the pass's cotangent D (float64, 1e-12); the factored order
     * counts the FLOPs its plan predicts.
     */
    @Test
    void theFactoredOrderEqualsTheOtherOrdersAndTheOneHotContraction() {
        int vocabulary = 23;
        int features = 3;
        int out = 4;
        int n = 3;
        int r = 6;
        Model m = model(vocabulary, features, out);
        int[] in = {r};
        SidePlan side = SidePlan.of(m, n, in, DType.F64);
        StructuredDerivatives.Structured st = side.structured(0);
        assertThat(st.consumer.linear()).isNotNull();
        assertThat(side.pass().factored(st.consumer.equation.output())).as("the table's cotangent factors")
                .isNotNull();
        assertThat(StructuredDerivatives.dataByRule(st, ContractionOrder.FACTORED, false)).isNotNull();
        try (Params p = m.init(3, in, DType.F64); Tensor x1 = ids(1, n, r, vocabulary);
             Tensor x2 = ids(2, n, r, vocabulary);
             PerExamplePass pass1 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x1);
             PerExamplePass pass2 = new PerExamplePass(side, KernelSupport.paramArgs(p, m.paramSpecs(in)), x2);
             Tensor d1 = StructuredDerivatives.cotangent(pass1, st.consumer);
             Tensor d2 = StructuredDerivatives.cotangent(pass2, st.consumer)) {
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
            assertThat(largest).isGreaterThan(1e-3);
            for (OutputPairs pairs : OutputPairs.values()) {
                for (ContractionOrder order : ContractionOrder.values()) {
                    try (Tensor acc = Tensor.zeros(DType.F64, pairs.blockShape(n, n, o))) {
                        long before = FlopCount.total();
                        StructuredDerivatives.addParameterBlock(acc, st, pass1, st.consumer, pass2, st.consumer,
                                pairs, false, order);
                        long counted = FlopCount.total() - before;
                        for (int i = 0; i < acc.size(); i++) {
                            assertThat(acc.getFlat(i)).as("%s %s at %d", order, pairs, i)
                                    .isCloseTo(expected(want, pairs, i, n, o), within(1e-12 * largest));
                        }
                        if (order == ContractionOrder.FACTORED) {
                            double planned = StructuredDerivatives.blockFlops(order, st.consumer.linear(), n, n, o,
                                    r, vocabulary, features, pairs, false);
                            assertThat(planned).as("no term of V·R").isLessThan(
                                    StructuredDerivatives.factoredFlops(n, n, o, r, vocabulary, features, pairs,
                                            false));
                            // the factors' own products are counted with them by the pass
                            assertThat((double) counted).as("%s FLOPs", pairs).isBetween(planned,
                                    planned + 2.0 * n * r * features * o);
                        }
                    }
                }
            }
        }
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
}
