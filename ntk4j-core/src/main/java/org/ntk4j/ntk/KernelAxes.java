package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.tensor.Shapes;

/**
 * The axis semantics of neural-tangents' empirical kernels, for outputs f(x1) and f(x2) of equal rank:
 * <ul>
 *   <li>traced axes are contracted and divided by their total size (tracing is a mean);</li>
 *   <li>diagonal axes keep only the entries with equal indices, and appear once;</li>
 *   <li>every other axis appears twice, as the pair (a1, a2), in the original axis order:
 *       the layout zip(f(x1).shape, f(x2).shape) minus traced axes.</li>
 * </ul>
 * For f of shape [N, O] the default trace (-1) gives [N1, N2]; no traced axes give [N1, N2, O, O];
 * diagonal (0) with trace (-1) gives [N].
 */
public final class KernelAxes {
    private final int rank;
    private final int[] trace;
    private final int[] diagonal;

    /**
     * Normalises negative axes; rejects overlaps, repeats and out-of-range axes with a clear message.
     *
     * @param rank rank of f(x), batch axis included
     * @param traceAxes axes traced over, negative counting from the end (not modified)
     * @param diagonalAxes axes whose diagonal alone is kept, negative counting from the end (not modified)
     * @throws IllegalArgumentException if an axis is out of [-rank, rank), listed twice, or both traced and
     *     diagonal
     */
    public KernelAxes(int rank, int[] traceAxes, int[] diagonalAxes) {
        this.rank = rank;
        this.trace = normalise("trace axes", traceAxes, rank);
        this.diagonal = normalise("diagonal axes", diagonalAxes, rank);
        for (int a : trace) {
            if (Shapes.contains(diagonal, a)) {
                throw new IllegalArgumentException("trace axes " + Arrays.toString(traceAxes) + " and diagonal axes "
                        + Arrays.toString(diagonalAxes) + " both name axis " + a + " of f(x) (rank " + rank
                        + "); an axis is either traced or diagonal");
            }
        }
    }

    private static int[] normalise(String what, int[] axes, int rank) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int a = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (a < 0 || a >= rank) {
                throw new IllegalArgumentException(what + " " + Arrays.toString(axes) + ": axis " + axes[i]
                        + " is out of range for f(x) of rank " + rank + " (expected " + -rank + " <= axis < " + rank
                        + ", the batch axis included)");
            }
            for (int j = 0; j < i; j++) {
                if (r[j] == a) {
                    throw new IllegalArgumentException(what + " " + Arrays.toString(axes) + ": " + axes[j] + " and "
                            + axes[i] + " both name axis " + a + " of f(x) (rank " + rank + "); list each axis once");
                }
            }
            r[i] = a;
        }
        Arrays.sort(r);
        return r;
    }

    /**
     * Rank of f(x), batch axis included.
     *
     * @return the rank
     */
    public int rank() {
        return rank;
    }

    /**
     * Traced axes, sorted, non-negative.
     *
     * @return a copy of the traced axes
     */
    public int[] trace() {
        return trace.clone();
    }

    /**
     * Diagonal axes, sorted, non-negative.
     *
     * @return a copy of the diagonal axes
     */
    public int[] diagonal() {
        return diagonal.clone();
    }

    /**
     * Axes neither traced nor diagonal, in order.
     *
     * @return a new array of the paired axes, ascending
     */
    public int[] paired() {
        return Shapes.complement(rank, Shapes.concat(trace, diagonal));
    }

    /**
     * Whether an axis is traced.
     *
     * @param axis a non-negative axis of f(x)
     * @return true when it is among the traced axes
     */
    public boolean isTraced(int axis) {
        return Shapes.contains(trace, axis);
    }

    /**
     * Whether an axis is diagonal.
     *
     * @param axis a non-negative axis of f(x)
     * @return true when it is among the diagonal axes
     */
    public boolean isDiagonal(int axis) {
        return Shapes.contains(diagonal, axis);
    }

    /**
     * Checks that f(x1) and f(x2) agree on the traced and diagonal axes.
     *
     * @param f1 shape of f(x1), batch axis included
     * @param f2 shape of f(x2), batch axis included
     * @throws IllegalArgumentException if either rank differs from {@link #rank()}, or the shapes differ on a
     *     traced or diagonal axis
     */
    public void checkShapes(int[] f1, int[] f2) {
        if (f1.length != rank || f2.length != rank) {
            throw new IllegalArgumentException("kernel: outputs must have rank " + rank + ", got "
                    + Shapes.str(f1) + " and " + Shapes.str(f2));
        }
        for (int a : Shapes.concat(trace, diagonal)) {
            if (f1[a] != f2[a]) {
                throw new IllegalArgumentException("kernel: f(x1) " + Shapes.str(f1) + " and f(x2) " + Shapes.str(f2)
                        + " must agree on " + (isTraced(a) ? "traced" : "diagonal") + " axis " + a
                        + (a == 0 ? " (x1 and x2 need the same number of examples)" : ""));
            }
        }
    }

    /**
     * Product of the traced sizes: the divisor of every kernel entry.
     *
     * @param f1 shape of f(x1), batch axis included (not checked)
     * @return the product of f1's traced sizes; 1 when nothing is traced
     */
    public long traceSize(int[] f1) {
        long s = 1;
        for (int a : trace) {
            s *= f1[a];
        }
        return s;
    }

    /**
     * The kernel's shape: for each axis, nothing if traced, (a1) if diagonal, else (a1, a2).
     *
     * @param f1 shape of f(x1), batch axis included
     * @param f2 shape of f(x2), batch axis included
     * @return a new array, the kernel's shape
     * @throws IllegalArgumentException if the shapes are refused as by {@link #checkShapes}
     */
    public int[] outputShape(int[] f1, int[] f2) {
        checkShapes(f1, f2);
        List<Integer> s = new ArrayList<>();
        for (int a = 0; a < rank; a++) {
            if (isTraced(a)) {
                continue;
            }
            s.add(f1[a]);
            if (!isDiagonal(a)) {
                s.add(f2[a]);
            }
        }
        return s.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The permutation from the layout a dot_general produces when contracting per-f1-entry rows with
     * per-f2-entry rows (batch = diagonal axes, then f1's paired axes, then f2's paired axes) to the kernel's
     * zip layout.
     *
     * @return the permutation, for a transpose of the dot_general's result
     */
    public int[] zipPermutation() {
        int nd = diagonal.length;
        int[] paired = paired();
        int np = paired.length;
        List<Integer> perm = new ArrayList<>();
        for (int a = 0; a < rank; a++) {
            if (isTraced(a)) {
                continue;
            }
            if (isDiagonal(a)) {
                perm.add(Arrays.binarySearch(diagonal, a));
            } else {
                int i = Arrays.binarySearch(paired, a);
                perm.add(nd + i);
                perm.add(nd + np + i);
            }
        }
        return perm.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * True when the kernel keeps both example axes (axis 0 neither traced nor diagonal): [N1, N2, ...].
     *
     * @return whether the examples are paired
     */
    public boolean examplesPaired() {
        return !isTraced(0) && !isDiagonal(0);
    }

    /**
     * The permutation of the kernel's axes that takes Θ(x1, x2) to Θ(x2, x1): every pair (a1, a2) swapped,
     * diagonal axes kept. Θ(x2, x1) = transpose(Θ(x1, x2), this), so for x2 = x1 the entries below the
     * diagonal are the mirror of those above it.
     *
     * @return the permutation, of length the kernel's rank
     */
    public int[] mirrorPermutation() {
        List<Integer> perm = new ArrayList<>();
        int pos = 0;
        for (int a = 0; a < rank; a++) {
            if (isTraced(a)) {
                continue;
            }
            if (isDiagonal(a)) {
                perm.add(pos++);
            } else {
                perm.add(pos + 1);
                perm.add(pos);
                pos += 2;
            }
        }
        return perm.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String toString() {
        return "trace=" + Arrays.toString(trace) + " diagonal=" + Arrays.toString(diagonal);
    }
}
