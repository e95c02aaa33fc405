package org.ntk4j.predict;

import java.util.Locale;

/**
 * A training loss L(f, y) on outputs f [N, O] and targets y [N, O] (row-major, flat), with its gradient in
 * function space ∂L/∂f. Both losses are means over the |y| = N·O target entries, as neural-tangents' MSE
 * ({@code gradient_descent_mse}: 1/(2|y|)‖f − y‖²) and the cross-entropy of its {@code gradient_descent} example
 * ({@code -np.mean(log_softmax(fx) * y_hat)}).
 */
public enum Loss {
    /** 1/(2|y|) Σ (f − y)²; ∂L/∂f = (f − y)/|y|. */
    MSE,
    /** −1/|y| Σ_n Σ_o y_no log softmax(f_n)_o; ∂L/∂f_no = (softmax(f_n)_o Σ_o' y_no' − y_no)/|y|. */
    CROSS_ENTROPY;

    /**
     * Parses a loss name, case-insensitive, ignoring surrounding blanks.
     *
     * @param text {@code mse}, or {@code cross-entropy} (also {@code cross_entropy}, {@code crossentropy},
     *     {@code ce}, {@code xent})
     * @return the loss
     * @throws IllegalArgumentException for any other name
     */
    public static Loss parse(String text) {
        switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "mse":
                return MSE;
            case "cross-entropy":
            case "cross_entropy":
            case "crossentropy":
            case "ce":
            case "xent":
                return CROSS_ENTROPY;
            default:
                throw new IllegalArgumentException("--loss: expected mse or cross-entropy, got '" + text + "'");
        }
    }

    /**
     * The name the CLI takes ({@code --loss}).
     *
     * @return {@code "mse"} or {@code "cross-entropy"}
     */
    public String shortName() {
        return this == MSE ? "mse" : "cross-entropy";
    }

    /**
     * The loss value, a mean over the N·O target entries.
     *
     * @param f outputs, N rows of O, row-major
     * @param y targets, same layout and length as {@code f}
     * @param outputs O, the row length
     * @return L(f, y)
     */
    public double value(double[] f, double[] y, int outputs) {
        double s = 0;
        if (this == MSE) {
            for (int i = 0; i < f.length; i++) {
                double d = f[i] - y[i];
                s += d * d;
            }
            return s / (2.0 * f.length);
        }
        for (int r = 0; r < f.length / outputs; r++) {
            double lse = logSumExp(f, r * outputs, outputs);
            for (int o = 0; o < outputs; o++) {
                int i = r * outputs + o;
                s -= y[i] * (f[i] - lse);
            }
        }
        return s / f.length;
    }

    /**
     * The gradient ∂L/∂f in function space.
     *
     * @param f outputs, N rows of O, row-major
     * @param y targets, same layout and length as {@code f}
     * @param outputs O, the row length
     * @param out receives ∂L/∂f; same length as {@code f}
     */
    public void gradient(double[] f, double[] y, int outputs, double[] out) {
        double inv = 1.0 / f.length;
        if (this == MSE) {
            for (int i = 0; i < f.length; i++) {
                out[i] = (f[i] - y[i]) * inv;
            }
            return;
        }
        for (int r = 0; r < f.length / outputs; r++) {
            int base = r * outputs;
            double lse = logSumExp(f, base, outputs);
            double ySum = 0;
            for (int o = 0; o < outputs; o++) {
                ySum += y[base + o];
            }
            for (int o = 0; o < outputs; o++) {
                out[base + o] = (Math.exp(f[base + o] - lse) * ySum - y[base + o]) * inv;
            }
        }
    }

    private static double logSumExp(double[] f, int from, int n) {
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, f[from + i]);
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += Math.exp(f[from + i] - m);
        }
        return m + Math.log(s);
    }
}
