package org.ntk4j.ntk;

/**
 * The evaluation orders of structured derivatives' four-operand contraction for one parameter with a linear
 * consumer rule (data A [N, R, C], cotangent D [O, N, R, F]), each with its exact FLOP rule; the plan takes the
 * cheapest for the whole problem and the executor counts the FLOPs of the one it runs by the same rule.
 */
enum ContractionOrder {
    /** Σ_{r1,r2} ⟨A1[n1,r1], A2[n2,r2]⟩ · ⟨D1[·,n1,r1], D2[·,n2,r2]⟩: GA, GD, then their Hadamard sum. */
    GRAM,
    /** K = A1·A2ᵀ, then D1·K over r1, then ·D2 over (r2, f) (R &gt; 1 only). */
    SANDWICH,
    /** The per-example rows, then their contraction (Jacobian contraction's order). */
    ROWS,
    /**
     * For a cotangent that factors, D[o, n, r, f] = M[n, r, f] · G[o, n, f] ({@link CotangentFactors}): P = Σ_r
     * M·A per example, Q = P1·P2ᵀ over C per feature, then Σ_f G1 Q G2 — no per-output work at the positions.
     */
    FACTORED;

    /**
     * Whether a bias can share this order's step ({@link StructuredDerivatives#sharedBiasFactor}): the Gram and
     * factored orders through their cotangent terms, the row order as one more column of the data factor.
     */
    boolean sharesBias() {
        return this != SANDWICH;
    }

    /**
     * Exact FLOPs of this order for one parameter, for the output pairs the kernel needs.
     *
     * @param same whether x2 = x1 with both sides one tensor (the rows are formed once, and the Grams of a side
     *     with itself are symmetric products)
     */
    double flops(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        switch (this) {
            case GRAM:
                return StructuredDerivatives.gramFlops(n1, n2, o, r, c, f, pairs, same);
            case SANDWICH:
                return StructuredDerivatives.sandwichFlops(n1, n2, o, r, c, f, pairs, same);
            case FACTORED:
                return StructuredDerivatives.factoredFlops(n1, n2, o, r, c, f, pairs, same);
            default:
                return StructuredDerivatives.rowFlops(n1, n2, o, r, c, f, pairs, same);
        }
    }

    /**
     * The order with the fewest FLOPs (ties: the earlier). For R = 1 the sandwich is not considered: with one
     * position K = A1·A2ᵀ is a scalar per pair of examples, and the sandwich is the Gram order with that scalar
     * applied to D1 first, O·F multiplications per pair instead of O² but through an N1·O·F·N2 temporary and two
     * extra passes over it, which cost more time than the multiplications they save. {@link #FACTORED} is
     * considered where the cotangent factors ({@code factors}), with the FLOPs of forming its factors
     * ({@code factorFlops}) added.
     */
    static ContractionOrder cheapest(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs,
                                     boolean same, boolean factors, double factorFlops) {
        return cheapest(k -> k.flops(n1, n2, o, r, c, f, pairs, same), r, factors, factorFlops);
    }

    /**
     * {@link #cheapest} by the FLOPs {@code flops} gives each order (e.g. {@link StructuredDerivatives#blockFlops},
     * where a consumer rule forms the data Gram or the rows from the data operand itself).
     */
    static ContractionOrder cheapest(java.util.function.ToDoubleFunction<ContractionOrder> flops, long r,
                                     boolean factors, double factorFlops) {
        ContractionOrder best = GRAM;
        double bestFlops = flops.applyAsDouble(GRAM);
        for (ContractionOrder k : values()) {
            if (k == GRAM || k == SANDWICH && r == 1 || k == FACTORED && !factors) {
                continue;
            }
            double fl = flops.applyAsDouble(k) + (k == FACTORED ? factorFlops : 0);
            if (fl < bestFlops) {
                best = k;
                bestFlops = fl;
            }
        }
        return best;
    }

    /** The FLOPs of the order {@link #cheapest} takes for a cotangent that does not factor. */
    static double bestFlops(long n1, long n2, long o, long r, long c, long f, OutputPairs pairs, boolean same) {
        return cheapest(n1, n2, o, r, c, f, pairs, same, false, 0).flops(n1, n2, o, r, c, f, pairs, same);
    }
}
