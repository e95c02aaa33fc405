package org.ntk4j.infinite;

import java.util.Locale;
import org.ntk4j.nn.ModelSpec;

/**
 * The Gaussian expectations ("dual activations") that carry a layer's 2 × 2 covariance through an activation φ in
 * the infinite-width recursions of every architecture ({@link FcnLimit}, and any limit built from the same
 * layers): for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]}.
 */
final class ActivationDuals {
    private ActivationDuals() {
    }

    /**
     * {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]} for (u, v) ~ N(0, [[k11, k12], [k12, k22]]).
     *
     * @param act the activation φ
     * @param k11 Var u, at least 0
     * @param k22 Var v, at least 0
     * @param k12 Cov(u, v), with k12² ≤ k11 k22 up to rounding
     * @return the four expectations
     */
    static double[] of(FcnLimit.Act act, double k11, double k22, double k12) {
        switch (act) {
            case RELU:
                return relu(k11, k22, k12);
            case ERF:
                return erf(k11, k22, k12);
            default:
                throw new AssertionError(act);
        }
    }

    /**
     * The option act of a zoo spec, as an activation with a limit; refuses the others in one line naming the model.
     *
     * @param s the spec
     * @return the activation
     * @throws IllegalArgumentException for an activation without an analytic limit
     */
    static FcnLimit.Act parse(ModelSpec s) {
        String a = s.string("act", "relu").toLowerCase(Locale.ROOT);
        if (a.equals("relu")) {
            return FcnLimit.Act.RELU;
        } else if (a.equals("erf")) {
            return FcnLimit.Act.ERF;
        }
        throw new IllegalArgumentException("--infinite: the analytic infinite-width kernels are implemented for "
                + InfiniteLimit.SUPPORTED + " only, not act=" + a);
    }

    static double[] relu(double k11, double k22, double k12) {
        if (!(k11 > 0 && k22 > 0)) {
            // u or v is 0 almost surely: φ = 0 and φ'(0) = 0 (relu's derivative is that of x > 0)
            return new double[] {k11 / 2, k22 / 2, 0, 0};
        }
        // √(k11 k22): no overflow or underflow of the product, and exactly k11 when the variances are equal, so that
        // identical inputs keep c = 1 exactly through the layers (near c = 1, θ = arccos c turns a rounding ε of c
        // into an error √(2ε) ≈ 1e-8 of θ, and of E[φ'φ'] = (π − θ)/(2π))
        double norm = k11 == k22 ? k11 : Math.sqrt(k11) * Math.sqrt(k22);
        double c = Math.max(-1, Math.min(1, k12 / norm));
        double theta = Math.acos(c);
        // J(θ) = (sin θ + (π − θ) cos θ)/(2π) before the product: exactly 1/2 at θ = 0, E[φ(u)²] = k11/2 to the bit
        double j = (Math.sin(theta) + (Math.PI - theta) * c) / (2 * Math.PI);
        return new double[] {k11 / 2, k22 / 2, norm * j, (Math.PI - theta) / (2 * Math.PI)};
    }

    static double[] erf(double k11, double k22, double k12) {
        double a = 1 + 2 * k11;
        double b = 1 + 2 * k22;
        // √(ab) without overflow of the product, and exactly a for equal variances (as relu's norm)
        double sab = a == b ? a : Math.sqrt(a) * Math.sqrt(b);
        double ee = 2 / Math.PI * Math.asin(Math.max(-1, Math.min(1, 2 * k12 / sab)));
        double e11 = 2 / Math.PI * Math.asin(2 * k11 / a);
        double e22 = 2 / Math.PI * Math.asin(2 * k22 / b);
        // ab − 4k12² expanded as 1 + 2k11 + 2k22 + 4(k11 k22 − k12²): no difference of two large products (which
        // lost all digits of 1 + 4k for identical inputs of large variance k); k11 k22 − k12² ≥ 0, rounding aside
        double det = 1 + 2 * k11 + 2 * k22 + 4 * Math.max(0, k11 * k22 - k12 * k12);
        double ed = 4 / Math.PI / Math.sqrt(det);
        return new double[] {e11, e22, ee, ed};
    }
}
