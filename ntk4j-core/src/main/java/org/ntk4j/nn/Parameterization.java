package org.ntk4j.nn;

/**
 * How a weighted layer scales its weights (neural-tangents' {@code parameterization}).
 * <ul>
 *   <li>{@link #NTK}: W ~ N(0, 1), b ~ N(0, 1), y = (σ_w/√fan_in)·x·W + σ_b·b;</li>
 *   <li>{@link #STANDARD}: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²), y = x·W + b.</li>
 * </ul>
 * Both give the same function at initialisation in distribution; their NTKs differ by how the scale enters
 * the gradient.
 */
public enum Parameterization {
    /** W ~ N(0, 1), the scale σ_w/√fan_in applied in the forward pass. */
    NTK,
    /** W ~ N(0, σ_w²/fan_in), no scale in the forward pass. */
    STANDARD;

    /**
     * Parses {@code ntk} or {@code standard} ({@code std} too), in any case.
     *
     * @param text the name
     * @return the parameterisation
     * @throws IllegalArgumentException for any other text
     */
    public static Parameterization parse(String text) {
        switch (text.toLowerCase(java.util.Locale.ROOT)) {
            case "ntk":
                return NTK;
            case "standard":
            case "std":
                return STANDARD;
            default:
                throw new IllegalArgumentException("parameterization: expected ntk or standard, got '" + text + "'");
        }
    }
}
