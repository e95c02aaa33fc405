package org.ntk4j.ntk;

import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives as a strategy: per parameter, its consumer rule's factors with the path Gram applied,
 * contracted in its {@link SdPlan} step's {@link ContractionOrder} ({@link StructuredDerivatives}); parameters
 * without a rule through their per-example rows. A model that mixes examples runs the exact batch path
 * ({@link ExactBatch}).
 */
final class StructuredKernel extends KernelStrategy {
    StructuredKernel(Model model, Params params, long tileBytes, long[] problem) {
        super(model, params, tileBytes, problem);
    }

    /**
     * Structured derivatives. A model that mixes examples has no per-example cotangents, so it takes the
     * exact path of Jacobian contraction without the shortcut (the explanation says so).
     */
    @Override
    Tensor kernel(KernelInputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!perExample(in, side1)) {
            return exactBlock(in);
        }
        try (Sides<PerExamplePass> pass = passes(in, side1, plan(in, side1, side1.o).unreadCotangents)) {
            return block(in, pass.first(), pass.second());
        }
    }

    /**
     * A tile's pass for this strategy's whole problem: without the cotangents the plan of its blocks does not read
     * ({@link SdPlan#unreadCotangents}); every cotangent without a whole problem (the plan is then the blocks' own)
     * or for a model that mixes examples.
     */
    @Override
    PerExamplePass prepare(KernelInputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!side1.perExampleShortcut || problem == null) {
            return prepare(in.x1);
        }
        return new PerExamplePass(side1, paramArgs(in.specs), in.x1, 0, side1.o, plan(in, side1, side1.o)
                .unreadCotangents);
    }

    /**
     * The plan {@link #block} runs on passes of x1 (on {@code side1}) and x2 with k stacked cotangents: its orders
     * chosen for the whole problem (this strategy's, else these inputs').
     */
    SdPlan plan(KernelInputs in, SidePlan side1, int k) {
        long[] whole = problem != null ? problem : KernelSupport.problemOf(in.x1.dim(0), in.same ? 0 : in.x2.dim(0));
        return side1.sdPlan(whole[0], whole[1], k, whole[2] == 1, OutputPairs.of(in.axes()));
    }

    /** Structured derivatives from the per-example passes of x1 and x2 (the same pass when x2 = x1). */
    @Override
    Tensor block(KernelInputs in, PerExamplePass pass1, PerExamplePass p2) {
        if (pass1 == null || p2 == null) {
            return exactBlock(in);
        }
        KernelAxes axes = in.axes();
        // an output chunk's pass (OutputChunks) stacks k < O cotangents: its block is [N1, k] × [N2, k]
        boolean chunk = pass1.o != pass1.side.o;
        int[] f1 = chunk ? new int[] {pass1.n, pass1.o} : in.f1();
        int[] f2 = chunk ? new int[] {p2.n, p2.o} : in.f2();
        axes.checkShapes(f1, f2);
        OutputPairs pairs = OutputPairs.of(axes);
        // the plan's steps (each parameter's contraction order) are chosen for the whole problem: every tile uses them
        int n1 = pass1.n;
        int n2 = p2.n;
        int o = pass1.o;
        SdPlan plan = plan(in, pass1.side, o);
        Tensor acc = Tensor.zeros(in.dtype, pairs.blockShape(n1, n2, o));
        for (SdPlan.Step step : plan.steps) {
            step.run(acc, in, pass1, p2, pairs);
        }
        if (pairs == OutputPairs.TRACE) {
            KernelReduction.scale(acc, 1.0 / o);
            return acc;
        }
        if (pairs == OutputPairs.DIAGONAL) {
            return acc; // [N1, N2, O]: the kernel's own layout
        }
        if (pairs == OutputPairs.PER_EXAMPLE_TRACE) {
            // Σ_o Θ[n, o, n, o], summed over the examples too for a traced batch axis, divided by the traced size
            Tensor k = acc;
            if (axes.isTraced(0)) {
                try (acc) {
                    k = org.ntk4j.cpu.Reduce.reduce(org.ntk4j.cpu.Reduce.Kind.SUM, acc, new int[] {0});
                }
            }
            KernelReduction.scale(k, 1.0 / axes.traceSize(f1));
            return k;
        }
        if (pairs == OutputPairs.PER_EXAMPLE) {
            try (acc) {
                return KernelReduction.reducePerExample(acc, axes, f1, f2);
            }
        }
        try (Tensor full = acc.reshape(Shapes.concat(f1, f2))) {
            acc.close();
            return KernelReduction.reduce(full, axes, f1, f2);
        }
    }
}
