package org.ntk4j.ntk;

import java.util.Locale;

/** The exact empirical-NTK algorithms of Novak, Sohl-Dickstein &amp; Schoenholz (ICML 2022), and AUTO. */
public enum Method {
    /**
     * Chooses the cheapest method that fits the memory budget, from exact FLOP and byte counts (NTK-vector
     * products' FLOPs weighted by their lower rate, {@link #VP_FLOP_WEIGHT}).
     */
    AUTO("auto"),
    /** Per-example parameter Jacobians, contracted per parameter: N·O·[FP] + N²·O²·P. */
    JACOBIAN_CONTRACTION("jc"),
    /** Θ·v = J1 (J2ᵀ v): a VJP then a JVP, batched over the N2·O basis vectors: about N²·O·[FP]. */
    NTK_VECTOR_PRODUCTS("vp"),
    /** Cotangents at the parameter consumers, contracted through the structure of ∂y/∂w. */
    STRUCTURED_DERIVATIVES("sd");

    private final String shortName;

    Method(String shortName) {
        this.shortName = shortName;
    }

    /**
     * The short name used on the command line and in cost tables.
     *
     * @return {@code auto}, {@code jc}, {@code vp} or {@code sd}
     */
    public String shortName() {
        return shortName;
    }

    /**
     * What AUTO weighs NTK-vector products' FLOPs by against the other methods': they run at about half the FLOP rate
     * of Jacobian contraction and structured derivatives or less (measured side by side: 0.64× on the paper's FCN
     * sweep, one BLAS thread; 0.25–0.32× on ResNet-18 at 32×32 with O = 1000, where FLOPs alone chose them at 5.9 s
     * over structured derivatives' 1.8 s; about 1× on ResNet-18 at 224×224), so FLOPs alone picked them in near
     * ties they lose. Twice, not more, so that they keep the choices they win by far (ResNet-18 at 224×224, O =
     * 1000: a third of the FLOPs of structured derivatives in output chunks).
     */
    static final double VP_FLOP_WEIGHT = 2;

    /**
     * The cost AUTO compares (and the tile planner, between plans): the method's FLOPs, NTK-vector products' times
     * {@link #VP_FLOP_WEIGHT}.
     *
     * @param flops the method's predicted FLOPs
     * @return the weighted FLOPs
     */
    double autoCost(double flops) {
        return this == NTK_VECTOR_PRODUCTS ? VP_FLOP_WEIGHT * flops : flops;
    }

    /**
     * Parses a short name or the full enum name, case-insensitive.
     *
     * @param text e.g. {@code jc} or {@code jacobian_contraction}
     * @return the method
     * @throws IllegalArgumentException if the text names no method
     */
    public static Method parse(String text) {
        String t = text.toLowerCase(Locale.ROOT);
        for (Method m : values()) {
            if (m.shortName.equals(t) || m.name().toLowerCase(Locale.ROOT).equals(t)) {
                return m;
            }
        }
        throw new IllegalArgumentException("method: expected auto, jc, vp or sd, got '" + text + "'");
    }
}
