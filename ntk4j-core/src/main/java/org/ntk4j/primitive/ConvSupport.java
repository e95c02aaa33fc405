package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;

/**
 * What {@link Conv}, {@link ConvInputGrad} and {@link ConvFilterGrad} share: the shape checks and the six ways
 * of applying one of them to a <em>stacked</em> operand (a leading axis of K vectors) as a single convolution.
 * A stacked batch operand merges K into the batch axis; a stacked filter, or a stacked operand of the filter
 * gradient (which sums over the batch), folds K into a channel axis. The folding is done with reshape and
 * transpose equations, so each derivative rule costs a fixed number of GEMM-backed convolutions whatever K is.
 *
 * <p>Axis conventions, with d the number of spatial axes S and a window of rank d: data {@code [N] + S + [C]},
 * filter {@code KS + [Cin, Cout]}; stacked values put K first.
 */
final class ConvSupport {
    private ConvSupport() {
    }

    // ---- shape rules ----

    /** "[N, H, W, Cin]"-style pattern of a data operand whose last axis is called {@code channels}. */
    static String dataPattern(int d, String spatialPrefix, String channels) {
        return d == 1 ? "[N, " + spatialPrefix + "W, " + channels + "]"
                : "[N, " + spatialPrefix + "H, " + spatialPrefix + "W, " + channels + "]";
    }

    /** "[KH, KW, Cin, Cout]" (HWIO) or "[KW, Cin, Cout]". */
    static String filterPattern(int d) {
        return d == 1 ? "[KW, Cin, Cout]" : "[KH, KW, Cin, Cout]";
    }

    /** Fails unless there are two operands of one dtype. */
    static void checkOperands(String op, TensorType[] in, String first, String second) {
        if (in.length != 2) {
            throw new IllegalArgumentException(op + ": expects 2 operands (" + first + ", " + second + "), got "
                    + in.length);
        }
        if (in[0].dtype() != in[1].dtype()) {
            throw new IllegalArgumentException(op + ": operand dtypes differ: " + first + " " + in[0] + " and "
                    + second + " " + in[1]);
        }
    }

    /** Fails unless {@code t} has rank d + 2. */
    static void checkRank(String op, Convolution.Window win, TensorType t, String role, String pattern,
                          TensorType other, String otherRole) {
        int d = win.rank();
        if (t.rank() != d + 2) {
            throw new IllegalArgumentException(op + ": a " + d + "-D convolution (window_strides "
                    + Convolution.tuple(win.strides()) + ") expects " + role + " of rank " + (d + 2) + " "
                    + pattern + ", got " + role + " " + t + " (" + otherRole + " " + other + ")");
        }
    }

    /** Fails unless every filter spatial size is at least 1. */
    static void checkFilterSpatial(String op, int[] kernelSpatial, String context) {
        for (int k : kernelSpatial) {
            if (k < 1) {
                throw new IllegalArgumentException(op + ": filter spatial sizes " + Shapes.str(kernelSpatial)
                        + " must be at least 1; " + context);
            }
        }
    }

    /**
     * Output spatial sizes of the window over {@code inSpatial} with filter {@code kernelSpatial}; fails when
     * the dilated filter does not fit in the padded input along some axis.
     */
    static int[] outputSpatial(String op, Convolution.Window win, int[] inSpatial, int[] kernelSpatial,
                               String context) {
        int[] os = new int[inSpatial.length];
        for (int i = 0; i < os.length; i++) {
            os[i] = win.outputSize(i, inSpatial[i], kernelSpatial[i]);
            if (os[i] < 1) {
                throw new IllegalArgumentException(op + ": the dilated filter spans " + win.extent(i, kernelSpatial[i])
                        + " positions along spatial axis " + i + " but the padded input has only "
                        + win.paddedSize(i, inSpatial[i]) + " (input spatial shape " + Shapes.str(inSpatial)
                        + ", filter spatial shape " + Shapes.str(kernelSpatial) + ", " + win.params() + "); "
                        + context);
            }
        }
        return os;
    }

    /** Spatial sizes of a data shape {@code [N] + S + [C]}. */
    static int[] dataSpatial(int[] shape) {
        return Arrays.copyOfRange(shape, 1, shape.length - 1);
    }

    /** Spatial sizes of a filter shape {@code KS + [Cin, Cout]}. */
    static int[] filterSpatial(int[] shape) {
        return Arrays.copyOfRange(shape, 0, shape.length - 2);
    }

    /** {@code [n] + spatial + [c]}. */
    static int[] dataShape(int n, int[] spatial, int c) {
        return Shapes.concat(new int[] {n}, spatial, new int[] {c});
    }

    // ---- stacked application ----

    /** conv(xs[k], w) for each k: K merged into the batch axis. */
    static Var convStackedInput(Convolution.Window win, Var xs, Var w) {
        Var y = apply(new Conv(win), mergeIntoBatch(xs), w);
        return splitFromBatch(y, xs.dim(0));
    }

    /** conv(x, ws[k]) for each k: K folded into the output-channel axis of the filter. */
    static Var convStackedFilter(Convolution.Window win, Var x, Var ws) {
        int d = win.rank();
        Var folded = foldIntoChannel(ws, Shapes.concat(Shapes.range(1, d + 2), new int[] {0, d + 2}), d + 2);
        return unfoldChannel(apply(new Conv(win), x, folded), ws.dim(0));
    }

    /** input_grad(dys[k], w) for each k: K merged into the batch axis. */
    static Var inputGradStackedCotangent(Convolution.Window win, int[] inSpatial, Var dys, Var w) {
        Var dx = apply(new ConvInputGrad(win, inSpatial), mergeIntoBatch(dys), w);
        return splitFromBatch(dx, dys.dim(0));
    }

    /** input_grad(dy, ws[k]) for each k: K folded into the input-channel axis of the filter. */
    static Var inputGradStackedFilter(Convolution.Window win, int[] inSpatial, Var dy, Var ws) {
        int d = win.rank();
        Var folded = foldIntoChannel(ws, Shapes.concat(Shapes.range(1, d + 1), new int[] {0, d + 1, d + 2}), d + 1);
        return unfoldChannel(apply(new ConvInputGrad(win, inSpatial), dy, folded), ws.dim(0));
    }

    /** filter_grad(xs[k], dy) for each k: K folded into the input-channel axis of x. */
    static Var filterGradStackedInput(Convolution.Window win, int[] kernelSpatial, Var xs, Var dy) {
        int d = win.rank();
        Var folded = foldIntoChannel(xs, Shapes.concat(Shapes.range(1, d + 2), new int[] {0, d + 2}), d + 2);
        Var dw = apply(new ConvFilterGrad(win, kernelSpatial), folded, dy); // KS + [K·Cin, Cout]
        int k = xs.dim(0);
        int[] s = dw.shape();
        return reshapeThenPermute(dw, Shapes.concat(filterSpatial(s), new int[] {k, s[d] / k, s[d + 1]}),
                Shapes.concat(new int[] {d}, Shapes.range(0, d), new int[] {d + 1, d + 2}));
    }

    /** filter_grad(x, dys[k]) for each k: K folded into the output-channel axis of dy. */
    static Var filterGradStackedCotangent(Convolution.Window win, int[] kernelSpatial, Var x, Var dys) {
        int d = win.rank();
        Var folded = foldIntoChannel(dys, Shapes.concat(Shapes.range(1, d + 2), new int[] {0, d + 2}), d + 2);
        Var dw = apply(new ConvFilterGrad(win, kernelSpatial), x, folded); // KS + [Cin, K·Cout]
        return unfoldChannel(dw, dys.dim(0));
    }

    /** {@code [K, N, ...]} to {@code [K·N, ...]}. */
    private static Var mergeIntoBatch(Var stacked) {
        int[] s = stacked.shape();
        return stacked.reshape(Shapes.concat(new int[] {s[0] * s[1]}, Arrays.copyOfRange(s, 2, s.length)));
    }

    /** {@code [K·N, ...]} to {@code [K, N, ...]}. */
    private static Var splitFromBatch(Var merged, int k) {
        int[] s = merged.shape();
        return merged.reshape(Shapes.concat(new int[] {k, s[0] / k}, Arrays.copyOfRange(s, 1, s.length)));
    }

    /**
     * Moves the stacked axis 0 of {@code stacked} just before a channel axis and merges the two into one axis
     * of size K·C (K major): {@code perm} must put K at position {@code channelAxis - 1} and the channel at
     * {@code channelAxis} of the permuted value.
     */
    private static Var foldIntoChannel(Var stacked, int[] perm, int channelAxis) {
        int[] s = Shapes.permute(stacked.shape(), perm);
        int[] r = new int[s.length - 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == channelAxis) {
                r[j - 1] *= s[i];
            } else {
                r[j++] = s[i];
            }
        }
        Var moved = keepsOrder(stacked.shape(), perm) ? stacked : stacked.transpose(perm);
        return moved.reshape(r);
    }

    /** {@code [A..., K·C]} to {@code [K, A..., C]}. */
    private static Var unfoldChannel(Var v, int k) {
        int[] s = v.shape();
        int last = s.length - 1;
        int[] split = Shapes.concat(Arrays.copyOfRange(s, 0, last), new int[] {k, s[last] / k});
        return reshapeThenPermute(v, split,
                Shapes.concat(new int[] {last}, Shapes.range(0, last), new int[] {last + 1}));
    }

    /**
     * {@code v} reshaped to {@code shape}, then transposed by {@code perm}; a single reshape when the
     * permutation only moves axes of size 1 (the K = 1 case), since then the element order does not change.
     */
    private static Var reshapeThenPermute(Var v, int[] shape, int[] perm) {
        if (keepsOrder(shape, perm)) {
            return v.reshape(Shapes.permute(shape, perm));
        }
        return v.reshape(shape).transpose(perm);
    }

    private static Var apply(Primitive p, Var a, Var b) {
        return a.builder().apply(p, a, b);
    }

    /** True when permuting {@code shape} by {@code perm} keeps the row-major order of the elements. */
    private static boolean keepsOrder(int[] shape, int[] perm) {
        return org.ntk4j.cpu.DotGeneralKernel.isIdentity(shape, perm);
    }
}
