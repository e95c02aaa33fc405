package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Sum over a set of axes, which are removed from the shape. Linear. */
public final class ReduceSum implements Primitive {
    private final int[] axes;

    /**
     * Creates the reduction; the axes are checked against the operand by {@link #outputType}.
     *
     * @param axes the operand axes to sum over, copied; each in range and listed once
     */
    public ReduceSum(int[] axes) {
        this.axes = axes.clone();
    }

    @Override
    public String name() {
        return "reduce_sum";
    }

    @Override
    public String params() {
        return "axes=" + Arrays.toString(axes);
    }

    /**
     * The summed axes.
     *
     * @return a copy of the operand axes summed over
     */
    public int[] axes() {
        return axes.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        return in[0].withShape(reducedShape(name(), in, axes));
    }

    /** Shared shape rule of the reductions: validates the axes and drops them. */
    static int[] reducedShape(String op, TensorType[] in, int[] axes) {
        if (in.length != 1) {
            throw new IllegalArgumentException(op + ": expects 1 operand, got " + in.length);
        }
        int rank = in[0].rank();
        boolean[] seen = new boolean[rank];
        for (int a : axes) {
            if (a < 0 || a >= rank) {
                throw new IllegalArgumentException(op + ": axis " + a + " is out of range for " + in[0]);
            }
            if (seen[a]) {
                throw new IllegalArgumentException(op + ": axis " + a + " is listed twice for " + in[0]);
            }
            seen[a] = true;
        }
        int[] keep = Shapes.complement(rank, axes);
        int[] out = new int[keep.length];
        int[] s = in[0].shape();
        for (int i = 0; i < keep.length; i++) {
            out[i] = s[keep[i]];
        }
        return out;
    }

    /** One addition per input element. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return inputs[0].size();
    }

    /** The kept axes in order; the reduced axes are summed. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int[] kept = Shapes.complement(inputs[0].rank(), axes);
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[kept.length];
        Arrays.fill(map, LinearStructure.AxisMap.SAME);
        return LinearStructure.axes(1, kept, map, new int[kept.length], new int[kept.length]);
    }

    /** The copy of the operand that moves the reduced axes last ({@link Reduce#scratchElements}). */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return Reduce.scratchElements(inputs[0].shape(), axes) * output.dtype().bytes();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Reduce.reduce(Reduce.Kind.SUM, in[0], axes);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].builder().apply(new ReduceSum(Stacked.shift(axes)), t[0]);
    }

    /** The adjoint of a sum is a broadcast back over the summed axes. */
    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int[] keep = Shapes.complement(p[0].rank(), axes);
        return new Var[] {ct.broadcastInDim(Shapes.prepend(ct.dim(0), p[0].shape()),
                Shapes.concat(new int[] {0}, Stacked.shift(keep)))};
    }
}
