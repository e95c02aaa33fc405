package org.ntk4j.primitive;

import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The derivative of max pooling ({@link ReduceWindowMax}) applied to a tangent: operands the selector x
 * (the pooling's operand) and t of shape {@code B + x.shape} with any leading axes B; result
 * {@code B + pooled shape}, {@code out[b, j] = t[b, s(j)]} where s(j) is the selected (first maximal) element of
 * window j of x. Linear in t; x only selects (its derivative is 0 almost everywhere). JVP: gather of ṫ. VJP:
 * t̄ = {@link MaxWindowScatter} of the cotangent; x̄ = 0.
 */
public final class MaxWindowGather implements Primitive {
    private final MaxWindow win;

    MaxWindowGather(MaxWindow win) {
        this.win = win;
    }

    /**
     * Creates the gather; the sizes are checked against the operands by {@link #outputType}.
     *
     * @param window per axis of x, the window size, copied
     * @param strides per axis of x, the step, copied
     * @param lo per axis of x, the padding before the first element, copied
     * @param hi per axis of x, the padding after the last element, copied
     */
    public MaxWindowGather(int[] window, int[] strides, int[] lo, int[] hi) {
        this(new MaxWindow(window, strides, lo, hi));
    }

    @Override
    public String name() {
        return "max_window_gather";
    }

    @Override
    public String params() {
        return win.params();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException(name() + ": expects 2 operands (selector, values), got " + in.length);
        }
        int[] os = win.outputShape(name(), in[0].shape());
        int[] batch = MaxWindow.batchAxes(name(), in[0], in[1], in[0].shape(), "values");
        return in[1].withShape(Shapes.concat(batch, os));
    }

    /** Choosing the element: one comparison per window element of every pooled position. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return (double) Shapes.size(win.outputShape(name(), inputs[0].shape())) * win.windowSize();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return MaxWindow.gather(win.selected(in[0]), in[1], in[0].size(),
                outputType(TensorType.of(in[0]), TensorType.of(in[1])).shape());
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[1] == null ? null : p[0].builder().apply(this, p[0], t[1]);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {null, needed[1] ? p[0].builder().apply(new MaxWindowScatter(win), p[0], ct) : null};
    }
}
