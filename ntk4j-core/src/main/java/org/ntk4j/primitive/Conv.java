package org.ntk4j.primitive;

import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Convolution, channels last: input x {@code [N, H, W, Cin]} (1-D: {@code [N, W, Cin]}) and filter w HWIO
 * {@code [KH, KW, Cin, Cout]} (1-D: {@code [KW, Cin, Cout]}) give y {@code [N, OH, OW, Cout]}, with window
 * strides, explicit (lo, hi) padding and filter (rhs) dilation per spatial axis; a cross-correlation, as in
 * XLA's conv_general_dilated. Evaluated by im2col and GEMM ({@link Convolution#forward}).
 *
 * <p>Bilinear. JVP: {@code conv(ẋ, w) + conv(x, ẇ)}. VJP: {@code x̄ = conv_input_grad(ȳ, w)},
 * {@code w̄ = conv_filter_grad(x, ȳ)}. Stacked tangents and cotangents cost one convolution each: a stacked
 * input or cotangent merges K into the batch axis, a stacked filter folds K into the output channels
 * (see {@link ConvSupport}).
 */
public final class Conv implements Primitive {
    private final Convolution.Window window;

    /**
     * Creates the convolution; the operands are checked against the window by {@link #outputType}.
     *
     * @param window strides, explicit (lo, hi) padding and filter dilation per spatial axis (1 or 2 axes)
     */
    public Conv(Convolution.Window window) {
        this.window = window;
    }

    /**
     * The window: strides, explicit padding and filter dilation per spatial axis.
     *
     * @return the window, immutable
     */
    public Convolution.Window window() {
        return window;
    }

    @Override
    public String name() {
        return "conv";
    }

    @Override
    public String params() {
        return window.params() + " dimension_numbers=" + (window.rank() == 1 ? "(NWC, WIO, NWC)"
                : "(NHWC, HWIO, NHWC)");
    }

    @Override
    public TensorType outputType(TensorType... in) {
        String op = name();
        ConvSupport.checkOperands(op, in, "input", "filter");
        TensorType x = in[0];
        TensorType w = in[1];
        int d = window.rank();
        ConvSupport.checkRank(op, window, x, "input", ConvSupport.dataPattern(d, "", "Cin"), w, "filter");
        ConvSupport.checkRank(op, window, w, "filter", ConvSupport.filterPattern(d), x, "input");
        int[] xs = x.shape();
        int[] ws = w.shape();
        int cin = ws[d];
        if (xs[d + 1] != cin) {
            throw new IllegalArgumentException(op + ": input channels differ: filter " + w + " expects input "
                    + Shapes.str(ConvSupport.dataShape(xs[0], ConvSupport.dataSpatial(xs), cin)) + " (Cin = " + cin
                    + "), got input " + x);
        }
        String context = "input " + x + ", filter " + w;
        int[] ks = ConvSupport.filterSpatial(ws);
        ConvSupport.checkFilterSpatial(op, ks, context);
        int[] os = ConvSupport.outputSpatial(op, window, ConvSupport.dataSpatial(xs), ks, context);
        return x.withShape(ConvSupport.dataShape(xs[0], os, ws[d + 1]));
    }

    /** One GEMM of im2col rows with the filter: 2 · (output size) · KH·KW·Cin. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 2.0 * output.size() * (inputs[1].size() / (double) inputs[1].dim(-1));
    }

    /**
     * The filter (operand 1) of this convolution: the im2col patches of the input are the data factor A [N, R, C]
     * (R output positions, C = KH·KW·Cin), the output channels the features F; the HWIO filter is laid out
     * [C axes..., F]. None for the input operand.
     */
    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        if (operand != 1) {
            return null;
        }
        int[] ws = inputs[1].shape();
        int cout = ws[ws.length - 1];
        int[] os = output.shape();
        int positions = Shapes.size(os) / Math.max(1, os[0]) / Math.max(1, cout);
        return new ConsumerRule.Linear(Shapes.iota(ws.length - 1), new int[] {ws.length - 1}, positions,
                Shapes.size(ws) / Math.max(1, cout), cout) {
            @Override
            public Tensor data(Tensor x) {
                return patches(x, 0, Double.NaN);
            }

            /** The patches written with the extra column in place (no copy of A). */
            @Override
            public Tensor data(Tensor x, double extra) {
                return patches(x, 1, extra);
            }

            /** im2col of x as [N, R, C + extra columns], those columns holding {@code fill}. */
            private Tensor patches(Tensor x, int extraColumns, double fill) {
                int n = x.dim(0);
                int[] kernel = java.util.Arrays.copyOfRange(ws, 0, ws.length - 2);
                int[] xs = x.shape();
                int[] spatial = java.util.Arrays.copyOfRange(xs, 1, xs.length - 1);
                Convolution.Geometry g = Convolution.Geometry.of(window, n, spatial, xs[xs.length - 1], kernel,
                        cout);
                int stride = g.rowLength() + extraColumns;
                Tensor cols = Tensor.empty(x.dtype(), n * g.outputPositions(), stride);
                Convolution.im2col(x, g, 0, n, cols, stride, fill);
                return cols.reshapeMove(n, g.outputPositions(), stride);
            }

            /** y is [N, spatial..., Cout]: D is δ reshaped. */
            @Override
            public boolean cotangentIsReshape() {
                return true;
            }

            @Override
            public Tensor cotangent(Tensor delta) {
                return cotangentInPlace(delta);
            }
        };
    }

    /**
     * The im2col buffer the kernel allocates ({@link Convolution.Geometry#workspaceElements}) and the transposed
     * filter a float32 product with few rows reads ({@link Convolution.Geometry#transposedFilterElements}).
     */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        int[] xs = inputs[0].shape();
        int[] ws = inputs[1].shape();
        Convolution.Geometry g = Convolution.Geometry.of(window, xs[0], ConvSupport.dataSpatial(xs),
                xs[xs.length - 1], ConvSupport.filterSpatial(ws), ws[ws.length - 1]);
        return (g.workspaceElements() + g.transposedFilterElements(output.dtype())) * output.dtype().bytes();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Convolution.forward(in[0], in[1], window);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var a = t[0] == null ? null : ConvSupport.convStackedInput(window, t[0], p[1]);
        Var b = t[1] == null ? null : ConvSupport.convStackedFilter(window, p[0], t[1]);
        return Stacked.add(a, b);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? ConvSupport.inputGradStackedCotangent(window, ConvSupport.dataSpatial(p[0].shape()), ct,
                    p[1]) : null,
            needed[1] ? ConvSupport.filterGradStackedCotangent(window, ConvSupport.filterSpatial(p[1].shape()),
                    p[0], ct) : null};
    }
}
