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

    /**
     * {@link #dotGeneral(Var, int[], int[], int[], int[])} transposed by {@code outPerm} (result axis i is
     * logical axis {@code outPerm[i]}) in one operation: the kernel writes the permuted layout directly.
     */
    public Var dotGeneral(Var rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch,
                          int[] outPerm) {
        return builder.apply(new DotGeneral(lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm), this, rhs);
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

    /**
     * Maximum over {@code axes}; no axes means all axes. (Named apart from the elementwise {@link #max(double)},
     * which an int argument would otherwise select.)
     */
    public Var reduceMax(int... axes) {
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

    // ---- slice, pad, concatenate (begin) ----

    /**
     * XLA slice: on every axis d the elements {@code start[d], start[d] + stride[d], ...} below {@code limit[d]}
     * ({@code 0 <= start <= limit <= size}, {@code stride >= 1}). Returns this when the slice takes everything.
     */
    public Var slice(int[] start, int[] limit, int[] stride) {
        if (java.util.Arrays.equals(start, new int[rank()]) && java.util.Arrays.equals(limit, shape())
                && java.util.Arrays.equals(stride, unitStrides(rank()))) {
            return this;
        }
        return builder.apply(new org.ntk4j.primitive.Slice(start, limit, stride), this);
    }

    /** {@link #slice(int[], int[], int[])} with stride 1 on every axis. */
    public Var slice(int[] start, int[] limit) {
        return slice(start, limit, unitStrides(start.length));
    }

    /**
     * Slice of one axis ({@code axis} may be negative), every other axis taken whole: the elements
     * {@code start, start + stride, ...} below {@code limit}.
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
     */
    public Var pad(int[] lo, int[] hi) {
        return pad(lo, hi, new int[lo.length]);
    }

    /**
     * XLA pad with zeros: {@code interior[d] >= 0} zeros between neighbouring elements of axis d, then
     * {@code lo[d]} zeros before and {@code hi[d]} after (negative amounts crop). Returns this when every amount
     * is 0.
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

    /** {@link #conv(Var, int[], String, int[])} without dilation. */
    public Var conv(Var filter, int[] strides, String padding) {
        return conv(filter, strides, padding, convOnes(strides.length));
    }

    private static int[] convOnes(int n) {
        int[] ones = new int[n];
        java.util.Arrays.fill(ones, 1);
        return ones;
    }

    /** Convolution with explicit padding: {@code padding[i] = {lo, hi}} for spatial axis i. */
    public Var conv(Var filter, int[] strides, int[][] padding, int[] dilation) {
        return builder.apply(new org.ntk4j.primitive.Conv(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation)), this, filter);
    }

    /**
     * The input gradient (transposed convolution) of this cotangent {@code [N, OH, OW, Cout]} through
     * {@code filter} {@code [KH, KW, Cin, Cout]}, for an input of spatial shape {@code inputSpatial}: the
     * adjoint of {@code x -> x.conv(filter, strides, padding, dilation)}. Result {@code [N, H, W, Cin]}.
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
     */
    public Var convFilterGrad(Var cotangent, int[] filterSpatial, int[] strides, int[][] padding,
                              int[] dilation) {
        return builder.apply(new org.ntk4j.primitive.ConvFilterGrad(
                org.ntk4j.cpu.Convolution.Window.of(strides, padding, dilation), filterSpatial), this, cotangent);
    }

    // ---- convolution (end) ----
}
