package org.ntk4j.primitive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.autodiff.Jvp;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@link GatherRows} and {@link ScatterRows} against the one-hot product they replace, onehot(ids)[i, v] = [id = v]
 * + [id = v − V], contracted with the table by dot_general (the forward pass) and with the cotangent (the VJP), in
 * float64; their derivative rules against finite differences, the dot-product test and stacking; the structured
 * derivatives rule's data Gram and rows against A1·A2ᵀ and Σ_r A ⊗ D of the one-hot A.
 */
class GatherRowsTest {
    /** Ids in [−V, V) (V = 5), negative ones counting from the end, with repeats. */
    private static final double[] IDS = {0, 4, -1, 2, 2, -5, 3, 1};

    private static TensorType f64(int... shape) {
        return new TensorType(DType.F64, shape);
    }

    /** onehot[i, v] = [ids[i] = v] + [ids[i] = v − V], the importer's former one-hot, written out. */
    private static Tensor oneHot(double[] ids, int v) {
        double[] h = new double[ids.length * v];
        for (int i = 0; i < ids.length; i++) {
            for (int c = 0; c < v; c++) {
                h[i * v + c] = (ids[i] == c ? 1 : 0) + (ids[i] == c - v ? 1 : 0);
            }
        }
        return Tensor.of(h, ids.length, v);
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        assertThat(a.shape()).containsExactly(b.shape());
        double r = 0;
        for (int i = 0; i < a.size(); i++) {
            r = Math.max(r, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return r;
    }

    /**
     * Table [3, 5, 2] gathered on axis 1 by ids [2, 4]: the result [3, 2, 4, 2] is the one-hot product
     * Σ_v onehot[i, v] T[p, v, q] (dot_general, moved to [p, i, q]); the VJP's table cotangent for K = 2 stacked
     * cotangents is the transposed product Σ_i onehot[i, v] C[k, p, i, q]; the ids get none.
     */
    @Test
    void gatherAndItsVjpAreTheOneHotProductAndItsTranspose() {
        Tensor table = Tensor.randomNormal(DType.F64, 3, 3, 5, 2);
        Tensor ids = Tensor.of(IDS, 2, 4);
        Graph g = Graph.trace(List.of(f64(3, 5, 2)), v -> new Var[] {
            v[0].builder().apply(new GatherRows(1), v[0], v[0].builder().constant(ids))});
        try (Tensor hot = oneHot(IDS, 5);
             Tensor y = g.evaluate(table)[0];
             // [i, p, q] over v, then [p, i, q]
             Tensor byDot = DotGeneralKernel.dot(hot, table, new int[] {1}, new int[] {1}, new int[0], new int[0],
                     new int[] {1, 0, 2})) {
            assertThat(y.shape()).containsExactly(3, 2, 4, 2);
            try (Tensor flat = y.reshape(3, 8, 2)) {
                assertThat(maxAbsDiff(flat, byDot)).isEqualTo(0.0);
            }
        }
        Graph vjp = Vjp.of(g, 2, new boolean[] {true});
        try (Tensor ct = Tensor.randomNormal(DType.F64, 4, 2, 3, 2, 4, 2); Tensor hot = oneHot(IDS, 5)) {
            Tensor[] r = vjp.evaluate(table, ct);
            try (Tensor ctFlat = ct.reshape(2, 3, 8, 2);
                 // Σ_i onehot[i, v] C[k, p, i, q] as [k, p, v, q]
                 Tensor expected = DotGeneralKernel.dot(ctFlat, hot, new int[] {2}, new int[] {0}, new int[0],
                         new int[0], new int[] {0, 1, 3, 2})) {
                assertThat(maxAbsDiff(r[1], expected)).isLessThan(1e-14);
            } finally {
                for (Tensor t : r) {
                    t.close();
                }
            }
        }
        table.close();
        ids.close();
    }

    /** The three float64 derivative checks on the gather and on the scatter, ids constant, the values the input. */
    @Test
    void rulesPassTheDerivativeChecksOnBothPrimitives() {
        Tensor ids = Tensor.of(IDS, 4, 2);
        Graph gather = Graph.trace(List.of(f64(5, 3)), v -> new Var[] {
            v[0].builder().apply(new GatherRows(0), v[0], v[0].builder().constant(ids)).tanh()});
        LayoutOpsTest.assertDerivatives(gather, 3, 11);
        Graph scatter = Graph.trace(List.of(f64(2, 4, 2, 3)), v -> new Var[] {
            v[0].builder().apply(new ScatterRows(1, 5), v[0], v[0].builder().constant(ids)).sin()});
        LayoutOpsTest.assertDerivatives(scatter, 3, 12);
        ids.close();
    }

    /**
     * The ids have no derivative: the JVP with a tangent on the ids alone is zero (no term), and a tangent on
     * the table gives the gathered tangent.
     */
    @Test
    void idsHaveNoDerivative() {
        Graph g = Graph.trace(List.of(f64(5, 3), f64(4, 2)), v -> new Var[] {
            v[0].builder().apply(new GatherRows(0), v[0], v[1])});
        Graph jvp = Jvp.of(g, 1, new boolean[] {false, true});
        try (Tensor table = Tensor.randomNormal(DType.F64, 1, 5, 3); Tensor ids = Tensor.of(IDS, 4, 2);
             Tensor tangent = Tensor.randomNormal(DType.F64, 2, 1, 4, 2)) {
            Tensor[] r = jvp.evaluate(table, ids, tangent);
            try {
                for (int i = 0; i < r[1].size(); i++) {
                    assertThat(r[1].getFlat(i)).isEqualTo(0.0);
                }
            } finally {
                for (Tensor t : r) {
                    t.close();
                }
            }
        }
    }

    /**
     * An id out of range (5 or −6 for V = 5), not whole (2.5) or NaN gives a row of NaN in the gather (the
     * one-hot divided by its zero sum did too) and a scatter all NaN; the valid rows are untouched.
     */
    @Test
    void idsOutOfRangeGiveNaNNeverASilentZeroRow() {
        for (double bad : new double[] {5, -6, 2.5, Double.NaN}) {
            try (Tensor table = Tensor.randomNormal(DType.F64, 5, 5, 2);
                 Tensor ids = Tensor.of(new double[] {1, bad}, 2);
                 Tensor y = new GatherRows(0).evaluate(table, ids);
                 Tensor c = Tensor.randomNormal(DType.F64, 6, 2, 2);
                 Tensor s = new ScatterRows(0, 5).evaluate(c, ids)) {
                assertThat(y.get(0, 0)).isEqualTo(table.get(1, 0));
                assertThat(y.get(1, 0)).as("id %s", bad).isNaN();
                assertThat(y.get(1, 1)).isNaN();
                assertThat(s.firstNonFinite()).isEqualTo(0);
            }
        }
    }

    /** A table's axis out of range, ids in an integer dtype or values not matching the ids: one-line errors. */
    @Test
    void shapeErrorsNameTheOperands() {
        assertThatThrownBy(() -> new GatherRows(2).outputType(f64(5, 3), f64(4)))
                .hasMessage("gather_rows: axis 2 is out of range for the table f64[5,3] (expected 0 to 1)");
        assertThatThrownBy(() -> new ScatterRows(1, 5).outputType(f64(2, 4, 3), f64(3)))
                .hasMessage("scatter_rows: expects values with the ids' shape [3] at axis 1, got values f64[2,4,3]");
    }

    /** The forward pass's FLOPs do not depend on the vocabulary: one per id, not 2·N·L·V·D. */
    @Test
    void flopsDoNotScaleWithTheVocabulary() {
        for (int v : new int[] {10, 100_000}) {
            Graph g = Graph.trace(List.of(f64(v, 64), f64(8, 32)), x -> new Var[] {
                x[0].builder().apply(new GatherRows(0), x[0], x[1])});
            assertThat(GraphCost.flops(g)).isEqualTo(8.0 * 32);
            Graph vjp = Vjp.of(g, 4, new boolean[] {true, false});
            // the scatter adds the 4 · 8 · 32 · 64 cotangent values and checks the 256 ids; no term in V
            assertThat(GraphCost.flops(vjp)).isEqualTo(8.0 * 32 + 4.0 * 8 * 32 * 64 + 8.0 * 32);
        }
    }

    /**
     * The structured-derivatives rule of a table [V, 2, 3] gathered on axis 0 by ids [N, 2, 2] (R = 4): its data A
     * is the one-hot [N, R, V]; the data Gram it forms from the ids equals A1·A2ᵀ (both sides, and per example),
     * and its rows from the ids equal Σ_r A ⊗ D, both with NaN where an id is out of range.
     */
    @Test
    void consumerRuleFormsTheOneHotGramAndRowsWithoutTheOneHot() {
        int v = 5;
        double[] ids1 = {0, 4, -1, 2, 2, -5, 3, 1};
        double[] ids2 = {1, 1, -2, 0, 4, 3, 3, -3, 2, 0, 1, 4};
        TensorType table = f64(v, 2, 3);
        try (Tensor x1 = Tensor.of(ids1, 2, 2, 2); Tensor x2 = Tensor.of(ids2, 3, 2, 2)) {
            ConsumerRule.Linear rule = (ConsumerRule.Linear) new GatherRows(0).consumerRule(
                    new TensorType[] {table, TensorType.of(x1)}, f64(2, 2, 2, 2, 3), 0, new Tensor[2]);
            assertThat(rule.positions()).isEqualTo(4);
            assertThat(rule.fanIn()).isEqualTo(v);
            assertThat(rule.features()).isEqualTo(6);
            assertThat(rule.rowMajor()).isTrue();
            assertThat(rule.dataGramWithoutData()).isTrue();
            assertThat(rule.rowsWithoutData()).isTrue();
            try (Tensor a1 = rule.data(x1); Tensor a2 = rule.data(x2); Tensor hot1 = oneHot(ids1, v);
                 Tensor full = rule.dataGram(x1, x2, false);
                 Tensor fullRef = ConsumerRule.Linear.productGram(a1, a2, false);
                 Tensor own = rule.dataGram(x1, x1, true);
                 Tensor ownRef = ConsumerRule.Linear.productGram(a1, a1, true);
                 Tensor d = Tensor.randomNormal(DType.F64, 5, 3, 2, 4, 6);
                 Tensor rows = rule.rows(x1, d);
                 Tensor rowsRef = ConsumerRule.Linear.productRows(a1, d)) {
                try (Tensor flat = a1.reshape(8, v)) {
                    assertThat(maxAbsDiff(flat, hot1)).isEqualTo(0.0);
                }
                assertThat(full.shape()).containsExactly(2, 4, 3, 4);
                assertThat(maxAbsDiff(full, fullRef)).isEqualTo(0.0);
                assertThat(maxAbsDiff(own, ownRef)).isEqualTo(0.0);
                // the Gram of a factor with itself, the symmetric product: the product within round-off (one-hot
                // rows: sums of 0s and 1s, exact on any BLAS path), the same shapes
                try (Tensor self = ConsumerRule.Linear.selfGram(a1, false);
                     Tensor product = ConsumerRule.Linear.productGram(a1, a1, false);
                     Tensor selfOwn = ConsumerRule.Linear.selfGram(a1, true)) {
                    assertThat(self.shape()).containsExactly(2, 4, 2, 4);
                    assertThat(maxAbsDiff(self, product)).isLessThan(1e-15);
                    assertThat(selfOwn.shape()).containsExactly(2, 4, 4);
                    assertThat(maxAbsDiff(selfOwn, ownRef)).isLessThan(1e-15);
                }
                assertThat(maxAbsDiff(rows, rowsRef)).isLessThan(1e-14);
                assertThat(rule.dataGramFlops(2, 3, false)).isEqualTo(2.0 * 4 * 3 * 4);
                assertThat(rule.rowsFlops(2, 3)).isEqualTo(2.0 * 3 * 4 * 6);
            }
            x1.setFlat(3, 7); // out of range
            try (Tensor full = rule.dataGram(x1, x2, false); Tensor d = Tensor.randomNormal(DType.F64, 6, 1, 2, 4, 6);
                 Tensor rows = rule.rows(x1, d)) {
                assertThat(full.get(0, 3, 1, 0)).isNaN();
                assertThat(full.get(0, 2, 1, 0)).isNotNaN();
                assertThat(rows.get(0, 0, 0, 0)).isNaN(); // example 0 holds the bad id: its rows are NaN
                assertThat(rows.get(1, 0, 0, 1)).isNotNaN();
            }
        }
    }

    /** No rule for a gather on another axis (dense fallback through the scatter) or for the ids' side. */
    @Test
    void noConsumerRuleOffAxisZero() {
        Tensor[] none = new Tensor[2];
        assertThat(new GatherRows(1).consumerRule(new TensorType[] {f64(3, 5), f64(4, 2)}, f64(3, 4, 2), 0, none))
                .isNull();
        assertThat(new GatherRows(0).consumerRule(new TensorType[] {f64(5, 3), f64(4, 2)}, f64(4, 2, 3), 1, none))
                .isNull();
    }

    /**
     * No rule for ids with no positions ([N, 0]: R = 0, where a rule has R ≥ 1; its data Gram divided by the row
     * length 0), nor for no examples; the gather itself gives the empty result.
     */
    @Test
    void noConsumerRuleForEmptyIds() {
        Tensor[] none = new Tensor[2];
        assertThat(new GatherRows(0).consumerRule(new TensorType[] {f64(5, 3), f64(4, 0)}, f64(4, 0, 3), 0, none))
                .isNull();
        assertThat(new GatherRows(0).consumerRule(new TensorType[] {f64(5, 3), f64(0, 2)}, f64(0, 2, 3), 0, none))
                .isNull();
        try (Tensor table = Tensor.randomNormal(DType.F64, 1, 5, 3); Tensor ids = Tensor.zeros(DType.F64, 4, 0);
             Tensor y = new GatherRows(0).evaluate(table, ids)) {
            assertThat(y.shape()).containsExactly(4, 0, 3);
        }
    }

    /** A float32 table gathered by float64 ids: the rule forms A and its Gram in the table's dtype. */
    @Test
    void theRulesFactorsHaveTheTablesDtypeWhateverTheIds() {
        ConsumerRule.Linear rule = (ConsumerRule.Linear) new GatherRows(0).consumerRule(new TensorType[] {
            new TensorType(DType.F32, 5, 3), f64(2, 4)}, new TensorType(DType.F32, 2, 4, 3), 0, new Tensor[2]);
        try (Tensor ids = Tensor.of(DType.F64, new double[] {0, 4, -1, 2, 3, 3, 1, 0}, 2, 4);
             Tensor a = rule.data(ids); Tensor g = rule.dataGram(ids, ids, false)) {
            assertThat(a.dtype()).isEqualTo(DType.F32);
            assertThat(g.dtype()).isEqualTo(DType.F32);
            assertThat(g.getFlat(1 * 8 + 2)).isEqualTo(1.0); // ids[0, 1] = 4 and ids[0, 2] = -1 pick row 4
            assertThat(g.getFlat(0 * 8 + 1)).isEqualTo(0.0);
        }
    }

    /** Shapes: T[:a] + I + T[a+1:] for the gather, and the scatter of such values gives T's shape back. */
    @Property(tries = 60)
    void gatherAndScatterShapes(@ForAll @IntRange(min = 1, max = 3) int rank,
                                @ForAll @IntRange(min = 0, max = 2) int at,
                                @ForAll @IntRange(min = 0, max = 2) int idRank,
                                @ForAll @IntRange(min = 1, max = 4) int v) {
        int axis = at % rank;
        int[] table = new int[rank];
        for (int i = 0; i < rank; i++) {
            table[i] = i == axis ? v : 2 + i;
        }
        int[] ids = new int[idRank];
        java.util.Arrays.fill(ids, 3);
        TensorType out = new GatherRows(axis).outputType(f64(table), f64(ids));
        assertThat(out.rank()).isEqualTo(rank - 1 + idRank);
        for (int i = 0; i < idRank; i++) {
            assertThat(out.dim(axis + i)).isEqualTo(3);
        }
        assertThat(new ScatterRows(axis, v).outputType(out, f64(ids)).shape()).containsExactly(table);
    }

    /**
     * The rule's one-hot columns are the ids' rows (−1 out of range), and the default of {@link
     * ConsumerRule.Linear#oneHotColumns}, reading the rule's A, gives the same; it refuses a row of A that is not a
     * unit vector.
     */
    @Test
    void oneHotColumnsAreTheIdsRowsAsTheDefaultReadsThemFromTheOneHot() {
        int v = 5;
        double[] ids = {0, 4, -1, 2, 2, -5, 3, 9};
        TensorType table = f64(v, 3);
        try (Tensor x = Tensor.of(ids, 2, 4)) {
            ConsumerRule.Linear rule = (ConsumerRule.Linear) new GatherRows(0).consumerRule(
                    new TensorType[] {table, TensorType.of(x)}, f64(2, 4, 3), 0, new Tensor[2]);
            assertThat(rule.oneHotData()).isTrue();
            assertThat(rule.oneHotColumns(x)).containsExactly(0, 4, 4, 2, 2, 0, 3, -1);
            ConsumerRule.Linear byDefault = new ConsumerRule.Linear(new int[] {0}, new int[] {1}, 4, v, 3) {
                @Override
                public Tensor data(Tensor data) {
                    return rule.data(data);
                }

                @Override
                public Tensor cotangent(Tensor cotangent) {
                    return rule.cotangent(cotangent);
                }
            };
            assertThat(byDefault.oneHotData()).isFalse();
            assertThat(byDefault.oneHotColumns(x)).containsExactly(rule.oneHotColumns(x));
            ConsumerRule.Linear twoOnes = new ConsumerRule.Linear(new int[] {0}, new int[] {1}, 1, 2, 1) {
                @Override
                public Tensor data(Tensor data) {
                    return Tensor.of(new double[] {1, 1}, 1, 1, 2);
                }

                @Override
                public Tensor cotangent(Tensor cotangent) {
                    return cotangent.readView(cotangent.shape());
                }
            };
            assertThatThrownBy(() -> twoOnes.oneHotColumns(x)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("row 0 of the data factor is not a unit vector");
        }
    }
}
