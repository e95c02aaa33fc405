package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's static slice: on every axis d the elements {@code start[d], start[d] + stride[d], ...} below
 * {@code limit[d]}, with {@code 0 <= start[d] <= limit[d] <= size[d]} and {@code stride[d] >= 1}. The result has
 * {@code ceil((limit[d] - start[d]) / stride[d])} elements on axis d. Linear.
 *
 * <p>JVP: the same slice of the stacked tangent, the K axis taken whole. VJP: the cotangent padded with zeros
 * back to the operand's shape: {@code lo = start}, {@code hi = size - (last taken index + 1)},
 * {@code interior = stride - 1}, the K axis unpadded.
 */
public final class Slice implements Primitive {
    private final int[] start;
    private final int[] limit;
    private final int[] stride;

    /**
     * Creates the slice; the bounds are checked against the operand by {@link #outputType}.
     *
     * @param start per axis, the first index taken, copied
     * @param limit per axis, the exclusive upper bound, copied
     * @param stride per axis, the step between taken indices (at least 1), copied
     */
    public Slice(int[] start, int[] limit, int[] stride) {
        this.start = start.clone();
        this.limit = limit.clone();
        this.stride = stride.clone();
    }

    @Override
    public String name() {
        return "slice";
    }

    @Override
    public String params() {
        return "start=" + Arrays.toString(start) + " limit=" + Arrays.toString(limit) + " strides="
                + Arrays.toString(stride);
    }

    /**
     * The start indices.
     *
     * @return a copy of the per-axis first index taken
     */
    public int[] start() {
        return start.clone();
    }

    /**
     * The limits.
     *
     * @return a copy of the per-axis exclusive upper bound
     */
    public int[] limit() {
        return limit.clone();
    }

    /**
     * The strides.
     *
     * @return a copy of the per-axis step between taken indices
     */
    public int[] strides() {
        return stride.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("slice: expects 1 operand, got " + in.length);
        }
        TensorType x = in[0];
        int rank = x.rank();
        if (start.length != rank || limit.length != rank || stride.length != rank) {
            throw new IllegalArgumentException("slice: expects start, limit and strides of length " + rank
                    + " (one per axis of " + x + "), got start " + Arrays.toString(start) + ", limit "
                    + Arrays.toString(limit) + ", strides " + Arrays.toString(stride));
        }
        int[] out = new int[rank];
        for (int d = 0; d < rank; d++) {
            int n = x.dim(d);
            if (stride[d] < 1) {
                throw new IllegalArgumentException("slice: stride on axis " + d + " must be >= 1, got "
                        + stride[d] + " (strides " + Arrays.toString(stride) + ", operand " + x + ")");
            }
            if (start[d] > limit[d]) {
                throw new IllegalArgumentException("slice: negative size on axis " + d + ": start " + start[d]
                        + " > limit " + limit[d] + " (start " + Arrays.toString(start) + ", limit "
                        + Arrays.toString(limit) + ", operand " + x + ")");
            }
            if (start[d] < 0 || limit[d] > n) {
                throw new IllegalArgumentException("slice: axis " + d + " of " + x + " has size " + n
                        + ", expected 0 <= start <= limit <= " + n + ", got start " + start[d] + ", limit "
                        + limit[d] + " (start " + Arrays.toString(start) + ", limit " + Arrays.toString(limit)
                        + ")");
            }
            out[d] = sliceSize(start[d], limit[d], stride[d]);
        }
        return x.withShape(out);
    }

    /** Number of elements of {@code [start, limit)} taken with step {@code stride} (start &lt;= limit). */
    static int sliceSize(int start, int limit, int stride) {
        return (int) (((long) limit - start + stride - 1) / stride);
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** Axis by axis: result index i reads operand index start + i·stride. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int r = start.length;
        int[] source = new int[r];
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[r];
        for (int i = 0; i < r; i++) {
            source[i] = i;
            map[i] = start[i] == 0 && stride[i] == 1 && output.dim(i) == inputs[0].dim(i)
                    ? LinearStructure.AxisMap.SAME : LinearStructure.AxisMap.SELECT;
        }
        return LinearStructure.axes(1, source, map, start, stride);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.slice(in[0], start, limit, stride);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].slice(Shapes.prepend(0, start), Shapes.prepend(k, limit), Shapes.prepend(1, stride));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int rank = start.length;
        int[] hi = new int[rank];
        int[] interior = new int[rank];
        int[] outShape = out.shape();
        for (int d = 0; d < rank; d++) {
            int end = outShape[d] == 0 ? start[d] : start[d] + (outShape[d] - 1) * stride[d] + 1;
            hi[d] = p[0].dim(d) - end;
            interior[d] = stride[d] - 1;
        }
        return new Var[] {ct.pad(Shapes.prepend(0, start), Shapes.prepend(0, hi), Shapes.prepend(0, interior))};
    }
}
