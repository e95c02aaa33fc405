package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.graph.TensorType;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.primitive.GatherRows;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives of an embedding table (gather_rows' consumer rule): the Gram, sandwich and row orders
 * formed from the ids (id equality, a scatter of the cotangent's rows) give the blocks of the same orders on the
 * one-hot data factor A, for every output pairing, a side with itself and two sides, in float64; and count the
 * FLOPs they run, which do not grow with the vocabulary V.
 */
class IdRowsBlockTest {
    private static final int V = 7;

    private static ConsumerRule.Linear rule(Tensor ids) {
        return (ConsumerRule.Linear) new GatherRows(0).consumerRule(new TensorType[] {
            new TensorType(DType.F64, V, 3), TensorType.of(ids)}, new TensorType(DType.F64, ids.dim(0), 2, 2, 3), 0,
                new Tensor[2]);
    }

    /**
     * One parameter's block in {@code order} on its own: zeros plus the kernel's {@link StructuredDerivatives#addBlock}
     * with s2 = 1 and no bias, by the rule from the ids where it is given, else from the one-hot data factors.
     */
    private static Tensor block(ConsumerRule.Linear byRule, Tensor x1, Tensor d1, Tensor x2, Tensor d2,
                                OutputPairs pairs, boolean same, ContractionOrder order) {
        Tensor out = Tensor.zeros(d1.dtype(), pairs.blockShape(d1.dim(1), d2.dim(1), d1.dim(0)));
        StructuredDerivatives.addBlock(out, byRule, x1, d1, x2, d2, pairs, same, 1.0, order, Double.NaN);
        return out;
    }

    @Test
    void ordersFromTheIdsEqualTheOrdersOnTheOneHot() {
        double[] ids1 = {0, 6, -1, 2, 2, -7, 3, 1, 5, 5, 0, 4};
        double[] ids2 = {1, 1, -2, 0, 4, 3, 3, -3, 2, 0, 1, 4};
        int o = 2;
        try (Tensor x1 = Tensor.of(ids1, 3, 2, 2); Tensor x2 = Tensor.of(ids2, 3, 2, 2)) {
            ConsumerRule.Linear rule = rule(x1);
            try (Tensor a1 = rule.data(x1); Tensor a2 = rule.data(x2);
                 Tensor d1 = Tensor.randomNormal(DType.F64, 1, o, 3, 4, 3);
                 Tensor d2 = Tensor.randomNormal(DType.F64, 2, o, 3, 4, 3)) {
                for (ContractionOrder order : new ContractionOrder[] {ContractionOrder.GRAM, ContractionOrder.SANDWICH,
                    ContractionOrder.ROWS}) {
                    for (OutputPairs pairs : OutputPairs.values()) {
                        for (boolean same : new boolean[] {true, false}) {
                            Tensor y2 = same ? x1 : x2;
                            Tensor b2 = same ? a1 : a2;
                            Tensor e2 = same ? d1 : d2;
                            long before = FlopCount.total();
                            try (Tensor byIds = block(rule, x1, d1, y2, e2, pairs, same, order)) {
                                long counted = FlopCount.total() - before;
                                try (Tensor byOneHot = block(null, a1, d1, b2, e2, pairs, same,
                                        order)) {
                                    double scale = 0;
                                    double diff = 0;
                                    for (int i = 0; i < byOneHot.size(); i++) {
                                        scale = Math.max(scale, Math.abs(byOneHot.getFlat(i)));
                                        diff = Math.max(diff, Math.abs(byIds.getFlat(i) - byOneHot.getFlat(i)));
                                    }
                                    assertThat(scale).isGreaterThan(0.1);
                                    assertThat(diff).as("%s %s same=%s", order, pairs, same)
                                            .isLessThanOrEqualTo(1e-13 * scale);
                                }
                                double expected = StructuredDerivatives.blockFlops(order, rule, 3, 3, o, 4, V, 3,
                                        pairs, same);
                                assertThat((double) counted).as("%s %s FLOPs", order, pairs)
                                        .isCloseTo(expected, org.assertj.core.data.Offset.offset(1.0));
                                assertThat(expected).isLessThan(order.flops(3, 3, o, 4, V, 3, pairs, same));
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * The FLOPs of the Gram and sandwich orders with the rule differ by nothing between V = 10 and V = 100000 (the
     * row order's rows are V·F wide per output: its contraction grows with V, as Jacobian contraction's does).
     */
    @Test
    void flopsByTheRuleDoNotDependOnTheVocabulary() {
        for (ContractionOrder order : new ContractionOrder[] {ContractionOrder.GRAM, ContractionOrder.SANDWICH}) {
            ConsumerRule.Linear small = new GatherRows(0).consumerRule(new TensorType[] {
                new TensorType(DType.F64, 10, 3), new TensorType(DType.F64, 8, 32)},
                    new TensorType(DType.F64, 8, 32, 3), 0, new Tensor[2]) instanceof ConsumerRule.Linear l ? l : null;
            ConsumerRule.Linear large = new GatherRows(0).consumerRule(new TensorType[] {
                new TensorType(DType.F64, 100_000, 3), new TensorType(DType.F64, 8, 32)},
                    new TensorType(DType.F64, 8, 32, 3), 0, new Tensor[2]) instanceof ConsumerRule.Linear l ? l : null;
            double a = StructuredDerivatives.blockFlops(order, small, 8, 8, 4, 32, 10, 3, OutputPairs.TRACE, true);
            double b = StructuredDerivatives.blockFlops(order, large, 8, 8, 4, 32, 100_000, 3, OutputPairs.TRACE,
                    true);
            assertThat(b).as("%s", order).isEqualTo(a);
        }
    }
}
