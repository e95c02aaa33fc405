package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Jacobian contraction: per-example parameter Jacobians (each consumer's own rows pushed through the parameter
 * path's VJP, from the shared per-example pass) contracted one parameter at a time; dense weights written
 * directly, over chunks of fan-in rows when large; Jacobians over tiles of examples when one would pass the tile
 * limit. A model that mixes examples runs {@link ExactBatch}.
 */
final class JacobianContraction extends KernelStrategy {
    JacobianContraction(Model model, Params params, long tileBytes, long[] problem) {
        super(model, params, tileBytes, problem);
    }

    /**
     * Jacobian contraction. With examples independent, parameter by parameter: the per-example Jacobian of
     * one parameter is formed for x1 (and x2), contracted into the kernel, and released before the next, so
     * that memory holds one parameter's Jacobians at a time (as XLA's layer-by-layer contraction does).
     */
    @Override
    Tensor kernel(KernelInputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!perExample(in, side1)) {
            return exactBlock(in);
        }
        try (Sides<PerExamplePass> pass = passes(in, side1)) {
            return block(in, pass.first(), pass.second());
        }
    }

    /** Jacobian contraction from the per-example passes of x1 and x2 (the same pass when x2 = x1). */
    @Override
    Tensor block(KernelInputs in, PerExamplePass pass1, PerExamplePass pass2) {
        if (pass1 == null || pass2 == null) {
            return exactBlock(in);
        }
        ParameterConsumers pc1 = pass1.pc;
        ParameterConsumers pc2 = pass2.pc;
        // the plan's steps, one per parameter, chosen once for these sides (dense chunks for the whole problem)
        long examples = problem != null ? Math.max(problem[0], problem[1]) : Math.max(pass1.n, pass2.n);
        JcPlan plan = pass1.side.jcPlan(pass2.side, in.same, tileBytes, examples);
        Tensor acc = null;
        for (JcPlan.Step step : plan.steps) {
            try (Tensor k = step.run(this, in, pass1, pass2)) {
                if (acc == null) {
                    acc = k.copy();
                } else {
                    KernelSupport.addInto(acc, k);
                }
            }
        }
        return acc != null ? acc : contract(List.of(), List.of(), in, true);
    }

    /**
     * One parameter's kernel when the parameter feeds a dense layer as it is: its Jacobian written directly in
     * example-major layout, over the plan's chunks of its fan-in rows (sized for the whole problem; every
     * example and output in each chunk, so each chunk is one GEMM over all N·O rows), the chunks' kernels summed.
     */
    Tensor denseParameterKernel(KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, PerExamplePass.Dense d1,
                                PerExamplePass.Dense d2, int[] chunks) {
        // the Jacobians written directly: counted as the consumer's one-example row graph per example and side
        double rowFlops = org.ntk4j.graph.GraphCost.flops(pass1.side.rowGraph(d1.consumer));
        org.ntk4j.graph.FlopCount.add(pass1.n * rowFlops + (in.same ? 0
                : pass2.n * org.ntk4j.graph.GraphCost.flops(pass2.side.rowGraph(d2.consumer))));
        Tensor k = null;
        for (int i = 0; i < Tiles.count(chunks); i++) {
            int from = chunks[i];
            int to = chunks[i + 1];
            try (Sides<Tensor> j = Sides.of(in.same, () -> pass1.denseJacobian(d1, from, to),
                    () -> pass2.denseJacobian(d2, from, to), Tensor::close)) {
                Tensor kc = contract(List.of(j.first()), List.of(j.second()), in, true);
                if (k == null) {
                    k = kc;
                } else {
                    KernelSupport.addInto(k, kc);
                    kc.close();
                }
            }
        }
        return k;
    }

    /**
     * One parameter's kernel when its per-example Jacobian would pass the tile limit: the Jacobian is formed over
     * tiles of examples (each tile a tensor of its own, together the same bytes as the whole), and each pair of
     * tiles is contracted into its block of the kernel; with x2 = x1 the pairs on and above the diagonal only, the
     * others mirrored. A traced or diagonal batch axis pairs tile i with tile i only (traced blocks are summed,
     * each divided by the full trace size).
     */
    Tensor tiledParameterKernel(KernelInputs in, PerExamplePass pass1, PerExamplePass pass2, int p, int[] t1,
                                int[] t2) {
        KernelAxes axes = in.axes();
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        boolean batchPaired = !axes.isTraced(0) && !axes.isDiagonal(0);
        int[] b2 = batchPaired ? t2 : t1; // a traced or diagonal batch axis has n1 = n2 (checked)
        Tensor[] j1 = new Tensor[Tiles.count(t1)];
        Tensor[] j2 = in.same && b2 == t1 ? j1 : new Tensor[Tiles.count(b2)];
        try {
            for (int i = 0; i < j1.length; i++) {
                j1[i] = pass1.jacobians(List.of(p), t1[i], t1[i + 1])[0];
            }
            if (j2 != j1) {
                for (int i = 0; i < j2.length; i++) {
                    j2[i] = pass2.jacobians(List.of(p), b2[i], b2[i + 1])[0];
                }
            }
            int[] outShape = axes.outputShape(f1, f2);
            int[] outStrides = Shapes.strides(outShape);
            Tensor k = Tensor.zeros(in.dtype, outShape);
            long divisor = axes.traceSize(f1);
            // x2 = x1: the blocks below the example diagonal are the mirrors of those above it, copied at the end
            boolean mirrored = batchPaired && j2 == j1;
            for (int i = 0; i < j1.length; i++) {
                for (int j = mirrored ? i : 0; j < j2.length; j++) {
                    if (!batchPaired && i != j) {
                        continue;
                    }
                    int[] f1t = f1.clone();
                    f1t[0] = Tiles.size(t1, i);
                    int[] f2t = f2.clone();
                    f2t[0] = Tiles.size(b2, j);
                    try (Tensor blk = contract(List.of(j1[i]), List.of(j2[j]), axes, f1t, f2t, in.dtype, true,
                            divisor)) {
                        if (axes.isTraced(0)) {
                            KernelSupport.addInto(k, blk);
                        } else {
                            int off = t1[i] * outStrides[0] + (batchPaired ? b2[j] * outStrides[1] : 0);
                            Layout.stridedCopy(blk, 0, Shapes.strides(blk.shape()), k, off, outStrides, blk.shape());
                        }
                    }
                }
            }
            if (mirrored) {
                KernelReduction.mirrorUpper(k, axes.mirrorPermutation());
            }
            return k;
        } finally {
            KernelSupport.closeAll(j1);
            if (j2 != j1) {
                KernelSupport.closeAll(j2);
            }
        }
    }

    /**
     * Θ = Σ_p dot_general(J1_p, J2_p) contracting the traced axes (and, for Jacobians, the flattened
     * parameter axis last) and batching the diagonal axes, then permuted to the zip layout and divided by the
     * size of the traced axes.
     */
    static Tensor contract(List<Tensor> j1, List<Tensor> j2, KernelInputs in, boolean withParamAxis) {
        int[] f1 = in.f1();
        KernelAxes axes = in.axes();
        return contract(j1, j2, axes, f1, in.f2(), in.dtype, withParamAxis, axes.traceSize(f1));
    }

    /** {@link #contract(List, List, Inputs, boolean)} for outputs f1, f2 (tiles of the batch), dividing by divisor. */
    private static Tensor contract(List<Tensor> j1, List<Tensor> j2, KernelAxes axes, int[] f1, int[] f2,
                                   DType dtype, boolean withParamAxis, long divisor) {
        axes.checkShapes(f1, f2);
        int r = axes.rank();
        int[] contractAxes = withParamAxis ? Shapes.concat(axes.trace(), new int[] {r}) : axes.trace();
        Tensor sum = null;
        for (int p = 0; p < j1.size(); p++) {
            // x2 = x1 (one tensor for both sides): the Gram, about half the multiply-adds (CostModel's rule too)
            Tensor t = j1.get(p) == j2.get(p) ? CountedDot.gram(j1.get(p), contractAxes, axes.diagonal())
                    : CountedDot.dot(j1.get(p), j2.get(p), contractAxes, contractAxes, axes.diagonal(),
                            axes.diagonal());
            if (sum == null) {
                sum = t;
            } else {
                for (int i = 0; i < sum.size(); i++) {
                    sum.setFlat(i, sum.getFlat(i) + t.getFlat(i));
                }
                t.close();
            }
        }
        if (sum == null) { // a model without parameters has a zero NTK
            return Tensor.zeros(dtype, axes.outputShape(f1, f2));
        }
        Tensor out = Layout.transpose(sum, axes.zipPermutation());
        sum.close();
        KernelReduction.scale(out, 1.0 / divisor);
        return out;
    }
}
