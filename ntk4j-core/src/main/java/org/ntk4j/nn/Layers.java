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

    public static Layer dense(int out) {
        return new Dense(out, 1.0, 0.0, Parameterization.NTK);
    }

    public static Layer dense(int out, double wStd, double bStd, Parameterization p) {
        return new Dense(out, wStd, bStd, p);
    }

    public static Layer relu() {
        return new Activation(Activation.Kind.RELU);
    }

    public static Layer leakyRelu(double alpha) {
        return new Activation(Activation.Kind.LEAKY_RELU, alpha);
    }

    public static Layer erf() {
        return new Activation(Activation.Kind.ERF);
    }

    public static Layer tanh() {
        return new Activation(Activation.Kind.TANH);
    }

    public static Layer sigmoid() {
        return new Activation(Activation.Kind.SIGMOID);
    }

    public static Layer gelu() {
        return new Activation(Activation.Kind.GELU);
    }

    public static Layer softplus() {
        return new Activation(Activation.Kind.SOFTPLUS);
    }

    public static Layer sin() {
        return new Activation(Activation.Kind.SIN);
    }

    public static Layer identity() {
        return new Activation(Activation.Kind.IDENTITY);
    }

    /** 2-D convolution, NTK parameterisation, σ_w = 1, no bias. */
    public static Layer conv(int out, int[] filter, int[] strides, String padding) {
        return new Conv(out, filter, strides, padding, 1.0, 0.0, Parameterization.NTK);
    }

    public static Layer conv(int out, int[] filter, int[] strides, String padding, double wStd, double bStd,
                             Parameterization p) {
        return new Conv(out, filter, strides, padding, wStd, bStd, p);
    }

    public static Layer avgPool(int[] window, int[] strides, String padding) {
        return new AvgPool(window, strides, padding);
    }

    /** Concatenation of the inputs along per-example axis {@code axis} (-1: channels). */
    public static Layer fanInConcat(int axis) {
        return new FanInConcat(axis);
    }

    public static Layer flatten() {
        return new Flatten();
    }

    public static Layer globalAvgPool() {
        return new GlobalAvgPool();
    }

    public static Layer layerNorm() {
        return new LayerNorm(1e-5);
    }

    public static Layer batchNorm() {
        return new BatchNorm(1e-5);
    }

    public static Layer globalSelfAttention(int heads) {
        return new GlobalSelfAttention(heads, 1.0, Parameterization.NTK);
    }

    public static Layer serial(Layer... layers) {
        return new Serial(Arrays.asList(layers));
    }

    public static Layer parallel(Layer... layers) {
        return new Parallel(Arrays.asList(layers));
    }

    public static Layer fanOut(int n) {
        return new FanOut(n);
    }

    public static Layer fanInSum() {
        return new FanInSum();
    }

    /** A residual block: x + f(x), i.e. serial(fanOut(2), parallel(f, identity), fanInSum). */
    public static Layer residual(Layer... f) {
        return serial(fanOut(2), parallel(serial(f), identity()), fanInSum());
    }
}
