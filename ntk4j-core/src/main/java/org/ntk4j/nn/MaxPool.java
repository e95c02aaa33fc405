package org.ntk4j.nn;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Max pooling over a window of the spatial axes (NHWC or NWC), per channel, with −∞ padding: PyTorch's
 * {@code MaxPool2d(kernel_size, stride, padding)} is {@code new MaxPool(k, s, {{p, p}, {p, p}})}. The derivative
 * of each window goes to its first maximal element in row-major order, as PyTorch's (see
 * {@link org.ntk4j.primitive.ReduceWindowMax}).
 */
public final class MaxPool extends SingleLayer {
    private final int[] window;
    private final int[] strides;
    private final int[][] padding;
    private final String mode;

    /**
     * A max pool with explicit padding.
     *
     * @param window the window size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code window}, copied
     * @param padding per spatial axis {@code {lo, hi}}, each 0 or more and less than the window, copied
     * @throws IllegalArgumentException if the arrays do not have 1 or 2 equal-length entries
     */
    public MaxPool(int[] window, int[] strides, int[][] padding) {
        this(window, strides, padding, "EXPLICIT");
    }

    /**
     * A max pool with SAME (the odd extra padding after, as JAX) or VALID padding.
     *
     * @param window the window size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code window}, copied
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @throws IllegalArgumentException if the arrays do not have 1 or 2 equal-length entries or the padding is
     *     unknown
     */
    public MaxPool(int[] window, int[] strides, String padding) {
        this(window, strides, null, padding.toUpperCase(java.util.Locale.ROOT));
        if (!mode.equals("SAME") && !mode.equals("VALID")) {
            throw new IllegalArgumentException("max_pool: padding must be SAME or VALID, got '" + padding + "'");
        }
    }

    private MaxPool(int[] window, int[] strides, int[][] padding, String mode) {
        if (window.length < 1 || window.length > 2 || strides.length != window.length
                || (padding != null && padding.length != window.length)) {
            throw new IllegalArgumentException("max_pool: window " + Arrays.toString(window) + ", strides "
                    + Arrays.toString(strides) + (padding == null ? "" : " and padding "
                    + Arrays.deepToString(padding)) + " must all have 1 or 2 entries");
        }
        if (padding != null) {
            for (int[] p : padding) {
                if (p.length != 2) {
                    throw new IllegalArgumentException("max_pool: padding must be {lo, hi} per spatial axis, got "
                            + Arrays.deepToString(padding));
                }
            }
        }
        this.window = window.clone();
        this.strides = strides.clone();
        this.padding = padding == null ? null : deepCopy(padding);
        this.mode = mode;
    }

    static int[][] deepCopy(int[][] a) {
        int[][] r = new int[a.length][];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i].clone();
        }
        return r;
    }

    @Override
    public String kind() {
        return "max_pool";
    }

    private int[][] pads(int[] in) {
        if (padding != null) {
            return deepCopy(padding);
        }
        int[] dil = new int[window.length];
        Arrays.fill(dil, 1);
        return Convolution.resolvePadding(mode, Arrays.copyOfRange(in, 0, window.length), window, strides, dil);
    }

    /** The reduce_window parameters over a per-example shape (window 1 on the channel axis). */
    private int[][] full(int[] in) {
        int r = in.length;
        int[][] p = pads(in);
        int[][] a = new int[4][r];
        Arrays.fill(a[0], 1);
        Arrays.fill(a[1], 1);
        for (int i = 0; i < window.length; i++) {
            a[0][i] = window[i];
            a[1][i] = strides[i];
            a[2][i] = p[i][0];
            a[3][i] = p[i][1];
        }
        return a;
    }

    @Override
    int[] outputShape(int[] in) {
        requireRank(in, window.length + 1, window.length == 2 ? "[H, W, C]" : "[W, C]");
        int[][] a = full(in);
        try {
            return new org.ntk4j.primitive.ReduceWindowMax(a[0], a[1], a[2], a[3])
                    .outputType(new org.ntk4j.graph.TensorType(org.ntk4j.tensor.DType.F32, in)).shape();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("max_pool: window " + Arrays.toString(window) + ", strides "
                    + Arrays.toString(strides) + ", padding " + Arrays.deepToString(pads(in))
                    + " do not fit the input " + Shapes.str(in) + ": " + e.getMessage(), e);
        }
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int[][] a = full(Shapes.dropFirst(x.shape()));
        return x.reduceWindowMax(Shapes.prepend(1, a[0]), Shapes.prepend(1, a[1]), Shapes.prepend(0, a[2]),
                Shapes.prepend(0, a[3]));
    }
}
