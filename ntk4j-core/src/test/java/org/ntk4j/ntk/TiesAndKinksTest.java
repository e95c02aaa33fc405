package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Ties and kinks hit exactly, as images with a zero background hit them: every kernel method (Jacobian contraction,
 * NTK-vector products, structured derivatives) takes the same derivative there, and that derivative is the rule
 * each primitive documents (PyTorch's): relu 0 at 0, max(x, αx) α, |x| 0, {@code maxSplittingTies} half of each
 * operand at a tie, max(c, x) 1 at x = c (a clamp's bound), reduce_max split evenly among the tied elements, max
 * pooling to each window's first maximum in row-major order (with −∞ padding and overlapping windows). The eNTK of a
 * layer of all of them is checked against its closed form from those rules, in float64; and a zoo network (zero-bias
 * convolution, relu, max pooling, leaky relu, overlapping max pooling) on zero-background images against itself across
 * the methods.
 */
class TiesAndKinksTest {
    private static final int H = 4;
    private static final int W = 4;
    private static final int S = H * W;
    private static final int O = 3;
    /** relu, leaky, abs, split max, clamp: S each; reduce_max: 1; 2×2/2 pooling: 4; 3×3/1 pad 1 pooling: S. */
    private static final int F = 5 * S + 1 + 4 + S;
    private static final double ALPHA = 0.25;
    private static final Method[] METHODS = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    /** h = s·x + p, g = t·x + q over [N, 4, 4, 1]; y = concat(every tie rule of h, g) · w. */
    private static final class Ties implements Layer {
        @Override
        public String kind() {
            return "ties";
        }

        @Override
        public List<int[]> outputShapes(List<int[]> in) {
            return List.of(new int[] {O});
        }

        @Override
        public void declare(ParamScope scope, List<int[]> in) {
            scope.declare("s", new int[] {1}, 1.0, 0);
            scope.declare("t", new int[] {1}, 1.0, 0);
            scope.declare("p", new int[] {H, W, 1}, 1.0, 0);
            scope.declare("q", new int[] {H, W, 1}, 1.0, 0);
            scope.declare("w", new int[] {F, O}, 1.0, 0);
        }

        @Override
        public List<Var> apply(ParamScope scope, List<Var> in) {
            Var x = in.get(0);
            int n = x.dim(0);
            Var h = x.mul(scope.get("s")).add(scope.get("p"));
            Var g = x.mul(scope.get("t")).add(scope.get("q"));
            Var zero = h.builder().scalar(0.0, h.dtype());
            Var[] parts = {h.relu(), h.max(h.mul(ALPHA)), h.relu().add(h.neg().relu()), h.maxSplittingTies(g),
                zero.max(h), h.reduceMax(1, 2, 3),
                h.reduceWindowMax(new int[] {1, 2, 2, 1}, new int[] {1, 2, 2, 1}, new int[4], new int[4]),
                h.reduceWindowMax(new int[] {1, 3, 3, 1}, new int[] {1, 1, 1, 1}, new int[] {0, 1, 1, 0},
                        new int[] {0, 1, 1, 0})};
            Var[] flat = new Var[parts.length];
            for (int i = 0; i < parts.length; i++) {
                flat[i] = parts[i].reshape(n, parts[i].size() / n);
            }
            return List.of(Var.concatenate(1, flat).matmul(scope.get("w")));
        }
    }

    /** Zeros; a zero background with strokes of 1; one decisive pixel of 2 per 2×2 block; and a random one. */
    private static Tensor images(int channels) {
        Tensor x = Tensor.zeros(DType.F64, 4, H, W, channels);
        java.util.Random r = new java.util.Random(7);
        for (int c = 0; c < channels; c++) {
            for (int i = 1; i < H - 1; i++) {
                x.set(1.0, 1, i, 2, c);
                x.set(1.0, 1, 2, i, c);
            }
            for (int i = 1; i < H; i += 2) {
                for (int j = 1; j < W; j += 2) {
                    x.set(2.0, 2, i, j, c);
                }
            }
            for (int i = 0; i < H; i++) {
                for (int j = 0; j < W; j++) {
                    x.set(r.nextGaussian(), 3, i, j, c);
                }
            }
        }
        return x;
    }

    @Test
    void everyMethodTakesTheDocumentedDerivativeAtTies() {
        Model model = new Model(new Ties(), "ties");
        int[] in = {H, W, 1};
        try (Params params = model.init(5, in, DType.F64); Tensor x = images(1)) {
            // ties: p repeats 0, 0, 0.5, 0, -0.5, 0.5; q equals p at half the positions
            double[] pv = {0, 0, 0.5, 0, -0.5, 0.5};
            double[] qv = {0, 1, 0.5, -1, 0, 0.5, 0.5, 0};
            for (int i = 0; i < S; i++) {
                tensor(params, "p").setFlat(i, pv[i % pv.length]);
                tensor(params, "q").setFlat(i, qv[i % qv.length]);
            }
            tensor(params, "s").setFlat(0, 0.75);
            tensor(params, "t").setFlat(0, -1.25);
            try (Tensor expected = closedForm(params, x)) {
                for (Method m : METHODS) {
                    try (Tensor k = EmpiricalNtk.of(model, params).traceAxes().method(m).ntk(x, null)) {
                        assertThat(k.shape()).containsExactly(expected.shape());
                        assertThat(maxRelative(k, expected)).as("%s", m).isLessThan(1e-12);
                    }
                }
            }
        }
    }

    @Test
    void aZooNetworkOnZeroBackgroundsGetsOneKernelFromEveryMethod() {
        Model model = new Model(Layers.serial(
                Layers.conv(3, new int[] {3, 3}, new int[] {1, 1}, "SAME", 1.5, 0.5, Parameterization.NTK),
                Layers.relu(), Layers.maxPool(new int[] {2, 2}, new int[] {2, 2}, new int[][] {{0, 0}, {0, 0}}),
                Layers.leakyRelu(0.1),
                Layers.maxPool(new int[] {3, 3}, new int[] {1, 1}, new int[][] {{1, 1}, {1, 1}}),
                Layers.flatten(), Layers.dense(O)), "zoo-ties");
        int[] in = {H, W, 2};
        try (Params params = model.init(11, in, DType.F64); Tensor x = images(2)) {
            // the convolution's bias 0 in two of its three channels: their pre-activations are 0 on the background;
            // the third's is positive, so that the background's pooling windows tie at that value
            Tensor b = tensor(params, "0_conv/b");
            b.setFlat(0, 0.0);
            b.setFlat(1, 0.3);
            b.setFlat(2, 0.0);
            try (Tensor jc = EmpiricalNtk.of(model, params).traceAxes().method(Method.JACOBIAN_CONTRACTION)
                    .ntk(x, null)) {
                assertThat(jc.get(0, 0, 0, 0)).isGreaterThan(0.0);
                for (Method m : new Method[] {Method.NTK_VECTOR_PRODUCTS, Method.STRUCTURED_DERIVATIVES}) {
                    try (Tensor k = EmpiricalNtk.of(model, params).traceAxes().method(m).ntk(x, null)) {
                        assertThat(maxRelative(k, jc)).as("%s", m).isLessThan(1e-12);
                    }
                }
            }
        }
    }

    private static Tensor tensor(Params params, String name) {
        for (Map.Entry<String, Tensor> e : params.tensors().entrySet()) {
            if (e.getKey().equals(name) || e.getKey().endsWith("/" + name)) {
                return e.getValue();
            }
        }
        throw new AssertionError("no parameter " + name + " in " + params.tensors().keySet());
    }

    /**
     * Θ[n, m, o, o'] from the tie rules: per example the features z [F] and their derivatives D = ∂z/∂h and
     * E = ∂z/∂g [F, S]; y = zᵀw, so ∂y/∂p = wᵀD, ∂y/∂s = wᵀD·x, ∂y/∂q = wᵀE, ∂y/∂t = wᵀE·x, ∂y_o/∂w[f, o'] = z_f δ.
     */
    private static Tensor closedForm(Params params, Tensor x) {
        int n = x.dim(0);
        double s = tensor(params, "s").getFlat(0);
        double t = tensor(params, "t").getFlat(0);
        Tensor w = tensor(params, "w");
        List<double[][]> jac = new ArrayList<>();
        List<double[]> feats = new ArrayList<>();
        for (int e = 0; e < n; e++) {
            double[] h = new double[S];
            double[] g = new double[S];
            double[] xs = new double[S];
            for (int i = 0; i < S; i++) {
                xs[i] = x.getFlat(e * S + i);
                h[i] = s * xs[i] + tensor(params, "p").getFlat(i);
                g[i] = t * xs[i] + tensor(params, "q").getFlat(i);
            }
            double[] z = new double[F];
            double[][] d = new double[F][S];
            double[][] dg = new double[F][S];
            for (int i = 0; i < S; i++) {
                z[i] = Math.max(h[i], 0);
                d[i][i] = h[i] > 0 ? 1 : 0;
                z[S + i] = Math.max(h[i], ALPHA * h[i]);
                d[S + i][i] = h[i] > 0 ? 1 : ALPHA;
                z[2 * S + i] = Math.abs(h[i]);
                d[2 * S + i][i] = Math.signum(h[i]);
                z[3 * S + i] = Math.max(h[i], g[i]);
                d[3 * S + i][i] = h[i] > g[i] ? 1 : h[i] == g[i] ? 0.5 : 0;
                dg[3 * S + i][i] = 1 - d[3 * S + i][i];
                z[4 * S + i] = Math.max(0, h[i]);
                d[4 * S + i][i] = h[i] >= 0 ? 1 : 0;
            }
            int f = 5 * S;
            double max = Double.NEGATIVE_INFINITY;
            int count = 0;
            for (double v : h) {
                max = Math.max(max, v);
            }
            for (double v : h) {
                count += v == max ? 1 : 0;
            }
            z[f] = max;
            for (int i = 0; i < S; i++) {
                d[f][i] = h[i] == max ? 1.0 / count : 0;
            }
            f++;
            f = pool(h, 2, 2, 0, z, d, f);
            pool(h, 3, 1, 1, z, d, f);
            double[][] j = new double[O][];
            for (int o = 0; o < O; o++) {
                // [p (S), s, q (S), t, w (F·O)]
                double[] row = new double[2 * S + 2 + F * O];
                for (int k = 0; k < F; k++) {
                    double wk = w.get(k, o);
                    for (int i = 0; i < S; i++) {
                        row[i] += wk * d[k][i];
                        row[S] += wk * d[k][i] * xs[i];
                        row[S + 1 + i] += wk * dg[k][i];
                        row[2 * S + 1] += wk * dg[k][i] * xs[i];
                    }
                    row[2 * S + 2 + k * O + o] = z[k];
                }
                j[o] = row;
            }
            jac.add(j);
            feats.add(z);
        }
        Tensor k = Tensor.zeros(DType.F64, n, n, O, O);
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                for (int o = 0; o < O; o++) {
                    for (int u = 0; u < O; u++) {
                        double sum = 0;
                        for (int i = 0; i < jac.get(a)[o].length; i++) {
                            sum += jac.get(a)[o][i] * jac.get(b)[u][i];
                        }
                        k.set(sum, a, b, o, u);
                    }
                }
            }
        }
        return k;
    }

    /**
     * Max pooling of the H×W map h with a k×k window, stride st and −∞ padding pad: each output's value and, in d,
     * a 1 at its window's first maximal element in row-major order; returns the next feature index.
     */
    private static int pool(double[] h, int k, int st, int pad, double[] z, double[][] d, int f) {
        int oh = (H + 2 * pad - k) / st + 1;
        int ow = (W + 2 * pad - k) / st + 1;
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                double m = Double.NEGATIVE_INFINITY;
                int at = -1;
                for (int a = 0; a < k; a++) {
                    for (int b = 0; b < k; b++) {
                        int r = i * st - pad + a;
                        int c = j * st - pad + b;
                        if (r >= 0 && r < H && c >= 0 && c < W && h[r * W + c] > m) {
                            m = h[r * W + c];
                            at = r * W + c;
                        }
                    }
                }
                z[f] = m;
                d[f][at] = 1;
                f++;
            }
        }
        return f;
    }

    /** max |a − b| over max |b|. */
    private static double maxRelative(Tensor a, Tensor b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.size(); i++) {
            diff = Math.max(diff, Math.abs(a.getFlat(i) - b.getFlat(i)));
            scale = Math.max(scale, Math.abs(b.getFlat(i)));
        }
        return diff / scale;
    }
}
