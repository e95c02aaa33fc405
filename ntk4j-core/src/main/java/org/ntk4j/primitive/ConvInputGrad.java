package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Convolution;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The input gradient of {@link Conv} (a transposed convolution): dy {@code [N, OH, OW, Cout]} and the filter
 * w {@code [KH, KW, Cin, Cout]} give dx {@code [N, H, W, Cin]}, the adjoint of {@code x ↦ conv(x, w)} applied
 * to dy. The input spatial shape (H, W) is a parameter: with strides above 1 several input sizes have the
 * same output size. Evaluated tap by tap with no buffer for unit strides and moderate channels, else as
 * {@code col2im(dy · Wᵀ)} ({@link Convolution#inputGrad}).
 *
 * <p>Bilinear. JVP: {@code conv_input_grad(ḋy, w) + conv_input_grad(dy, ẇ)}. VJP, from
 * ⟨c, I(dy, w)⟩ = ⟨conv(c, w), dy⟩ = ⟨w, conv_filter_grad(c, dy)⟩: {@code d̄y = conv(c, w)},
 * {@code w̄ = conv_filter_grad(c, dy)}. A stacked dy or cotangent merges K into the batch axis; a stacked
 * filter folds K into its input channels (see {@link ConvSupport}).
 */
public final class ConvInputGrad implements Primitive {
    private final Convolution.Window window;
    private final int[] inputSpatial;

    /**
     * Creates the input gradient.
     *
     * @param window the window of the forward {@link Conv}
     * @param inputSpatial the input's spatial sizes (H, W) or (W), one per window axis, none negative; copied
     * @throws IllegalArgumentException if {@code inputSpatial} has the wrong length or a negative size
     */
    public ConvInputGrad(Convolution.Window window, int[] inputSpatial) {
        if (inputSpatial.length != window.rank()) {
            throw new IllegalArgumentException("conv_input_grad: input spatial shape " + Shapes.str(inputSpatial)
                    + " must have " + window.rank() + " entries for " + window.params());
        }
        for (int s : inputSpatial) {
            if (s < 0) {
                throw new IllegalArgumentException("conv_input_grad: input spatial shape "
                        + Shapes.str(inputSpatial) + " has a negative size");
            }
        }
        this.window = window;
        this.inputSpatial = inputSpatial.clone();
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
     * The spatial shape of the input whose gradient this computes.
     *
     * @return a copy of the input's spatial sizes (H, W), or (W) in 1-D
     */
    public int[] inputSpatial() {
        return inputSpatial.clone();
    }

    @Override
    public String name() {
        return "conv_input_grad";
    }

    @Override
    public String params() {
        return window.params() + " input_spatial=" + Convolution.tuple(inputSpatial) + " dimension_numbers="
                + (window.rank() == 1 ? "(NWC, WIO, NWC)" : "(NHWC, HWIO, NHWC)");
    }

    @Override
    public TensorType outputType(TensorType... in) {
        String op = name();
        ConvSupport.checkOperands(op, in, "cotangent", "filter");
        TensorType dy = in[0];
        TensorType w = in[1];
        int d = window.rank();
        ConvSupport.checkRank(op, window, dy, "cotangent", ConvSupport.dataPattern(d, "O", "Cout"), w, "filter");
        ConvSupport.checkRank(op, window, w, "filter", ConvSupport.filterPattern(d), dy, "cotangent");
        int[] ys = dy.shape();
        int[] ws = w.shape();
        String context = "input spatial shape " + Shapes.str(inputSpatial) + ", filter " + w + ", cotangent " + dy;
        int[] ks = ConvSupport.filterSpatial(ws);
        ConvSupport.checkFilterSpatial(op, ks, context);
        int[] os = ConvSupport.outputSpatial(op, window, inputSpatial, ks, context);
        int[] expected = ConvSupport.dataShape(ys[0], os, ws[d + 1]);
        if (!Arrays.equals(expected, ys)) {
            throw new IllegalArgumentException(op + ": expected cotangent " + Shapes.str(expected)
                    + " (the conv output for input spatial shape " + Shapes.str(inputSpatial) + " and filter " + w
                    + ", " + window.params() + "), got cotangent " + dy);
        }
        return dy.withShape(ConvSupport.dataShape(ys[0], inputSpatial, ws[d]));
    }

    /**
     * The multiply-adds done ({@link Convolution.Geometry#inputGradProducts}), times 2: on the direct tap-by-tap
     * path only the (output position, tap) pairs that read an input element, 2 · N · Cin · Cout ·
     * {@link Convolution.Geometry#tapContributions}; through col2im all of them, 2 · (dy size) · KH·KW·Cin.
     */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 2.0 * geometry(inputs).inputGradProducts();
    }

    /** None on the direct path, else the column buffer ({@link Convolution.Geometry#inputGradBufferElements}). */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return geometry(inputs).inputGradBufferElements() * output.dtype().bytes();
    }

    private Convolution.Geometry geometry(TensorType[] inputs) {
        int[] ws = inputs[1].shape();
        return Convolution.Geometry.of(window, inputs[0].dim(0), inputSpatial, ws[ws.length - 2],
                ConvSupport.filterSpatial(ws), ws[ws.length - 1]);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Convolution.inputGrad(in[0], in[1], inputSpatial, window);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var a = t[0] == null ? null : ConvSupport.inputGradStackedCotangent(window, inputSpatial, t[0], p[1]);
        Var b = t[1] == null ? null : ConvSupport.inputGradStackedFilter(window, inputSpatial, p[0], t[1]);
        return Stacked.add(a, b);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? ConvSupport.convStackedInput(window, ct, p[1]) : null,
            needed[1] ? ConvSupport.filterGradStackedInput(window, ConvSupport.filterSpatial(p[1].shape()), ct,
                    p[0]) : null};
    }
}
