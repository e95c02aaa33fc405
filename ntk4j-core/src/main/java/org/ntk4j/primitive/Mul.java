package org.ntk4j.primitive;

import org.ntk4j.tensor.Tensor;
import org.ntk4j.graph.TensorType;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = a · b. dz = da·b + a·db. */
public final class Mul extends BinaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Mul INSTANCE = new Mul();

    private Mul() {
        super(Elementwise.BinaryOp.MUL);
    }

    @Override
    public String name() {
        return "mul";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank()).mul(p[1]);
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank()).mul(p[0]);
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? Stacked.unbroadcastProduct(ct, p[1], p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcastProduct(ct, p[0], p[1].shape()) : null};
    }

    /**
     * Linear in either operand; a structure (a scaled broadcast) only when the other operand is a scalar
     * constant c. Multiplication by a tensor or by data is a diagonal, not a move of elements: none here (a mul
     * that consumes a parameter and data is handled by structured derivatives' elementwise rows).
     */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        double c = LinearStructure.scalarConstant(constants[1 - operand]);
        return Double.isNaN(c) ? null : LinearStructure.broadcast(inputs[operand], output, c);
    }

    /** p' broadcast and multiplied by the data: the rows are δ·a summed over the broadcast axes. */
    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return ConsumerRule.Broadcast.of(inputs, output, operand, constants, 1, true);
    }
}
