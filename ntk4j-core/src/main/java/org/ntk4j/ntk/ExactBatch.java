package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.graph.Graph;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The exact batch path, for a model whose examples interact (batch statistics, attention across the batch axis,
 * outputs that are not batch-first): there is no per-example pass, so each side's Jacobians come from one
 * stacked VJP of the whole batch with its K = |f(x)| one-hot cotangents (K·[FP] work, N²·O·[FP] for N examples),
 * and the kernel is their contraction. Jacobian contraction and structured derivatives both run it on such
 * models. Its {@link Plan} (the stacked VJP graphs of the sides) is what {@link #kernel} evaluates and what
 * {@link ExactBatchCost} costs.
 */
final class ExactBatch extends KernelStrategy {
    /**
     * The plan: the stacked VJP of each side with its K one-hot cotangents (one side when x2 = x1), then the
     * contraction of the two sides' Jacobians.
     *
     * @param side1 x1's side plan
     * @param side2 x2's side plan (x1's when x2 = x1)
     * @param same whether x2 = x1 (one VJP)
     */
    record Plan(SidePlan side1, SidePlan side2, boolean same) {
        /** The stacked VJP of a side: f(x)'s K entries' one-hot cotangents at once. */
        static Graph vjp(SidePlan side) {
            return side.vjp(Shapes.size(side.f));
        }
    }

    ExactBatch(Model model, Params params, long tileBytes, long[] problem) {
        super(model, params, tileBytes, problem);
    }

    @Override
    boolean needsPass() {
        return false;
    }

    /** The whole kernel: each side's batch Jacobians (once when x2 = x1), contracted. */
    @Override
    Tensor kernel(KernelInputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        Plan plan = new Plan(side1, in.same ? side1 : side(in.x2.dim(0), in.perExample, in.dtype), in.same);
        Tensor[] ps = paramArgs(in.specs);
        try (Sides<Tensor[]> j = Sides.of(plan.same(), () -> jacobians(plan.side1(), ps, in.x1, in.specs),
                () -> jacobians(plan.side2(), ps, in.x2, in.specs), KernelSupport::closeAll)) {
            return JacobianContraction.contract(java.util.Arrays.asList(j.first()),
                    java.util.Arrays.asList(j.second()), in, true);
        }
    }

    /**
     * Refused: examples that interact have no kernel block between two separately prepared sides (a tile of
     * such a model would see other statistics than the whole batch); {@code EmpiricalNtk.prepare} refuses them
     * first, naming the model.
     */
    @Override
    Tensor block(KernelInputs in, PerExamplePass rows, PerExamplePass columns) {
        throw new IllegalArgumentException("kernel block: model " + model.spec() + " mixes examples, so its kernel "
                + "is computed for the whole batch at once, not between separately prepared tiles");
    }

    /**
     * Per-parameter Jacobians J_p [f(x).shape..., size of p] of a batch: one stacked VJP of the whole batch
     * with the identity as its K cotangents (row k of the result is ∂f_k/∂θ).
     */
    static Tensor[] jacobians(SidePlan side, Tensor[] paramArgs, Tensor x, List<ParamSpec> specs) {
        int[] f = side.f;
        int k = Shapes.size(f);
        Graph vjp = Plan.vjp(side);
        try (Tensor basis = KernelSupport.identity(x.dtype(), k, f)) {
            Tensor[] res = vjp.evaluate(KernelSupport.with(paramArgs, x, basis));
            res[0].close();
            Tensor[] j = new Tensor[specs.size()];
            for (int p = 0; p < j.length; p++) {
                // the gradient's storage under the Jacobian's shape: no copy beside the VJP's outputs
                j[p] = res[1 + p].reshapeMove(Shapes.concat(f, new int[] {specs.get(p).size()}));
            }
            return j;
        }
    }
}
