package org.ntk4j.primitive;

import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The transpose of {@link MaxWindowGather}, the VJP of max pooling: operands the selector x and c of shape
 * {@code B + pooled shape}; result {@code B + x.shape}, zeros except that each c[b, j] is added to position
 * s(j), the selected (first maximal) element of window j of x (windows that overlap may select the same
 * element). Linear in c; x only selects. JVP: scatter of ċ. VJP: c̄ = gather of the cotangent; x̄ = 0.
 */
public final class MaxWindowScatter implements Primitive {
    private final MaxWindow win;

    MaxWindowScatter(MaxWindow win) {
        this.win = win;
    }

    /**
     * Creates the scatter; the sizes are checked against the operands by {@link #outputType}.
     *
     * @param window per axis of x, the window size, copied
     * @param strides per axis of x, the step, copied
     * @param lo per axis of x, the padding before the first element, copied
     * @param hi per axis of x, the padding after the last element, copied
     */
    public MaxWindowScatter(int[] window, int[] strides, int[] lo, int[] hi) {
        this(new MaxWindow(window, strides, lo, hi));
    }

    @Override
    public String name() {
        return "max_window_scatter";
    }

    @Override
    public String params() {
        return win.params();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException(name() + ": expects 2 operands (selector, cotangent), got "
                    + in.length);
        }
        int[] os = win.outputShape(name(), in[0].shape());
        int[] batch = MaxWindow.batchAxes(name(), in[0], in[1], os, "cotangent");
        return in[1].withShape(Shapes.concat(batch, in[0].shape()));
    }

    /** Choosing the elements (one comparison per window element of every pooled position), then one add each. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return (double) Shapes.size(win.outputShape(name(), inputs[0].shape())) * win.windowSize()
                + inputs[1].size();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return MaxWindow.scatter(win.selected(in[0]), in[1], in[0].size(),
                outputType(TensorType.of(in[0]), TensorType.of(in[1])).shape());
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[1] == null ? null : p[0].builder().apply(this, p[0], t[1]);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {null, needed[1] ? p[0].builder().apply(new MaxWindowGather(win), p[0], ct) : null};
    }
}
