package org.ntk4j.primitive;

import org.ntk4j.tensor.Tensor;
import org.ntk4j.graph.TensorType;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Var;

/** z = a - b. */
public final class Sub extends BinaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Sub INSTANCE = new Sub();

    private Sub() {
        super(Elementwise.BinaryOp.SUB);
    }

    @Override
    public String name() {
        return "sub";
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        Var ta = t[0] == null ? null : Stacked.align(t[0], out.rank());
        Var tb = t[1] == null ? null : Stacked.align(t[1], out.rank()).neg();
        return Stacked.broadcastTo(Stacked.add(ta, tb), out.shape());
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {
            needed[0] ? Stacked.unbroadcast(ct, p[0].shape()) : null,
            needed[1] ? Stacked.unbroadcast(ct.neg(), p[1].shape()) : null};
    }

    /** The operand broadcast to the result, negated for the right operand. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return LinearStructure.broadcast(inputs[operand], output, operand == 0 ? 1 : -1);
    }

    /** p' broadcast and subtracted: the rows are ±δ (- on the right) summed over the broadcast axes. */
    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return ConsumerRule.Broadcast.of(inputs, output, operand, constants, operand == 0 ? 1 : -1, false);
    }
}
