package org.ntk4j.ntk;

import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphCost;
import org.ntk4j.ntk.CostModel.Estimate;
import org.ntk4j.tensor.Shapes;

/**
 * The cost of {@link ExactBatch}, walked over its {@link ExactBatch.Plan}: each side's stacked VJP graph (the one
 * the executor evaluates), holding the first side's Jacobians while the second is formed, then the contraction
 * with both sides' Jacobians and the result live.
 */
final class ExactBatchCost extends MethodCost {
    private final Method method;

    /**
     * @param c the cost model
     * @param method the method that runs the exact batch path (Jacobian contraction or structured derivatives)
     */
    ExactBatchCost(CostModel c, Method method) {
        super(c, c.same);
        this.method = method;
    }

    @Override
    Estimate estimate() {
        SidePlan side1 = side(n1);
        ExactBatch.Plan plan = new ExactBatch.Plan(side1, same ? side1 : side(n2), same);
        long pTotal = c.totalParams();
        long j1 = bytes((long) Shapes.size(f1) * pTotal);
        long j2 = same ? 0 : bytes((long) Shapes.size(f2) * pTotal);
        // a VJP graph counts the parameters and its own examples; the caller holds the other side's too
        Graph vjp1 = ExactBatch.Plan.vjp(plan.side1());
        double flops = GraphCost.flops(vjp1);
        long peak = otherInputs(n1) + GraphCost.peakBytes(vjp1);
        if (!plan.same()) {
            Graph vjp2 = ExactBatch.Plan.vjp(plan.side2());
            flops += GraphCost.flops(vjp2);
            peak = Math.max(peak, j1 + otherInputs(n2) + GraphCost.peakBytes(vjp2));
        }
        double contraction = contractionFlops(pTotal);
        double contracted = 0; // as run: parameter by parameter, a Gram of each Jacobian with itself when x2 = x1
        for (org.ntk4j.nn.ParamSpec s : c.model.paramSpecs(c.perExample)) {
            contracted += c.contractionFlops(f1, f2, s.size(), same);
        }
        long out = bytes(outputElements());
        // no per-example pass is held beside it: a block that runs this path takes both tiles' examples alone, and a
        // tiled run's worker lets its row tile go first (EmpiricalNtk.blockRunsExact, TiledKernel.run)
        peak = Math.max(peak, paramBytes + inputBytes + j1 + j2 + 2 * out);
        String why = whyNoPerExamplePass();
        String how = "batch Jacobians: N·O one-hot cotangents (" + why + ")";
        if (method == Method.STRUCTURED_DERIVATIVES) {
            how = "runs as Jacobian contraction: " + why + ", so there are no per-example cotangents";
        }
        return new Estimate(method, flops + contracted, contraction, peak, how);
    }

    /**
     * Why the kernel takes the exact batch path, for the estimate's note: the model mixes examples, or a side's
     * trace does not carry them first: only at N = 1 (a side of one example of a model that moves its batch axis
     * there), or at every batch size.
     */
    private String whyNoPerExamplePass() {
        if (!c.model.independentExamples()) {
            return "the model mixes examples";
        }
        if (side(2).pc.exampleAxisFirst && (n1 == 1 || (!same && n2 == 1))) {
            return "the model traces a batch of one example with its batch axis moved off axis 0";
        }
        return "the model's trace carries the examples on another axis than the first";
    }
}
