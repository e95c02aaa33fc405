package org.ntk4j.infinite;

import java.util.Arrays;
import java.util.Locale;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.nn.Activation;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.GpInference;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The machinery of the convolutional limits ({@link CnnLimit}, {@link ResNetLimit}): their kernels are maps over
 * pairs of pixels (p, p') per pair of images, carried by a {@link Recursion} from the input covariance
 * x(p)·x'(p')/C through SAME stride-1 convolutions (sums over the filter's offsets of the zero-padded map at
 * (p + δ, p' + δ)) and activations ({@link ActivationDuals}) to the readout. A map is either the whole (HW)² one
 * ({@code full}, needed by global average pooling) or its diagonal p = p' only (enough for flatten, and for every
 * image's own variances, since a convolution moves the entry (p + δ, p' + δ) to (p, p')).
 */
final class PixelPairs {
    /** The layers between the input and the readout of one architecture, for one pair of images. */
    interface Recursion {
        /** Whether the readout needs every pair of pixels (global average pooling) or the diagonal only. */
        boolean full();

        /** Maps of pixel pairs one pair's recursion works in. */
        int maps();

        /** Points where an activation reads the images' own variances (their variance maps per example). */
        int activations();

        /**
         * {K, Θ} of the readout for the images a and b into {@code kt}, over every pair of pixels or the diagonal
         * ({@code full}); selfA and selfB hold the images' variance maps at each activation; {@code record}, when
         * not null, gets a copy of the K map at each activation before that activation reads selfA/selfB (which
         * may then be {@code record} itself: the diagonal recursion of (x, x) gives x's own variance maps);
         * {@code maps} and {@code duals} are the worker's scratch.
         */
        void pair(Geometry g, double[] a, double[] b, double[][] selfA, double[][] selfB, boolean full,
                  double[][] maps, ActivationDuals.Scratch duals, double[] kt, double[][] record);
    }

    private PixelPairs() {
    }

    /**
     * The limit of {@code r} laid out as the empirical kernel of {@code kind} (the {@link InfiniteLimit#kernel}
     * contract), for images x1 and x2 (null: x1).
     */
    static Tensor kernel(Recursion r, int filter, int out, KernelKind kind, Tensor x1, Tensor x2,
                         LimitKernel which, DType dtype) {
        LimitLayout.requireInputs(kind, which, x1, x2);
        Geometry g = geometry(filter, x1, x2);
        double[][] a = FcnLimit.flatten(x1);
        double[][] b = x2 == null ? a : FcnLimit.flatten(x2);
        return LimitLayout.layOut(kind, out, a.length, b.length, which, dtype,
                sink -> eachPair(r, g, a, b, x2 == null, sink));
    }

    /** Both kernels of {@code r} from one pass over the pairs (the {@link InfiniteLimit#kernels} contract). */
    static GpInference.Kernels kernels(Recursion r, int filter, Tensor x1, Tensor x2, DType dtype) {
        LimitLayout.requireInputs(x1, x2);
        Geometry g = geometry(filter, x1, x2);
        double[][] a = FcnLimit.flatten(x1);
        double[][] b = x2 == null ? a : FcnLimit.flatten(x2);
        return LimitLayout.layOutBoth(a.length, b.length, dtype, sink -> eachPair(r, g, a, b, x2 == null, sink));
    }

    /**
     * The Gaussian expectations {@code r} evaluates for n1 × n2 images of this shape (n2 = 0: x2 = x1; see
     * {@link InfiniteLimit#expectations}): each pair's at every activation and map cell, and each image's own
     * diagonal recursion. A shape that is no image counts 0 (the kernel refuses it).
     */
    static double expectations(Recursion r, int n1, int n2, int[] perExample) {
        if (perExample.length != 2 && perExample.length != 3) {
            return 0;
        }
        double pixels = (double) perExample[0] * perExample[1];
        double cells = r.full() ? pixels * pixels : pixels;
        return r.activations() * (LimitLayout.pairs(n1, n2) * cells + (n1 + (double) n2) * pixels);
    }

    /**
     * {@link #expectations} of images x1 and x2 (null: x1), each weighted by {@link ActivationDuals#relativeNodes}
     * of its two variances, read from the images' own variance maps ({@link #selfMaps}, the recursion's work for
     * n1 + n2 images): at each activation, Σ over the pairs of (Σ_p g(x, p))·(Σ_q g(x', q)) over every pair of
     * pixels (full maps), Σ_p over the pairs of g(x, p)·g(x', p) for the diagonal ones, and each image's own
     * diagonal recursion, g(x, p) each.
     */
    static double weightedExpectations(Recursion r, Activation act, int filter, Tensor x1, Tensor x2) {
        LimitLayout.requireInputs(x1, x2);
        Geometry g = geometry(filter, x1, x2);
        double[][][] a = selfMaps(r, g, FcnLimit.flatten(x1));
        double[][][] b = x2 == null ? null : selfMaps(r, g, FcnLimit.flatten(x2));
        double sum = ownWeights(act, a) + (b == null ? 0 : ownWeights(act, b));
        for (int point = 0; point < r.activations(); point++) {
            if (r.full()) {
                sum += LimitLayout.pairSum(imageWeights(act, a, point, -1),
                        b == null ? null : imageWeights(act, b, point, -1));
            } else {
                for (int p = 0; p < g.pixels; p++) {
                    sum += LimitLayout.pairSum(imageWeights(act, a, point, p),
                            b == null ? null : imageWeights(act, b, point, p));
                }
            }
        }
        return sum;
    }

    /**
     * Each image's g ({@link ActivationDuals#relativeNodes}) at pixel p of an activation's variance map, or (p = −1)
     * summed over its pixels; also the composed limit's ({@link ComposedLimit}).
     */
    static double[] imageWeights(Activation act, double[][][] self, int point, int p) {
        double[] w = new double[self.length];
        for (int i = 0; i < self.length; i++) {
            double[] map = self[i][point];
            if (p >= 0) {
                w[i] = ActivationDuals.relativeNodes(act, map[p]);
            } else {
                for (double v : map) {
                    w[i] += ActivationDuals.relativeNodes(act, v);
                }
            }
        }
        return w;
    }

    /** Σ g over every image, activation and pixel: the diagonal recursions' own expectations. */
    private static double ownWeights(Activation act, double[][][] self) {
        double sum = 0;
        for (double[][] image : self) {
            for (double[] map : image) {
                for (double v : map) {
                    sum += ActivationDuals.relativeNodes(act, v);
                }
            }
        }
        return sum;
    }

    /** The geometry of images x1 and x2 (null: x1), refusing x2 images of another shape than x1's. */
    private static Geometry geometry(int filter, Tensor x1, Tensor x2) {
        int[] image = imageShape("x1", x1);
        if (x2 != null && !Arrays.equals(image, imageShape("x2", x2))) {
            throw new IllegalArgumentException("shape mismatch: x2 images " + Shapes.str(imageShape("x2", x2))
                    + " differ from x1 images " + Shapes.str(image) + " ([H, W, C] per example)");
        }
        return new Geometry(image[0], image[1], image[2], filter);
    }

    /**
     * The per-example image shape {H, W, C} of {@code x} as the zoo's to_image reads it ([H, W] is one channel),
     * refusing other ranks in one line.
     */
    private static int[] imageShape(String name, Tensor x) {
        int[] per = Shapes.dropFirst(x.shape());
        if (per.length == 2) {
            return new int[] {per[0], per[1], 1};
        }
        if (per.length == 3) {
            return per;
        }
        throw new IllegalArgumentException("infinite-width limit: " + name + " examples must be images [H, W] or "
                + "[H, W, C] (as the zoo's to_image reads them), got " + Shapes.str(per) + " per example");
    }

    /**
     * Gives the sink {K, Θ} of every pair (i of a, j of b); with {@code symmetric} (b is a), each unordered pair is
     * computed once and given as (i, j) and (j, i). The pairs are spread over the cores, each worker with its own
     * maps (full maps: as many workers as half the heap holds).
     */
    private static void eachPair(Recursion r, Geometry g, double[][] a, double[][] b, boolean symmetric,
                                 LimitLayout.PairSink sink) {
        boolean full = r.full();
        long cells = full ? (long) g.pixels * g.pixels : g.pixels;
        long bytes = (long) r.maps() * Double.BYTES * cells;
        long heap = Runtime.getRuntime().maxMemory() / 2;
        if (cells > Integer.MAX_VALUE - 8 || bytes > heap) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "infinite-width limit: the global average "
                    + "pool on %d×%d images needs the covariance of every pair of pixels, %d maps of (HW)² = %d "
                    + "doubles (%.1f MiB) per pair of examples, more than half of this JVM's heap (%.1f MiB); use "
                    + "smaller images, a cnn with pool=flatten (O(HW) per pair), or a larger -Xmx", g.h, g.w,
                    r.maps(), cells, bytes / 1048576.0, heap / 1048576.0));
        }
        double[][][] selfA = selfMaps(r, g, a);
        double[][][] selfB = symmetric ? selfA : selfMaps(r, g, b);
        // at most as many workers as the heap holds maps for, each allocating its own once
        int workers = (int) Math.max(1, Math.min(Parallel.threads(), heap / bytes));
        LimitLayout.eachPairInParallel(a.length, b.length, symmetric, workers, () -> {
            double[][] maps = new double[r.maps()][(int) cells];
            ActivationDuals.Scratch duals = new ActivationDuals.Scratch();
            return (i, j, kt) -> r.pair(g, a[i], b[j], selfA[i], selfB[j], full, maps, duals, kt, null);
        }, sink);
    }

    /**
     * Each example's variance maps K(x,x)[p,p] at the recursion's activations, as {@code [example][point][p]}: the
     * diagonal recursion of the pair (x, x), with the same arithmetic as any pair's map (so an image paired with
     * itself, or with an identical one, has correlation exactly 1 at p = p').
     */
    private static double[][][] selfMaps(Recursion r, Geometry g, double[][] x) {
        double[][][] self = new double[x.length][r.activations()][g.pixels];
        double[][] maps = new double[r.maps()][g.pixels];
        ActivationDuals.Scratch duals = new ActivationDuals.Scratch();
        double[] kt = new double[2];
        for (int i = 0; i < x.length; i++) {
            r.pair(g, x[i], x[i], self[i], self[i], false, maps, duals, kt, self[i]);
        }
        return self;
    }

    /** K⁰[p,p'] = x(p)·x'(p')/C into {@code k}: every pair of pixels, or p = p' only. */
    static void inputCovariance(Geometry g, double[] a, double[] b, boolean full, double[] k) {
        int c = g.c;
        if (!full) {
            for (int p = 0; p < g.pixels; p++) {
                k[p] = pixelDot(a, p * c, b, p * c, c) / c;
            }
            return;
        }
        for (int p = 0; p < g.pixels; p++) {
            int row = p * g.pixels;
            for (int q = 0; q < g.pixels; q++) {
                k[row + q] = pixelDot(a, p * c, b, q * c, c) / c;
            }
        }
    }

    private static double pixelDot(double[] a, int from, double[] b, int fromB, int c) {
        double s = 0;
        for (int i = 0; i < c; i++) {
            s += a[from + i] * b[fromB + i];
        }
        return s;
    }

    /**
     * Through the activation, in place: K → E[φ(u)φ(v)], Θ → E[φ'(u)φ'(v)]·Θ at each pair of pixels, with the
     * variances of u and v from the images' maps; allocation-free with the worker's scratch.
     */
    static void activate(Activation act, Geometry g, double[] selfA, double[] selfB, boolean full, double[] k,
                         double[] t, ActivationDuals.Scratch duals) {
        activate(act, g.pixels, selfA, selfB, full, k, t, duals);
    }

    /** The same through the activation, on a map of {@code pixels} pixels (a {@link Window}'s input or output). */
    static void activate(Activation act, int pixels, double[] selfA, double[] selfB, boolean full, double[] k,
                         double[] t, ActivationDuals.Scratch duals) {
        activate(act, pixels, selfA, selfB, full, k, t, 0, duals);
    }

    /**
     * The same after {@code gammas} normalisations whose scale γ put the units' own u·v into Θ (its mean K):
     * Θ → E[φ'(u)φ'(v)](Θ − gK) + g E[φ'(u)φ'(v)·u·v] ({@link ComposedLimit}); gammas = 0 is the plain activation.
     */
    static void activate(Activation act, int pixels, double[] selfA, double[] selfB, boolean full, double[] k,
                         double[] t, int gammas, ActivationDuals.Scratch duals) {
        for (int p = 0; p < pixels; p++) {
            for (int q = full ? 0 : p, end = full ? pixels : p + 1; q < end; q++) {
                int e = full ? p * pixels + q : p;
                activateCell(act, selfA[p], selfB[q], k, t, e, gammas, duals);
            }
        }
    }

    /**
     * One pair of pixels through the activation (see {@link #activate(Activation, int, double[], double[], boolean,
     * double[], double[], int, ActivationDuals.Scratch)}), K and Θ at index {@code e} of their maps.
     */
    static void activateCell(Activation act, double va, double vb, double[] k, double[] t, int e, int gammas,
                             ActivationDuals.Scratch duals) {
        double[] d = duals.cross; // {E[φ(u)φ(v)], E[φ'(u)φ'(v)], E[φ'(u)φ'(v) u v]} of one pair of pixels
        if (gammas == 0) {
            ActivationDuals.cross(act, va, vb, k[e], d, duals);
            t[e] *= d[1];
        } else {
            ActivationDuals.crossAndMoment(act, va, vb, k[e], d, duals);
            t[e] = d[1] * (t[e] - gammas * k[e]) + gammas * d[2];
        }
        k[e] = d[0];
    }

    /**
     * dst[p,p'] = Σ_δ src[p+δ, p'+δ] over the filter offsets with both pixels inside the image (SAME zero padding,
     * stride 1): {@link #convolve(Window, double[], double[], boolean)} of the geometry's window.
     */
    static void convolve(Geometry g, double[] src, double[] dst, boolean full) {
        convolve(g.conv, src, dst, full);
    }

    /**
     * Sum of the first {@code cells} entries of a map: the readout's pooled kernels are this times 1/cells, the
     * mean over all pairs of pixels (gap) or over the diagonal (flatten).
     */
    static double sum(double[] map, int cells) {
        double s = 0;
        for (int e = 0; e < cells; e++) {
            s += map[e];
        }
        return s;
    }

    /**
     * A 2-D window slid over a map's pixels as a conv or an avg_pool slides it over the image: an input of h × w
     * pixels, a kh × kw window at steps (sh, sw), its first pixel at (−top, −left) (the zero padding before each
     * axis), an output of oh × ow pixels; for a pool, each output pixel's divisor (the window's size, or the input
     * pixels it covers without count_include_pad; null for a conv).
     */
    static final class Window {
        final int h;
        final int w;
        final int kh;
        final int kw;
        final int sh;
        final int sw;
        final int top;
        final int left;
        final int oh;
        final int ow;
        final int inPixels;
        final int outPixels;
        final double[] divisor;

        private Window(int h, int w, int[] k, int[] s, int[][] pad, boolean pool, boolean countIncludePad) {
            this.h = h;
            this.w = w;
            this.kh = k[0];
            this.kw = k[1];
            this.sh = s[0];
            this.sw = s[1];
            this.top = pad[0][0];
            this.left = pad[1][0];
            this.oh = (h + pad[0][0] + pad[0][1] - kh) / sh + 1;
            this.ow = (w + pad[1][0] + pad[1][1] - kw) / sw + 1;
            this.inPixels = h * w;
            this.outPixels = oh * ow;
            if (!pool) {
                divisor = null;
                return;
            }
            divisor = new double[outPixels];
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    // as AvgPool's forward: the window's size, or the input pixels it covers
                    int covered = countIncludePad ? kh * kw : (Math.min(i * sh - top + kh, h) - Math.max(i * sh - top,
                            0)) * (Math.min(j * sw - left + kw, w) - Math.max(j * sw - left, 0));
                    divisor[i * ow + j] = covered;
                }
            }
        }

        /** The window of a conv's kh × kw filter {@code k}, strides {@code s} and zero padding {lo, hi} per axis. */
        static Window conv(int h, int w, int[] k, int[] s, int[][] pad) {
            return new Window(h, w, k, s, pad, false, true);
        }

        /** The window of an avg_pool, with its divisors. */
        static Window pool(int h, int w, int[] k, int[] s, int[][] pad, boolean countIncludePad) {
            return new Window(h, w, k, s, pad, true, countIncludePad);
        }

        /** The first output index t ≥ 0 whose input index t·step + off is ≥ 0. */
        private static int first(int off, int step) {
            return off >= 0 ? 0 : (-off + step - 1) / step;
        }

        /** One past the last output index t &lt; outs whose input index t·step + off is &lt; n. */
        private static int end(int off, int step, int n, int outs) {
            return n - 1 - off < 0 ? 0 : Math.min(outs, (n - 1 - off) / step + 1);
        }
    }

    /**
     * dst[p, p'] = Σ_δ src[s·p + δ − pad, s·p' + δ − pad] over the window's offsets δ, the same offset at both
     * pixels (a conv's weights are independent from offset to offset, so only equal offsets meet), the terms with a
     * pixel in the zero padding left out; over every pair of the output's pixels or its diagonal p = p'
     * ({@code full}), which the input's diagonal determines alone. The offsets are added in one order for every
     * entry (so the full map's diagonal equals the diagonal-only map bit for bit). src is a map of the window's
     * input, dst of its output; they must not overlap. Allocation-free.
     */
    static void convolve(Window g, double[] src, double[] dst, boolean full) {
        int in = g.inPixels;
        int outs = g.outPixels;
        if (!full) {
            Arrays.fill(dst, 0, outs, 0);
            for (int a = 0; a < g.kh; a++) {
                int offI = a - g.top;
                for (int b = 0; b < g.kw; b++) {
                    int offJ = b - g.left;
                    int j0 = Window.first(offJ, g.sw);
                    int j1 = Window.end(offJ, g.sw, g.w, g.ow);
                    for (int i = Window.first(offI, g.sh); i < Window.end(offI, g.sh, g.h, g.oh); i++) {
                        int to = i * g.ow;
                        int from = (i * g.sh + offI) * g.w + offJ;
                        for (int j = j0; j < j1; j++) {
                            dst[to + j] += src[from + j * g.sw];
                        }
                    }
                }
            }
            return;
        }
        // one row p of the map at a time (it stays in cache while the offsets add into it)
        for (int i = 0; i < g.oh; i++) {
            for (int j = 0; j < g.ow; j++) {
                int row = (i * g.ow + j) * outs;
                Arrays.fill(dst, row, row + outs, 0);
                for (int a = 0; a < g.kh; a++) {
                    int offI = a - g.top;
                    int r = i * g.sh + offI;
                    if (r < 0 || r >= g.h) {
                        continue;
                    }
                    int i0 = Window.first(offI, g.sh);
                    int i1 = Window.end(offI, g.sh, g.h, g.oh);
                    for (int b = 0; b < g.kw; b++) {
                        int offJ = b - g.left;
                        int c = j * g.sw + offJ;
                        if (c < 0 || c >= g.w) {
                            continue;
                        }
                        int fromRow = (r * g.w + c) * in;
                        int j0 = Window.first(offJ, g.sw);
                        int j1 = Window.end(offJ, g.sw, g.w, g.ow);
                        for (int i2 = i0; i2 < i1; i2++) {
                            int to = row + i2 * g.ow;
                            int from = fromRow + (i2 * g.sh + offI) * g.w + offJ;
                            for (int j2 = j0; j2 < j1; j2++) {
                                dst[to + j2] += src[from + j2 * g.sw];
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * An average pool of a map: dst[q, q'] = Σ_{a ∈ window(q)} Σ_{b ∈ window(q')} src[a, b] / (d_q d_q') (the zero
     * padding adds nothing; d the windows' divisors): the pool's output pixels share their inputs' values, so every
     * pair of offsets meets and the full map is needed — unless the window is one pixel, when dst[q] =
     * src[a(q)] / d_q² on diagonals ({@code full} false; for larger windows, diagonals give the sum of the window's
     * diagonal entries, not the pool's). First pools the first pixel into {@code tmp} (outPixels × inPixels
     * entries), then the second into dst, which may be src. Allocation-free.
     */
    static void pool(Window g, double[] src, double[] tmp, double[] dst, boolean full) {
        int in = g.inPixels;
        int outs = g.outPixels;
        if (!full) {
            for (int i = 0; i < g.oh; i++) {
                for (int j = 0; j < g.ow; j++) {
                    double s = 0;
                    for (int a = 0; a < g.kh; a++) {
                        int r = i * g.sh + a - g.top;
                        for (int b = 0; b < g.kw; b++) {
                            int c = j * g.sw + b - g.left;
                            if (r >= 0 && r < g.h && c >= 0 && c < g.w) {
                                s += src[r * g.w + c];
                            }
                        }
                    }
                    double d = g.divisor[i * g.ow + j];
                    tmp[i * g.ow + j] = s / (d * d);
                }
            }
            System.arraycopy(tmp, 0, dst, 0, outs);
            return;
        }
        // tmp[q, b] = Σ_{a ∈ window(q)} src[a, b] / d_q
        for (int q = 0; q < outs; q++) {
            int i = q / g.ow;
            int j = q % g.ow;
            int row = q * in;
            Arrays.fill(tmp, row, row + in, 0);
            for (int a = 0; a < g.kh; a++) {
                int r = i * g.sh + a - g.top;
                if (r < 0 || r >= g.h) {
                    continue;
                }
                for (int b = 0; b < g.kw; b++) {
                    int c = j * g.sw + b - g.left;
                    if (c < 0 || c >= g.w) {
                        continue;
                    }
                    int from = (r * g.w + c) * in;
                    for (int e = 0; e < in; e++) {
                        tmp[row + e] += src[from + e];
                    }
                }
            }
            double d = g.divisor[q];
            for (int e = 0; e < in; e++) {
                tmp[row + e] /= d;
            }
        }
        // dst[q, q'] = Σ_{b ∈ window(q')} tmp[q, b] / d_q'
        for (int q = 0; q < outs; q++) {
            int from = q * in;
            int row = q * outs;
            for (int i2 = 0; i2 < g.oh; i2++) {
                for (int j2 = 0; j2 < g.ow; j2++) {
                    double s = 0;
                    for (int a = 0; a < g.kh; a++) {
                        int r = i2 * g.sh + a - g.top;
                        if (r < 0 || r >= g.h) {
                            continue;
                        }
                        for (int b = 0; b < g.kw; b++) {
                            int c = j2 * g.sw + b - g.left;
                            if (c >= 0 && c < g.w) {
                                s += tmp[from + r * g.w + c];
                            }
                        }
                    }
                    dst[row + i2 * g.ow + j2] = s / g.divisor[i2 * g.ow + j2];
                }
            }
        }
    }

    /** The image size and the convolutions' offsets δ = (di, dj), in the order they are added. */
    static final class Geometry {
        final int h;
        final int w;
        final int c;
        final int pixels;
        /** The filter's window over the image: SAME, stride 1, so the output is the input's size. */
        final Window conv;

        Geometry(int h, int w, int c, int filter) {
            this(h, w, c, filter, filter);
        }

        /** The geometry of a kh × kw filter (SAME, stride 1). */
        Geometry(int h, int w, int c, int kh, int kw) {
            this.h = h;
            this.w = w;
            this.c = c;
            this.pixels = h * w;
            // SAME padding for stride 1 as the finite conv resolves it: lo = ⌊(k−1)/2⌋ before, the rest after
            int[][] pad = Convolution.resolvePadding("SAME", new int[] {h, w}, new int[] {kh, kw},
                    new int[] {1, 1}, new int[] {1, 1});
            conv = Window.conv(h, w, new int[] {kh, kw}, new int[] {1, 1}, pad);
        }

        /** Entries of a map: (HW)² when {@code full}, else HW. */
        int cells(boolean full) {
            return full ? pixels * pixels : pixels;
        }
    }
}
