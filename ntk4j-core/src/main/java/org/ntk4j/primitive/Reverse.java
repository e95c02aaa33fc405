package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's rev (JAX's {@code lax.rev}): the operand with the order of its elements reversed along each of
 * {@code axes}: result index i of such an axis of size n reads operand index {@code n - 1 - i}; the other axes are
 * taken as they are. Linear, and its own inverse and transpose.
 *
 * <p>JVP: the same reversal of the stacked tangent (the axes shifted past the K axis). VJP: the same reversal of
 * the cotangent. Structure: a {@link LinearStructure.AxisMap#SELECT} with offset {@code n - 1} and step −1 on each
 * reversed axis (a permutation of that axis: an identity Gram stays one).
 *
 * <p>One primitive, not slices and a concatenation: {@code torch.flip} of a 224×224 image along both axes would be
 * 448 one-wide slices and two concatenations, each one a graph equation in every JVP and VJP graph and in the cost
 * model's walk, where this is one strided copy whatever the size (ONNX imports {@code Slice} with negative steps as
 * a slice with positive steps and this reversal).
 */
public final class Reverse implements Primitive {
    private final int[] axes;

    /**
     * Creates the reversal; the axes are checked against the operand by {@link #outputType}.
     *
     * @param axes the reversed axes (each at most once, in any order), copied
     */
    public Reverse(int[] axes) {
        this.axes = axes.clone();
    }

    @Override
    public String name() {
        return "rev";
    }

    @Override
    public String params() {
        return "dimensions=" + Arrays.toString(axes);
    }

    /**
     * The reversed axes.
     *
     * @return a copy of the reversed axes, in the order given
     */
    public int[] axes() {
        return axes.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("rev: expects 1 operand, got " + in.length);
        }
        int rank = in[0].rank();
        boolean[] seen = new boolean[rank];
        for (int a : axes) {
            if (a < 0 || a >= rank) {
                throw new IllegalArgumentException("rev: axis " + a + " is out of range for " + in[0]
                        + " (expected 0 <= axis < " + rank + "; axes " + Arrays.toString(axes) + ")");
            }
            if (seen[a]) {
                throw new IllegalArgumentException("rev: axis " + a + " is given twice (axes "
                        + Arrays.toString(axes) + ", operand " + in[0] + ")");
            }
            seen[a] = true;
        }
        return in[0];
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** Axis by axis: result index i of a reversed axis of size n reads operand index n - 1 - i. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int r = output.rank();
        int[] source = new int[r];
        int[] offset = new int[r];
        int[] step = new int[r];
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[r];
        Arrays.fill(map, LinearStructure.AxisMap.SAME);
        for (int i = 0; i < r; i++) {
            source[i] = i;
        }
        for (int a : axes) {
            if (output.dim(a) > 1) {
                map[a] = LinearStructure.AxisMap.SELECT;
                offset[a] = output.dim(a) - 1;
                step[a] = -1;
            }
        }
        return LinearStructure.axes(1, source, map, offset, step);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.reverse(in[0], axes);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].rev(Stacked.shift(axes));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {ct.rev(Stacked.shift(axes))};
    }
}
