package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.primitive.Add;
import org.ntk4j.primitive.Conv;
import org.ntk4j.primitive.ConsumerRule;
import org.ntk4j.primitive.DotGeneral;
import org.ntk4j.primitive.Mul;
import org.ntk4j.primitive.Primitive;
import org.ntk4j.primitive.Sub;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Consumer rules live on the primitives: each declares the structure structured derivatives contract where a
 * parameter meets the data, and a primitive class the {@code ntk} package has never seen is contracted through
 * its rule with no edit there.
 */
class ConsumerRuleTest {
    private static TensorType t(int... shape) {
        return new TensorType(DType.F64, shape);
    }

    @Test
    void denseWeightOnTheRightIsOnePositionFanInByFeatures() {
        DotGeneral d = new DotGeneral(new int[] {1}, new int[] {0}, new int[0], new int[0]);
        ConsumerRule.Linear r = (ConsumerRule.Linear) d.consumerRule(new TensorType[] {t(5, 7), t(7, 3)}, t(5, 3), 1,
                new Tensor[2]);
        assertThat(new int[] {r.positions(), r.fanIn(), r.features()}).containsExactly(1, 7, 3);
        assertThat(r.dataAxes()).containsExactly(0);
        assertThat(r.featureAxes()).containsExactly(1);
        assertThat(r.rowMajor()).isTrue();
        // a token axis shares the weight: R = 4
        ConsumerRule.Linear tokens = (ConsumerRule.Linear) new DotGeneral(new int[] {2}, new int[] {0}, new int[0],
                new int[0]).consumerRule(new TensorType[] {t(5, 4, 7), t(7, 3)}, t(5, 4, 3), 1, new Tensor[2]);
        assertThat(tokens.positions()).isEqualTo(4);
        // contracting the example axis is not a per-example structure
        assertThat(new DotGeneral(new int[] {0}, new int[] {0}, new int[0], new int[0])
                .consumerRule(new TensorType[] {t(5, 7), t(5, 3)}, t(7, 3), 1, new Tensor[2])).isNull();
    }

    @Test
    void convFilterIsPositionsByPatchByChannelsAndTheInputHasNoRule() {
        Conv c = new Conv(Convolution.Window.of(new int[] {1, 1}, new int[][] {{0, 0}, {0, 0}}, new int[] {1, 1}));
        TensorType[] in = {t(2, 6, 6, 3), t(3, 3, 3, 8)};
        TensorType out = t(2, 4, 4, 8);
        ConsumerRule.Linear r = (ConsumerRule.Linear) c.consumerRule(in, out, 1, new Tensor[2]);
        assertThat(new int[] {r.positions(), r.fanIn(), r.features()}).containsExactly(16, 27, 8);
        assertThat(r.rowMajor()).isTrue();
        assertThat(c.consumerRule(in, out, 0, new Tensor[2])).isNull();
    }

    /**
     * The data factor with one more constant column (a bias joining the row order): the conv's patches written
     * with it in place (strided im2col, padding windows included), and a dense layer's by the rule's default copy,
     * each equal to A with the column appended, element for element.
     */
    @Test
    void theDataFactorWithAConstantColumnIsTheFactorWithTheColumnAppended() {
        Conv c = new Conv(Convolution.Window.of(new int[] {2, 1}, new int[][] {{1, 1}, {0, 1}}, new int[] {1, 1}));
        TensorType[] in = {t(2, 6, 5, 3), t(3, 2, 3, 4)};
        ConsumerRule.Linear conv = (ConsumerRule.Linear) c.consumerRule(in, c.outputType(in), 1, new Tensor[2]);
        DotGeneral d = new DotGeneral(new int[] {2}, new int[] {0}, new int[0], new int[0]);
        ConsumerRule.Linear dense = (ConsumerRule.Linear) d.consumerRule(new TensorType[] {t(2, 4, 7), t(7, 3)},
                t(2, 4, 3), 1, new Tensor[2]);
        Object[][] cases = {{conv, Tensor.randomNormal(DType.F64, 1, 2, 6, 5, 3)},
            {dense, Tensor.randomNormal(DType.F64, 2, 2, 4, 7)}};
        for (Object[] k : cases) {
            ConsumerRule.Linear r = (ConsumerRule.Linear) k[0];
            try (Tensor x = (Tensor) k[1]; Tensor a = r.data(x); Tensor wide = r.data(x, 0.75)) {
                int rows = a.dim(0) * a.dim(1);
                int cols = a.dim(2);
                assertThat(wide.shape()).containsExactly(a.dim(0), a.dim(1), cols + 1);
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        assertThat(wide.getFlat(i * (cols + 1) + j)).isEqualTo(a.getFlat(i * cols + j));
                    }
                    assertThat(wide.getFlat(i * (cols + 1) + cols)).isEqualTo(0.75);
                }
            }
        }
    }

    /**
     * Where D is y's stacked cotangent reshaped (a conv filter, a dense weight on the right) the rule reads δ in
     * place: no storage of its own, δ's elements, and closing it leaves δ open.
     */
    @Test
    void aCotangentThatIsAReshapeIsAViewOfDelta() {
        Conv conv = new Conv(Convolution.Window.of(new int[] {1, 1}, new int[][] {{0, 0}, {0, 0}},
                new int[] {1, 1}));
        ConsumerRule.Linear c = (ConsumerRule.Linear) conv.consumerRule(new TensorType[] {t(2, 6, 6, 3),
            t(3, 3, 3, 8)}, t(2, 4, 4, 8), 1, new Tensor[2]);
        DotGeneral right = new DotGeneral(new int[] {1}, new int[] {0}, new int[0], new int[0]);
        ConsumerRule.Linear r = (ConsumerRule.Linear) right.consumerRule(new TensorType[] {t(2, 7), t(7, 3)},
                t(2, 3), 1, new Tensor[2]);
        assertThat(new boolean[] {c.cotangentIsReshape(), r.cotangentIsReshape()}).containsOnly(true);
        try (Tensor dc = Tensor.randomNormal(DType.F64, 1, 5, 2, 4, 4, 8);
             Tensor dr = Tensor.randomNormal(DType.F64, 2, 5, 2, 3)) {
            for (Object[] rule : new Object[][] {{c, dc, new int[] {5, 2, 16, 8}}, {r, dr, new int[] {5, 2, 1, 3}}}) {
                Tensor delta = (Tensor) rule[1];
                long live = Tensor.liveBytes();
                Tensor d = ((ConsumerRule.Linear) rule[0]).cotangent(delta);
                assertThat(Tensor.liveBytes()).as("a view: no storage of its own").isEqualTo(live);
                assertThat(d.shape()).containsExactly((int[]) rule[2]);
                for (int i = 0; i < delta.size(); i += 7) {
                    assertThat(d.getFlat(i)).isEqualTo(delta.getFlat(i));
                }
                d.close();
                assertThat(delta.isClosed()).isFalse();
            }
        }
    }

    @Test
    void broadcastRulesSumTheBroadcastAxesWithTheirSign() {
        TensorType[] in = {t(5, 4, 3), t(3)};
        ConsumerRule.Broadcast add = (ConsumerRule.Broadcast) Add.INSTANCE.consumerRule(in, t(5, 4, 3), 1,
                new Tensor[2]);
        assertThat(add.broadcastAxes()).containsExactly(1);
        assertThat(add.sign()).isEqualTo(1.0);
        assertThat(add.timesOther()).isFalse();
        ConsumerRule.Broadcast sub = (ConsumerRule.Broadcast) Sub.INSTANCE.consumerRule(in, t(5, 4, 3), 1,
                new Tensor[2]);
        assertThat(sub.sign()).isEqualTo(-1.0);
        ConsumerRule.Broadcast mul = (ConsumerRule.Broadcast) Mul.INSTANCE.consumerRule(in, t(5, 4, 3), 1,
                new Tensor[2]);
        assertThat(mul.timesOther()).isTrue();
        // one multiplication and one summed element per element of δ [K] + y
        assertThat(mul.rowFlops(2, t(5, 4, 3))).isEqualTo(2.0 * 2 * 60);
        assertThat(add.rowFlops(2, t(5, 4, 3))).isEqualTo(2.0 * 60);
        // a parameter spanning the example axis is not broadcast over it: no per-example rule
        assertThat(Add.INSTANCE.consumerRule(new TensorType[] {t(5, 3), t(5, 3)}, t(5, 3), 1, new Tensor[2]))
                .isNull();
    }

    /**
     * A primitive class unknown to the ntk package (a right matmul written as its own class, delegating its
     * evaluation and derivatives to dot_general) with a consumer rule: structured derivatives contract its
     * parameter through the rule — classified structured, equal to Jacobian contraction — with no edit in ntk.
     */
    @Test
    void aNewPrimitiveWithARuleIsStructuredWithoutAnEditInNtk() {
        DotGeneral inner = new DotGeneral(new int[] {1}, new int[] {0}, new int[0], new int[0]);
        Primitive custom = new Primitive() {
            @Override
            public String name() {
                return "my_matmul";
            }

            @Override
            public TensorType outputType(TensorType... inputs) {
                return inner.outputType(inputs);
            }

            @Override
            public double flops(TensorType[] inputs, TensorType output) {
                return inner.flops(inputs, output);
            }

            @Override
            public Tensor evaluate(Tensor... inputs) {
                return inner.evaluate(inputs);
            }

            @Override
            public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
                return inner.jvp(primals, out, tangents, k);
            }

            @Override
            public Var[] vjp(Var[] primals, Var out, Var cotangent, boolean[] needed) {
                return inner.vjp(primals, out, cotangent, needed);
            }

            @Override
            public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] cs) {
                return inner.consumerRule(inputs, output, operand, cs);
            }
        };
        Model m = org.ntk4j.Fixtures.twoLayerModel(custom, "custom");
        int[] shape = {4};
        Params p = m.init(5, shape, DType.F64);
        ParameterConsumers pc = new ParameterConsumers(m.trace(3, shape, DType.F64), 2);
        for (int q = 0; q < 2; q++) {
            assertThat(StructuredDerivatives.classify(pc, q)).as("parameter %d", q).isNotNull();
        }
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, 3, 4);
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, 2, 4);
        EmpiricalNtk base = EmpiricalNtk.of(m, p).traceAxes();
        try (Tensor jc = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, x2);
             Tensor sd = base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, x2)) {
            assertThat(EmpiricalNtkTest.relativeError(sd, jc)).isLessThan(1e-10);
        }
        assertThat(base.costModel(3, 2, shape, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES).note())
                .startsWith("2 of 2 parameters structured");
    }
}
