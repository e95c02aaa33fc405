package org.ntk4j.primitive;

import org.ntk4j.cpu.Convolution;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * Grouped convolution (XLA's conv_general_dilated with {@code feature_group_count} G &gt; 1; PyTorch's
 * {@code groups}; depthwise when G = Cin), channels last: input x {@code [N, H, W, Cin]} and filter w
 * {@code [KH, KW, Cin/G, Cout]} (1-D: no H axes) with G dividing Cin and Cout give y {@code [N, OH, OW, Cout]},
 * where output channels {@code [g·Cout/G, (g+1)·Cout/G)} see only input channels {@code [g·Cin/G, (g+1)·Cin/G)}:
 * y_g = conv(x_g, w_g) for each group g, w_g the filter's g-th block of output channels. PyTorch's
 * {@code Conv2d(..., groups=G)} weight {@code [Cout, Cin/G, KH, KW]} is this filter transposed by (2, 3, 1, 0).
 * Window as {@link Conv}.
 *
 * <p>Bilinear, group by group. JVP: {@code concat_g(conv(ẋ_g, w_g) + conv(x_g, ẇ_g))}; VJP:
 * {@code x̄ = concat_g conv_input_grad(ȳ_g, w_g)}, {@code w̄ = concat_g conv_filter_grad(x_g, ȳ_g)}, each
 * stacked over the K vectors as {@link Conv}'s rules are; the derivative graphs hold only ungrouped
 * convolutions, slices and concatenations, so every derivative order works. A class of its own rather than a
 * parameter of {@link Conv}, so that structured derivatives' convolution rule (which assumes one group) leaves
 * its filter to the dense per-example path.
 */
public final class GroupedConv implements Primitive {
    private final Convolution.Window window;
    private final int groups;

    /**
     * Creates the convolution; the operands are checked against the window and the groups by {@link #outputType}.
     *
     * @param window strides, explicit (lo, hi) padding and filter dilation per spatial axis (1 or 2 axes)
     * @param groups G, the feature group count, at least 1
     * @throws IllegalArgumentException if {@code groups} &lt; 1
     */
    public GroupedConv(Convolution.Window window, int groups) {
        if (groups < 1) {
            throw new IllegalArgumentException("grouped_conv: feature_group_count must be >= 1, got " + groups);
        }
        this.window = window;
        this.groups = groups;
    }

    /**
     * The window: strides, explicit padding and filter dilation per spatial axis.
     *
     * @return the window, immutable
     */
    public Convolution.Window window() {
        return window;
    }

    /**
     * The feature group count G.
     *
     * @return G, at least 1
     */
    public int featureGroupCount() {
        return groups;
    }

    @Override
    public String name() {
        return "grouped_conv";
    }

    @Override
    public String params() {
        return window.params() + " feature_group_count=" + groups + " dimension_numbers="
                + (window.rank() == 1 ? "(NWC, WIO, NWC)" : "(NHWC, HWIO, NHWC)");
    }

    @Override
    public TensorType outputType(TensorType... in) {
        String op = name();
        ConvSupport.checkOperands(op, in, "input", "filter");
        TensorType x = in[0];
        TensorType w = in[1];
        int d = window.rank();
        ConvSupport.checkRank(op, window, x, "input", ConvSupport.dataPattern(d, "", "Cin"), w, "filter");
        ConvSupport.checkRank(op, window, w, "filter", d == 1 ? "[KW, Cin/G, Cout]" : "[KH, KW, Cin/G, Cout]", x,
                "input");
        int[] xs = x.shape();
        int[] ws = w.shape();
        int cin = xs[d + 1];
        int cout = ws[d + 1];
        if (cin % groups != 0 || cout % groups != 0) {
            throw new IllegalArgumentException(op + ": feature_group_count " + groups + " must divide the input "
                    + "channels (" + cin + ") and the output channels (" + cout + "); input " + x + ", filter " + w);
        }
        if (ws[d] != cin / groups) {
            throw new IllegalArgumentException(op + ": the filter's input-channel axis must be Cin/G = " + cin + "/"
                    + groups + " = " + cin / groups + ", got filter " + w + " (input " + x + ")");
        }
        String context = "input " + x + ", filter " + w;
        int[] ks = ConvSupport.filterSpatial(ws);
        ConvSupport.checkFilterSpatial(op, ks, context);
        int[] os = ConvSupport.outputSpatial(op, window, ConvSupport.dataSpatial(xs), ks, context);
        return x.withShape(ConvSupport.dataShape(xs[0], os, cout));
    }

    /** G GEMMs of im2col rows with a filter block: 2 · (output size) · KH·KW·Cin/G. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 2.0 * output.size() * (inputs[1].size() / (double) inputs[1].dim(-1));
    }

    /**
     * What {@link #evaluate} holds besides its output at its peak, during the last group's convolution: the G
     * group outputs (together the output's size), that group's input and filter slices, and its im2col buffer.
     */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        int d = window.rank();
        int[] xs = inputs[0].shape();
        int[] ws = inputs[1].shape();
        Convolution.Geometry g = Convolution.Geometry.of(window, xs[0], ConvSupport.dataSpatial(xs), xs[d + 1] / groups,
                ConvSupport.filterSpatial(ws), ws[d + 1] / groups);
        long elements = output.size() + inputs[0].size() / groups + inputs[1].size() / groups + g.workspaceElements();
        return elements * output.dtype().bytes();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        Tensor x = in[0];
        Tensor w = in[1];
        int ci = x.dim(-1) / groups;
        int co = w.dim(-1) / groups;
        Tensor[] parts = new Tensor[groups];
        try {
            for (int g = 0; g < groups; g++) {
                try (Tensor xg = Layout.sliceAxis(x, x.rank() - 1, g * ci, (g + 1) * ci);
                     Tensor wg = Layout.sliceAxis(w, w.rank() - 1, g * co, (g + 1) * co)) {
                    parts[g] = Convolution.forward(xg, wg, window);
                }
            }
            return Layout.concatenate(parts, x.rank() - 1);
        } finally {
            for (Tensor t : parts) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }

    /** Channels {@code [g·size, (g+1)·size)} of the last axis. */
    private static Var block(Var v, int g, int size) {
        return v.sliceInDim(-1, g * size, (g + 1) * size, 1);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        int ci = p[0].dim(-1) / groups;
        int co = p[1].dim(-1) / groups;
        Var[] parts = new Var[groups];
        for (int g = 0; g < groups; g++) {
            Var a = t[0] == null ? null : ConvSupport.convStackedInput(window, block(t[0], g, ci), block(p[1], g, co));
            Var b = t[1] == null ? null : ConvSupport.convStackedFilter(window, block(p[0], g, ci),
                    block(t[1], g, co));
            parts[g] = Stacked.add(a, b);
        }
        return Var.concatenate(-1, parts);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int ci = p[0].dim(-1) / groups;
        int co = p[1].dim(-1) / groups;
        Var[] dx = new Var[groups];
        Var[] dw = new Var[groups];
        int[] inSpatial = ConvSupport.dataSpatial(p[0].shape());
        int[] kernelSpatial = ConvSupport.filterSpatial(p[1].shape());
        for (int g = 0; g < groups; g++) {
            Var ctg = block(ct, g, co);
            if (needed[0]) {
                dx[g] = ConvSupport.inputGradStackedCotangent(window, inSpatial, ctg, block(p[1], g, co));
            }
            if (needed[1]) {
                dw[g] = ConvSupport.filterGradStackedCotangent(window, kernelSpatial, block(p[0], g, ci), ctg);
            }
        }
        return new Var[] {needed[0] ? Var.concatenate(-1, dx) : null, needed[1] ? Var.concatenate(-1, dw) : null};
    }

}
