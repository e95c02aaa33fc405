package org.ntk4j.io;

import java.util.Locale;
import org.ntk4j.tensor.Tensor;

/**
 * Standardisation fitted on a training set and applied unchanged to any other set (test data must not leak
 * into the statistics):
 * <ul>
 *   <li>{@link Mode#GLOBAL} (the default): one mean μ and one standard deviation σ over every element of the
 *       training inputs, x' = (x − μ) / σ. This is neural-tangents' {@code _partial_flatten_and_normalize}
 *       (examples/datasets.py), except that μ and σ come from the training set alone;</li>
 *   <li>{@link Mode#PER_FEATURE}: a mean and a standard deviation per feature (pixel); a feature constant on the
 *       training set (every value the same, e.g. an always-black border pixel) is only centred, not divided;</li>
 *   <li>{@link Mode#NONE}: identity (inputs as loaded; Fashion-MNIST pixels are in [0, 1]).</li>
 * </ul>
 * Statistics are accumulated in double precision (two passes: mean, then centred squares, which avoids the
 * cancellation of E[x²] − E[x]²), on the values scaled by a power of two into [−2, 2) (exactly, so that inputs as
 * large as 1e300 do not overflow the squares); σ is the population standard deviation (divide by the count, as
 * {@code np.std}).
 *
 * <pre>{@code
 * Standardizer s = Standardizer.fit(train.x(), Standardizer.Mode.GLOBAL);
 * try (Dataset trainStd = s.apply(train); Dataset testStd = s.apply(test)) { ... }
 * }</pre>
 */
public final class Standardizer {
    /** What statistics are fitted. */
    public enum Mode {
        /** One mean and one standard deviation over every element of the training inputs. */
        GLOBAL,
        /** A mean and a standard deviation per feature; constant features are only centred. */
        PER_FEATURE,
        /** No standardisation: the inputs as loaded. */
        NONE;

        /**
         * Parses {@code global}, {@code per-feature} (or {@code per_feature}) or {@code none}, ignoring case and
         * surrounding blanks.
         *
         * @param text the option value
         * @return the mode
         * @throws IllegalArgumentException for any other text
         */
        public static Mode parse(String text) {
            String t = text.trim().toLowerCase(Locale.ROOT).replace('_', '-');
            switch (t) {
                case "global":
                    return GLOBAL;
                case "per-feature":
                    return PER_FEATURE;
                case "none":
                    return NONE;
                default:
                    throw new IllegalArgumentException("standardisation: expected global, per-feature or none, got '"
                            + text + "'");
            }
        }

        /**
         * The mode as {@code --standardize} spells it and {@link #parse} reads it: global, per-feature or none.
         *
         * @return the option's value
         */
        public String optionName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** How many of the fitted standard deviations are 0 (GLOBAL: 0 or 1; PER_FEATURE: constant features). */
    private final int constant;
    private final Mode mode;
    /** Per-feature (length D) or single-element (GLOBAL) statistics; empty for NONE. */
    private final double[] mean;
    /** The standard deviations as fitted (1 for a constant feature or set); {@link #invStd} is 1 / each. */
    private final double[] std;
    private final double[] invStd;

    private Standardizer(Mode mode, double[] mean, double[] std, int constant) {
        this.mode = mode;
        this.mean = mean;
        this.std = std;
        this.invStd = new double[std.length];
        for (int i = 0; i < std.length; i++) {
            invStd[i] = 1 / std[i];
        }
        this.constant = constant;
    }

    /**
     * A standardisation of statistics fitted before (by {@link #fit}, and kept as {@link #mean()} and
     * {@link #std()}, e.g. in a training checkpoint's record): it applies exactly as the fitted one did, bit for bit.
     *
     * @param mode the mode the statistics were fitted for
     * @param mean the means: GLOBAL, one; PER_FEATURE, one per feature; NONE, none
     * @param std the standard deviations, laid out as {@code mean}, each finite and positive (1 for a constant
     *     feature, which is only centred)
     * @return the standardisation; its {@link #allConstant()} is false (which features were constant is the fit's
     *     to tell, and it warned of them then)
     * @throws IllegalArgumentException if the lengths do not fit the mode or a value is not finite, or a σ is not
     *     positive
     */
    public static Standardizer of(Mode mode, double[] mean, double[] std) {
        if (mode == null || mean == null || std == null) {
            throw new IllegalArgumentException("standardisation: mode, mean and std must not be null");
        }
        int expected = mode == Mode.NONE ? 0 : mode == Mode.GLOBAL ? 1 : mean.length;
        if (mean.length != expected || std.length != expected || mode == Mode.PER_FEATURE && expected == 0) {
            throw new IllegalArgumentException("standardisation: "
                    + mode.optionName() + " expected "
                    + (mode == Mode.PER_FEATURE ? "one mean and one std per feature (at least one)"
                    : expected + " mean(s) and std(s)") + ", got " + mean.length + " and " + std.length);
        }
        for (int i = 0; i < expected; i++) {
            if (!Double.isFinite(mean[i]) || !Double.isFinite(std[i]) || !(std[i] > 0)) {
                throw new IllegalArgumentException("standardisation: expected a finite mean and a finite positive "
                        + "std, got mean " + mean[i] + " and std " + std[i] + " at " + i);
            }
        }
        return new Standardizer(mode, mean.clone(), std.clone(), 0);
    }

    /**
     * Fits the statistics of {@code mode} on training inputs [N, ...].
     *
     * @param train the training inputs [N, ...], N at least 1; read, left open
     * @param mode what to fit
     * @return the fitted standardisation
     * @throws IllegalArgumentException if {@code train} or {@code mode} is null, {@code train} has no examples, or
     *     (GLOBAL, PER_FEATURE) it holds NaN or ±∞: one such value would make the statistics, and so every
     *     standardised input, NaN
     */
    public static Standardizer fit(Tensor train, Mode mode) {
        if (train == null || mode == null) {
            throw new IllegalArgumentException("standardisation: " + (train == null ? "the training inputs" : "mode")
                    + " must not be null");
        }
        if (train.rank() < 1 || train.dim(0) < 1) {
            throw new IllegalArgumentException("standardisation: the training inputs have no examples");
        }
        if (mode != Mode.NONE) { // NONE fits nothing: a NaN stays where it is, for the kernel's check to name
            org.ntk4j.cpu.Reduce.requireFinite("standardisation: the training inputs", train);
        }
        int n = train.dim(0);
        int d = train.size() / n;
        switch (mode) {
            case NONE:
                return new Standardizer(mode, new double[0], new double[0], 0);
            case GLOBAL: {
                int size = train.size();
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < size; i++) {
                    double v = train.getFlat(i);
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                if (min == max) {
                    // constant: centred on the value itself, so every input becomes exactly 0 (the mean of the
                    // sum, and a σ of rounding errors, would leave ±1 where there is nothing)
                    return new Standardizer(mode, new double[] {min}, new double[] {1}, 1);
                }
                int e = scaleExponent(min, max);
                double unit = Math.scalb(1.0, -e);
                double sum = 0;
                for (int i = 0; i < size; i++) {
                    sum += train.getFlat(i) * unit;
                }
                double mu = sum / size;
                double sq = 0;
                for (int i = 0; i < size; i++) {
                    double c = train.getFlat(i) * unit - mu;
                    sq += c * c;
                }
                return new Standardizer(mode, new double[] {Math.scalb(mu, e)},
                        new double[] {Math.scalb(Math.sqrt(sq / size), e)}, 0);
            }
            case PER_FEATURE: {
                double[] mu = new double[d];
                double[] min = new double[d];
                double[] max = new double[d];
                java.util.Arrays.fill(min, Double.POSITIVE_INFINITY);
                java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < d; j++) {
                        double v = train.getFlat(e * d + j);
                        min[j] = Math.min(min[j], v);
                        max[j] = Math.max(max[j], v);
                    }
                }
                int[] exponent = new int[d];
                double[] unit = new double[d];
                for (int j = 0; j < d; j++) {
                    exponent[j] = scaleExponent(min[j], max[j]);
                    unit[j] = Math.scalb(1.0, -exponent[j]);
                }
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < d; j++) {
                        mu[j] += train.getFlat(e * d + j) * unit[j];
                    }
                }
                for (int j = 0; j < d; j++) {
                    mu[j] /= n; // scaled; a constant feature's is replaced by its value below
                }
                double[] sd = new double[d];
                int constant = 0;
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < d; j++) {
                        double c = train.getFlat(e * d + j) * unit[j] - mu[j];
                        sd[j] += c * c;
                    }
                }
                for (int j = 0; j < d; j++) {
                    boolean flat = min[j] == max[j];
                    mu[j] = flat ? min[j] : Math.scalb(mu[j], exponent[j]);
                    sd[j] = flat ? 1 : Math.scalb(Math.sqrt(sd[j] / n), exponent[j]);
                    constant += flat ? 1 : 0;
                }
                return new Standardizer(mode, mu, sd, constant);
            }
            default:
                throw new AssertionError(mode);
        }
    }

    /**
     * The exponent e of the power of two 2^e ≤ max(|min|, |max|) &lt; 2^(e+1) by which the statistics are computed:
     * on values scaled into [1, 2), the sums and squares of inputs as large as 1e300 do not overflow (before
     * 2026-12-07 the squares of inputs above about 1e154 did: σ = ∞, and every standardised input was 0, silently).
     * A power of two scales exactly, so the statistics of ordinary inputs are the unscaled computation's, bit for
     * bit.
     */
    private static int scaleExponent(double min, double max) {
        double largest = Math.max(Math.abs(min), Math.abs(max));
        return largest == 0 ? 0 : Math.getExponent(largest);
    }

    /**
     * The mode fitted.
     *
     * @return the mode
     */
    public Mode mode() {
        return mode;
    }

    /**
     * The fitted mean.
     *
     * @return a copy: GLOBAL, one value; PER_FEATURE, one per feature; NONE, empty
     */
    public double[] mean() {
        return mean.clone();
    }

    /**
     * True when the fit found no variation to scale by: GLOBAL on constant inputs, PER_FEATURE when every feature
     * is constant. The standardised inputs are then all zeros.
     *
     * @return whether the inputs (GLOBAL) or all their features (PER_FEATURE) are constant; false for NONE
     */
    public boolean allConstant() {
        return mode != Mode.NONE && constant == invStd.length;
    }

    /**
     * The fitted standard deviations.
     *
     * @return a copy, laid out as {@link #mean()}; a constant feature or set reports 1 (it is not scaled)
     */
    public double[] std() {
        return std.clone();
    }

    /**
     * A new tensor (same dtype and shape) with the fitted standardisation applied; the caller closes it.
     *
     * @param x inputs [N, ...] with the training data's features per example; left open
     * @return the standardised copy, which the caller closes (a plain copy for NONE)
     * @throws IllegalArgumentException for PER_FEATURE when x's features per example differ from the fit's
     */
    public Tensor apply(Tensor x) {
        Tensor out = x.copy();
        if (mode == Mode.NONE) {
            return out;
        }
        int n = x.dim(0);
        int d = x.size() / n;
        if (mode == Mode.PER_FEATURE && d != mean.length) {
            out.close();
            throw new IllegalArgumentException("standardisation: fitted on " + mean.length
                    + " features per example, applied to data with " + d);
        }
        int size = x.size();
        for (int i = 0; i < size; i++) {
            int j = mode == Mode.GLOBAL ? 0 : i % d;
            out.setFlat(i, (x.getFlat(i) - mean[j]) * invStd[j]);
        }
        return out;
    }

    /**
     * A new dataset with standardised inputs and the same labels; the caller closes it.
     *
     * @param data the dataset; left open
     * @return the new dataset, which the caller closes
     * @throws IllegalArgumentException as {@link #apply(Tensor)}
     */

    public Dataset apply(Dataset data) {
        return data.withX(apply(data.x()));
    }

    @Override
    public String toString() {
        if (mode == Mode.GLOBAL) {
            return String.format(Locale.ROOT, "global (mean %.6g, std %.6g)", mean[0], 1 / invStd[0]);
        }
        return mode == Mode.NONE ? "none" : "per-feature (" + mean.length + " features)";
    }
}
