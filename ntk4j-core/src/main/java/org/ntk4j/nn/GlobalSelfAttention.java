package org.ntk4j.nn;

import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Multi-head self-attention over all positions of each example (per example [T, D] to [T, D]).
 * With H heads of size d = D/H and c = σ_w/√D (NTK parameterisation; weights N(0,1)):
 * <pre>
 *   Q = c·x·wq, K = c·x·wk, V = c·x·wv          (each [T, H, d])
 *   A_h = softmax_s(Q_h K_hᵀ / √d)                ([H, T, S], softmax over the key positions s)
 *   y = (σ_w/√(H·d)) · concat_h(A_h V_h) · wo
 * </pre>
 * Standard parameterisation moves the scales into the initial standard deviations.
 */
public final class GlobalSelfAttention extends SingleLayer {
    private final int heads;
    private final double wStd;
    private final Parameterization parameterization;

    /**
     * A self-attention layer; the feature size must be divisible by {@code heads} (checked by {@link #outputShapes}).
     *
     * @param heads the number of heads H, at least 1
     * @param wStd σ_w, the weight scale
     * @param parameterization NTK or standard (see the class comment)
     * @throws IllegalArgumentException if {@code heads} &lt; 1
     */
    public GlobalSelfAttention(int heads, double wStd, Parameterization parameterization) {
        if (heads < 1) {
            throw new IllegalArgumentException("global_self_attention: heads must be >= 1, got " + heads);
        }
        this.heads = heads;
        this.wStd = wStd;
        this.parameterization = parameterization;
    }

    @Override
    public String kind() {
        return "attention";
    }

    @Override
    int[] outputShape(int[] in) {
        requireRank(in, 2, "[positions, features]");
        if (in[1] % heads != 0) {
            throw new IllegalArgumentException("global_self_attention: the feature size " + in[1]
                    + " is not divisible by the " + heads + " heads (shape " + Shapes.str(in) + ")");
        }
        return in;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        int d = in[1];
        double std = parameterization == Parameterization.NTK ? 1.0 : wStd / Math.sqrt(d);
        for (String name : new String[] {"wq", "wk", "wv", "wo"}) {
            scope.declare(name, new int[] {d, d}, std, 0);
        }
    }

    private Var project(Var x, Var w) {
        Var y = x.matmul(w);
        return parameterization == Parameterization.NTK ? y.mul(wStd / Math.sqrt(w.dim(0))) : y;
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int n = x.dim(0);
        int t = x.dim(1);
        int dm = x.dim(2);
        int d = dm / heads;
        Var q = project(x, scope.get("wq")).reshape(n, t, heads, d);
        Var k = project(x, scope.get("wk")).reshape(n, t, heads, d);
        Var v = project(x, scope.get("wv")).reshape(n, t, heads, d);
        // logits[n, h, t, s] = Σ_d q[n, t, h, d] k[n, s, h, d] / √d
        Var logits = q.dotGeneral(k, new int[] {3}, new int[] {3}, new int[] {0, 2}, new int[] {0, 2})
                .mul(1 / Math.sqrt(d));
        Var shifted = logits.sub(logits.reduceMax(3).expandDims(-1));
        Var e = shifted.exp();
        Var attn = e.div(e.sum(3).expandDims(-1));
        // out[n, h, t, d] = Σ_s attn[n, h, t, s] v[n, s, h, d]
        Var out = attn.dotGeneral(v, new int[] {3}, new int[] {1}, new int[] {0, 1}, new int[] {0, 2});
        Var merged = out.transpose(0, 2, 1, 3).reshape(n, t, dm);
        return project(merged, scope.get("wo"));
    }
}
