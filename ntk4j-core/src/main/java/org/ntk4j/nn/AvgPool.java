package org.ntk4j.nn;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Average pooling over a window of the spatial axes (NHWC or NWC), per channel. SAME padding pads with zeros
 * which count in the average (every window divides by its full size, as neural-tangents' stax does by default).
 * Explicit (lo, hi) padding per spatial axis takes a {@code countIncludePad} flag with PyTorch's meaning
 * ({@code AvgPool2d}'s {@code count_include_pad}, ONNX AveragePool's): true divides every window by its full size,
 * false by the number of input elements it covers. Computed as the sum of window-offset strided slices of the (padded)
 * input, divided by the window size (or multiplied by a constant of the reciprocal counts).
 */
public final class AvgPool extends SingleLayer {
    private final int[] window;
    private final int[] strides;
    private final String padding;
    private final int[][] explicit;
    private final boolean countIncludePad;

    /**
     * An average pool.
     *
     * @param window the window size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code window}, copied
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @throws IllegalArgumentException if the arrays do not have 1 or 2 equal-length entries or the padding is unknown
     */
    public AvgPool(int[] window, int[] strides, String padding) {
        if (window.length < 1 || window.length > 2 || strides.length != window.length) {
            throw new IllegalArgumentException("avg_pool: window " + Arrays.toString(window) + " and strides "
                    + Arrays.toString(strides) + " must both have 1 or 2 entries");
        }
        String p = padding.toUpperCase(java.util.Locale.ROOT);
        if (!p.equals("SAME") && !p.equals("VALID")) {
            throw new IllegalArgumentException("avg_pool: padding must be SAME or VALID, got '" + padding + "'");
        }
        this.window = window.clone();
        this.strides = strides.clone();
        this.padding = p;
        this.explicit = null;
        this.countIncludePad = true;
    }

    /**
     * An average pool with explicit zero padding.
     *
     * @param window the window size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code window}, copied
     * @param padding per spatial axis {@code {lo, hi}}, each 0 or more and less than the window, copied
     * @param countIncludePad true: every window divides by its full size; false: by the input elements it covers
     * @throws IllegalArgumentException if the arrays do not have 1 or 2 equal-length entries or a padding is
     *     negative, not less than the window or not a {lo, hi} pair
     */
    public AvgPool(int[] window, int[] strides, int[][] padding, boolean countIncludePad) {
        if (window.length < 1 || window.length > 2 || strides.length != window.length
                || padding.length != window.length) {
            throw new IllegalArgumentException("avg_pool: window " + Arrays.toString(window) + ", strides "
                    + Arrays.toString(strides) + " and padding " + Arrays.deepToString(padding)
                    + " must all have 1 or 2 entries");
        }
        this.explicit = new int[window.length][];
        for (int i = 0; i < window.length; i++) {
            int[] q = padding[i];
            if (q.length != 2 || q[0] < 0 || q[1] < 0 || q[0] >= window[i] || q[1] >= window[i]) {
                throw new IllegalArgumentException("avg_pool: padding " + Arrays.deepToString(padding) + " must be "
                        + "{lo, hi} pairs of sizes >= 0 and less than the window " + Arrays.toString(window));
            }
            explicit[i] = q.clone();
        }
        this.window = window.clone();
        this.strides = strides.clone();
        this.padding = "EXPLICIT";
        this.countIncludePad = countIncludePad;
    }

    @Override
    public String kind() {
        return "avg_pool";
    }

    /**
     * The window size per spatial axis.
     *
     * @return a copy of the window sizes
     */
    public int[] window() {
        return window.clone();
    }

    /**
     * The step per spatial axis.
     *
     * @return a copy of the strides
     */
    public int[] strides() {
        return strides.clone();
    }

    /**
     * The zero padding {lo, hi} per spatial axis for per-example inputs of shape {@code in}: SAME and VALID resolved
     * as the layer resolves them, explicit padding as given.
     *
     * @param in the per-example input shape ([H, W, C] or [W, C])
     * @return a new array of {lo, hi} per spatial axis
     * @throws IllegalArgumentException if {@code in} has fewer axes than the window has spatial axes
     */
    public int[][] padding(int[] in) {
        if (in.length < window.length) {
            throw new IllegalArgumentException("avg_pool: expects per-example inputs with " + window.length
                    + " spatial axes and channels, got shape " + Shapes.str(in));
        }
        return pads(in);
    }

    /**
     * Whether every window divides by its full size (true; SAME and VALID always do) or by the input elements it
     * covers (false).
     *
     * @return PyTorch's count_include_pad
     */
    public boolean countIncludePad() {
        return countIncludePad;
    }

    private int[][] pads(int[] in) {
        if (explicit != null) {
            return MaxPool.deepCopy(explicit);
        }
        int[] dil = new int[window.length];
        Arrays.fill(dil, 1);
        return Convolution.resolvePadding(padding, Arrays.copyOfRange(in, 0, window.length), window, strides, dil);
    }

    @Override
    int[] outputShape(int[] in) {
        requireRank(in, window.length + 1, window.length == 2 ? "[H, W, C]" : "[W, C]");
        int[][] p = pads(in);
        int[] r = in.clone();
        for (int i = 0; i < window.length; i++) {
            int span = in[i] + p[i][0] + p[i][1] - window[i];
            if (span < 0) {
                throw new IllegalArgumentException("avg_pool: window " + Arrays.toString(window)
                        + " is larger than the padded input " + Shapes.str(in));
            }
            r[i] = span / strides[i] + 1;
        }
        return r;
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int[] in = Shapes.dropFirst(x.shape());
        int[] out = outputShape(in);
        int[][] p = pads(in);
        int rank = x.rank();
        int[] lo = new int[rank];
        int[] hi = new int[rank];
        for (int i = 0; i < window.length; i++) {
            lo[i + 1] = p[i][0];
            hi[i + 1] = p[i][1];
        }
        Var padded = x.pad(lo, hi);
        int[] stride = new int[rank];
        Arrays.fill(stride, 1);
        for (int i = 0; i < window.length; i++) {
            stride[i + 1] = strides[i];
        }
        Var sum = null;
        int count = 1;
        for (int k : window) {
            count *= k;
        }
        for (int off = 0; off < count; off++) {
            int[] start = new int[rank];
            int[] limit = padded.shape();
            int rem = off;
            for (int i = window.length - 1; i >= 0; i--) {
                start[i + 1] = rem % window[i];
                rem /= window[i];
                limit[i + 1] = start[i + 1] + (out[i] - 1) * strides[i] + 1;
            }
            Var s = padded.slice(start, limit, stride);
            sum = sum == null ? s : sum.add(s);
        }
        if (countIncludePad) {
            return sum.mul(1.0 / count);
        }
        // 1 / (input elements in each window), per output position, broadcast over the examples and channels
        int[] os = Arrays.copyOf(out, window.length);
        int cells = org.ntk4j.tensor.Shapes.size(os);
        double[] inv = new double[cells];
        for (int q = 0; q < cells; q++) {
            int rem = q;
            int covered = 1;
            for (int i = window.length - 1; i >= 0; i--) {
                int o = rem % os[i];
                rem /= os[i];
                int first = o * strides[i] - p[i][0];
                covered *= Math.min(first + window[i], in[i]) - Math.max(first, 0);
            }
            inv[q] = 1.0 / covered;
        }
        int[] shape = Arrays.copyOf(os, window.length + 1);
        shape[window.length] = 1;
        Var scale = x.builder().constant(org.ntk4j.tensor.Tensor.of(x.dtype(), inv, shape));
        return sum.mul(scale);
    }
}
