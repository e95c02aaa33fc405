package org.ntk4j.bench;

import org.ntk4j.ntk.Method;

/**
 * The reference's complexity table (neural_tangents_digest.md §1.1 with the dense-layer MJJMP rule of §1.2/§4.7)
 * evaluated for a chain of dense layers, in operation counts without constant factors:
 *
 * <ul>
 *   <li>JC: N·O·[FP] (Jacobians by O VJPs per input) + N²·O²·P (contracting them);</li>
 *   <li>NTK-VP: N²·O·[FP];</li>
 *   <li>SD: N·O·[FP] (cotangents) + N²·Σ_layers (fan_in + O²·fan_out) (per pair of inputs and layer,
 *       ⟨x1, x2⟩ costs fan_in and δ1·δ2ᵀ costs O²·fan_out);</li>
 * </ul>
 * with [FP] = P = Σ fan_in·fan_out for a network without biases (one multiply-add per weight per input).
 * Memory: JC and NTK-VP N·O·P (the Jacobians; the digest: "about the same") + N²·O² + P; SD N·O·Σ fan_out
 * (cotangents) + N·Σ fan_in (layer inputs) + P + N²·O².
 *
 * <p>The 10-layer FCN of the paper's Figure 1 on inputs of size 3 has P ≈ 8·W² (eight W×W layers), so these are
 * the digest's §1.2 FCN rows N·O·L·W² + N²·O²·L·W² (JC), N²·O·L·W² (VP) and N·O·L·W² + N²·O²·L·W (SD).
 */
final class ReferenceCost {
    /** One evaluation: the two terms of the time formula (the second 0 for VP) and the memory formula. */
    record Terms(double passes, double contraction, double memory) {
        double time() {
            return passes + contraction;
        }

        /** Which term dominates and by how much, for the report. */
        String dominant() {
            if (contraction == 0) {
                return "single term";
            }
            double share = contraction / time();
            return share >= 0.5 ? String.format(java.util.Locale.ROOT, "contraction %.0f%%", 100 * share)
                    : String.format(java.util.Locale.ROOT, "passes %.0f%%", 100 * (1 - share));
        }
    }

    private ReferenceCost() {
    }

    /** The layer widths d0 (input), d1, ..., dL (= O) of a dense chain. */
    static Terms of(Method m, int n, int[] widths) {
        int out = widths[widths.length - 1];
        double p = 0;
        double sumIn = 0;
        double sumOutO2 = 0;
        double sumOut = 0;
        for (int l = 1; l < widths.length; l++) {
            p += (double) widths[l - 1] * widths[l];
            sumIn += widths[l - 1];
            sumOut += widths[l];
            sumOutO2 += (double) out * out * widths[l];
        }
        double fp = p;
        double n2o2 = (double) n * n * out * out;
        switch (m) {
            case JACOBIAN_CONTRACTION:
                return new Terms((double) n * out * fp, n2o2 * p, (double) n * out * p + n2o2 + p);
            case NTK_VECTOR_PRODUCTS:
                return new Terms((double) n * n * out * fp, 0, (double) n * out * p + n2o2 + p);
            case STRUCTURED_DERIVATIVES:
                return new Terms((double) n * out * fp, (double) n * n * (sumIn + sumOutO2),
                        (double) n * out * sumOut + (double) n * sumIn + p + n2o2);
            default:
                throw new IllegalArgumentException("no reference cost for method " + m);
        }
    }

    /** Widths of the Figure 1 network: input, depth hidden layers of width w, output o. */
    static int[] fcnWidths(int input, int depth, int w, int o) {
        int[] widths = new int[depth + 2];
        widths[0] = input;
        for (int i = 1; i <= depth; i++) {
            widths[i] = w;
        }
        widths[depth + 1] = o;
        return widths;
    }
}
