package org.ntk4j.primitive;

import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * Max pooling: XLA's reduce_window with max, a window, stride and explicit (lo, hi) padding on every operand
 * axis, the padding worth −∞ (PyTorch's {@code MaxPool2d(kernel_size, stride, padding)} over NHWC is window
 * {@code [1, k, k, 1]}, strides {@code [1, s, s, 1]}, lo = hi = {@code [0, p, p, 0]}). Output size on axis d:
 * {@code (n + lo + hi − window) / stride + 1}; every window must hold at least one operand element.
 *
 * <p>Ties: the maximum of a window is attributed to its first maximal element in row-major window order
 * (see {@link MaxWindow}), as PyTorch's CPU max_pool2d does; the derivative is that element's. So (almost
 * everywhere) JVP: {@code ẏ = gather(x, ẋ)} ({@link MaxWindowGather}); VJP:
 * {@code x̄ = scatter(x, ȳ)} ({@link MaxWindowScatter}), each window's cotangent added to its selected
 * element. Both are linear in the stacked operand, so K tangents or cotangents cost one pass each.
 */
public final class ReduceWindowMax implements Primitive {
    private final MaxWindow win;

    /**
     * Creates the pooling; the sizes are checked against the operand by {@link #outputType}.
     *
     * @param window per operand axis, the window size (at least 1), copied
     * @param strides per operand axis, the step (at least 1), copied
     * @param lo per operand axis, the −∞ padding before the first element (0 or more, less than the window), copied
     * @param hi per operand axis, the −∞ padding after the last element (0 or more), copied
     */
    public ReduceWindowMax(int[] window, int[] strides, int[] lo, int[] hi) {
        this.win = new MaxWindow(window, strides, lo, hi);
    }

    @Override
    public String name() {
        return "reduce_window_max";
    }

    @Override
    public String params() {
        return win.params();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException(name() + ": expects 1 operand, got " + in.length);
        }
        return in[0].withShape(win.outputShape(name(), in[0].shape()));
    }

    /** One comparison per window element of every output. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return (double) output.size() * win.windowSize();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        int[] sel = win.selected(in[0]);
        return MaxWindow.gather(sel, in[0], in[0].size(), win.outputShape(name(), in[0].shape()));
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return p[0].builder().apply(new MaxWindowGather(win), p[0], t[0]);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {needed[0] ? p[0].builder().apply(new MaxWindowScatter(win), p[0], ct) : null};
    }
}
