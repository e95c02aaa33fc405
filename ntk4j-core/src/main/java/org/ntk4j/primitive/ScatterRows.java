package org.ntk4j.primitive;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The transpose of {@link GatherRows}, its VJP: operands the values c of shape {@code P + I.shape + Q} (P of
 * {@code axis} axes) and the ids I; result {@code P + [rows] + Q}, zeros except that each row c[p, i, q] is added to
 * row {@code row(I[i])} ({@link GatherRows}'s rule: an id in [−rows, 0) counts from the end). Ids that repeat add
 * up. Any id out of range makes the whole result NaN, as the transposed one-hot product whose row of that id is NaN
 * does: never a silent loss of the row. Linear in c; the ids only select. JVP: scatter of ċ. VJP: c̄ = {@link
 * GatherRows} of the cotangent; Ī = 0.
 */
public final class ScatterRows implements Primitive {
    private final int axis;
    private final int rows;

    /**
     * Creates the scatter; the sizes are checked against the operands by {@link #outputType}.
     *
     * @param axis the axis of the result that the ids index (the first of the ids' axes in the values)
     * @param rows the size of that axis, 0 or more
     * @throws IllegalArgumentException if {@code rows} is negative
     */
    public ScatterRows(int axis, int rows) {
        if (rows < 0) {
            throw new IllegalArgumentException("scatter_rows: expects 0 or more rows, got " + rows);
        }
        this.axis = axis;
        this.rows = rows;
    }

    @Override
    public String name() {
        return "scatter_rows";
    }

    @Override
    public String params() {
        return "axis=" + axis + " rows=" + rows;
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException(name() + ": expects 2 operands (values, ids), got " + in.length);
        }
        GatherRows.checkIdType(name(), in[1]);
        int[] c = in[0].shape();
        int[] ids = in[1].shape();
        if (axis < 0 || axis + ids.length > c.length
                || !Arrays.equals(Arrays.copyOfRange(c, axis, axis + ids.length), ids)) {
            throw new IllegalArgumentException(name() + ": expects values with the ids' shape " + Arrays.toString(ids)
                    + " at axis " + axis + ", got values " + in[0]);
        }
        return in[0].withShape(Shapes.concat(Arrays.copyOfRange(c, 0, axis), new int[] {rows},
                Arrays.copyOfRange(c, axis + ids.length, c.length)));
    }

    /** One addition per value, and one range check per id. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return (double) inputs[0].size() + inputs[1].size();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        int[] out = outputType(TensorType.of(in[0]), TensorType.of(in[1])).shape();
        int[] at = GatherRows.rowIndices(in[1], rows);
        int m = at.length;
        int[] c = in[0].shape();
        int outer = Shapes.size(c, 0, axis);
        int inner = Shapes.size(c, axis + in[1].rank(), c.length);
        Tensor result = Tensor.zeros(in[0].dtype(), out);
        boolean f64 = result.dtype() == DType.F64;
        DoubleBuffer src = f64 ? in[0].doubles() : null;
        DoubleBuffer dst = f64 ? result.doubles() : null;
        FloatBuffer srcF = f64 ? null : in[0].floats();
        FloatBuffer dstF = f64 ? null : result.floats();
        for (int r : at) {
            if (r < 0) { // the one-hot's NaN row reaches every row of the transposed product
                GatherRows.fill(dst, dstF, 0, result.size(), Double.NaN);
                return result;
            }
        }
        // each block p (a stacked cotangent of the VJP among them) writes its own rows, in order: the same sums
        org.ntk4j.cpu.Parallel.range(outer, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN
                / Math.max(1, m * inner)), (from, to) -> {
                    for (int p = from; p < to; p++) {
                        for (int i = 0; i < m; i++) {
                            int s = (p * m + i) * inner;
                            int d = (p * rows + at[i]) * inner;
                            for (int j = 0; j < inner; j++) {
                                if (f64) {
                                    dst.put(d + j, dst.get(d + j) + src.get(s + j));
                                } else {
                                    dstF.put(d + j, dstF.get(d + j) + srcF.get(s + j));
                                }
                            }
                        }
                    }
                });
        return result;
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0] == null ? null : p[0].builder().apply(new ScatterRows(axis + 1, rows), t[0], p[1]);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {needed[0] ? p[0].builder().apply(new GatherRows(axis + 1), ct, p[1]) : null, null};
    }
}
