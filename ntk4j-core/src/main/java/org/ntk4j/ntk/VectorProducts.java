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
 * NTK-vector products: one VJP of f(x2) with the N2·O basis cotangents, then one JVP of f(x1) with all the
 * resulting parameter vectors stacked, over tiles of basis vectors when large. Its work is all per block: it
 * prepares nothing.
 */
final class VectorProducts extends KernelStrategy {
    /** The memory budget the tiles of basis vectors are sized to ({@link VpPlan}); {@link Long#MAX_VALUE}: none. */
    private final long budgetBytes;

    VectorProducts(Model model, Params params, long tileBytes, long[] problem, long budgetBytes) {
        super(model, params, tileBytes, problem);
        this.budgetBytes = budgetBytes;
    }

    @Override
    boolean needsPass() {
        return false;
    }

    @Override
    Tensor block(KernelInputs in, PerExamplePass rows, PerExamplePass columns) {
        return kernel(in);
    }

    /**
     * The full kernel by NTK-vector products: one VJP of f(x2) with the |f(x2)| basis cotangents gives the
     * parameter vectors J2ᵀ e_b; one JVP of f(x1) with all of them stacked gives Θ[:, b] = J1 J2ᵀ e_b. Traced
     * and diagonal axes are applied to the full result (as neural-tangents does for this method).
     */
    @Override
    Tensor kernel(KernelInputs in) {
        int[] f1 = in.f1();
        int[] f2 = in.f2();
        KernelAxes axes = in.axes();
        axes.checkShapes(f1, f2);
        VpPlan plan = side(in.x1.dim(0), in.perExample, in.dtype).vpPlan(side(in.x2.dim(0), in.perExample,
                in.dtype), in.same, tileBytes, budgetBytes);
        Tensor t;
        if (plan.steps.size() == 1) {
            t = plan.steps.get(0).run(this, in);
        } else {
            // tiles of basis vectors: rows [k0, k1) of [K2] + f1, one VJP and one JVP per step
            t = Tensor.empty(in.dtype, Shapes.prepend(plan.k, f1));
            int perRow = Shapes.size(f1);
            for (VpPlan.Columns step : plan.steps) {
                try (Tensor part = step.run(this, in)) {
                    org.bytedeco.javacpp.Pointer.memcpy(t.pointer().getPointer((long) step.from() * perRow),
                            part.pointer(), part.bytes());
                }
            }
        }
        // t: [K2] + f1 -> [f1..., f2...]
        int[] perm = new int[t.rank()];
        for (int i = 0; i < perm.length - 1; i++) {
            perm[i] = i + 1;
        }
        perm[perm.length - 1] = 0;
        Tensor moved = Layout.transpose(t, perm);
        t.close();
        Tensor full = moved.reshape(Shapes.concat(f1, f2));
        moved.close();
        Tensor out = KernelReduction.reduce(full, axes, f1, f2);
        full.close();
        return out;
    }

    /** Θ[..., b] for the basis vectors b in [from, to) of f(x2), as [to - from] + f1: a VJP, then a JVP. */
    Tensor vectorProductColumns(KernelInputs in, int[] f2, int from, int to) {
        Tensor[] g;
        try (Tensor basis = KernelSupport.basisRows(in.dtype, from, to, f2)) {
            g = vjpRows(in.x2, basis);
        }
        Tensor[] res;
        try {
            res = jvpWithTangents(in.x1, g, to - from);
        } finally {
            KernelSupport.closeAll(g);
        }
        return res[0];
    }

    /**
     * Bytes per basis vector of the largest stacked value NTK-vector products form (the VJP of f(x2) and the
     * JVP of f(x1), each with one vector): what decides the tiles of basis vectors ({@link VpPlan}).
     */
    static long vectorProductBytesPerVector(SidePlan side1, SidePlan side2, DType dtype) {
        long largest = 1;
        for (Graph g : new Graph[] {side2.vjp(1), side1.jvp(1)}) {
            for (org.ntk4j.graph.Equation e : g.equations()) {
                largest = Math.max(largest, e.output().size());
            }
        }
        return largest * dtype.bytes();
    }

    /** Parameter cotangents Σ_b c[k, b] ∂f(x)_b/∂θ for stacked output cotangents c [K] + f(x).shape. */
    Tensor[] vjpRows(Tensor x, Tensor cotangents) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        Graph vjp = side(x.dim(0), perExample, x.dtype()).vjp(cotangents.dim(0));
        Tensor[] res = vjp.evaluate(KernelSupport.with(paramArgs(specs), x, cotangents));
        res[0].close();
        return java.util.Arrays.copyOfRange(res, 1, res.length);
    }

    /**
     * Output tangents [K] + f(x).shape for K stacked parameter tangents [K] + θ.shape: zeros for a model without
     * parameters (no tangent to stack; its kernel is 0, as the other methods give).
     */
    Tensor[] jvpWithTangents(Tensor x, Tensor[] tangents, int k) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        SidePlan side = side(x.dim(0), perExample, x.dtype());
        if (tangents.length == 0) {
            return new Tensor[] {Tensor.zeros(x.dtype(), Shapes.prepend(k, side.f))};
        }
        Graph jvp = side.jvp(k);
        Tensor[] res = jvp.evaluate(KernelSupport.with(KernelSupport.with(paramArgs(specs), x), tangents));
        res[0].close();
        return java.util.Arrays.copyOfRange(res, 1, res.length);
    }

    /** Θ(x1, x2)·v = J1 (J2ᵀ v) for v shaped like f(x2) (checked): one VJP, then one JVP. */
    Tensor product(KernelInputs in, Tensor v) {
        try (Tensor v1 = v.reshape(Shapes.prepend(1, v.shape()))) {
            Tensor[] g = vjpRows(in.x2, v1);
            try {
                Tensor[] out = jvpWithTangents(in.x1, g, 1);
                Tensor r = out[0].reshape(Shapes.dropFirst(out[0].shape()));
                out[0].close();
                return r;
            } finally {
                KernelSupport.closeAll(g);
            }
        }
    }
}
