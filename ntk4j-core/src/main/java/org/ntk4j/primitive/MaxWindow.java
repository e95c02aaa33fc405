package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.graph.TensorType;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The window of a max pooling ({@link ReduceWindowMax}) and what its derivative primitives
 * ({@link MaxWindowGather}, {@link MaxWindowScatter}) share: a window size, stride and explicit (lo, hi) padding
 * per operand axis (XLA's reduce_window; a pooling over NHWC has window {@code [1, KH, KW, 1]}), with padded
 * positions worth −∞ (PyTorch's MaxPool2d). The maximum of each window is attained at its <em>selected</em>
 * element: the first maximal element in row-major window order (a later element replaces the current one
 * only when strictly greater, or when it is NaN), which is the element PyTorch's CPU {@code max_pool2d}
 * records as the index and sends the whole gradient to.
 */
final class MaxWindow {
    final int[] window;
    final int[] strides;
    final int[] lo;
    final int[] hi;

    MaxWindow(int[] window, int[] strides, int[] lo, int[] hi) {
        this.window = window.clone();
        this.strides = strides.clone();
        this.lo = lo.clone();
        this.hi = hi.clone();
    }

    String params() {
        return "window=" + Arrays.toString(window) + " strides=" + Arrays.toString(strides) + " lo="
                + Arrays.toString(lo) + " hi=" + Arrays.toString(hi);
    }

    /** The elements in one window. */
    int windowSize() {
        return Shapes.size(window);
    }

    /**
     * The pooled shape of an operand of shape {@code xs}; fails unless the parameters have one entry per axis,
     * windows and strides are at least 1, paddings are at least 0 and every window overlaps the operand.
     */
    int[] outputShape(String op, int[] xs) {
        int r = xs.length;
        if (window.length != r || strides.length != r || lo.length != r || hi.length != r) {
            throw new IllegalArgumentException(op + ": expects window, strides, lo and hi of length " + r
                    + " (one per axis of the operand " + Shapes.str(xs) + "), got " + params());
        }
        int[] out = new int[r];
        for (int d = 0; d < r; d++) {
            if (window[d] < 1 || strides[d] < 1 || lo[d] < 0 || hi[d] < 0) {
                throw new IllegalArgumentException(op + ": window and strides must be >= 1 and padding >= 0 on "
                        + "every axis, got " + params());
            }
            long span = (long) xs[d] + lo[d] + hi[d] - window[d];
            if (span < 0) {
                throw new IllegalArgumentException(op + ": the window " + window[d] + " on axis " + d
                        + " is larger than the padded operand (" + xs[d] + " + " + lo[d] + " + " + hi[d] + "); "
                        + "operand " + Shapes.str(xs) + ", " + params());
            }
            out[d] = (int) (span / strides[d] + 1);
            // every window must hold an operand element, or its maximum would be the padding's -inf
            if (lo[d] >= window[d] || (long) (out[d] - 1) * strides[d] - lo[d] >= xs[d]) {
                throw new IllegalArgumentException(op + ": a window on axis " + d + " covers only padding "
                        + "(operand " + Shapes.str(xs) + ", " + params() + "); padding must be smaller than the "
                        + "window");
            }
        }
        return out;
    }

    /** Fails unless {@code t}'s trailing axes are {@code trailing}; returns the leading (batch) axes. */
    static int[] batchAxes(String op, TensorType x, TensorType t, int[] trailing, String role) {
        if (x.dtype() != t.dtype()) {
            throw new IllegalArgumentException(op + ": operand dtypes differ: selector " + x + " and " + role + " "
                    + t);
        }
        int[] ts = t.shape();
        int b = ts.length - trailing.length;
        if (b < 0 || !Arrays.equals(Arrays.copyOfRange(ts, b, ts.length), trailing)) {
            throw new IllegalArgumentException(op + ": expects " + role + " of shape [...] + "
                    + Shapes.str(trailing) + " (selector " + x + "), got " + t);
        }
        return Arrays.copyOf(ts, b);
    }

    /**
     * For every output position (row-major), the flat index in {@code x} of its window's selected element.
     */
    int[] selected(Tensor x) {
        int[] xs = x.shape();
        int r = xs.length;
        int[] os = outputShape("reduce_window_max", xs);
        int[] xStride = Shapes.strides(xs);
        int n = Shapes.size(os);
        int w = windowSize();
        int[] sel = new int[n];
        boolean f64 = x.dtype() == DType.F64;
        java.nio.DoubleBuffer xd = f64 ? x.doubles() : null;
        java.nio.FloatBuffer xf = f64 ? null : x.floats();
        // output positions are independent: split across cores, each chunk's odometer started at its first one
        org.ntk4j.cpu.Parallel.range(n, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN / Math.max(1, w)),
                (from, to) -> {
                    int[] o = new int[r];
                    for (int d = r - 1, rest = from; d >= 0; d--) {
                        o[d] = rest % os[d];
                        rest /= os[d];
                    }
                    int[] k = new int[r];
                    for (int j = from; j < to; j++) {
                        Arrays.fill(k, 0);
                        int best = -1;
                        double bestValue = Double.NEGATIVE_INFINITY;
                        for (int q = 0; q < w; q++) {
                            int flat = 0;
                            boolean inside = true;
                            for (int d = 0; d < r; d++) {
                                int i = o[d] * strides[d] - lo[d] + k[d];
                                if (i < 0 || i >= xs[d]) {
                                    inside = false;
                                    break;
                                }
                                flat += i * xStride[d];
                            }
                            if (inside) {
                                double v = f64 ? xd.get(flat) : xf.get(flat);
                                if (best < 0 || v > bestValue || Double.isNaN(v)) {
                                    best = flat;
                                    bestValue = v;
                                }
                            }
                            increment(k, window);
                        }
                        sel[j] = best;
                        increment(o, os);
                    }
                });
        return sel;
    }

    /** Row-major odometer step of {@code idx} within {@code shape}. */
    private static void increment(int[] idx, int[] shape) {
        for (int d = idx.length - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) {
                return;
            }
            idx[d] = 0;
        }
    }

    /**
     * out[b, j] = t[b, sel[j]] for every batch index b: t is {@code [B] + inSize}, the result {@code [B] + outShape}.
     */
    static Tensor gather(int[] sel, Tensor t, int inSize, int[] outShape) {
        int batches = t.size() / Math.max(1, inSize);
        int n = sel.length;
        Tensor out = Tensor.empty(t.dtype(), outShape);
        boolean f64 = t.dtype() == DType.F64;
        java.nio.DoubleBuffer srcD = f64 ? t.doubles() : null;
        java.nio.DoubleBuffer dstD = f64 ? out.doubles() : null;
        java.nio.FloatBuffer srcF = f64 ? null : t.floats();
        java.nio.FloatBuffer dstF = f64 ? null : out.floats();
        // batches (the stacked tangents or cotangents) are independent: split across cores
        org.ntk4j.cpu.Parallel.range(batches, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN / Math.max(1, n)),
                (from, to) -> {
                    for (int b = from; b < to; b++) {
                        int s = b * inSize;
                        int o = b * n;
                        for (int j = 0; j < n; j++) {
                            if (f64) {
                                dstD.put(o + j, srcD.get(s + sel[j]));
                            } else {
                                dstF.put(o + j, srcF.get(s + sel[j]));
                            }
                        }
                    }
                });
        return out;
    }

    /** The adjoint of {@link #gather}: out[b, sel[j]] += c[b, j], zeros elsewhere. */
    static Tensor scatter(int[] sel, Tensor c, int inSize, int[] outShape) {
        int n = sel.length;
        int batches = c.size() / Math.max(1, n);
        Tensor out = Tensor.zeros(c.dtype(), outShape);
        boolean f64 = c.dtype() == DType.F64;
        java.nio.DoubleBuffer srcD = f64 ? c.doubles() : null;
        java.nio.DoubleBuffer dstD = f64 ? out.doubles() : null;
        java.nio.FloatBuffer srcF = f64 ? null : c.floats();
        java.nio.FloatBuffer dstF = f64 ? null : out.floats();
        // each batch writes its own block of out, its elements in order: split across cores, the same sums
        org.ntk4j.cpu.Parallel.range(batches, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN / Math.max(1, n)),
                (from, to) -> {
                    for (int b = from; b < to; b++) {
                        int s = b * n;
                        int o = b * inSize;
                        for (int j = 0; j < n; j++) {
                            int i = o + sel[j];
                            if (f64) {
                                dstD.put(i, dstD.get(i) + srcD.get(s + j));
                            } else {
                                dstF.put(i, dstF.get(i) + srcF.get(s + j));
                            }
                        }
                    }
                });
        return out;
    }
}
