package org.ntk4j.primitive;

import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Tensor;

/**
 * An elementwise function y = f(x). A subclass gives f as a scalar function and f' as graph operations;
 * both derivative rules are then {@code t · f'(x)}, which broadcasts over the stacked axis.
 */
public abstract class UnaryPrimitive implements Primitive {
    /**
     * f at one point.
     *
     * @param x the argument
     * @return f(x)
     */
    protected abstract double apply(double x);

    /**
     * f'(x) as graph operations on the primal input x and output y (whichever is cheaper).
     *
     * @param x the primal input
     * @param y the primal output f(x)
     * @return a graph value of the same type as x holding f'(x) elementwise
     */
    protected abstract Var derivative(Var x, Var y);

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException(name() + ": expects 1 operand, got " + in.length);
        }
        return in[0];
    }

    /**
     * f over a float32 segment in place: x[i] = (float) f(x[i]) for i &lt; n, as {@link #apply(double)} in double
     * and rounded. This default calls {@link #apply(double)} per element; a cheap f overrides it with the same
     * loop written out, which the JIT compiles (and vectorises where it can) for that primitive alone.
     *
     * @param x the segment, overwritten
     * @param n how many of its elements are in use
     */
    protected void applyAll(float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = (float) apply(x[i]);
        }
    }

    /**
     * f over a float64 segment in place: x[i] = f(x[i]) for i &lt; n (see {@link #applyAll(float[], int)}).
     *
     * @param x the segment, overwritten
     * @param n how many of its elements are in use
     */
    protected void applyAll(double[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = apply(x[i]);
        }
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Elementwise.mapSegments(in[0], this::applyAll, this::applyAll);
    }

    @Override
    public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
        return tangents[0].mul(derivative(primals[0], out));
    }

    @Override
    public Var[] vjp(Var[] primals, Var out, Var ct, boolean[] needed) {
        return new Var[] {needed[0] ? ct.mul(derivative(primals[0], out)) : null};
    }
}
