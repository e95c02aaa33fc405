package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Same elements in row-major order, another shape of the same size. Linear. */
public final class Reshape implements Primitive {
    private final int[] newShape;

    /**
     * Creates the reshape; the size is checked against the operand by {@link #outputType}.
     *
     * @param newShape the result shape, copied; its size must equal the operand's
     */
    public Reshape(int[] newShape) {
        this.newShape = newShape.clone();
    }

    @Override
    public String name() {
        return "reshape";
    }

    @Override
    public String params() {
        return "new_sizes=" + Arrays.toString(newShape);
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("reshape: expects 1 operand, got " + in.length);
        }
        for (int d : newShape) {
            if (d < 0) {
                throw new IllegalArgumentException("reshape: cannot reshape " + in[0] + " to " + Shapes.str(newShape)
                        + ": negative size");
            }
        }
        if (Shapes.size(newShape) != in[0].size()) {
            throw new IllegalArgumentException("reshape: cannot reshape " + in[0] + " (" + in[0].size()
                    + " elements) to " + Shapes.str(newShape) + " (" + Shapes.size(newShape) + " elements)");
        }
        return in[0].withShape(newShape);
    }

    /** The same elements in the same order: a last read of an owned operand moves its storage. */
    @Override
    public boolean resultIsOperandReshaped() {
        return true;
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** The same elements in the same row-major order. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return LinearStructure.regroup();
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return in[0].reshape(newShape);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].reshape(Shapes.prepend(k, newShape));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {ct.reshape(Shapes.prepend(ct.dim(0), p[0].shape()))};
    }
}
