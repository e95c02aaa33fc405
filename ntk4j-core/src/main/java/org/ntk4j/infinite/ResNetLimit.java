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
 * The infinite-channel NNGP and NTK of the zoo's {@code resnet}: to_image, a 3 × 3 conv stem, blocks × residual
 * (z + conv(act(conv(act(z))))), act, global average pool, dense(out) — every conv 3 × 3, stride 1, SAME zero
 * padding, with bias; neural-tangents' {@code stax.serial(stax.FanOut(2), stax.parallel(branch, stax.Identity()),
 * stax.FanInSum())} with the layers of {@link CnnLimit}.
 *
 * <p>The pixel-pair maps K and Θ of the stream go through the stem conv as through a {@link CnnLimit} layer; a
 * residual block adds to them the maps of its branch (act, conv, act, conv, each as in {@link CnnLimit}, started
 * from the stream's maps): K ← K + K_branch, Θ ← Θ + Θ_branch. The two summands are uncorrelated at initialisation
 * (the branch ends with a conv whose weights are independent of the stream and have mean 0), so their covariances
 * add, and so do their NTKs (the cross terms are sums of products of independent zero-mean weights). The final act
 * and the global average pool (the mean over all pairs of pixels) lead to the dense readout as in {@link CnnLimit}.
 * The costs are those of the cnn with gap: O((HW)²·9) per pair of examples and conv, 2·blocks + 1 closed-form
 * evaluations per pixel pair, six (HW)² maps per worker.
 */
public final class ResNetLimit implements InfiniteLimit {
    private static final int FILTER = 3;

    private final int blocks;
    private final int channels;
    private final int out;
    private final Activation act;
    private final Parameterization param;
    private final double wStd;
    private final double bStd;

    /**
     * The limit of a resnet with the given hyperparameters (the same as the zoo's {@code resnet} spec).
     *
     * @param blocks number of residual blocks, at least 0
     * @param channels channels of the stem and the blocks, at least 1 (matters only under standard parameterization)
     * @param out number of logits, at least 1
     * @param act the activation (the zoo's layer: its kind, and its slope for leaky_relu)
     * @param param NTK or standard parameterization
     * @param wStd weight standard deviation σ_w
     * @param bStd bias standard deviation σ_b; 0 means no bias terms
     * @throws IllegalArgumentException if blocks, channels or out is out of range, σ_w or σ_b is negative or not
     *     finite, or act or param is null
     */
    public ResNetLimit(int blocks, int channels, int out, Activation act, Parameterization param, double wStd,
                       double bStd) {
        if (blocks < 0 || channels < 1 || out < 1) {
            throw new IllegalArgumentException("resnet limit: expected blocks >= 0, channels >= 1 and out >= 1, got "
                    + "blocks " + blocks + ", channels " + channels + ", out " + out);
        }
        ZooLimitOptions.requireStandardDeviations("resnet limit", wStd, bStd);
        if (act == null || param == null) {
            throw new IllegalArgumentException("resnet limit: act and param are required, got act "
                    + (act == null ? null : act.function()) + ", param " + param);
        }
        this.blocks = blocks;
        this.channels = channels;
        this.out = out;
        this.act = act;
        this.param = param;
        this.wStd = wStd;
        this.bStd = bStd;
    }

    /**
     * The limit of a zoo spec such as {@code resnet(blocks=2,channels=16,act=erf)}; any other model, or a resnet
     * whose activation has no limit, is refused with a one-line message naming what is supported.
     *
     * @param specText the model spec, with the zoo's defaults for omitted options
     * @return the limit
     * @throws IllegalArgumentException for another model, an activation without a limit, or a bad or unknown option
     */
    public static ResNetLimit of(String specText) {
        ModelSpec s = ZooLimitOptions.spec(specText, "resnet");
        Zoo.ResNetOptions o = Zoo.ResNetOptions.of(s);
        s.rejectUnknown(Zoo.knownOptions("resnet"));
        return new ResNetLimit(o.blocks(), o.channels(), o.out(), o.act(), o.param(), o.wStd(), o.bStd());
    }

    @Override
    public double expectations(int n1, int n2, int[] perExample) {
        return PixelPairs.expectations(new Blocks(), n1, n2, perExample);
    }

    @Override
    public double weightedExpectations(Tensor x1, Tensor x2) {
        if (!integratesNumerically()) {
            return LimitLayout.unweighted(this, x1, x2);
        }
        return PixelPairs.weightedExpectations(new Blocks(), act, FILTER, x1, x2);
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
        return PixelPairs.kernel(new Blocks(), FILTER, out, kind, x1, x2, which, dtype);
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
        return PixelPairs.kernels(new Blocks(), FILTER, x1, x2, dtype);
    }

    /** The recursion of {@link #kernel}: stem, the residual blocks, act, global average pool, dense. */
    private final class Blocks implements PixelPairs.Recursion {
        @Override
        public boolean full() {
            return true;
        }

        @Override
        public int maps() {
            return 6; // the stream's K and Θ, the branch's, and two convolutions
        }

        @Override
        public int activations() {
            return 2 * blocks + 1; // each block's two, and the last
        }

        @Override
        public void pair(PixelPairs.Geometry g, double[] a, double[] b, double[][] selfA, double[][] selfB,
                         boolean full, double[][] maps, ActivationDuals.Scratch duals, double[] kt,
                         double[][] record) {
            boolean standard = param == Parameterization.STANDARD;
            double bias = bStd != 0 ? 1 : 0;
            double w2 = wStd * wStd;
            double b2 = bStd * bStd;
            double w2k = w2 / (FILTER * FILTER);
            int cells = g.cells(full);
            double[] k = maps[0];
            double[] t = maps[1];
            double[] kb = maps[2];
            double[] tb = maps[3];
            double[] s = maps[4];
            double[] u = maps[5];
            PixelPairs.inputCovariance(g, a, b, full, kb);
            PixelPairs.convolve(g, kb, s, full);
            for (int e = 0; e < cells; e++) { // the stem
                k[e] = w2k * s[e] + b2;
                t[e] = standard ? g.c * s[e] + bias : k[e];
            }
            int point = 0;
            for (int block = 0; block < blocks; block++) {
                System.arraycopy(k, 0, kb, 0, cells);
                System.arraycopy(t, 0, tb, 0, cells);
                for (int conv = 0; conv < 2; conv++) { // the branch: act, conv, act, conv
                    if (record != null) {
                        System.arraycopy(kb, 0, record[point], 0, g.pixels);
                    }
                    PixelPairs.activate(act, g, selfA[point], selfB[point], full, kb, tb, duals);
                    point++;
                    PixelPairs.convolve(g, kb, s, full);
                    PixelPairs.convolve(g, tb, u, full);
                    for (int e = 0; e < cells; e++) {
                        kb[e] = w2k * s[e] + b2;
                        tb[e] = (standard ? channels * s[e] + bias : kb[e]) + w2k * u[e];
                    }
                }
                for (int e = 0; e < cells; e++) { // z + branch(z): uncorrelated summands, the kernels add
                    k[e] += kb[e];
                    t[e] += tb[e];
                }
            }
            if (record != null) {
                System.arraycopy(k, 0, record[point], 0, g.pixels);
            }
            PixelPairs.activate(act, g, selfA[point], selfB[point], full, k, t, duals);
            double pooled = PixelPairs.sum(k, cells) / cells;
            double lower = PixelPairs.sum(t, cells) / cells;
            kt[0] = w2 * pooled + b2;
            kt[1] = (standard ? channels * pooled + bias : kt[0]) + w2 * lower;
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "resnet limit (blocks=%d, out=%d, %s, param=%s, w_std=%s, b_std=%s%s)",
                blocks, out, ZooLimitOptions.activation(act), param.name().toLowerCase(Locale.ROOT), wStd, bStd,
                param == Parameterization.STANDARD ? ", channels " + channels : "");
    }
}
