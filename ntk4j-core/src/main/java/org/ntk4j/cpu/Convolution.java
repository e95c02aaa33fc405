package org.ntk4j.cpu;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Locale;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Convolution kernels, channels last: input {@code [N, H, W, Cin]} (1-D: {@code [N, W, Cin]}), filter HWIO
 * {@code [KH, KW, Cin, Cout]} (1-D: {@code [KW, Cin, Cout]}), output {@code [N, OH, OW, Cout]}. Like XLA and
 * every deep-learning framework this is a cross-correlation:
 * <pre>  y[n, oh, ow, co] = Σ x[n, oh·sh - ph + kh·dh, ow·sw - pw + kw·dw, ci] · w[kh, kw, ci, co]</pre>
 * with zeros outside the input. A 1-D convolution runs as a 2-D one with H = KH = 1.
 *
 * <p>The forward and filter-gradient kernels go through im2col: the receptive field of each output position is
 * copied into one row of a {@code [N·OH·OW, KH·KW·Cin]} matrix, whose column order (kh, kw, ci) is exactly the
 * row-major layout of the HWIO filter seen as a {@code [KH·KW·Cin, Cout]} matrix, so that
 * <ul>
 *   <li>forward: {@code y = cols · W} (one GEMM, W read in place);</li>
 *   <li>filter gradient: {@code dw = colsᵀ · dy}.</li>
 * </ul>
 * The im2col buffer is bounded ({@link #COLS_BUDGET} elements): a large batch is processed in chunks of whole
 * images reusing one buffer, each chunk a GEMM on element offsets into the off-heap tensors (nothing is copied
 * for BLAS). The input gradient (transposed convolution) of an image whose output with the taps' reach is at most
 * 8/5 of the output ({@link Geometry#inputGradPlanes}) goes through zero-padded planes: one GEMM per filter tap
 * over a block of images, shifted into an accumulation plane per stride phase; of a smaller one with unit strides and
 * Cin·Cout below 2^14 ({@link Geometry#inputGradDirect}) tap by tap: it adds {@code dy · w[kh, kw]ᵀ} straight
 * into the shifted rows of dx (GEMMs with beta = 1 whose leading dimensions do the striding), with no buffer and
 * without the products with padding; otherwise it is {@code dx = col2im(dy · Wᵀ)} through the column buffer. A 1×1
 * window with unit strides and no padding is one GEMM in all three kernels.
 */
public final class Convolution {
    /**
     * Largest im2col buffer, in elements, allocated by one kernel call (a single image whose columns are larger
     * still gets its own buffer). 2^22 elements: 16 MiB in float32, 32 MiB in float64.
     */
    public static final int COLS_BUDGET = 1 << 22;
    /**
     * Largest ratio of padded-plane positions to output positions for which the input gradient takes the
     * padded-plane path ({@link Geometry#inputGradPlanes}), 8/5. Measured (float32, quiet 2-core Zen 5, OpenBLAS's
     * Cooperlake kernels, 2026-12-06), the planes in blocks of {@link #PLANE_BLOCK_ELEMENTS} against this path's
     * previous rule (planes up to 6/5 in one chunk of up to {@link #COLS_BUDGET}, tap by tap or col2im above):
     * ratio 1.07 (56×56, 3×3 SAME, 64 channels, 16 images) 1.26–1.61× faster; 1.15 (28×28, 128) 1.24–1.38×; 1.27
     * (16×16, 32 channels, 160 images, the small cnn's stacked cotangents) 1.7–1.9× and (64 channels) 1.6–2.1×
     * against tap by tap; 1.31 (14×14, 256) 1.05–1.15× against col2im; 1.44 (10×10, 64) 1.5×; 1.56 (8×8, 32) 1.24×,
     * (8×8, 128) 0.92–1.06×; but 1.65 (7×7, 512) 0.60–0.69× and 2.25 (4×4, 512) 0.34–0.49× against col2im, where
     * the products with padding cost more than the path saves. The ratio is compared in integers,
     * planes·{@link #PLANE_OVERHEAD_DENOMINATOR} ≤ positions·{@link #PLANE_OVERHEAD_NUMERATOR}, so that a ratio of
     * exactly 8/5 takes the path however a product with 1.6 would round.
     */
    public static final int PLANE_OVERHEAD_NUMERATOR = 8;
    /** The denominator of the largest plane-to-output ratio of the padded-plane path, 8/5: see the numerator. */
    public static final int PLANE_OVERHEAD_DENOMINATOR = 5;
    /**
     * Elements of the planes (dy's padded copy and dx's phase planes) of one block of images on the padded-plane
     * path, 2^17 (512 KiB in float32): a block stays in one core's cache through its taps' GEMMs, and the cores
     * take whole blocks. Measured against 2^16 and 2^18 elements on seven shapes of {@link #PLANE_OVERHEAD_NUMERATOR}'s
     * table (one run each): best on two, within 3–11% of the best on four; the seventh (8×8, 128 channels) varied
     * by 10% between runs of one size. Neither other size was closer to the best overall.
     */
    public static final long PLANE_BLOCK_ELEMENTS = 1L << 17;

    private Convolution() {
    }

    // ------------------------------------------------------------------------------------------------------
    // Window parameters and padding
    // ------------------------------------------------------------------------------------------------------

    /**
     * Strides, explicit padding (lo, hi) and filter dilation per spatial axis (1 or 2 of them). Immutable.
     * Padding is always explicit here; {@link #resolvePadding} turns "SAME" and "VALID" into numbers.
     */
    public static final class Window {
        private final int[] strides;
        private final int[] padLo;
        private final int[] padHi;
        private final int[] dilation;

        /**
         * A window; the arrays are copied.
         *
         * @param strides the step of the window on each spatial axis, at least 1
         * @param padLo zeros before each spatial axis, at least 0
         * @param padHi zeros after each spatial axis, at least 0
         * @param dilation the filter dilation on each spatial axis (1: none), at least 1
         * @throws IllegalArgumentException when the arrays do not all have 1 or 2 entries, or a stride or
         *                                  dilation is below 1, or a padding is negative
         */
        public Window(int[] strides, int[] padLo, int[] padHi, int[] dilation) {
            int d = strides.length;
            if (d < 1 || d > 2) {
                throw new IllegalArgumentException("conv: window_strides " + tuple(strides)
                        + " must have 1 (1-D) or 2 (2-D) entries");
            }
            if (padLo.length != d || padHi.length != d || dilation.length != d) {
                throw new IllegalArgumentException("conv: window_strides " + tuple(strides) + ", padding lo "
                        + tuple(padLo) + " hi " + tuple(padHi) + " and rhs_dilation " + tuple(dilation)
                        + " must have the same number of entries");
            }
            for (int i = 0; i < d; i++) {
                if (strides[i] < 1) {
                    throw new IllegalArgumentException("conv: window_strides " + tuple(strides)
                            + " must be at least 1");
                }
                if (dilation[i] < 1) {
                    throw new IllegalArgumentException("conv: rhs_dilation " + tuple(dilation)
                            + " must be at least 1");
                }
                if (padLo[i] < 0 || padHi[i] < 0) {
                    throw new IllegalArgumentException("conv: padding lo " + tuple(padLo) + " hi "
                            + tuple(padHi) + " must not be negative");
                }
            }
            this.strides = strides.clone();
            this.padLo = padLo.clone();
            this.padHi = padHi.clone();
            this.dilation = dilation.clone();
        }

        /**
         * A window from JAX-style padding pairs {@code padding[i] = {lo, hi}}.
         *
         * @param strides the step of the window on each spatial axis, at least 1
         * @param padding one {@code {lo, hi}} pair per spatial axis, each at least 0
         * @param dilation the filter dilation on each spatial axis, at least 1
         * @return the window
         * @throws IllegalArgumentException when a padding entry is null or not a pair, or the window is invalid as
         *         {@link #Window(int[], int[], int[], int[])} checks it
         */
        public static Window of(int[] strides, int[][] padding, int[] dilation) {
            int[] lo = new int[padding.length];
            int[] hi = new int[padding.length];
            for (int i = 0; i < padding.length; i++) {
                if (padding[i] == null || padding[i].length != 2) {
                    throw new IllegalArgumentException("conv: padding entry " + i + " must be a {lo, hi} pair, got "
                            + (padding[i] == null ? "null" : Arrays.toString(padding[i])));
                }
                lo[i] = padding[i][0];
                hi[i] = padding[i][1];
            }
            return new Window(strides, lo, hi, dilation);
        }

        /**
         * Number of spatial axes: 1 or 2.
         *
         * @return 1 or 2
         */
        public int rank() {
            return strides.length;
        }

        /**
         * The window steps.
         *
         * @return a copy of the stride of each spatial axis
         */
        public int[] strides() {
            return strides.clone();
        }

        /**
         * The padding before each spatial axis.
         *
         * @return a copy of the low paddings, in elements
         */
        public int[] padLo() {
            return padLo.clone();
        }

        /**
         * The padding after each spatial axis.
         *
         * @return a copy of the high paddings, in elements
         */
        public int[] padHi() {
            return padHi.clone();
        }

        /**
         * The filter dilations.
         *
         * @return a copy of the dilation of each spatial axis (1: none)
         */
        public int[] dilation() {
            return dilation.clone();
        }

        /**
         * Padding as {lo, hi} pairs.
         *
         * @return a new array of one {@code {lo, hi}} pair per spatial axis
         */
        public int[][] padding() {
            int[][] p = new int[strides.length][];
            for (int i = 0; i < p.length; i++) {
                p[i] = new int[] {padLo[i], padHi[i]};
            }
            return p;
        }

        /**
         * Span of the dilated filter along spatial axis {@code axis}: (k - 1)·dilation + 1.
         *
         * @param axis the spatial axis, {@code 0 .. rank-1}
         * @param k the undilated filter size along it
         * @return the dilated span, in input elements
         */
        public int extent(int axis, int k) {
            return (k - 1) * dilation[axis] + 1;
        }

        /**
         * Input size plus both paddings along spatial axis {@code axis}.
         *
         * @param axis the spatial axis, {@code 0 .. rank-1}
         * @param in the input size along it
         * @return {@code in + lo + hi}
         */
        public int paddedSize(int axis, int in) {
            return in + padLo[axis] + padHi[axis];
        }

        /**
         * Output size along spatial axis {@code axis} for input size {@code in} and filter size {@code k}:
         * floor((in + lo + hi - extent) / stride) + 1; zero or less when the window does not fit.
         *
         * @param axis the spatial axis, {@code 0 .. rank-1}
         * @param in the input size along it
         * @param k the undilated filter size along it
         * @return the number of window positions (zero or less when none fits)
         */
        public int outputSize(int axis, int in, int k) {
            return Math.floorDiv(paddedSize(axis, in) - extent(axis, k), strides[axis]) + 1;
        }

        /**
         * The parameters as a jaxpr prints them.
         *
         * @return e.g. {@code window_strides=(1, 1) padding=((0, 0), (1, 1)) rhs_dilation=(1, 1)}
         */
        public String params() {
            StringBuilder p = new StringBuilder("(");
            for (int i = 0; i < strides.length; i++) {
                if (i > 0) {
                    p.append(", ");
                }
                p.append('(').append(padLo[i]).append(", ").append(padHi[i]).append(')');
            }
            p.append(strides.length == 1 ? ",)" : ")");
            return "window_strides=" + tuple(strides) + " padding=" + p + " rhs_dilation=" + tuple(dilation);
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Window)) {
                return false;
            }
            Window w = (Window) o;
            return Arrays.equals(strides, w.strides) && Arrays.equals(padLo, w.padLo)
                    && Arrays.equals(padHi, w.padHi) && Arrays.equals(dilation, w.dilation);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(new int[] {Arrays.hashCode(strides), Arrays.hashCode(padLo),
                Arrays.hashCode(padHi), Arrays.hashCode(dilation)});
        }

        @Override
        public String toString() {
            return params();
        }
    }

    /**
     * A Python-like tuple: {@code (1, 2)}, or {@code (3,)} for one entry.
     *
     * @param a the entries
     * @return the tuple text ({@code ()} when empty)
     */
    public static String tuple(int[] a) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < a.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(a[i]);
        }
        return sb.append(a.length == 1 ? ",)" : ")").toString();
    }

    /**
     * Resolves a padding name into explicit {lo, hi} pairs per spatial axis, with the JAX/TensorFlow convention:
     * <ul>
     *   <li>{@code VALID}: no padding;</li>
     *   <li>{@code SAME}: out = ceil(in / stride), total = max((out - 1)·stride + (k - 1)·dilation + 1 - in, 0),
     *       lo = total / 2, hi = total - lo (the extra element, if any, goes after).</li>
     * </ul>
     * The name is case-insensitive. {@code kernelSpatial} holds the undilated filter sizes.
     *
     * @param padding {@code "SAME"} or {@code "VALID"}, in any case
     * @param inSpatial the input's spatial sizes
     * @param kernelSpatial the filter's spatial sizes, undilated
     * @param strides the window step on each spatial axis
     * @param dilation the filter dilation on each spatial axis
     * @return a new array of one {@code {lo, hi}} pair per spatial axis
     * @throws IllegalArgumentException when the arrays differ in length, the name is null or unknown, or (for
     *         {@code SAME}) a stride or dilation is below 1
     */
    public static int[][] resolvePadding(String padding, int[] inSpatial, int[] kernelSpatial, int[] strides,
                                         int[] dilation) {
        int d = strides.length;
        if (inSpatial.length != d || kernelSpatial.length != d || dilation.length != d) {
            throw new IllegalArgumentException("conv: input spatial shape " + Shapes.str(inSpatial)
                    + ", filter spatial shape " + Shapes.str(kernelSpatial) + ", window_strides " + tuple(strides)
                    + " and rhs_dilation " + tuple(dilation) + " must have the same number of entries");
        }
        String mode = padding == null ? "" : padding.toUpperCase(Locale.ROOT);
        int[][] r = new int[d][2];
        switch (mode) {
            case "VALID":
                return r;
            case "SAME":
                for (int i = 0; i < d; i++) {
                    if (strides[i] < 1 || dilation[i] < 1) {
                        throw new IllegalArgumentException("conv: window_strides " + tuple(strides)
                                + " and rhs_dilation " + tuple(dilation) + " must be at least 1");
                    }
                    int out = (inSpatial[i] + strides[i] - 1) / strides[i];
                    int extent = (kernelSpatial[i] - 1) * dilation[i] + 1;
                    int total = Math.max((out - 1) * strides[i] + extent - inSpatial[i], 0);
                    r[i][0] = total / 2;
                    r[i][1] = total - total / 2;
                }
                return r;
            default:
                throw new IllegalArgumentException("conv: padding must be \"SAME\", \"VALID\" or explicit "
                        + "{lo, hi} pairs, got \"" + padding + "\"");
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Geometry
    // ------------------------------------------------------------------------------------------------------

    /**
     * One convolution's sizes in 2-D form (a 1-D convolution has h = kh = oh = 1, sh = dh = 1, ph = 0):
     * batch n, input h×w×cin, filter kh×kw, cout output channels, output oh×ow, strides sh, sw, dilations
     * dh, dw, low paddings ph, pw (the high paddings only shape oh and ow).
     *
     * @param n the batch size
     * @param h the input height (1 in 1-D)
     * @param w the input width
     * @param cin the input channels
     * @param kh the filter height (1 in 1-D)
     * @param kw the filter width
     * @param cout the output channels
     * @param oh the output height (1 in 1-D)
     * @param ow the output width
     * @param sh the vertical stride (1 in 1-D)
     * @param sw the horizontal stride
     * @param dh the vertical filter dilation (1 in 1-D)
     * @param dw the horizontal filter dilation
     * @param ph the padding above (0 in 1-D)
     * @param pw the padding on the left
     */
    public record Geometry(int n, int h, int w, int cin, int kh, int kw, int cout, int oh, int ow, int sh, int sw,
                           int dh, int dw, int ph, int pw) {
        /**
         * The geometry of a convolution of an input {@code [n] + inSpatial + [cin]} with a filter
         * {@code kernelSpatial + [cin, cout]}. The caller has checked that the window fits (output sizes ≥ 1).
         *
         * @param win the window; its rank is the length of both spatial arrays
         * @param n the batch size
         * @param inSpatial the input's spatial sizes ({@code [W]} or {@code [H, W]})
         * @param cin the input channels
         * @param kernelSpatial the filter's spatial sizes, undilated
         * @param cout the output channels
         * @return the geometry in 2-D form
         */
        public static Geometry of(Window win, int n, int[] inSpatial, int cin, int[] kernelSpatial, int cout) {
            int d = win.rank();
            int[] os = new int[d];
            for (int i = 0; i < d; i++) {
                os[i] = win.outputSize(i, inSpatial[i], kernelSpatial[i]);
            }
            int[] s = win.strides;
            int[] dl = win.dilation;
            int[] lo = win.padLo;
            if (d == 1) {
                return new Geometry(n, 1, inSpatial[0], cin, 1, kernelSpatial[0], cout, 1, os[0], 1, s[0], 1, dl[0],
                        0, lo[0]);
            }
            return new Geometry(n, inSpatial[0], inSpatial[1], cin, kernelSpatial[0], kernelSpatial[1], cout,
                    os[0], os[1], s[0], s[1], dl[0], dl[1], lo[0], lo[1]);
        }

        /**
         * Length of one im2col row: kh·kw·cin.
         *
         * @return the row length, in elements
         */
        public int rowLength() {
            return kh * kw * cin;
        }

        /**
         * Output positions per image: oh·ow.
         *
         * @return the number of output positions of one image
         */
        public int outputPositions() {
            return oh * ow;
        }

        /**
         * True when im2col would be the identity: a 1×1 window with unit strides and no padding.
         *
         * @return whether the convolution is a plain GEMM over the channels
         */
        public boolean isPointwise() {
            return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == h && ow == w;
        }

        /**
         * Whether {@link #inputGrad} takes the padded-plane path: a window that is not pointwise, whose output with
         * the taps' reach ({@link #reachH} × {@link #reachW}) is at most 8/5 ({@link #PLANE_OVERHEAD_NUMERATOR})
         * times the output positions (the products with padding are done; the threshold was measured with planes
         * of that size, and the planes, which share their padding, are no larger). Each image's dy is laid into a
         * zero-padded plane of {@link #planeH} × {@link #planeW} positions, and dx is accumulated in sh·sw planes
         * of that size, one per stride phase of the padded input coordinates (a polyphase split: with unit strides
         * one plane), so that every filter tap is one GEMM over all positions of a block of images: tap (kh, kw)
         * takes output (oh, ow) to padded input (oh·sh + kh·dh, ow·sw + kw·dw), which is position
         * (oh + ⌊kh·dh/sh⌋, ow + ⌊kw·dw/sw⌋) of phase (kh·dh mod sh, kw·dw mod sw) — a fixed shift in a fixed plane
         * for all of them (the padding rows and columns of dy are zeros and add nothing).
         *
         * @return true for the padded-plane path
         */
        public boolean inputGradPlanes() {
            return !isPointwise() && (long) reachH() * reachW() * PLANE_OVERHEAD_DENOMINATOR
                    <= (long) outputPositions() * PLANE_OVERHEAD_NUMERATOR;
        }

        /**
         * oh + ⌊(kh - 1)·dh / sh⌋: the output's height with every tap's reach past it as rows of its own (with
         * unit strides the input height with both paddings). The padded-plane path is chosen by the ratio of
         * {@link #reachH} × {@link #reachW} to the output (measured with planes of that size); its planes are
         * {@link #planeH} × {@link #planeW}, at most as large.
         *
         * @return the height with the taps' reach
         */
        public int reachH() {
            return oh + (kh - 1) * dh / sh;
        }

        /**
         * ow + ⌊(kw - 1)·dw / sw⌋: the output's width with every tap's reach past it (see {@link #reachH}).
         *
         * @return the width with the taps' reach
         */
        public int reachW() {
            return ow + (kw - 1) * dw / sw;
        }

        /**
         * Height of the planes of {@link #inputGradPlanes}, the smallest that keeps every image's rows apart
         * ({@link #planeExtent}): 17 for 16 rows under a 3×3 SAME window, where {@link #reachH} is 18.
         *
         * @return the plane height
         */
        public int planeH() {
            return planeExtent(oh, h, kh, dh, sh, ph, false);
        }

        /**
         * Width of the planes of {@link #inputGradPlanes}, the smallest that keeps every row's columns apart
         * ({@link #planeExtent}).
         *
         * @return the plane width
         */
        public int planeW() {
            return planeExtent(ow, w, kw, dw, sw, pw, sw == 1);
        }

        /**
         * The planes' extent along one axis. The planes are one flat run of positions, so a tap's shift past
         * the end of a row (of an image) lands at the start of the next: the zero padding after one row also
         * serves as the padding before the next, and need not be there twice. Along the axis, a tap moves output
         * o to plane index o + q, q ≤ r = ⌊(k - 1)·d / s⌋; dx reads the indices x = ⌊(i + pad) / s⌋ of its
         * positions i (of the stride phases some tap writes), the live ones those some output reaches, x ≤ out - 1
         * + r. With extent E ≥ out (dy's row fits), E > every live x, and out - 1 + r - E below the smallest live
         * x, what runs past one row (at most one row on) lands below every live index of the next, and reads
         * nothing dx reads; indices past E are read as zero (no output reaches them). With {@code everyRead} (the
         * unit-stride copy of whole rows) E also covers every index dx reads. At most out + r, the extent with
         * the whole reach as padding ({@link #reachH}).
         *
         * @param out the output size
         * @param in the input size
         * @param k the filter size
         * @param d the filter dilation
         * @param s the stride
         * @param pad the low padding
         * @param everyRead whether every index dx reads must lie within the extent
         * @return the extent, between out and out + r
         */
        static int planeExtent(int out, int in, int k, int d, int s, int pad, boolean everyRead) {
            int reach = (k - 1) * d / s;
            int[] phase = phaseRanks(k, d, s);
            int minLive = Integer.MAX_VALUE;
            int maxLive = -1;
            int maxRead = -1;
            for (int i = 0; i < in; i++) {
                int p = i + pad;
                if (phase[p % s] < 0) {
                    continue;
                }
                int x = p / s;
                if (x <= out - 1 + reach) {
                    minLive = Math.min(minLive, x);
                    maxLive = Math.max(maxLive, x);
                }
                maxRead = Math.max(maxRead, x);
            }
            if (maxLive < 0) {
                return out + reach;
            }
            int extent = Math.max(out, Math.max(maxLive + 1, out + reach - minLive));
            return everyRead ? Math.max(extent, maxRead + 1) : extent;
        }

        /**
         * Positions past the last image's plane that the taps' GEMMs write ({@link #planeRows} up to the last real
         * output, plus the largest shift), when the planes are narrower than the reach: the last phase plane's
         * accumulation gets these as a tail.
         *
         * @return the tail positions, 0 or more
         */
        long planeTail() {
            long wq = planeW();
            long last = (long) (reachH() - 1) * wq + reachW();
            return Math.max(0, last - planeH() * wq);
        }

        /**
         * Images per block on the padded-plane path: as many as keep dy's plane (Cout channels) and dx's phase
         * planes (Cin channels; {@link #planePhases}) within {@link #PLANE_BLOCK_ELEMENTS}, at least one.
         *
         * @return the block size, 1 to n (1 when n is 0)
         */
        public int planeBlockImages() {
            return (int) Math.max(1, Math.min(n, PLANE_BLOCK_ELEMENTS / Math.max(1L, imagePlaneElements())));
        }

        /**
         * The blocks of images of the padded-plane path, ⌈n / {@link #planeBlockImages}⌉.
         *
         * @return the number of blocks, 0 when n is 0
         */
        public int planeBlocks() {
            int per = planeBlockImages();
            return (n + per - 1) / per;
        }

        /**
         * Workers of the padded-plane path, each with one block's planes: one per core ({@link Parallel#threads})
         * up to one per block, or 1 for a single block, whose GEMMs are split across the cores instead.
         *
         * @return the number of workers, at least 1
         */
        public int planeWorkers() {
            int blocks = planeBlocks();
            return blocks <= 1 ? 1 : Math.min(blocks, Parallel.threads());
        }

        /**
         * Elements of the planes of a block of {@code images}: images·Hq·Wq·(cout + phases·cin) + tail·cin
         * ({@link #planeTail}), without the cout term when the planes are the output's size (dy is then its own
         * plane).
         *
         * @param images the images of the block
         * @return the elements
         */
        long planeElements(int images) {
            return images * imagePlaneElements() + planeTail() * cin;
        }

        /** Elements of one image's planes: Hq·Wq·(cout + phases·cin), without cout when dy is its own plane. */
        private long imagePlaneElements() {
            return (long) planeH() * planeW() * ((planesPadded() ? cout : 0) + (long) planePhases() * cin);
        }

        /**
         * Whether the planes are larger than the output (some tap reaches past it), so that dy needs a padded
         * copy; otherwise (a 1×1 strided window, say) dy serves as its own plane.
         *
         * @return true when dy is copied into padded planes
         */
        public boolean planesPadded() {
            return planeH() != oh || planeW() != ow;
        }

        /**
         * The stride phases of dx that some tap writes, (rows' phases) × (columns' phases): a phase no tap
         * reaches (a 1×1 window with stride 2 writes one of four) holds only zeros and gets no plane.
         *
         * @return the number of phase planes, 1 to sh·sw
         */
        public int planePhases() {
            return phaseCount(phaseRanks(kh, dh, sh)) * phaseCount(phaseRanks(kw, dw, sw));
        }

        /**
         * Rows of each tap's GEMM on the padded-plane path for a block of {@code images}: every plane position up
         * to the last image's last real output position, (images - 1)·Hq·Wq + (oh - 1)·Wq + ow.
         *
         * @param images the images of the block, at least 1
         * @return the GEMM's rows
         */
        public long planeRows(int images) {
            return (long) (images - 1) * planeH() * planeW() + (long) (oh - 1) * planeW() + ow;
        }

        /**
         * Whether {@link #inputGrad} takes the direct path, tap by tap with GEMMs that write straight into dx (no
         * buffer, products with padding skipped): for a window that is not pointwise and not on the padded-plane
         * path ({@link #inputGradPlanes}, large images), with unit strides, and with channels narrow enough for
         * GEMMs of at least 16 rows under {@link #directGemmRows}. Otherwise (strided or wide; measured slower tap
         * by tap) it is {@code col2im(dy · Wᵀ)} through the column buffer ({@link #workspaceElements}), or one
         * GEMM for a pointwise window.
         *
         * @return true for the direct path
         */
        public boolean inputGradDirect() {
            return !inputGradPlanes() && !isPointwise() && sh == 1 && sw == 1 && directGemmRows() >= 16;
        }

        /**
         * Most rows of one GEMM on the direct path: rows·cin·cout stays below 2^18, where OpenBLAS runs a GEMM on
         * the calling thread alone, so that the direct path's many small GEMMs can run on all cores at once
         * without oversubscribing them with OpenBLAS's own threads.
         *
         * @return the row cap, 0 or more
         */
        public int directGemmRows() {
            return (int) Math.min(Integer.MAX_VALUE, ((1L << 18) - 1) / Math.max(1L, (long) cin * cout));
        }

        /**
         * Elements of scratch {@link #inputGrad} allocates: none on the direct path, else the column buffer.
         *
         * @return the buffer size, in elements of the operands' dtype
         */
        public long inputGradBufferElements() {
            if (inputGradPlanes()) { // the planes of one block per worker
                return n == 0 || outputPositions() == 0 ? 0 : planeWorkers() * planeElements(planeBlockImages());
            }
            return inputGradDirect() ? 0 : workspaceElements();
        }

        /**
         * The multiply-adds {@link #inputGrad} does: on the direct path only the (output position, tap) pairs
         * that read an input element ({@link #tapContributions}), otherwise every pair; times n·cin·cout.
         *
         * @return the multiply-add count, 0 or more
         */
        public long inputGradProducts() {
            if (inputGradPlanes()) { // every position of each tap's GEMM, padding included
                if (n == 0 || outputPositions() == 0) {
                    return 0;
                }
                int per = planeBlockImages();
                long rows = (long) (n / per) * planeRows(per) + (n % per == 0 ? 0 : planeRows(n % per));
                return rows * kh * kw * cin * cout;
            }
            long pairs = inputGradDirect() ? tapContributions() : (long) outputPositions() * kh * kw;
            return pairs * n * cin * cout;
        }

        /**
         * The (output position, filter tap) pairs of one image whose window reads an input element rather than
         * padding: the multiply-adds of the transposed convolution per image are this times cin·cout.
         *
         * @return the number of such pairs, 0 or more
         */
        public long tapContributions() {
            return validPairs(validOutputs(h, kh, sh, dh, ph, oh)) * validPairs(validOutputs(w, kw, sw, dw, pw, ow));
        }

        private static long validPairs(int[] ranges) {
            long total = 0;
            for (int t = 0; t < ranges.length; t += 2) {
                total += Math.max(0, ranges[t + 1] - ranges[t]);
            }
            return total;
        }

        /**
         * Images per im2col chunk so that a chunk's columns stay within {@link #COLS_BUDGET} elements.
         *
         * @return between 1 and n (1 also when n is 0 or one image alone exceeds the budget)
         */
        public int chunkImages() {
            long perImage = Math.max(1L, (long) outputPositions() * rowLength());
            return (int) Math.max(1, Math.min(n, COLS_BUDGET / perImage));
        }

        /**
         * Elements of the im2col buffer a forward or filter-gradient call allocates (0 for a pointwise
         * convolution; the input gradient allocates none).
         *
         * @return the buffer size, in elements of the operands' dtype
         */
        public long workspaceElements() {
            if (isPointwise() || n == 0 || cout == 0 || outputPositions() == 0 || rowLength() == 0) {
                return 0;
            }
            return (long) chunkImages() * outputPositions() * rowLength();
        }

        /**
         * Elements of the transient transposed copy of the filter a forward call may make (for the memory model):
         * where one of its GEMMs — the pointwise product, or an im2col chunk's — is a float32 product with few rows,
         * the filter is read transposed ({@link Blas#readsTransposedWeight}), from a copy kept with the parameter or,
         * when none can be kept, from one made for the product.
         *
         * @param dtype the operands' dtype
         * @return the filter's size in elements, or 0
         */
        public long transposedFilterElements(DType dtype) {
            int ohw = outputPositions();
            int k = rowLength();
            if (n == 0 || cout == 0 || ohw == 0 || k == 0) {
                return 0;
            }
            long filter = (long) k * cout;
            int chunk = isPointwise() ? n : chunkImages();
            int last = n % chunk == 0 ? chunk : n % chunk;
            for (int images : new int[] {Math.min(n, chunk), last}) {
                long rows = (long) images * ohw;
                if (rows <= Integer.MAX_VALUE
                        && Blas.readsTransposedWeight(false, false, (int) rows, cout, k, cout, filter, dtype)) {
                    return filter;
                }
            }
            return 0;
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // The three kernels
    // ------------------------------------------------------------------------------------------------------

    private static int[] spatialOfData(int[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length - 1);
    }

    private static int[] spatialOfFilter(int[] shape) {
        return Arrays.copyOfRange(shape, 0, shape.length - 2);
    }

    private static int[] dataShape(int n, int[] spatial, int c) {
        return Shapes.concat(new int[] {n}, spatial, new int[] {c});
    }

    /**
     * y = conv(x, w): x {@code [N] + S + [Cin]}, w {@code KS + [Cin, Cout]}, both of one dtype.
     *
     * @param x the input {@code [N, H, W, Cin]} or {@code [N, W, Cin]}; not closed
     * @param w the filter HWIO {@code [KH, KW, Cin, Cout]} or {@code [KW, Cin, Cout]}; not closed
     * @param win the window, of rank {@code x.rank() - 2}
     * @return a new tensor y {@code [N] + OS + [Cout]}, owned by the caller
     * @throws IllegalArgumentException when the dtypes differ, a rank is not {@code win.rank() + 2}, the channels
     *         differ, or the dilated filter does not fit in the padded input
     */
    public static Tensor forward(Tensor x, Tensor w, Window win) {
        checkDtypes("conv", x, w);
        checkRanks("conv", win, x, w);
        if (x.dim(-1) != w.dim(-2)) {
            throw new IllegalArgumentException("conv: input " + Shapes.str(x.shape()) + " has " + x.dim(-1)
                    + " channels, filter " + Shapes.str(w.shape()) + " expects " + w.dim(-2));
        }
        Geometry g = Geometry.of(win, x.dim(0), spatialOfData(x.shape()), x.dim(-1), spatialOfFilter(w.shape()),
                w.dim(-1));
        checkFits("conv", g, win);
        int[] yShape = dataShape(g.n(), outSpatial(g, win.rank()), g.cout());
        int m = g.n() * g.outputPositions();
        int rowLen = g.rowLength();
        if (m == 0 || g.cout() == 0 || rowLen == 0) {
            return Tensor.zeros(x.dtype(), yShape);
        }
        Tensor y = Tensor.empty(x.dtype(), yShape);
        if (g.isPointwise()) {
            Blas.gemm(false, false, m, g.cout(), g.cin(), 1.0, x, 0, g.cin(), w, 0, g.cout(), 0.0, y, 0, g.cout());
            return y;
        }
        int chunk = g.chunkImages();
        int ohw = g.outputPositions();
        try (Tensor cols = Tensor.empty(x.dtype(), chunk * ohw, rowLen)) {
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int n1 = Math.min(g.n(), n0 + chunk);
                im2col(x, g, n0, n1, cols);
                Blas.gemm(false, false, (n1 - n0) * ohw, g.cout(), rowLen, 1.0, cols, 0, rowLen, w, 0, g.cout(),
                        0.0, y, (long) n0 * ohw * g.cout(), g.cout());
            }
        }
        return y;
    }

    /**
     * dx = the input gradient (transposed convolution) of dy {@code [N] + OS + [Cout]} through the filter
     * w {@code KS + [Cin, Cout]}, for an input of spatial shape {@code inSpatial}:
     * {@code dx[n, ih, iw] = Σ dy[n, oh, ow] · w[kh, kw]ᵀ} over oh·sh - ph + kh·dh = ih, ow·sw - pw + kw·dw = iw,
     * on padded planes where {@link Geometry#inputGradPlanes} holds, tap by tap where
     * {@link Geometry#inputGradDirect} holds (no buffer), else {@code col2im(dy · Wᵀ)}.
     *
     * @param dy the output cotangent {@code [N] + OS + [Cout]}, OS the output spatial shape of the forward
     *           convolution; not closed
     * @param w the filter HWIO {@code KS + [Cin, Cout]}, of {@code dy}'s dtype; not closed
     * @param inSpatial the forward input's spatial sizes
     * @param win the forward window
     * @return a new tensor dx {@code [N] + inSpatial + [Cin]}, owned by the caller
     * @throws IllegalArgumentException when the dtypes differ, a rank or {@code inSpatial}'s length does not fit
     *         the window, the filter does not fit, or {@code dy} is not of the forward output's shape
     */
    public static Tensor inputGrad(Tensor dy, Tensor w, int[] inSpatial, Window win) {
        checkDtypes("conv_input_grad", dy, w);
        checkRanks("conv_input_grad", win, dy, w);
        if (inSpatial.length != win.rank()) {
            throw new IllegalArgumentException("conv_input_grad: input spatial shape " + Shapes.str(inSpatial)
                    + " must have " + win.rank() + " entries");
        }
        Geometry g = Geometry.of(win, dy.dim(0), inSpatial, w.dim(-2), spatialOfFilter(w.shape()), w.dim(-1));
        checkFits("conv_input_grad", g, win);
        int[] dxShape = dataShape(g.n(), inSpatial, g.cin());
        checkCotangent("conv_input_grad", dataShape(g.n(), outSpatial(g, win.rank()), g.cout()), dy);
        int m = g.n() * g.outputPositions();
        int rowLen = g.rowLength();
        if (m == 0 || g.cout() == 0 || rowLen == 0) {
            return Tensor.zeros(dy.dtype(), dxShape);
        }
        if (g.isPointwise()) {
            Tensor dx = Tensor.empty(dy.dtype(), dxShape);
            Blas.gemm(false, true, m, g.cin(), g.cout(), 1.0, dy, 0, g.cout(), w, 0, g.cout(), 0.0, dx, 0, g.cin());
            return dx;
        }
        if (g.inputGradPlanes() || g.inputGradDirect()) {
            // accumulated into, and what no window reaches stays zero; with unit strides the planes write all of dx
            boolean whole = g.inputGradPlanes() && g.sh() == 1 && g.sw() == 1;
            Tensor dx = whole ? Tensor.empty(dy.dtype(), dxShape) : Tensor.zeros(dy.dtype(), dxShape);
            try {
                if (g.inputGradPlanes()) {
                    inputGradByPlanes(dy, w, g, dx, null);
                } else {
                    inputGradByTaps(dy, w, g, dx);
                }
            } catch (RuntimeException | Error e) {
                dx.close();
                throw e;
            }
            return dx;
        }
        // col2im(dy · Wᵀ) through a column buffer of at most COLS_BUDGET elements
        Tensor dx = Tensor.empty(dy.dtype(), dxShape);
        int chunk = g.chunkImages();
        int ohw = g.outputPositions();
        try (Tensor cols = Tensor.empty(dy.dtype(), chunk * ohw, rowLen)) {
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int n1 = Math.min(g.n(), n0 + chunk);
                Blas.gemm(false, true, (n1 - n0) * ohw, rowLen, g.cout(), 1.0, dy, (long) n0 * ohw * g.cout(),
                        g.cout(), w, 0, g.cout(), 0.0, cols, 0, rowLen);
                col2im(cols, g, n0, n1, dx);
            }
        } catch (RuntimeException | Error e) {
            dx.close();
            throw e;
        }
        return dx;
    }

    /**
     * {@link #inputGrad} times a multiplier: dx[n] ⊙ times[n mod M] for each image n, {@code times}
     * {@code [M] + inSpatial + [Cin]} with M dividing N (a ReLU mask times a layer's scale, {@code [N, H, W, C]},
     * against a stack of K cotangents merged into the batch, N·K images). Each element is exactly what
     * {@code Elementwise.binary(MUL, dx, times)} (broadcast over the stack) gives. On the padded-plane path with
     * unit strides the product is taken as dx's rows leave the planes, with no pass of its own; on every other
     * path dx is multiplied in place after it is computed.
     *
     * @param dy the output cotangent, as for {@link #inputGrad}; not closed
     * @param w the filter HWIO, as for {@link #inputGrad}; not closed
     * @param inSpatial the forward input's spatial sizes
     * @param win the forward window
     * @param times the multiplier {@code [M] + inSpatial + [Cin]}, of {@code dy}'s dtype, M ≥ 1 dividing N; not
     *              closed
     * @return a new tensor {@code [N] + inSpatial + [Cin]}, owned by the caller
     * @throws IllegalArgumentException when {@link #inputGrad} refuses the operands, or {@code times} has another
     *         dtype, another shape than {@code [M] + inSpatial + [Cin]}, or an M that does not divide N
     */
    public static Tensor inputGradTimes(Tensor dy, Tensor w, int[] inSpatial, Window win, Tensor times) {
        checkDtypes("conv_input_grad", dy, w);
        checkRanks("conv_input_grad", win, dy, w);
        checkDtypes("conv_input_grad_mul", dy, times);
        int d = win.rank();
        if (inSpatial.length != d) {
            throw new IllegalArgumentException("conv_input_grad: input spatial shape " + Shapes.str(inSpatial)
                    + " must have " + d + " entries");
        }
        int[] ts = times.shape();
        int cin = w.dim(-2);
        int[] expected = dataShape(ts.length == d + 2 ? ts[0] : 1, inSpatial, cin);
        if (ts.length != d + 2 || ts[0] < 1 || dy.dim(0) % ts[0] != 0 || !Arrays.equals(ts, expected)) {
            throw new IllegalArgumentException("conv_input_grad_mul: expected multiplier [M] + " + Shapes.str(inSpatial)
                    + " + [" + cin + "] with M >= 1 dividing the batch " + dy.dim(0) + ", got "
                    + Shapes.str(ts));
        }
        Geometry g = Geometry.of(win, dy.dim(0), inSpatial, cin, spatialOfFilter(w.shape()), w.dim(-1));
        checkFits("conv_input_grad", g, win);
        checkCotangent("conv_input_grad", dataShape(g.n(), outSpatial(g, d), g.cout()), dy);
        if (g.inputGradPlanes() && g.sh() == 1 && g.sw() == 1 && g.n() > 0 && g.cout() > 0 && g.rowLength() > 0) {
            Tensor dx = Tensor.empty(dy.dtype(), dataShape(g.n(), inSpatial, cin)); // the planes write all of it
            try {
                inputGradByPlanes(dy, w, g, dx, times);
            } catch (RuntimeException | Error e) {
                dx.close();
                throw e;
            }
            return dx;
        }
        Tensor dx = inputGrad(dy, w, inSpatial, win);
        int per = times.size();
        int images = g.n();
        boolean f32 = dx.dtype() == DType.F32;
        FloatBuffer xf = f32 ? dx.floats() : null;
        DoubleBuffer xd = f32 ? null : dx.doubles();
        FloatBuffer mf = f32 ? times.floats() : null;
        DoubleBuffer md = f32 ? null : times.doubles();
        int image = per / ts[0];
        Parallel.range(images, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, image)), (lo, hi) -> {
            for (int n = lo; n < hi; n++) {
                int m = n % ts[0] * image;
                if (f32) {
                    Elementwise.multiplyRun(xf, n * image, xf, n * image, mf, m, image);
                } else {
                    Elementwise.multiplyRun(xd, n * image, xd, n * image, md, m, image);
                }
            }
        });
        return dx;
    }

    /**
     * For each residue r in [0, s): its rank among the residues t·d mod s (t in [0, k)) that occur, or -1.
     */
    static int[] phaseRanks(int k, int d, int s) {
        int[] rank = new int[s];
        Arrays.fill(rank, -1);
        for (int t = 0; t < k; t++) {
            rank[t * d % s] = 0;
        }
        int next = 0;
        for (int r = 0; r < s; r++) {
            if (rank[r] == 0) {
                rank[r] = next++;
            }
        }
        return rank;
    }

    private static int phaseCount(int[] ranks) {
        int count = 0;
        for (int r : ranks) {
            count += r >= 0 ? 1 : 0;
        }
        return count;
    }

    /**
     * dx = the transposed convolution of dy through w on padded planes (see {@link Geometry#inputGradPlanes}):
     * per block of images, dy is copied into zero-padded planes P {@code [images, Hq, Wq, Cout]}, and for each
     * tap (kh, kw) one GEMM adds {@code P[p] · w[kh, kw]ᵀ} to {@code Q[phase][p + qh·Wq + qw]} for every plane
     * position p up to the block's last real output position, where phase = (kh·dh mod sh, kw·dw mod sw), qh =
     * ⌊kh·dh/sh⌋, qw = ⌊kw·dw/sw⌋ and Q {@code [phases, images, Hq, Wq, Cin]} starts at zero (one plane per phase
     * some tap writes: {@link Geometry#planePhases}). Then dx[ih, iw] is
     * Q at padded input (ih + ph, iw + pw): phase ((ih + ph) mod sh, (iw + pw) mod sw), position (⌊(ih + ph)/sh⌋,
     * ⌊(iw + pw)/sw⌋), or zero where no window reaches (beyond the planes). The products with padding are done,
     * (Hq·Wq)/(oh·ow) times the minimum. The images go in blocks of {@link Geometry#planeBlockImages} (planes of
     * about {@link #PLANE_BLOCK_ELEMENTS}, which stay in a core's cache through the taps' GEMMs); with several
     * blocks each core takes whole blocks, its GEMMs on its own thread, else the one block's GEMMs are split across
     * the cores by {@link Blas#gemm}. Each dx element's sum is the same either way: the taps in order, one GEMM
     * each.
     */
    private static void inputGradByPlanes(Tensor dy, Tensor w, Geometry g, Tensor dx, Tensor times) {
        int per = g.planeBlockImages();
        int blocks = g.planeBlocks();
        int workers = g.planeWorkers();
        long plane = (long) g.planeH() * g.planeW();
        boolean padded = g.planesPadded();
        boolean overwrite = !padded && g.kh() * g.kw() == 1; // each tap's GEMM writes all of its phase plane
        int[] rowPhase = phaseRanks(g.kh(), g.dh(), g.sh());
        int[] colPhase = phaseRanks(g.kw(), g.dw(), g.sw());
        // one block's planes per worker, allocated here (what the cost model counts, however the blocks are shared
        // out): P's padding is never written, so it stays zero from block to block; Q is zeroed for each block
        Tensor[] ps = new Tensor[workers];
        Tensor[] qs = new Tensor[workers];
        try {
            for (int i = 0; i < workers; i++) {
                ps[i] = padded ? Tensor.zeros(dy.dtype(), (int) (per * plane * g.cout())) : null;
                qs[i] = Tensor.empty(dy.dtype(), (int) ((g.planePhases() * per * plane + g.planeTail()) * g.cin()));
            }
            if (workers == 1) {
                for (int b = 0; b < blocks; b++) {
                    planeBlock(dy, w, g, dx, b * per, Math.min(per, g.n() - b * per), ps[0], qs[0], overwrite,
                            false, rowPhase, colPhase, times);
                }
                return;
            }
            Parallel.range(workers, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    for (int b = i; b < blocks; b += workers) {
                        planeBlock(dy, w, g, dx, b * per, Math.min(per, g.n() - b * per), ps[i], qs[i], overwrite,
                                true, rowPhase, colPhase, times);
                    }
                }
            });
        } finally {
            for (int i = 0; i < workers; i++) {
                if (ps[i] != null) {
                    ps[i].close();
                }
                if (qs[i] != null) {
                    qs[i].close();
                }
            }
        }
    }

    /**
     * dx's images [n0, n0 + images) on padded planes ({@link #inputGradByPlanes}), with the planes P (null when dy
     * is its own plane) and Q of one block; {@code onOneThread}: the copies and GEMMs on the calling thread (a
     * worker taking whole blocks), else split across the cores. {@code times}: null, or (unit strides only) a
     * multiplier {@code [M, H, W, Cin]} that each dx row takes on its way out of Q, image n by image n mod M
     * ({@link #inputGradTimes}).
     */
    private static void planeBlock(Tensor dy, Tensor w, Geometry g, Tensor dx, int n0, int images, Tensor p,
                                   Tensor q, boolean overwrite, boolean onOneThread, int[] rowPhase, int[] colPhase,
                                   Tensor times) {
        int colPhases = phaseCount(colPhase);
        int hq = g.planeH();
        int wq = g.planeW();
        int sh = g.sh();
        int sw = g.sw();
        int cin = g.cin();
        int cout = g.cout();
        long plane = (long) hq * wq;
        boolean f32 = dy.dtype() == DType.F32;
        FloatBuffer yf = f32 ? dy.floats() : null;
        DoubleBuffer yd = f32 ? null : dy.doubles();
        FloatBuffer xf = f32 ? dx.floats() : null;
        DoubleBuffer xd = f32 ? null : dx.doubles();
        int rowY = g.ow() * cout; // one output row of dy
        int rowX = g.w() * cin; // one input row of dx
        long phaseBlock = images * plane; // positions of one phase's planes, this block's images
        FloatBuffer qf = f32 ? q.floats() : null;
        DoubleBuffer qd = f32 ? null : q.doubles();
        FloatBuffer mf = times != null && f32 ? times.floats() : null;
        DoubleBuffer md = times != null && !f32 ? times.doubles() : null;
        int timesImages = times != null ? times.dim(0) : 1;
        if (!overwrite) {
            org.bytedeco.javacpp.Pointer.memset(f32 ? q.floatPointer() : q.doublePointer(), 0, q.bytes());
        }
        if (p != null) { // P's rows oh < OH take dy's rows; the rest is zero
            FloatBuffer pf = f32 ? p.floats() : null;
            DoubleBuffer pd = f32 ? null : p.doubles();
            Parallel.Range fill = (lo, hi) -> {
                for (int r = lo; r < hi; r++) {
                    int image = r / g.oh();
                    int row = r % g.oh();
                    int dst = (int) ((image * plane + (long) row * wq) * cout);
                    int src = ((n0 + image) * g.oh() + row) * rowY;
                    copyRun(f32, pf, pd, dst, yf, yd, src, rowY);
                }
            };
            rowsOf(images * g.oh(), rowY, onOneThread, fill);
        }
        Tensor a = p != null ? p : dy;
        long aOff = p != null ? 0 : (long) n0 * plane * cout;
        int rows = (int) g.planeRows(images);
        double beta = overwrite ? 0.0 : 1.0;
        for (int kh = 0; kh < g.kh(); kh++) {
            for (int kw = 0; kw < g.kw(); kw++) {
                int phase = rowPhase[kh * g.dh() % sh] * colPhases + colPhase[kw * g.dw() % sw];
                long shift = (phase * phaseBlock + (long) (kh * g.dh() / sh) * wq + kw * g.dw() / sw) * cin;
                long wOff = (long) (kh * g.kw() + kw) * cin * cout;
                if (onOneThread) {
                    Blas.gemmUnsplit(false, true, rows, cin, cout, 1.0, a, aOff, cout, w, wOff, cout, beta, q, shift,
                            cin);
                } else {
                    Blas.gemm(false, true, rows, cin, cout, 1.0, a, aOff, cout, w, wOff, cout, beta, q, shift, cin);
                }
            }
        }
        Parallel.Range extract = (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int image = r / g.h();
                int ih = r % g.h();
                int dst = ((n0 + image) * g.h() + ih) * rowX;
                int ph = ih + g.ph();
                int rowQ = ph / sh;
                if (rowQ >= hq || rowPhase[ph % sh] < 0) { // below every window, or a phase no tap writes
                    continue; // dx is zero there already
                }
                long rowBase = (long) rowPhase[ph % sh] * colPhases * phaseBlock + image * plane
                        + (long) rowQ * wq;
                if (sw == 1) {
                    int src = (int) ((rowBase + g.pw()) * cin); // iw + pw < Wq for every iw
                    if (times == null) {
                        copyRun(f32, xf, xd, dst, qf, qd, src, rowX);
                    } else if (f32) { // dx's row times the multiplier's: the same products as a separate mul
                        Elementwise.multiplyRun(xf, dst, qf, src, mf, ((n0 + image) % timesImages * g.h() + ih)
                                * rowX, rowX);
                    } else {
                        Elementwise.multiplyRun(xd, dst, qd, src, md, ((n0 + image) % timesImages * g.h() + ih)
                                * rowX, rowX);
                    }
                    continue;
                }
                for (int iw = 0; iw < g.w(); iw++) {
                    int pw = iw + g.pw();
                    int colQ = pw / sw;
                    int at = dst + iw * cin;
                    if (colQ < wq && colPhase[pw % sw] >= 0) {
                        int src = (int) ((colPhase[pw % sw] * phaseBlock + rowBase + colQ) * cin);
                        copyRun(f32, xf, xd, at, qf, qd, src, cin);
                    }
                }
            }
        };
        rowsOf(images * g.h(), rowX, onOneThread, extract);
    }

    /** {@code body} over [0, rows) rows of {@code rowLength} elements: here, or split across the cores. */
    private static void rowsOf(int rows, int rowLength, boolean onOneThread, Parallel.Range body) {
        if (onOneThread) {
            body.run(0, rows);
        } else {
            Parallel.range(rows, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, rowLength)), body);
        }
    }

    /**
     * dx += the transposed convolution of dy through w, one filter tap at a time, with no column buffer: for tap
     * (kh, kw), every output position (n, oh, ow) whose window reads a real input element through that tap adds
     * {@code dy[n, oh, ow, :] · w[kh, kw]ᵀ} ({@code [Cout] · [Cout, Cin]}) to
     * {@code dx[n, oh·sh - ph + kh·dh, ow·sw - pw + kw·dw, :]}. Those rows form strided matrices in both dy and
     * dx, so each is a GEMM with beta = 1 whose leading dimensions do the striding: either one per (tap, image,
     * output row) over the valid output columns (dx row stride sw·Cin), or one per (tap, output position) over
     * the images (row strides of a whole image), whichever has the longer rows. Only pairs that read an input
     * element are multiplied: {@link Geometry#tapContributions} per image. Each GEMM has at most
     * {@link Geometry#directGemmRows} rows, so OpenBLAS runs it on the calling thread, and images are split across
     * cores, so no two threads write the same dx element.
     */
    private static void inputGradByTaps(Tensor dy, Tensor w, Geometry g, Tensor dx) {
        int[] ohRange = validOutputs(g.h(), g.kh(), g.sh(), g.dh(), g.ph(), g.oh());
        int[] owRange = validOutputs(g.w(), g.kw(), g.sw(), g.dw(), g.pw(), g.ow());
        int cin = g.cin();
        int cout = g.cout();
        int cap = g.directGemmRows();
        long tapFlops = 2L * g.tapContributions() * cin * cout;
        int grain = (int) Math.max(1, Math.min(g.n(), (1L << 21) / Math.max(1, tapFlops)));
        int threads = Math.max(1, Math.min(Parallel.threads(), g.n() / grain));
        int perThread = (g.n() + threads - 1) / threads;
        // rows of a GEMM: the valid output columns of one image row, or the images of one thread's share
        boolean byRow = g.ow() >= Math.min(perThread, cap);
        long imageY = (long) g.outputPositions() * cout;
        long imageX = (long) g.h() * g.w() * cin;
        Parallel.range(g.n(), grain, (lo, hi) -> {
            for (int kh = 0; kh < g.kh(); kh++) {
                int oh0 = ohRange[2 * kh];
                int oh1 = ohRange[2 * kh + 1];
                for (int kw = 0; kw < g.kw(); kw++) {
                    int ow0 = owRange[2 * kw];
                    int ow1 = owRange[2 * kw + 1];
                    if (oh1 <= oh0 || ow1 <= ow0) {
                        continue;
                    }
                    long wOff = (long) (kh * g.kw() + kw) * cin * cout;
                    int iwBase = -g.pw() + kw * g.dw();
                    // a full row of outputs whose dx rows continue across output rows: several rows per GEMM
                    boolean merge = ow0 == 0 && ow1 == g.ow() && g.w() == g.ow() && g.ow() <= cap;
                    int ohStep = merge ? cap / g.ow() : 1;
                    if (byRow || merge) {
                        for (int n = lo; n < hi; n++) {
                            for (int oh = oh0; oh < oh1; oh += ohStep) {
                                int ih = oh * g.sh() - g.ph() + kh * g.dh();
                                int rows = merge ? Math.min(ohStep, oh1 - oh) * g.ow() : ow1 - ow0;
                                for (int r0 = 0; r0 < rows; r0 += cap) {
                                    int ow = ow0 + r0; // with merge, r0 = 0
                                    Blas.gemm(false, true, Math.min(cap, rows - r0), cin, cout, 1.0, dy,
                                            n * imageY + ((long) oh * g.ow() + ow) * cout, cout, w, wOff, cout, 1.0,
                                            dx, n * imageX + ((long) ih * g.w() + ow * g.sw() + iwBase) * cin,
                                            g.sw() * cin);
                                }
                            }
                        }
                    } else {
                        for (int oh = oh0; oh < oh1; oh++) {
                            int ih = oh * g.sh() - g.ph() + kh * g.dh();
                            for (int ow = ow0; ow < ow1; ow++) {
                                int iw = ow * g.sw() + iwBase;
                                for (int b0 = lo; b0 < hi; b0 += cap) {
                                    Blas.gemm(false, true, Math.min(cap, hi - b0), cin, cout, 1.0, dy,
                                            b0 * imageY + ((long) oh * g.ow() + ow) * cout, (int) imageY, w, wOff,
                                            cout, 1.0, dx, b0 * imageX + ((long) ih * g.w() + iw) * cin,
                                            (int) imageX);
                                }
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * For each filter tap t in [0, k): the range [lo, hi) of output positions o in [0, out) whose window reads
     * an input element through t, 0 ≤ o·stride - pad + t·dilation &lt; in; as {@code r[2t] = lo, r[2t+1] = hi}
     * (hi ≤ lo when there is none).
     */
    static int[] validOutputs(int in, int k, int stride, int dilation, int pad, int out) {
        int[] r = new int[2 * k];
        for (int t = 0; t < k; t++) {
            int shift = pad - t * dilation; // o·stride ∈ [shift, in - 1 + shift]
            r[2 * t] = Math.max(0, Math.floorDiv(shift + stride - 1, stride));
            r[2 * t + 1] = Math.min(out, Math.floorDiv(in - 1 + shift, stride) + 1);
        }
        return r;
    }

    /**
     * dw = the filter gradient of x {@code [N] + S + [Cin]} and dy {@code [N] + OS + [Cout]} for a filter of
     * spatial shape {@code kernelSpatial}: {@code im2col(x)ᵀ · dy}, summed over the batch.
     *
     * @param x the forward input {@code [N] + S + [Cin]}; not closed
     * @param dy the output cotangent {@code [N] + OS + [Cout]}, of {@code x}'s dtype; not closed
     * @param kernelSpatial the filter's spatial sizes, undilated
     * @param win the forward window
     * @return a new tensor dw {@code kernelSpatial + [Cin, Cout]}, owned by the caller
     * @throws IllegalArgumentException when the dtypes differ, a rank or {@code kernelSpatial}'s length does not
     *         fit the window, the filter does not fit, or {@code dy} is not of the forward output's shape
     */
    public static Tensor filterGrad(Tensor x, Tensor dy, int[] kernelSpatial, Window win) {
        checkDtypes("conv_filter_grad", x, dy);
        checkRanks("conv_filter_grad", win, x, dy);
        if (kernelSpatial.length != win.rank()) {
            throw new IllegalArgumentException("conv_filter_grad: filter spatial shape " + Shapes.str(kernelSpatial)
                    + " must have " + win.rank() + " entries");
        }
        Geometry g = Geometry.of(win, x.dim(0), spatialOfData(x.shape()), x.dim(-1), kernelSpatial, dy.dim(-1));
        checkFits("conv_filter_grad", g, win);
        int[] dwShape = Shapes.concat(kernelSpatial, new int[] {g.cin(), g.cout()});
        checkCotangent("conv_filter_grad", dataShape(g.n(), outSpatial(g, win.rank()), g.cout()), dy);
        int m = g.n() * g.outputPositions();
        int rowLen = g.rowLength();
        if (m == 0 || g.cout() == 0 || rowLen == 0) {
            return Tensor.zeros(x.dtype(), dwShape);
        }
        Tensor dw = Tensor.empty(x.dtype(), dwShape);
        if (g.isPointwise()) {
            Blas.gemm(true, false, g.cin(), g.cout(), m, 1.0, x, 0, g.cin(), dy, 0, g.cout(), 0.0, dw, 0, g.cout());
            return dw;
        }
        int chunk = g.chunkImages();
        int ohw = g.outputPositions();
        try (Tensor cols = Tensor.empty(x.dtype(), chunk * ohw, rowLen)) {
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int n1 = Math.min(g.n(), n0 + chunk);
                im2col(x, g, n0, n1, cols);
                Blas.gemm(true, false, rowLen, g.cout(), (n1 - n0) * ohw, 1.0, cols, 0, rowLen, dy,
                        (long) n0 * ohw * g.cout(), g.cout(), n0 == 0 ? 0.0 : 1.0, dw, 0, g.cout());
            }
        }
        return dw;
    }

    private static int[] outSpatial(Geometry g, int d) {
        return d == 1 ? new int[] {g.ow()} : new int[] {g.oh(), g.ow()};
    }

    private static void checkRanks(String op, Window win, Tensor a, Tensor b) {
        if (a.rank() != win.rank() + 2 || b.rank() != win.rank() + 2) {
            throw new IllegalArgumentException(op + ": a " + win.rank() + "-D convolution needs operands of rank "
                    + (win.rank() + 2) + ", got " + Shapes.str(a.shape()) + " and " + Shapes.str(b.shape()));
        }
    }

    private static void checkFits(String op, Geometry g, Window win) {
        if (g.oh() < 1 || g.ow() < 1 || g.kh() < 1 || g.kw() < 1) {
            throw new IllegalArgumentException(op + ": the dilated filter (" + g.kh() + "x" + g.kw()
                    + ") does not fit in the padded input (" + g.h() + "x" + g.w() + ", " + win.params() + ")");
        }
    }

    private static void checkCotangent(String op, int[] expected, Tensor dy) {
        if (!Arrays.equals(expected, dy.shape())) {
            throw new IllegalArgumentException(op + ": expected cotangent " + Shapes.str(expected) + ", got "
                    + Shapes.str(dy.shape()));
        }
    }

    private static void checkDtypes(String op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": operand dtypes differ: " + a.dtype().shortName()
                    + Shapes.str(a.shape()) + " and " + b.dtype().shortName() + Shapes.str(b.shape()));
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // im2col / col2im
    // ------------------------------------------------------------------------------------------------------

    /**
     * Writes the receptive fields of images {@code [n0, n1)} of {@code x} (shape {@code [N, H, W, Cin]} or
     * {@code [N, W, Cin]}) into rows {@code 0 .. (n1 - n0)·OH·OW} of {@code cols}, one row per output position
     * (n, oh, ow), columns in (kh, kw, ci) order, zeros where the window reads padding. Rows are split across
     * cores; each filter tap copies a contiguous run of Cin elements.
     *
     * @param x the input, laid out as {@code g} describes; not changed
     * @param g the convolution's geometry
     * @param n0 the first image
     * @param n1 one past the last image
     * @param cols the column buffer, of {@code x}'s dtype, read as row-major {@code [rows, g.rowLength()]};
     *             its leading {@code (n1 - n0)·OH·OW} rows are overwritten, the rest left alone
     * @throws IllegalArgumentException when the dtypes differ or {@code cols} is too small
     */
    public static void im2col(Tensor x, Geometry g, int n0, int n1, Tensor cols) {
        im2col(x, g, n0, n1, cols, g.rowLength(), 0);
    }

    /**
     * {@link #im2col} into rows of {@code stride} ≥ {@link Geometry#rowLength} elements, the columns past the
     * receptive field set to {@code fill}: a data factor with extra constant columns (structured derivatives
     * append one for a bias that joins its filter's rows, whose rows are then Σ_r D times the constant).
     *
     * @param x the input, laid out as {@code g} describes; not changed
     * @param g the convolution's geometry
     * @param n0 the first image
     * @param n1 one past the last image
     * @param cols the column buffer, of {@code x}'s dtype, read as row-major {@code [rows, stride]}; its leading
     *             {@code (n1 - n0)·OH·OW} rows are overwritten, the rest left alone
     * @param stride elements per row, at least the receptive field's
     * @param fill the value of the columns past the receptive field
     * @throws IllegalArgumentException when the dtypes differ, {@code stride} is shorter than a receptive field or
     *         {@code cols} is too small
     */
    public static void im2col(Tensor x, Geometry g, int n0, int n1, Tensor cols, int stride, double fill) {
        int ohw = g.outputPositions();
        int rows = (n1 - n0) * ohw;
        int c = g.cin();
        int rowLen = g.rowLength();
        if (stride < rowLen) {
            throw new IllegalArgumentException("im2col: rows of " + stride + " elements cannot hold a receptive field"
                    + " of " + rowLen);
        }
        checkWorkspace("im2col", x, cols, (long) rows * stride);
        boolean f32 = x.dtype() == DType.F32;
        FloatBuffer xf = f32 ? x.floats() : null;
        FloatBuffer cf = f32 ? cols.floats() : null;
        DoubleBuffer xd = f32 ? null : x.doubles();
        DoubleBuffer cd = f32 ? null : cols.doubles();
        int h = g.h();
        int w = g.w();
        int kw = g.kw();
        int tapRow = kw * c;
        Parallel.range(rows, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, stride)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int n = n0 + r / ohw;
                int pos = r % ohw;
                int ihBase = (pos / g.ow()) * g.sh() - g.ph();
                int iwBase = (pos % g.ow()) * g.sw() - g.pw();
                int dst = r * stride;
                for (int e = rowLen; e < stride; e++) {
                    if (f32) {
                        cf.put(dst + e, (float) fill);
                    } else {
                        cd.put(dst + e, fill);
                    }
                }
                for (int kh = 0; kh < g.kh(); kh++) {
                    int ih = ihBase + kh * g.dh();
                    if (ih < 0 || ih >= h) {
                        zero(f32, cf, cd, dst, tapRow);
                        dst += tapRow;
                        continue;
                    }
                    int inRow = (n * h + ih) * w;
                    if (g.dw() == 1) {
                        // the window's row is contiguous in x: its taps within the image in one run, the rest zero
                        int kLo = Math.min(kw, Math.max(0, -iwBase));
                        int kHi = Math.max(kLo, Math.min(kw, w - iwBase));
                        zero(f32, cf, cd, dst, kLo * c);
                        if (kHi > kLo) {
                            copyRun(f32, cf, cd, dst + kLo * c, xf, xd, (inRow + iwBase + kLo) * c, (kHi - kLo) * c);
                        }
                        zero(f32, cf, cd, dst + kHi * c, (kw - kHi) * c);
                        dst += tapRow;
                        continue;
                    }
                    for (int k = 0; k < kw; k++, dst += c) {
                        int iw = iwBase + k * g.dw();
                        if (iw < 0 || iw >= w) {
                            zero(f32, cf, cd, dst, c);
                        } else {
                            copyRun(f32, cf, cd, dst, xf, xd, (inRow + iw) * c, c);
                        }
                    }
                }
            }
        });
    }

    /**
     * The adjoint of {@link #im2col}: overwrites images {@code [n0, n1)} of {@code dx} with the sum, over every
     * (output position, filter tap) whose window reads an input element, of the matching entry of
     * {@code cols} (rows {@code 0 .. (n1 - n0)·OH·OW}). Written as a gather over input rows (n, ih), so the
     * rows are split across cores without two threads ever writing the same element.
     *
     * @param cols the column buffer, row-major {@code [rows, g.rowLength()]}; not changed
     * @param g the convolution's geometry
     * @param n0 the first image
     * @param n1 one past the last image
     * @param dx the input gradient, laid out as {@code g} describes the input, of {@code cols}' dtype; images
     *           {@code [n0, n1)} are overwritten
     * @throws IllegalArgumentException when the dtypes differ or {@code cols} is too small
     */
    public static void col2im(Tensor cols, Geometry g, int n0, int n1, Tensor dx) {
        int ohw = g.outputPositions();
        int c = g.cin();
        int rowLen = g.rowLength();
        checkWorkspace("col2im", dx, cols, (long) (n1 - n0) * ohw * rowLen);
        boolean f32 = dx.dtype() == DType.F32;
        FloatBuffer xf = f32 ? dx.floats() : null;
        FloatBuffer cf = f32 ? cols.floats() : null;
        DoubleBuffer xd = f32 ? null : dx.doubles();
        DoubleBuffer cd = f32 ? null : cols.doubles();
        int h = g.h();
        int w = g.w();
        int kh = g.kh();
        int kw = g.kw();
        int inRowLen = w * c;
        // hTap[ih·KH + kh] = the output row oh whose window reads input row ih through filter row kh, or -1
        // (likewise wTap for columns): the strided index arithmetic is done once per call, not per element
        int[] hTap = taps(h, kh, g.sh(), g.dh(), g.ph(), g.oh());
        int[] wTap = taps(w, kw, g.sw(), g.dw(), g.pw(), g.ow());
        long work = (long) inRowLen * kh * kw;
        int ow = g.ow();
        int blockLen = ow * rowLen; // the cols rows of one output row oh
        // each dx row is summed in a heap array from heap copies of the cols rows it reads (bulk copies), so
        // the inner loops are plain array loops the JIT vectorises instead of checked direct-buffer accesses
        Parallel.range((n1 - n0) * h, (int) Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, work)), (lo, hi) -> {
            float[] accF = f32 ? new float[inRowLen] : null;
            float[] colsF = f32 ? new float[blockLen] : null;
            double[] accD = f32 ? null : new double[inRowLen];
            double[] colsD = f32 ? null : new double[blockLen];
            for (int q = lo; q < hi; q++) {
                int local = q / h;
                int ih = q % h;
                int dxRow = ((n0 + local) * h + ih) * inRowLen;
                if (f32) {
                    java.util.Arrays.fill(accF, 0f);
                } else {
                    java.util.Arrays.fill(accD, 0.0);
                }
                for (int i = 0; i < kh; i++) {
                    int oh = hTap[ih * kh + i];
                    if (oh < 0) {
                        continue;
                    }
                    int colBlock = (local * g.oh() + oh) * ow * rowLen;
                    if (f32) {
                        cf.get(colBlock, colsF, 0, blockLen);
                    } else {
                        cd.get(colBlock, colsD, 0, blockLen);
                    }
                    for (int iw = 0; iw < w; iw++) {
                        int dst = iw * c;
                        for (int j = 0; j < kw; j++) {
                            int ocol = wTap[iw * kw + j];
                            if (ocol < 0) {
                                continue;
                            }
                            int src = ocol * rowLen + (i * kw + j) * c;
                            if (f32) {
                                for (int e = 0; e < c; e++) {
                                    accF[dst + e] += colsF[src + e];
                                }
                            } else {
                                for (int e = 0; e < c; e++) {
                                    accD[dst + e] += colsD[src + e];
                                }
                            }
                        }
                    }
                }
                if (f32) {
                    xf.put(dxRow, accF, 0, inRowLen);
                } else {
                    xd.put(dxRow, accD, 0, inRowLen);
                }
            }
        });
    }

    /**
     * For each input position i in [0, in) and filter tap t in [0, k): the output position o with
     * o·stride - pad + t·dilation = i, or -1 when there is none in [0, out).
     */
    private static int[] taps(int in, int k, int stride, int dilation, int pad, int out) {
        int[] r = new int[in * k];
        for (int i = 0; i < in; i++) {
            for (int t = 0; t < k; t++) {
                int num = i + pad - t * dilation;
                r[i * k + t] = num >= 0 && num % stride == 0 && num / stride < out ? num / stride : -1;
            }
        }
        return r;
    }

    private static void checkWorkspace(String op, Tensor data, Tensor cols, long needed) {
        if (data.dtype() != cols.dtype()) {
            throw new IllegalArgumentException(op + ": dtype " + data.dtype().shortName() + " vs "
                    + cols.dtype().shortName());
        }
        if (cols.size() < needed) {
            throw new IllegalArgumentException(op + ": the column buffer " + Shapes.str(cols.shape()) + " holds "
                    + cols.size() + " elements, " + needed + " are needed");
        }
    }

    /** Copies {@code n} elements from {@code src} of the source buffer of the dtype to {@code dst} of its target. */
    private static void copyRun(boolean f32, FloatBuffer toF, DoubleBuffer toD, int dst, FloatBuffer fromF,
                                DoubleBuffer fromD, int src, int n) {
        if (f32) {
            toF.put(dst, fromF, src, n);
        } else {
            toD.put(dst, fromD, src, n);
        }
    }

    private static void zero(boolean f32, FloatBuffer f, DoubleBuffer d, int off, int n) {
        if (f32) {
            for (int i = 0; i < n; i++) {
                f.put(off + i, 0f);
            }
        } else {
            for (int i = 0; i < n; i++) {
                d.put(off + i, 0.0);
            }
        }
    }
}
