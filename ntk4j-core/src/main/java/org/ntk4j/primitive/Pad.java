package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's pad with zeros: on axis d, {@code interior[d] >= 0} zeros between neighbouring elements, then
 * {@code lo[d]} zeros before and {@code hi[d]} after; a negative {@code lo}/{@code hi} crops that many elements
 * (of the interior-padded operand) instead. Result size on axis d:
 * {@code lo + n + max(n - 1, 0) * interior + hi}, which must not be negative. Linear.
 *
 * <p>JVP: the same padding of the stacked tangent, the K axis unpadded. VJP: the elements of the cotangent at
 * the operand's positions, a slice with {@code start = lo}, {@code stride = interior + 1}; where {@code lo} or
 * {@code hi} is negative the cotangent is first padded with zeros for the cropped positions (whose operand
 * elements get a zero cotangent).
 */
public final class Pad implements Primitive {
    private final int[] lo;
    private final int[] hi;
    private final int[] interior;

    /**
     * Creates the padding; the sizes are checked against the operand by {@link #outputType}.
     *
     * @param lo per axis, zeros added before the first element (negative: elements cropped), copied
     * @param hi per axis, zeros added after the last element (negative: elements cropped), copied
     * @param interior per axis, zeros inserted between neighbouring elements (0 or more), copied
     */
    public Pad(int[] lo, int[] hi, int[] interior) {
        this.lo = lo.clone();
        this.hi = hi.clone();
        this.interior = interior.clone();
    }

    @Override
    public String name() {
        return "pad";
    }

    @Override
    public String params() {
        return "lo=" + Arrays.toString(lo) + " hi=" + Arrays.toString(hi) + " interior="
                + Arrays.toString(interior);
    }

    /**
     * The leading padding.
     *
     * @return a copy of the per-axis zeros before the first element (negative: cropped)
     */
    public int[] lo() {
        return lo.clone();
    }

    /**
     * The trailing padding.
     *
     * @return a copy of the per-axis zeros after the last element (negative: cropped)
     */
    public int[] hi() {
        return hi.clone();
    }

    /**
     * The interior padding.
     *
     * @return a copy of the per-axis zeros between neighbouring elements
     */
    public int[] interior() {
        return interior.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("pad: expects 1 operand, got " + in.length);
        }
        TensorType x = in[0];
        int rank = x.rank();
        if (lo.length != rank || hi.length != rank || interior.length != rank) {
            throw new IllegalArgumentException("pad: expects lo, hi and interior of length " + rank
                    + " (one per axis of " + x + "), got lo " + Arrays.toString(lo) + ", hi "
                    + Arrays.toString(hi) + ", interior " + Arrays.toString(interior));
        }
        int[] out = new int[rank];
        for (int d = 0; d < rank; d++) {
            if (interior[d] < 0) {
                throw new IllegalArgumentException("pad: interior padding on axis " + d + " must be >= 0, got "
                        + interior[d] + " (interior " + Arrays.toString(interior) + ", operand " + x + ")");
            }
            long size = (long) lo[d] + dilated(x.dim(d), interior[d]) + hi[d];
            if (size < 0) {
                throw new IllegalArgumentException("pad: axis " + d + " of " + x + " would have negative size "
                        + size + " (lo " + lo[d] + ", hi " + hi[d] + ", interior " + interior[d]
                        + "); expected lo + hi >= " + -dilated(x.dim(d), interior[d]));
            }
            if (size > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("pad: axis " + d + " of " + x + " would have size " + size
                        + ", more than 2^31-1");
            }
            out[d] = (int) size;
        }
        return x.withShape(out);
    }

    /** Size of an axis of {@code n} elements with {@code interior} zeros between neighbours. */
    static long dilated(int n, int interior) {
        return n == 0 ? 0 : n + (long) (n - 1) * interior;
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** Axis by axis: operand index m lands at lo + m·(interior + 1); the rest is zeros. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int r = lo.length;
        int[] source = new int[r];
        int[] step = new int[r];
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[r];
        for (int i = 0; i < r; i++) {
            source[i] = i;
            step[i] = interior[i] + 1;
            map[i] = lo[i] == 0 && hi[i] == 0 && interior[i] == 0 ? LinearStructure.AxisMap.SAME
                    : LinearStructure.AxisMap.EMBED;
        }
        return LinearStructure.axes(1, source, map, lo, step);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.pad(in[0], lo, hi, interior);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].pad(Shapes.prepend(0, lo), Shapes.prepend(0, hi), Shapes.prepend(0, interior));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int rank = lo.length;
        int[] restoreLo = new int[rank];
        int[] restoreHi = new int[rank];
        boolean cropped = false;
        for (int d = 0; d < rank; d++) {
            restoreLo[d] = Math.max(0, -lo[d]);
            restoreHi[d] = Math.max(0, -hi[d]);
            cropped |= restoreLo[d] > 0 || restoreHi[d] > 0;
        }
        Var c = ct;
        if (cropped) {
            // zeros for the cropped positions: the padding becomes (max(lo, 0), max(hi, 0))
            c = c.pad(Shapes.prepend(0, restoreLo), Shapes.prepend(0, restoreHi), new int[rank + 1]);
        }
        int[] start = new int[rank];
        int[] limit = new int[rank];
        int[] step = new int[rank];
        for (int d = 0; d < rank; d++) {
            start[d] = Math.max(0, lo[d]);
            limit[d] = (int) (start[d] + dilated(p[0].dim(d), interior[d]));
            step[d] = interior[d] + 1;
        }
        return new Var[] {c.slice(Shapes.prepend(0, start), Shapes.prepend(ct.dim(0), limit),
                Shapes.prepend(1, step))};
    }
}
