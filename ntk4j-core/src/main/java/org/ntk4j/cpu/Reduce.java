package org.ntk4j.cpu;

import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Reductions over a set of axes (the reduced axes are removed from the result). */
public final class Reduce {
    private Reduce() {
    }

    /** Which reduction. */
    public enum Kind {
        /** The sum of the elements. */
        SUM,
        /** The largest element (NaN when any element is NaN). */
        MAX
    }

    /** Elements of x read per bulk copy in {@link #sumOfProducts} (whole summed rows, at least one). */
    private static final int SUM_BLOCK = 4096;

    /**
     * Σ over the axes [from, to) of x ⊙ y without forming the product or moving the axes: x {@code [L..., S...,
     * K...]} (S the summed axes [from, to), K the trailing ones), y with x's trailing shape from some axis on (it
     * broadcasts over x's leading axes before that), or null for the plain sum. The result is x's shape without
     * [from, to); each element accumulates in double over the summed positions in order, as
     * {@link #reduce} does after its copy. How a parameter's rows Σ_spatial δ ⊙ x̂ of a batch norm's scale are
     * formed: the product and {@link #reduce}'s moved copy were each as large as the stacked cotangents δ
     * (0.4 GB at ResNet-18's stem with 128 outputs) and not in the structured-derivatives memory model.
     *
     * @param x the operand [L..., S..., K...]; not closed
     * @param y null, or a tensor of x's dtype whose shape is x's shape from axis {@code x.rank() - y.rank()}
     *          on, with {@code x.rank() - y.rank() <= from}; not closed
     * @param from the first summed axis
     * @param to one past the last summed axis, {@code from < to <= x.rank()}
     * @return a new tensor of x's dtype, owned by the caller
     * @throws IllegalArgumentException when the axes or y's shape do not fit
     */
    public static Tensor sumOfProducts(Tensor x, Tensor y, int from, int to) {
        int rank = x.rank();
        if (from < 0 || from >= to || to > rank) {
            throw new IllegalArgumentException("sum_of_products: summed axes [" + from + ", " + to + ") of "
                    + Shapes.str(x.shape()));
        }
        int lead = y == null ? 0 : rank - y.rank();
        if (y != null && !broadcastsOverLeading(x, y, from)) {
            throw new IllegalArgumentException("sum_of_products: y " + Shapes.str(y.shape()) + " must be the trailing"
                    + " shape of x " + Shapes.str(x.shape()) + " from an axis at most " + from);
        }
        int[] shape = x.shape();
        int outer = Shapes.size(java.util.Arrays.copyOfRange(shape, 0, from));
        int summed = Shapes.size(java.util.Arrays.copyOfRange(shape, from, to));
        int inner = Shapes.size(java.util.Arrays.copyOfRange(shape, to, rank));
        int yOuter = y == null ? 1 : Shapes.size(java.util.Arrays.copyOfRange(shape, lead, from));
        Tensor out = Tensor.empty(x.dtype(), Shapes.concat(java.util.Arrays.copyOfRange(shape, 0, from),
                java.util.Arrays.copyOfRange(shape, to, rank)));
        if (out.size() == 0) {
            return out;
        }
        boolean f32 = x.dtype() == org.ntk4j.tensor.DType.F32;
        // the summed rows go through heap arrays, a block of them per bulk read, so that the loop over them is a
        // plain array loop (element accessors per element ran at a third of the machine's memory bandwidth for
        // rows of 16 channels); each product is formed in double, as before (exact for float32 operands)
        int block = Math.max(1, Math.min(summed, SUM_BLOCK / Math.max(1, inner)));
        Parallel.rangeBalanced(outer, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, summed * inner)), (lo, hi) -> {
            double[] acc = new double[inner];
            java.nio.FloatBuffer xf = f32 ? x.floats() : null;
            java.nio.FloatBuffer yf = f32 && y != null ? y.floats() : null;
            java.nio.DoubleBuffer xd = f32 ? null : x.doubles();
            java.nio.DoubleBuffer yd = f32 || y == null ? null : y.doubles();
            float[] xs = f32 ? new float[block * inner] : null;
            float[] ys = f32 && y != null ? new float[block * inner] : null;
            double[] xds = f32 ? null : new double[block * inner];
            double[] yds = f32 || y == null ? null : new double[block * inner];
            for (int o = lo; o < hi; o++) {
                java.util.Arrays.fill(acc, 0);
                int xBase = o * summed * inner;
                int yBase = (o % yOuter) * summed * inner;
                for (int s0 = 0; s0 < summed; s0 += block) {
                    int rows = Math.min(block, summed - s0);
                    int len = rows * inner;
                    if (f32) {
                        xf.get(xBase + s0 * inner, xs, 0, len);
                        if (ys != null) {
                            yf.get(yBase + s0 * inner, ys, 0, len);
                            for (int r = 0; r < rows; r++) {
                                int base = r * inner;
                                for (int k = 0; k < inner; k++) {
                                    acc[k] += (double) xs[base + k] * ys[base + k];
                                }
                            }
                        } else {
                            for (int r = 0; r < rows; r++) {
                                int base = r * inner;
                                for (int k = 0; k < inner; k++) {
                                    acc[k] += xs[base + k];
                                }
                            }
                        }
                    } else {
                        xd.get(xBase + s0 * inner, xds, 0, len);
                        if (yds != null) {
                            yd.get(yBase + s0 * inner, yds, 0, len);
                            for (int r = 0; r < rows; r++) {
                                int base = r * inner;
                                for (int k = 0; k < inner; k++) {
                                    acc[k] += xds[base + k] * yds[base + k];
                                }
                            }
                        } else {
                            for (int r = 0; r < rows; r++) {
                                int base = r * inner;
                                for (int k = 0; k < inner; k++) {
                                    acc[k] += xds[base + k];
                                }
                            }
                        }
                    }
                }
                for (int k = 0; k < inner; k++) {
                    out.setFlat(o * inner + k, acc[k]);
                }
            }
        });
        return out;
    }

    /**
     * Whether {@link #sumOfProducts} takes {@code y} with {@code x} summed from axis {@code from}: y of x's dtype,
     * its shape x's shape from some axis at most {@code from} on.
     *
     * @param x the operand
     * @param y the other operand
     * @param from the first summed axis
     * @return true when y broadcasts over x's leading axes alone
     */
    public static boolean broadcastsOverLeading(Tensor x, Tensor y, int from) {
        int lead = x.rank() - y.rank();
        return lead >= 0 && lead <= from && y.dtype() == x.dtype()
                && java.util.Arrays.equals(y.shape(), java.util.Arrays.copyOfRange(x.shape(), lead, x.rank()));
    }

    /** The permutation that moves {@code axes} last, the others keeping their order; null when it moves nothing. */
    private static int[] reducedLast(int rank, int[] axes) {
        int[] keep = Shapes.complement(rank, axes);
        int[] perm = Shapes.concat(keep, Shapes.complement(rank, keep));
        for (int i = 0; i < rank; i++) {
            if (perm[i] != i) {
                return perm;
            }
        }
        return null;
    }

    /**
     * Elements of the copy {@link #reduce} makes of its operand to move the reduced axes last (for the memory
     * model): the operand's size, or 0 when those axes are last already.
     *
     * @param shape the operand's shape
     * @param axes the axes reduced
     * @return the scratch size, in elements of the operand's dtype
     */
    public static long scratchElements(int[] shape, int[] axes) {
        return reducedLast(shape.length, axes) == null ? 0 : Math.max(1L, Shapes.size(shape));
    }

    /**
     * Reduces {@code x} over {@code axes}. The reduced axes are first moved last (one copy, skipped when they
     * already are), then each output element reduces a contiguous block, accumulating in double. A sum over an
     * empty axis is 0; a maximum propagates NaN, as in NumPy.
     *
     * @param kind the reduction
     * @param x the operand; not closed
     * @param axes the axes to reduce, each in {@code 0 .. rank-1} (not normalised: a negative axis fails with
     *             an {@link ArrayIndexOutOfBoundsException}); duplicates allowed, empty for none
     * @return a new tensor of {@code x}'s dtype with the reduced axes removed, owned by the caller
     * @throws IllegalArgumentException for a maximum over an empty axis (when the result has elements)
     */
    public static Tensor reduce(Kind kind, Tensor x, int[] axes) {
        int rank = x.rank();
        int[] keep = Shapes.complement(rank, axes);
        int[] perm = reducedLast(rank, axes);
        Tensor moved = perm == null ? x : Layout.transpose(x, perm);
        try {
            int[] outShape = new int[keep.length];
            for (int i = 0; i < keep.length; i++) {
                outShape[i] = x.dim(keep[i]);
            }
            int outer = Shapes.size(outShape);
            int block = outer == 0 ? 0 : moved.size() / Math.max(1, outer);
            if (outer > 0 && block == 0 && kind == Kind.MAX) {
                throw new IllegalArgumentException("reduce_max: cannot reduce an empty axis of shape "
                        + Shapes.str(x.shape()));
            }
            Tensor out = Tensor.empty(x.dtype(), outShape);
            Parallel.rangeBalanced(outer, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, block)), (lo, hi) -> {
                for (int o = lo; o < hi; o++) {
                    int base = o * block;
                    double acc = kind == Kind.SUM ? 0 : Double.NEGATIVE_INFINITY;
                    if (kind == Kind.SUM) {
                        for (int i = 0; i < block; i++) {
                            acc += moved.getFlat(base + i);
                        }
                    } else {
                        for (int i = 0; i < block; i++) {
                            double v = moved.getFlat(base + i);
                            // NaN propagates, as in NumPy
                            if (v > acc || Double.isNaN(v)) {
                                acc = v;
                                if (Double.isNaN(v)) {
                                    break;
                                }
                            }
                        }
                    }
                    out.setFlat(o, acc);
                }
            });
            return out;
        } finally {
            if (moved != x) {
                moved.close();
            }
        }
    }

    /**
     * Refuses a tensor that holds NaN or ±∞ ({@link #firstNonFiniteUnlessKnown}), in one line naming it: how the
     * kernels check their inputs.
     *
     * @param name what the tensor is, as the message names it ({@code x1}, say)
     * @param t the tensor; its values not changed
     * @throws IllegalArgumentException naming the first non-finite value and its flat index
     */
    public static void requireFinite(String name, Tensor t) {
        int bad = firstNonFiniteUnlessKnown(t);
        if (bad >= 0) {
            throw new IllegalArgumentException(name + ": contains a non-finite value (" + t.getFlat(bad)
                    + ") at flat index " + bad);
        }
    }

    /**
     * {@link #firstNonFinite(Tensor)} unless the tensor is {@link Tensor#knownFinite() known finite} (scanned
     * before, with no write it could have missed since); a scan that finds nothing records that
     * ({@link Tensor#markFinite}). How a kernel call checks parameters and inputs: validated once, not per call
     * (14.7 M parameters took 3 ms of the FCN example's 30 ms call, every call).
     *
     * @param t the tensor; its values not changed
     * @return the first non-finite element's flat index, or -1 when all are finite
     */
    public static int firstNonFiniteUnlessKnown(Tensor t) {
        if (t.knownFinite()) {
            return -1;
        }
        long writes = t.trackedWrites();
        int bad = firstNonFinite(t);
        if (bad < 0) {
            t.markFinite(writes);
        }
        return bad;
    }

    /**
     * {@link Tensor#firstNonFinite()} split across the cores for large tensors (the NaN/Inf check of 14.7 M
     * parameters took a seventh of the FCN example's call on one core).
     *
     * @param t the tensor; not changed
     * @return the first non-finite element's flat index, or -1 when all are finite
     */
    public static int firstNonFinite(Tensor t) {
        int n = t.size();
        int parts = Math.max(1, Math.min(Parallel.threads(), n / (1 << 20)));
        if (parts <= 1) {
            return t.firstNonFinite();
        }
        int[] found = new int[parts];
        Parallel.range(parts, 1, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                found[p] = t.firstNonFinite((int) ((long) n * p / parts), (int) ((long) n * (p + 1) / parts));
            }
        });
        for (int f : found) {
            if (f >= 0) {
                return f; // the parts are in order: the first part with one holds the first overall
            }
        }
        return -1;
    }
}
