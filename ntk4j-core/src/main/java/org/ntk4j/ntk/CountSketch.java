package org.ntk4j.ntk;

import org.ntk4j.tensor.Tensor;

/**
 * A seeded CountSketch, the sparse Johnson–Lindenstrauss projection of projected:K: column i of parameter p
 * goes to bucket h(p, i) ∈ [0, K) with sign s(p, i) = ±1, both from a 64-bit mix of (seed, p, i), so that
 * Π has one ±1 per row, E[Π Πᵀ] = I, and Π is never stored.
 */
final class CountSketch {
    private CountSketch() {
    }

    /**
     * S[first + n, o, :] += J[n, o, :] Π_p for Jacobian rows J [t, O, P_p] of t examples and sketches S [N, O, K]
     * (first + t ≤ N).
     */
    static void accumulate(Tensor j, Tensor s, int first, long seed, int param) {
        int k = s.dim(2);
        int cols = j.dim(-1);
        int rows = j.size() / Math.max(1, cols);
        int[] bucket = new int[cols];
        double[] sign = new double[cols];
        for (int i = 0; i < cols; i++) {
            long z = mix(seed * 0x9E3779B97F4A7C15L + param * 0xC2B2AE3D27D4EB4FL + i);
            bucket[i] = (int) Long.remainderUnsigned(z >>> 1, k);
            sign[i] = (z & 1) == 0 ? 1.0 : -1.0;
        }
        org.ntk4j.graph.FlopCount.add(2.0 * rows * cols); // a signed add per Jacobian entry, as the cost model counts
        org.ntk4j.cpu.Parallel.range(rows, 1, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int base = r * cols;
                int out = (first * s.dim(1) + r) * k;
                for (int i = 0; i < cols; i++) {
                    s.setFlat(out + bucket[i], s.getFlat(out + bucket[i]) + sign[i] * j.getFlat(base + i));
                }
            }
        });
    }

    /** MurmurHash3's 64-bit finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }
}
