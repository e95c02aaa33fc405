package org.ntk4j.cpu;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Data movement kernels. Every layout operation (transpose, broadcast, slice, pad, concatenate, reverse) is one
 * strided copy: {@code dst[dOff + Σ i_d·dStride_d] = src[sOff + Σ i_d·sStride_d]} over an index box, with
 * stride 0 for broadcast axes, scaled strides for slices and negative ones for reversals.
 */
public final class Layout {
    private Layout() {
    }

    /**
     * Strided copy over the index box {@code shape}: for every index i in the box,
     * {@code dst[dOff + Σ i_d·dStrides_d] = src[sOff + Σ i_d·sStrides_d]}. Outer axes are split across cores; the
     * innermost axis is a tight loop. No allocation per element. Offsets are not checked against the tensors: the
     * caller keeps every access inside them (a stray one fails with an {@link IndexOutOfBoundsException}).
     *
     * @param src the source; not changed
     * @param sOff element offset in {@code src} of box index 0
     * @param sStrides source step of each box axis, in elements (0 repeats, negative walks backwards)
     * @param dst the destination, of {@code src}'s dtype; only the addressed elements are written
     * @param dOff element offset in {@code dst} of box index 0
     * @param dStrides destination step of each box axis, in elements (distinct box indices must not share an element)
     * @param shape the index box; {@code sStrides} and {@code dStrides} have one entry per axis
     * @throws IllegalArgumentException when the dtypes differ
     */
    public static void stridedCopy(Tensor src, int sOff, int[] sStrides, Tensor dst, int dOff, int[] dStrides,
                                   int[] shape) {
        if (src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException("stridedCopy: dtype " + src.dtype() + " vs " + dst.dtype());
        }
        int rank = shape.length;
        int total = Shapes.size(shape);
        if (total == 0) {
            return;
        }
        if (rank == 0) {
            dst.setFlat(dOff, src.getFlat(sOff));
            return;
        }
        int[][] merged = mergeAxes(sStrides, dStrides, shape);
        if (merged[0].length < rank) {
            stridedCopy(src, sOff, merged[0], dst, dOff, merged[1], merged[2]);
            return;
        }
        int blockAxis = transposedAxis(sStrides, dStrides, shape);
        if (blockAxis >= 0) {
            blockedCopy(src, sOff, sStrides, dst, dOff, dStrides, shape, blockAxis);
            return;
        }
        int inner = shape[rank - 1];
        int rows = total / inner;
        int sInner = sStrides[rank - 1];
        int dInner = dStrides[rank - 1];
        boolean f32 = src.dtype() == DType.F32;
        FloatBuffer sf = f32 ? src.floats() : null;
        FloatBuffer df = f32 ? dst.floats() : null;
        DoubleBuffer sd = f32 ? null : src.doubles();
        DoubleBuffer dd = f32 ? null : dst.doubles();
        Parallel.rangeBalanced(rows, Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, inner)), (lo, hi) -> {
            int[] idx = new int[rank - 1];
            // position the odometer at row lo
            int r = lo;
            for (int a = rank - 2; a >= 0; a--) {
                idx[a] = r % shape[a];
                r /= shape[a];
            }
            int s = sOff;
            int d = dOff;
            for (int a = 0; a < rank - 1; a++) {
                s += idx[a] * sStrides[a];
                d += idx[a] * dStrides[a];
            }
            for (int row = lo; row < hi; row++) {
                if (f32) {
                    copyRow(sf, s, sInner, df, d, dInner, inner);
                } else {
                    copyRow(sd, s, sInner, dd, d, dInner, inner);
                }
                // advance the odometer
                for (int a = rank - 2; a >= 0; a--) {
                    idx[a]++;
                    s += sStrides[a];
                    d += dStrides[a];
                    if (idx[a] < shape[a]) {
                        break;
                    }
                    s -= idx[a] * sStrides[a];
                    d -= idx[a] * dStrides[a];
                    idx[a] = 0;
                }
            }
        });
    }

    /**
     * The same copy over fewer axes: axes of length 1 dropped, and each axis merged into the one before it where
     * both sides step over it as over one longer axis (stride[a] = stride[a+1]·shape[a+1] on both sides). A copy
     * whose innermost axis has length 1 would otherwise walk its odometer once per element.
     * Returns {source strides, destination strides, shape} (the inputs themselves when nothing changes).
     */
    static int[][] mergeAxes(int[] sStrides, int[] dStrides, int[] shape) {
        int rank = shape.length;
        int[] ss = new int[rank];
        int[] ds = new int[rank];
        int[] sh = new int[rank];
        int n = 0;
        for (int a = 0; a < rank; a++) {
            if (shape[a] == 1) {
                continue;
            }
            if (n > 0 && ss[n - 1] == sStrides[a] * shape[a] && ds[n - 1] == dStrides[a] * shape[a]) {
                sh[n - 1] *= shape[a];
                ss[n - 1] = sStrides[a];
                ds[n - 1] = dStrides[a];
                continue;
            }
            ss[n] = sStrides[a];
            ds[n] = dStrides[a];
            sh[n] = shape[a];
            n++;
        }
        if (n == rank) {
            return new int[][] {sStrides, dStrides, shape};
        }
        if (n == 0) { // a single element
            return new int[][] {new int[] {1}, new int[] {1}, new int[] {1}};
        }
        return new int[][] {java.util.Arrays.copyOf(ss, n), java.util.Arrays.copyOf(ds, n),
            java.util.Arrays.copyOf(sh, n)};
    }

    /** Side of the square tiles of {@link #blockedCopy}: 32 × 32 elements on each side stay in L1. */
    private static final int TILE = 32;
    /** Shortest axes worth the blocked copy: 8 elements of the source's contiguous axis per cache line read. */
    private static final int MIN_BLOCKED = 8;

    /**
     * The axis b that makes this copy a transpose worth blocking: the destination's innermost axis is
     * contiguous but the source walks it with a stride, while the source is contiguous along b; both at least
     * {@link #MIN_BLOCKED} long (a 16-long b still reads whole cache lines where the element walk reads one
     * element per line). -1 when there is none.
     */
    private static int transposedAxis(int[] sStrides, int[] dStrides, int[] shape) {
        int last = shape.length - 1;
        if (last < 1 || dStrides[last] != 1 || sStrides[last] == 1 || sStrides[last] == 0
                || shape[last] < MIN_BLOCKED) {
            return -1;
        }
        for (int b = 0; b < last; b++) {
            if (sStrides[b] == 1 && dStrides[b] != 0 && shape[b] >= MIN_BLOCKED) {
                return b;
            }
        }
        return -1;
    }

    /**
     * The strided copy in TILE × TILE tiles of (axis b, innermost axis), so that a transpose reads and writes
     * whole cache lines instead of one element per line (the element-by-element walk moved about 1 GB/s).
     * Work is split over the other axes and the tiles of b.
     */
    private static void blockedCopy(Tensor src, int sOff, int[] sStrides, Tensor dst, int dOff, int[] dStrides,
                                    int[] shape, int b) {
        int last = shape.length - 1;
        int inner = shape[last];
        int sInner = sStrides[last];
        int nb = shape[b];
        int tiles = (nb + TILE - 1) / TILE;
        int[] outer = new int[last - 1];
        for (int a = 0, k = 0; a < last; a++) {
            if (a != b) {
                outer[k++] = a;
            }
        }
        int outerCount = 1;
        for (int a : outer) {
            outerCount *= shape[a];
        }
        boolean f32 = src.dtype() == DType.F32;
        FloatBuffer sf = f32 ? src.floats() : null;
        FloatBuffer df = f32 ? dst.floats() : null;
        DoubleBuffer sd = f32 ? null : src.doubles();
        DoubleBuffer dd = f32 ? null : dst.doubles();
        int sb = sStrides[b];
        int db = dStrides[b];
        // the source is contiguous along b (sb = 1) and the destination along the innermost axis: a tile is read
        // as TILE runs along b and written as TILE runs along the innermost axis, both by bulk copies, and
        // transposed in between in heap arrays
        Parallel.rangeBalanced(outerCount * tiles, Math.max(1, Parallel.DEFAULT_GRAIN / (TILE * inner)), (lo, hi) -> {
            float[] tileF = f32 ? new float[TILE * TILE] : null;
            float[] rowF = f32 ? new float[TILE] : null;
            double[] tileD = f32 ? null : new double[TILE * TILE];
            double[] rowD = f32 ? null : new double[TILE];
            for (int u = lo; u < hi; u++) {
                int rest = u / tiles;
                int s0 = sOff;
                int d0 = dOff;
                for (int k = outer.length - 1; k >= 0; k--) {
                    int a = outer[k];
                    int idx = rest % shape[a];
                    rest /= shape[a];
                    s0 += idx * sStrides[a];
                    d0 += idx * dStrides[a];
                }
                int i0 = (u % tiles) * TILE;
                int ni = Math.min(nb, i0 + TILE) - i0;
                for (int j0 = 0; j0 < inner; j0 += TILE) {
                    int nj = Math.min(inner, j0 + TILE) - j0;
                    int s = s0 + i0 * sb + j0 * sInner;
                    int d = d0 + i0 * db + j0;
                    if (f32) {
                        for (int j = 0; j < nj; j++) {
                            sf.get(s + j * sInner, tileF, j * TILE, ni);
                        }
                        for (int i = 0; i < ni; i++) {
                            for (int j = 0; j < nj; j++) {
                                rowF[j] = tileF[j * TILE + i];
                            }
                            df.put(d + i * db, rowF, 0, nj);
                        }
                    } else {
                        for (int j = 0; j < nj; j++) {
                            sd.get(s + j * sInner, tileD, j * TILE, ni);
                        }
                        for (int i = 0; i < ni; i++) {
                            for (int j = 0; j < nj; j++) {
                                rowD[j] = tileD[j * TILE + i];
                            }
                            dd.put(d + i * db, rowD, 0, nj);
                        }
                    }
                }
            }
        });
    }

    private static void copyRow(FloatBuffer s, int so, int ss, FloatBuffer d, int dof, int ds, int n) {
        if (ss == 1 && ds == 1) {
            d.put(dof, s, so, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            d.put(dof + i * ds, s.get(so + i * ss));
        }
    }

    private static void copyRow(DoubleBuffer s, int so, int ss, DoubleBuffer d, int dof, int ds, int n) {
        if (ss == 1 && ds == 1) {
            d.put(dof, s, so, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            d.put(dof + i * ds, s.get(so + i * ss));
        }
    }

    /**
     * out = transpose(x, perm): out.shape[i] = x.shape[perm[i]], one strided copy.
     *
     * @param x the operand; not closed
     * @param perm a permutation of {@code 0 .. rank-1} (not checked: the primitive checks it)
     * @return a new contiguous tensor, owned by the caller
     */
    public static Tensor transpose(Tensor x, int[] perm) {
        int[] outShape = Shapes.permute(x.shape(), perm);
        Tensor out = Tensor.empty(x.dtype(), outShape);
        int[] xs = Shapes.strides(x.shape());
        int[] sStrides = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            sStrides[i] = xs[perm[i]];
        }
        stridedCopy(x, 0, sStrides, out, 0, Shapes.strides(outShape), outShape);
        return out;
    }

    /**
     * XLA's broadcast_in_dim: axis i of x becomes axis dims[i] of the result (x's size there is 1 or equal
     * to the target size); every other result axis repeats x. The arguments are not checked (the primitive checks
     * them).
     *
     * @param x the operand; not closed
     * @param shape the result shape
     * @param dims for each axis of {@code x}, its result axis (distinct)
     * @return a new tensor of {@code shape}, owned by the caller
     */
    public static Tensor broadcastInDim(Tensor x, int[] shape, int[] dims) {
        Tensor out = Tensor.empty(x.dtype(), shape);
        int[] xs = Shapes.strides(x.shape());
        int[] sStrides = new int[shape.length];
        for (int i = 0; i < dims.length; i++) {
            sStrides[dims[i]] = x.dim(i) == 1 ? 0 : xs[i];
        }
        stridedCopy(x, 0, sStrides, out, 0, Shapes.strides(shape), shape);
        return out;
    }

    /**
     * x[start_d : limit_d : stride_d] on every axis (an empty axis where limit &le; start). The bounds are not
     * checked (the primitive checks them).
     *
     * @param x the operand; not closed
     * @param start the first index on each axis, {@code 0 <= start <= size}
     * @param limit the exclusive upper bound on each axis, at most the axis size
     * @param stride the step on each axis, at least 1
     * @return a new tensor of shape {@code ceil((limit - start) / stride)}, owned by the caller
     */
    public static Tensor slice(Tensor x, int[] start, int[] limit, int[] stride) {
        int rank = x.rank();
        int[] outShape = new int[rank];
        int[] xs = Shapes.strides(x.shape());
        int[] sStrides = new int[rank];
        int off = 0;
        for (int i = 0; i < rank; i++) {
            // in long: a stride near Integer.MAX_VALUE (one element) would overflow the count in int
            outShape[i] = (int) Math.max(0, ((long) limit[i] - start[i] + stride[i] - 1) / stride[i]);
            sStrides[i] = xs[i] * stride[i];
            off += start[i] * xs[i];
        }
        Tensor out = Tensor.empty(x.dtype(), outShape);
        stridedCopy(x, off, sStrides, out, 0, Shapes.strides(outShape), outShape);
        return out;
    }

    /**
     * x with its elements in reverse order along each of {@code axes} (result index i of such an axis of size n is
     * x's index n - 1 - i): one strided copy that walks those axes of x backwards. The axes are not checked (the
     * primitive checks them).
     *
     * @param x the operand; not closed
     * @param axes the reversed axes, each in {@code 0 .. rank-1} and at most once
     * @return a new tensor of x's shape, owned by the caller
     */
    public static Tensor reverse(Tensor x, int[] axes) {
        int[] shape = x.shape();
        int[] sStrides = Shapes.strides(shape);
        int off = 0;
        for (int a : axes) {
            if (shape[a] > 0) {
                off += (shape[a] - 1) * sStrides[a];
            }
            sStrides[a] = -sStrides[a];
        }
        Tensor out = Tensor.empty(x.dtype(), shape);
        stridedCopy(x, off, sStrides, out, 0, Shapes.strides(shape), shape);
        return out;
    }

    /**
     * x[from:to] along {@code axis}, every other axis whole.
     *
     * @param x the operand; not closed
     * @param axis the sliced axis, in {@code 0 .. rank-1} (not normalised)
     * @param from the first index
     * @param to the exclusive upper bound, {@code from <= to <= size}
     * @return a new tensor, owned by the caller
     */
    public static Tensor sliceAxis(Tensor x, int axis, int from, int to) {
        int[] start = new int[x.rank()];
        int[] limit = x.shape();
        int[] stride = new int[x.rank()];
        java.util.Arrays.fill(stride, 1);
        start[axis] = from;
        limit[axis] = to;
        return slice(x, start, limit, stride);
    }

    /**
     * Pads with zeros: lo[i] elements before and hi[i] after axis i; negative amounts crop. Interior padding
     * {@code interior[i]} inserts that many zeros between neighbouring elements (used by strided-conv grads).
     *
     * @param x the operand; not closed
     * @param lo the padding before each axis (negative crops)
     * @param hi the padding after each axis (negative crops)
     * @param interior the zeros between neighbouring elements of each axis, each at least 0
     * @return a new tensor of shape {@code lo + size + (size-1)·interior + hi} per axis, owned by the caller
     * @throws IllegalArgumentException when an axis would get a negative size
     */
    public static Tensor pad(Tensor x, int[] lo, int[] hi, int[] interior) {
        int rank = x.rank();
        int[] outShape = new int[rank];
        for (int i = 0; i < rank; i++) {
            int n = x.dim(i);
            int dilated = n == 0 ? 0 : n + (n - 1) * interior[i];
            outShape[i] = lo[i] + dilated + hi[i];
            if (outShape[i] < 0) {
                throw new IllegalArgumentException("pad: axis " + i + " would have negative size " + outShape[i]);
            }
        }
        Tensor out = Tensor.zeros(x.dtype(), outShape);
        // copy the source elements that land inside the output
        int[] xs = Shapes.strides(x.shape());
        int[] os = Shapes.strides(outShape);
        int[] box = new int[rank];
        int sOff = 0;
        int dOff = 0;
        int[] sStrides = new int[rank];
        int[] dStrides = new int[rank];
        for (int i = 0; i < rank; i++) {
            int step = interior[i] + 1;
            // first source index j with lo + j*step >= 0
            int first = lo[i] >= 0 ? 0 : (-lo[i] + step - 1) / step;
            // last source index j with lo + j*step < outShape
            int lastExcl = Math.min(x.dim(i), outShape[i] - lo[i] <= 0 ? 0 : (outShape[i] - lo[i] + step - 1) / step);
            box[i] = Math.max(0, lastExcl - first);
            sOff += first * xs[i];
            dOff += (lo[i] + first * step) * os[i];
            sStrides[i] = xs[i];
            dStrides[i] = os[i] * step;
        }
        if (Shapes.size(box) > 0) {
            stridedCopy(x, sOff, sStrides, out, dOff, dStrides, box);
        }
        return out;
    }

    /**
     * Concatenation along {@code axis}. The parts are not checked (the primitive checks them): they must share
     * the dtype and every size but {@code axis}'s.
     *
     * @param parts the operands, at least one; not closed
     * @param axis the axis to join along, in {@code 0 .. rank-1} (not normalised)
     * @return a new tensor whose {@code axis} has the summed sizes, owned by the caller
     */
    public static Tensor concatenate(Tensor[] parts, int axis) {
        int[] outShape = parts[0].shape();
        int total = 0;
        for (Tensor p : parts) {
            total += p.dim(axis);
        }
        outShape[axis] = total;
        Tensor out = Tensor.empty(parts[0].dtype(), outShape);
        int[] os = Shapes.strides(outShape);
        int offset = 0;
        for (Tensor p : parts) {
            stridedCopy(p, 0, Shapes.strides(p.shape()), out, offset * os[axis], os, p.shape());
            offset += p.dim(axis);
        }
        return out;
    }
}
