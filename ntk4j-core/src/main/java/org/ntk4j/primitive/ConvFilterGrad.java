package org.ntk4j.primitive;

import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The filter gradient of {@link Conv}: the input x {@code [N, H, W, Cin]} and dy {@code [N, OH, OW, Cout]}
 * give dw {@code [KH, KW, Cin, Cout]}, the adjoint of {@code w ↦ conv(x, w)} applied to dy (summed over the
 * batch). The filter spatial shape (KH, KW) is a parameter. Evaluated as {@code im2col(x)ᵀ · dy}
 * ({@link Convolution#filterGrad}).
 *
 * <p>Bilinear. JVP: {@code conv_filter_grad(ẋ, dy) + conv_filter_grad(x, ḋy)}. VJP, from
 * ⟨c, F(x, dy)⟩ = ⟨conv(x, c), dy⟩ = ⟨conv_input_grad(dy, c), x⟩: {@code x̄ = conv_input_grad(dy, c)},
 * {@code d̄y = conv(x, c)}. The batch axis is summed over, so a stacked x folds K into the input channels and
 * a stacked dy into the output channels; a stacked cotangent is a stacked filter (see {@link ConvSupport}).
 */
public final class ConvFilterGrad implements Primitive {
    private final Convolution.Window window;
    private final int[] filterSpatial;

    /**
     * Creates the filter gradient.
     *
     * @param window the window of the forward {@link Conv}
     * @param filterSpatial the filter's spatial sizes (KH, KW) or (KW), one per window axis, each at least 1; copied
     * @throws IllegalArgumentException if {@code filterSpatial} has the wrong length or a size below 1
     */
    public ConvFilterGrad(Convolution.Window window, int[] filterSpatial) {
        if (filterSpatial.length != window.rank()) {
            throw new IllegalArgumentException("conv_filter_grad: filter spatial shape " + Shapes.str(filterSpatial)
                    + " must have " + window.rank() + " entries for " + window.params());
        }
        ConvSupport.checkFilterSpatial("conv_filter_grad", filterSpatial, window.params());
        this.window = window;
        this.filterSpatial = filterSpatial.clone();
    }

    /**
     * The window of the forward convolution: strides, explicit padding and filter dilation per spatial axis.
     *
     * @return the window, immutable
     */
    public Convolution.Window window() {
        return window;
    }

    /**
     * The spatial shape of the filter whose gradient this computes.
     *
     * @return a copy of the filter's spatial sizes (KH, KW), or (KW) in 1-D
     */
    public int[] filterSpatial() {
        return filterSpatial.clone();
    }

    @Override
    public String name() {
        return "conv_filter_grad";
    }

    @Override
    public String params() {
        return window.params() + " filter_spatial=" + Convolution.tuple(filterSpatial) + " dimension_numbers="
                + (window.rank() == 1 ? "(NWC, WIO, NWC)" : "(NHWC, HWIO, NHWC)");
    }

    @Override
    public TensorType outputType(TensorType... in) {
        String op = name();
        ConvSupport.checkOperands(op, in, "input", "cotangent");
        TensorType x = in[0];
        TensorType dy = in[1];
        int d = window.rank();
        ConvSupport.checkRank(op, window, x, "input", ConvSupport.dataPattern(d, "", "Cin"), dy, "cotangent");
        ConvSupport.checkRank(op, window, dy, "cotangent", ConvSupport.dataPattern(d, "O", "Cout"), x, "input");
        int[] xs = x.shape();
        int[] ys = dy.shape();
        String context = "input " + x + ", filter spatial shape " + Shapes.str(filterSpatial) + ", cotangent " + dy;
        int[] os = ConvSupport.outputSpatial(op, window, ConvSupport.dataSpatial(xs), filterSpatial, context);
        int[] expected = ConvSupport.dataShape(xs[0], os, ys[d + 1]);
        if (!java.util.Arrays.equals(expected, ys)) {
            throw new IllegalArgumentException(op + ": expected cotangent " + Shapes.str(expected)
                    + " (the conv output for input " + x + " and filter spatial shape " + Shapes.str(filterSpatial)
                    + ", " + window.params() + "), got cotangent " + dy);
        }
        return x.withShape(Shapes.concat(filterSpatial, new int[] {xs[d + 1], ys[d + 1]}));
    }

    /** One GEMM im2col(x)ᵀ·dy: 2 · (dy size) · KH·KW·Cin. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 2.0 * inputs[1].size() * (output.size() / (double) output.dim(-1));
    }

    /** The im2col buffer the kernel allocates ({@link Convolution.Geometry#workspaceElements}). */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        int[] xs = inputs[0].shape();
        return Convolution.Geometry.of(window, xs[0], ConvSupport.dataSpatial(xs), xs[xs.length - 1],
                filterSpatial, inputs[1].dim(-1)).workspaceElements() * output.dtype().bytes();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Convolution.filterGrad(in[0], in[1], filterSpatial, window);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var a = t[0] == null ? null : ConvSupport.filterGradStackedInput(window, filterSpatial, t[0], p[1]);
        Var b = t[1] == null ? null : ConvSupport.filterGradStackedCotangent(window, filterSpatial, p[0], t[1]);
        return Stacked.add(a, b);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? ConvSupport.inputGradStackedFilter(window, ConvSupport.dataSpatial(p[0].shape()), p[1],
                    ct) : null,
            needed[1] ? ConvSupport.convStackedFilter(window, p[0], ct) : null};
    }
}
