package org.ntk4j.primitive;

import org.ntk4j.tensor.Tensor;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;

/** y = -x. Linear: both rules negate the stacked vector. */
public final class Neg extends UnaryPrimitive {
    /** The only instance: the primitive has no parameters. */
    public static final Neg INSTANCE = new Neg();

    private Neg() {
    }

    @Override
    public String name() {
        return "neg";
    }

    @Override
    protected double apply(double x) {
        return -x;
    }

    /** The same function as {@link #apply(double)}, as a loop of its own. */
    @Override
    protected void applyAll(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = -x[i];
        }
    }

    /** The same function as {@link #apply(double)}, as a loop of its own. */
    @Override
    protected void applyAll(double[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = -x[i];
        }
    }

    @Override
    protected Var derivative(Var x, Var y) {
        return x.builder().scalar(-1.0, x.dtype());
    }

    @Override
    public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
        return tangents[0].neg();
    }

    @Override
    public Var[] vjp(Var[] primals, Var out, Var ct, boolean[] needed) {
        return new Var[] {needed[0] ? ct.neg() : null};
    }

    /** -1 times the identity (neg: every axis "traced"). */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return LinearStructure.elementwise(output.rank(), -1);
    }
}
