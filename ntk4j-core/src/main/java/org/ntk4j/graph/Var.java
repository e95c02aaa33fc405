package org.ntk4j.graph;

import org.ntk4j.primitive.Add;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.Cos;
import org.ntk4j.primitive.Div;
import org.ntk4j.primitive.DotGeneral;
import org.ntk4j.primitive.Equal;
import org.ntk4j.primitive.Erf;
import org.ntk4j.primitive.Exp;
import org.ntk4j.primitive.Greater;
import org.ntk4j.primitive.Log;
import org.ntk4j.primitive.Max;
import org.ntk4j.primitive.Mul;
import org.ntk4j.primitive.Neg;
import org.ntk4j.primitive.ReduceMax;
import org.ntk4j.primitive.ReduceSum;
import org.ntk4j.primitive.Reshape;
import org.ntk4j.primitive.Sigmoid;
import org.ntk4j.primitive.Sin;
import org.ntk4j.primitive.Softplus;
import org.ntk4j.primitive.Sqrt;
import org.ntk4j.primitive.Sub;
import org.ntk4j.primitive.Tanh;
import org.ntk4j.primitive.Transpose;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/**
 * A symbolic tensor in a graph under construction: a typed variable that records every operation applied to
 * it as an equation of its {@link GraphBuilder}. This is the tensor API networks are written against; running
 * the function on {@code Var}s traces it into a {@link Graph}.
 */
public final class Var {
    private final GraphBuilder builder;
    private final int id;
    private final TensorType type;

    Var(GraphBuilder builder, int id, TensorType type) {
        this.builder = builder;
        this.id = id;
        this.type = type;
    }

    /** The builder (graph under construction) this variable belongs to. */
    public GraphBuilder builder() {
        return builder;
    }

    /** Sequence number within its graph (creation order). */
    public int id() {
        return id;
    }

    public TensorType type() {
        return type;
    }

    public DType dtype() {
        return type.dtype();
    }

    /** A copy of the static shape. */
    public int[] shape() {
        return type.shape();
    }

    public int rank() {
        return type.rank();
    }

    /** Size of axis {@code i}; negative counts from the end. */
    public int dim(int i) {
        return type.dim(i);
    }

    public int size() {
        return type.size();
    }

    private Var scalarLike(double v) {
        return builder.scalar(v, dtype());
    }

    // ---- elementwise arithmetic (NumPy broadcasting) ----

    public Var add(Var o) {
        return builder.apply(Add.INSTANCE, this, o);
    }

    public Var add(double c) {
        return add(scalarLike(c));
    }

    public Var sub(Var o) {
        return builder.apply(Sub.INSTANCE, this, o);
    }

    public Var sub(double c) {
        return sub(scalarLike(c));
    }

    public Var mul(Var o) {
        return builder.apply(Mul.INSTANCE, this, o);
    }

    public Var mul(double c) {
        return mul(scalarLike(c));
    }

    public Var div(Var o) {
        return builder.apply(Div.INSTANCE, this, o);
    }

    public Var div(double c) {
        return div(scalarLike(c));
    }

    public Var neg() {
        return builder.apply(Neg.INSTANCE, this);
    }

    /** Elementwise maximum (the derivative goes to the larger operand). */
    public Var max(Var o) {
        return builder.apply(Max.INSTANCE, this, o);
    }

    public Var max(double c) {
        return max(scalarLike(c));
    }

    /** 1 where this &gt; o, else 0 (no derivative). */
    public Var greater(Var o) {
        return builder.apply(Greater.INSTANCE, this, o);
    }

    public Var greater(double c) {
        return greater(scalarLike(c));
    }

    /** 1 where this == o, else 0 (no derivative). */
    public Var equalTo(Var o) {
        return builder.apply(Equal.INSTANCE, this, o);
    }

    public Var square() {
        return mul(this);
    }

    // ---- elementwise functions ----

    public Var exp() {
        return builder.apply(Exp.INSTANCE, this);
    }

    public Var log() {
        return builder.apply(Log.INSTANCE, this);
    }

    public Var tanh() {
        return builder.apply(Tanh.INSTANCE, this);
    }

    public Var sin() {
        return builder.apply(Sin.INSTANCE, this);
    }

    public Var cos() {
        return builder.apply(Cos.INSTANCE, this);
    }

    public Var sqrt() {
        return builder.apply(Sqrt.INSTANCE, this);
    }

    public Var erf() {
        return builder.apply(Erf.INSTANCE, this);
    }

    /** Logistic function 1 / (1 + e^-x). */
    public Var sigmoid() {
        return builder.apply(Sigmoid.INSTANCE, this);
    }

    /** log(1 + e^x), computed without overflow. */
    public Var softplus() {
        return builder.apply(Softplus.INSTANCE, this);
    }

    /** max(x, 0). */
    public Var relu() {
        return max(0.0);
    }

    // ---- contractions ----

    /**
     * XLA's dot_general: contracts {@code lhsContract[i]} of this with {@code rhsContract[i]} of {@code rhs},
     * batches over the paired batch axes. Result: batch axes, this's free axes, rhs's free axes.
     */
    public Var dotGeneral(Var rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch) {
        return builder.apply(new DotGeneral(lhsContract, rhsContract, lhsBatch, rhsBatch), this, rhs);
    }

    /** Contracts the last axis of this with the first axis of {@code rhs} (matrix product for rank 2). */
    public Var matmul(Var rhs) {
        return dotGeneral(rhs, new int[] {rank() - 1}, new int[] {0}, new int[0], new int[0]);
    }

    // ---- reductions ----

    /** Sum over {@code axes} (removed from the shape); no axes means all axes. */
    public Var sum(int... axes) {
        return builder.apply(new ReduceSum(normAxes("reduce_sum", axes)), this);
    }

    /** Mean over {@code axes}; no axes means all axes. */
    public Var mean(int... axes) {
        int[] a = normAxes("mean", axes);
        long count = 1;
        for (int ax : a) {
            count *= dim(ax);
        }
        return sum(a).mul(1.0 / count);
    }

    /** Maximum over {@code axes}; no axes means all axes. */
    public Var max(int... axes) {
        return builder.apply(new ReduceMax(normAxes("reduce_max", axes)), this);
    }

    private int[] normAxes(String op, int[] axes) {
        if (axes.length == 0) {
            return Shapes.iota(rank());
        }
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int a = axes[i] < 0 ? axes[i] + rank() : axes[i];
            if (a < 0 || a >= rank()) {
                throw new IllegalArgumentException(op + ": axis " + axes[i] + " is out of range for " + type);
            }
            r[i] = a;
        }
        return r;
    }

    // ---- shape ----

    /** Same elements in row-major order with another shape; one dimension may be -1 (inferred). */
    public Var reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape: cannot reshape " + type + " to "
                            + Shapes.str(newShape) + ": more than one -1");
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException("reshape: cannot reshape " + type + " to " + Shapes.str(newShape)
                        + ": sizes must be non-negative, or -1 for one inferred size");
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || size() % known != 0) {
                throw new IllegalArgumentException("reshape: cannot reshape " + type + " to "
                        + Shapes.str(newShape));
            }
            s[infer] = (int) (size() / known);
        }
        if (java.util.Arrays.equals(s, shape())) {
            return this;
        }
        return builder.apply(new Reshape(s), this);
    }

    /** Axes permuted: result axis i is axis {@code perm[i]} of this. */
    public Var transpose(int... perm) {
        if (java.util.Arrays.equals(perm, Shapes.iota(rank()))) {
            return this;
        }
        return builder.apply(new Transpose(perm), this);
    }

    /** XLA broadcast_in_dim: axis i of this becomes axis {@code dims[i]} of a result of {@code shape}. */
    public Var broadcastInDim(int[] shape, int[] dims) {
        return builder.apply(new BroadcastInDim(shape, dims), this);
    }

    /** NumPy-style broadcast to {@code shape} (right-aligned). */
    public Var broadcastTo(int... shape) {
        if (java.util.Arrays.equals(shape, shape())) {
            return this;
        }
        int off = shape.length - rank();
        if (off < 0) {
            throw new IllegalArgumentException("broadcast_to: cannot broadcast " + type + " to lower rank "
                    + Shapes.str(shape));
        }
        int[] dims = new int[rank()];
        for (int i = 0; i < rank(); i++) {
            dims[i] = off + i;
        }
        return broadcastInDim(shape, dims);
    }

    /** Inserts an axis of size 1 at {@code axis}. */
    public Var expandDims(int axis) {
        int a = axis < 0 ? axis + rank() + 1 : axis;
        if (a < 0 || a > rank()) {
            throw new IllegalArgumentException("expand_dims: axis " + axis + " is out of range for " + type
                    + " (a new axis goes at " + (-rank() - 1) + ".." + rank() + ")");
        }
        int[] s = shape();
        int[] r = new int[s.length + 1];
        for (int i = 0, j = 0; i < r.length; i++) {
            r[i] = i == a ? 1 : s[j++];
        }
        return reshape(r);
    }

    @Override
    public String toString() {
        return "Var#" + id + ":" + type;
    }
}
