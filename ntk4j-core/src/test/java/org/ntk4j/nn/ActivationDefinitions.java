package org.ntk4j.nn;

import java.util.function.DoubleUnaryOperator;
import org.ntk4j.primitive.ErfFunction;

/** Every activation φ and its derivative φ' written from their definitions, independently of the layers: oracles. */
public final class ActivationDefinitions {
    private ActivationDefinitions() {
    }

    /**
     * φ of a kind (leaky_relu with the default slope).
     *
     * @param kind the activation
     * @return φ
     */
    public static DoubleUnaryOperator of(Activation.Kind kind) {
        switch (kind) {
            case RELU:
                return x -> Math.max(x, 0);
            case LEAKY_RELU:
                return x -> x > 0 ? x : Activation.DEFAULT_LEAKY_RELU_ALPHA * x;
            case ERF:
                return ErfFunction::erf;
            case TANH:
                return Math::tanh;
            case SIGMOID:
                return x -> 1 / (1 + Math.exp(-x));
            case GELU:
                return x -> x / 2 * (1 + ErfFunction.erf(x / Math.sqrt(2)));
            case SOFTPLUS:
                return x -> Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
            case SIN:
                return Math::sin;
            case IDENTITY:
                return x -> x;
            case ABS:
                return Math::abs;
            case EXP:
                return Math::exp;
            case GAUSSIAN:
                return x -> Math.exp(-x * x);
            case COS:
                return Math::cos;
            case SILU:
                return x -> x / (1 + Math.exp(-x));
            case ELU:
                return x -> x > 0 ? x : Math.expm1(x);
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * φ' of a kind (at a kink, the left side's for relu, leaky_relu and abs: where it is evaluated, a kink has
     * measure zero).
     *
     * @param kind the activation
     * @return φ'
     */
    public static DoubleUnaryOperator derivative(Activation.Kind kind) {
        switch (kind) {
            case RELU:
                return x -> x > 0 ? 1 : 0;
            case LEAKY_RELU:
                return x -> x > 0 ? 1 : Activation.DEFAULT_LEAKY_RELU_ALPHA;
            case ERF:
                return x -> 2 / Math.sqrt(Math.PI) * Math.exp(-x * x);
            case TANH:
                return x -> 1 / (Math.cosh(x) * Math.cosh(x));
            case SIGMOID:
                return x -> 1 / ((1 + Math.exp(-x)) * (1 + Math.exp(x)));
            case GELU:
                return x -> (1 + ErfFunction.erf(x / Math.sqrt(2))) / 2
                        + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
            case SOFTPLUS:
                return x -> 1 / (1 + Math.exp(-x));
            case SIN:
                return Math::cos;
            case IDENTITY:
                return x -> 1;
            case ABS:
                return x -> x > 0 ? 1 : -1;
            case EXP:
                return Math::exp;
            case GAUSSIAN:
                return x -> -2 * x * Math.exp(-x * x);
            case COS:
                return x -> -Math.sin(x);
            case SILU:
                return x -> 1 / (1 + Math.exp(-x)) * (1 + x / (1 + Math.exp(x)));
            case ELU:
                return x -> x > 0 ? 1 : Math.exp(x);
            default:
                throw new AssertionError(kind);
        }
    }
}
