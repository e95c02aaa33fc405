package org.ntk4j.train;

import java.util.Locale;

/**
 * The update rule, with PyTorch's semantics ({@code torch.optim.SGD} and {@code torch.optim.Adam}, weight decay
 * added to the gradient as an L2 term): for a gradient g of parameter θ and learning rate η,
 * <ul>
 *   <li>SGD: g' = g + λθ; b ← μ b + g' (b = 0 at the start); θ ← θ − η b;</li>
 *   <li>Adam: g' = g + λθ; m ← β1 m + (1 − β1) g'; v ← β2 v + (1 − β2) g'²; at step t (from 1)
 *       θ ← θ − η (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε).</li>
 * </ul>
 *
 * @param kind SGD or Adam
 * @param momentum μ (SGD), in [0, 1)
 * @param weightDecay λ, at least 0
 * @param beta1 β1 (Adam), in [0, 1)
 * @param beta2 β2 (Adam), in [0, 1)
 * @param epsilon ε (Adam), positive
 */
public record Optimizer(Kind kind, double momentum, double weightDecay, double beta1, double beta2, double epsilon) {
    /** The two update rules. */
    public enum Kind {
        /** Stochastic gradient descent with (heavy-ball) momentum. */
        SGD,
        /** Adam (Kingma and Ba). */
        ADAM
    }

    /**
     * Checks the hyper-parameters.
     *
     * @param kind SGD or Adam
     * @param momentum μ (SGD), in [0, 1)
     * @param weightDecay λ, at least 0
     * @param beta1 β1 (Adam), in [0, 1)
     * @param beta2 β2 (Adam), in [0, 1)
     * @param epsilon ε (Adam), positive
     * @throws IllegalArgumentException if a value is out of range
     */
    public Optimizer {
        if (kind == null) {
            throw new IllegalArgumentException("optimizer: kind is null");
        }
        check("--momentum", momentum, 0, 1);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("--weight-decay: expected a finite value ≥ 0, got " + weightDecay);
        }
        check("--beta1", beta1, 0, 1);
        check("--beta2", beta2, 0, 1);
        if (!(epsilon > 0) || Double.isInfinite(epsilon)) {
            throw new IllegalArgumentException("--eps: expected a finite value > 0, got " + epsilon);
        }
    }

    private static void check(String name, double v, double lo, double hi) {
        if (!(v >= lo && v < hi)) {
            throw new IllegalArgumentException(name + ": expected a value in [" + lo + ", " + hi + "), got " + v);
        }
    }

    /**
     * SGD with momentum and weight decay.
     *
     * @param momentum μ, in [0, 1) (0: plain SGD)
     * @param weightDecay λ, at least 0
     * @return the optimizer
     * @throws IllegalArgumentException if a value is out of range
     */
    public static Optimizer sgd(double momentum, double weightDecay) {
        return new Optimizer(Kind.SGD, momentum, weightDecay, 0.9, 0.999, 1e-8);
    }

    /**
     * Adam.
     *
     * @param beta1 β1, in [0, 1) (PyTorch's default 0.9)
     * @param beta2 β2, in [0, 1) (PyTorch's default 0.999)
     * @param epsilon ε, positive (PyTorch's default 1e-8)
     * @param weightDecay λ, at least 0
     * @return the optimizer
     * @throws IllegalArgumentException if a value is out of range
     */
    public static Optimizer adam(double beta1, double beta2, double epsilon, double weightDecay) {
        return new Optimizer(Kind.ADAM, 0, weightDecay, beta1, beta2, epsilon);
    }

    /**
     * The names of the state buffers one parameter has: {@code momentum} for SGD (none without momentum),
     * {@code m} and {@code v} for Adam.
     *
     * @return the buffer names, in order
     */
    public String[] bufferNames() {
        if (kind == Kind.ADAM) {
            return new String[] {"m", "v"};
        }
        return momentum == 0 ? new String[0] : new String[] {"momentum"};
    }

    /**
     * A one-line description for reports and for checking that a resumed run has the same settings.
     *
     * @return e.g. {@code sgd(momentum=0.9, weight_decay=0.0005)}
     */
    public String describe() {
        if (kind == Kind.SGD) {
            return String.format(Locale.ROOT, "sgd(momentum=%s, weight_decay=%s)", momentum, weightDecay);
        }
        return String.format(Locale.ROOT, "adam(beta1=%s, beta2=%s, eps=%s, weight_decay=%s)", beta1, beta2,
                epsilon, weightDecay);
    }
}
