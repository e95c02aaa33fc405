package org.ntk4j.predict;

import org.ntk4j.cpu.Lapack;

/**
 * The spectrum of a symmetric kernel matrix and the figures people read from it, in float64:
 * <ul>
 *   <li>eigenvalues λ_1 ≤ ... ≤ λ_d (LAPACK dsyevd on a copy; about 4d³/3 flops, d² doubles);</li>
 *   <li>trace Σλ_i = Σ K_ii;</li>
 *   <li>condition number λ_max / λ_min, +∞ when λ_min ≤ 0 (a kernel that round-off made indefinite or that is
 *       singular cannot be inverted stably: say so rather than print a negative number);</li>
 *   <li>effective rank (Roy &amp; Vetterli, EUSIPCO 2007): exp(H(p)), the exponential of the Shannon entropy of
 *       p_i = λ⁺_i / Σλ⁺ (λ⁺ = max(λ, 0), 0·log 0 = 0). It is 1 for a rank-one matrix and d for a multiple of the
 *       identity, and, unlike a numerical rank, depends on no threshold. Chosen as the headline figure because it
 *       weighs the whole spectrum;</li>
 *   <li>participation ratio (Σλ⁺)² / Σλ⁺², the other common effective rank (also 1 … d, more sensitive to the
 *       largest eigenvalues), reported next to it.</li>
 * </ul>
 * For an N×N kernel kind, the spectrum is that of K itself; K ⊗ I_O has the same eigenvalues, each O times (and
 * the same condition number; its effective ranks are O times larger).
 */
public final class KernelSpectrum {
    private final double[] eigenvalues;
    private final double trace;

    private KernelSpectrum(double[] eigenvalues, double trace) {
        this.eigenvalues = eigenvalues;
        this.trace = trace;
    }

    /**
     * The spectrum of {@code k} (left unchanged: the eigensolver works on a copy, d² doubles).
     *
     * @param k the kernel matrix; the spectrum is its symmetric part's, (K + Kᵀ)/2 (not checked: a kernel within
     *     {@link KernelMatrix#SYMMETRY_TOLERANCE} is the eigenvalues the closed form uses)
     * @return its spectrum
     */
    public static KernelSpectrum of(KernelMatrix k) {
        try (KernelMatrix c = k.copy()) {
            return ofDestroying(c);
        }
    }

    /**
     * The spectrum of {@code k}, computed by the eigensolver in k's own storage, which it destroys: k must not be
     * read afterwards (only closed). Saves {@link #of}'s copy, d² doubles: 3.2 GB for a 20000×20000 kernel.
     *
     * @param k the kernel matrix, whose symmetric part's spectrum is computed as by {@link #of}; its entries are
     *     overwritten
     * @return its spectrum
     */
    public static KernelSpectrum ofDestroying(KernelMatrix k) {
        double trace = k.trace();
        k.symmetrise(); // the eigensolver reads one triangle: both count (KernelMatrix.symmetrise)
        return new KernelSpectrum(Lapack.symmetricEigenInPlace(k.pointer(), k.dimension(), false), trace);
    }

    /**
     * The spectrum from known eigenvalues (any order).
     *
     * @param eigenvalues the eigenvalues, at least one; not modified
     * @return the spectrum, its trace the eigenvalues' sum
     * @throws IllegalArgumentException if eigenvalues is null or empty (a spectrum of d = 0 has no λ_max or λ_min)
     */
    public static KernelSpectrum ofEigenvalues(double[] eigenvalues) {
        if (eigenvalues == null) {
            throw new IllegalArgumentException("eigenvalues: expected an array, got null");
        }
        if (eigenvalues.length == 0) {
            throw new IllegalArgumentException("eigenvalues: expected at least one (d >= 1), got none");
        }
        double[] e = eigenvalues.clone();
        java.util.Arrays.sort(e);
        double t = 0;
        for (double v : e) {
            t += v;
        }
        return new KernelSpectrum(e, t);
    }

    /**
     * Eigenvalues in ascending order (a copy).
     *
     * @return a new array of the eigenvalues
     */
    public double[] eigenvalues() {
        return eigenvalues.clone();
    }

    /**
     * The matrix's side.
     *
     * @return the number of eigenvalues
     */
    public int dimension() {
        return eigenvalues.length;
    }

    /**
     * Σ K_ii (equal to Σλ up to round-off).
     *
     * @return the trace
     */
    public double trace() {
        return trace;
    }

    /**
     * The largest eigenvalue.
     *
     * @return λ_max
     */
    public double lambdaMax() {
        return eigenvalues[eigenvalues.length - 1];
    }

    /**
     * The smallest eigenvalue (may be ≤ 0 by round-off or for a singular kernel).
     *
     * @return λ_min
     */
    public double lambdaMin() {
        return eigenvalues[0];
    }

    /**
     * λ_max / λ_min, or +∞ when λ_min ≤ 0.
     *
     * @return the condition number
     */
    public double conditionNumber() {
        double lo = lambdaMin();
        return lo > 0 ? lambdaMax() / lo : Double.POSITIVE_INFINITY;
    }

    /**
     * Eigenvalues ≤ 0 (round-off or a singular kernel).
     *
     * @return how many there are
     */
    public int nonPositiveCount() {
        int c = 0;
        for (double v : eigenvalues) {
            c += v <= 0 ? 1 : 0;
        }
        return c;
    }

    /**
     * exp(−Σ p_i log p_i), p_i = λ⁺_i / Σλ⁺ (Roy &amp; Vetterli 2007); 0 when no eigenvalue is positive.
     *
     * @return the effective rank, between 1 and the number of positive eigenvalues (or 0)
     */
    public double effectiveRank() {
        double sum = positiveSum();
        if (sum == 0) {
            return 0;
        }
        double h = 0;
        for (double v : eigenvalues) {
            if (v > 0) {
                double p = v / sum;
                h -= p * Math.log(p);
            }
        }
        return Math.exp(h);
    }

    /**
     * (Σλ⁺)² / Σ(λ⁺)²; 0 when no eigenvalue is positive.
     *
     * @return the participation ratio
     */
    public double participationRatio() {
        double sum = positiveSum();
        if (sum == 0) {
            return 0;
        }
        double sq = 0;
        for (double v : eigenvalues) {
            if (v > 0) {
                sq += (v / sum) * (v / sum);
            }
        }
        return 1 / sq;
    }

    private double positiveSum() {
        double s = 0;
        for (double v : eigenvalues) {
            s += Math.max(v, 0);
        }
        return s;
    }
}
