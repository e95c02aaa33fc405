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
        IDENTITY,
        /** |x| (neural-tangents' {@code Abs}, ABRelu(−1, 1)); derivative sign(x), 0 at 0 (as JAX's, torch's). */
        ABS,
        /** e^x (neural-tangents' {@code Exp()}); overflows float64 beyond x ≈ 709.78. */
        EXP,
        /** e^{−x²} (neural-tangents' {@code Gaussian()}, a = 1, b = −1: not the density's e^{−x²/2}). */
        GAUSSIAN,
        /** cos(x) (neural-tangents' {@code Cos()}, its Sin with the phase π/2). */
        COS,
        /** x·σ(x) = x/(1 + e^{−x}), SiLU or swish (β = 1); {@code swish} parses as this. */
        SILU,
        /** x for x &gt; 0, e^x − 1 otherwise (ELU with α = 1, continuously differentiable: φ'(0) = 1). */
        ELU
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
     * Parses relu, leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu
     * (or its other name swish) and elu (any case).
     *
     * @param name the activation's name
     * @return the activation, with the default parameter
     * @throws IllegalArgumentException if the name is none of those
     */
    public static Activation parse(String name) {
        String upper = name.toUpperCase(Locale.ROOT);
        try {
            return new Activation(upper.equals("SWISH") ? Kind.SILU : Kind.valueOf(upper));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("act: unknown activation '" + name + "'; expected one of relu, "
                    + "leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu "
                    + "(swish), elu");
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
            case ABS:
                // relu(x) + relu(−x): derivative sign(x), 0 at 0 (max(x, −x) would take −1 there)
                return x.relu().add(x.neg().relu());
            case EXP:
                return x.exp();
            case GAUSSIAN:
                return x.square().neg().exp();
            case COS:
                return x.cos();
            case SILU:
                return x.mul(x.sigmoid());
            case ELU:
                // relu(x) + e^{min(x, 0)} − 1, min(x, 0) = x − relu(x): its derivative at 0 is 1 − 0, so φ'(0) = 1 as
                // from either side (e^{−relu(−x)} would give 0 there), and e^0 − 1 = 0 exactly for x > 0
                return x.relu().add(x.sub(x.relu()).exp().sub(1.0));
            default:
                throw new AssertionError(kind);
        }
    }
}
