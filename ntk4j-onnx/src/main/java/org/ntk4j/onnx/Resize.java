package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;

import java.util.Set;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Const;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.tensor.Tensor;

/**
 * ONNX {@code Resize} (opsets 11 to 18, those the import reads, whose inputs are X, roi, scales, sizes; the attributes
 * of 18 are checked) in the modes PyTorch's {@code F.interpolate}/{@code nn.Upsample} and Keras's {@code UpSampling2D}
 * write, {@code nearest}, {@code linear} and {@code cubic}, on any axes (NCHW or NHWC), as compositions of existing
 * primitives. Each
 * resized axis is a fixed linear map of that axis: an interpolation matrix M [out, in], a graph constant applied by one
 * dot_general (whose fused transpose puts the axis back in place), so the result is exact, differentiable and cheap for
 * every kernel method. Nearest resizing by an integer factor f that repeats each element f times is a reshape,
 * broadcast and reshape instead.
 *
 * <p>The output coordinate o maps to the input coordinate (ONNX's coordinate_transformation_mode, with scale s = out /
 * in unless the scales are given): asymmetric o / s; half_pixel (o + 1/2) / s - 1/2; pytorch_half_pixel the same, or 0
 * for out = 1; align_corners o (in - 1) / (out - 1), or 0 for out = 1. Nearest rounds it by nearest_mode; linear clamps
 * it to [0, in - 1] and weighs its two neighbours i0 = floor(x) and min(i0 + 1, in - 1) by 1 - (x - i0) and x - i0, as
 * PyTorch and ONNX Runtime do. Cubic (PyTorch's bicubic) weighs the four inputs floor(x) − 1 .. floor(x) + 2 around
 * the coordinate, not clamped, by Keys' kernel with cubic_coeff_a ({@link #cubic}). Other modes (tf_crop_and_resize,
 * antialias, an axes attribute, aspect-ratio policies) are refused, as are scales or sizes computed from the input.
 */
final class Resize {
    private static final Set<String> COORDINATES = Set.of("half_pixel", "pytorch_half_pixel", "align_corners",
            "asymmetric");
    private static final Set<String> ROUNDINGS = Set.of("round_prefer_floor", "round_prefer_ceil", "floor", "ceil");

    private Resize() {
    }

    static Value[] apply(Ctx c) {
        String mode = c.attrString("mode", "nearest");
        if (!mode.equals("nearest") && !mode.equals("linear") && !mode.equals("cubic")) {
            throw c.unsupported("mode='" + mode + "' (only 'nearest', 'linear' and 'cubic')");
        }
        // a float32 attribute: PyTorch's -0.75 and TensorFlow's -0.5 are exact
        double cubicA = c.attrFloat("cubic_coeff_a", -0.75f);
        boolean excludeOutside = c.attrInt("exclude_outside", 0) != 0;
        String coordinates = c.attrString("coordinate_transformation_mode", "half_pixel");
        if (!COORDINATES.contains(coordinates)) {
            throw c.unsupported("coordinate_transformation_mode='" + coordinates + "' (only half_pixel, "
                    + "pytorch_half_pixel, align_corners, asymmetric)");
        }
        String rounding = c.attrString("nearest_mode", "round_prefer_floor");
        if (mode.equals("nearest") && !ROUNDINGS.contains(rounding)) {
            throw c.error("nearest_mode '" + rounding + "' is not one of ONNX's " + ROUNDINGS);
        }
        if (c.attrInt("antialias", 0) != 0) {
            throw c.unsupported("antialias=1 (only 0)");
        }
        if (c.attr("axes") != null) {
            throw c.unsupported("the attribute axes (scales or sizes for every axis only)");
        }
        String policy = c.attrString("keep_aspect_ratio_policy", "stretch");
        if (!policy.equals("stretch")) {
            throw c.unsupported("keep_aspect_ratio_policy='" + policy + "' (only 'stretch')");
        }
        Traced x = c.traced(0);
        int r = x.rank();
        int[] in = x.shape();
        double[] scales = c.has(2) ? c.constant(2, "scales").values() : new double[0];
        double[] sizes = c.has(3) ? c.constant(3, "sizes").values() : new double[0];
        if ((scales.length == 0) == (sizes.length == 0)) {
            throw c.error("give either scales or sizes, got " + scales.length + " scales and " + sizes.length
                    + " sizes");
        }
        double[] given = scales.length > 0 ? scales : sizes;
        if (given.length != r) {
            throw c.error((scales.length > 0 ? "scales" : "sizes") + " " + java.util.Arrays.toString(given)
                    + " must have one entry per axis of the input " + Tracer.shapeText(x));
        }
        Var y = x.var();
        int batch = x.batch;
        for (int a = 0; a < r; a++) {
            double scale = scales.length > 0 ? scales[a] : sizes[a] / in[a];
            int out = scales.length > 0 ? (int) Math.floor(in[a] * scales[a]) : (int) sizes[a];
            if (!(scale > 0) || out < 1) {
                throw c.error("axis " + a + " of size " + in[a] + " resized by " + given[a] + " would have "
                        + "no elements (scales and sizes must be positive)");
            }
            double[] m = switch (mode) {
                case "nearest" -> nearest(in[a], out, scale, coordinates, rounding);
                case "linear" -> linear(in[a], out, scale, coordinates);
                default -> cubic(in[a], out, scale, coordinates, cubicA, excludeOutside);
            };
            if (isIdentity(m, in[a], out)) {
                continue;
            }
            batch = a == batch ? MIXED : batch;
            y = out % in[a] == 0 && isRepeat(m, in[a], out) ? repeat(y, a, out / in[a]) : applyAlong(y, a, m, out);
        }
        return new Value[] {c.out(y, batch)};
    }

    /** The input coordinate of output coordinate o. */
    private static double source(int o, int in, int out, double scale, String coordinates) {
        return switch (coordinates) {
            case "asymmetric" -> o / scale;
            case "align_corners" -> out == 1 ? 0 : o * (in - 1.0) / (out - 1.0);
            case "pytorch_half_pixel" -> out == 1 ? 0 : (o + 0.5) / scale - 0.5;
            default -> (o + 0.5) / scale - 0.5;
        };
    }

    /** The 0/1 matrix [out, in] of nearest resizing: row o picks the input nearest the source coordinate. */
    private static double[] nearest(int in, int out, double scale, String coordinates, String rounding) {
        double[] m = new double[out * in];
        for (int o = 0; o < out; o++) {
            double s = source(o, in, out, scale, coordinates);
            double i = switch (rounding) {
                case "floor" -> Math.floor(s);
                case "ceil" -> Math.ceil(s);
                // a tie (s = k + 1/2) goes down or up
                case "round_prefer_ceil" -> Math.floor(s + 0.5);
                default -> Math.ceil(s - 0.5);
            };
            int k = (int) Math.max(0, Math.min(in - 1, i));
            m[o * in + k] = 1;
        }
        return m;
    }

    /** The matrix [out, in] of linear interpolation between the two inputs around the clamped coordinate. */
    private static double[] linear(int in, int out, double scale, String coordinates) {
        double[] m = new double[out * in];
        for (int o = 0; o < out; o++) {
            double s = Math.max(0, Math.min(in - 1, source(o, in, out, scale, coordinates)));
            int i0 = (int) Math.floor(s);
            int i1 = Math.min(i0 + 1, in - 1);
            double w = s - i0;
            m[o * in + i0] += 1 - w;
            m[o * in + i1] += w;
        }
        return m;
    }

    /**
     * The matrix [out, in] of cubic convolution: the source coordinate x (not clamped) weighs the inputs
     * i = floor(x) − 1 + k, k = 0..3, by Keys' kernel W(x − i) with coefficient A:
     * W(d) = (A + 2)|d|³ − (A + 3)|d|² + 1 for |d| ≤ 1, A|d|³ − 5A|d|² + 8A|d| − 4A for 1 < |d| < 2. An index outside
     * [0, in − 1] reads the nearest edge (ONNX's edge padding, PyTorch's clamped access); with exclude_outside it is
     * dropped and the others' weights divided by their sum.
     */
    private static double[] cubic(int in, int out, double scale, String coordinates, double a,
                                  boolean excludeOutside) {
        double[] m = new double[out * in];
        for (int o = 0; o < out; o++) {
            double s = source(o, in, out, scale, coordinates);
            double first = Math.floor(s) - 1;
            double t = s - Math.floor(s);
            double[] w = {keys(t + 1, a), keys(t, a), keys(1 - t, a), keys(2 - t, a)};
            double kept = 0;
            for (int k = 0; k < 4; k++) {
                double i = first + k;
                kept += !excludeOutside || i >= 0 && i <= in - 1 ? w[k] : 0;
            }
            for (int k = 0; k < 4; k++) {
                double i = first + k;
                if (excludeOutside && (i < 0 || i > in - 1)) {
                    continue;
                }
                int clamped = (int) Math.max(0, Math.min(in - 1, i));
                m[o * in + clamped] += excludeOutside ? w[k] / kept : w[k];
            }
        }
        return m;
    }

    /** Keys' cubic convolution kernel W(d), 0 ≤ d ≤ 2, with coefficient a (see {@link #cubic}). */
    private static double keys(double d, double a) {
        return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    }

    private static boolean isIdentity(double[] m, int in, int out) {
        return in == out && isRepeat(m, in, out);
    }

    /** Whether row o of m picks input o / f alone, f = out / in: each element repeated f times. */
    private static boolean isRepeat(double[] m, int in, int out) {
        int f = out / in;
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                if (m[o * in + i] != (i == o / f ? 1 : 0)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** Each element along axis a repeated f times: [.., n, ..] to [.., n, 1, ..], broadcast to f, merged. */
    private static Var repeat(Var y, int a, int f) {
        int[] s = y.shape();
        int[] split = new int[s.length + 1];
        System.arraycopy(s, 0, split, 0, a + 1);
        split[a + 1] = 1;
        System.arraycopy(s, a + 1, split, a + 2, s.length - a - 1);
        int[] wide = split.clone();
        wide[a + 1] = f;
        int[] merged = s.clone();
        merged[a] *= f;
        return y.reshape(split).broadcastTo(wide).reshape(merged);
    }

    /** y with axis a mapped by the matrix m [out, in]: dot_general over that axis, the new axis put back at a. */
    private static Var applyAlong(Var y, int a, double[] m, int out) {
        int r = y.rank();
        Var matrix = y.builder().constant(Tensor.of(y.dtype(), m, out, y.dim(a)));
        // dot_general's result: y's other axes, then out; axis a of the result is that last one
        int[] perm = new int[r];
        for (int i = 0, k = 0; i < r; i++) {
            perm[i] = i == a ? r - 1 : k++;
        }
        int[] none = new int[0];
        return a == r - 1 ? y.dotGeneral(matrix, new int[] {a}, new int[] {1}, none, none)
                : y.dotGeneral(matrix, new int[] {a}, new int[] {1}, none, none, perm);
    }
}
