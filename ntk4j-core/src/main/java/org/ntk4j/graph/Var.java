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

    /**
     * The builder (graph under construction) this variable belongs to.
     *
     * @return the builder; operations apply only to variables of the same builder
     */
    public GraphBuilder builder() {
        return builder;
    }

    /**
     * Sequence number within its graph (creation order).
     *
     * @return the id, from 0; unique within the builder
     */
    public int id() {
        return id;
    }

    /**
     * The static type.
     *
     * @return the dtype and shape
     */
    public TensorType type() {
        return type;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return type.dtype();
    }

    /**
     * A copy of the static shape.
     *
     * @return the dimensions; changing the array does not change this variable
     */
    public int[] shape() {
        return type.shape();
    }

    /**
     * The number of axes.
     *
     * @return the rank, 0 for a scalar
     */
    public int rank() {
        return type.rank();
    }

    /**
     * Size of axis {@code i}; negative counts from the end.
     *
     * @param i the axis, in {@code -rank .. rank-1}
     * @return the size of that axis
     * @throws IllegalArgumentException when the axis is out of range
     */
    public int dim(int i) {
        return type.dim(i);
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions (1 for a scalar)
     */
    public int size() {
        return type.size();
    }

    private Var scalarLike(double v) {
        return builder.scalar(v, dtype());
    }

    // ---- elementwise arithmetic (NumPy broadcasting) ----

    /**
     * Elementwise sum {@code this + o}, with NumPy broadcasting.
     *
     * @param o the other operand, of the same dtype and a shape broadcast-compatible with this one
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var add(Var o) {
        return builder.apply(Add.INSTANCE, this, o);
    }

    /**
     * Elementwise sum {@code this + c} with a constant scalar, rounded to this variable's dtype.
     *
     * @param c the constant
     * @return a new variable of this shape
     */
    public Var add(double c) {
        return add(scalarLike(c));
    }

    /**
     * Elementwise difference {@code this - o}, with NumPy broadcasting.
     *
     * @param o the other operand, of the same dtype and a shape broadcast-compatible with this one
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var sub(Var o) {
        return builder.apply(Sub.INSTANCE, this, o);
    }

    /**
     * Elementwise difference {@code this - c} with a constant scalar, rounded to this variable's dtype.
     *
     * @param c the constant
     * @return a new variable of this shape
     */
    public Var sub(double c) {
        return sub(scalarLike(c));
    }

    /**
     * Elementwise product {@code this * o}, with NumPy broadcasting.
     *
     * @param o the other operand, of the same dtype and a shape broadcast-compatible with this one
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var mul(Var o) {
        return builder.apply(Mul.INSTANCE, this, o);
    }

    /**
     * Elementwise product {@code this * c} with a constant scalar, rounded to this variable's dtype.
     *
     * @param c the constant
     * @return a new variable of this shape
     */
    public Var mul(double c) {
        return mul(scalarLike(c));
    }

    /**
     * Elementwise quotient {@code this / o} (IEEE: division by zero gives an infinity or NaN), with NumPy broadcasting.
     *
     * @param o the other operand, of the same dtype and a shape broadcast-compatible with this one
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var div(Var o) {
        return builder.apply(Div.INSTANCE, this, o);
    }

    /**
     * Elementwise quotient {@code this / c} with a constant scalar, rounded to this variable's dtype (IEEE:
     * division by zero gives an infinity or NaN).
     *
     * @param c the constant
     * @return a new variable of this shape
     */
    public Var div(double c) {
        return div(scalarLike(c));
    }

    /**
     * Elementwise negation {@code -this}.
     *
     * @return a new variable of this type
     */
    public Var neg() {
        return builder.apply(Neg.INSTANCE, this);
    }

    /**
     * Elementwise maximum with NumPy broadcasting. The derivative goes to the larger operand, and at a tie to
     * {@code o}: {@code x.max(0.0)} (relu) has derivative 0 at 0, {@code c.max(x)} derivative 1 at x = c.
     *
     * @param o the other operand, of the same dtype and a broadcast-compatible shape
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var max(Var o) {
        return builder.apply(Max.INSTANCE, this, o);
    }

    /**
     * Elementwise maximum with NumPy broadcasting whose derivative at a tie is half of each operand's (PyTorch's
     * {@code torch.maximum}, JAX's {@code lax.max}); elsewhere the larger operand's.
     *
     * @param o the other operand, of the same dtype and a broadcast-compatible shape
     * @return a new variable of the broadcast shape
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var maxSplittingTies(Var o) {
        return builder.apply(Max.SPLITTING_TIES, this, o);
    }

    /**
     * Elementwise maximum with a constant scalar, rounded to this variable's dtype.
     *
     * @param c the constant
     * @return a new variable of this shape
     */
    public Var max(double c) {
        return max(scalarLike(c));
    }

    /**
     * 1 where this &gt; o, else 0, in this dtype with NumPy broadcasting (no derivative).
     *
     * @param o the other operand, of the same dtype and a broadcast-compatible shape
     * @return a new variable of the broadcast shape holding 0 and 1
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var greater(Var o) {
        return builder.apply(Greater.INSTANCE, this, o);
    }

    /**
     * 1 where this &gt; c, else 0 (no derivative).
     *
     * @param c the constant, rounded to this variable's dtype
     * @return a new variable of this shape holding 0 and 1
     */
    public Var greater(double c) {
        return greater(scalarLike(c));
    }

    /**
     * 1 where this == o, else 0, in this dtype with NumPy broadcasting (no derivative).
     *
     * @param o the other operand, of the same dtype and a broadcast-compatible shape
     * @return a new variable of the broadcast shape holding 0 and 1
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public Var equalTo(Var o) {
        return builder.apply(Equal.INSTANCE, this, o);
    }

    /**
     * Elementwise square, recorded as {@code this * this}.
     *
     * @return a new variable of this type
     */
    public Var square() {
        return mul(this);
    }

    // ---- elementwise functions ----

    /**
     * Elementwise e^x.
     *
     * @return a new variable of this type
     */
    public Var exp() {
        return builder.apply(Exp.INSTANCE, this);
    }

    /**
     * Elementwise natural logarithm (NaN for negative elements, -infinity for 0).
     *
     * @return a new variable of this type
     */
    public Var log() {
        return builder.apply(Log.INSTANCE, this);
    }

    /**
     * Elementwise hyperbolic tangent.
     *
     * @return a new variable of this type
     */
    public Var tanh() {
        return builder.apply(Tanh.INSTANCE, this);
    }

    /**
     * Elementwise sine (radians).
     *
     * @return a new variable of this type
     */
    public Var sin() {
        return builder.apply(Sin.INSTANCE, this);
    }

    /**
     * Elementwise cosine (radians).
     *
     * @return a new variable of this type
     */
    public Var cos() {
        return builder.apply(Cos.INSTANCE, this);
    }

    /**
     * Elementwise square root (NaN for negative elements).
     *
     * @return a new variable of this type
     */
    public Var sqrt() {
        return builder.apply(Sqrt.INSTANCE, this);
    }

    /**
     * Elementwise Gauss error function.
     *
     * @return a new variable of this type
     */
    public Var erf() {
        return builder.apply(Erf.INSTANCE, this);
    }

    /**
     * Logistic function 1 / (1 + e^-x), elementwise.
     *
     * @return a new variable of this type
     */
    public Var sigmoid() {
        return builder.apply(Sigmoid.INSTANCE, this);
    }

    /**
     * log(1 + e^x) elementwise, computed without overflow.
     *
     * @return a new variable of this type
     */
    public Var softplus() {
        return builder.apply(Softplus.INSTANCE, this);
    }

    /**
     * max(x, 0) elementwise, recorded as {@link #max(double)}.
     *
     * @return a new variable of this type
     */
    public Var relu() {
        return max(0.0);
    }

    // ---- contractions ----

    /**
     * XLA's dot_general: contracts {@code lhsContract[i]} of this with {@code rhsContract[i]} of {@code rhs},
     * batches over the paired batch axes. Result: batch axes, this's free axes, rhs's free axes.
     *
     * @param rhs the right operand, of the same dtype
     * @param lhsContract axes of this to contract
     * @param rhsContract the axes of {@code rhs} they pair with (same sizes, same count)
     * @param lhsBatch batch axes of this
     * @param rhsBatch the axes of {@code rhs} they pair with (same sizes, same count)
     * @return a new variable of shape {@code [batch..., lhs free..., rhs free...]}
     * @throws IllegalArgumentException when the dtypes differ or the axes are out of range, repeated, unpaired or
     *         of different sizes
     */
    public Var dotGeneral(Var rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch) {
        return builder.apply(new DotGeneral(lhsContract, rhsContract, lhsBatch, rhsBatch), this, rhs);
    }

    /**
     * {@link #dotGeneral(Var, int[], int[], int[], int[])} transposed by {@code outPerm} (result axis i is
     * logical axis {@code outPerm[i]}) in one operation: the kernel writes the permuted layout directly.
     *
     * @param rhs the right operand, of the same dtype
     * @param lhsContract axes of this to contract
     * @param rhsContract the axes of {@code rhs} they pair with
     * @param lhsBatch batch axes of this
     * @param rhsBatch the axes of {@code rhs} they pair with
     * @param outPerm a permutation of the logical result axes {@code [batch..., lhs free..., rhs free...]}
     * @return a new variable of the permuted shape
     * @throws IllegalArgumentException when the dtypes differ, the axes do not fit, or {@code outPerm} is not a
     *         permutation of the result axes
     */
    public Var dotGeneral(Var rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch,
                          int[] outPerm) {
        return builder.apply(new DotGeneral(lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm), this, rhs);
    }

    /**
     * Contracts the last axis of this with the first axis of {@code rhs} (matrix product for rank 2), without
     * batch axes.
     *
     * @param rhs the right operand, of the same dtype, whose first axis has the size of this one's last
     * @return a new variable of shape {@code [this shape minus last axis..., rhs shape minus first axis...]}
     * @throws IllegalArgumentException when the dtypes differ or the contracted sizes differ
     */
    public Var matmul(Var rhs) {
        return dotGeneral(rhs, new int[] {rank() - 1}, new int[] {0}, new int[0], new int[0]);
    }

    // ---- reductions ----

    /**
     * Sum over {@code axes} (removed from the shape); no axes means all axes.
     *
     * @param axes the axes to reduce, each in {@code -rank .. rank-1}
     * @return a new variable without the reduced axes (rank 0 when all are reduced)
     * @throws IllegalArgumentException when an axis is out of range
     */
    public Var sum(int... axes) {
        return builder.apply(new ReduceSum(normAxes("reduce_sum", axes)), this);
    }

    /**
     * Mean over {@code axes} (removed from the shape), recorded as a sum times {@code 1 / count}; no axes means
     * all axes.
     *
     * @param axes the axes to reduce, each in {@code -rank .. rank-1}
     * @return a new variable without the reduced axes
     * @throws IllegalArgumentException when an axis is out of range
     */
    public Var mean(int... axes) {
        int[] a = normAxes("mean", axes);
        long count = 1;
        for (int ax : a) {
            count *= dim(ax);
        }
        return sum(a).mul(1.0 / count);
    }

    /**
     * Maximum over {@code axes} (removed from the shape); no axes means all axes. (Named apart from the
     * elementwise {@link #max(double)}, which an int argument would otherwise select.)
     *
     * @param axes the axes to reduce, each in {@code -rank .. rank-1}
     * @return a new variable without the reduced axes
     * @throws IllegalArgumentException when an axis is out of range
     */
    public Var reduceMax(int... axes) {
        return builder.apply(new ReduceMax(normAxes("reduce_max", axes)), this);
    }

    /**
     * Max pooling (XLA's reduce_window with max): the maximum over a window on every axis, with the given
     * strides and −∞ padding ({@code lo}, {@code hi}), as {@link org.ntk4j.primitive.ReduceWindowMax}. Over NHWC,
     * PyTorch's {@code MaxPool2d(k, s, p)} is {@code reduceWindowMax({1, k, k, 1}, {1, s, s, 1}, {0, p, p, 0},
     * {0, p, p, 0})}. The derivative goes to each window's first maximal element in row-major order, as
     * PyTorch's.
     *
     * @param window per axis, the window size (at least 1)
     * @param strides per axis, the step (at least 1)
     * @param lo per axis, the padding before the first element (0 or more, less than the window)
     * @param hi per axis, the padding after the last element (0 or more)
     * @return a new variable of the pooled shape, {@code (n + lo + hi - window) / stride + 1} per axis
     * @throws IllegalArgumentException when an array does not have one entry per axis, a size is out of range
     *         or a window covers only padding
     */
    public Var reduceWindowMax(int[] window, int[] strides, int[] lo, int[] hi) {
        return builder.apply(new org.ntk4j.primitive.ReduceWindowMax(window, strides, lo, hi), this);
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

    /**
     * Same elements in row-major order with another shape; one dimension may be -1 (inferred).
     *
     * @param newShape the new dimensions, non-negative except for at most one -1
     * @return a new variable of the new shape, or this when the shape is unchanged
     * @throws IllegalArgumentException when more than one size is -1, a size is otherwise negative, or the sizes
     *         do not hold exactly this many elements
     */
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

    /**
     * Axes permuted: result axis i is axis {@code perm[i]} of this.
     *
     * @param perm a permutation of {@code 0 .. rank-1}
     * @return a new variable of the permuted shape, or this for the identity permutation
     * @throws IllegalArgumentException when {@code perm} is not a permutation of the axes
     */
    public Var transpose(int... perm) {
        if (java.util.Arrays.equals(perm, Shapes.iota(rank()))) {
            return this;
        }
        return builder.apply(new Transpose(perm), this);
    }

    /**
     * XLA broadcast_in_dim: axis i of this becomes axis {@code dims[i]} of a result of {@code shape}; the other
     * result axes repeat the values.
     *
     * @param shape the result shape
     * @param dims for each axis of this, its result axis (strictly increasing); its size must equal the result
     *             axis's size, or be 1
     * @return a new variable of {@code shape}
     * @throws IllegalArgumentException when {@code dims} does not map the axes into {@code shape} compatibly
     */
    public Var broadcastInDim(int[] shape, int[] dims) {
        return builder.apply(new BroadcastInDim(shape, dims), this);
    }

    /**
     * NumPy-style broadcast to {@code shape} (right-aligned).
     *
     * @param shape the result shape, of rank at least this rank
     * @return a new variable of {@code shape}, or this when the shape is unchanged
     * @throws IllegalArgumentException when {@code shape} has lower rank or the sizes do not broadcast
     */
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

    /**
     * Inserts an axis of size 1 at {@code axis}, recorded as a reshape.
     *
     * @param axis where the new axis goes, in {@code -rank-1 .. rank} (negative counts from the end)
     * @return a new variable of rank {@code rank + 1}
     * @throws IllegalArgumentException when the axis is out of range
     */
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

    // ---- slice, pad, concatenate (begin) ----

    /**
     * XLA slice: on every axis d the elements {@code start[d], start[d] + stride[d], ...} below {@code limit[d]}
     * ({@code 0 <= start <= limit <= size}, {@code stride >= 1}). Returns this when the slice takes everything.
     *
     * @param start the first index on each axis
     * @param limit the exclusive upper bound on each axis
     * @param stride the step on each axis
     * @return a new variable of the sliced shape, or this
     * @throws IllegalArgumentException when the arrays do not have one entry per axis or an entry is out of range
     */
    public Var slice(int[] start, int[] limit, int[] stride) {
        if (java.util.Arrays.equals(start, new int[rank()]) && java.util.Arrays.equals(limit, shape())
                && java.util.Arrays.equals(stride, unitStrides(rank()))) {
            return this;
        }
        return builder.apply(new org.ntk4j.primitive.Slice(start, limit, stride), this);
    }

    /**
     * {@link #slice(int[], int[], int[])} with stride 1 on every axis.
     *
     * @param start the first index on each axis
     * @param limit the exclusive upper bound on each axis
     * @return a new variable of shape {@code limit - start}, or this
     * @throws IllegalArgumentException when the arrays do not have one entry per axis or an entry is out of range
     */
    public Var slice(int[] start, int[] limit) {
        return slice(start, limit, unitStrides(start.length));
    }

    /**
     * Slice of one axis ({@code axis} may be negative), every other axis taken whole: the elements
     * {@code start, start + stride, ...} below {@code limit}.
     *
     * @param axis the sliced axis, in {@code -rank .. rank-1}
     * @param start the first index
     * @param limit the exclusive upper bound
     * @param stride the step, at least 1
     * @return a new variable, or this when the slice takes the whole axis
     * @throws IllegalArgumentException when the axis or the bounds are out of range
     */
    public Var sliceInDim(int axis, int start, int limit, int stride) {
        int a = Shapes.axis("slice", axis, rank());
        int[] s = new int[rank()];
        int[] l = shape();
        int[] st = unitStrides(rank());
        s[a] = start;
        l[a] = limit;
        st[a] = stride;
        return slice(s, l, st);
    }

    /**
     * XLA pad with zeros: {@code lo[d]} zeros before and {@code hi[d]} after axis d (negative amounts crop).
     * Returns this when every amount is 0.
     *
     * @param lo the padding before each axis
     * @param hi the padding after each axis
     * @return a new variable of the padded shape, or this
     * @throws IllegalArgumentException when the arrays do not have one entry per axis or a crop removes more than
     *         the axis holds
     */
    public Var pad(int[] lo, int[] hi) {
        return pad(lo, hi, new int[lo.length]);
    }

    /**
     * XLA pad with zeros: {@code interior[d] >= 0} zeros between neighbouring elements of axis d, then
     * {@code lo[d]} zeros before and {@code hi[d]} after (negative amounts crop). Returns this when every amount
     * is 0.
     *
     * @param lo the padding before each axis
     * @param hi the padding after each axis
     * @param interior the zeros between neighbouring elements of each axis
     * @return a new variable of the padded shape, or this
     * @throws IllegalArgumentException when the arrays do not have one entry per axis, an interior amount is
     *         negative, or a crop removes more than the axis holds
     */
    public Var pad(int[] lo, int[] hi, int[] interior) {
        int[] zero = new int[rank()];
        if (java.util.Arrays.equals(lo, zero) && java.util.Arrays.equals(hi, zero)
                && java.util.Arrays.equals(interior, zero)) {
            return this;
        }
        return builder.apply(new org.ntk4j.primitive.Pad(lo, hi, interior), this);
    }

    /**
     * Concatenation of {@code parts} (same dtype, same sizes except on {@code axis}) along {@code axis}, which
     * may be negative. A single part is returned as it is.
     *
     * @param axis the axis to join along, in {@code -rank .. rank-1}
     * @param parts the operands, at least one, all of the same builder
     * @return a new variable whose {@code axis} has the summed sizes, or {@code parts[0]} when it is alone
     * @throws IllegalArgumentException when there are no parts, a part is null, the axis is out of range, or the
     *         dtypes, ranks or other sizes differ
     */
    public static Var concatenate(int axis, Var... parts) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("concatenate: expects at least 1 operand, got 0");
        }
        if (parts[0] == null) {
            throw new IllegalArgumentException("concatenate: operand 0 is null");
        }
        int a = Shapes.axis("concatenate", axis, parts[0].rank());
        if (parts.length == 1) {
            return parts[0];
        }
        return parts[0].builder.apply(new org.ntk4j.primitive.Concatenate(a), parts);
    }

    /**
     * XLA rev (JAX's {@code lax.rev}, {@code torch.flip}): the elements in reverse order along each of {@code axes}
     * (negative axes count from the end). Returns this when no axis is given or every reversed axis has at most one
     * element.
     *
     * @param axes the reversed axes, each in {@code -rank .. rank-1} and at most once
     * @return a new variable of this shape, or this
     * @throws IllegalArgumentException when an axis is out of range or given twice
     */
    public Var rev(int... axes) {
        int[] a = new int[axes.length];
        boolean moves = false;
        for (int i = 0; i < axes.length; i++) {
            a[i] = Shapes.axis("rev", axes[i], rank());
            moves |= dim(a[i]) > 1;
        }
        org.ntk4j.primitive.Reverse op = new org.ntk4j.primitive.Reverse(a);
        if (!moves) {
            op.outputType(type); // the axes are still checked (each at most once)
            return this;
        }
        return builder.apply(op, this);
    }

    private static int[] unitStrides(int n) {
        int[] r = new int[n];
        java.util.Arrays.fill(r, 1);
        return r;
    }

    // ---- slice, pad, concatenate (end) ----

    // ---- convolution (begin) ----

    /**
     * Convolution of this input {@code [N, H, W, Cin]} (1-D: {@code [N, W, Cin]}) with {@code filter} HWIO
     * {@code [KH, KW, Cin, Cout]} (1-D: {@code [KW, Cin, Cout]}), giving {@code [N, OH, OW, Cout]}: a
     * cross-correlation as in XLA's conv_general_dilated. {@code padding} is {@code "SAME"} or {@code "VALID"}
     * (JAX/TensorFlow convention, resolved to explicit pairs by
     * {@link org.ntk4j.cpu.Convolution#resolvePadding}); {@code dilation} dilates the filter. The number of
     * spatial axes is {@code strides.length}.
     *
     * @param filter the filter, HWIO, of the same dtype
     * @param strides the window step on each spatial axis, each at least 1
     * @param padding {@code "SAME"} or {@code "VALID"}
     * @param dilation the filter dilation on each spatial axis, each at least 1
     * @return a new variable {@code [N, OH, OW, Cout]}
     * @throws IllegalArgumentException when the padding name is unknown, or the ranks, channels, dtypes, strides
     *         or dilations do not fit
     */
    public Var conv(Var filter, int[] strides, String padding, int[] dilation) {
        int d = strides.length;
        int[][] pads;
        if (rank() == d + 2 && filter.rank() == d + 2 && dilation.length == d) {
            pads = org.ntk4j.cpu.Convolution.resolvePadding(padding,
                    java.util.Arrays.copyOfRange(shape(), 1, d + 1),
                    java.util.Arrays.copyOfRange(filter.shape(), 0, d), strides, dilation);
        } else {
            // the ranks do not fit: check the padding name only; the type rule then reports the shapes
            org.ntk4j.cpu.Convolution.resolvePadding(padding, new int[d], convOnes(d), convOnes(d), convOnes(d));
            pads = new int[d][2];
        }
        return conv(filter, strides, pads, dilation);
    }

    /**
     * {@link #conv(Var, int[], String, int[])} without dilation.
     *
     * @param filter the filter, HWIO, of the same dtype
     * @param strides the window step on each spatial axis, each at least 1
     * @param padding {@code "SAME"} or {@code "VALID"}
     * @return a new variable {@code [N, OH, OW, Cout]}
     * @throws IllegalArgumentException when the padding name is unknown, or the ranks, channels, dtypes or strides
     *         do not fit
     */
    public Var conv(Var filter, int[] strides, String padding) {
        return conv(filter, strides, padding, convOnes(strides.length));
    }

    private static int[] convOnes(int n) {
        int[] ones = new int[n];
        java.util.Arrays.fill(ones, 1);
        return ones;
    }

    /**
     * Convolution with explicit padding: {@code padding[i] = {lo, hi}} for spatial axis i; otherwise as
     * {@link #conv(Var, int[], String, int[])}.
     *
     * @param filter the filter, HWIO, of the same dtype
     * @param strides the window step on each spatial axis, each at least 1
     * @param padding the {@code {lo, hi}} zeros on each spatial axis
     * @param dilation the filter dilation on each spatial axis, each at least 1
     * @return a new variable {@code [N, OH, OW, Cout]}
     * @throws IllegalArgumentException when the window is invalid or the ranks, channels or dtypes do not fit
     */
    public Var conv(Var filter, int[] strides, int[][] padding, int[] dilation) {
        return builder.apply(new org.ntk4j.primitive.Conv(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation)), this, filter);
    }

    /**
     * Grouped convolution (feature_group_count G; depthwise when G = Cin) of this input {@code [N, H, W, Cin]}
     * (1-D: {@code [N, W, Cin]}) with {@code filter} {@code [KH, KW, Cin/G, Cout]}: each of the G groups of
     * Cout/G output channels sees its own Cin/G input channels ({@link org.ntk4j.primitive.GroupedConv}). G = 1 is
     * {@link #conv(Var, int[], int[][], int[])}.
     *
     * @param filter the filter, HWIO with I = Cin/G, of the same dtype
     * @param strides the window step on each spatial axis, each at least 1
     * @param padding the {@code {lo, hi}} zeros on each spatial axis
     * @param dilation the filter dilation on each spatial axis, each at least 1
     * @param groups G, at least 1, dividing Cin and Cout
     * @return a new variable {@code [N, OH, OW, Cout]}
     * @throws IllegalArgumentException when the window is invalid, G does not divide the channels, or the ranks,
     *         channels or dtypes do not fit
     */
    public Var conv(Var filter, int[] strides, int[][] padding, int[] dilation, int groups) {
        if (groups == 1) {
            return conv(filter, strides, padding, dilation);
        }
        return builder.apply(new org.ntk4j.primitive.GroupedConv(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation), groups), this, filter);
    }

    /**
     * The input gradient (transposed convolution) of this cotangent {@code [N, OH, OW, Cout]} through
     * {@code filter} {@code [KH, KW, Cin, Cout]}, for an input of spatial shape {@code inputSpatial}: the
     * adjoint of {@code x -> x.conv(filter, strides, padding, dilation)}. Result {@code [N, H, W, Cin]}.
     *
     * @param filter the filter, HWIO, of the same dtype
     * @param inputSpatial the spatial sizes of the forward input ({@code [H, W]})
     * @param strides the forward window step on each spatial axis
     * @param padding the forward {@code {lo, hi}} padding on each spatial axis
     * @param dilation the forward filter dilation on each spatial axis
     * @return a new variable {@code [N, H, W, Cin]}
     * @throws IllegalArgumentException when the window is invalid or the shapes do not fit that forward
     *         convolution
     */
    public Var convInputGrad(Var filter, int[] inputSpatial, int[] strides, int[][] padding, int[] dilation) {
        return builder.apply(new org.ntk4j.primitive.ConvInputGrad(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation), inputSpatial), this, filter);
    }

    /**
     * The filter gradient of this input {@code [N, H, W, Cin]} and {@code cotangent} {@code [N, OH, OW, Cout]}
     * for a filter of spatial shape {@code filterSpatial}: the adjoint of
     * {@code w -> this.conv(w, strides, padding, dilation)}, summed over the batch. Result
     * {@code [KH, KW, Cin, Cout]}.
     *
     * @param cotangent the output cotangent, of the same dtype
     * @param filterSpatial the spatial sizes of the filter ({@code [KH, KW]})
     * @param strides the forward window step on each spatial axis
     * @param padding the forward {@code {lo, hi}} padding on each spatial axis
     * @param dilation the forward filter dilation on each spatial axis
     * @return a new variable {@code [KH, KW, Cin, Cout]}
     * @throws IllegalArgumentException when the window is invalid or the shapes do not fit that forward
     *         convolution
     */
    public Var convFilterGrad(Var cotangent, int[] filterSpatial, int[] strides, int[][] padding,
                              int[] dilation) {
        return builder.apply(new org.ntk4j.primitive.ConvFilterGrad(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation), filterSpatial), this, cotangent);
    }

    // ---- convolution (end) ----
}
