package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Axis permutation: result axis i is operand axis {@code perm[i]}. Linear. */
public final class Transpose implements Primitive {
    private final int[] perm;

    /**
     * Creates the transpose; the permutation is checked against the operand by {@link #outputType}.
     *
     * @param perm the permutation, copied: result axis i is operand axis {@code perm[i]}
     */
    public Transpose(int[] perm) {
        this.perm = perm.clone();
    }

    @Override
    public String name() {
        return "transpose";
    }

    @Override
    public String params() {
        return "permutation=" + Arrays.toString(perm);
    }

    /**
     * The permutation.
     *
     * @return a copy of the permutation: result axis i is operand axis {@code perm[i]}
     */
    public int[] permutation() {
        return perm.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("transpose: expects 1 operand, got " + in.length);
        }
        if (!Shapes.isPermutation(perm, in[0].rank())) {
            throw new IllegalArgumentException("transpose: " + Arrays.toString(perm)
                    + " is not a permutation of the axes of " + in[0]);
        }
        return in[0].withShape(Shapes.permute(in[0].shape(), perm));
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** A permutation: result axis i is operand axis perm[i]. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        return LinearStructure.permutation(perm);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.transpose(in[0], perm);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].transpose(Shapes.concat(new int[] {0}, Stacked.shift(perm)));
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        return new Var[] {ct.transpose(Shapes.concat(new int[] {0},
                Stacked.shift(Shapes.inversePermutation(perm))))};
    }
}
