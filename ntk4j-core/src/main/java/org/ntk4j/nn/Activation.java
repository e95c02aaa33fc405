package org.ntk4j.nn;

import java.util.Locale;
import org.ntk4j.graph.Var;

/** Elementwise nonlinearities (no parameters). */
public final class Activation extends SingleLayer {
    /** The functions, with their formulas. */
    public enum Kind {
        /** max(x, 0). */
        RELU,
        /** max(x, αx) for 0 ≤ α ≤ 1. */
        LEAKY_RELU,
        /** erf(x). */
        ERF,
        /** tanh(x). */
        TANH,
        /** 1/(1+e^-x). */
        SIGMOID,
        /** x·Φ(x) = x/2·(1 + erf(x/√2)) (the exact GELU). */
        GELU,
        /** ln(1 + e^x). */
        SOFTPLUS,
        /** sin(x). */
        SIN,
        /** x. */
        IDENTITY
    }

    /**
     * The negative slope of {@link Kind#LEAKY_RELU} when none is given: the zoo's {@code act=leaky_relu} without a
     * {@code slope} option has this slope.
     */
    public static final double DEFAULT_LEAKY_RELU_ALPHA = 0.01;

    private final Kind kind;
    private final double alpha;

    /**
     * An activation with an explicit parameter.
     *
     * @param kind the function
     * @param alpha the negative slope for {@link Kind#LEAKY_RELU}, in [0, 1]; ignored by the other kinds
     * @throws IllegalArgumentException if {@code kind} is leaky_relu and {@code alpha} is outside [0, 1] or NaN
     */
    public Activation(Kind kind, double alpha) {
        this.kind = kind;
        this.alpha = alpha;
        if (kind == Kind.LEAKY_RELU && !(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException("leaky_relu: alpha must be in [0, 1], got " + alpha);
        }
    }

    /**
     * An activation with the default parameter (negative slope {@link #DEFAULT_LEAKY_RELU_ALPHA} for
     * {@link Kind#LEAKY_RELU}).
     *
     * @param kind the function
     */
    public Activation(Kind kind) {
        this(kind, kind == Kind.LEAKY_RELU ? DEFAULT_LEAKY_RELU_ALPHA : 0);
    }

    /**
     * Parses relu, leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity (any case).
     *
     * @param name the activation's name
     * @return the activation, with the default parameter
     * @throws IllegalArgumentException if the name is none of those
     */
    public static Activation parse(String name) {
        try {
            return new Activation(Kind.valueOf(name.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("act: unknown activation '" + name
                    + "'; expected one of relu, leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity");
        }
    }

    /**
     * The function.
     *
     * @return the kind of this activation
     */
    public Kind function() {
        return kind;
    }

    /**
     * The negative slope α of {@link Kind#LEAKY_RELU}.
     *
     * @return α for leaky_relu; for the other kinds the (ignored) parameter they were built with
     */
    public double negativeSlope() {
        return alpha;
    }

    @Override
    public String kind() {
        return kind.name().toLowerCase(Locale.ROOT);
    }

    @Override
    int[] outputShape(int[] in) {
        return in;
    }

    @Override
    Var apply(ParamScope scope, Var x) {
        switch (kind) {
            case RELU:
                return x.relu();
            case LEAKY_RELU:
                return x.max(x.mul(alpha));
            case ERF:
                return x.erf();
            case TANH:
                return x.tanh();
            case SIGMOID:
                return x.sigmoid();
            case GELU:
                return x.mul(x.mul(1 / Math.sqrt(2)).erf().add(1.0)).mul(0.5);
            case SOFTPLUS:
                return x.softplus();
            case SIN:
                return x.sin();
            case IDENTITY:
                return x;
            default:
                throw new AssertionError(kind);
        }
    }
}
