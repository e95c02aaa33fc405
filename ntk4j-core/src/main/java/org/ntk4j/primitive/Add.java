package org.ntk4j.primitive;

import org.ntk4j.tensor.Tensor;
import org.ntk4j.graph.TensorType;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = a + b. */
public final class Add extends BinaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Add INSTANCE = new Add();

    private Add() {
        super(Elementwise.BinaryOp.ADD);
    }

    @Override
    public String name() {
        return "add";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank());
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank());
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? Stacked.unbroadcast(ct, p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcast(ct, p[1].shape()) : null};
    }

    /** The operand broadcast to the result (NumPy rules): trace axes where sizes match, broadcast axes elsewhere. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return LinearStructure.broadcast(inputs[operand], output, 1);
    }

    /** p' broadcast and added: the rows are δ summed over the broadcast axes. */
    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return ConsumerRule.Broadcast.of(inputs, output, operand, constants, 1, false);
    }
}
