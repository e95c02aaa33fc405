package org.ntk4j.ntk;

import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.ntk.CostModel.Estimate;
import org.ntk4j.tensor.Shapes;

/**
 * Jacobian contraction's cost, walked over the side plans' graphs as {@link JacobianContraction} runs them: the
 * per-example passes, then per parameter its rows (written directly for dense weights, over chunks of fan-in
 * rows or tiles of examples when large) and its contraction; for models that mix examples, {@link ExactBatchCost}.
 */
final class JcCost extends MethodCost {
    JcCost(CostModel c) {
        super(c, c.same);
    }

    @Override
    Estimate estimate() {
        long out = bytes(outputElements());
        ParameterConsumers pc1 = consumers(n1);
        if (!c.perExampleSides()) {
            return new ExactBatchCost(c, Method.JACOBIAN_CONTRACTION).estimate();
        }
        // per-example pass(es), then one parameter's Jacobians at a time
        int o = Shapes.size(f1) / n1;
        Graph pass1 = side(pc1).pass().graph;
        double flops = GraphCost.flops(pass1);
        long values = CostModel.outputBytes(pass1);
        // a pass graph counts the parameters and its own examples; the caller holds the other side's too
        long peak = GraphCost.peakBytes(pass1) + otherInputs(n1);
        ParameterConsumers pc2 = same ? pc1 : consumers(n2);
        if (!same) {
            Graph pass2 = side(pc2).pass().graph;
            flops += GraphCost.flops(pass2);
            peak = Math.max(peak, values + GraphCost.peakBytes(pass2) + otherInputs(n2));
            values += CostModel.outputBytes(pass2);
        }
        long held = paramBytes + inputBytes + values + 2 * out;
        // the walk over the very steps the executor runs, in its order
        JcPlan plan = side(pc1).jcPlan(side(pc2), same, tileBytes, Math.max(n1, n2));
        JcPlan.Walk walk = new JcPlan.Walk(c, pc1, pc2, o, held, flops, peak);
        int tiled = 0;
        int dense = 0;
        for (JcPlan.Step step : plan.steps) {
            step.cost(walk);
            if (step instanceof JcPlan.Dense d) {
                dense++;
                tiled += Tiles.count(d.chunks()) > 1 ? 1 : 0;
            } else if (step instanceof JcPlan.Tiled) {
                tiled++;
            }
        }
        flops = walk.flops;
        peak = walk.peak;
        return new Estimate(Method.JACOBIAN_CONTRACTION, flops, contractionFlops(c.totalParams()), peak,
                "per-example Jacobians, one parameter at a time (examples independent)"
                        + (dense > 0 ? "; " + dense + " of them dense weights, written directly" : "")
                        + (tiled > 0 ? "; " + tiled + " of them tiled, over chunks of fan-in rows or tiles of examples"
                        + " (a tensor holds at most "
                        + human(tileBytes) + ")" : ""));
    }
}
