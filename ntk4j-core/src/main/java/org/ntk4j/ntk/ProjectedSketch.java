package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The projected:K kind: each side's per-parameter Jacobian rows sketched by a seeded CountSketch into [n, O, K]
 * (prepared once per tile), and a block is (1/O) Σ_o S1[n1, o]·S2[n2, o].
 */
final class ProjectedSketch {
    private final Model model;
    private final Params params;
    private final KernelKind kind;

    ProjectedSketch(Model model, Params params, KernelKind kind) {
        this.model = model;
        this.params = params;
        this.kind = kind;
    }

    /** A tile's sketched Jacobian [n, O, K] from its per-example pass. The caller closes it. */
    Tensor prepare(Tensor x) {
        int[] perExample = Shapes.dropFirst(x.shape());
        List<ParamSpec> specs = model.paramSpecs(perExample);
        try (PerExamplePass p = new PerExamplePass(side(x.dim(0), perExample, x.dtype()),
                KernelSupport.paramArgs(params, specs), x)) {
            Tensor s = Tensor.zeros(x.dtype(), x.dim(0), p.o, kind.argument());
            for (int i = 0; i < specs.size(); i++) {
                try (Tensor j = p.jacobians(List.of(i))[0]) {
                    CountSketch.accumulate(j, s, kind.seed(), i);
                }
            }
            return s;
        }
    }

    /** The block (1/O) Σ_o S1[n1, o]·S2[n2, o] of two prepared sketches. */
    static Tensor block(Tensor s1, Tensor s2) {
        Tensor k = DotGeneralKernel.dot(s1, s2, new int[] {1, 2}, new int[] {1, 2}, new int[0], new int[0]);
        KernelReduction.scale(k, 1.0 / s1.dim(1));
        return k;
    }

    private Tensor[] paramArgs(List<ParamSpec> specs) {
        return KernelSupport.paramArgs(params, specs);
    }

    private SidePlan side(int n, int[] perExample, DType dtype) {
        return SidePlan.of(model, n, perExample, dtype);
    }

    /**
     * projected:K: per-parameter Jacobians (one parameter at a time when examples are independent), each
     * sketched by a seeded CountSketch (column i of parameter p goes to bucket h(p, i) with sign s(p, i)), then
     * (1/O) Σ_o S1[n1, o]·S2[n2, o].
     */
    Tensor kernel(KernelInputs in, int o) {
        int k = kind.argument();
        int n1 = in.x1.dim(0);
        int n2 = in.x2.dim(0);
        Tensor s1 = Tensor.zeros(in.dtype, n1, o, k);
        Tensor s2 = in.same ? s1 : Tensor.zeros(in.dtype, n2, o, k);
        SidePlan side1 = side(n1, in.perExample, in.dtype);
        try {
            if (side1.perExampleShortcut) {
                SidePlan side2 = side(n2, in.perExample, in.dtype);
                Tensor[] ps = paramArgs(in.specs);
                try (PerExamplePass pass1 = new PerExamplePass(side1, ps, in.x1);
                     PerExamplePass pass2 = in.same ? null : new PerExamplePass(side2, ps, in.x2)) {
                    for (int p = 0; p < in.specs.size(); p++) {
                        try (Tensor j = pass1.jacobians(List.of(p))[0]) {
                            CountSketch.accumulate(j, s1, kind.seed(), p);
                        }
                        if (!in.same) {
                            try (Tensor j = pass2.jacobians(List.of(p))[0]) {
                                CountSketch.accumulate(j, s2, kind.seed(), p);
                            }
                        }
                    }
                }
            } else {
                Tensor[] j1 = ExactBatch.jacobians(side1, paramArgs(in.specs), in.x1, in.specs);
                for (int p = 0; p < j1.length; p++) {
                    CountSketch.accumulate(j1[p], s1, kind.seed(), p);
                }
                KernelSupport.closeAll(j1);
                if (!in.same) {
                    Tensor[] j2 = ExactBatch.jacobians(side(n2, in.perExample, in.dtype), paramArgs(in.specs),
                            in.x2, in.specs);
                    for (int p = 0; p < j2.length; p++) {
                        CountSketch.accumulate(j2[p], s2, kind.seed(), p);
                    }
                    KernelSupport.closeAll(j2);
                }
            }
            Tensor kern = DotGeneralKernel.dot(s1, s2, new int[] {1, 2}, new int[] {1, 2}, new int[0], new int[0]);
            KernelReduction.scale(kern, 1.0 / o);
            return kern;
        } finally {
            s1.close();
            if (!in.same) {
                s2.close();
            }
        }
    }
}
