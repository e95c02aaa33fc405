package org.ntk4j.nn;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * Convolution layer, NHWC (1-D: NWC), filter HWIO. Parameters {@code w} [KH, KW, Cin, Cout] (1-D: [KW, Cin,
 * Cout]) and {@code b} [Cout] unless σ_b = 0. With fan_in = KH·KW·Cin:
 * NTK parameterisation y = (σ_w/√fan_in)·conv(x, w) + σ_b·b with w, b ~ N(0, 1);
 * standard y = conv(x, w) + b with w ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²).
 * Padding SAME or VALID follows JAX/TensorFlow (SAME puts the odd extra pixel after); explicit (lo, hi) padding
 * per spatial axis is PyTorch's {@code Conv2d(padding=p)} with lo = hi = p.
 */
public final class Conv extends SingleLayer {
    private final int out;
    private final int[] filter;
    private final int[] strides;
    private final String padding;
    /** Explicit {lo, hi} per spatial axis, or null for SAME/VALID. */
    private final int[][] explicit;
    private final double wStd;
    private final double bStd;
    private final Parameterization parameterization;
    private final int groups;

    /**
     * A convolution layer.
     *
     * @param out the number of output channels, at least 1
     * @param filter the filter size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code filter}, copied
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param parameterization NTK or standard (see the class comment)
     * @throws IllegalArgumentException if {@code out} &lt; 1, the arrays do not have 1 or 2 equal-length entries,
     *     or the padding is unknown
     */
    public Conv(int out, int[] filter, int[] strides, String padding, double wStd, double bStd,
                Parameterization parameterization) {
        if (out < 1) {
            throw new IllegalArgumentException("conv: the number of output channels must be >= 1, got " + out);
        }
        if (filter.length < 1 || filter.length > 2 || strides.length != filter.length) {
            throw new IllegalArgumentException("conv: filter " + Arrays.toString(filter) + " and strides "
                    + Arrays.toString(strides) + " must both have 1 or 2 entries");
        }
        String p = padding.toUpperCase(java.util.Locale.ROOT);
        if (!p.equals("SAME") && !p.equals("VALID")) {
            throw new IllegalArgumentException("conv: padding must be SAME or VALID, got '" + padding + "'");
        }
        this.out = out;
        this.filter = filter.clone();
        this.strides = strides.clone();
        this.padding = p;
        this.explicit = null;
        this.wStd = wStd;
        this.bStd = bStd;
        this.parameterization = parameterization;
        this.groups = 1;
    }

    /**
     * A convolution layer with explicit zero padding.
     *
     * @param out the number of output channels, at least 1
     * @param filter the filter size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code filter}, copied
     * @param padding per spatial axis {@code {lo, hi}}, each 0 or more, copied
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param parameterization NTK or standard (see the class comment)
     * @throws IllegalArgumentException if {@code out} &lt; 1, the arrays do not have 1 or 2 equal-length entries,
     *     or a padding is negative or not a {lo, hi} pair
     */
    public Conv(int out, int[] filter, int[] strides, int[][] padding, double wStd, double bStd,
                Parameterization parameterization) {
        this(out, filter, strides, padding, 1, wStd, bStd, parameterization);
    }

    /**
     * A grouped convolution layer with explicit zero padding: G groups of out/G output channels, each seeing
     * Cin/G input channels (PyTorch's {@code groups}; depthwise when G = Cin); filter {@code w}
     * [KH, KW, Cin/G, out] and fan_in = KH·KW·Cin/G.
     *
     * @param out the number of output channels, at least 1, a multiple of {@code groups}
     * @param filter the filter size per spatial axis (1 or 2 entries), copied
     * @param strides the step per spatial axis, as many entries as {@code filter}, copied
     * @param padding per spatial axis {@code {lo, hi}}, each 0 or more, copied
     * @param groups G, at least 1, dividing {@code out} and the input channels
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param parameterization NTK or standard (see the class comment)
     * @throws IllegalArgumentException if {@code out} &lt; 1, {@code groups} &lt; 1 or does not divide {@code out},
     *     the arrays do not have 1 or 2 equal-length entries, or a padding is negative or not a {lo, hi} pair
     */
    public Conv(int out, int[] filter, int[] strides, int[][] padding, int groups, double wStd, double bStd,
                Parameterization parameterization) {
        this(out, filter, strides, "VALID", wStd, bStd, parameterization, checkPadding(padding, filter.length),
                groups);
    }

    private Conv(int out, int[] filter, int[] strides, String padding, double wStd, double bStd,
                 Parameterization parameterization, int[][] explicit, int groups) {
        if (groups < 1 || out % groups != 0) {
            throw new IllegalArgumentException("conv: groups must be >= 1 and divide the output channels " + out
                    + ", got " + groups);
        }
        if (out < 1) {
            throw new IllegalArgumentException("conv: the number of output channels must be >= 1, got " + out);
        }
        if (filter.length < 1 || filter.length > 2 || strides.length != filter.length) {
            throw new IllegalArgumentException("conv: filter " + Arrays.toString(filter) + " and strides "
                    + Arrays.toString(strides) + " must both have 1 or 2 entries");
        }
        this.out = out;
        this.filter = filter.clone();
        this.strides = strides.clone();
        this.padding = "EXPLICIT";
        this.explicit = explicit;
        this.wStd = wStd;
        this.bStd = bStd;
        this.parameterization = parameterization;
        this.groups = groups;
    }

    private static int[][] checkPadding(int[][] padding, int axes) {
        if (padding.length != axes) {
            throw new IllegalArgumentException("conv: padding " + Arrays.deepToString(padding)
                    + " must have one {lo, hi} pair per spatial axis (" + axes + ")");
        }
        int[][] r = new int[axes][];
        for (int i = 0; i < axes; i++) {
            if (padding[i].length != 2 || padding[i][0] < 0 || padding[i][1] < 0) {
                throw new IllegalArgumentException("conv: padding " + Arrays.deepToString(padding)
                        + " must be {lo, hi} pairs of sizes >= 0");
            }
            r[i] = padding[i].clone();
        }
        return r;
    }

    /**
     * The number of output channels.
     *
     * @return the output channels
     */
    public int out() {
        return out;
    }

    /**
     * The filter size per spatial axis.
     *
     * @return a copy of the filter sizes
     */
    public int[] filter() {
        return filter.clone();
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
     * @throws IllegalArgumentException if {@code in} has fewer axes than the filter has spatial axes
     */
    public int[][] padding(int[] in) {
        if (in.length < filter.length) {
            throw new IllegalArgumentException("conv: expects per-example inputs with " + filter.length
                    + " spatial axes and channels, got shape " + Shapes.str(in));
        }
        return pads(in);
    }

    /**
     * The number of groups G (1 for an ordinary convolution).
     *
     * @return the groups
     */
    public int groups() {
        return groups;
    }

    /**
     * σ_w, the weight scale.
     *
     * @return the weight standard deviation as given to the constructor
     */
    public double wStd() {
        return wStd;
    }

    /**
     * σ_b, the bias scale (0: no bias).
     *
     * @return the bias standard deviation as given to the constructor
     */
    public double bStd() {
        return bStd;
    }

    /**
     * The parameterisation: NTK, or standard for any other value (as the layer reads it).
     *
     * @return the parameterisation as given to the constructor
     */
    public Parameterization parameterization() {
        return parameterization;
    }

    @Override
    public String kind() {
        return "conv";
    }

    private int[][] pads(int[] in) {
        if (explicit != null) {
            return checkPadding(explicit, filter.length);
        }
        int[] spatial = Arrays.copyOfRange(in, 0, filter.length);
        int[] dil = new int[filter.length];
        Arrays.fill(dil, 1);
        return Convolution.resolvePadding(padding, spatial, filter, strides, dil);
    }

    @Override
    int[] outputShape(int[] in) {
        requireRank(in, filter.length + 1, filter.length == 2 ? "[H, W, C]" : "[W, C]");
        int[][] p = pads(in);
        int[] r = new int[in.length];
        for (int i = 0; i < filter.length; i++) {
            int span = in[i] + p[i][0] + p[i][1] - filter[i];
            if (span < 0) {
                throw new IllegalArgumentException("conv: filter " + Arrays.toString(filter)
                        + " is larger than the padded input " + Shapes.str(in));
            }
            r[i] = span / strides[i] + 1;
        }
        if (in[in.length - 1] % groups != 0) {
            throw new IllegalArgumentException("conv: groups " + groups + " must divide the input channels, got "
                    + "input " + Shapes.str(in));
        }
        r[in.length - 1] = out;
        return r;
    }

    private int fanIn(int[] in) {
        int f = in[in.length - 1] / groups;
        for (int k : filter) {
            f *= k;
        }
        return f;
    }

    @Override
    void declare(ParamScope scope, int[] in) {
        boolean ntk = parameterization == Parameterization.NTK;
        int[] w = Shapes.concat(filter, new int[] {in[in.length - 1] / groups, out});
        scope.declare("w", w, ntk ? 1.0 : wStd / Math.sqrt(fanIn(in)), 0);
        if (bStd != 0) {
            scope.declare("b", new int[] {out}, ntk ? 1.0 : bStd, 0);
        }
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        int[] in = Shapes.dropFirst(x.shape());
        int[] dil = new int[filter.length];
        Arrays.fill(dil, 1);
        Var y = x.conv(scope.get("w"), strides, pads(in), dil, groups);
        boolean ntk = parameterization == Parameterization.NTK;
        if (ntk) {
            y = y.mul(wStd / Math.sqrt(fanIn(in)));
        }
        if (bStd != 0) {
            Var b = scope.get("b");
            y = y.add(ntk ? b.mul(bStd) : b);
        }
        return y;
    }
}
