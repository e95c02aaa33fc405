package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;

/** The plans' typed steps: one per parameter, cached, and what the estimates report from walking them. */
class PlanStepsTest {
    private static final int[] EXAMPLE = {6};

    private static List<String> paths(Model m) {
        List<String> paths = new ArrayList<>();
        for (ParamSpec s : m.paramSpecs(EXAMPLE)) {
            paths.add(s.path());
        }
        return paths;
    }

    @Test
    void structuredDerivativesHasOneStepPerLayerAndReportsTheParametersByName() {
        Model m = Zoo.parse("fcn(depth=2,width=8,out=3)");
        List<String> paths = paths(m);
        SidePlan side = SidePlan.of(m, 5, EXAMPLE, DType.F64);
        SdPlan plan = side.sdPlan(5, 5, side.o, true, OutputPairs.TRACE);
        assertThat(side.sdPlan(5, 5, side.o, true, OutputPairs.TRACE)).isSameAs(plan); // built once
        // one step per dense layer: each bias joins its weight's Gram-order step (SharedBiasGramTest)
        assertThat(plan.steps).hasSize(paths.size() / 2);
        List<String> structured = new ArrayList<>();
        for (SdPlan.Step s : plan.steps) {
            assertThat(s).isNotInstanceOf(SdPlan.DenseRows.class);
            int p = s instanceof SdPlan.Linear l ? l.parameter() : ((SdPlan.Rows) s).parameter();
            structured.add(paths.get(p));
            if (s instanceof SdPlan.Linear l) {
                // a dense layer (R = 1) never takes the sandwich order
                assertThat(l.order()).isNotEqualTo(ContractionOrder.SANDWICH);
                if (l.biasParameter() >= 0) {
                    structured.add(paths.get(l.biasParameter()));
                }
            }
        }
        CostModel cm = new CostModel(m, EXAMPLE, DType.F64, 5, 0, new int[] {-1}, new int[0]);
        assertThat(cm.estimate(Method.STRUCTURED_DERIVATIVES).structuredParameters())
                .containsExactlyElementsOf(structured).containsExactlyInAnyOrderElementsOf(paths);
        assertThat(cm.estimate(Method.JACOBIAN_CONTRACTION).structuredParameters()).isEmpty();
    }

    @Test
    void jacobianContractionStepsFollowTheTileLimit() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=3,b_std=0)");
        SidePlan side = SidePlan.of(m, 4, EXAMPLE, DType.F64);
        JcPlan whole = side.jcPlan(side, true, Tiles.MAX_TENSOR_BYTES, 4);
        assertThat(side.jcPlan(side, true, Tiles.MAX_TENSOR_BYTES, 4)).isSameAs(whole);
        assertThat(whole.steps).hasSize(m.paramSpecs(EXAMPLE).size());
        for (int p = 0; p < whole.steps.size(); p++) {
            assertThat(whole.steps.get(p).parameter()).isEqualTo(p);
            assertThat(whole.steps.get(p)).isInstanceOf(JcPlan.Dense.class);
            assertThat(Tiles.count(((JcPlan.Dense) whole.steps.get(p)).chunks())).isEqualTo(1);
        }
        // a tile limit of one fan-in row's Jacobian for every example: the first weight [6, 8] in 6 chunks
        JcPlan tight = side.jcPlan(side, true, 4L * 3 * 8 * 8, 4);
        assertThat(Tiles.count(((JcPlan.Dense) tight.steps.get(0)).chunks())).isEqualTo(6);
    }

    @Test
    void vectorProductStepsCoverTheBasisInOrder() {
        Model m = Zoo.parse("fcn(depth=1,width=8,out=3)");
        SidePlan side = SidePlan.of(m, 4, EXAMPLE, DType.F64);
        VpPlan one = side.vpPlan(side, true, Tiles.MAX_TENSOR_BYTES, Long.MAX_VALUE);
        assertThat(side.vpPlan(side, true, Tiles.MAX_TENSOR_BYTES, Long.MAX_VALUE)).isSameAs(one);
        assertThat(one.k).isEqualTo(12);
        assertThat(one.steps).containsExactly(new VpPlan.Columns(0, 12, true));
        // a tile limit of two basis vectors' largest stacked value: six steps [0, 2), [2, 4), ...
        long perVector = VectorProducts.vectorProductBytesPerVector(side, side, DType.F64);
        VpPlan tiled = side.vpPlan(side, true, 2 * perVector, Long.MAX_VALUE);
        assertThat(tiled.steps).hasSize(6);
        for (int i = 0; i < 6; i++) {
            assertThat(tiled.steps.get(i)).isEqualTo(new VpPlan.Columns(2 * i, 2 * i + 2, false));
        }
        CostModel cm = new CostModel(m, EXAMPLE, DType.F64, 4, 0, new int[0], new int[0], 2 * perVector);
        assertThat(cm.estimate(Method.NTK_VECTOR_PRODUCTS).note()).contains("over 6 tiles of the 12 basis");
    }
}
