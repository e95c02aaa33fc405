package org.ntk4j.ntk;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * One side of structured derivatives' factored order for a consumer whose data factor is a one-hot ({@link
 * org.ntk4j.primitive.ConsumerRule.Linear#oneHotData}: an embedding table read at token ids, C = V the
 * vocabulary). P[n, f, c] = Σ_r [col(n, r) = c] M[n, r, f] is nonzero at the K_n ≤ R distinct columns of example
 * n only, so a side keeps those: the columns sorted, c_n(0) &lt; ... &lt; c_n(K_n − 1), and the rows S[n, k, f] =
 * Σ_{r: col(n, r) = c_n(k)} M[n, r, f] ([N, R, F], rows k ≥ K_n zero; one addition per element of M). Then
 * <pre>
 *   Q[n1, n2, f] = Σ_c P1[n1, f, c] P2[n2, f, c] = Σ_{k1, k2: c1_n1(k1) = c2_n2(k2)} S1[n1, k1, f] S2[n2, k2, f]:
 * </pre>
 * side 2's columns sorted once as keys (column, n2, k2), each column of n1 found among them by binary search, and
 * each match adds F products. The columns of an example are distinct, so a pair of examples matches at most R
 * times: at most 2·F·R FLOPs a pair (counted so, {@link #productFlops}, whatever the matches) and N·R·F values a
 * side, where P over all C took 2·F·C a pair and N·F·C values. Q's entries are sums of the same products as the
 * product over C without its zero terms: equal up to rounding. Nothing of size C is formed.
 *
 * <p>The product over C propagates a NaN or ±∞ of P to every pair of its example and feature (0·NaN), and a NaN
 * row of A (an id out of range) to all of its example's: so does this one ({@link #products}), which the kernel's
 * check then reports.
 */
final class OneHotFactored implements AutoCloseable {
    /** S [N, R, F]: row k of example n is the sum of M's rows at its k-th smallest distinct column. */
    private final Tensor rows;
    /** Example n's distinct columns, ascending, at n·R, ..., n·R + K_n − 1. */
    private final int[] columns;
    /** K_n. */
    private final int[] counts;
    /** [N·F]: whether P[n, f, ·] holds a NaN or ±∞ (M's, or a NaN row of A: then every f of n). */
    private final boolean[] nonFinite;
    private final int n;
    private final int r;
    private final int f;

    private OneHotFactored(Tensor rows, int[] columns, int[] counts, boolean[] nonFinite) {
        this.rows = rows;
        this.columns = columns;
        this.counts = counts;
        this.nonFinite = nonFinite;
        this.n = rows.dim(0);
        this.r = rows.dim(1);
        this.f = rows.dim(2);
    }

    /**
     * A side from the one-hot's columns and M.
     *
     * @param cols the column of each position's one, [N·R] row-major, −1 for a NaN row ({@link
     *     org.ntk4j.primitive.ConsumerRule.Linear#oneHotColumns})
     * @param m M [N, R, F]; read, not closed
     * @return the side, holding a new tensor [N, R, F]
     */
    static OneHotFactored of(int[] cols, Tensor m) {
        int n = m.dim(0);
        int r = m.dim(1);
        int f = m.dim(2);
        Tensor rows = Tensor.zeros(m.dtype(), n, r, f);
        int[] columns = new int[n * r];
        int[] counts = new int[n];
        boolean[] nonFinite = new boolean[n * f];
        long[] keys = new long[n * r];
        boolean f64 = m.dtype() == DType.F64;
        DoubleBuffer md = f64 ? m.doubles() : null;
        DoubleBuffer sd = f64 ? rows.doubles() : null;
        FloatBuffer mf = f64 ? null : m.floats();
        FloatBuffer sf = f64 ? null : rows.floats();
        Parallel.range(n, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, r * f)), (from, to) -> {
            for (int e = from; e < to; e++) {
                int base = e * r;
                boolean nanRow = false;
                for (int q = 0; q < r; q++) {
                    nanRow |= cols[base + q] < 0;
                    keys[base + q] = (long) cols[base + q] << 32 | q; // (column, position), sorted by column
                }
                if (nanRow) { // P[e] is NaN everywhere; S[e] and its columns are never read
                    Arrays.fill(nonFinite, e * f, (e + 1) * f, true);
                    continue;
                }
                Arrays.sort(keys, base, base + r);
                int k = -1;
                for (int q = 0; q < r; q++) {
                    int column = (int) (keys[base + q] >>> 32);
                    int from2 = (base + (int) keys[base + q]) * f;
                    if (k < 0 || column != columns[base + k]) {
                        columns[base + ++k] = column;
                    }
                    int to2 = (base + k) * f;
                    for (int j = 0; j < f; j++) {
                        if (f64) {
                            sd.put(to2 + j, sd.get(to2 + j) + md.get(from2 + j));
                        } else {
                            sf.put(to2 + j, sf.get(to2 + j) + mf.get(from2 + j));
                        }
                    }
                }
                counts[e] = k + 1;
                for (int i = 0; i < counts[e] * f; i++) {
                    double x = f64 ? sd.get(base * f + i) : sf.get(base * f + i);
                    if (!Double.isFinite(x)) {
                        nonFinite[e * f + i % f] = true;
                    }
                }
            }
        });
        return new OneHotFactored(rows, columns, counts, nonFinite);
    }

    /**
     * Q = Σ_c P1 P2 of this side (1) with {@code other} (2): [N1, N2, F], or per example [N, F] (the examples n1
     * = n2 = n); with {@code upper} ({@code other} is this side) only the pairs n2 ≥ n1, the others left 0. A
     * NaN or ±∞ of P (see {@link OneHotFactored}) makes every pair of its example at its feature NaN.
     *
     * @param other side 2 (this side itself for x2 = x1)
     * @param perExample whether only each example's pair with itself is wanted
     * @param upper whether only the pairs n2 ≥ n1 are wanted
     * @return a new tensor [N1, N2, F], or [N, F] per example, in the dtype of M
     */
    Tensor products(OneHotFactored other, boolean perExample, boolean upper) {
        int n2 = other.n;
        Tensor q = perExample ? Tensor.zeros(rows.dtype(), n, f) : Tensor.zeros(rows.dtype(), n, n2, f);
        boolean f64 = q.dtype() == DType.F64;
        DoubleBuffer qd = f64 ? q.doubles() : null;
        FloatBuffer qf = f64 ? null : q.floats();
        DoubleBuffer ad = f64 ? rows.doubles() : null;
        FloatBuffer af = f64 ? null : rows.floats();
        DoubleBuffer bd = f64 ? other.rows.doubles() : null;
        FloatBuffer bf = f64 ? null : other.rows.floats();
        if (perExample) {
            Parallel.range(n, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, r * f)), (from, to) -> {
                for (int e = from; e < to; e++) {
                    // merge the two sorted column lists of example e
                    int i = e * r;
                    int j = e * r;
                    int endI = i + counts[e];
                    int endJ = j + other.counts[e];
                    while (i < endI && j < endJ) {
                        int a = columns[i];
                        int b = other.columns[j];
                        if (a == b) {
                            addProducts(qd, qf, e * f, ad, af, i * f, bd, bf, j * f, f);
                        }
                        i += a <= b ? 1 : 0;
                        j += b <= a ? 1 : 0;
                    }
                    for (int t = 0; t < f; t++) {
                        if (nonFinite[e * f + t] || other.nonFinite[e * f + t]) {
                            put(qd, qf, e * f + t, Double.NaN);
                        }
                    }
                }
            });
            return q;
        }
        // side 2's (column, n2·R + k2) as keys, sorted: a column's matches are one run, in ascending n2
        int total = 0;
        for (int c : other.counts) {
            total += c;
        }
        long[] keys = new long[total];
        for (int e = 0, at = 0; e < n2; e++) {
            for (int k = 0; k < other.counts[e]; k++) {
                keys[at++] = (long) other.columns[e * r + k] << 32 | (e * r + k);
            }
        }
        Arrays.sort(keys);
        boolean anyNonFinite = anyNonFinite() || other.anyNonFinite();
        Parallel.range(n, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, n2 * f)), (from, to) -> {
            for (int e = from; e < to; e++) {
                for (int k = 0; k < counts[e]; k++) {
                    long column = columns[e * r + k];
                    int at = lowerBound(keys, column << 32 | (upper ? e * r : 0));
                    for (; at < keys.length && keys[at] >>> 32 == column; at++) {
                        int row = (int) keys[at];
                        addProducts(qd, qf, (e * n2 + row / r) * f, ad, af, (e * r + k) * f, bd, bf, row * f, f);
                    }
                }
                for (int t = 0; anyNonFinite && t < f; t++) {
                    for (int e2 = 0; e2 < n2; e2++) {
                        if (nonFinite[e * f + t] || other.nonFinite[e2 * f + t]) {
                            put(qd, qf, (e * n2 + e2) * f + t, Double.NaN);
                        }
                    }
                }
            }
        });
        return q;
    }

    private boolean anyNonFinite() {
        for (boolean b : nonFinite) {
            if (b) {
                return true;
            }
        }
        return false;
    }

    /** The first index of the sorted {@code keys} whose key is at least {@code key} (keys.length if none). */
    private static int lowerBound(long[] keys, long key) {
        int lo = 0;
        int hi = keys.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] < key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** q[at + j] += a[i + j] · b[k + j] for j &lt; f, in whichever dtype's buffers are not null. */
    private static void addProducts(DoubleBuffer qd, FloatBuffer qf, int at, DoubleBuffer ad, FloatBuffer af, int i,
                                    DoubleBuffer bd, FloatBuffer bf, int k, int f) {
        if (qd != null) {
            for (int j = 0; j < f; j++) {
                qd.put(at + j, qd.get(at + j) + ad.get(i + j) * bd.get(k + j));
            }
        } else {
            for (int j = 0; j < f; j++) {
                qf.put(at + j, qf.get(at + j) + af.get(i + j) * bf.get(k + j));
            }
        }
    }

    private static void put(DoubleBuffer d, FloatBuffer f, int at, double value) {
        if (d != null) {
            d.put(at, value);
        } else {
            f.put(at, (float) value);
        }
    }

    /**
     * FLOPs of {@link #of} for n examples: one addition per element of M (N·R·F).
     *
     * @param n the examples
     * @param r R
     * @param f F
     * @return the FLOPs
     */
    static double rowsFlops(long n, long r, long f) {
        return (double) n * r * f;
    }

    /**
     * FLOPs of {@link #products}, counted at their bound: R matches a pair of examples (an example's columns are
     * distinct), 2·F each — per example N pairs, of a side with itself ({@code upper}) the N·(N + 1)/2 pairs
     * n2 ≥ n1, else N1·N2. The matches that run are fewer where the examples share fewer ids; the count, like
     * the plan's, does not depend on the ids.
     *
     * @param n1 the examples of side 1
     * @param n2 the examples of side 2
     * @param r R
     * @param f F
     * @param perExample whether only each example's pair with itself is formed
     * @param upper whether only the pairs n2 ≥ n1 are formed
     * @return the FLOPs
     */
    static double productFlops(long n1, long n2, long r, long f, boolean perExample, boolean upper) {
        double pairs = perExample ? n1 : upper ? n1 * (n1 + 1) / 2.0 : (double) n1 * n2;
        return 2.0 * pairs * r * f;
    }

    /** Closes S. */
    @Override
    public void close() {
        rows.close();
    }
}
