package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Maximum over a set of axes. Its derivative is split evenly between the positions attaining the maximum
 * (the mask x == max, divided by the count), the same convention as JAX.
 */
public final class ReduceMax implements Primitive {
    private final int[] axes;

    /**
     * Creates the reduction; the axes are checked against the operand by {@link #outputType}.
     *
     * @param axes the operand axes to take the maximum over, copied; each in range, listed once and non-empty
     */
    public ReduceMax(int[] axes) {
        this.axes = axes.clone();
    }

    @Override
    public String name() {
        return "reduce_max";
    }

    @Override
    public String params() {
        return "axes=" + Arrays.toString(axes);
    }

    @Override
    public TensorType outputType(TensorType... in) {
        int[] s = ReduceSum.reducedShape(name(), in, axes);
        for (int a : axes) {
            if (in[0].dim(a) == 0) {
                throw new IllegalArgumentException("reduce_max: cannot reduce the empty axis " + a + " of "
                        + in[0]);
            }
        }
        return in[0].withShape(s);
    }

    /** One comparison per input element. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return inputs[0].size();
    }

    /** The copy of the operand that moves the reduced axes last ({@link Reduce#scratchElements}). */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return Reduce.scratchElements(inputs[0].shape(), axes) * output.dtype().bytes();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Reduce.reduce(Reduce.Kind.MAX, in[0], axes);
    }

    /** mask / count, with the shape of the input: the weight of each input position in the maximum. */
    private Var weights(Var x, Var out) {
        int[] keep = Shapes.complement(x.rank(), axes);
        Var mask = x.equalTo(out.broadcastInDim(x.shape(), keep));
        Var count = mask.builder().apply(new ReduceSum(axes), mask);
        return mask.div(count.broadcastInDim(x.shape(), keep));
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var weighted = t[0].mul(weights(p[0], out));
        return weighted.builder().apply(new ReduceSum(Stacked.shift(axes)), weighted);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int[] keep = Shapes.complement(p[0].rank(), axes);
        Var spread = ct.broadcastInDim(Shapes.prepend(ct.dim(0), p[0].shape()),
                Shapes.concat(new int[] {0}, Stacked.shift(keep)));
        return new Var[] {spread.mul(weights(p[0], out))};
    }
}
