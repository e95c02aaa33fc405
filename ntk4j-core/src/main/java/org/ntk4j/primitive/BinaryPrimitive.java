package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.TensorType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** An elementwise binary operation with NumPy broadcasting; both operands have the same dtype. */
public abstract class BinaryPrimitive implements Primitive {
    private final Elementwise.BinaryOp op;

    /**
     * Creates the primitive.
     *
     * @param op the elementwise CPU kernel {@link #evaluate} applies, with broadcasting
     */
    protected BinaryPrimitive(Elementwise.BinaryOp op) {
        this.op = op;
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException(name() + ": expects 2 operands, got " + in.length);
        }
        if (in[0].dtype() != in[1].dtype()) {
            throw new IllegalArgumentException(name() + ": operand dtypes differ: " + in[0] + " and " + in[1]);
        }
        return in[0].withShape(Shapes.broadcast(name(), in[0].shape(), in[1].shape()));
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Elementwise.binary(op, in[0], in[1]);
    }
}
