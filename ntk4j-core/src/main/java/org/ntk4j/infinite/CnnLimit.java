package org.ntk4j.infinite;

import java.util.Locale;
import org.ntk4j.nn.Activation;
import org.ntk4j.nn.ModelSpec;
import org.ntk4j.nn.Parameterization;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The infinite-channel NNGP and NTK (the "CNTK") of the zoo's {@code cnn}: to_image, depth × (conv filter × filter,
 * stride 1, SAME zero padding, with bias; act), global average pool ({@code pool=gap}) or flatten
 * ({@code pool=flatten}), dense(out) — the analytic kernels of exactly that network, biases, either
 * parameterisation and the readout included (neural-tangents' {@code stax.Conv(padding='SAME')}, {@code Relu}/
 * {@code Erf}, {@code GlobalAvgPool}/{@code Flatten} and {@code Dense} {@code kernel_fn}).
 *
 * <p>Per pair of images (x, x') of H × W pixels and C channels, the kernels are maps over pairs of pixels (p, p'):
 * with the filter's k² offsets δ (SAME: from −⌊(k−1)/2⌋ to ⌈(k−1)/2⌉ per axis), M(p+δ, p'+δ) = 0 when either pixel is
 * outside the image (zero padding), and (u, v) ~ N(0, [[K(x,x)[p,p], K(x,x')[p,p']], [., K(x',x')[p',p']]]):
 * <pre>
 *   K⁰[p,p'] = x(p)·x'(p')/C
 *   conv:     S[p,p'] = Σ_δ M[p+δ, p'+δ],   K^l = σ_w²/k² S(K^{l−1}_φ) + σ_b²       (K⁰_φ = K⁰, K_φ = E[φ(u)φ(v)])
 *   NTK parameterisation:      Θ¹ = K¹,  Θ^l = K^l + σ_w²/k² S(E[φ'(u)φ'(v)] Θ^{l−1})
 *   standard parameterisation: Θ^l = n_{l−1} S(K^{l−1}_φ) + [b] + σ_w²/k² S(E[φ'(u)φ'(v)] Θ^{l−1})   (no term at l = 1)
 *   readout:  G = mean over pixel pairs of K^L_φ, D = the same mean of E[φ'φ'] Θ^L (D = 0 when depth = 0),
 *             K = σ_w² G + σ_b²,  Θ = K + σ_w² D (NTK)  or  n_R G + [b] + σ_w² D (standard)
 * </pre>
 * The fan-in normalisation of a conv is k²·channels (zero-padded border pixels included, as the finite layer's);
 * n_l is the channels after layer l (C at the input, {@code channels} after a conv), [b] = 1 when the layers have
 * biases (σ_b ≠ 0) and n_R the readout's fan-in (n_L for gap, H·W·n_L for flatten). The "mean over pixel pairs"
 * is over all (p, p') for gap ((1/HW)² Σ_{p,p'}: the pooled features mix every pixel with every other), and over
 * p = p' only for flatten ((1/HW) Σ_p: the features of distinct pixels meet different readout weights). Since a
 * conv maps the entries (p + δ, p' + δ) to (p, p'), the diagonal p = p' only ever needs the diagonal below it: with
 * flatten the recursion runs over the H·W diagonal entries (O(HW·k²) per pair and layer), with gap over the whole
 * (HW)² map (O((HW)²·k²) per pair and layer). The activations' expectations come from {@link ActivationDuals}, and
 * both kernels come from one pass; each unordered pair of x1 is computed once when x2 = null. Under the standard
 * parameterisation the NTK grows with the channels, so (as for {@link FcnLimit}, and as neural-tangents does) its
 * "limit" is the leading-order NTK at the network's actual channel count.
 */
public final class CnnLimit implements InfiniteLimit {
    /** How the last conv's feature maps reach the dense readout. */
    public enum Pool {
        /** Global average pooling over the pixels (the kernel averages every pair of pixels). */
        GAP,
        /** Flattening (the kernel averages the pairs of a pixel with itself). */
        FLATTEN
    }

    private final int depth;
    private final int channels;
    private final int out;
    private final int filter;
    private final Pool pool;
    private final Activation act;
    private final Parameterization param;
    private final double wStd;
    private final double bStd;

    /**
     * The limit of a cnn with the given hyperparameters (the same as the zoo's {@code cnn} spec).
     *
     * @param depth number of hidden conv layers, at least 0
     * @param channels hidden channels, at least 1 (matters only under standard parameterization)
     * @param out number of logits, at least 1
     * @param filter the filters' size k (k × k), at least 1
     * @param pool global average pooling or flattening before the readout
     * @param act the hidden activation (the zoo's layer: its kind, and its slope for leaky_relu)
     * @param param NTK or standard parameterization
     * @param wStd weight standard deviation σ_w
     * @param bStd bias standard deviation σ_b; 0 means no bias terms
     * @throws IllegalArgumentException if depth, channels, out or filter is out of range, σ_w or σ_b is negative
     *     or not finite, or pool, act or param is null
     */
    public CnnLimit(int depth, int channels, int out, int filter, Pool pool, Activation act, Parameterization param,
                    double wStd, double bStd) {
        if (depth < 0 || channels < 1 || out < 1 || filter < 1) {
            throw new IllegalArgumentException("cnn limit: expected depth >= 0, channels >= 1, out >= 1 and filter "
                    + ">= 1, got depth " + depth + ", channels " + channels + ", out " + out + ", filter " + filter);
        }
        ZooLimitOptions.requireStandardDeviations("cnn limit", wStd, bStd);
        if (pool == null || act == null || param == null) {
            throw new IllegalArgumentException("cnn limit: pool, act and param are required, got pool " + pool
                    + ", act " + (act == null ? null : act.function()) + ", param " + param);
        }
        this.depth = depth;
        this.channels = channels;
        this.out = out;
        this.filter = filter;
        this.pool = pool;
        this.act = act;
        this.param = param;
        this.wStd = wStd;
        this.bStd = bStd;
    }

    /**
     * The limit of a zoo spec such as {@code cnn(depth=2,channels=64,pool=flatten,act=erf)}; any other model, or a
     * cnn whose activation has no limit, is refused with a one-line message naming what is supported.
     *
     * @param specText the model spec, with the zoo's defaults for omitted options
     * @return the limit
     * @throws IllegalArgumentException for another model, an activation without a limit, or a bad or unknown option
     */
    public static CnnLimit of(String specText) {
        ModelSpec s = ZooLimitOptions.spec(specText, "cnn");
        Zoo.CnnOptions o = Zoo.CnnOptions.of(s);
        s.rejectUnknown(Zoo.knownOptions("cnn"));
        return new CnnLimit(o.depth(), o.channels(), o.out(), o.filter(), o.gap() ? Pool.GAP : Pool.FLATTEN, o.act(),
                o.param(), o.wStd(), o.bStd());
    }

    @Override
    public double expectations(int n1, int n2, int[] perExample) {
        return PixelPairs.expectations(new Layers(), n1, n2, perExample);
    }

    @Override
    public double weightedExpectations(Tensor x1, Tensor x2) {
        if (!integratesNumerically()) {
            return LimitLayout.unweighted(this, x1, x2);
        }
        return PixelPairs.weightedExpectations(new Layers(), act, filter, x1, x2);
    }

    @Override
    public boolean integratesNumerically() {
        return ActivationDuals.numerical(act);
    }

    @Override
    public int outputs() {
        return out;
    }

    /** {@inheritDoc} Examples are images [H, W, C] or [H, W] (one channel), as the zoo's to_image reads them. */
    @Override
    public Tensor kernel(KernelKind kind, Tensor x1, Tensor x2, LimitKernel which, DType dtype) {
        return PixelPairs.kernel(new Layers(), filter, out, kind, x1, x2, which, dtype);
    }

    /**
     * Both kernels from one pass over the pairs of images (see {@link InfiniteLimit#kernels}).
     *
     * @param x1 images, {@code [N1, H, W, C]} or {@code [N1, H, W]}
     * @param x2 images of the same size, or null for {@code x1}
     * @param dtype element type of the results
     * @return {@code Kernels(K, Θ)} [N1, N2] each, which the caller closes
     * @throws IllegalArgumentException as {@link #kernel}
     * @throws org.ntk4j.ntk.NonFiniteKernelException if a kernel overflows {@code dtype}
     */
    @Override
    public org.ntk4j.predict.GpInference.Kernels kernels(Tensor x1, Tensor x2, DType dtype) {
        return PixelPairs.kernels(new Layers(), filter, x1, x2, dtype);
    }

    /** The recursion of {@link #kernel}: depth × (conv, act), then the pooled dense readout. */
    private final class Layers implements PixelPairs.Recursion {
        @Override
        public boolean full() {
            return pool == Pool.GAP;
        }

        @Override
        public int maps() {
            return 4; // K, Θ and their two convolutions
        }

        @Override
        public int activations() {
            return depth;
        }

        @Override
        public void pair(PixelPairs.Geometry g, double[] a, double[] b, double[][] selfA, double[][] selfB,
                         boolean full, double[][] maps, ActivationDuals.Scratch duals, double[] kt,
                         double[][] record) {
            boolean standard = param == Parameterization.STANDARD;
            double bias = bStd != 0 ? 1 : 0;
            double w2 = wStd * wStd;
            double b2 = bStd * bStd;
            double w2k = w2 / (filter * filter);
            int cells = g.cells(full);
            double[] k = maps[0];
            double[] t = maps[1];
            double[] s = maps[2];
            double[] u = maps[3];
            PixelPairs.inputCovariance(g, a, b, full, k);
            for (int l = 1; l <= depth; l++) {
                if (l > 1) {
                    PixelPairs.activate(act, g, selfA[l - 2], selfB[l - 2], full, k, t, duals);
                    PixelPairs.convolve(g, t, u, full);
                }
                PixelPairs.convolve(g, k, s, full);
                double fanIn = l == 1 ? g.c : channels;
                for (int e = 0; e < cells; e++) {
                    k[e] = w2k * s[e] + b2;
                    double linear = standard ? fanIn * s[e] + bias : k[e];
                    t[e] = l == 1 ? linear : linear + w2k * u[e];
                }
                if (record != null) {
                    System.arraycopy(k, 0, record[l - 1], 0, g.pixels);
                }
            }
            if (depth > 0) {
                PixelPairs.activate(act, g, selfA[depth - 1], selfB[depth - 1], full, k, t, duals);
            }
            // the readout: the mean over (p, p') of K_φ and of E[φ'φ']Θ, (1/HW)² Σ for gap, (1/HW) Σ_p for flatten
            double pooled = PixelPairs.sum(k, cells) / cells;
            double lower = depth > 0 ? PixelPairs.sum(t, cells) / cells : 0; // depth 0: no parameters below
            double readoutFanIn = (depth > 0 ? channels : g.c) * (full ? 1.0 : g.pixels);
            kt[0] = w2 * pooled + b2;
            kt[1] = (standard ? readoutFanIn * pooled + bias : kt[0]) + w2 * lower;
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "cnn limit (depth=%d, out=%d, %s, filter=%d, pool=%s, param=%s, "
                        + "w_std=%s, b_std=%s%s)", depth, out, ZooLimitOptions.activation(act), filter,
                pool.name().toLowerCase(Locale.ROOT), param.name().toLowerCase(Locale.ROOT), wStd, bStd,
                param == Parameterization.STANDARD ? ", channels " + channels : "");
    }
}
