package org.ntk4j.nn;

import java.util.Arrays;

/**
 * Factory of layers with neural-tangents' stax vocabulary and defaults: weighted layers use NTK
 * parameterisation with σ_w = 1 and no bias unless σ_b is given (stax's {@code b_std=None}).
 * <pre>
 *   Model m = new Model(Layers.serial(Layers.dense(512), Layers.relu(), Layers.dense(10)), "my-fcn");
 * </pre>
 */
public final class Layers {
    private Layers() {
    }

    /**
     * Fully connected layer, NTK parameterisation, σ_w = 1, no bias.
     *
     * @param out the output size, at least 1
     * @return the layer
     * @throws IllegalArgumentException if {@code out} &lt; 1
     */
    public static Layer dense(int out) {
        return new Dense(out, 1.0, 0.0, Parameterization.NTK);
    }

    /**
     * Fully connected layer (see {@link Dense}).
     *
     * @param out the output size, at least 1
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param p NTK or standard parameterisation
     * @return the layer
     * @throws IllegalArgumentException if {@code out} &lt; 1
     */
    public static Layer dense(int out, double wStd, double bStd, Parameterization p) {
        return new Dense(out, wStd, bStd, p);
    }

    /**
     * ReLU, max(x, 0).
     *
     * @return the layer
     */
    public static Layer relu() {
        return new Activation(Activation.Kind.RELU);
    }

    /**
     * Leaky ReLU, max(x, αx).
     *
     * @param alpha the negative slope α, in [0, 1]
     * @return the layer
     * @throws IllegalArgumentException if {@code alpha} is outside [0, 1]
     */
    public static Layer leakyRelu(double alpha) {
        return new Activation(Activation.Kind.LEAKY_RELU, alpha);
    }

    /**
     * erf(x).
     *
     * @return the layer
     */
    public static Layer erf() {
        return new Activation(Activation.Kind.ERF);
    }

    /**
     * tanh(x).
     *
     * @return the layer
     */
    public static Layer tanh() {
        return new Activation(Activation.Kind.TANH);
    }

    /**
     * The logistic function 1/(1+e^-x).
     *
     * @return the layer
     */
    public static Layer sigmoid() {
        return new Activation(Activation.Kind.SIGMOID);
    }

    /**
     * The exact GELU, x·Φ(x).
     *
     * @return the layer
     */
    public static Layer gelu() {
        return new Activation(Activation.Kind.GELU);
    }

    /**
     * Softplus, ln(1 + e^x).
     *
     * @return the layer
     */
    public static Layer softplus() {
        return new Activation(Activation.Kind.SOFTPLUS);
    }

    /**
     * sin(x).
     *
     * @return the layer
     */
    public static Layer sin() {
        return new Activation(Activation.Kind.SIN);
    }

    /**
     * The absolute value |x| (neural-tangents' {@code Abs}); derivative sign(x), 0 at 0.
     *
     * @return the layer
     */
    public static Layer abs() {
        return new Activation(Activation.Kind.ABS);
    }

    /**
     * The exponential e^x (neural-tangents' {@code Exp()}).
     *
     * @return the layer
     */
    public static Layer exp() {
        return new Activation(Activation.Kind.EXP);
    }

    /**
     * The Gaussian e^{−x²} (neural-tangents' {@code Gaussian()}, with its scaling: not e^{−x²/2}).
     *
     * @return the layer
     */
    public static Layer gaussian() {
        return new Activation(Activation.Kind.GAUSSIAN);
    }

    /**
     * cos(x).
     *
     * @return the layer
     */
    public static Layer cos() {
        return new Activation(Activation.Kind.COS);
    }

    /**
     * SiLU (swish), x·σ(x) = x/(1 + e^{−x}).
     *
     * @return the layer
     */
    public static Layer silu() {
        return new Activation(Activation.Kind.SILU);
    }

    /**
     * ELU with α = 1: x for x &gt; 0, e^x − 1 otherwise.
     *
     * @return the layer
     */
    public static Layer elu() {
        return new Activation(Activation.Kind.ELU);
    }

    /**
     * The identity, x (no parameters; the skip branch of {@link #residual}).
     *
     * @return the layer
     */
    public static Layer identity() {
        return new Activation(Activation.Kind.IDENTITY);
    }

    /**
     * Convolution (2-D, or 1-D for one-entry arrays), NTK parameterisation, σ_w = 1, no bias.
     *
     * @param out the number of output channels, at least 1
     * @param filter the filter size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code filter}
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding (see {@link Conv})
     */
    public static Layer conv(int out, int[] filter, int[] strides, String padding) {
        return new Conv(out, filter, strides, padding, 1.0, 0.0, Parameterization.NTK);
    }

    /**
     * Convolution (see {@link Conv}).
     *
     * @param out the number of output channels, at least 1
     * @param filter the filter size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code filter}
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param p NTK or standard parameterisation
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer conv(int out, int[] filter, int[] strides, String padding, double wStd, double bStd,
                             Parameterization p) {
        return new Conv(out, filter, strides, padding, wStd, bStd, p);
    }

    /**
     * Average pooling; SAME padding counts the zeros (see {@link AvgPool}).
     *
     * @param window the window size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code window}
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer avgPool(int[] window, int[] strides, String padding) {
        return new AvgPool(window, strides, padding);
    }

    /**
     * Convolution with explicit zero padding (see {@link Conv}); PyTorch's {@code Conv2d(cin, cout, k, stride=s,
     * padding=p, bias=False)} is {@code conv(cout, {k, k}, {s, s}, {{p, p}, {p, p}}, σ_w, 0, STANDARD)}.
     *
     * @param out the number of output channels, at least 1
     * @param filter the filter size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code filter}
     * @param padding per spatial axis {@code {lo, hi}}
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param p NTK or standard parameterisation
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer conv(int out, int[] filter, int[] strides, int[][] padding, double wStd, double bStd,
                             Parameterization p) {
        return new Conv(out, filter, strides, padding, wStd, bStd, p);
    }

    /**
     * Grouped convolution with explicit zero padding (PyTorch's {@code groups}; depthwise when
     * {@code groups} = Cin); see {@link Conv}.
     *
     * @param out the number of output channels, at least 1, a multiple of {@code groups}
     * @param filter the filter size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code filter}
     * @param padding per spatial axis {@code {lo, hi}}
     * @param groups G, dividing {@code out} and the input channels
     * @param wStd σ_w, the weight scale
     * @param bStd σ_b, the bias scale; 0 for no bias
     * @param p NTK or standard parameterisation
     * @return the layer
     * @throws IllegalArgumentException on bad sizes, groups or padding
     */
    public static Layer conv(int out, int[] filter, int[] strides, int[][] padding, int groups, double wStd,
                             double bStd, Parameterization p) {
        return new Conv(out, filter, strides, padding, groups, wStd, bStd, p);
    }

    /**
     * Average pooling with explicit zero padding and PyTorch's {@code count_include_pad} (see {@link AvgPool}).
     *
     * @param window the window size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code window}
     * @param padding per spatial axis {@code {lo, hi}}, each less than the window
     * @param countIncludePad true: divide by the window size; false: by the input elements each window covers
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer avgPool(int[] window, int[] strides, int[][] padding, boolean countIncludePad) {
        return new AvgPool(window, strides, padding, countIncludePad);
    }

    /**
     * Max pooling with explicit −∞ padding (PyTorch's {@code MaxPool2d(k, s, p)} is
     * {@code maxPool({k, k}, {s, s}, {{p, p}, {p, p}})}); see {@link MaxPool}.
     *
     * @param window the window size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code window}
     * @param padding per spatial axis {@code {lo, hi}}, each less than the window
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer maxPool(int[] window, int[] strides, int[][] padding) {
        return new MaxPool(window, strides, padding);
    }

    /**
     * Max pooling with SAME or VALID padding (see {@link MaxPool}).
     *
     * @param window the window size per spatial axis (1 or 2 entries)
     * @param strides the step per spatial axis, as many entries as {@code window}
     * @param padding {@code SAME} or {@code VALID}, in any case
     * @return the layer
     * @throws IllegalArgumentException on bad sizes or padding
     */
    public static Layer maxPool(int[] window, int[] strides, String padding) {
        return new MaxPool(window, strides, padding);
    }

    /**
     * Batch normalisation in inference mode, ε = 1e-5 (PyTorch's default): running statistics as buffers, scale
     * and shift as parameters, examples independent (see {@link BatchNormEval}).
     *
     * @return the layer
     */
    public static Layer batchNormEval() {
        return new BatchNormEval(1e-5);
    }

    /**
     * Concatenation of the inputs along per-example axis {@code axis} (-1: channels).
     *
     * @param axis the per-example axis; negative counts from the end
     * @return the layer
     */
    public static Layer fanInConcat(int axis) {
        return new FanInConcat(axis);
    }

    /**
     * Flattens each example to one axis.
     *
     * @return the layer
     */
    public static Layer flatten() {
        return new Flatten();
    }

    /**
     * Mean over the spatial axes of each example, per channel.
     *
     * @return the layer
     */
    public static Layer globalAvgPool() {
        return new GlobalAvgPool();
    }

    /**
     * Layer normalisation over the last axis, ε = 1e-5, with learnable scale and shift (PyTorch's
     * {@code nn.LayerNorm} defaults; not neural-tangents', see {@link #layerNormStax()}).
     *
     * @return the layer
     */
    public static Layer layerNorm() {
        return new LayerNorm(1e-5);
    }

    /**
     * Layer normalisation over the last axis as neural-tangents' {@code stax.LayerNorm()}: ε = 1e-12, no scale or
     * shift (no parameters), y = (x − mean(x)) / √(var(x) + ε).
     *
     * @return the layer
     */
    public static Layer layerNormStax() {
        return new LayerNorm(1e-12, false);
    }

    /**
     * Batch normalisation in training mode, ε = 1e-5 (examples are then not independent).
     *
     * @return the layer
     */
    public static Layer batchNorm() {
        return new BatchNorm(1e-5);
    }

    /**
     * Multi-head self-attention over all positions, NTK parameterisation, σ_w = 1 (see {@link GlobalSelfAttention}).
     *
     * @param heads the number of heads, at least 1, dividing the feature size
     * @return the layer
     * @throws IllegalArgumentException if {@code heads} &lt; 1
     */
    public static Layer globalSelfAttention(int heads) {
        return new GlobalSelfAttention(heads, 1.0, Parameterization.NTK);
    }

    /**
     * Layers applied one after another.
     *
     * @param layers the layers, in application order
     * @return the layer
     */
    public static Layer serial(Layer... layers) {
        return new Serial(Arrays.asList(layers));
    }

    /**
     * Layer i applied to input i (after a {@link #fanOut}).
     *
     * @param layers the branches, at least one
     * @return the layer
     * @throws IllegalArgumentException if no layer is given
     */
    public static Layer parallel(Layer... layers) {
        return new Parallel(Arrays.asList(layers));
    }

    /**
     * Copies its one input into {@code n} outputs.
     *
     * @param n the number of copies, at least 1
     * @return the layer
     * @throws IllegalArgumentException if {@code n} &lt; 1
     */
    public static Layer fanOut(int n) {
        return new FanOut(n);
    }

    /**
     * Sums its inputs elementwise (the end of a residual block).
     *
     * @return the layer
     */
    public static Layer fanInSum() {
        return new FanInSum();
    }

    /**
     * A residual block: x + f(x), i.e. serial(fanOut(2), parallel(f, identity), fanInSum).
     *
     * @param f the layers of the residual branch, applied in series
     * @return the layer
     */
    public static Layer residual(Layer... f) {
        return serial(fanOut(2), parallel(serial(f), identity()), fanInSum());
    }
}
