package org.ntk4j.infinite;

import java.util.Locale;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.ModelSpec;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.GpInference;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The infinite-width NNGP and NTK of the zoo's {@code fcn}: flatten, depth × (dense(width), act), dense(out), for
 * every zoo activation, with the zoo's σ_w, σ_b and either parameterisation — the analytic kernels of exactly that
 * network, output layer and biases included (neural-tangents' {@code stax} {@code kernel_fn} of the same layers).
 *
 * <p>With d the flattened input size and (u, v) ~ N(0, [[K(x,x), K(x,x')], [K(x,x'), K(x',x')]]) at each layer:
 * <pre>
 *   K¹ = σ_w² x·x'/d + σ_b²                              (the first dense layer)
 *   K^{l+1} = σ_w² E[φ(u)φ(v)] + σ_b²
 *   NTK parameterisation:      Θ¹ = K¹,          Θ^{l+1} = K^{l+1} + σ_w² E[φ'(u)φ'(v)] Θ^l
 *   standard parameterisation: Θ¹ = x·x' + [b],  Θ^{l+1} = n_l E[φ(u)φ(v)] + [b] + σ_w² E[φ'(u)φ'(v)] Θ^l
 * </pre>
 * ([b] = 1 when the layer has a bias, σ_b ≠ 0; n_l the layer's fan-in: d for the first, width after.) The output
 * kernels are those of the last (depth + 1-th) dense layer. Under the standard parameterisation the NTK grows with
 * the widths (the gradient of a weight is not scaled by 1/√fan_in), so, as neural-tangents does, its "limit" is
 * the leading-order NTK at the network's actual widths: the finite network's eNTK divided by it still tends to 1.
 *
 * <p>Closed forms, with c = K(x,x')/√(K(x,x)K(x',x')) and θ = arccos c:
 * ReLU (arc-cosine kernels of degree 1 and 0): E[φφ] = √(K(x,x)K(x',x'))·(sin θ + (π − θ) cos θ)/(2π),
 * E[φ'φ'] = (π − θ)/(2π);
 * erf: E[φφ] = (2/π) arcsin(2K(x,x') / √((1 + 2K(x,x))(1 + 2K(x',x')))),
 * E[φ'φ'] = (4/π) / √((1 + 2K(x,x))(1 + 2K(x',x')) − 4K(x,x')²).
 * leaky_relu, identity, abs, gelu, sin, cos, exp and gaussian have closed forms too, tanh, sigmoid, softplus, silu
 * and elu a numerical integration accurate to about 1e-15 ({@link ActivationDuals}). With depth = 0 the activation
 * is never applied: every act gives the same (linear) limit.
 *
 * <p>The limit is diagonal in the logits (K ⊗ I_O, Θ ⊗ I_O); {@link #kernel} lays it out as the empirical kernel
 * of the same kind (trace = mean over the logits = Θ).
 */
public final class FcnLimit implements InfiniteLimit {
    private final int depth;
    private final int width;
    private final int out;
    private final Activation act;
    private final Parameterization param;
    private final double wStd;
    private final double bStd;

    /**
     * The limit of an fcn with the given hyperparameters (the same as the zoo's {@code fcn} spec).
     *
     * @param depth number of hidden dense layers, at least 0
     * @param width hidden width, at least 1 (matters only under standard parameterization)
     * @param out number of logits, at least 1
     * @param act the hidden activation (the zoo's layer: its kind, and its slope for leaky_relu)
     * @param param NTK or standard parameterization
     * @param wStd weight standard deviation σ_w
     * @param bStd bias standard deviation σ_b; 0 means no bias terms
     * @throws IllegalArgumentException if depth, width or out is out of range, σ_w or σ_b is negative or not
     *     finite, or act or param is null
     */
    public FcnLimit(int depth, int width, int out, Activation act, Parameterization param, double wStd,
                    double bStd) {
        if (depth < 0 || width < 1 || out < 1) {
            throw new IllegalArgumentException("fcn limit: expected depth >= 0, width >= 1 and out >= 1, got depth "
                    + depth + ", width " + width + ", out " + out);
        }
        ZooLimitOptions.requireStandardDeviations("fcn limit", wStd, bStd);
        if (act == null || param == null) {
            throw new IllegalArgumentException("fcn limit: act and param are required, got act "
                    + (act == null ? null : act.function()) + ", param " + param);
        }
        this.depth = depth;
        this.width = width;
        this.out = out;
        this.act = act;
        this.param = param;
        this.wStd = wStd;
        this.bStd = bStd;
    }

    /**
     * The limit of a zoo spec such as {@code fcn(depth=2,width=1024,act=tanh,param=standard)}; any other model is
     * refused with a one-line message naming what is supported.
     *
     * @param specText the model spec, with the zoo's defaults for omitted parameters
     * @return the limit
     * @throws IllegalArgumentException for another model, an unknown activation, or a bad or unknown parameter
     */
    public static FcnLimit of(String specText) {
        ModelSpec s = ZooLimitOptions.spec(specText, "fcn");
        Zoo.FcnOptions o = Zoo.FcnOptions.of(s);
        s.rejectUnknown(Zoo.knownOptions("fcn"));
        return new FcnLimit(o.depth(), o.width(), o.out(), o.act(), o.param(), o.wStd(), o.bStd());
    }

    @Override
    public double expectations(int n1, int n2, int[] perExample) {
        return LimitLayout.pairs(n1, n2) * depth;
    }

    @Override
    public double weightedExpectations(Tensor x1, Tensor x2) {
        if (!integratesNumerically()) {
            return LimitLayout.unweighted(this, x1, x2);
        }
        LimitLayout.requireInputs(x1, x2);
        double[][] a = nodeWeights(flatten(x1));
        double[][] b = x2 == null ? null : nodeWeights(flatten(x2));
        double sum = 0;
        for (int l = 0; l < depth; l++) {
            sum += LimitLayout.pairSum(a[l], b == null ? null : b[l]);
        }
        return sum;
    }

    /**
     * {@link ActivationDuals#relativeNodes} of each example's variance at each activation, [layer][example]: the
     * diagonal of the recursion of {@link #pairKernels}, k ← w²·E[φ(u)²] + b² from k = w²·x·x/d + b².
     */
    private double[][] nodeWeights(double[][] x) {
        double[][] g = new double[depth][x.length];
        ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
        double w2 = wStd * wStd;
        double b2 = bStd * bStd;
        for (int i = 0; i < x.length; i++) {
            double k = w2 * dot(x[i], x[i]) / Math.max(1, x[i].length) + b2;
            for (int l = 0; l < depth; l++) {
                g[l][i] = ActivationDuals.relativeNodes(act, k);
                k = w2 * ActivationDuals.meanSquare(act, k, scratch) + b2;
            }
        }
        return g;
    }

    @Override
    public boolean integratesNumerically() {
        return ActivationDuals.numerical(act);
    }

    @Override
    public int outputs() {
        return out;
    }

    /**
     * NNGP and NTK of the output for one pair of inputs, in double precision.
     *
     * @param xx x·x
     * @param yy x'·x'
     * @param xy x·x'
     * @param d the input size (fan-in of the first layer), at least 1
     * @return {@code {K(x,x'), Θ(x,x')}}
     * @throws IllegalArgumentException if d is less than 1 (x·x'/d would be 0/0)
     */
    public double[] pair(double xx, double yy, double xy, int d) {
        if (d < 1) {
            throw new IllegalArgumentException("d: expected an input size >= 1, got " + d);
        }
        double[] kt = new double[2];
        pairKernels(xx, yy, xy, d, kt, new ActivationDuals.Scratch());
        return kt;
    }

    /**
     * {K(x,x'), Θ(x,x')} of the output layer from x·x, x'·x', x·x' and the input size d (one pass of the
     * recursion over the three covariances) into {@code kt}, allocation-free with the worker's scratch.
     */
    private void pairKernels(double xx, double yy, double xy, int d, double[] kt, ActivationDuals.Scratch scratch) {
        boolean std = param == Parameterization.STANDARD;
        double bias = bStd != 0 ? 1 : 0;
        double w2 = wStd * wStd;
        double b2 = bStd * bStd;
        // first dense layer
        double k11 = w2 * xx / d + b2;
        double k22 = w2 * yy / d + b2;
        double k12 = w2 * xy / d + b2;
        double t12 = std ? xy + bias : k12;
        double[] e = scratch.expectations;
        for (int l = 0; l < depth; l++) {
            ActivationDuals.of(act, k11, k22, k12, e, scratch);
            double n11 = w2 * e[0] + b2;
            double n22 = w2 * e[1] + b2;
            double n12 = w2 * e[2] + b2;
            double linear = std ? width * e[2] + bias : n12;
            t12 = linear + w2 * e[3] * t12;
            k11 = n11;
            k22 = n22;
            k12 = n12;
        }
        kt[0] = k12;
        kt[1] = t12;
    }

    /**
     * The NNGP kernel matrix.
     *
     * @param x1 flattened inputs, {@code [N1][d]}
     * @param x2 flattened inputs, {@code [N2][d]}; null means {@code x1}
     * @return K(x1, x2), {@code [N1][N2]}
     */
    public double[][] nngp(double[][] x1, double[][] x2) {
        return kernels(x1, x2)[0];
    }

    /**
     * The NTK matrix.
     *
     * @param x1 flattened inputs, {@code [N1][d]}
     * @param x2 flattened inputs, {@code [N2][d]}; null means {@code x1}
     * @return Θ(x1, x2), {@code [N1][N2]}
     */
    public double[][] ntk(double[][] x1, double[][] x2) {
        return kernels(x1, x2)[1];
    }

    /**
     * Both kernel matrices in one pass.
     *
     * @param x1 flattened inputs, {@code [N1][d]}
     * @param x2 flattened inputs, {@code [N2][d]}; null means {@code x1} (and only the upper triangle is computed)
     * @return {@code {K, Θ}}, each {@code [N1][N2]}
     * @throws IllegalArgumentException if the rows do not all have the same length, or have none
     */
    public double[][][] kernels(double[][] x1, double[][] x2) {
        int n2 = x2 == null ? x1.length : x2.length;
        double[][] k = new double[x1.length][n2];
        double[][] t = new double[x1.length][n2];
        eachPair(x1, x2, (i, j, kt) -> {
            k[i][j] = kt[0];
            t[i][j] = kt[1];
        });
        return new double[][][] {k, t};
    }

    /**
     * Calls {@code sink} with {K(x1_i, x2_j), Θ(x1_i, x2_j)} for every pair; with x2 = null, each unordered pair of
     * x1 is computed once and given as (i, j) and (j, i).
     */
    private void eachPair(double[][] x1, double[][] x2, LimitLayout.PairSink sink) {
        double[][] b = x2 == null ? x1 : x2;
        int d = x1.length > 0 ? x1[0].length : b.length > 0 ? b[0].length : 1;
        if (d == 0) {
            // x·x'/d would be 0/0 (NaN); the tensor paths refuse such examples first (LimitLayout.requireInputs)
            throw new IllegalArgumentException((x1.length > 0 ? "x1" : "x2")
                    + ": expected rows of at least one feature, got rows of 0");
        }
        double[] n1 = squaredNorms("x1", x1, d);
        double[] n2 = x2 == null ? n1 : squaredNorms("x2", b, d);
        // the pairs over the cores (the activations' numerical integrations cost tens of µs a pair and layer)
        LimitLayout.eachPairInParallel(x1.length, b.length, x2 == null, Integer.MAX_VALUE, () -> {
            ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
            return (i, j, kt) -> pairKernels(n1[i], n2[j], dot(x1[i], b[j]), d, kt, scratch);
        }, sink);
    }

    /** x·x of each row, refusing rows of another length than {@code d}. */
    private static double[] squaredNorms(String name, double[][] x, int d) {
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            if (x[i].length != d) {
                throw new IllegalArgumentException("shape mismatch: " + name + " row " + i + " has " + x[i].length
                        + " features, expected " + d + " (the first row of x1)");
            }
            r[i] = dot(x[i], x[i]);
        }
        return r;
    }

    /**
     * The limit laid out as the empirical kernel of {@code kind} (x2 = null: x1), in {@code dtype}: full
     * [N1, N2, O, O] = Θ ⊗ I_O, trace, pntk, logit:K and probes:R [N1, N2] = Θ (unit-norm probes of a kernel
     * diagonal in the logits give it exactly), pntk-unscaled = O·Θ, diagonal [N1, N2, O]. projected:K, a sketch of
     * the parameters, has no infinite-width counterpart and is refused. Only the kernel asked for is computed,
     * straight into the result.
     *
     * @param kind the kernel layout to produce
     * @param x1 inputs, {@code [N1, ...]} (flattened per example)
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @param which the kernel: {@link LimitKernel#NNGP} (K) or {@link LimitKernel#NTK} (Θ)
     * @param dtype element type of the result
     * @return the kernel tensor in the layout of {@code kind}, which the caller closes
     * @throws IllegalArgumentException if kind, which or x1 is null, x1 or x2 holds NaN or ±∞, if they have
     *     different feature counts, or for projected kernels
     * @throws org.ntk4j.ntk.NonFiniteKernelException if the kernel overflows {@code dtype}
     */
    @Override
    public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2, LimitKernel which, DType dtype) {
        LimitLayout.requireInputs(kind, which, x1, x2);
        double[][] a = flatten(x1);
        double[][] b = x2 == null ? null : flatten(x2);
        int n2 = b == null ? a.length : b.length;
        return LimitLayout.layOut(kind, out, a.length, n2, which, dtype, sink -> eachPair(a, b, sink));
    }

    /**
     * Both kernels from one pass over the pairs (see {@link InfiniteLimit#kernels}).
     *
     * @param x1 inputs, {@code [N1, ...]} (flattened per example)
     * @param x2 inputs, {@code [N2, ...]}; null means {@code x1}
     * @param dtype element type of the results
     * @return {@code Kernels(K, Θ)} [N1, N2] each, which the caller closes
     * @throws IllegalArgumentException if x1 is null, x1 or x2 holds NaN or ±∞, or they have different feature
     *     counts
     * @throws org.ntk4j.ntk.NonFiniteKernelException if a kernel overflows {@code dtype}
     */
    @Override
    public GpInference.Kernels kernels(Tensor x1, Tensor x2, DType dtype) {
        LimitLayout.requireInputs(x1, x2);
        double[][] a = flatten(x1);
        double[][] b = x2 == null ? null : flatten(x2);
        return LimitLayout.layOutBoth(a.length, b == null ? a.length : b.length, dtype, sink -> eachPair(a, b, sink));
    }

    /** x [N, ...] as N rows of its flattened examples (the fcn's flatten). */
    static double[][] flatten(Tensor x) {
        int n = x.dim(0);
        int d = Shapes.size(Shapes.dropFirst(x.shape()));
        double[] all = x.toDoubleArray();
        double[][] r = new double[n][d];
        for (int i = 0; i < n; i++) {
            System.arraycopy(all, i * d, r[i], 0, d);
        }
        return r;
    }

    /** Σ a[i]·b[i] (also the composed limit's). */
    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "fcn limit (depth=%d, out=%d, %s, param=%s, w_std=%s, b_std=%s%s)",
                depth, out, ZooLimitOptions.activation(act), param.name().toLowerCase(Locale.ROOT), wStd, bStd,
                param == Parameterization.STANDARD ? ", widths " + width : "");
    }
}
