package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.List;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.Graph;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives as a strategy: per parameter, its consumer rule's factors with the path Gram applied,
 * contracted in the plan's {@link ContractionOrder} ({@link StructuredDerivatives}); parameters without a rule
 * through their per-example rows. A model that mixes examples runs Jacobian contraction's exact batch path.
 */
final class StructuredKernel extends KernelStrategy {
    private final JacobianContraction exactBatch;

    StructuredKernel(Model model, Params params, long tileBytes, long[] problem) {
        super(model, params, tileBytes, problem);
        this.exactBatch = new JacobianContraction(model, params, tileBytes, problem);
    }

    /**
     * Structured derivatives. A model that mixes examples has no per-example cotangents, so it takes the
     * exact path of Jacobian contraction without the shortcut (the explanation says so).
     */
    @Override
    Tensor kernel(KernelInputs in) {
        SidePlan side1 = side(in.x1.dim(0), in.perExample, in.dtype);
        if (!side1.perExampleShortcut) {
            return exactBatch.kernel(in);
        }
        Tensor[] ps = paramArgs(in.specs);
        try (PerExamplePass pass1 = new PerExamplePass(side1, ps, in.x1);
             PerExamplePass pass2 = in.same ? null
                     : new PerExamplePass(side(in.x2.dim(0), in.perExample, in.dtype), ps, in.x2)) {
            return block(in, pass1, in.same ? pass1 : pass2);
        }
    }

    /** Structured derivatives from the per-example passes of x1 and x2 (the same pass when x2 = x1). */
    @Override
    Tensor block(KernelInputs in, PerExamplePass pass1, PerExamplePass p2) {
        ParameterConsumers pc1 = pass1.pc;
        ParameterConsumers pc2 = p2.pc;
        KernelAxes axes = in.axes();
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        axes.checkShapes(f1, f2);
        int r = axes.rank();
        boolean traced = axes.diagonal().length == 0
                && java.util.Arrays.equals(axes.trace(), KernelSupport.rangeFrom(1, r));
        // the contraction order of each parameter is chosen for the whole problem, so every tile uses it
        long[] whole = problem != null ? problem : KernelSupport.problemOf(pass1.n, in.same ? 0 : p2.n);
        int n1 = pass1.n;
        int n2 = p2.n;
        int o = pass1.o;
        Tensor acc = traced ? Tensor.zeros(in.dtype, n1, n2) : Tensor.zeros(in.dtype, n1, o, n2, o);
        List<Integer> dense = new ArrayList<>();
        for (int p = 0; p < in.specs.size(); p++) {
            StructuredDerivatives.Structured st = pass1.side.structured(p);
            if (st == null) {
                dense.add(p);
                continue;
            }
            ParameterConsumers.Consumer c1 = st.consumer;
            ParameterConsumers.Consumer c2 = pc2.consumers.get(pc1.consumers.indexOf(c1));
            StructuredDerivatives.addParameterBlock(acc, st, pass1, c1, p2, c2, traced, in.same, whole[0],
                    whole[1], whole[2] == 1);
        }
        if (!dense.isEmpty()) {
            Tensor[] j1 = pass1.jacobians(dense);
            Tensor[] j2 = in.same ? j1 : p2.jacobians(dense);
            for (int i = 0; i < j1.length; i++) {
                int size = j1[i].dim(-1);
                try (Tensor a = j1[i].reshape(n1, o, size);
                     Tensor b = in.same ? null : j2[i].reshape(n2, o, size)) {
                    Tensor bb = in.same ? a : b;
                    int[] none = new int[0];
                    try (Tensor blk = traced
                            ? CountedDot.dot(a, bb, new int[] {1, 2}, new int[] {1, 2}, none, none)
                            : CountedDot.dot(a, bb, new int[] {2}, new int[] {2}, none, none)) {
                        KernelSupport.addInto(acc, blk);
                    }
                }
            }
            KernelSupport.closeAll(j1);
            if (!in.same) {
                KernelSupport.closeAll(j2);
            }
        }
        if (traced) {
            KernelReduction.scale(acc, 1.0 / o);
            return acc;
        }
        try (Tensor full = acc.reshape(Shapes.concat(f1, f2))) {
            acc.close();
            return KernelReduction.reduce(full, axes, f1, f2);
        }
    }
}
