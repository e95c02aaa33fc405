package org.ntk4j.ntk;

import java.util.Locale;

/** The exact empirical-NTK algorithms of Novak, Sohl-Dickstein &amp; Schoenholz (ICML 2022), and AUTO. */
public enum Method {
    /** Chooses the cheapest method that fits the memory budget, from exact FLOP and byte counts. */
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
