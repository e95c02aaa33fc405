package org.ntk4j.primitive;

import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Concatenation of n &gt;= 1 operands along {@code axis}: all operands have the same dtype and rank and the same
 * sizes on every other axis; the result's size on {@code axis} is the sum of theirs. Linear in every operand.
 *
 * <p>JVP: the stacked tangents concatenated along {@code axis + 1}, an operand without tangent contributing
 * zeros of its stacked shape. VJP: operand i receives the slice of the cotangent along {@code axis + 1} at its
 * own offset.
 */
public final class Concatenate implements Primitive {
    private final int axis;

    /**
     * Creates the concatenation. {@code axis} must already be normalised (non-negative); {@link Var#concatenate}
     * accepts negative ones.
     *
     * @param axis the non-negative axis along which the operands are joined, checked by {@link #outputType}
     */
    public Concatenate(int axis) {
        this.axis = axis;
    }

    @Override
    public String name() {
        return "concatenate";
    }

    @Override
    public String params() {
        return "axis=" + axis;
    }

    /**
     * The concatenation axis.
     *
     * @return the non-negative axis along which the operands are joined
     */
    public int axis() {
        return axis;
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length == 0) {
            throw new IllegalArgumentException("concatenate: expects at least 1 operand, got 0");
        }
        TensorType first = in[0];
        int rank = first.rank();
        if (axis < 0 || axis >= rank) {
            throw new IllegalArgumentException("concatenate: axis " + axis + " is out of range for operand 0 "
                    + first + " (rank " + rank + ")");
        }
        int[] out = first.shape();
        long total = 0;
        for (int i = 0; i < in.length; i++) {
            TensorType x = in[i];
            if (x.dtype() != first.dtype()) {
                throw new IllegalArgumentException("concatenate: operand " + i + " " + x + " has dtype "
                        + x.dtype().shortName() + ", expected " + first.dtype().shortName() + " like operand 0 "
                        + first);
            }
            boolean fits = x.rank() == rank;
            for (int d = 0; fits && d < rank; d++) {
                fits = d == axis || x.dim(d) == first.dim(d);
            }
            if (!fits) {
                throw new IllegalArgumentException("concatenate: operand " + i + " " + x + " does not fit along axis "
                        + axis + ": expected shape " + pattern(out) + " like operand 0 " + first + ", got "
                        + Shapes.str(x.shape()));
            }
            total += x.dim(axis);
        }
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("concatenate: axis " + axis + " would have size " + total
                    + ", more than 2^31-1");
        }
        out[axis] = (int) total;
        return first.withShape(out);
    }

    /** The expected shape with {@code *} on the concatenation axis, e.g. {@code [2, *, 4]}. */
    private String pattern(int[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int d = 0; d < shape.length; d++) {
            if (d > 0) {
                sb.append(", ");
            }
            sb.append(d == axis ? "*" : String.valueOf(shape[d]));
        }
        return sb.append(']').toString();
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** Operand i is embedded at its offset along the concatenation axis; every other axis is the same. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int r = output.rank();
        int[] source = new int[r];
        int[] offset = new int[r];
        int[] step = new int[r];
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[r];
        for (int i = 0; i < r; i++) {
            source[i] = i;
            map[i] = LinearStructure.AxisMap.SAME;
        }
        int at = 0;
        for (int i = 0; i < operand; i++) {
            at += inputs[i].dim(axis);
        }
        map[axis] = inputs.length == 1 ? LinearStructure.AxisMap.SAME : LinearStructure.AxisMap.EMBED;
        offset[axis] = at;
        step[axis] = 1;
        return LinearStructure.axes(1, source, map, offset, step);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.concatenate(in, axis);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var[] parts = new Var[p.length];
        for (int i = 0; i < p.length; i++) {
            parts[i] = t[i] != null ? t[i] : out.builder().zeros(p[i].type().stacked(k));
        }
        return Var.concatenate(axis + 1, parts);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        Var[] r = new Var[p.length];
        int offset = 0;
        for (int i = 0; i < p.length; i++) {
            int n = p[i].dim(axis);
            if (needed[i]) {
                r[i] = ct.sliceInDim(axis + 1, offset, offset + n, 1);
            }
            offset += n;
        }
        return r;
    }
}
