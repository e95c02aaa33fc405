package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives' structure rules, one primitive at a time: a parameter θ reaches the data through
 * that primitive (or is consumed by it), and SD must equal Jacobian contraction (1e-10, float64) and the
 * finite-difference oracle (1e-6), through the rule — {@link StructuredDerivatives#classify} gives a structured
 * form, not the dense fallback — with the cost model's FLOPs following it. Inputs are [N, 4], outputs [N, 3].
 */
class StructureRulesTest {
    /** A one-parameter layer: θ of {@code shape} and y = body(θ, x). */
    record Case(String name, int[] shape, BiFunction<Var, Var, Var> body, boolean structured,
                PathGram.Kind[] gramKinds) {
        @Override
        public String toString() {
            return name;
        }

        Model model() {
            return new Model(new Layer() {
                @Override
                public String kind() {
                    return "probe";
                }

                @Override
                public List<int[]> outputShapes(List<int[]> in) {
                    return List.of(new int[] {3});
                }

                @Override
                public void declare(ParamScope scope, List<int[]> in) {
                    scope.declare("theta", shape, 1.0, 0);
                }

                @Override
                public List<Var> apply(ParamScope scope, List<Var> in) {
                    return List.of(body.apply(scope.get("theta"), in.get(0)));
                }
            }, name);
        }
    }

    private static final PathGram.Kind ID = PathGram.Kind.ID;
    private static final PathGram.Kind ONES = PathGram.Kind.ONES;
    private static final PathGram.Kind DIAG = PathGram.Kind.DIAG;

    /** A fixed [4, 3] matrix: data the parameter meets elementwise. */
    private static Var mix(Var x) {
        Tensor c = Tensor.randomNormal(x.dtype(), 77, 4, 3);
        return x.matmul(x.builder().constant(c));
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("dot_general, parameter on the right", s(4, 3), (t, x) -> x.matmul(t), true, kinds(ID, ID)),
                new Case("dot_general, parameter on the left", s(4), (t, x) -> t.dotGeneral(
                        x.reshape(-1, 1, 4).broadcastTo(x.dim(0), 3, 4), s(0), s(2), s(), s()), true, kinds(ID)),
                new Case("broadcast_in_dim", s(3), (t, x) -> x.matmul(t.broadcastInDim(s(4, 3), s(1))), true,
                        kinds(ONES, ID)),
                new Case("reduce_sum", s(2, 4, 3), (t, x) -> x.matmul(t.sum(0)), true, kinds(ID, ID)),
                new Case("pad", s(3, 3), (t, x) -> x.matmul(t.pad(s(1, 0), s(0, 0))), true, kinds(DIAG, ID)),
                new Case("pad, interior", s(2, 3), (t, x) -> x.matmul(t.pad(s(0, 0), s(1, 0), s(1, 0))), true,
                        kinds(DIAG, ID)),
                new Case("concatenate", s(2, 3), (t, x) -> x.matmul(Var.concatenate(0,
                        x.builder().constant(Tensor.randomNormal(x.dtype(), 5, 2, 3)), t)), true, kinds(DIAG, ID)),
                new Case("slice", s(6, 3), (t, x) -> x.matmul(t.slice(s(1, 0), s(5, 3))), true, kinds(ID, ID)),
                new Case("slice of a pad", s(3, 3), (t, x) -> x.matmul(t.pad(s(2, 0), s(0, 0)).slice(s(1, 0), s(5, 3))),
                        true, kinds(DIAG, ID)),
                new Case("rev", s(4, 3), (t, x) -> x.matmul(t.rev(0, 1)), true, kinds(ID, ID)),
                // the pad's 0/1 mask read backwards (DIAG), and a broadcast reversed stays all ones
                new Case("rev of a pad", s(3, 3), (t, x) -> x.matmul(t.pad(s(1, 0), s(0, 0)).rev(0)), true,
                        kinds(DIAG, ID)),
                new Case("rev of a broadcast", s(3), (t, x) -> x.matmul(t.broadcastInDim(s(4, 3), s(1)).rev(0, 1)),
                        true, kinds(ONES, ID)),
                new Case("transpose", s(3, 4), (t, x) -> x.matmul(t.transpose(1, 0)), true, kinds(ID, ID)),
                new Case("reshape", s(12), (t, x) -> x.matmul(t.reshape(4, 3)), true, kinds(ID, ID)),
                new Case("neg and scalar mul", s(4, 3), (t, x) -> x.matmul(t.neg().mul(2.5)), true, kinds(ID, ID)),
                new Case("add, broadcast over examples", s(3), (t, x) -> mix(x).add(t), true, kinds(ID)),
                new Case("add, [1, 3] parameter", s(1, 3), (t, x) -> mix(x).add(t), true, kinds(ID, ID)),
                new Case("sub, parameter on the right", s(3), (t, x) -> mix(x).sub(t), true, kinds(ID)),
                new Case("sub, parameter on the left", s(3), (t, x) -> t.sub(mix(x)), true, kinds(ID)),
                new Case("mul", s(3), (t, x) -> mix(x).mul(t), true, kinds(ID)),
                new Case("broadcast then add", s(1), (t, x) -> mix(x).add(t.broadcastInDim(s(3), s(0))), true,
                        kinds(ONES)),
                new Case("add of a constant on the path", s(4, 3), (t, x) -> x.matmul(t.add(1.5)), true,
                        kinds(ID, ID)),
                new Case("conv filter through a reshape", s(12), (t, x) -> x.reshape(-1, 4, 1)
                        .conv(t.reshape(2, 1, 6).sliceInDim(2, 0, 3, 1), s(1), "VALID").sum(1), true,
                        kinds(ID, ID, ID)),
                // no rule: the dense fallback, still exact
                new Case("exp on the path (no rule)", s(4, 3), (t, x) -> x.matmul(t.exp()), false, null),
                new Case("pad of a broadcast (no Kronecker form)", s(3), (t, x) -> x.matmul(
                        t.broadcastInDim(s(3, 3), s(1)).pad(s(1, 0), s(0, 0))), false, null),
                new Case("parameter used twice", s(4, 3), (t, x) -> x.matmul(t).add(x.matmul(t.mul(0.5))), false,
                        null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void structuredDerivativesEqualsJacobianContractionAndTheOracleThroughTheRule(Case c) {
        Model m = c.model();
        int[] in = {4};
        Params p = m.init(3, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, 3, 4);
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, 2, 4);
        // the rule, not the fallback
        ParameterConsumers pc = new ParameterConsumers(m.trace(3, in, DType.F64), 1);
        StructuredDerivatives.Structured st = StructuredDerivatives.classify(pc, 0);
        assertThat(st != null).as("structured").isEqualTo(c.structured());
        if (st != null) {
            assertThat(st.gram.kind).containsExactly(c.gramKinds());
        }
        EmpiricalNtk base = EmpiricalNtk.of(m, p).traceAxes();
        for (Tensor second : new Tensor[] {x2, null}) {
            Tensor jc = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, second);
            Tensor sd = base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, second);
            assertThat(EmpiricalNtkTest.relativeError(sd, jc)).as("sd vs jc").isLessThan(1e-10);
            Tensor oracle = EmpiricalNtkTest.finiteDifferenceNtk(m, p, in, x1, second == null ? x1 : second);
            assertThat(EmpiricalNtkTest.relativeError(sd, oracle)).as("sd vs finite differences").isLessThan(1e-6);
            Tensor jcTrace = base.traceAxes(-1).method(Method.JACOBIAN_CONTRACTION).ntk(x1, second);
            Tensor sdTrace = base.traceAxes(-1).method(Method.STRUCTURED_DERIVATIVES).ntk(x1, second);
            assertThat(EmpiricalNtkTest.relativeError(sdTrace, jcTrace)).as("sd vs jc, traced").isLessThan(1e-10);
        }
        // the cost model describes the same route
        String how = new CostModel(m, in, DType.F64, 3, 2, new int[0], new int[0])
                .estimate(Method.STRUCTURED_DERIVATIVES).note();
        assertThat(how).startsWith((c.structured() ? 1 : 0) + " of 1 parameters structured");
    }

    /** broadcast_in_dim on the fan-in side: the data factor is summed, C = 1, and the FLOPs say so exactly. */
    @org.junit.jupiter.api.Test
    void costOfABroadcastParameterIsTheContractionWithTheSummedFactor() {
        Case c = cases().filter(k -> k.name().equals("broadcast_in_dim")).findFirst().orElseThrow();
        int n = 5;
        int o = 3;
        CostModel cm = new CostModel(c.model(), new int[] {4}, DType.F64, n, 0, new int[0], new int[0]);
        assertThat(cm.estimate(Method.STRUCTURED_DERIVATIVES).contractionFlops())
                .isEqualTo(ContractionOrder.bestFlops(n, n, o, 1, 1, 3, OutputPairs.FULL, true));
    }

    /**
     * The memory model for parameters reached through rules: a network whose first weight is padded, whose
     * bias is one value broadcast to every unit and whose readout is a reshaped vector; the predicted SD
     * peak is within 20% of the bytes held (as CostModelTest checks for the zoo).
     */
    @org.junit.jupiter.api.Test
    void memoryModelWithinTwentyPercentForStructuredPaths() {
        Model m = new Model(new Layer() {
            @Override
            public String kind() {
                return "ruled";
            }

            @Override
            public List<int[]> outputShapes(List<int[]> in) {
                return List.of(new int[] {10});
            }

            @Override
            public void declare(ParamScope scope, List<int[]> in) {
                scope.declare("w1", s(120, 256), 1.0, 0);
                scope.declare("b1", s(1), 1.0, 0);
                scope.declare("w2", s(2560), 1.0, 0);
            }

            @Override
            public List<Var> apply(ParamScope scope, List<Var> in) {
                Var x = in.get(0);
                Var h = x.matmul(scope.get("w1").pad(s(8, 0), s(0, 0))).mul(0.1);
                h = h.add(scope.get("b1").broadcastInDim(s(256), s(0))).relu();
                return List.of(h.matmul(scope.get("w2").reshape(256, 10)).mul(0.1));
            }
        }, "ruled");
        int[] in = {128};
        Params p = m.init(1, in, DType.F64);
        ParameterConsumers pc = new ParameterConsumers(m.trace(24, in, DType.F64), 3);
        for (int q = 0; q < 3; q++) {
            assertThat(StructuredDerivatives.classify(pc, q)).as("parameter %d structured", q).isNotNull();
        }
        Tensor x1 = Tensor.randomNormal(DType.F64, 2, 24, 128);
        Tensor x2 = Tensor.randomNormal(DType.F64, 3, 16, 128);
        EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes().method(Method.STRUCTURED_DERIVATIVES);
        long predicted = ntk.costModel(24, 16, in, DType.F64).estimate(Method.STRUCTURED_DERIVATIVES).peakBytes();
        long base = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        try (Tensor k = ntk.ntk(x1, x2)) {
            long measured = Tensor.peakBytes() - base + 8L * (120 * 256 + 1 + 2560) + 8L * (24 + 16) * 128;
            assertThat(k.shape()).containsExactly(24, 16, 10, 10);
            assertThat((double) predicted / measured).as("predicted %d, measured %d", predicted, measured)
                    .isBetween(0.8, 1.2);
        }
    }

    private static PathGram.Kind[] kinds(PathGram.Kind... k) {
        return k;
    }

    private static int[] s(int... v) {
        return v;
    }
}
