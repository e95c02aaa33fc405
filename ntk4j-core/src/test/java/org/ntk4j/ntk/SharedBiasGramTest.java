package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A bias added to a linear consumer's output (a dense layer's b, a conv's channel bias) joins the weight's
 * Gram-order step in structured derivatives: Θ_w + Θ_b = Σ_{r1,r2} (s_w·GA + s_b/κ²) ⊙ GD, one cotangent GEMM
 * for both. The joined kernel equals Jacobian contraction's and finite differences; biases that do not meet the
 * conditions keep their own step and stay exact.
 */
class SharedBiasGramTest {
    private static final int[] IN = {5};

    /** A one-hidden-layer model whose hidden pre-activation is {@code pre(y, b)}, y = x·W; readout dense. */
    private static Model model(String kind, BiFunction<Var, Var, Var> pre) {
        return org.ntk4j.Fixtures.layerModel(kind, new int[] {3}, scope -> {
            scope.declare("w", new int[] {5, 7}, 0.5, 0);
            scope.declare("b", new int[] {7}, 0.8, 0);
            scope.declare("v", new int[] {7, 3}, 0.4, 0);
        }, (scope, x) -> pre.apply(x.matmul(scope.get("w")), scope.get("b")).tanh().matmul(scope.get("v")));
    }

    /**
     * Per Linear step of the SD plan (for these output pairs, x2 = x1): its bias parameter, -1 for none; Rows steps
     * count.
     */
    private static List<Integer> biasesOfLinearSteps(Model m, OutputPairs pairs, int[] rowsSteps) {
        SidePlan side = SidePlan.of(m, 4, IN, DType.F64);
        List<Integer> biases = new ArrayList<>();
        for (SdPlan.Step s : side.sdPlan(4, 4, side.o, true, pairs).steps) {
            if (s instanceof SdPlan.Linear l) {
                biases.add(l.biasParameter());
                assertThat(Double.isNaN(l.biasFactor())).isEqualTo(l.biasParameter() < 0);
            } else {
                rowsSteps[0]++;
            }
        }
        return biases;
    }

    private static void assertExact(Model m, int[] in) {
        Params p = m.init(7, in, DType.F64);
        int[] s1 = new int[in.length + 1];
        int[] s2 = new int[in.length + 1];
        s1[0] = 4;
        s2[0] = 3;
        System.arraycopy(in, 0, s1, 1, in.length);
        System.arraycopy(in, 0, s2, 1, in.length);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, s1);
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, s2);
        for (Tensor second : new Tensor[] {null, x2}) {
            for (OutputPairs pairs : new OutputPairs[] {OutputPairs.FULL, OutputPairs.TRACE}) {
                boolean traced = pairs == OutputPairs.TRACE;
                EmpiricalNtk base = traced ? EmpiricalNtk.of(m, p).traceAxes(-1) : EmpiricalNtk.of(m, p).traceAxes();
                try (Tensor sd = base.method(Method.STRUCTURED_DERIVATIVES).ntk(x1, second);
                     Tensor jc = base.method(Method.JACOBIAN_CONTRACTION).ntk(x1, second)) {
                    assertThat(EmpiricalNtkTest.relativeError(sd, jc)).as("%s sd vs jc, traced %b, x2 %s", m,
                            traced, second == null ? "= x1" : "apart").isLessThan(1e-12);
                }
            }
            try (Tensor sd = EmpiricalNtk.of(m, p).traceAxes().method(Method.STRUCTURED_DERIVATIVES).ntk(x1, second);
                 Tensor oracle = EmpiricalNtkTest.finiteDifferenceNtk(m, p, in, x1, second == null ? x1 : second)) {
                assertThat(EmpiricalNtkTest.relativeError(sd, oracle)).as("%s sd vs finite differences", m)
                        .isLessThan(1e-6);
            }
        }
    }

    /**
     * The zoo's FCN in both parameterisations (NTK: the bias is added to y·σ_w/√fan_in, κ² = σ_w²/fan_in):
     * every bias joins its weight's step, full and traced; the estimate still names all parameters; exact.
     */
    @Test
    void denseBiasesJoinTheirWeightsAndTheKernelStaysExact() {
        for (String spec : new String[] {"fcn(depth=2,width=8,out=3)", "fcn(depth=2,width=8,out=3,param=standard)"}) {
            Model m = Zoo.parse(spec);
            for (OutputPairs pairs : OutputPairs.values()) {
                int[] rows = {0};
                assertThat(biasesOfLinearSteps(m, pairs, rows)).as(spec).containsExactly(1, 3, 5);
                assertThat(rows[0]).isZero();
            }
            CostModel cm = new CostModel(m, IN, DType.F64, 4, 0, new int[] {-1}, new int[0]);
            assertThat(cm.estimate(Method.STRUCTURED_DERIVATIVES).structuredParameters()).containsExactly(
                    "1_dense/w", "1_dense/b", "3_dense/w", "3_dense/b", "5_dense/w", "5_dense/b");
            assertExact(m, IN);
        }
    }

    /** y·c + b with a constant c (κ = c): joined, with the factor s_b/c². */
    @Test
    void aScaledPreActivationJoinsWithTheScaleSquared() {
        Model m = model("scaled", (y, b) -> y.mul(0.3).add(b));
        int[] rows = {0};
        assertThat(biasesOfLinearSteps(m, OutputPairs.FULL, rows)).containsExactly(1, -1);
        SidePlan side = SidePlan.of(m, 4, IN, DType.F64);
        SdPlan.Linear first = (SdPlan.Linear) side.sdPlan(4, 4, side.o, true, OutputPairs.FULL).steps.get(0);
        assertThat(first.biasFactor()).isCloseTo(1 / (0.3 * 0.3), org.assertj.core.data.Offset.offset(1e-9));
        assertExact(m, IN);
    }

    /**
     * Biases that must keep their own step: subtracted (sign -1), the pre-activation also read elsewhere (its
     * cotangent is then not the sum's), multiplied instead of added, and added to the output behind a non-linear
     * map. Each kernel stays exact.
     */
    @Test
    void biasesThatDoNotMeetTheConditionsKeepTheirOwnStep() {
        List<Model> models = List.of(
                model("subtracted", Var::sub),
                model("read twice", (y, b) -> y.add(b).add(y.tanh())),
                model("multiplied", Var::mul),
                model("behind tanh", (y, b) -> y.tanh().add(b)));
        for (Model m : models) {
            int[] rows = {0};
            assertThat(biasesOfLinearSteps(m, OutputPairs.FULL, rows)).as(m.toString()).containsExactly(-1, -1);
            assertThat(rows[0]).as(m.toString()).isEqualTo(1);
            assertExact(m, IN);
        }
    }

    /**
     * A pre-activation transposed before the bias is added (y [N, 3, 3] → yᵀ, same shape): the transpose moves the
     * axes the bias is summed over, so the bias must keep its own step, though the transpose is linear with a
     * scaled-identity Gram and keeps the shape; the kernel stays exact (traced, where the weight takes the Gram
     * order: fan-in 16 > R² = 9, N·R < O·F).
     */
    @Test
    void aTransposedPreActivationKeepsTheBiasApart() {
        Model m = org.ntk4j.Fixtures.layerModel("transposed", new int[] {20}, scope -> {
            scope.declare("w", new int[] {16, 3}, 0.5, 0);
            scope.declare("b", new int[] {3}, 0.8, 0);
            scope.declare("v", new int[] {3, 20}, 0.4, 0);
        }, (scope, x) -> x.matmul(scope.get("w")).transpose(0, 2, 1).add(scope.get("b")).tanh().sum(1)
                .matmul(scope.get("v")));
        int[] in = {3, 16};
        SidePlan side = SidePlan.of(m, 4, in, DType.F64);
        SdPlan.Linear first = (SdPlan.Linear) side.sdPlan(4, 4, side.o, true, OutputPairs.TRACE).steps.get(0);
        assertThat(first.order()).isEqualTo(ContractionOrder.GRAM);
        assertThat(first.biasParameter()).isEqualTo(-1);
        assertExact(m, in);
    }

    /**
     * A conv with a channel bias summed over R = 4 positions, whose filter takes the Gram order in the traced
     * kernel here (fan-in 72 > R², N·R < O·F; the full kernel takes the sandwich order, as it does whenever
     * R > 1 and O > 2): joined, with the Σ_{r1,r2} of the bias term, factor σ_b²/κ².
     */
    @Test
    void aConvChannelBiasJoinsItsFilterInTheGramOrder() {
        // flattened, not pooled: the conv's cotangent does not factor (the global pool's would)
        Model m = Zoo.parse("cnn(depth=1,channels=4,out=40,pool=flatten)");
        int[] in = {2, 2, 8};
        assertThat(joinedSteps(m, in, ContractionOrder.GRAM)).as("the conv filter (parameter 0) joined by its bias")
                .contains(0);
        assertExact(m, in);
    }

    /**
     * The same conv before a global average pool: its cotangent factors ({@link CotangentFactors}) and the filter
     * takes the factored order, the bias joining it with its rows G ⊗ Σ_r M; exact, full and traced.
     */
    @Test
    void aConvChannelBiasJoinsItsFilterInTheFactoredOrder() {
        Model m = Zoo.parse("cnn(depth=1,channels=4,out=40)");
        int[] in = {2, 2, 8};
        assertThat(joinedSteps(m, in, ContractionOrder.FACTORED)).as("the conv filter joined by its bias")
                .containsExactly(0);
        assertExact(m, in);
    }

    /**
     * A conv whose filter takes the row order (the first of two here: its cotangent comes through the second's
     * input gradient, R = 25 positions, fan-in 18): its channel bias joins the rows as one more column of the
     * patches, β = √(σ_b²/κ² / s_w), so that the rows end in β·Σ_r D; the second conv's bias joins its factored
     * step. Exact against Jacobian contraction and finite differences, full and traced, x2 = x1 and apart.
     */
    @Test
    void aConvChannelBiasJoinsItsFilterInTheRowOrder() {
        Model m = Zoo.parse("cnn(depth=2,channels=4,out=3)");
        int[] in = {5, 5, 2};
        assertThat(joinedSteps(m, in, ContractionOrder.ROWS)).as("the first conv's filter joined by its bias")
                .containsExactly(0);
        assertThat(joinedSteps(m, in, ContractionOrder.FACTORED)).as("the second conv's").containsExactly(2);
        SidePlan side = SidePlan.of(m, 3, in, DType.F64);
        assertThat(side.sdPlan(3, 3, side.o, true, OutputPairs.TRACE).steps).as("no bias step of its own")
                .noneMatch(s -> s instanceof SdPlan.Rows);
        assertExact(m, in);
    }

    /** The parameters of the traced kernel's Linear steps in {@code order} that a bias joins (x2 = x1, N = 3). */
    private static List<Integer> joinedSteps(Model m, int[] in, ContractionOrder order) {
        SidePlan side = SidePlan.of(m, 3, in, DType.F64);
        List<Integer> joined = new ArrayList<>();
        for (SdPlan.Step s : side.sdPlan(3, 3, side.o, true, OutputPairs.TRACE).steps) {
            if (s instanceof SdPlan.Linear l && l.order() == order && l.biasParameter() >= 0) {
                joined.add(l.parameter());
            }
        }
        return joined;
    }
}
