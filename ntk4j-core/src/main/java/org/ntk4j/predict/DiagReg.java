package org.ntk4j.predict;

import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The diagonal regulariser of a train-train kernel, K + r·I: neural-tangents' {@code diag_reg} together with its
 * {@code diag_reg_absolute_scale}, as one immutable value that {@link GradientDescentMse}, {@link GpInference},
 * {@link GradientDescentMseEnsemble}, {@link GradientDescentOde} and {@link PredictRequest} take.
 * <ul>
 *   <li>{@link #relative(double) relative(d)}: r = d · trace(K)/dim, d times the mean diagonal of the kernel
 *       it is added to ({@code diag_reg=d, diag_reg_absolute_scale=False}, neural-tangents' default reading;
 *       {@code ntk4j predict --diag-reg d});</li>
 *   <li>{@link #absolute(double) absolute(d)}: r = d whatever the kernel ({@code diag_reg=d,
 *       diag_reg_absolute_scale=True}; {@code ntk4j predict --diag-reg d --diag-reg-absolute});</li>
 *   <li>{@link #NONE}: r = 0 for every kernel, absolute(0) ({@code diag_reg=0., diag_reg_absolute_scale=True};
 *       {@code ntk4j predict --diag-reg 0 --diag-reg-absolute}).</li>
 * </ul>
 * neural-tangents' default, {@code diag_reg=0.} with {@code diag_reg_absolute_scale=False}, is {@code relative(0)}
 * (as {@code ntk4j predict --diag-reg 0}), not {@link #NONE}: it gives r = 0 too for a kernel of finite trace,
 * but reads "0.0 × mean diagonal" in reports, and a kernel whose diagonal is 0, which no relative diag_reg can
 * regularise, is refused with the hint to use an absolute one.
 * dim is the kernel's matrix dimension: N for an N×N kernel (acting on the O outputs as K ⊗ I_O, whose mean
 * diagonal is the same), N·O for a full [N, N, O, O] kernel read as the NO×NO matrix. The value is checked once,
 * here (finite and ≥ 0; −0 is kept as given, for the reports, and equals 0), so that a solver taking it need not.
 * Two regularisers are equal when their values and scales are (a relative and an absolute 0 both give r = 0 but are
 * not equal: they say different things in a report).
 */
public final class DiagReg {
    /** No regulariser: r = 0 for every kernel (the absolute 0, which reads no trace). */
    public static final DiagReg NONE = new DiagReg(0, true);

    private final double value;
    private final boolean absolute;

    private DiagReg(double value, boolean absolute) {
        this.value = value;
        this.absolute = absolute;
    }

    /**
     * r = diagReg · trace(K)/dim, relative to the mean diagonal of the kernel K it is added to: neural-tangents'
     * {@code diag_reg=diagReg} with {@code diag_reg_absolute_scale=False} (its default).
     *
     * @param diagReg the multiple of the mean diagonal, finite and ≥ 0
     * @return the regulariser
     * @throws IllegalArgumentException if diagReg is negative, NaN or infinite
     */
    public static DiagReg relative(double diagReg) {
        check(diagReg);
        return new DiagReg(diagReg, false);
    }

    /**
     * r = diagReg, added to the diagonal as it is whatever the kernel: neural-tangents' {@code diag_reg=diagReg}
     * with {@code diag_reg_absolute_scale=True}.
     *
     * @param diagReg r itself, finite and ≥ 0
     * @return the regulariser ({@link #NONE} is equal to {@code absolute(0)})
     * @throws IllegalArgumentException if diagReg is negative, NaN or infinite
     */
    public static DiagReg absolute(double diagReg) {
        check(diagReg);
        return new DiagReg(diagReg, true);
    }

    private static void check(double diagReg) {
        if (!(diagReg >= 0) || Double.isInfinite(diagReg)) {
            throw new IllegalArgumentException("diag_reg: expected a finite number >= 0, got " + diagReg);
        }
    }

    /**
     * The value as given: neural-tangents' {@code diag_reg}.
     *
     * @return the multiple of the mean diagonal, or r itself when {@link #isAbsolute()}
     */
    public double value() {
        return value;
    }

    /**
     * Whether the value is r itself: neural-tangents' {@code diag_reg_absolute_scale}.
     *
     * @return true for {@link #absolute} (and {@link #NONE}), false for {@link #relative}
     */
    public boolean isAbsolute() {
        return absolute;
    }

    /**
     * r for a kernel held as a {@link KernelMatrix}: value · trace/dimension (N for an N×N kernel, N·O for a full
     * one), or the value itself when absolute.
     *
     * @param kernel the train-train kernel r is added to (not closed)
     * @return r
     * @throws IllegalArgumentException if the kernel is null
     * @throws IllegalStateException if the kernel is closed (whatever the scale)
     */
    public double regulariser(KernelMatrix kernel) {
        if (kernel == null) {
            throw new IllegalArgumentException("kernel: expected a train-train kernel, got null");
        }
        double trace = kernel.trace(); // read with the absolute scale too: a closed kernel is refused either way
        return absolute ? value : value * trace / kernel.dimension();
    }

    /**
     * r for a kernel held in a tensor: [N, N] (trace over N) or the full [N, N, O, O] (the NO×NO matrix of
     * {@link KernelMatrix#of(Tensor)}: the trace Σ_n Σ_o K[n, n, o, o] over N·O), float32 or float64; the value
     * itself when absolute. The trace is summed in the order of {@link #regulariser(KernelMatrix)}, so both give
     * the same r for the same kernel.
     *
     * @param kernel the train-train kernel r is added to (not closed)
     * @return r
     * @throws IllegalArgumentException if the kernel is null or not [N, N] or [N, N, O, O]
     */
    public double regulariser(Tensor kernel) {
        int[] s = kernel == null ? null : kernel.shape();
        if (s == null || !(s.length == 2 && s[0] == s[1]) && !(s.length == 4 && s[0] == s[1] && s[2] == s[3])) {
            throw new IllegalArgumentException("kernel: expected a train-train kernel [N, N] or [N, N, O, O], got "
                    + (s == null ? "null" : Shapes.str(s)));
        }
        if (absolute) {
            return value;
        }
        int n = s[0];
        int o = s.length == 4 ? s[2] : 1;
        int dim = n * o; // a tensor holds fewer than 2^31 entries: N·O fits an int
        double trace = 0;
        for (int i = 0; i < dim; i++) {
            // row i of the NO×NO matrix is (example i / O, output i % O); its diagonal entry is K[n, n, a, a]
            int example = i / o;
            int output = i % o;
            trace += kernel.getFlat(((example * n + example) * o + output) * o + output);
        }
        return value * trace / dim;
    }

    /**
     * For reports: {@code "1.0E-4 × mean diagonal"} (relative), {@code "0.01 absolute"}, or {@code "none"} for
     * the absolute 0 ({@link #NONE}); the value as {@link Double#toString(double)} writes it, whatever the locale.
     *
     * @return the regulariser in words
     */
    @Override
    public String toString() {
        if (absolute && value == 0) {
            return "none";
        }
        return value + (absolute ? " absolute" : " × mean diagonal");
    }

    /**
     * Equal to another regulariser with the same value and scale, −0 being 0 (absolute(−0) is {@link #NONE}: both
     * give r = 0 for every kernel, and both read "none"); the values are otherwise compared as
     * {@link Double#compare}.
     *
     * @param o the other object
     * @return whether o is an equal regulariser
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof DiagReg d && Double.compare(d.value + 0.0, value + 0.0) == 0 && d.absolute == absolute;
    }

    /**
     * A hash code consistent with {@link #equals}.
     *
     * @return the hash code
     */
    @Override
    public int hashCode() {
        return 31 * Double.hashCode(value + 0.0) + Boolean.hashCode(absolute); // −0 + 0.0 is 0, as in equals
    }
}
