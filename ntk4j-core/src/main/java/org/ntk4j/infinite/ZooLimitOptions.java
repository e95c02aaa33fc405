package org.ntk4j.infinite;

import org.ntk4j.nn.Activation;
import org.ntk4j.nn.ModelSpec;

/**
 * What every zoo model's limit reads, checks and writes alike: the spec of its model, its activation, and σ_w and
 * σ_b.
 */
final class ZooLimitOptions {
    private ZooLimitOptions() {
    }

    /**
     * The spec, refusing another zoo model in the one line every limit gives.
     *
     * @param specText the model spec
     * @param model the zoo model the limit is of
     * @return the parsed spec
     * @throws IllegalArgumentException for a malformed spec or another model, naming what has a limit
     */
    static ModelSpec spec(String specText, String model) {
        ModelSpec s = ModelSpec.parse(specText);
        if (!s.name().equals(model)) {
            throw new IllegalArgumentException("--infinite: the analytic infinite-width kernels are implemented for "
                    + InfiniteLimit.SUPPORTED + " only, not '" + s.name() + "'");
        }
        return s;
    }

    /**
     * The activation as the spec's options write it: {@code act=tanh}, {@code act=leaky_relu, slope=0.2}.
     *
     * @param act the activation
     * @return its options
     */
    static String activation(Activation act) {
        return "act=" + act.kind() + (act.function() == Activation.Kind.LEAKY_RELU ? ", slope=" + act.negativeSlope()
                : "");
    }

    /**
     * Refuses a σ_w or σ_b that is negative, NaN or infinite.
     *
     * @param what the limit, as its messages name it ("fcn limit")
     * @param wStd σ_w
     * @param bStd σ_b
     */
    static void requireStandardDeviations(String what, double wStd, double bStd) {
        if (!(wStd >= 0 && bStd >= 0) || Double.isInfinite(wStd) || Double.isInfinite(bStd)) {
            throw new IllegalArgumentException(what + ": expected finite w_std >= 0 and b_std >= 0, got w_std "
                    + wStd + ", b_std " + bStd);
        }
    }
}
